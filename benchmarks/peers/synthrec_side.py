"""synthrec's side of the peer benchmark (issue 6): `LatentFactorGenerator` and a naive popularity sampler.

Runs in the project's own venv (never in the peer venv). On the ml-100k interaction table (user, item,
rating, timestamp) it, for each of the two tools:

1. fits on the whole table, timing wall seconds (`time.perf_counter`) and CPU seconds of this process
   (`time.process_time`, all threads; the fair figure on a shared machine);
2. samples ``--rows`` rows (default 10 million) in-process on one BLAS/OpenMP thread with
   `sample_batches` (batches of ``--batch-users`` users, nothing written to disk), timing it the same way.
   If ``--max-sample-s`` wall seconds pass first it stops early and ``compare.py`` extrapolates the
   sampling time linearly to ``--rows`` (the JSON says how many rows were really drawn);
3. writes the first ``--fidelity-rows`` rows (external ids: item ids of ml-100k, synthetic user ids) to
   ``<out>/<tool>/sample.parquet`` and the timings to ``<out>/<tool>/timings.json``.

The naive popularity sampler (the baseline a user would write in ten lines, defined here): each new user
gets an activity drawn from the real users' activities (the empirical distribution), then that many items
drawn i.i.d. (with replacement, so repeated pairs happen) from the item popularity distribution
p_i = c_i / Σ c (c_i = events of item i); rating and timestamp i.i.d. from their empirical marginals.

Run from the project root:

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/peers/synthrec_side.py \\
        [--out /tmp/synthrec-peers] [--rows 10000000]
"""

from __future__ import annotations

import os

# one core, set before numpy loads its BLAS
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from synthrec.data.interactions import InteractionData
from synthrec.generators import LatentFactorGenerator

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "ml-100k" / "u.data"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "synthrec-peers"
TARGET_ROWS = 10_000_000


def load_ml100k(path: Path = DATA) -> InteractionData:
    """ml-100k's ``u.data`` (tab-separated user, item, rating, unix-seconds timestamp) as `InteractionData`."""
    frame = pl.read_csv(path, separator="\t", has_header=False,
                        new_columns=["user", "item", "rating", "timestamp"])
    return InteractionData.from_frame(frame, rating_col="rating", time_col="timestamp", name="ml-100k")


