"""Every generator (latent-factor, VAE, GAN, sequence) on scarce slices of three real datasets.

Issue 4's acceptance benchmark. For each dataset of the config and each run seed ``s``:

1. Scarcity: keep a random ``user_fraction`` (10 %) of the users (`subsample_users`, seed ``s``); drop
   items nobody kept touched; where the config sets ``max_items``, keep only the most popular items
   among the kept users (before the split, so every generator and EASE see one catalogue).
2. Split: leave-last-out (`leave_last_out`): each user's last event in time order (row order where the
   file has no timestamps) is her test item. A validation split is carved from the training part the same
   way (`carve_validation`).
3. Each generator (registry name, seed ``s``) is fitted on the training part with one torch thread and
   one BLAS thread: wall seconds (``time.perf_counter``) and CPU seconds (``time.process_time``).
4. It samples as many synthetic users as there are real training users (seed ``s``); sampling speed is
   interactions per CPU second of that call and, on the first seed, of a ``throughput_users`` sample
   (large enough that fixed overheads do not dominate).
5. Fidelity: `synthrec.evaluation.fidelity.fidelity_report` (real training part vs the synthetic users):
   popularity Gini difference (synthetic − real), KS of item degrees, KS of user activity, Pearson
   correlation of the item–item cosine similarities over the 500 most popular real items.
6. TSTR (train on synthetic, test on real; Esteban et al. 2017, arXiv:1706.02633, §3.2): EASE (Steck 2019,
   WWW, eq. 8) is trained on the synthetic users alone and, separately, on the real training part; the
   real test users are scored by their training histories, NDCG@10 of the held-out item
   (`synthrec.evaluation.metrics.ndcg_at_k`); the TSTR ratio is synthetic / real. One λ serves both
   sides: the one of ``ease_l2_grid`` with the best NDCG@10 of real-trained EASE on the validation split
   (fitted on the inner training part). Tuning λ for the synthetic side on that validation split would
   leak: the generators saw the validation items (measured: the latent-factor generator's synthetic EASE
   scored validation NDCG@10 0.17–0.31 where real EASE scored 0.01–0.06). The ratio at the λ that is best
   on test for each generator is also reported, as an optimistic upper bound. Most-popular trained on the
   real data is printed as a floor.

Figures are mean ± population std over the seeds (the seeds change which users are kept as well as the
generator, so the spread includes the choice of the scarce slice); a dataset may list its own seeds (the
config gives amazon-digital-music ten, as its per-seed NDCG is one or two hits). "TSTR ratio of mean
NDCGs" (mean synthetic NDCG / mean real NDCG over the seeds) is steadier than the mean of per-seed ratios
when real NDCG is near zero. The winner of each column is in bold; the sampling column is the first seed's
``throughput_users`` sample.

Run (project root, venv active; 11 minutes wall, 6.4 CPU-minutes on the shared 2-core machine):

    python benchmarks/generators_compare.py [--config benchmarks/configs/generators_compare.yaml] \\
        [--seeds 0,1,2] [--datasets ml-100k] [--generators vae,gan] [--out benchmarks/results/x.json]

Prints one markdown table per dataset and a "who wins where" summary; writes every per-seed record and
the aggregates to ``benchmarks/results/generators_compare.json`` (git-ignored).
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # before numpy / torch load: one BLAS thread, so CPU seconds are one core's work
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse
import json
import math
import platform
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from threadpoolctl import threadpool_limits

from synthrec.data.amazon_seq import read_sequence_file
from synthrec.data.filters import compact_items
from synthrec.data.interactions import InteractionData
from synthrec.data.movielens import read_movielens_100k
from synthrec.data.readers import read_table
from synthrec.data.splits import Split, carve_validation, leave_last_out, subsample_users
from synthrec.evaluation.fidelity import fidelity_report
from synthrec.evaluation.metrics import ndcg_at_k
from synthrec.experiments.bench.datasets import keep_top_items
from synthrec.generators.registry import make_generator
from synthrec.models.base import BaseRecommender
from synthrec.models.ease import EASE
from synthrec.models.registry import make_model

ROOT = Path(__file__).resolve().parent
DEFAULT_CONFIG = ROOT / "configs" / "generators_compare.yaml"
DEFAULT_OUT = ROOT / "results" / "generators_compare.json"
K = 10

#: (result key, column title, "min" / "max" / "absmin" = which value wins, decimals)
COLUMNS: tuple[tuple[str, str, str, int], ...] = (
    ("fit_wall_s", "fit wall s", "min", 1),
    ("fit_cpu_s", "fit CPU s", "min", 1),
    ("epochs", "epochs", "", 0),
    ("throughput_per_cpu_s", "sample inter./CPU-s", "max", 0),
    ("popularity_gini_diff", "Δ Gini (syn − real)", "absmin", 3),
    ("popularity_ks", "popularity KS", "min", 3),
    ("activity_ks", "activity KS", "min", 3),
    ("cooccurrence_cosine_corr", "co-occ. cosine r", "max", 3),
    ("tstr_ndcg", "EASE NDCG@10 (syn)", "max", 4),
    ("tstr_ratio", "TSTR ratio", "max", 3),
    ("tstr_ratio_best_l2", "TSTR ratio, λ picked on test", "max", 3),
    ("tstr_ratio_of_means", "TSTR ratio of mean NDCGs", "max", 3),
)


# ---------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DatasetSpec:
    """One ``datasets`` entry of the config (``kind``: movielens-100k | table | sequence)."""

    name: str
    kind: str
    path: Path
    max_items: int | None = None
    seeds: tuple[int, ...] | None = None
    read_kw: dict[str, Any] = field(default_factory=dict)


def read_dataset(spec: DatasetSpec) -> InteractionData:
    """The whole log of a dataset, read with the project's own readers."""
    if spec.kind == "movielens-100k":
        return read_movielens_100k(spec.path)
    if spec.kind == "sequence":
        return read_sequence_file(spec.path)
    if spec.kind == "table":
        kw = dict(spec.read_kw)
        if "column_names" in kw:
            kw.setdefault("has_header", False)
        return read_table(spec.path, name=spec.name, **kw)
    raise SystemExit(f"error: dataset {spec.name!r}: unknown kind {spec.kind!r} (movielens-100k, table, sequence)")


