"""Sampling speed of `LatentFactorGenerator` at ~20k items, exact and fast samplers, and the fast one's bias.

Issue 15, item 3: "Sampling at 20k items ≥ 1 M rows per CPU-second (exact) — or, if only an approximate
sampler gets there, its bias table against the exact one (Gini, co-occurrence, TSTR) beside its speed."

1. Model: ``synthrec simulate --preset ecommerce --users <sim-users>`` then ``synthrec fit`` (latent-factor
   defaults), both under ``--workdir`` (skipped when the files exist).
2. Speed: the saved model is loaded and ``--users`` synthetic users are drawn with ``sample_batches``
   (``--batch-users`` per batch, seed 0), for the exact sampler and the fast one at each ``--prototypes``.
   Rows per CPU-second = output rows / `time.process_time` of the sampling loop alone (one BLAS
   thread); the process's CPU time for imports and loading the model is printed separately.
3. Bias (unless ``--no-bias``): the real log is split leave-last-out; a generator fitted on the training
   part (defaults, seed 0) samples as many users as the real training log (one batch, seed 0) with each
   sampler, and the table gives: the popularity Gini of the sampled item counts (distinct users per item)
   next to the real one; the relative Frobenius distance ‖C − C_ref‖_F / ‖C_ref‖_F of the item–item
   cosine co-occurrence C (off-diagonal, the ``--cooc-items`` most popular real items) against the exact
   sampler's and against the real training log's; and (unless ``--no-tstr``) TSTR, NDCG@10 of EASE
   trained on the synthetic users over NDCG@10 of EASE trained on the real training part, both scoring
   the held-out real users (`synthrec.evaluation.utility.tstr`).

Run (project root, venv active), printing a markdown table:

    OPENBLAS_NUM_THREADS=1 python benchmarks/sampler_speed.py --workdir /work/runs/i15
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.data.stats import gini
from synthrec.generators.latent_factor import LatentFactorGenerator


def build_model(workdir: Path, sim_users: int) -> tuple[Path, Path]:
    """The simulated log and the fitted model (created with the CLI when missing)."""
    sim = workdir / f"sim{sim_users // 1000}k"
    model = workdir / f"lf{sim_users // 1000}k.synthrec"
    if not (sim / "interactions.parquet").exists():
        subprocess.run(["synthrec", "simulate", "--preset", "ecommerce", "--users", str(sim_users),
                        "--out", str(sim), "-q"], check=True)
    if not model.exists():
        subprocess.run(["synthrec", "fit", str(sim), "-o", str(model)], check=True)
    return sim, model


def sample_speed(gen: LatentFactorGenerator, n_users: int, batch_users: int) -> tuple[int, float]:
    """(rows, CPU seconds) of sampling ``n_users`` users in batches, seed 0."""
    rows = 0
    c0 = time.process_time()
    for block in gen.sample_batches(n_users, batch_users=batch_users, seed=0):
        rows += block.n_interactions
    return rows, time.process_time() - c0


def binary(data: InteractionData) -> sp.csr_matrix:
    x = data.to_csr("binary")
    x.data[:] = 1.0
    return x


def cosine_cooc(x: sp.csr_matrix, cols: np.ndarray) -> np.ndarray:
    """Off-diagonal cosine co-occurrence G_ij / √(G_ii G_jj) of the binary columns ``cols``."""
    sub = x[:, cols]
    g = (sub.T @ sub).toarray().astype(np.float64)
    d = np.sqrt(np.diag(g))
    d[d == 0] = np.inf
    c = g / d[:, None] / d[None, :]
    np.fill_diagonal(c, 0.0)
    return c


def rel_frob(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(a - ref) / np.linalg.norm(ref))


def bias_table(sim: Path, prototypes: list[int], cooc_items: int, tstr_on: bool) -> list[dict]:
    from synthrec.config import DataConfig
    from synthrec.data.splits import leave_last_out
    from synthrec.experiments.data_source import read_path

    real = read_path(DataConfig(path=sim))
    split = leave_last_out(real)
    c0 = time.process_time()
    gen = LatentFactorGenerator(seed=0).fit(split.train)
    print(f"bias: fitted on {split.train.n_users} real training users, {split.train.n_items} items: "
          f"{time.process_time() - c0:.1f} CPU-s", flush=True)
    x_real = binary(split.train)
    deg_real = np.asarray(x_real.sum(axis=0)).ravel()
    cols = np.argsort(-deg_real, kind="stable")[:cooc_items]
    c_real = cosine_cooc(x_real, cols)
    out = [{"sampler": "real (train)", "gini": gini(deg_real)}]
    c_exact = None
    ndcg_real = None
    for sampler, k in [("exact", 0)] + [("fast", p) for p in prototypes]:
        gen.sampler, gen.prototypes = sampler, max(k, 1)
        c0 = time.process_time()
        syn = gen.sample(split.train.n_users, seed=0)
        cpu = time.process_time() - c0
        x = binary(syn)
        c = cosine_cooc(x, cols)
        if c_exact is None:
            c_exact = c
        row = {"sampler": sampler if not k else f"fast, K = {k:,}", "rows": syn.n_interactions,
               "rows_per_cpu_s": syn.n_interactions / cpu, "gini": gini(np.asarray(x.sum(axis=0)).ravel()),
               "cooc_vs_exact": rel_frob(c, c_exact), "cooc_vs_real": rel_frob(c, c_real)}
        if tstr_on:
            from synthrec.evaluation.utility import tstr

            c0 = time.process_time()
            res = tstr(split, syn, models=("ease",))
            ndcg_real = res.ndcg_real["ease"]
            row["ndcg_syn"] = res.ndcg_synthetic["ease"]
            row["tstr"] = res.ndcg_synthetic["ease"] / ndcg_real
            print(f"  TSTR {time.process_time() - c0:.0f} CPU-s", flush=True)
        out.append(row)
        print(json.dumps(row, default=float), flush=True)
    out[0]["cooc_vs_real"] = 0.0
    if ndcg_real is not None:
        out[0]["ndcg_syn"], out[0]["tstr"] = ndcg_real, 1.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/synthrec-sampler-speed"))
    ap.add_argument("--sim-users", type=int, default=20_000)
    ap.add_argument("--users", type=int, default=200_000, help="synthetic users of the speed runs")
    ap.add_argument("--batch-users", type=int, default=50_000)
    ap.add_argument("--prototypes", default="64,256,1024")
    ap.add_argument("--cooc-items", type=int, default=1000)
    ap.add_argument("--no-speed", action="store_true", help="skip the speed runs (step 2)")
    ap.add_argument("--no-bias", action="store_true")
    ap.add_argument("--no-tstr", action="store_true")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "sampler_speed.json")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    prototypes = [int(p) for p in args.prototypes.split(",") if p]
    sim, model = build_model(args.workdir, args.sim_users)
    gen = LatentFactorGenerator.load(model)
    startup = time.process_time()  # the process's CPU time so far: interpreter, imports, loading the model
    print(f"model {model}: {gen.n_items_:,} items, {gen.n_factors_} factors; imports + load {startup:.2f} CPU-s; "
          f"load average {os.getloadavg()}", flush=True)
    speed = []
    for sampler, k in [] if args.no_speed else [("exact", 0)] + [("fast", p) for p in prototypes]:
        gen.sampler, gen.prototypes = sampler, max(k, 1)
        rows, cpu = sample_speed(gen, args.users, args.batch_users)
        speed.append({"sampler": sampler if not k else f"fast, K = {k:,}", "rows": rows, "cpu_s": cpu,
                      "rows_per_cpu_s": rows / cpu, "with_startup": rows / (cpu + startup)})
        print(json.dumps(speed[-1]), flush=True)
    bias = [] if args.no_bias else bias_table(sim, prototypes, args.cooc_items, not args.no_tstr)
    if speed:
        print(f"\n| sampler | rows ({args.users:,} users) | CPU-s | rows / CPU-s | incl. imports + load |")
        print("|---|---|---|---|---|")
    for r in speed:
        print(f"| {r['sampler']} | {r['rows']:,} | {r['cpu_s']:.1f} | {r['rows_per_cpu_s'] / 1e6:.3f} M "
              f"| {r['with_startup'] / 1e6:.3f} M |")
    if bias:
        print("\n| sampler | Gini | co-occurrence dist. vs exact | vs real | TSTR EASE (syn/real NDCG@10) "
              "| rows / CPU-s |")
        print("|---|---|---|---|---|---|")
        for r in bias:
            tstr_s = f"{r['tstr']:.3f}" if "tstr" in r else "—"
            vs_exact = f"{r['cooc_vs_exact']:.3f}" if "cooc_vs_exact" in r else "—"
            rate = f"{r['rows_per_cpu_s'] / 1e6:.2f} M" if "rows_per_cpu_s" in r else "—"
            print(f"| {r['sampler']} | {r['gini']:.3f} | {vs_exact} | {r['cooc_vs_real']:.3f} | {tstr_s} | {rate} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"load_average": os.getloadavg(), "startup_cpu_s": startup,
                                     "n_items": gen.n_items_, "speed": speed, "bias": bias},
                                    indent=1, default=float) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
