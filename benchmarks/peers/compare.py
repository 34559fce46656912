"""Peer benchmark (issue 6): fidelity and end-to-end cost of synthrec vs SDV and a naive sampler on ml-100k.

Runs in the project's own venv, after ``synthrec_side.py`` (project venv) and ``sdv_peers.py`` (peer
venv) have written ``<out>/<tool>/{sample.parquet|sample.csv, timings.json}``. It never imports SDV.

Fidelity: the first ``--rows`` rows (default 100,000, as many as ml-100k has) of each tool's sample are
mapped onto the REAL item catalogue, the way a user would: item ids that are floats are rounded to the
nearest integer; rows with a missing user or item, or an item id not in ml-100k's catalogue, are invalid
and dropped (their share is reported). User ids are taken as they come (a synthetic user id need not be
a real one). Then, with `synthrec.evaluation.fidelity` (real = the whole ml-100k log):

* popularity Gini of item degrees (real vs synthetic) and KS on item degrees (``popularity_ks``);
* KS on user activity (``activity_ks``);
* share of duplicate (user, item) rows = 1 − distinct pairs / valid rows (ml-100k has none);
* co-occurrence cosine correlation over the 500 most popular real items (`cooccurrence_fidelity`);
* rating TVD (`rating_fidelity`).

End-to-end cost of a 10-million-row synthetic table, per tool: fit + sample, in CPU seconds of the tool's
process (`time.process_time`; the machine is shared, so wall time is shown but not compared) and wall
seconds. Where a tool sampled fewer rows, its sampling time is extrapolated linearly to 10 M (marked
"extrap."); CTGAN's fit at 300 epochs is a projection from one measured epoch (marked "proj."). Ratios
are tool ÷ synthrec on CPU seconds; targets: GaussianCopula ≥ 20×, CTGAN (300 epochs) ≥ 10,000×.

Run from the project root:

    .venv/bin/python benchmarks/peers/compare.py [--out /tmp/synthrec-peers] [--rows 100000]

Prints markdown tables and writes ``<out>/compare.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthrec_side import DATA, DEFAULT_OUT, TARGET_ROWS, load_ml100k

from synthrec.data.interactions import InteractionData
from synthrec.evaluation.fidelity import fidelity_report

TOOLS = ("synthrec", "gaussian-copula", "ctgan", "naive-popularity")
LABELS = {"synthrec": "synthrec LatentFactorGenerator", "gaussian-copula": "SDV GaussianCopula",
          "ctgan": "SDV CTGAN", "naive-popularity": "naive popularity sampler", "real": "real ml-100k"}
TARGETS = {"gaussian-copula": 20.0, "ctgan": 10_000.0}


def read_sample(folder: Path) -> pl.DataFrame:
    parquet, csv = folder / "sample.parquet", folder / "sample.csv"
    if parquet.is_file():
        return pl.read_parquet(parquet)
    return pl.read_csv(csv, infer_schema_length=None)


def on_real_catalogue(frame: pl.DataFrame, real: InteractionData, name: str) -> tuple[InteractionData, int]:
    """Map a sample onto the real item catalogue; returns the log and the number of invalid rows dropped."""
    item = pl.col("item")
    if frame.schema["item"].is_float():
        item = item.round(0)
    mapped = frame.select(
        pl.col("user").cast(pl.String),
        item.cast(pl.Int64, strict=False).alias("item"),
        pl.col("rating").cast(pl.Float64, strict=False),
        pl.col("timestamp").cast(pl.Float64, strict=False).round(0).cast(pl.Int64),
    )
    vocab = real.item_ids.cast(pl.Int64)
    valid = mapped.filter(pl.col("user").is_not_null() & pl.col("item").is_in(vocab.implode()))
    data = InteractionData.from_frame(valid, rating_col="rating", time_col="timestamp",
                                      item_vocabulary=real.item_ids.cast(pl.Int64), name=name)
    return data, mapped.height - valid.height


def fidelity_row(real: InteractionData, frame: pl.DataFrame, name: str) -> dict[str, Any]:
    syn, invalid = on_real_catalogue(frame, real, name)
    rep = fidelity_report(real, syn)
    distinct = syn.interactions.select("user", "item").unique().height
    return {
        "rows": frame.height, "invalid_rows": invalid, "invalid_share": invalid / frame.height,
        "gini_real": rep["popularity_gini_real"], "gini": rep["popularity_gini_synthetic"],
        "item_degree_ks": rep["popularity_ks"], "activity_ks": rep["activity_ks"],
        "duplicate_share": 1.0 - distinct / syn.n_interactions,
        "cooccurrence_cosine_corr": rep["cooccurrence_cosine_corr"], "rating_tvd": rep["rating_tvd"],
        "synthetic_users": int(syn.n_users),
    }


def end_to_end(t: dict[str, Any], rows: int = TARGET_ROWS) -> dict[str, Any]:
    """Fit + sample ``rows`` rows, CPU and wall seconds; sampling extrapolated linearly if needed."""
    scale = rows / t["sample_rows"]
    return {
        "cpu_s": t["fit_cpu_s"] + t["sample_cpu_s"] * scale,
        "wall_s": t["fit_wall_s"] + t["sample_wall_s"] * scale,
        "sample_rows_per_cpu_s": t["sample_rows"] / t["sample_cpu_s"],
        "sample_rows_per_wall_s": t["sample_rows"] / t["sample_wall_s"],
        "sample_extrapolated": t["sample_rows"] < rows,
        "fit_projected": bool(t.get("fit_projected", False)),
    }


def _fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


def fidelity_table(rows: dict[str, dict[str, Any]]) -> str:
    gini_real = next(iter(rows.values()))["gini_real"] if rows else float("nan")
    head = (f"| tool | invalid rows | popularity Gini (real {gini_real:.3f}) | KS item degrees | KS user activity | "
            "duplicate (user, item) rows | co-occurrence cosine corr | rating TVD |\n"
            "|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {LABELS[k]} | {r['invalid_share']:.2%} | {_fmt(r['gini'])} | {_fmt(r['item_degree_ks'])} | "
        f"{_fmt(r['activity_ks'])} | {r['duplicate_share']:.2%} | {_fmt(r['cooccurrence_cosine_corr'])} | "
        f"{_fmt(r['rating_tvd'])} |\n" for k, r in rows.items())
    return head + body


def cost_table(costs: dict[str, dict[str, Any]], timings: dict[str, dict[str, Any]]) -> str:
    base = costs["synthrec"]["cpu_s"] if "synthrec" in costs else float("nan")
    head = ("| tool | fit CPU s | sampling rows / CPU s | fit + 10 M rows, CPU s | fit + 10 M rows, wall s | "
            "× synthrec (CPU) | target |\n|---|---|---|---|---|---|---|\n")
    lines = []
    for k, c in costs.items():
        marks = []
        if c["fit_projected"]:
            marks.append("fit proj. 300 epochs")
        if c["sample_extrapolated"]:
            marks.append(f"sampling extrap. from {timings[k]['sample_rows']:,} rows")
        note = f" ({'; '.join(marks)})" if marks else ""
        ratio = c["cpu_s"] / base
        target = TARGETS.get(k)
        verdict = "" if target is None else f"≥ {target:,.0f}×: {'met' if ratio >= target else 'NOT met'}"
        lines.append(f"| {LABELS[k]}{note} | {timings[k]['fit_cpu_s']:,.1f} | {c['sample_rows_per_cpu_s']:,.0f} | "
                     f"{c['cpu_s']:,.1f} | {c['wall_s']:,.1f} | {ratio:,.1f} | {verdict} |\n")
    return head + "".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--rows", type=int, default=100_000, help="rows of each sample used for fidelity")
    args = ap.parse_args()
    real = load_ml100k(args.data)
    present = [t for t in TOOLS if (args.out / t / "timings.json").is_file()]
    missing = sorted(set(TOOLS) - set(present))
    if missing:
        print(f"note: no results yet for {', '.join(missing)} in {args.out}", file=sys.stderr)
    timings = {t: json.loads((args.out / t / "timings.json").read_text()) for t in present}
    fidelity = {t: fidelity_row(real, read_sample(args.out / t).head(args.rows), t) for t in present}
    costs = {t: end_to_end(timings[t]) for t in present}
    print(f"Fidelity: first {args.rows:,} rows of each sample vs the real ml-100k log "
          f"({real.n_interactions:,} rows, {real.n_users} users, {real.n_items:,} items)\n")
    print(fidelity_table(fidelity))
    print(f"End-to-end: fit on ml-100k + sample {TARGET_ROWS:,} rows, one thread\n")
    print(cost_table(costs, timings))
    (args.out / "compare.json").write_text(json.dumps({"fidelity": fidelity, "cost": costs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
