"""Ranking metrics in user batches, on any backend: no dense n_users × n_items matrix anywhere.

`evaluate_batched` cuts the users into batches of ``batch_users`` rows. For each batch a worker asks the
recommender for ``recommend(histories[batch], max(ks))`` (the model is shipped to each worker once) and
computes the **per-user** metric values with `synthrec.evaluation.metrics` (``per_user=True``), plus the
items its rows recommend. Here the per-user values are put back in user order and averaged over the
users with a non-empty target row, exactly as `synthrec.evaluation.metrics.evaluate` does on the whole
``recs`` matrix, so the result equals ``evaluate(model.recommend(histories, max(ks)), targets, ks,
metrics)``: the same per-user values averaged in the same order. Recall, precision, HR, MRR, MAP, coverage
and the user counts are bit for bit identical; NDCG agrees to ~1e-15 relative, because `metrics` forms DCG
as a matrix–vector product whose rounding can depend on the batch's row count (a 1-row batch takes
numpy's dot path). This assumes ``recommend`` scores each history row independently of the other rows in
its batch, as every synthrec model does.

Memory: per worker one batch of scores (``batch_users × n_items``, bounded further by the model's own
batching); here the sparse inputs plus ``O(n_users × len(ks) × len(metrics))`` floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from synthrec.errors import ConfigError, DataValidationError
from synthrec.evaluation.metrics import (
    METRICS,
    NO_ITEM,
    cold_counts,
    hr_at_k,
    map_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from synthrec.scale.backends import Backend, InProcessBackend


@dataclass(frozen=True)
class _BatchTask:
    start: int
    histories: sp.csr_matrix
    targets: sp.csr_matrix
    ks: tuple[int, ...]
    metrics: tuple[str, ...]
    exclude_seen: bool


@dataclass(frozen=True)
class _BatchResult:
    start: int
    per_user: dict[str, np.ndarray]  # "<METRIC>@<k>" -> float64 (b,), NaN for users without targets
    evaluated: np.ndarray  # bool (b,)
    no_recs: np.ndarray  # bool (b,)
    recommended: dict[int, np.ndarray]  # k -> distinct item ids in the batch's top-k


def per_user_metric(name: str, recs: np.ndarray, targets: sp.csr_matrix, k: int) -> np.ndarray:
    """Per-user values of metric ``name`` (a key of `METRICS`) at cut-off ``k``; NaN for empty targets.

    Raises:
        ConfigError: unknown metric name.
    """
    if name == "ndcg":
        return ndcg_at_k(recs, targets, k, per_user=True)
    if name in ("recall", "recall_trunc"):
        return recall_at_k(recs, targets, k, per_user=True, truncated=name == "recall_trunc")
    if name == "precision":
        return precision_at_k(recs, targets, k, per_user=True)
    if name == "hr":
        return hr_at_k(recs, targets, k, per_user=True)
    if name == "mrr":
        return mrr(recs, targets, k, per_user=True)
    if name == "map":
        return map_at_k(recs, targets, k, per_user=True)
    raise ConfigError(f"unknown metric {name!r}; choose from {', '.join(METRICS)}")


def _evaluate_batch(model: Any, task: _BatchTask) -> _BatchResult:
    """Recommend for one batch of users and score it (runs on a worker)."""
    recs = np.asarray(model.recommend(task.histories, max(task.ks), exclude_seen=task.exclude_seen))
    per_user: dict[str, np.ndarray] = {}
    for k in task.ks:
        for name in task.metrics:
            per_user[f"{METRICS[name]}@{k}"] = per_user_metric(name, recs, task.targets, k)
    t = sp.csr_matrix(task.targets, dtype=np.float64, copy=True)
    t.eliminate_zeros()
    evaluated = np.diff(t.indptr) > 0
    recommended = {k: np.unique(recs[:, :k][recs[:, :k] != NO_ITEM]) for k in task.ks}
    return _BatchResult(task.start, per_user, evaluated, ~(recs != NO_ITEM).any(axis=1), recommended)


def evaluate_batched(
    model: Any,
    histories: sp.spmatrix | sp.sparray,
    targets: sp.spmatrix | sp.sparray,
    *,
    ks: Sequence[int] = (10, 20),
    metrics: Sequence[str] = ("ndcg", "recall", "hr", "mrr", "map"),
    n_items: int | None = None,
    batch_users: int = 4096,
    exclude_seen: bool = True,
    backend: Backend | None = None,
) -> dict[str, float]:
    """`synthrec.evaluation.metrics.evaluate` of a recommender's top-``max(ks)`` lists, in user batches.

    Args:
        model: a fitted recommender with ``recommend(histories, k, *, exclude_seen)`` (the `Recommender`
            protocol); shipped to each worker once.
        histories: sparse ``(n_users, n_items)`` input histories (row u = user u).
        targets: sparse ``(n_users, n_items)`` held-out relevance (row u ↔ histories row u).
        ks, metrics: cut-offs and metric names (`METRICS` keys), as in ``evaluate``.
        n_items: catalogue size for coverage (default ``targets.shape[1]``).
        batch_users: users per task (≥ 1).
        exclude_seen: passed to ``recommend``.
        backend: where batches run (default: this process).

    Returns:
        The dict ``evaluate`` returns: ``"NDCG@10"``, …, ``"coverage@K"``, ``n_users_evaluated``,
        ``n_users_skipped_empty_target``, ``n_users_without_recs``, and the cold counts of
        `synthrec.evaluation.metrics.cold_counts` (``n_targets``, ``n_users_cold``, and
        ``n_targets_cold_item`` / ``n_users_only_cold_targets`` when the model has ``eligible_items_``);
        metric values are means over users with a non-empty target row.

    Raises:
        DataValidationError: histories and targets differ in rows, no user has a target, or a batch's
            inputs are malformed (from the metrics).
        ConfigError: unknown metric, bad cut-off, ``batch_users < 1``.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(map(repr, unknown))}; choose from {', '.join(METRICS)}")
    ks_t = tuple(ks)
    if not ks_t or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in ks_t):
        raise ConfigError(f"ks must be one or more integers >= 1, got {ks!r}")
    if isinstance(batch_users, bool) or not isinstance(batch_users, int) or batch_users < 1:
        raise ConfigError(f"batch_users must be an integer >= 1, got {batch_users!r}")
    h, t = sp.csr_matrix(histories), sp.csr_matrix(targets)
    if h.shape[0] != t.shape[0]:
        raise DataValidationError(
            f"histories have {h.shape[0]} rows but targets have {t.shape[0]}; row u of both must be the same user",
            source="targets",
        )
    n_users = t.shape[0]
    tasks = [_BatchTask(lo, h[lo:lo + batch_users], t[lo:lo + batch_users], ks_t, tuple(metrics), exclude_seen)
             for lo in range(0, n_users, batch_users)]
    keys = [f"{METRICS[m]}@{k}" for k in ks_t for m in metrics]
    values = {key: np.empty(n_users) for key in keys}
    evaluated = np.zeros(n_users, bool)
    no_recs = np.zeros(n_users, bool)
    n_cat = t.shape[1] if n_items is None else n_items
    covered = {k: np.zeros(n_cat, bool) for k in ks_t}
    for _, res in (backend or InProcessBackend()).map(_evaluate_batch, model, tasks):
        stop = res.start + len(res.evaluated)
        for key in keys:
            values[key][res.start:stop] = res.per_user[key]
        evaluated[res.start:stop] = res.evaluated
        no_recs[res.start:stop] = res.no_recs
        for k in ks_t:
            covered[k][res.recommended[k]] = True
    if not evaluated.any():
        raise DataValidationError(
            f"no user has a non-empty target row ({n_users} users, all skipped), so the mean is undefined",
            source="targets", hint="check the split: the test part holds no events for these users",
        )
    out: dict[str, float] = {}
    for k in ks_t:
        for m in metrics:
            out[f"{METRICS[m]}@{k}"] = float(values[f"{METRICS[m]}@{k}"][evaluated].mean())
        out[f"coverage@{k}"] = float(covered[k].sum() / n_cat)
    n_eval = int(evaluated.sum())
    out["n_users_evaluated"] = n_eval
    out["n_users_skipped_empty_target"] = n_users - n_eval
    out["n_users_without_recs"] = int((no_recs & evaluated).sum())
    trained = getattr(model, "eligible_items_", None)
    out.update(cold_counts(t, histories=h, trained_items=None if trained is None else np.asarray(trained, bool)))
    return out
