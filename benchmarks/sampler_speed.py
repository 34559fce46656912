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
   part (defaults, seed 0) samples as many users as the real training log (one batch) with each sampler,
   once per seed ``0 .. --seeds − 1``, and the table gives, as mean and [min–max] over the seeds: the
   popularity Gini of the sampled item counts (distinct users per item) next to the real one; the
   relative Frobenius distance ‖C − C_ref‖_F / ‖C_ref‖_F of the item–item cosine co-occurrence C
   (off-diagonal, the ``--cooc-items`` most popular real items) against the **exact sampler's seed-0
   sample** and against the real training log's. The exact sampler's own seeds 1, 2, … against its
   seed 0 give the noise floor of the "vs exact" column.
4. TSTR (unless ``--no-tstr``; on the first ``--tstr-seeds`` seeds): each ``--tstr-model`` is trained on
   the real training part (TRTR) and on each synthetic sample alone (TSTR); both recommend 10 unseen
   items over the whole catalogue to the real users given their training rows, scored on their
   held-out last event (NDCG@10, Recall@10; `synthrec.evaluation.metrics`, the protocol of
   `synthrec.evaluation.utility.tstr`). Models: ``als`` (`synthrec.models.ALS`, its defaults: 64
   factors, 15 CG sweeps), ``ease-top<N>`` (EASE, λ = 100, on the N items most popular *in its own
   training log*; every other item is never recommended and ignored in the histories), ``pop`` (most
   popular, the floor), ``ease`` (full EASE: a dense 17,912² inverse, not tractable on the shared 2-core
   machine). Synthetic-trained models use model seed 0; the real-trained ALS is fitted with model seeds
   0 .. ``--tstr-seeds`` − 1 (its training noise). TSTR share = synthetic-trained NDCG@10 / mean
   real-trained NDCG@10, per sampler seed.

Run (project root, venv active), printing markdown tables:

    OPENBLAS_NUM_THREADS=1 python benchmarks/sampler_speed.py --workdir /work/runs/i15
    OPENBLAS_NUM_THREADS=1 python benchmarks/sampler_speed.py --workdir /work/runs/i15 --no-speed \
        --seeds 3 --tstr-seeds 3 --tstr-model als,ease-top4000,pop
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
from synthrec.models.ease import EASE, ease_weights


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


class TopItemsEASE(EASE):
    """EASE (Steck 2019) on the ``n_top`` items most popular in its training log only.

    The Gram matrix and its inverse are ``n_top × n_top``; histories are read on those columns only, and
    every other item is ineligible (never recommended). A full 17,912-item EASE (a dense 17,912² inverse,
    ~2.4 GiB a matrix) does not finish on the shared 2-core machine.
    """

    name = "ease-top"

    def __init__(self, n_top: int = 4000, l2: float = 100.0, batch_size: int = 2048) -> None:
        super().__init__(l2=l2, batch_size=batch_size)
        self.n_top = n_top
        self.top_: np.ndarray | None = None
        self._eligible: np.ndarray | None = None

    def fit(self, data: InteractionData) -> TopItemsEASE:
        x = self._start_fit(data)
        assert self.item_counts_ is not None
        self.top_ = np.sort(np.argsort(-self.item_counts_, kind="stable")[:self.n_top])
        self._eligible = np.zeros(data.n_items, dtype=bool)
        self._eligible[self.top_] = self.item_counts_[self.top_] > 0
        self.gram_ = self._gram(sp.csr_matrix(x[:, self.top_]))
        self.B_ = ease_weights(self.gram_, self.l2)
        return self

    @property
    def eligible_items_(self) -> np.ndarray:
        self._require_fitted("eligible_items_")
        assert self._eligible is not None
        return self._eligible

    def _score(self, histories: sp.csr_matrix) -> np.ndarray:
        assert self.B_ is not None and self.top_ is not None and self.n_items_ is not None
        out = np.zeros((histories.shape[0], self.n_items_), dtype=np.float64)
        out[:, self.top_] = np.asarray(histories[:, self.top_].astype(np.float64) @ self.B_)
        return out


def make_tstr_model(name: str, seed: int = 0):
    """``als`` | ``pop`` | ``ease`` | ``ease-top<N>`` → an unfitted recommender."""
    from synthrec.models.registry import make_model

    if name.startswith("ease-top"):
        return TopItemsEASE(n_top=int(name[len("ease-top"):]))
    return make_model(name, seed=seed)


def train_eval(name: str, data: InteractionData, histories: sp.csr_matrix, targets: sp.csr_matrix,
               k: int = 10, seed: int = 0) -> dict:
    """Fit ``name`` on ``data``; NDCG@k and Recall@k of its top-k (unseen items) for the real users."""
    from synthrec.evaluation.metrics import ndcg_at_k, recall_at_k

    c0 = time.process_time()
    model = make_tstr_model(name, seed).fit(data)
    recs = model.recommend(histories, k, exclude_seen=True)
    return {"ndcg": float(ndcg_at_k(recs, targets, k)), "recall": float(recall_at_k(recs, targets, k)),
            "cpu_s": time.process_time() - c0}


