"""`report.html` of `synthrec run` / `synthrec demo`: one self-contained file, figures embedded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import polars as pl

from synthrec.data.atomic import atomic_write_text
from synthrec.report.figures import arm_bars

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("synthrec.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    return f"{x:.{digits}f}"


def write_run_report(results: dict[str, Any], summary: pl.DataFrame, verdicts: list[str], path: Path) -> None:
    """Render the run report to ``path`` (written to a temporary file, then renamed).

    Args:
        results: the ``results.json`` payload (`synthrec.experiments.results.results_dict`).
        summary: `synthrec.experiments.results.summary_frame` of the run.
        verdicts: plain-language findings (`synthrec.experiments.findings.verdicts`).
    """
    metrics = summary["metric"].unique(maintain_order=True).to_list()
    primary = "NDCG@10" if "NDCG@10" in metrics else metrics[0]
    table = [
        {**r, "mean_s": _fmt(r["mean"]), "std_s": _fmt(r["std"]),
         "delta_s": "–" if r["delta_vs_real"] is None else f"{100 * r['delta_vs_real']:+.1f}%",
         "ceil_s": "–" if r["ceiling_recovered"] is None else f"{100 * r['ceiling_recovered']:.0f}%"}
        for r in summary.filter(pl.col("metric").is_in(["NDCG@10", "Recall@20", "Recall@10"])).iter_rows(named=True)
    ]
    html = _ENV.get_template("report.html").render(
        results=results, table=table, verdicts=verdicts, primary=primary,
        figure=arm_bars(summary, primary),
    )
    atomic_write_text(path, html)