@dataclass
class NaivePopularitySampler:
    """Independent baseline: empirical user activity, items i.i.d. by popularity, ratings/times i.i.d.

    Fitted attributes: ``activity`` int64 (n_active,) events per real user; ``item_cdf`` float64 (m,)
    cumulative popularity p_i = c_i / Σ c; ``ratings`` float32 / ``timestamps`` int64 (n_events,), the
    real columns to resample. Output rows use the real item catalogue (dense ids of the fitted data).
    """

    activity: np.ndarray
    item_cdf: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray

    @classmethod
    def fit(cls, data: InteractionData) -> NaivePopularitySampler:
        inter = data.interactions
        users = inter["user"].to_numpy()
        counts = np.bincount(inter["item"].to_numpy(), minlength=data.n_items).astype(np.float64)
        activity = np.bincount(users, minlength=data.n_users)
        return cls(activity=activity[activity > 0].astype(np.int64),
                   item_cdf=np.cumsum(counts) / counts.sum(),
                   ratings=inter["rating"].to_numpy(), timestamps=inter["timestamp"].to_numpy())

    def sample_batches(self, n_users: int, *, batch_users: int, seed: int) -> Iterator[pl.DataFrame]:
        """Yield frames (user Int64 synthetic index, item Int32 dense, rating Float32, timestamp Int64)."""
        seeds = np.random.SeedSequence(seed).spawn(max(1, -(-n_users // batch_users)))
        for b, ss in enumerate(seeds):
            rng = np.random.default_rng(ss)
            size = min(batch_users, n_users - b * batch_users)
            act = rng.choice(self.activity, size)
            total = int(act.sum())
            # inverse-CDF draws; clip guards the last bin against cdf[-1] rounding below 1.0
            items = np.minimum(np.searchsorted(self.item_cdf, rng.random(total), side="right"),
                               self.item_cdf.size - 1)
            pick = rng.integers(0, self.ratings.size, (2, total))
            yield pl.DataFrame({
                "user": np.repeat(np.arange(b * batch_users, b * batch_users + size, dtype=np.int64), act),
                "item": items.astype(np.int32),
                "rating": self.ratings[pick[0]],
                "timestamp": self.timestamps[pick[1]],
            })


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; return (its result, wall seconds, CPU seconds of this process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def time_sampling(batches: Iterator[pl.DataFrame], rows: int, max_wall_s: float,
                  keep_rows: int) -> tuple[dict[str, Any], pl.DataFrame]:
    """Draw batches until ``rows`` rows or ``max_wall_s`` seconds; returns timings and the first rows."""
    drawn, kept = 0, []
    w0, c0 = time.perf_counter(), time.process_time()
    for frame in batches:
        if drawn < keep_rows:
            kept.append(frame)
        drawn += frame.height
        if drawn >= rows or time.perf_counter() - w0 > max_wall_s:
            break
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    head = pl.concat(kept).head(keep_rows)
    return {"sample_rows": drawn, "sample_wall_s": wall, "sample_cpu_s": cpu}, head


def write_result(out: Path, tool: str, timings: dict[str, Any], head: pl.DataFrame) -> None:
    folder = out / tool
    folder.mkdir(parents=True, exist_ok=True)
    head.write_parquet(folder / "sample.parquet")
    (folder / "timings.json").write_text(json.dumps({"tool": tool, **timings}, indent=1) + "\n")
    print(json.dumps({"tool": tool, **timings}), flush=True)


def external(head: pl.DataFrame, data: InteractionData, prefix: str) -> pl.DataFrame:
    """Dense item ids back to ml-100k's item ids; users as ``<prefix><n>`` strings."""
    return head.select(
        (pl.lit(prefix) + pl.col("user").cast(pl.String)).alias("user"),
        data.item_ids.gather(head["item"].to_numpy()).alias("item"),
        pl.col("rating").cast(pl.Float64), pl.col("timestamp").cast(pl.Int64),
    )


def run_latent_factor(data: InteractionData, args: argparse.Namespace) -> None:
    gen, fit_wall, fit_cpu = timed(lambda: LatentFactorGenerator(seed=0).fit(data))
    # more users than needed: the stream is lazy and stops once ``rows`` rows are drawn
    n_users = 2 * args.rows // max(1, data.n_interactions // data.n_users)
    frames = (b.interactions for b in gen.sample_batches(n_users, batch_users=args.batch_users, seed=1))
    timings, head = time_sampling(frames, args.rows, args.max_sample_s, args.fidelity_rows)
    timings.update(fit_wall_s=fit_wall, fit_cpu_s=fit_cpu, fit_projected=False,
                   settings="LatentFactorGenerator(seed=0) defaults (n_factors=64), rating + timestamp; "
                            f"sample_batches(batch_users={args.batch_users}), 1 BLAS thread",
                   load_average=os.getloadavg())
    write_result(args.out, "synthrec", timings, external(head, data, "syn-"))


def run_naive(data: InteractionData, args: argparse.Namespace) -> None:
    sampler, fit_wall, fit_cpu = timed(lambda: NaivePopularitySampler.fit(data))
    n_users = 2 * args.rows // max(1, data.n_interactions // data.n_users)
    frames = sampler.sample_batches(n_users, batch_users=args.batch_users, seed=1)
    timings, head = time_sampling(frames, args.rows, args.max_sample_s, args.fidelity_rows)
    timings.update(fit_wall_s=fit_wall, fit_cpu_s=fit_cpu, fit_projected=False,
                   settings="naive popularity sampler (this script), numpy, 1 thread",
                   load_average=os.getloadavg())
    write_result(args.out, "naive-popularity", timings, external(head, data, "naive-"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--rows", type=int, default=TARGET_ROWS, help="rows to sample for the timing")
    ap.add_argument("--fidelity-rows", type=int, default=100_000, help="rows written for compare.py")
    ap.add_argument("--batch-users", type=int, default=10_000)
    ap.add_argument("--max-sample-s", type=float, default=600.0,
                    help="stop sampling after this many wall seconds (compare.py extrapolates)")
    ap.add_argument("--only", choices=("synthrec", "naive-popularity"), default=None)
    args = ap.parse_args()
    data = load_ml100k(args.data)
    print(f"{data!r}; load average {os.getloadavg()}", flush=True)
    if args.only in (None, "naive-popularity"):
        run_naive(data, args)
    if args.only in (None, "synthrec"):
        run_latent_factor(data, args)


if __name__ == "__main__":
    main()
