"""Throughput of the scenario simulator (open loop): interactions per second on one core.

Scenario: the ``ecommerce`` preset with its catalogue enlarged to 100,000 items; 100,000 users (a full
view → click → cart → purchase funnel with ratings). Other presets can be measured with ``--preset``.
Reports wall-clock and process-CPU throughput (CPU time is the fairer figure on a shared machine) and
the peak resident memory.

Run (from the project root, with the venv active):

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        python benchmarks/simulator_throughput.py [--users 100000] [--items 100000] [--preset ecommerce]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from synthrec.generators.simulator import Simulator, load_preset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="ecommerce")
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--batch-users", type=int, default=8192, help="users per streamed batch")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    scenario = load_preset(args.preset)
    scenario = scenario.model_copy(update={"items": scenario.items.model_copy(update={"count": args.items})})
    sim = Simulator(scenario)
    t0, c0 = time.perf_counter(), time.process_time()
    sim.world  # noqa: B018 - build the catalogue once (shared by every sample)
    build_wall, build_cpu = time.perf_counter() - t0, time.process_time() - c0

    rows = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for part in sim.sample_batches(args.users, batch_users=args.batch_users, seed=args.seed):
        rows += part.n_interactions
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    result = {
        "preset": args.preset, "users": args.users, "items": args.items, "interactions": rows,
        "catalogue_build_s": {"wall": round(build_wall, 3), "cpu": round(build_cpu, 3)},
        "sample_s": {"wall": round(wall, 3), "cpu": round(cpu, 3)},
        "interactions_per_s": {"wall": round(rows / wall), "cpu": round(rows / cpu)},
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
