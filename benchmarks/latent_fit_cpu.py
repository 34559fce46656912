"""CPU seconds of `LatentFactorGenerator(seed=0).fit` on ml-100k (issue 6), ``--reps`` fits in a row.

Run (project root, venv active); to time other sources (e.g. an older checkout's ``src``) put them first
on ``PYTHONPATH``:

    OPENBLAS_NUM_THREADS=1 python benchmarks/latent_fit_cpu.py [--reps 3] [--profile]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import cProfile
import pstats
import time
from pathlib import Path

import synthrec.generators.latent_factor as lf
from synthrec.data.movielens import read_movielens_100k

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="cProfile one more fit (cumulative time)")
    args = ap.parse_args()
    data = read_movielens_100k(args.data)
    cpu = []
    for _ in range(args.reps):
        c0 = time.process_time()
        gen = lf.LatentFactorGenerator(seed=0).fit(data)
        cpu.append(time.process_time() - c0)
    print(f"{lf.__file__}: fit CPU-s {[round(c, 2) for c in cpu]}; relative scale "
          f"{gen.fit_report_['relative_scale']}; load average {os.getloadavg()}")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        lf.LatentFactorGenerator(seed=0).fit(data)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
