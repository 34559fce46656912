"""Evaluation: ranking metrics (full ranking over the catalogue)."""

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
    "METRICS",
    "NO_ITEM",
    "catalog_coverage",
    "evaluate",
    "hr_at_k",
    "map_at_k",
    "mrr",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]
