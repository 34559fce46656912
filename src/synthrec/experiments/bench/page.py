"""The HTML page of a sweep: one self-contained file (figures embedded as base64 PNG, no scripts).

Sections per (dataset, split): learning curves (NDCG@10 against the fraction of real training users,
one line per strategy with its 95 % t-interval band, one panel per recommender), the win/loss table
against the best real-only model (paired Wilcoxon over seeds, Holm-adjusted), "worth N real users",
how ``auto`` chose, and the cold/warm-user and head/tail-item breakdowns. Definitions are those of
`synthrec.experiments.bench.stats` and `synthrec.experiments.bench.breakdowns`.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl

from synthrec.data.atomic import atomic_write_text
from synthrec.experiments.bench.breakdowns import GROUPS
from synthrec.experiments.bench.stats import PRIMARY, auto_report, summarise, versus_best_real, worth_table

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("synthrec.experiments.bench", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def learning_curve_figure(summary: pl.DataFrame, dataset: str, split: str) -> str | None:
    """Base64 PNG: one panel per recommender, NDCG@10 mean (line) and 95 % t-interval (band) against
    the fraction of real training users kept (log axis), one line per arm. None without user levels."""
    s = summary.filter((pl.col("dataset") == dataset) & (pl.col("split") == split) & (pl.col("metric") == PRIMARY)
                       & (pl.col("group") == "all") & (pl.col("level_kind") == "users"))
    if s.is_empty():
        return None
    recs = s["recommender"].unique(maintain_order=True).to_list()
    fig, axes = plt.subplots(1, len(recs), figsize=(5.2 * len(recs), 3.8), squeeze=False, sharey=True)
    for ax, rec in zip(axes[0], recs, strict=True):
        sub = s.filter(pl.col("recommender") == rec)
        for arm in sub["arm"].unique(maintain_order=True).to_list():
            a = sub.filter(pl.col("arm") == arm).sort("users_fraction")
            x = a["users_fraction"].to_numpy()
            style = {"color": "black", "linewidth": 2.2} if arm == "real-only" else {}
            line, = ax.plot(x, a["mean"].to_numpy(), marker="o", markersize=3, label=arm, **style)
            lo, hi = a["ci_low"].to_numpy(), a["ci_high"].to_numpy()
            ax.fill_between(x, lo, hi, alpha=0.12, color=line.get_color())
        ax.set_xscale("log")
        ax.set_title(rec)
        ax.set_xlabel("fraction of real training users kept")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"{PRIMARY} (mean, 95% CI over seeds)")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return _png(fig)


def _winloss(vs: pl.DataFrame, dataset: str, split: str) -> dict[str, Any]:
    if vs.is_empty():
        return {"levels": [], "rows": []}
    v = vs.filter((pl.col("dataset") == dataset) & (pl.col("split") == split))
    levels = v["level"].unique(maintain_order=True).to_list()
    rows = []
    for (arm, rec), sub in v.group_by(["arm", "recommender"], maintain_order=True):
        cells = []
        for lv in levels:
            r = sub.filter(pl.col("level") == lv)
            if r.is_empty():
                cells.append({"text": "", "cls": ""})
                continue
            x = r.row(0, named=True)
            mark = {"better": "▲", "worse": "▼"}.get(x["verdict"], "")
            cells.append({"text": f"{x['mean_diff']:+.4f} {mark} ({x['wins']}/{x['n']}, p={_fmt(x['p_holm'], 3)})",
                          "cls": {"better": "win", "worse": "loss"}.get(x["verdict"], "")})
        rows.append({"arm": arm, "recommender": rec, "cells": cells})
    baseline = {x["level"]: x["baseline"] for x in v.select("level", "baseline").unique().iter_rows(named=True)}
    return {"levels": [f"{lv} (vs {baseline.get(lv, '?')})" for lv in levels], "rows": rows}


def _breakdown(summary: pl.DataFrame, dataset: str, split: str) -> list[dict[str, Any]]:
    s = summary.filter((pl.col("dataset") == dataset) & (pl.col("split") == split) & (pl.col("metric") == PRIMARY))
    out = []
    for (level, arm, rec), sub in s.group_by(["level", "arm", "recommender"], maintain_order=True):
        vals = {g: sub.filter(pl.col("group") == g) for g in GROUPS}
        out.append({"level": level, "arm": arm, "recommender": rec,
                    "values": [_fmt(vals[g]["mean"][0]) + (f" ({int(vals[g]['n_users'][0])})" if g != "all" else "")
                               if vals[g].height else "–" for g in GROUPS]})
    return out


def render_page(table: pl.DataFrame, *, title: str, config_text: str = "") -> str:
    """The whole page as an HTML string, from the tidy table (`synthrec.experiments.bench.store`)."""
    summary = summarise(table)
    vs = versus_best_real(table)
    worth = worth_table(summary)
    _, auto = auto_report(table)
    status = table.select("cell_id", "status").unique()
    counts = {k: int(status.filter(pl.col("status").str.starts_with(k)).height) for k in ("ok", "skipped", "failed")}
    problems = (table.filter(pl.col("status") != "ok").group_by("status", "note").agg(pl.len().alias("cells"))
                .sort("cells", descending=True).to_dicts())
    sections = []
    for dataset, split in table.filter(pl.col("status") == "ok").select("dataset", "split").unique(maintain_order=True).iter_rows():
        w = worth.filter((pl.col("dataset") == dataset) & (pl.col("split") == split)) if not worth.is_empty() else worth
        a = auto.filter((pl.col("dataset") == dataset) & (pl.col("split") == split)) if not auto.is_empty() else auto
        sections.append({
            "dataset": dataset, "split": split,
            "curve": learning_curve_figure(summary, dataset, split),
            "winloss": _winloss(vs, dataset, split),
            "worth": [{**r, "mean": _fmt(r["mean"]), "n_train_users": _fmt(r["n_train_users"], 0),
                       "equivalent_users": _fmt(r["equivalent_users"], 0), "worth_users": _fmt(r["worth_users"], 0)}
                      for r in w.to_dicts()],
            "auto": [{**r, "share_chose_best": _fmt(r["share_chose_best"], 2), "mean_regret": _fmt(r["mean_regret"]),
                      "mean_diff_vs_real": _fmt(r["mean_diff_vs_real"]), "p_value": _fmt(r["p_value"], 3)}
                     for r in a.to_dicts()],
            "breakdown": _breakdown(summary, dataset, split),
        })
    n_seeds = int(table["seed"].n_unique()) if table.height else 0
    return _ENV.get_template("bench.html").render(
        title=title, counts=counts, problems=problems, sections=sections, groups=GROUPS, n_seeds=n_seeds,
        min_p=_fmt(min(1.0, 2.0 / 2.0 ** n_seeds), 4) if n_seeds else "–", config_text=config_text,
    )


def write_page(table: pl.DataFrame, path: str | Path, *, title: str, config_text: str = "") -> Path:
    """Render `render_page` to ``path`` atomically."""
    return atomic_write_text(Path(path), render_page(table, title=title, config_text=config_text))
