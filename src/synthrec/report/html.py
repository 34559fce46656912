"""`report.html` of `synthrec run` / `synthrec demo`: one self-contained file, figures embedded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import polars as pl

from synthrec.data.atomic import atomic_write_text
from synthrec.evaluation.metrics import headline_metrics, metric_ks
from synthrec.report.figures import arm_bars
from synthrec.report.first_screen import LINE_PREFIXES, ceiling_share_text, first_screen
from synthrec.report.run_quality import QUALITY_ROWS, format_figure, quality_cards, quality_table

__all__ = ["QUALITY_ROWS", "quality_cards", "quality_table", "report_metrics", "write_run_report"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("synthrec.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def report_metrics(metrics: list[str]) -> list[str]:
    """The metrics of the report's Results table, headline NDCG first: `headline_metrics` of the
    measured cut-offs (NDCG@10 or the smallest k, Recall@20 or the largest k) plus Recall at the NDCG's
    k, those of ``metrics`` that exist. Empty when no NDCG was measured."""
    ks = metric_ks(metrics)
    if not ks:
        return []
    ndcg, recall = headline_metrics(ks)
    wanted = [ndcg, recall, f"Recall@{ndcg.partition('@')[2]}"]
    return [m for m in dict.fromkeys(wanted) if m in metrics]


def _recovered(row: dict[str, Any]) -> str:
    """The ceiling-recovered cell: a share, or "below real-only" for an arm below real-only (a negative
    share would read as "recovers −115 %")."""
    if row["arm"] in ("real-only", "ceiling"):
        return "–"
    return ceiling_share_text(row["ceiling_recovered"])


def item_group_table(results: dict[str, Any], metrics: list[str]) -> list[dict[str, Any]]:
    """Rows of the report's per-item-group table (runs with an external source's item map): per (model,
    arm, metric of ``metrics``) the mean ± std over seeds on the held-out targets whose item is mapped and
    on the others, with the mean number of users holding such a target. Empty without ``group_summary``."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in results.get("group_summary") or []:
        if r["metric"] not in metrics:
            continue
        row = rows.setdefault((r["model"], r["arm"], r["metric"]),
                              {"model": r["model"], "arm": r["arm"], "metric": r["metric"]})
        row[r["group"]] = (f"{format_figure(r['mean'])} ± {format_figure(r['std'])} "
                           f"({round(r['n_users']) if r.get('n_users') is not None else '?'} users)")
    return list(rows.values())


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
        {**r, "mean_s": format_figure(r["mean"]), "std_s": format_figure(r["std"]),
         "delta_s": "–" if r["delta_vs_real"] is None else f"{100 * r['delta_vs_real']:+.1f}%",
         "ceil_s": _recovered(r)}
        for r in summary.filter(pl.col("metric").is_in(shown or metrics)).iter_rows(named=True)
    ]
    html = _ENV.get_template("report.html").render(
        results=results, table=table, fs=first_screen(results), primary=primary,
        verdicts=[v for v in verdicts if not v.startswith(LINE_PREFIXES)],
        figure=arm_bars(summary, primary), quality=quality_table(results), cards=quality_cards(results),
        quality_sources=sorted({k for s in results.get("seeds", []) for k in s.get("synthetic_quality", {})}),
        item_groups=item_group_table(results, shown or metrics), external=results.get("external_source"),
    )
    atomic_write_text(path, html)