def scarce_slice(data: InteractionData, fraction: float, max_items: int | None, seed: int) -> InteractionData:
    """Kept users' events over the items they touched (the ``max_items`` most popular ones if set)."""
    kept = subsample_users(data, fraction, seed=seed).compact_users()
    if max_items is not None:
        kept = keep_top_items(kept, max_items)
    return compact_items(kept).compact_users()


# ---------------------------------------------------------------------------------------------- TSTR


@dataclass(frozen=True)
class EvalSet:
    """Real users to score: their histories (binary CSR rows) and held-out targets."""

    histories: Any
    targets: Any

    @classmethod
    def of(cls, split: Split) -> EvalSet:
        _, histories, targets = split.evaluation_inputs("binary")
        return cls(histories, targets)

    def ndcg(self, model: BaseRecommender) -> float:
        return float(ndcg_at_k(model.recommend(self.histories, K, exclude_seen=True), self.targets, K))


def real_baselines(split: Split, valid_split: Split, grid: Sequence[float]) -> dict[str, Any]:
    """EASE on the real data, λ chosen by validation NDCG@10 (fitted on the inner training part; ties:
    the first in the grid) and refitted on the whole training part; most-popular as a floor."""
    valid, test = EvalSet.of(valid_split), EvalSet.of(split)
    valid_scores = {lam: valid.ndcg(EASE(l2=lam).fit(valid_split.train)) for lam in grid}
    best = max(grid, key=lambda lam: valid_scores[lam])
    pop = make_model("pop").fit(split.train)
    return {"l2": best, "valid_ndcg": valid_scores, "test_ndcg": test.ndcg(EASE(l2=best).fit(split.train)),
            "pop_test_ndcg": test.ndcg(pop)}


