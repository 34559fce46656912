"""The synthetic-data quality of a run, from its ``results.json`` payload: the pass/warn/fail cards and the
table of quality figures per source.

Shared by the run report (`synthrec.report.html`) and its first screen (`synthrec.report.first_screen`,
which lists the failed audits); it imports neither, so the two do not import each other in a circle.
"""

from __future__ import annotations

import math
from typing import Any

from synthrec.evaluation.cards import fidelity_cards, optional_cards, privacy_cards

__all__ = ["QUALITY_ROWS", "format_figure", "quality_cards", "quality_table"]


def format_figure(x: Any, digits: int = 4) -> str:
    """``x`` with ``digits`` decimals; ``"–"`` for None or NaN."""
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
        out[src] = [{**c.to_dict(), "value_s": format_figure(c.value, 3)} for c in cards]
    return out


def quality_table(results: dict[str, Any]) -> list[dict[str, str]]:
    """Mean over seeds of each quality figure, one column per source (``self``, ``source``)."""
    per_source = _quality_values(results)
    rows = []
    for key, label in QUALITY_ROWS:
        cells = {src: format_figure(sum(v[key]) / len(v[key]), 3) if v.get(key) else "–" for src, v in per_source.items()}
        if any(c != "–" for c in cells.values()):
            rows.append({"label": label, **cells})
    return rows
