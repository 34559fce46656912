"""Throughput of the scenario simulator (open loop): interactions per second on one core.

Scenario: the ``ecommerce`` preset with its catalogue enlarged to 100,000 items; 100,000 users (a full
view → click → cart → purchase funnel with ratings). Other presets can be measured with ``--preset``.
Reports wall-clock and process-CPU throughput (CPU time is the fairer figure on a shared machine), the
peak resident memory, and where the CPU time goes: the simulator's phases are timed by wrapping the
engine's step functions (population draw, session placement, organic choices, funnel, ratings, and the
assembly of polars frames); "other bookkeeping" is the rest of `simulate_block` (session lengths and
gaps, ordering, repeats, row expansion). The last line is a one-line summary for benchmarks/README.md.

Run (from the project root, with the venv active):

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        python benchmarks/simulator_throughput.py [--users 100000] [--items 100000] [--preset ecommerce]
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from synthrec.generators.simulator import Simulator, engine, generator, load_preset

#: (label, owner, attribute): functions timed as phases; nested phases are subtracted from their parents
PHASES: list[tuple[str, Any, str]] = [
    ("population", engine, "draw_block"),
    ("session placement", engine, "_session_starts"),
    ("organic choices", engine, "_fresh_choices"),
    ("funnel", engine, "funnel_reached"),
    ("ratings", engine, "ratings_for"),
    ("simulate_block (other bookkeeping)", generator, "simulate_block"),
    ("assembly (polars frames)", generator.Simulator, "_assemble"),
]


@contextmanager
def phase_timers() -> Iterator[dict[str, dict[str, float]]]:
    """Wrap the `PHASES` functions with wall/CPU timers; yields label -> {"wall", "cpu"} (exclusive time)."""
    totals: dict[str, dict[str, float]] = {label: {"wall": 0.0, "cpu": 0.0} for label, _, _ in PHASES}
    stack: list[list[float]] = []  # per active call: [child wall, child cpu]
    originals = [(owner, name, getattr(owner, name)) for _, owner, name in PHASES]

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            stack.append([0.0, 0.0])
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                child_wall, child_cpu = stack.pop()
                totals[label]["wall"] += wall - child_wall
                totals[label]["cpu"] += cpu - child_cpu
                if stack:
                    stack[-1][0] += wall
                    stack[-1][1] += cpu
        return run

    for label, owner, name in PHASES:
        setattr(owner, name, timed(label, getattr(owner, name)))
    try:
        yield totals
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, fn)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="ecommerce")
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--batch-users", type=int, default=8192, help="users per streamed batch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-phases", action="store_true", help="skip the per-phase timers (no wrapper overhead)")
    args = ap.parse_args()

    scenario = load_preset(args.preset)
    scenario = scenario.model_copy(update={"items": scenario.items.model_copy(update={"count": args.items})})
    sim = Simulator(scenario)
    t0, c0 = time.perf_counter(), time.process_time()
    sim.world  # noqa: B018 - build the catalogue once (shared by every sample)
    sim.items_table  # noqa: B018 - and its polars table, reused by every batch
    build_wall, build_cpu = time.perf_counter() - t0, time.process_time() - c0

    rows = 0
    with phase_timers() if not args.no_phases else _no_timers() as phases:
        t0, c0 = time.perf_counter(), time.process_time()
        for part in sim.sample_batches(args.users, batch_users=args.batch_users, seed=args.seed):
            rows += part.n_interactions
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    result = {
        "preset": args.preset, "users": args.users, "items": args.items, "interactions": rows,
        "catalogue_build_s": {"wall": round(build_wall, 3), "cpu": round(build_cpu, 3)},
        "sample_s": {"wall": round(wall, 3), "cpu": round(cpu, 3)},
        "interactions_per_s": {"wall": round(rows / wall), "cpu": round(rows / cpu)},
        "phases_cpu_s": {k: round(v["cpu"], 3) for k, v in phases.items()},
        "phases_wall_s": {k: round(v["wall"], 3) for k, v in phases.items()},
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result, indent=2))
    print(f"simulator open loop, {args.preset}, {args.items:,} items × {args.users:,} users: {rows:,} rows in "
          f"{cpu:.2f} CPU-s ({rows / cpu / 1e6:.2f} M rows/CPU-s) / {wall:.2f} wall-s "
          f"({rows / wall / 1e6:.2f} M rows/s), peak RSS {result['peak_rss_mib']} MiB")


@contextmanager
def _no_timers() -> Iterator[dict[str, dict[str, float]]]:
    yield {}


if __name__ == "__main__":
    main()