def synthetic_ease(synthetic: InteractionData, split: Split, real: dict[str, Any], grid: Sequence[float]
                   ) -> dict[str, Any]:
    """EASE trained on the synthetic users alone, at every λ of the grid, scored on the real test users.

    The headline figure uses the λ chosen for the real data (``real["l2"]``): choosing λ for the synthetic
    side on the carved validation split would leak, since the generators were fitted on the whole training
    part, validation items included. ``best_test_ndcg`` (λ picked on test) is an optimistic upper bound.
    """
    test = EvalSet.of(split)
    scores = {lam: test.ndcg(EASE(l2=lam).fit(synthetic)) for lam in grid}
    return {"l2": real["l2"], "test_ndcg": scores[real["l2"]], "test_ndcg_by_l2": scores,
            "best_test_ndcg": max(scores.values())}


# ---------------------------------------------------------------------------------------------- one run


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``(result, wall seconds, CPU seconds of this process)``."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_generator(label: str, params: dict[str, Any], split: Split, real: dict[str, Any],
                  grid: Sequence[float], seed: int, throughput_users: int | None) -> dict[str, Any]:
    """Fit, sample, fidelity and TSTR of one generator on one slice; errors are recorded, not raised.

    ``params`` are constructor arguments, plus an optional ``generator`` (registry name; default the
    label), so one registry entry can appear under several settings.
    """
    params = dict(params)
    name = params.pop("generator", label)
    rec: dict[str, Any] = {"generator": label, "registry_name": name, "seed": seed, "params": params}
    try:
        gen = make_generator(name, seed=seed, **params)
        rec["repr"] = repr(gen)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _, rec["fit_wall_s"], rec["fit_cpu_s"] = timed(lambda: gen.fit(split.train))
        rec["fit_warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        report = getattr(gen, "fit_report_", None) or {}
        rec["epochs"] = report.get("epochs", getattr(gen, "epochs", None))
        n_users = int(split.train.active_users().size)
        syn, rec["sample_wall_s"], rec["sample_cpu_s"] = timed(lambda: gen.sample(n_users, seed=seed))
        rec["synthetic_users"], rec["synthetic_interactions"] = n_users, syn.n_interactions
        rec["sample_per_cpu_s"] = syn.n_interactions / max(rec["sample_cpu_s"], 1e-9)
        if throughput_users:
            big, _, cpu = timed(lambda: gen.sample(throughput_users, seed=seed + 1))
            rec["throughput"] = {"users": throughput_users, "interactions": big.n_interactions, "cpu_s": cpu}
            rec["throughput_per_cpu_s"] = big.n_interactions / max(cpu, 1e-9)
        rec["fidelity"] = fidelity_report(split.train, syn)
        rec.update({k: rec["fidelity"][k] for k in ("popularity_gini_diff", "popularity_ks", "activity_ks",
                                                    "cooccurrence_cosine_corr")})
        ease = synthetic_ease(syn, split, real, grid)
        rec["tstr_ease"] = ease
        rec["tstr_ndcg"] = ease["test_ndcg"]
        denom = real["test_ndcg"] if real["test_ndcg"] > 0 else math.nan
        rec["tstr_ratio"], rec["tstr_ratio_best_l2"] = ease["test_ndcg"] / denom, ease["best_test_ndcg"] / denom
    except Exception as exc:  # a broken generator is a result to report, not a reason to stop the others
        rec["error"] = f"{type(exc).__name__}: {exc}"
        rec["traceback"] = traceback.format_exc()
    return rec


def run_dataset(spec: DatasetSpec, cfg: dict[str, Any], seeds: Sequence[int], generators: Sequence[str]
                ) -> list[dict[str, Any]]:
    """Every generator × seed on one dataset; prints one progress line per record."""
    data = read_dataset(spec)
    grid = [float(v) for v in cfg["ease_l2_grid"]]
    records: list[dict[str, Any]] = []
    for i, seed in enumerate(seeds):
        slice_ = scarce_slice(data, float(cfg["user_fraction"]), spec.max_items, seed)
        split = leave_last_out(slice_)
        real = real_baselines(split, carve_validation(split), grid)
        sizes = {"users": slice_.n_users, "items": slice_.n_items, "interactions": slice_.n_interactions,
                 "train_interactions": split.train.n_interactions, "test_users": int(split.test_users().size)}
        print(f"[{spec.name} seed {seed}] {sizes}; real EASE λ={real['l2']:g} NDCG@10={real['test_ndcg']:.4f} "
              f"(most-popular {real['pop_test_ndcg']:.4f})",
              flush=True)
        for name in generators:
            rec = run_generator(name, dict(cfg["generators"].get(name) or {}), split, real, grid,
                                seed, int(cfg["throughput_users"]) if i == 0 else None)
            rec.update(dataset=spec.name, slice=sizes, real_ease=real)
            records.append(rec)
            status = rec.get("error") or (f"fit {rec['fit_cpu_s']:.1f} CPU-s, TSTR {rec['tstr_ratio']:.3f}, "
                                          f"act KS {rec['activity_ks']:.3f}")
            print(f"  {name}: {status}", flush=True)
    return records


# ---------------------------------------------------------------------------------------------- report


def aggregate(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """dataset → generator → ``{key: mean, key_sd: std, n_ok, n_failed}`` over seeds (errors excluded)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for rec in records:
        out.setdefault(rec["dataset"], {}).setdefault(rec["generator"], {})
    for ds, gens in out.items():
        for gen in gens:
            mine = [r for r in records if r["dataset"] == ds and r["generator"] == gen]
            ok = [r for r in mine if "error" not in r]
            row: dict[str, float] = {"n_ok": len(ok), "n_failed": len(mine) - len(ok)}
            for key, *_ in COLUMNS[:-1]:
                vals = np.array([r[key] for r in ok if r.get(key) is not None], dtype=np.float64)
                if vals.size:
                    row[key], row[f"{key}_sd"] = float(np.mean(vals)), float(np.std(vals))
            for key, src in (("real_ndcg", "test_ndcg"), ("pop_ndcg", "pop_test_ndcg")):
                vals = np.array([r["real_ease"][src] for r in mine])
                row[key], row[f"{key}_sd"] = float(np.mean(vals)), float(np.std(vals))
            real_ok = float(np.mean([r["real_ease"]["test_ndcg"] for r in ok])) if ok else math.nan
            if ok and real_ok > 0:  # steadier than the mean of ratios when real NDCG is a hit or two
                row["tstr_ratio_of_means"] = row["tstr_ndcg"] / real_ok
            gens[gen] = row
    return out


def winner(rows: dict[str, dict[str, float]], key: str, rule: str) -> str | None:
    """Generator with the best mean of ``key`` under ``rule`` (None when no generator has a value)."""
    have = {g: r[key] for g, r in rows.items() if key in r and np.isfinite(r[key])}
    if not have or not rule:
        return None
    score = {"min": lambda v: v, "max": lambda v: -v, "absmin": abs}[rule]
    return min(have, key=lambda g: score(have[g]))


def fmt(row: dict[str, float], key: str, digits: int) -> str:
    if key not in row:
        return "—"
    mean, sd = row[key], row.get(f"{key}_sd", 0.0)
    return f"{mean:,.{digits}f}" if row["n_ok"] < 2 or sd == 0 else f"{mean:,.{digits}f} ± {sd:,.{digits}f}"


def markdown(agg: dict[str, dict[str, dict[str, float]]], records: list[dict[str, Any]]) -> str:
    """One table per dataset (best value in bold) and a metric × dataset winners table."""
    lines: list[str] = []
    for ds, rows in agg.items():
        first = next(r for r in records if r["dataset"] == ds)
        lines += [f"### {ds}", "",
                  f"slice (seed {first['seed']}): {first['slice']}; real-trained EASE NDCG@10 "
                  f"{fmt(next(iter(rows.values())), 'real_ndcg', 4)} (λ {first['real_ease']['l2']:g} at seed "
                  f"{first['seed']}), most-popular {fmt(next(iter(rows.values())), 'pop_ndcg', 4)}", "",
                  "| generator | " + " | ".join(c[1] for c in COLUMNS) + " |",
                  "|---|" + "---:|" * len(COLUMNS)]
        best = {key: winner(rows, key, rule) for key, _, rule, _ in COLUMNS}
        for gen, row in rows.items():
            cells = []
            for key, _, _, digits in COLUMNS:
                cell = fmt(row, key, digits)
                cells.append(f"**{cell}**" if best[key] == gen else cell)
            failed = f" ({int(row['n_failed'])} failed)" if row["n_failed"] else ""
            lines.append(f"| {gen}{failed} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["### Who wins where (best mean over seeds)", "", "| metric | " + " | ".join(agg) + " |", "|---|" + "---|" * len(agg)]
    for key, title, rule, _ in COLUMNS:
        if rule:
            lines.append(f"| {title} | " + " | ".join(winner(agg[ds], key, rule) or "—" for ds in agg) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main


def load_config(path: Path) -> tuple[dict[str, Any], list[DatasetSpec]]:
    cfg = yaml.safe_load(path.read_text())
    specs = []
    for entry in cfg["datasets"]:
        entry = dict(entry)
        name, kind = entry.pop("name"), entry.pop("kind")
        ds_path = (path.parent / entry.pop("path")).resolve()
        max_items = entry.pop("max_items", None)
        seeds = entry.pop("seeds", None)
        specs.append(DatasetSpec(name, kind, ds_path, max_items, None if seeds is None else tuple(seeds), entry))
    return cfg, specs


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--seeds", help="comma-separated run seeds (overrides the config, per-dataset ones too)")
    ap.add_argument("--datasets", help="comma-separated dataset names of the config (default: all)")
    ap.add_argument("--generators", help="comma-separated generator names of the config (default: all)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()

    cfg, specs = load_config(args.config)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [int(s) for s in cfg["seeds"]]
    generators = args.generators.split(",") if args.generators else list(cfg["generators"])
    if args.datasets:
        wanted = args.datasets.split(",")
        specs = [s for s in specs if s.name in wanted]
    torch.set_num_threads(1)

    started = time.perf_counter()
    records: list[dict[str, Any]] = []
    with threadpool_limits(1):
        for spec in specs:
            own = list(spec.seeds) if spec.seeds is not None and not args.seeds else seeds
            records += run_dataset(spec, cfg, own, generators)
    agg = aggregate(records)
    table = markdown(agg, records)
    print("\n" + table)
    total = time.perf_counter() - started
    used = {ds: sorted({r["seed"] for r in records if r["dataset"] == ds}) for ds in agg}
    print(f"\nseeds per dataset: {used}; total {total / 60:.1f} min")
    for rec in records:
        if "error" in rec:
            print(f"\nFAILED {rec['dataset']} / {rec['generator']} / seed {rec['seed']}:\n{rec['traceback']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": str(args.config), "seeds": used, "generators": generators, "total_wall_s": total,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "machine": platform.machine(), "cpus": os.cpu_count()}
    args.out.write_text(json.dumps({"meta": meta, "config": cfg, "aggregate": agg, "records": records,
                                    "markdown": table}, indent=1, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
