"""The HTML page of a sweep: one self-contained file (figures embedded as base64 PNG, no scripts).

Sections per (dataset, split): which test drives the verdicts and how many seeds there are; learning
curves (NDCG@10 against the fraction of real training users, one panel per source and recommender with
real-only and ceiling in each, a 95 % t-interval band where there are ≥ 3 seeds; every arm has its own
(colour, line style, marker), the same in every panel and section, see `arm_styles`; history-cap levels
are in the tables only), the win/loss table against the best real-only model (paired t-test
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
import numpy as np
import polars as pl

from synthrec.data.atomic import atomic_write_text
from synthrec.experiments.auto import PRIMARY_METRIC
from synthrec.experiments.bench.breakdowns import ALL_GROUPS, GROUPS
from synthrec.experiments.bench.stats import ALPHA, auto_report, summarise, versus_best_real, worth_table

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
    return summary.filter((pl.col("metric") == PRIMARY_METRIC) & (pl.col("group") == "all") & (pl.col("level_kind") == "users"))


#: fewest seeds for a learning-curve band: with 2 the t-interval (t_{0.975,1} = 12.7) spans the plot
MIN_BAND_SEEDS = 3


_REFERENCE_STRATEGIES = ("real-only", "ceiling")


def _curve_sources(s: pl.DataFrame) -> list[str]:
    """The sources of the synthetic-data arms of the curve rows, in order of appearance."""
    synth = s.filter(~pl.col("strategy").is_in(_REFERENCE_STRATEGIES))
    return [x for x in synth["source"].unique(maintain_order=True).to_list() if x is not None]


def learning_curve_plot(summary: pl.DataFrame, dataset: str, split: str,
                        styles: dict[str, dict[str, Any]] | None = None) -> plt.Figure | None:
    """The figure of `learning_curve_figure` (the caller closes it). ``styles``: `arm_styles` of the
    page; by default that of every user-level arm in ``summary`` (all datasets and splits).

    One row of panels per source (``self``, ``source``, ``source-dp(eps=…)``, ...; one row when there
    is none), one column per recommender; real-only and ceiling are drawn in every panel, the other arms
    in their source's row, so a panel holds a handful of lines, not every arm. Bands (95 % t-interval)
    only at points with at least `MIN_BAND_SEEDS` seeds, clipped at 0 (NDCG is never negative)."""
    curves = _curve_rows(summary)
    s = curves.filter((pl.col("dataset") == dataset) & (pl.col("split") == split))
    if s.is_empty():
        return None
    if styles is None:
        styles = arm_styles(curves["arm"].unique().to_list())
    recs = s["recommender"].unique(maintain_order=True).to_list()
    sources: list[str | None] = list(_curve_sources(s)) or [None]
    fig, axes = plt.subplots(len(sources), len(recs), figsize=(4.8 * len(recs) + 2.6, 3.3 * len(sources)),
                             squeeze=False, sharey=True, sharex=True)
    for row, src in enumerate(sources):
        handles: dict[str, Any] = {}
        for ax, rec in zip(axes[row], recs, strict=True):
            sub = s.filter((pl.col("recommender") == rec)
                           & (pl.col("strategy").is_in(_REFERENCE_STRATEGIES) | (pl.col("source") == src)))
            for arm in sub["arm"].unique(maintain_order=True).to_list():
                a = sub.filter(pl.col("arm") == arm).sort("users_fraction")
                x = a["users_fraction"].to_numpy()
                style = styles.get(arm) or arm_styles([arm])[arm]
                line, = ax.plot(x, a["mean"].to_numpy(), markersize=3.5, label=arm, **style)
                handles.setdefault(arm, line)
                enough = a["n"].to_numpy() >= MIN_BAND_SEEDS
                if enough.any():
                    lo = np.where(enough, np.maximum(a["ci_low"].fill_null(np.nan).to_numpy(), 0.0), np.nan)
                    hi = np.where(enough, a["ci_high"].fill_null(np.nan).to_numpy(), np.nan)
                    ax.fill_between(x, lo, hi, alpha=0.10, color=style["color"], linewidth=0)
            ax.set_xscale("log")
            ax.set_title(rec if src is None else f"{rec} — source: {src}", fontsize=9)
            if row == len(sources) - 1:
                ax.set_xlabel("fraction of real training users kept")
            ax.grid(alpha=0.3)
        axes[row][0].set_ylabel(f"{PRIMARY_METRIC}\n(mean, 95% CI)")
        order = ([a for a in ("real-only", "ceiling") if a in handles]
                 + sorted(a for a in handles if a not in REFERENCE_STYLES))
        axes[row][-1].legend([handles[a] for a in order], order, fontsize=7, loc="center left",
                             bbox_to_anchor=(1.02, 0.5), ncol=2 if len(order) > 14 else 1, handlelength=3.2)
    axes[0][0].set_ylim(bottom=0)
    return fig


def learning_curve_figure(summary: pl.DataFrame, dataset: str, split: str,
                          styles: dict[str, dict[str, Any]] | None = None) -> str | None:
    """Base64 PNG: one panel per (source, recommender), NDCG@10 mean (line) and 95 % t-interval (band,
    where n ≥ `MIN_BAND_SEEDS`) against the fraction of real training users kept (log axis), one line
    per arm styled by `arm_styles` (``styles``; default: built from every user-level arm of
    ``summary``), real-only and ceiling in every panel (`learning_curve_plot`). History-cap levels are
    not on the curves (they keep every user). None without user levels."""
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


def shown_groups(table: pl.DataFrame) -> tuple[str, ...]:
    """The breakdown columns of the page: `GROUPS`, plus the item-map groups when a dataset has them."""
    present = set(table["group"].drop_nulls().unique().to_list()) if "group" in table.columns else set()
    return tuple(g for g in ALL_GROUPS if g in GROUPS or g in present)


def _breakdown(summary: pl.DataFrame, dataset: str, split: str, groups: tuple[str, ...] = GROUPS
               ) -> list[dict[str, Any]]:
    s = summary.filter((pl.col("dataset") == dataset) & (pl.col("split") == split) & (pl.col("metric") == PRIMARY_METRIC))
    out = []
    for (level, arm, rec), sub in s.group_by(["level", "arm", "recommender"], maintain_order=True):
        vals = {g: sub.filter(pl.col("group") == g) for g in groups}
        out.append({"level": level, "arm": arm, "recommender": rec,
                    "values": [_fmt(vals[g]["mean"][0]) + (f" ({int(vals[g]['n_users'][0])})" if g != "all" else "")
                               if vals[g].height else "–" for g in groups]})
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
    groups = shown_groups(table)
    sections = []
    for dataset, split in table.filter(pl.col("status") == "ok").select("dataset", "split").unique(maintain_order=True).iter_rows():
        w = worth.filter((pl.col("dataset") == dataset) & (pl.col("split") == split)) if not worth.is_empty() else worth
        a = auto.filter((pl.col("dataset") == dataset) & (pl.col("split") == split)) if not auto.is_empty() else auto
        sections.append({
            "dataset": dataset, "split": split,
            "tests": _tests_note(table, vs, dataset, split),
            "curve": learning_curve_figure(summary, dataset, split, styles),
            "cap_levels": table.filter((pl.col("dataset") == dataset) & (pl.col("split") == split)
                                       & (pl.col("level_kind") == "cap"))["level"].unique(maintain_order=True).to_list(),
            "winloss": _winloss(vs, dataset, split),
            "worth": [_worth_row(r) for r in (w.sort("recommender", "arm", "n_train_users", maintain_order=True)
                                              if not w.is_empty() else w).to_dicts()],
            "auto": [{**r, "share_chose_best": _fmt(r["share_chose_best"], 2), "mean_regret": _fmt(r["mean_regret"]),
                      "mean_diff_vs_real": _fmt(r["mean_diff_vs_real"]), "p_value": _fmt_p(r["p_value"]),
                      "p_t": "undefined" if r.get("note") else _fmt_p(r.get("p_t"))}
                     for r in a.to_dicts()],
            "breakdown": _breakdown(summary, dataset, split, groups),
        })
    n_seeds = int(table["seed"].n_unique()) if table.height else 0
    return _ENV.get_template("bench.html").render(
        title=title, counts=counts, problems=problems, sections=sections, groups=groups, n_seeds=n_seeds,
        min_band_seeds=MIN_BAND_SEEDS,
        min_p=_fmt(min(1.0, 2.0 / 2.0 ** n_seeds), 4) if n_seeds else "–", config_text=config_text,
    )


def write_page(table: pl.DataFrame, path: str | Path, *, title: str, config_text: str = "") -> Path:
    """Render `render_page` to ``path`` atomically."""
    return atomic_write_text(Path(path), render_page(table, title=title, config_text=config_text))
