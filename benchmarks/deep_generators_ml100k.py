"""Latent-factor vs Mult-VAE vs WGAN-GP (CFGAN-style) generators on MovieLens-100K.

Protocol (the same as ``latent_factor_ml100k.py``, whose split, EASE and NDCG helpers it reuses)
- Split: leave-last-out (each user's last event is her test item); generators are fitted on TRAIN.
- Fit time: wall and CPU seconds of ``fit`` with ``torch.set_num_threads(threads)`` (default 2).
- Throughput: interactions/s when sampling ``--throughput-users`` users.
- Fidelity: `synthrec.evaluation.fidelity.fidelity_report` (real train vs as many synthetic users).
- TSTR: EASE (λ = 400) trained on the synthetic users only, real users scored by their train histories,
  NDCG@10 of the held-out item divided by train-on-real EASE's NDCG@10; mean over ``--seeds`` samples.
- Mode collapse: `synthrec.generators.gan.mode_collapse_report` for every generator (preferences: the
  softmax of the deep models; for the latent-factor model its sampled users' item indicators).

Run (project root, venv active):

    python benchmarks/deep_generators_ml100k.py [--seeds 3] [--threads 2] [--only vae,gan] \\
        [--params '{"vae": {"hidden": 600}}']

Prints one JSON object per generator, then a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latent_factor_ml100k import DATA, ease, leave_last_out, load, ndcg_at_10

from synthrec.evaluation.fidelity import fidelity_report
from synthrec.generators import LatentFactorGenerator
from synthrec.generators.base import BaseGenerator
from synthrec.generators.gan import CFGANGenerator, ModeCollapseWarning, mode_collapse_report
from synthrec.generators.vae import MultVAEGenerator

FIDELITY_SHOWN = ("popularity_gini_real", "popularity_gini_synthetic", "popularity_ks", "activity_ks",
                  "activity_mean_real", "activity_mean_synthetic", "rating_tvd", "gap_ks",
                  "cooccurrence_cosine_corr")


def build(name: str, params: dict[str, Any]) -> BaseGenerator:
    if name == "latent-factor":
        return LatentFactorGenerator(**params)
    if name == "vae":
        return MultVAEGenerator(**params)
    return CFGANGenerator(**params)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lam", type=float, default=400.0)
    ap.add_argument("--throughput-users", type=int, default=20_000)
    ap.add_argument("--only", default="latent-factor,vae,gan")
    ap.add_argument("--params", default="{}", help='JSON {"vae": {...}, "gan": {...}} of non-default parameters')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    data = load(args.data)
    train, held_out = leave_last_out(data)
    x_train = train.to_csr()
    real_ndcg = ndcg_at_10(ease(x_train, args.lam), x_train, held_out)
    rows: list[dict[str, Any]] = []
    for name in args.only.split(","):
        gen = build(name, json.loads(args.params).get(name, {}))
        t0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ModeCollapseWarning)
            gen.fit(train)
        fit_wall, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
        ratios = []
        for seed in range(args.seeds):
            syn = gen.sample(data.n_users, seed=seed)
            xs = syn.to_csr()
            ratios.append(ndcg_at_10(ease(xs, args.lam), x_train, held_out) / real_ndcg)
        syn = gen.sample(data.n_users, seed=0)
        fid = fidelity_report(train, syn)
        if isinstance(gen, (MultVAEGenerator, CFGANGenerator)):
            prefs = gen.preferences(500, seed=0)
        else:  # no preference vector exposed: use the sampled users' indicators (ties broken by item id)
            prefs = syn.to_csr()[:500].toarray()
        collapse = mode_collapse_report(prefs, gen.sample(500, seed=0), train)
        t0 = time.perf_counter()
        big = gen.sample(args.throughput_users, seed=1)
        dt = time.perf_counter() - t0
        row = {
            "generator": name, "repr": repr(gen), "fit_wall_s": round(fit_wall, 1), "fit_cpu_s": round(fit_cpu, 1),
            "epochs": getattr(gen, "fit_report_", {}).get("epochs"),
            "sample_interactions_per_s": round(big.n_interactions / dt),
            "tstr_ratio_mean": round(float(np.mean(ratios)), 4), "tstr_ratio_sd": round(float(np.std(ratios)), 4),
            "real_ease_ndcg10": round(real_ndcg, 5),
            **{k: None if fid[k] is None else round(float(fid[k]), 4) for k in FIDELITY_SHOWN},
            "collapse": collapse.as_dict(),
            "collapse_warning": [str(w.message) for w in caught if issubclass(w.category, ModeCollapseWarning)],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    cols = ["generator", "fit_wall_s", "fit_cpu_s", "epochs", "sample_interactions_per_s", "tstr_ratio_mean",
            "tstr_ratio_sd", "popularity_gini_synthetic", "popularity_ks", "activity_ks", "rating_tvd", "gap_ks",
            "cooccurrence_cosine_corr"]
    print("\n| " + " | ".join([*cols, "jaccard_ratio", "distinct_top_share", "near_copy_share"]) + " |")
    print("|" + "---|" * (len(cols) + 3))
    for r in rows:
        c = r["collapse"]
        vals = [*(r[k] for k in cols), round(c["jaccard_ratio"], 3), round(c["distinct_top_share"], 3),
                round(c["near_copy_share"], 3)]
        print("| " + " | ".join(str(v) for v in vals) + " |")
    print(f"\nreal: popularity Gini {rows[0]['popularity_gini_real']}, mean activity {rows[0]['activity_mean_real']}, "
          f"EASE NDCG@10 {real_ndcg:.4f}")


if __name__ == "__main__":
    main()