def bias_table(sim: Path, prototypes: list[int], cooc_items: int, seeds: int, tstr_models: list[str],
               tstr_seeds: int) -> list[dict]:
    """One row per (sampler, seed), plus the real training log's row (seed None)."""
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
    _, histories, targets = split.evaluation_inputs("binary")
    real_row: dict = {"sampler": "real (train)", "seed": None, "rows": split.train.n_interactions,
                      "gini": gini(deg_real), "cooc_vs_real": 0.0}
    for m in tstr_models:  # TRTR; models with random steps (ALS) once per model seed 0 .. tstr_seeds − 1
        runs = [train_eval(m, split.train, histories, targets, seed=s)
                for s in range(max(1, tstr_seeds) if m == "als" else 1)]
        real_row[m] = {key: float(np.mean([r[key] for r in runs])) for key in ("ndcg", "recall", "cpu_s")}
        real_row[m]["runs"] = runs
    print(json.dumps(real_row, default=float), flush=True)
    out = [real_row]
    c_exact = None
    for seed in range(seeds):  # seed-major, so an interrupted run still has whole seeds
        for sampler, k in [("exact", 0)] + [("fast", p) for p in prototypes]:
            gen.sampler, gen.prototypes = sampler, max(k, 1)
            c0 = time.process_time()
            syn = gen.sample(split.train.n_users, seed=seed)
            cpu = time.process_time() - c0
            x = binary(syn)
            c = cosine_cooc(x, cols)
            if c_exact is None:
                c_exact = c
            row = {"sampler": sampler if not k else f"fast, K = {k:,}", "seed": seed, "rows": syn.n_interactions,
                   "rows_per_cpu_s": syn.n_interactions / cpu,
                   "gini": gini(np.asarray(x.sum(axis=0)).ravel()),
                   "cooc_vs_exact": rel_frob(c, c_exact), "cooc_vs_real": rel_frob(c, c_real)}
            if seed < tstr_seeds:
                for m in tstr_models:
                    r = train_eval(m, syn, histories, targets)
                    r["share"] = r["ndcg"] / real_row[m]["ndcg"]
                    row[m] = r
            out.append(row)
            print(json.dumps(row, default=float), flush=True)
    return out


def _mr(values: list[float], fmt: str) -> str:
    """``mean [min–max]`` (just the value for one)."""
    if not values:
        return "—"
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(float(np.mean(values)), fmt)} [{format(min(values), fmt)}–{format(max(values), fmt)}]"


def print_bias(bias: list[dict], tstr_models: list[str]) -> None:
    groups: dict[str, list[dict]] = {}
    for r in bias:
        groups.setdefault(r["sampler"], []).append(r)
    print("\n| sampler | seeds | rows | Gini | co-occurrence dist. vs exact seed 0 | vs real | rows / CPU-s |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in groups.items():
        seeds = "—" if rows[0]["seed"] is None else str(len(rows))
        vs_exact = [r["cooc_vs_exact"] for r in rows if "cooc_vs_exact" in r and not (name == "exact" and r["seed"] == 0)]
        rate = [r["rows_per_cpu_s"] / 1e6 for r in rows if "rows_per_cpu_s" in r]
        print(f"| {name} | {seeds} | {_mr([r['rows'] / 1e6 for r in rows], '.3f')} M | "
              f"{_mr([r['gini'] for r in rows], '.3f')} | {_mr(vs_exact, '.3f')} | "
              f"{_mr([r['cooc_vs_real'] for r in rows], '.3f')} | {_mr(rate, '.2f')}{' M' if rate else ''} |")
    for m in tstr_models:
        print(f"\nTSTR, {m} (NDCG@10 / Recall@10 over all items, held-out last event of the real users; "
              "share = NDCG@10 / mean real-trained NDCG@10; TRTR over model seeds, synthetic rows over sampler "
              "seeds with model seed 0):\n")
        print("| trained on | seeds | NDCG@10 | Recall@10 | share of TRTR | fit + eval CPU-s |")
        print("|---|---|---|---|---|---|")
        for name, rows in groups.items():
            rs = [r[m] for r in rows if m in r]
            if not rs:
                continue
            if rows[0]["seed"] is None:
                rs = rs[0]["runs"]
            label = "real (train), TRTR" if rows[0]["seed"] is None else name
            share = _mr([r["share"] for r in rs], ".2f") if "share" in rs[0] else "1"
            print(f"| {label} | {len(rs) if rows[0]['seed'] is not None else f'{len(rs)} model'} | "
                  f"{_mr([r['ndcg'] for r in rs], '.4f')} | {_mr([r['recall'] for r in rs], '.4f')} | {share} | "
                  f"{_mr([r['cpu_s'] for r in rs], '.0f')} |")


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
    ap.add_argument("--seeds", type=int, default=3, help="sampler seeds 0..n-1 of the bias table")
    ap.add_argument("--tstr-seeds", type=int, default=2, help="the first n seeds also get TSTR")
    ap.add_argument("--tstr-model", default="als,ease-top4000",
                    help="comma list of als | ease-top<N> | pop | ease (full EASE: not tractable at 17.9k items here)")
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
    tstr_models = [] if args.no_tstr else [m for m in args.tstr_model.split(",") if m]
    bias = [] if args.no_bias else bias_table(sim, prototypes, args.cooc_items, args.seeds, tstr_models,
                                              args.tstr_seeds)
    if speed:
        print(f"\n| sampler | rows ({args.users:,} users) | CPU-s | rows / CPU-s | incl. imports + load |")
        print("|---|---|---|---|---|")
    for r in speed:
        print(f"| {r['sampler']} | {r['rows']:,} | {r['cpu_s']:.1f} | {r['rows_per_cpu_s'] / 1e6:.3f} M "
              f"| {r['with_startup'] / 1e6:.3f} M |")
    if bias:
        print_bias(bias, tstr_models)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"load_average": os.getloadavg(), "startup_cpu_s": startup,
                                     "n_items": gen.n_items_, "speed": speed, "bias": bias},
                                    indent=1, default=float) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
