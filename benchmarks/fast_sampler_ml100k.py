"""Bias and speed of `LatentFactorGenerator(sampler="fast")` against the exact sampler (issue 6).

On ml-100k (`read_movielens_100k`, leave-last-out split): one generator is fitted on the training part
(default settings, seed 0; fit CPU seconds reported), then for the exact sampler and for the fast one
with several prototype counts K it samples as many synthetic users as ``--users`` (default 10 × the real
users, in batches of ``--batch-users``) and reports:

* fidelity against the real training part (`synthrec.evaluation.fidelity.fidelity_report`): popularity
  Gini difference, KS of item degrees, KS of user activity, Pearson correlation of the item–item cosine
  similarities over the 500 most popular items; and the share of duplicate (user, item) rows;
* TSTR (`synthrec.evaluation.utility.tstr`, EASE only): NDCG@10 of EASE trained on the synthetic users
  over NDCG@10 of EASE trained on the real training part, both scoring the real test users;
* sampling speed, interactions per CPU-second (`time.process_time`, one BLAS thread).

Run (project root, venv active):

    OPENBLAS_NUM_THREADS=1 python benchmarks/fast_sampler_ml100k.py [--prototypes 64,256,1024] [--seeds 0,1]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import time
from pathlib import Path

import numpy as np

from synthrec.data.interactions import concat_users
from synthrec.data.movielens import read_movielens_100k
from synthrec.data.splits import leave_last_out
from synthrec.evaluation.fidelity import fidelity_report
from synthrec.evaluation.utility import tstr
from synthrec.generators.latent_factor import LatentFactorGenerator

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--prototypes", default="64,256,1024")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--users", type=int, default=None, help="synthetic users per run (default: 10 × the real users)")
    ap.add_argument("--batch-users", type=int, default=10_000)
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "fast_sampler_ml100k.json")
    args = ap.parse_args()
    data = read_movielens_100k(args.data)
    split = leave_last_out(data)
    c0 = time.process_time()
    gen = LatentFactorGenerator(seed=0).fit(split.train)
    fit_cpu = time.process_time() - c0
    n_users = args.users or 10 * split.train.n_users
    print(f"fit on {split.train.n_users} users: {fit_cpu:.2f} CPU-s; load average {os.getloadavg()}", flush=True)
    rows = []
    for sampler, k in [("exact", 0)] + [("fast", int(p)) for p in args.prototypes.split(",")]:
        gen.sampler, gen.prototypes = sampler, max(k, 1)
        for seed in (int(s) for s in args.seeds.split(",")):
            c0 = time.process_time()
            syn = concat_users(list(gen.sample_batches(n_users, batch_users=args.batch_users, seed=seed)))
            cpu = time.process_time() - c0
            fid = fidelity_report(split.train, syn)
            dup = float(syn.interactions.select("user", "item").is_duplicated().mean())
            res = tstr(split, syn, models=("ease",))
            ratio = res.ndcg_synthetic["ease"] / res.ndcg_real["ease"]
            row = {"sampler": sampler, "prototypes": k or None, "seed": seed, "rows": syn.n_interactions,
                   "rows_per_cpu_s": syn.n_interactions / cpu, "duplicate_share": dup, "tstr_ease": ratio,
                   "ndcg_syn": res.ndcg_synthetic["ease"], "ndcg_real": res.ndcg_real["ease"], **fid}
            rows.append(row)
            print(f"{sampler:5s} K={k or '-':>5} seed {seed}: gini Δ {fid['popularity_gini_diff']:+.3f}  KS deg "
                  f"{fid['popularity_ks']:.3f}  KS act {fid['activity_ks']:.3f}  cooc r "
                  f"{fid['cooccurrence_cosine_corr']:.3f}  rating TVD {fid['rating_tvd']:.3f}  gap KS "
                  f"{fid['gap_ks']:.3f}  dup {dup:.4f}  TSTR {ratio:.3f}  "
                  f"{row['rows_per_cpu_s'] / 1e6:.2f} M rows/CPU-s", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"fit_cpu_s": fit_cpu, "load_average": os.getloadavg(), "runs": rows},
                                    indent=1, default=float) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
