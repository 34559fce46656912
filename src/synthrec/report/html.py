"""`report.html` of `synthrec run` / `synthrec demo`: one self-contained file, figures embedded."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jinja2
import polars as pl

from synthrec.data.atomic import atomic_write_text
from synthrec.evaluation.cards import fidelity_cards, optional_cards, privacy_cards
from synthrec.report.figures import arm_bars

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("synthrec.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None or x != x:  # None or NaN
        return "–"
    return f"{x:.{digits}f}"


#: (key, label) of the synthetic-data quality figures shown in the report; all are in results.json.
QUALITY_ROWS = (
    ("popularity_gini_real", "item-popularity Gini, real"),
    ("popularity_gini_synthetic", "item-popularity Gini, synthetic"),
    ("popularity_ks", "KS on item degrees"),
    ("activity_ks", "KS on user activity"),
    ("long_tail_coverage", "long-tail items covered"),
    ("cooccurrence_cosine_corr", "item-item cosine correlation"),
    ("rating_tvd", "rating histogram TVD"),
    ("popularity_head_share_ratio", "head-item share, synthetic / real"),
    ("mia_auc", "membership-inference AUC (0.5 = no leak)"),
    ("dcr_share_closer_to_train", "synthetic users closer to train than holdout"),
    ("dcr_share_baseline", "… expected without memorisation"),
    ("exact_copy_share", "exact copies of a training user"),
)


def _quality_values(results: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """source -> figure -> the non-missing values over seeds."""
    per_source: dict[str, dict[str, list[float]]] = {}
    for seed in results.get("seeds", []):
        for src, figures in seed.get("synthetic_quality", {}).items():
            for key, value in figures.items():
                if value is not None:
                    per_source.setdefault(src, {}).setdefault(key, []).append(float(value))
    return per_source


def quality_cards(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Pass/warn/fail cards (`synthrec.evaluation.cards`) per source, judged on the mean over seeds of
    each figure: fidelity, privacy, popularity bias (the ``popularity_*`` ratios of `synthetic_quality`)
    and, when the generator reports its privacy (``dp`` key), the DP card. Sources without a privacy audit
    (no real users outside the generator's training data) get not-applicable privacy cards."""
    out: dict[str, list[dict[str, Any]]] = {}
    for src, values in _quality_values(results).items():
        mean = {k: sum(v) / len(v) for k, v in values.items() if v}
        privacy = mean if "mia_auc" in mean else None
        summaries: dict[str, dict[str, float]] = {}
        if "popularity_head_share_ratio" in mean:
            summaries["popularity_bias"] = {k: v for k, v in mean.items() if k.startswith("popularity_")}
        if "dp" in mean:  # not DP (dp = 0) has no dp_epsilon: ε = ∞
            eps = mean.get("dp_epsilon") if mean["dp"] == 1.0 else None
            summaries["dp"] = {"epsilon": math.inf if eps is None else eps, "delta": mean.get("dp_delta", 0.0)}
        cards = fidelity_cards(mean) + privacy_cards(
            privacy, reason="no real users outside the generator's training data in this run") + optional_cards(summaries)
        out[src] = [{**c.to_dict(), "value_s": _fmt(c.value, 3)} for c in cards]
    return out


def quality_table(results: dict[str, Any]) -> list[dict[str, str]]:
    """Mean over seeds of each quality figure, one column per source (``self``, ``source``)."""
    per_source = _quality_values(results)
    rows = []
    for key, label in QUALITY_ROWS:
        cells = {src: _fmt(sum(v[key]) / len(v[key]), 3) if v.get(key) else "–" for src, v in per_source.items()}
        if any(c != "–" for c in cells.values()):
            rows.append({"label": label, **cells})
    return rows


def report_metrics(metrics: list[str]) -> list[str]:
    """The metrics of the report's Results table, headline NDCG first: `headline_metrics` of the
    measured cut-offs (NDCG@10 or the smallest k, Recall@20 or the largest k) plus Recall at the NDCG's
    k, those of ``metrics`` that exist. Empty when no NDCG was measured."""
    from synthrec.experiments.results import headline_metrics, metric_ks

    ks = metric_ks(metrics)
    if not ks:
        return []
    ndcg, recall = headline_metrics(ks)
    wanted = [ndcg, recall, f"Recall@{ndcg.partition('@')[2]}"]
    return [m for m in dict.fromkeys(wanted) if m in metrics]


def _recovered(row: dict[str, Any]) -> str:
    """The ceiling-recovered cell: a share, or "below real-only" for an arm below real-only (a negative
    share would read as "recovers −115 %")."""
    from synthrec.report.first_screen import ceiling_share_text

    if row["arm"] in ("real-only", "ceiling"):
        return "–"
    return ceiling_share_text(row["ceiling_recovered"])


def write_run_report(results: dict[str, Any], summary: pl.DataFrame, verdicts: list[str], path: Path) -> None:
    """Render the run report to ``path`` (written to a temporary file, then renamed).

    Args:
        results: the ``results.json`` payload (`synthrec.experiments.results.results_dict`).
        summary: `synthrec.experiments.results.summary_frame` of the run.
        verdicts: plain-language findings (`synthrec.experiments.findings.verdicts`); the first-screen
            lines among them are not repeated in the details, since the page opens with
            `synthrec.report.first_screen.first_screen` of ``results`` (the same lines, laid out).
    """
    metrics = summary["metric"].unique(maintain_order=True).to_list()
    shown = report_metrics(metrics)
    primary = shown[0] if shown else metrics[0]
    table = [
        {**r, "mean_s": _fmt(r["mean"]), "std_s": _fmt(r["std"]),
         "delta_s": "–" if r["delta_vs_real"] is None else f"{100 * r['delta_vs_real']:+.1f}%",
         "ceil_s": _recovered(r)}
        for r in summary.filter(pl.col("metric").is_in(shown or metrics)).iter_rows(named=True)
    ]
    from synthrec.report.first_screen import LINE_PREFIXES, first_screen

    html = _ENV.get_template("report.html").render(
        results=results, table=table, fs=first_screen(results), primary=primary,
        verdicts=[v for v in verdicts if not v.startswith(LINE_PREFIXES)],
        figure=arm_bars(summary, primary), quality=quality_table(results), cards=quality_cards(results),
        quality_sources=sorted({k for s in results.get("seeds", []) for k in s.get("synthetic_quality", {})}),
    )
    atomic_write_text(path, html)
