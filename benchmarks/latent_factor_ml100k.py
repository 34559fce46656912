"""Benchmark of `LatentFactorGenerator` on MovieLens-100K: fidelity, TSTR utility, fit time, throughput.

Protocol
- Split: leave-last-out — each user's last event by timestamp (ties: file order) is her test item.
- Fit the generator on the TRAIN part; sample as many synthetic users as real users (1×) and twice as
  many (2×), several seeds.
- TSTR: EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW: P = (XᵀX + λI)⁻¹,
  B = I − P / diag(P) columnwise, diag(B) = 0) trained on the synthetic data alone; real users are scored by
  their real TRAIN histories (X_train · B, seen items excluded); NDCG@10 of the held-out item, divided by
  the NDCG@10 of EASE trained on the real train (same λ, same evaluation).
- Fidelity: popularity Gini over the whole catalogue (real train vs synthetic), mean activity.
- Novelty: mean Jaccard similarity of each synthetic user to her nearest real train user, vs the same
  for real users to their nearest other real user (copies would give 1.0).
- Throughput: interactions/s when sampling 100k users, BLAS limited to 1 thread (one core).

Run (from the project root, with the venv active):

    python benchmarks/latent_factor_ml100k.py [--seeds 5] [--n-factors 64] [--n-components 1]

Needs ../shared/data/ml-100k/u.data (see ../shared/data/README.md). numpy-only EASE/NDCG on purpose, so
the figures do not depend on the package's own models.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from synthrec.data.interactions import InteractionData
from synthrec.generators import LatentFactorGenerator, gini

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.data"


def load(path: Path) -> InteractionData:
    frame = pl.read_csv(path, separator="\t", has_header=False, new_columns=["user", "item", "rating", "ts"])
    return InteractionData.from_frame(frame, rating_col="rating", time_col="ts", name="ml-100k")


def leave_last_out(data: InteractionData) -> tuple[InteractionData, np.ndarray]:
    """Train part and the held-out dense item of each user (-1 if none)."""
    rows = data.interactions.with_row_index("_r")
    last = rows.sort("user", "timestamp", "_r").group_by("user", maintain_order=True).agg(pl.col("_r").last())
    is_test = rows["_r"].is_in(last["_r"].implode())
    train = data.with_interactions(data.interactions.filter(~is_test))
    test = data.interactions.filter(is_test)
    held_out = np.full(data.n_users, -1)
    held_out[test["user"].to_numpy()] = test["item"].to_numpy()
    return train, held_out


def ease(x: sp.csr_matrix, lam: float) -> np.ndarray:
    g = (x.T @ x).toarray().astype(np.float64)
    g[np.diag_indices_from(g)] += lam
    p = np.linalg.inv(g)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


def ndcg_at_10(b: np.ndarray, x: sp.csr_matrix, held_out: np.ndarray) -> float:
    scores = np.asarray(x @ b)
    scores[x.nonzero()] = -np.inf
    top = np.argpartition(-scores, 10, axis=1)[:, :10]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), axis=1), 1)
    hit = top == held_out[:, None]
    return float((hit / np.log2(np.arange(2, 12))).sum(axis=1).mean())


def nearest_jaccard(a: sp.csr_matrix, b: sp.csr_matrix, *, same: bool = False) -> np.ndarray:
    inter = (a @ b.T).toarray()
    na, nb = np.asarray(a.sum(1)).ravel(), np.asarray(b.sum(1)).ravel()
    jac = inter / (na[:, None] + nb[None, :] - inter)
    if same:
        np.fill_diagonal(jac, -1.0)
    return jac.max(axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--n-factors", type=int, default=64)
    ap.add_argument("--n-components", type=int, default=1)
    ap.add_argument("--lam", type=float, default=400.0)
    ap.add_argument("--throughput-users", type=int, default=100_000)
    args = ap.parse_args()

    data = load(args.data)
    train, held_out = leave_last_out(data)
    x_train = train.to_csr()
    real_ndcg = ndcg_at_10(ease(x_train, args.lam), x_train, held_out)
    real_gini = gini(np.asarray(x_train.sum(axis=0)).ravel())

    t0, c0 = time.perf_counter(), time.process_time()
    gen = LatentFactorGenerator(n_factors=args.n_factors, n_components=args.n_components).fit(train)
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0

    out: dict[str, object] = {
        "data": str(args.data), "users": data.n_users, "items": data.n_items,
        "train_interactions": train.n_interactions, "lambda": args.lam,
        "generator": repr(gen), "fit_report": gen.fit_report_,
        "fit_seconds": round(fit_s, 2), "fit_cpu_seconds": round(fit_cpu, 2),
        "real_ease_ndcg10": round(real_ndcg, 5), "real_gini": round(real_gini, 4),
        "real_mean_activity": round(train.n_interactions / data.n_users, 2),
    }
    for mult in (1, 2):
        ratios, ginis, acts = [], [], []
        for seed in range(args.seeds):
            syn = gen.sample(mult * data.n_users, seed=seed)
            assert not syn.interactions.select("user", "item").is_duplicated().any()
            xs = syn.to_csr()
            ratios.append(ndcg_at_10(ease(xs, args.lam), x_train, held_out) / real_ndcg)
            ginis.append(gini(np.bincount(syn.interactions["item"].to_numpy(), minlength=data.n_items)))
            acts.append(syn.n_interactions / syn.n_users)
        out[f"tstr_ratio_{mult}x"] = {"mean": round(float(np.mean(ratios)), 4),
                                      "sd": round(float(np.std(ratios)), 4),
                                      "per_seed": [round(r, 4) for r in ratios]}
        out[f"synthetic_gini_{mult}x"] = round(float(np.mean(ginis)), 4)
        out[f"synthetic_mean_activity_{mult}x"] = round(float(np.mean(acts)), 2)

    syn = gen.sample(data.n_users, seed=0)
    out["nearest_real_jaccard_synthetic"] = round(float(nearest_jaccard(syn.to_csr(), x_train).mean()), 4)
    out["nearest_real_jaccard_real"] = round(float(nearest_jaccard(x_train, x_train, same=True).mean()), 4)

    with threadpool_limits(1):
        gen.sample(1000, seed=1)  # warm-up
        t0 = time.perf_counter()
        big = gen.sample(args.throughput_users, seed=1)
        dt = time.perf_counter() - t0
    out["throughput"] = {"users": args.throughput_users, "interactions": big.n_interactions,
                         "seconds": round(dt, 2), "interactions_per_s": round(big.n_interactions / dt)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
