"""Throughput and memory of sharded generation (`synthrec.scale.write_sharded`) with LatentFactorGenerator.

Catalogue (simulated, so the size is under control and nothing is copied from a dataset): 10,000 items,
20,000 real users; item popularity Zipf-like (bias −log rank), tastes of rank 16, each user's items drawn
without replacement (Gumbel-top-k) from softmax(taste + bias), activity log-normal (median 33, clipped to
[5, 500]; mean ≈ 45), a timestamp per event (random start, exponential gaps) and a rating 1–5. The
generator is `LatentFactorGenerator(n_factors=64)` with default settings, fitted once and cached.

Measured, each on the same fitted model:

1. ``sample``: in-process `sample_shard` only (no writing): interactions/s on one core; and a cProfile of
   one shard (``--profile``) to show where the time goes.
2. ``write``: `write_sharded` to Parquet (zstd) on 1 worker (in-process) and on a process pool of 1 and 2
   workers (≈10^6 interactions in 12 shards): interactions/s of wall time and per CPU-second (user + system time of
   this process and its workers; the better per-core figure on a shared machine), and the parallel
   efficiency T(1 worker) / (2 · T(2 workers)).
3. ``memory``: process pool of 2 workers for 10^6 and 10^7 interactions (``--sizes``; 10^8 with
   ``--sizes 1e6,1e7,1e8``) at a fixed shard size: the peak RSS of each worker (`resource.getrusage`
   ``ru_maxrss`` reported by the worker after each shard) and of this driver process. Per-worker memory
   should stay flat as the number of rows grows: a worker holds the model and one shard.

Run (from the project root, venv active):

    OPENBLAS_NUM_THREADS=1 python benchmarks/scale_throughput.py [--sizes 1e6,1e7] [--shard-users 10000]
    OPENBLAS_NUM_THREADS=1 python benchmarks/scale_throughput.py --profile      # cProfile of one shard
    OPENBLAS_NUM_THREADS=1 python benchmarks/scale_throughput.py --sample-only [--sampler fast --prototypes 256]

``--sample-only`` stops after measurement 1; ``--sampler``/``--prototypes`` set the generator's sampler
(`LatentFactorGenerator(sampler="fast")`, issue 6) for every measurement. The cached model is refitted
when ``--refit`` is given (the fit changed on 2026-11-30: delete an older cache or pass ``--refit``).

Results are printed and written to ``--json`` (default ``benchmarks/results/scale_throughput.json``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import polars as pl

from synthrec.data.interactions import InteractionData
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.scale.backends import Backend, InProcessBackend, ProcessPoolBackend
from synthrec.scale.shards import ShardPlan, sample_shard
from synthrec.scale.writer import ShardOutcome, write_sharded

N_ITEMS, N_REAL_USERS, TRUE_RANK = 10_000, 20_000, 16


def simulated_catalogue(seed: int = 0) -> InteractionData:
    """The simulated log described in the module docstring (vectorised per chunk of 1,000 users)."""
    rng = np.random.default_rng(seed)
    bias = -np.log(np.arange(1, N_ITEMS + 1, dtype=np.float32))
    item_taste = rng.standard_normal((N_ITEMS, TRUE_RANK), dtype=np.float32) / np.sqrt(TRUE_RANK)
    user_taste = rng.standard_normal((N_REAL_USERS, TRUE_RANK), dtype=np.float32)
    activity = np.clip(np.rint(rng.lognormal(np.log(33), 0.8, N_REAL_USERS)), 5, 500).astype(np.int64)
    users, items = [], []
    for lo in range(0, N_REAL_USERS, 1000):
        u = slice(lo, lo + 1000)
        logits = 2.0 * user_taste[u] @ item_taste.T + bias + rng.gumbel(size=(min(1000, N_REAL_USERS - lo), N_ITEMS))
        top = np.argpartition(-logits, 500, axis=1)[:, :500]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(logits, top, axis=1), axis=1), axis=1)
        n = activity[u]
        keep = np.arange(500)[None, :] < n[:, None]
        users.append(np.repeat(np.arange(lo, lo + len(n)), n))
        items.append(top[keep])
    user = np.concatenate(users)
    n_rows = len(user)
    start = rng.integers(1_500_000_000, 1_600_000_000, N_REAL_USERS)
    gaps = rng.exponential(3600.0, n_rows).astype(np.int64) + 1
    first = np.r_[0, np.flatnonzero(np.diff(user)) + 1]
    csum = np.cumsum(gaps)
    ts = start[user] + csum - np.repeat(csum[first] - gaps[first], np.diff(np.r_[first, n_rows]))
    frame = pl.DataFrame({"user": user, "item": np.concatenate(items), "ts": ts,
                          "rating": rng.integers(1, 6, n_rows).astype(np.float64)})
    return InteractionData.from_frame(frame, time_col="ts", rating_col="rating", name="simulated-10k")


def fitted_model(path: Path, refit: bool = False) -> LatentFactorGenerator:
    if path.is_file() and not refit:
        return LatentFactorGenerator.load(path)
    data = simulated_catalogue()
    print(f"fitting LatentFactorGenerator(n_factors=64) on {data.n_users:,} users × {data.n_items:,} items, "
          f"{data.n_interactions:,} interactions ...", flush=True)
    t0 = time.perf_counter()
    gen = LatentFactorGenerator(n_factors=64, seed=0).fit(data)
    print(f"  fit {time.perf_counter() - t0:.1f} s", flush=True)
    gen.save(path)
    return gen


def mean_activity(gen: LatentFactorGenerator) -> float:
    return sample_shard(gen, ShardPlan(2000, 2000, 99).shard(0)).n_interactions / 2000


def _cpu_seconds(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def time_sampling(gen: LatentFactorGenerator, shard_users: int, n_shards: int) -> dict[str, float]:
    plan = ShardPlan(shard_users * n_shards, shard_users, 1)
    t0, c0, rows = time.perf_counter(), _cpu_seconds(resource.RUSAGE_SELF), 0
    for s in plan:
        rows += sample_shard(gen, s).n_interactions
    secs, cpu = time.perf_counter() - t0, _cpu_seconds(resource.RUSAGE_SELF) - c0
    return {"rows": rows, "seconds": secs, "rows_per_s": rows / secs, "cpu_seconds": cpu,
            "rows_per_cpu_s": rows / cpu}


def time_write(gen: LatentFactorGenerator, backend: Backend, n_users: int, shard_users: int) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    peaks: list[int] = []

    def on_shard(o: ShardOutcome) -> None:
        peaks.append(o.peak_rss_bytes)

    try:
        # CPU time of this process plus of the pool's worker processes (counted once they have exited)
        c0 = _cpu_seconds(resource.RUSAGE_SELF) + _cpu_seconds(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        manifest = write_sharded(gen, out, n_users=n_users, shard_users=shard_users, seed=0, backend=backend,
                                 on_shard=on_shard, manifest_interval_s=5.0)
        secs = time.perf_counter() - t0
        cpu = _cpu_seconds(resource.RUSAGE_SELF) + _cpu_seconds(resource.RUSAGE_CHILDREN) - c0
        size = sum(p.stat().st_size for p in out.glob("part-*"))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"backend": backend.describe(), "users": n_users, "rows": manifest.rows, "shards": manifest.n_shards,
            "seconds": secs, "rows_per_s": manifest.rows / secs, "cpu_seconds": cpu,
            "rows_per_cpu_s": manifest.rows / cpu, "bytes_on_disk": size,
            "worker_peak_rss_mib": max(peaks) / 2**20,
            "driver_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def profile_one_shard(gen: LatentFactorGenerator, shard_users: int) -> str:
    shard = ShardPlan(shard_users, shard_users, 5).shard(0)
    sample_shard(gen, ShardPlan(100, 100, 4).shard(0))  # warm up imports and caches
    prof = cProfile.Profile()
    prof.enable()
    data = sample_shard(gen, shard)
    prof.disable()
    buf = io.StringIO()
    buf.write(f"one shard: {shard_users:,} users, {data.n_interactions:,} interactions\n")
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e6,1e7", help="interaction counts of the memory runs")
    ap.add_argument("--shard-users", type=int, default=10_000)
    ap.add_argument("--model", type=Path, default=Path(tempfile.gettempdir()) / "synthrec-bench-lf64-10k.pkl")
    ap.add_argument("--profile", action="store_true", help="only profile one shard")
    ap.add_argument("--sample-only", action="store_true", help="only measure in-process sampling")
    ap.add_argument("--sampler", choices=("exact", "fast"), default="exact")
    ap.add_argument("--prototypes", type=int, default=256)
    ap.add_argument("--shards", type=int, default=2, help="shards of the sampling-only measurement")
    ap.add_argument("--refit", action="store_true", help="refit the cached model")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "scale_throughput.json")
    args = ap.parse_args()

    gen = fitted_model(args.model, args.refit)
    gen.sampler, gen.prototypes = args.sampler, args.prototypes
    if args.profile:
        print(profile_one_shard(gen, args.shard_users))
        return
    per_user = mean_activity(gen)
    print(f"mean synthetic activity: {per_user:.1f} interactions per user; load average {os.getloadavg()}")
    results: dict[str, object] = {"mean_activity": per_user, "shard_users": args.shard_users,
                                  "cpu_count": os.cpu_count(), "load_average_start": os.getloadavg()}

    sampling = time_sampling(gen, args.shard_users, args.shards)
    results["sampler"], results["prototypes"] = args.sampler, args.prototypes
    results["sample_only_1_core"] = sampling
    print(f"sample only ({args.sampler}), 1 core: {sampling['rows_per_s']:,.0f} interactions/s wall, "
          f"{sampling['rows_per_cpu_s']:,.0f} per CPU-second ({sampling['rows']:,} rows); load average "
          f"{os.getloadavg()}", flush=True)
    if args.sample_only:
        return

    # ≈10^6 interactions in 12 shards, so 2 workers get balanced work
    speed_shard = max(1, round(1e6 / per_user / 12))
    speed = [time_write(gen, InProcessBackend(), 12 * speed_shard, speed_shard)]
    for workers in (1, 2):
        speed.append(time_write(gen, ProcessPoolBackend(workers), 12 * speed_shard, speed_shard))
    results["write"] = speed
    for r in speed:
        print(f"write parquet, {r['backend']}: {r['rows_per_s']:,.0f} interactions/s wall, "
              f"{r['rows_per_cpu_s']:,.0f} per CPU-second ({r['rows']:,} rows, {r['seconds']:.1f} s)")
    eff = speed[1]["seconds"] / (2 * speed[2]["seconds"])
    results["parallel_efficiency_2_workers"] = eff
    print(f"parallel efficiency, 2 process workers vs 1: {eff:.2f}")

    memory = []
    for size in (float(s) for s in args.sizes.split(",")):
        n_users = max(args.shard_users, round(size / per_user / args.shard_users) * args.shard_users)
        r = time_write(gen, ProcessPoolBackend(2), n_users, args.shard_users)
        memory.append(r)
        print(f"memory, {r['rows']:,} interactions in {r['shards']} shards: worker peak RSS "
              f"{r['worker_peak_rss_mib']:.0f} MiB, driver peak RSS {r['driver_peak_rss_mib']:.0f} MiB, "
              f"{r['rows_per_s']:,.0f} interactions/s", flush=True)
    results["memory"] = memory
    results["load_average_end"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
