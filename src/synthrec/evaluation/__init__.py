"""Evaluation: ranking metrics (full ranking over the catalogue) and fidelity of synthetic data."""

from synthrec.evaluation.fidelity import (
    FIDELITY_KEYS,
    FidelityWarning,
    activity_fidelity,
    boundary_adherence,
    cooccurrence_fidelity,
    fidelity_report,
    popularity_fidelity,
    rating_fidelity,
    time_gap_fidelity,
)
from synthrec.evaluation.metrics import (
    METRICS,
    NO_ITEM,
    catalog_coverage,
    evaluate,
    hr_at_k,
    map_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

__all__ = [
    "FIDELITY_KEYS",
    "METRICS",
    "NO_ITEM",
    "FidelityWarning",
    "activity_fidelity",
    "boundary_adherence",
    "catalog_coverage",
    "cooccurrence_fidelity",
    "evaluate",
    "fidelity_report",
    "hr_at_k",
    "map_at_k",
    "mrr",
    "ndcg_at_k",
    "popularity_fidelity",
    "precision_at_k",
    "rating_fidelity",
    "recall_at_k",
    "time_gap_fidelity",
]
