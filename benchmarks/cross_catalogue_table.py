"""Tables of the cross-catalogue sweep (issue 16) from a `synthrec bench` results.csv.

    OPENBLAS_NUM_THREADS=1 synthrec bench benchmarks/configs/cross-catalogue.yaml --out runs/cross-catalogue --workers 2
    python benchmarks/cross_catalogue_table.py runs/cross-catalogue [--out docs/cross-catalogue-results]

For every (source, level, recommender) and arm: the mean over seeds of NDCG@10 and Recall@20 on all
held-out targets, on those whose item the map reaches (mapped-items) and on the others
(target-only-items), with the 95 % t-interval half-width over seeds for "all"; the share of the ceiling
recovered on "all" (mean arm − mean real-only) / (mean ceiling − mean real-only); and the paired t-test
p-value of the arm against real-only over seeds (NDCG@10, all). Writes `tables.md` (every arm and
recommender), `compact.md` (the arms the docs quote, EASE and ALS) and `arms.csv` (every figure) into
``--out`` and prints the compact tables.

Arms are named as the bench names them: ``augment x1 [source] item-walk``, ``augment x1
[source-dp(eps=4)] latent-factor``, ``auto [source] item-walk`` (auto chooses among real-only and that
generator's arms on validation), ``ceiling`` (target + the raw translated source), ``real-only``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats

GROUPS = ("all", "mapped-items", "target-only-items")
METRICS = ("NDCG@10", "Recall@20")


def _half_width(values: np.ndarray) -> float:
    if values.size < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))


def _paired_p(arm: np.ndarray, base: np.ndarray) -> float:
    d = arm - base
    if d.size < 2 or np.allclose(d, d[0]):
        return float("nan") if d.size < 2 else (1.0 if d[0] == 0 else 0.0)
    return float(stats.ttest_rel(arm, base).pvalue)


def arm_table(results: pl.DataFrame) -> pl.DataFrame:
    """One row per (dataset, level, recommender, arm) with every figure (see the module docstring)."""
    ok = results.filter((pl.col("status") == "ok") & pl.col("metric").is_in(METRICS) & pl.col("group").is_in(GROUPS))
    rows = []
    for (dataset, level, rec), part in ok.group_by(["dataset", "level", "recommender"], maintain_order=True):
        values = {(a, m, g, s): v for a, m, g, s, v in part.select("arm", "metric", "group", "seed", "value").iter_rows()}
        seeds = sorted(part["seed"].unique().to_list())
        arms = sorted(part["arm"].unique().to_list())

        def series(arm: str, metric: str, group: str, values: dict = values, seeds: list = seeds) -> np.ndarray:
            return np.array([values.get((arm, metric, group, s), np.nan) for s in seeds], dtype=float)

        base = series("real-only", "NDCG@10", "all")
        ceil = series("ceiling", "NDCG@10", "all")
        for arm in arms:
            row = {"dataset": dataset, "level": level, "recommender": rec, "arm": arm, "n_seeds": len(seeds)}
            for metric in METRICS:
                for group in GROUPS:
                    v = series(arm, metric, group)
                    row[f"{metric} {group}"] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
                row[f"{metric} all ±"] = _half_width(series(arm, metric, "all"))
            v = series(arm, "NDCG@10", "all")
            gap = float(np.nanmean(ceil) - np.nanmean(base))
            row["share of ceiling"] = (float(np.nanmean(v) - np.nanmean(base)) / gap) if gap > 0 else float("nan")
            row["p vs real-only"] = _paired_p(v, base) if arm != "real-only" else float("nan")
            rows.append(row)
    return pl.DataFrame(rows)


def _fmt(x: float, digits: int = 4) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


#: the arms of the compact tables the docs quote (the full tables hold every arm)
COMPACT_ARMS = (
    "real-only", "ceiling",
    "augment x1 [source] latent-factor", "augment x1 [source] item-walk",
    "augment x1 [source-fill] latent-factor", "augment x1 [source-fill] item-walk",
    "augment x1 [source-dp(eps=4)] latent-factor", "augment x1 [source-dp(eps=4)] item-walk",
    "auto [source] latent-factor", "auto [source] item-walk",
    "auto [source-fill] latent-factor", "auto [source-fill] item-walk",
    "auto [source-dp(eps=4)] item-walk", "auto [source-dp-fill(eps=4)] item-walk",
)


def markdown(table: pl.DataFrame, recommenders: tuple[str, ...] = ("ease", "als", "pop", "attribute-knn"),
             arms: tuple[str, ...] | None = None) -> str:
    """Markdown tables, one per dataset (source); ``arms`` keeps only those arms (in that order)."""
    out = []
    if arms is not None:
        order = {a: i for i, a in enumerate(arms)}
        table = table.filter(pl.col("arm").is_in(list(arms))).with_columns(
            pl.col("arm").replace_strict(order, return_dtype=pl.Int32).alias("_order"))
    else:
        table = table.with_columns(pl.lit(0).alias("_order"))
    rank = {r: i for i, r in enumerate(recommenders)}
    table = table.filter(pl.col("recommender").is_in(list(recommenders))).with_columns(
        pl.col("recommender").replace_strict(rank, return_dtype=pl.Int32).alias("_rec"))
    for (dataset,), part in table.group_by(["dataset"], maintain_order=True):
        out.append(f"### {dataset}\n")
        out.append("| level | model | arm | NDCG@10 all (± 95 %) | mapped | target-only | Recall@20 all | mapped | "
                   "target-only | share of ceiling | p vs real-only |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in part.sort(["level", "_rec", "_order", "arm"]).iter_rows(named=True):
            share = "–" if r["arm"] in ("real-only", "ceiling") else _fmt(r["share of ceiling"], 2)
            out.append(
                f"| {r['level']} | {r['recommender']} | {r['arm']} | {_fmt(r['NDCG@10 all'])} ± "
                f"{_fmt(r['NDCG@10 all ±'])} | {_fmt(r['NDCG@10 mapped-items'])} | "
                f"{_fmt(r['NDCG@10 target-only-items'])} | {_fmt(r['Recall@20 all'])} | "
                f"{_fmt(r['Recall@20 mapped-items'])} | {_fmt(r['Recall@20 target-only-items'])} | {share} | "
                f"{_fmt(r['p vs real-only'], 3)} |")
        out.append("")
    return "\n".join(out)


#: the headline table's columns: (label, arm)
HEADLINE_ARMS = (
    ("augment, latent-factor", "augment x1 [source] latent-factor"),
    ("augment, item-walk", "augment x1 [source] item-walk"),
    ("augment + fill, item-walk", "augment x1 [source-fill] item-walk"),
    ("augment, item-walk, ε = 4", "augment x1 [source-dp(eps=4)] item-walk"),
    ("auto [source-fill], item-walk", "auto [source-fill] item-walk"),
)


def headline(table: pl.DataFrame, recommenders: tuple[str, ...] = ("ease", "als")) -> str:
    """Per source: one row per (level, model): real-only and the ceiling (NDCG@10 on all / mapped /
    target-only targets), then the headline arms' NDCG@10 on all targets with the share of the ceiling
    recovered (or the paired p against real-only when the ceiling is not above real-only)."""
    out = []
    index = {(r["dataset"], r["level"], r["recommender"], r["arm"]): r for r in table.iter_rows(named=True)}
    for dataset in table["dataset"].unique(maintain_order=True).to_list():
        out.append(f"**{dataset}** — NDCG@10; ceiling and real-only as all / mapped / target-only; arms as all "
                   "(share of the ceiling's gain; * = paired p < 0.05 against real-only)\n")
        out.append("| level | model | real-only | ceiling | " + " | ".join(lab for lab, _ in HEADLINE_ARMS) + " |")
        out.append("|---|---|---|---|" + "---|" * len(HEADLINE_ARMS))
        levels = sorted({k[1] for k in index if k[0] == dataset}, key=lambda x: float(x.split("=")[1]))
        for level in levels:
            for rec in recommenders:
                base = index.get((dataset, level, rec, "real-only"))
                ceil = index.get((dataset, level, rec, "ceiling"))
                if base is None or ceil is None:
                    continue

                def split(r: dict) -> str:
                    return "/".join(_fmt(r[f"NDCG@10 {g}"]) for g in GROUPS)

                cells = []
                for _, arm in HEADLINE_ARMS:
                    r = index.get((dataset, level, rec, arm))
                    if r is None:
                        cells.append("–")
                        continue
                    star = "*" if math.isfinite(r["p vs real-only"]) and r["p vs real-only"] < 0.05 else ""
                    share = r["share of ceiling"]
                    extra = f"{share:+.2f}" if math.isfinite(share) else "ceiling ≤ real-only"
                    cells.append(f"{_fmt(r['NDCG@10 all'])}{star} ({extra})")
                out.append(f"| {level.split('=')[1]} | {rec} | {split(base)} | {split(ceil)} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the bench's --out folder (holds results.csv)")
    parser.add_argument("--out", type=Path, default=None, help="where to write tables.md and arms.csv")
    args = parser.parse_args()
    results = pl.read_csv(args.run / "results.csv", infer_schema_length=None)
    table = arm_table(results)
    text = markdown(table)
    compact = headline(table) + "\n" + markdown(table, recommenders=("ease", "als"), arms=COMPACT_ARMS)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        table.write_csv(args.out / "arms.csv")
        (args.out / "tables.md").write_text(text + "\n", encoding="utf-8")
        (args.out / "compact.md").write_text(compact + "\n", encoding="utf-8")
    print(compact)


if __name__ == "__main__":
    main()
