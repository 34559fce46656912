"""The HTML page of a sweep: one self-contained file (figures embedded as base64 PNG, no scripts).

Sections per (dataset, split): which test drives the verdicts and how many seeds there are; learning
curves (NDCG@10 against the fraction of real training users, one line per arm with its 95 % t-interval
band, one panel per recommender; every arm has its own (colour, line style, marker), the same in every
panel and section, see `arm_styles`), the win/loss table against the best real-only model (paired t-test
over seeds, Holm-adjusted, with the exact Wilcoxon p alongside), "worth N real users" (with its bound:
exact, at most, more than), how ``auto`` chose, and the cold/warm-user and head/tail-item breakdowns.
Definitions are those of `synthrec.experiments.bench.stats` and `synthrec.experiments.bench.breakdowns`.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl

from synthrec.data.atomic import atomic_write_text
from synthrec.experiments.bench.breakdowns import GROUPS
from synthrec.experiments.bench.stats import (
    ALPHA,
    PRIMARY,
    auto_report,
    summarise,
    versus_best_real,
    worth_table,
)

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("synthrec.experiments.bench", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _fmt_p(p: Any) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


#: tab20 without its two greys (kept for the ceiling), saturated hues first, then their light variants
ARM_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
               "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5")
ARM_LINESTYLES = ("-", "--", "-.", ":")
ARM_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: styles of the two reference arms
REFERENCE_STYLES: dict[str, dict[str, Any]] = {
    "real-only": {"color": "black", "linestyle": "-", "marker": "o", "linewidth": 2.4, "zorder": 4},
    "ceiling": {"color": "#7f7f7f", "linestyle": "--", "marker": "o", "linewidth": 1.8, "zorder": 3},
}


def arm_styles(arms: Iterable[str]) -> dict[str, dict[str, Any]]:
    """A matplotlib style (color, linestyle, marker, linewidth) for every arm name in ``arms``.

    real-only is thick solid black and ceiling dashed grey (`REFERENCE_STYLES`). The other arms, sorted
    by name (so the result depends only on the *set* of names, not their order), take style ``i`` =
    (colour ``i mod 18``, line style ``i mod 4``, marker ``i mod 7``) from `ARM_COLOURS`,
    `ARM_LINESTYLES` and `ARM_MARKERS`: consecutive arms differ in all three, the first 18 in colour,
    and by the Chinese remainder theorem the first lcm(18, 4, 7) = 252 arms get distinct tuples (more
    arms repeat styles). Build it once per page so that an arm looks the same in every panel.
    """
    names = set(arms)
    out = {a: dict(REFERENCE_STYLES[a]) for a in names if a in REFERENCE_STYLES}
    others = sorted(names - set(REFERENCE_STYLES))
    for i, arm in enumerate(others):
        out[arm] = {"color": ARM_COLOURS[i % len(ARM_COLOURS)], "linestyle": ARM_LINESTYLES[i % len(ARM_LINESTYLES)],
                    "marker": ARM_MARKERS[i % len(ARM_MARKERS)], "linewidth": 1.3}
    return out


def _curve_rows(summary: pl.DataFrame) -> pl.DataFrame:
    return summary.filter((pl.col("metric") == PRIMARY) & (pl.col("group") == "all") & (pl.col("level_kind") == "users"))


def learning_curve_plot(summary: pl.DataFrame, dataset: str, split: str,
                        styles: dict[str, dict[str, Any]] | None = None) -> plt.Figure | None:
    """The figure of `learning_curve_figure` (the caller closes it). ``styles``: `arm_styles` of the
    page; by default that of every user-level arm in ``summary`` (all datasets and splits)."""
    curves = _curve_rows(summary)
    s = curves.filter((pl.col("dataset") == dataset) & (pl.col("split") == split))
    if s.is_empty():
        return None
    if styles is None:
        styles = arm_styles(curves["arm"].unique().to_list())
    recs = s["recommender"].unique(maintain_order=True).to_list()
    fig, axes = plt.subplots(1, len(recs), figsize=(5.2 * len(recs), 3.8), squeeze=False, sharey=True)
    handles: dict[str, Any] = {}
    for ax, rec in zip(axes[0], recs, strict=True):
        sub = s.filter(pl.col("recommender") == rec)
        for arm in sub["arm"].unique(maintain_order=True).to_list():
            a = sub.filter(pl.col("arm") == arm).sort("users_fraction")
            x = a["users_fraction"].to_numpy()
            style = styles.get(arm) or arm_styles([arm])[arm]
            line, = ax.plot(x, a["mean"].to_numpy(), markersize=3.5, label=arm, **style)
            handles.setdefault(arm, line)
            lo, hi = a["ci_low"].to_numpy(), a["ci_high"].to_numpy()
            ax.fill_between(x, lo, hi, alpha=0.10, color=style["color"], linewidth=0)
        ax.set_xscale("log")
        ax.set_title(rec)
        ax.set_xlabel("fraction of real training users kept")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"{PRIMARY} (mean, 95% CI over seeds)")
    order = [a for a in ("real-only", "ceiling") if a in handles] + sorted(a for a in handles if a not in REFERENCE_STYLES)
    axes[0][-1].legend([handles[a] for a in order], order, fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5),
                       ncol=2 if len(order) > 22 else 1, handlelength=3.2)
    return fig


def learning_curve_figure(summary: pl.DataFrame, dataset: str, split: str,
                          styles: dict[str, dict[str, Any]] | None = None) -> str | None:
    """Base64 PNG: one panel per recommender, NDCG@10 mean (line) and 95 % t-interval (band) against
    the fraction of real training users kept (log axis), one line per arm styled by `arm_styles`
    (``styles``; default: built from every user-level arm of ``summary``). None without user levels."""
    fig = learning_curve_plot(summary, dataset, split, styles)
    return None if fig is None else _png(fig)


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
            cells.append({"text": f"{x['mean_diff']:+.4f} {mark}", "wins": f"{x['wins']}/{x['n']}",
                          "p_t": "undefined" if x.get("note") else _fmt_p(x["p_t_holm"]), "p_w": _fmt_p(x["p_holm"]),
                          "cls": {"better": "win", "worse": "loss"}.get(x["verdict"], ""), "title": x.get("note") or ""})
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


def _tests_note(table: pl.DataFrame, vs: pl.DataFrame, dataset: str, split: str) -> dict[str, Any]:
    """Seeds, pairs per comparison, family sizes and attainable Wilcoxon p of one (dataset, split)."""
    ok = table.filter((pl.col("status") == "ok") & (pl.col("dataset") == dataset) & (pl.col("split") == split))
    n_seeds = int(ok["seed"].n_unique())
    v = vs.filter((pl.col("dataset") == dataset) & (pl.col("split") == split)) if not vs.is_empty() else vs
    if v.is_empty():
        return {"n_seeds": n_seeds, "pairs": "–", "family": 0, "alpha": ALPHA, "wilcoxon_floor": "–",
                "wilcoxon_floor_holm": "–"}
    n_min, n_max = int(v["n"].min()), int(v["n"].max())  # type: ignore[arg-type]
    family = int(v.group_by("level").len()["len"].max())  # type: ignore[arg-type]
    floor = min(1.0, 2.0 / 2.0 ** n_max)
    return {"n_seeds": n_seeds, "pairs": str(n_max) if n_min == n_max else f"{n_min}–{n_max}", "family": family,
            "alpha": ALPHA,
            "wilcoxon_floor": _fmt(floor, 4), "wilcoxon_floor_holm": _fmt(min(1.0, floor * family), 4)}


def _worth_row(r: dict[str, Any]) -> dict[str, Any]:
    """Page cells of one `worth_table` row: the bound goes next to the numbers (≤ at most, > more than)."""
    sign = {"at most": "≤ ", "more than": "> "}.get(r.get("bound") or "", "")
    if r["status"] == "above-curve":
        eq = f"> {_fmt(r['worth_bound'] + r['n_train_users'], 0)}" if r.get("worth_bound") is not None else "–"
    else:
        eq = sign + _fmt(r["equivalent_users"], 0)
    wb = r.get("worth_bound")
    rounded = None if wb is None or math.isnan(wb) else round(wb)
    worth = "–" if rounded is None else sign + (f"{rounded:+d}" if rounded else "0")
    negative = rounded is not None and rounded < 0 and r["status"] != "above-curve"
    return {**r, "mean": _fmt(r["mean"]), "n_train_users": _fmt(r["n_train_users"], 0),
            "equivalent_users": eq, "worth_users": worth, "cls": "loss" if negative else ""}


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
    styles = arm_styles(_curve_rows(summary)["arm"].unique().to_list())
    sections = []
    for dataset, split in table.filter(pl.col("status") == "ok").select("dataset", "split").unique(maintain_order=True).iter_rows():
        w = worth.filter((pl.col("dataset") == dataset) & (pl.col("split") == split)) if not worth.is_empty() else worth
        a = auto.filter((pl.col("dataset") == dataset) & (pl.col("split") == split)) if not auto.is_empty() else auto
        sections.append({
            "dataset": dataset, "split": split,
            "tests": _tests_note(table, vs, dataset, split),
            "curve": learning_curve_figure(summary, dataset, split, styles),
            "winloss": _winloss(vs, dataset, split),
            "worth": [_worth_row(r) for r in (w.sort("recommender", "arm", "n_train_users", maintain_order=True)
                                              if not w.is_empty() else w).to_dicts()],
            "auto": [{**r, "share_chose_best": _fmt(r["share_chose_best"], 2), "mean_regret": _fmt(r["mean_regret"]),
                      "mean_diff_vs_real": _fmt(r["mean_diff_vs_real"]), "p_value": _fmt_p(r["p_value"]),
                      "p_t": "undefined" if r.get("note") else _fmt_p(r.get("p_t"))}
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
