"""Summaries of a run: mean ± std over seeds, paired differences to real-only, ceiling recovery, JSON.

Definitions (per model and metric, over the seeds):

- ``delta_vs_real`` = (mean arm − mean real-only) / mean real-only: the relative gain of an arm over
  real-only, from the means over seeds (a mean of per-seed ratios explodes when a seed's real-only
  score is near 0 on a small test set).
- ``ceiling_recovered`` = (arm − real-only) / (ceiling − real-only): the share of the gain that the raw
  source data gives which the arm recovers (undefined, reported as None, when the ceiling does not
  beat real-only in the mean).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import polars as pl

from synthrec import __version__
from synthrec.data.atomic import atomic_write_text
from synthrec.evaluation.metrics import headline_metrics, metric_ks  # re-exported: their old home
from synthrec.experiments.pipeline import RunResult

__all__ = [
    "GROUP_KEYS",
    "KEYS",
    "group_summary_frame",
    "headline_metrics",
    "metric_ks",
    "records_frame",
    "results_dict",
    "summary_frame",
    "write_json_atomic",
]

KEYS = ["arm", "strategy", "source", "ratio", "model", "metric"]
#: the keys of the per-item-group summary (runs with an external source's item map)
GROUP_KEYS = ["arm", "strategy", "source", "ratio", "model", "group", "metric"]


def records_frame(result: RunResult) -> pl.DataFrame:
    """One row per (seed, arm, model, metric) measurement."""
    return pl.DataFrame(result.records, schema_overrides={"ratio": pl.Float64})


def summary_frame(result: RunResult) -> pl.DataFrame:
    """Mean, std (ddof=1; 0 with one seed) and n over seeds, plus paired deltas vs real-only and ceiling.

    Columns: arm, strategy, source, ratio, model, metric, mean, std, n, delta_vs_real, ceiling_recovered
    (both null for the counts, metrics named ``n_...``). Row order follows the arms' order in the run.
    """
    return _summarise(records_frame(result), KEYS, ["seed", "model", "metric"])


def group_summary_frame(result: RunResult) -> pl.DataFrame:
    """`summary_frame` of the per-item-group records (`RunResult.group_records`: ``mapped-items``,
    ``target-only-items``), with ``group`` among the keys and ``n_users`` (mean users with a held-out target
    in the group); deltas and ceiling recovery within each group. Empty without an item map."""
    if not result.group_records:
        return pl.DataFrame()
    rec = pl.DataFrame(result.group_records, schema_overrides={"ratio": pl.Float64})
    users = rec.group_by(GROUP_KEYS, maintain_order=True).agg(pl.col("n_users").mean())
    out = _summarise(rec.drop("n_users"), GROUP_KEYS, ["seed", "model", "group", "metric"])
    return out.join(users, on=GROUP_KEYS, how="left", maintain_order="left", nulls_equal=True)


def _summarise(records: pl.DataFrame, keys: list[str], pair_on: list[str]) -> pl.DataFrame:
    rec = records.with_row_index("_order")
    base = rec.filter(pl.col("arm") == "real-only").select(*pair_on, pl.col("value").alias("_real"))
    ceil = rec.filter(pl.col("arm") == "ceiling").select(*pair_on, pl.col("value").alias("_ceil"))
    joined = rec.join(base, on=pair_on, how="left")
    joined = joined.join(ceil, on=pair_on, how="left")
    out = (
        joined.group_by(keys, maintain_order=True)
        .agg(
            pl.col("_order").min(),
            pl.col("value").mean().alias("mean"),
            pl.col("value").std(ddof=1).fill_null(0.0).alias("std"),
            pl.len().alias("n"),
            pl.col("_real").mean().alias("_real_mean"),
            pl.col("_ceil").mean().alias("_ceil_mean"),
        )
        .with_columns(  # counts (n_users_evaluated, n_targets_cold_item, ...) are not compared
            pl.when(pl.col("metric").str.starts_with("n_")).then(None).otherwise(pl.col("_real_mean"))
            .alias("_real_mean"))
        .with_columns(
            pl.when(pl.col("_real_mean") > 0)
            .then((pl.col("mean") - pl.col("_real_mean")) / pl.col("_real_mean"))
            .otherwise(None)
            .alias("delta_vs_real"),
            pl.when((pl.col("_ceil_mean") - pl.col("_real_mean")) > 0)
            .then((pl.col("mean") - pl.col("_real_mean")) / (pl.col("_ceil_mean") - pl.col("_real_mean")))
            .otherwise(None)
            .alias("ceiling_recovered")
        )
        .sort("_order")
        .drop("_order", "_real_mean", "_ceil_mean")
    )
    return out


def results_dict(result: RunResult) -> dict[str, Any]:
    """Everything of the run as plain JSON-able data (what ``results.json`` holds)."""
    summary = summary_frame(result)
    extra: dict[str, Any] = {}
    if result.external_source is not None:
        extra = {"external_source": result.external_source,
                 "group_summary": group_summary_frame(result).to_dicts(),
                 "group_records": result.group_records}
    return {
        "synthrec_version": __version__,
        "python": platform.python_version(),
        "config": json.loads(result.config.model_dump_json()),
        "data": result.data_summary,
        "seconds": round(result.seconds, 2),
        "seeds": result.seeds_info,
        "auto_choices": result.auto_choices,
        "summary": summary.to_dicts(),
        "records": result.records,
        **extra,
    }


def write_json_atomic(payload: dict[str, Any], path: Path) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it: never a half-written file."""
    atomic_write_text(path, json.dumps(payload, indent=2, default=str))
