"""Top-K ranking metrics over the full catalogue (no sampled negatives).

Inputs shared by every metric:

* ``recs``: integer array of shape ``(n_users, K)``, dense item ids best-first. ``-1``
  (`synthrec.models.base.NO_ITEM`) pads rows with fewer than K items and is never a hit. An item may
  appear at most once per row.
* ``targets``: scipy sparse matrix ``(n_users, n_items)`` of relevance. Binary (1 = relevant) or graded
  (any value > 0 is relevant; graded values are the NDCG gains). Row ``u`` of ``targets`` belongs to row
  ``u`` of ``recs``.

**Users with an empty target row are excluded from every average and counted** (``evaluate`` reports
``n_users_skipped_empty_target``); with ``per_user=True`` their entries are NaN, never 0 (PITFALLS P8).
Users *with* targets whose recommendation row is all ``-1`` are scored 0 (the recommender gave nothing)
and counted in ``n_users_without_recs``.

**Cold targets are counted, not hidden.** A held-out item the model never saw in training can never be
recommended (it scores as a miss), and a user with an empty history gets only a fallback ranking. Given
the model's trained items and the users' histories, ``evaluate`` counts both (``n_targets_cold_item``,
``n_users_only_cold_targets``, ``n_users_cold``) so a report can say how much of a metric was out of any
model's reach (PITFALLS P8).

Notation for user ``u`` at cut-off ``K``: ``R_u`` the relevant items (``rel_u(i) > 0``), ``r_1..r_K`` the
recommended ids, ``hit_j = 1[r_j in R_u]``, ``hits = sum_{j<=K} hit_j``.

==============  ===========================================================================================
metric          per-user value
==============  ===========================================================================================
NDCG@K          ``DCG@K / IDCG@K``, ``DCG@K = sum_{j<=K} rel_u(r_j) / log2(j + 1)`` (linear gain, Järvelin &
                Kekäläinen 2002, eq. of DCG with log2 discount; the convention of scikit-learn's
                ``ndcg_score``); ``IDCG@K`` is the DCG of the user's ``min(K, |R_u|)`` largest relevances
                over **all** their relevant items, not only the recommended ones.
Recall@K        ``hits / |R_u|`` (RecBole, Zhao et al. 2021).
RecallTrunc@K   ``hits / min(K, |R_u|)`` (truncated recall, Liang et al. 2018, Mult-VAE, eq. 10), so 1 is
                reachable for users with more than K relevant items.
Precision@K     ``hits / K``.
HR@K            ``1[hits > 0]`` (hit rate).
MRR@K           ``1 / rank of the first hit`` within K, 0 without a hit (Voorhees 1999, truncated at K).
MAP@K           ``AP@K = (1 / min(K, |R_u|)) * sum_{j<=K} hit_j * Precision@j`` (the normalisation used by
                RecBole); MAP@K is its mean.
coverage@K      ``|union_u {r_uj : j <= K, r_uj >= 0}| / n_items`` over all rows of ``recs``
                (catalogue coverage; Ge et al. 2010).
==============  ===========================================================================================

Everything is computed with numpy from ``recs`` and the CSR arrays (a sorted-key search locates each
recommended (user, item) pair in the target matrix); there is no Python loop over users.

This module imports nothing from `synthrec.models` (evaluation depends only on data); ``NO_ITEM`` here
equals ``synthrec.models.base.NO_ITEM``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import scipy.sparse as sp

from synthrec.errors import ConfigError, DataValidationError

__all__ = [
    "METRICS",
    "NO_ITEM",
    "catalog_coverage",
    "cold_counts",
    "evaluate",
    "headline_metrics",
    "hr_at_k",
    "map_at_k",
    "metric_ks",
    "mrr",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]

#: Filler id in a recommendation row: "no item". Never a hit.
NO_ITEM = -1

#: Metric names accepted by `evaluate` and the keys they produce (``<key>@<K>``).
METRICS: dict[str, str] = {
    "ndcg": "NDCG",
    "recall": "Recall",
    "recall_trunc": "RecallTrunc",
    "precision": "Precision",
    "hr": "HR",
    "mrr": "MRR",
    "map": "MAP",
}


# ---------------------------------------------------------------------------------------------- preparation


@dataclass(frozen=True)
class _Prepared:
    """Per-user relevance of the recommended items, and what the ideal rankings need."""

    gains: np.ndarray  # (n_users, K) float64: rel_u(r_j), 0 for misses and NO_ITEM
    n_rel: np.ndarray  # (n_users,) int64: |R_u|
    evaluated: np.ndarray  # (n_users,) bool: |R_u| > 0
    no_recs: np.ndarray  # (n_users,) bool: the row holds no item
    # relevant values sorted by (row, value descending): for IDCG
    rel_rows: np.ndarray
    rel_pos: np.ndarray
    rel_vals: np.ndarray
    n_items: int

    @property
    def hits(self) -> np.ndarray:
        return self.gains > 0


def _as_csr(targets: object) -> sp.csr_matrix:
    if isinstance(targets, np.ndarray):
        if targets.ndim != 2:
            raise DataValidationError(f"targets must be 2-D (n_users, n_items), got shape {targets.shape}",
                                      source="targets")
        return sp.csr_matrix(targets, dtype=np.float64)
    if not sp.issparse(targets):
        raise DataValidationError(
            f"targets must be a scipy sparse matrix (n_users, n_items), got {type(targets).__name__}",
            source="targets", hint="use InteractionData.to_csr()",
        )
    m = sp.csr_matrix(targets, dtype=np.float64, copy=True)
    m.sum_duplicates()  # canonical: sorted indices, no duplicates
    return m


def _prepare(recs: object, targets: object) -> _Prepared:
    """Validate inputs and look up ``rel_u(r_j)`` for every recommended id (vectorised)."""
    r = np.asarray(recs)
    if r.ndim != 2:
        raise DataValidationError(f"recs must be 2-D (n_users, K), got shape {r.shape}", source="recs")
    if r.size and not np.issubdtype(r.dtype, np.integer):
        raise DataValidationError(f"recs must hold integer item ids, got dtype {r.dtype}", source="recs",
                                  hint="pass the output of Recommender.recommend (int64, -1 = no item)")
    r = r.astype(np.int64, copy=False)
    t = _as_csr(targets)
    n_users, n_items = t.shape
    if r.shape[0] != n_users:
        raise DataValidationError(
            f"recs has {r.shape[0]} rows but targets has {n_users}; row u of both must be the same user",
            source="recs", hint="slice targets to the evaluated users (Split.evaluation_inputs)",
        )
    bad = (r < NO_ITEM) | (r >= n_items)
    if bad.any():
        row, col = (int(x) for x in np.argwhere(bad)[0])
        raise DataValidationError(
            f"recs[{row}, {col}] = {int(r[row, col])} is not an item id in [0, {n_items}) nor {NO_ITEM}",
            source="recs", row=row + 1, hint="recommendations must be dense ids of the targets' catalogue",
        )
    if t.nnz and (not np.all(np.isfinite(t.data)) or t.data.min() < 0):
        bad_v = ~np.isfinite(t.data) | (t.data < 0)
        k = int(np.flatnonzero(bad_v)[0])
        row = int(np.searchsorted(t.indptr, k, side="right") - 1)
        raise DataValidationError(
            f"relevance must be finite and >= 0, found {t.data[k]} at item {int(t.indices[k])}",
            source="targets", row=row + 1, hint="use binary relevance or non-negative gains",
        )
    t.eliminate_zeros()
    _check_no_duplicates(r)

    # relevance of each recommended (u, item): search u * n_items + item among the CSR keys (sorted)
    nnz_rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(t.indptr))
    keys = nnz_rows * n_items + t.indices.astype(np.int64)
    valid = r >= 0
    q = np.arange(n_users, dtype=np.int64)[:, None] * n_items + np.where(valid, r, 0)
    pos = np.searchsorted(keys, q)
    pos_c = np.minimum(pos, max(keys.shape[0] - 1, 0))
    found = valid & (pos < keys.shape[0])
    if keys.shape[0]:
        found &= keys[pos_c] == q
        gains = np.where(found, t.data[pos_c], 0.0)
    else:
        gains = np.zeros(r.shape, dtype=np.float64)

    n_rel = np.diff(t.indptr).astype(np.int64)
    order = np.lexsort((-t.data, nnz_rows))
    rel_rows = nnz_rows[order]
    rel_pos = np.arange(t.nnz, dtype=np.int64) - t.indptr[rel_rows]
    return _Prepared(
        gains=gains.astype(np.float64, copy=False), n_rel=n_rel, evaluated=n_rel > 0,
        no_recs=np.asarray(~valid.any(axis=1)), rel_rows=rel_rows, rel_pos=rel_pos, rel_vals=t.data[order],
        n_items=n_items,
    )


def _check_no_duplicates(r: np.ndarray) -> None:
    if r.shape[1] < 2:
        return
    s = np.sort(r, axis=1)
    dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)
    if dup.any():
        row, col = (int(x) for x in np.argwhere(dup)[0])
        raise DataValidationError(
            f"recs row {row} recommends item {int(s[row, col + 1])} more than once",
            source="recs", row=row + 1, hint="a recommendation list must not repeat an item (pad with -1)",
        )


def _check_k(k: int, width: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"K must be an integer >= 1, got {k!r}")
    if k > width:
        raise ConfigError(f"K={k} exceeds the {width} recommendations per user; ask the recommender for "
                          f"at least {k} items")
    return int(k)


def _discounts(n: int) -> np.ndarray:
    """``1 / log2(j + 1)`` for ranks ``j = 1..n``."""
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


# ---------------------------------------------------------------------------------------------- per user
# Each returns float64 (n_users,) with NaN where the target row is empty.


def _ndcg(p: _Prepared, k: int) -> np.ndarray:
    disc = _discounts(k)
    dcg = p.gains[:, :k] @ disc
    top = p.rel_pos < k
    idcg = np.bincount(p.rel_rows[top], weights=p.rel_vals[top] * disc[p.rel_pos[top]],
                       minlength=p.gains.shape[0])
    return _mask(np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0), p)


def _hits(p: _Prepared, k: int) -> np.ndarray:
    return p.hits[:, :k].sum(axis=1).astype(np.float64)


def _recall(p: _Prepared, k: int, truncated: bool) -> np.ndarray:
    denom = np.minimum(p.n_rel, k) if truncated else p.n_rel
    return _mask(_hits(p, k) / np.maximum(denom, 1), p)


def _precision(p: _Prepared, k: int) -> np.ndarray:
    return _mask(_hits(p, k) / k, p)


def _hr(p: _Prepared, k: int) -> np.ndarray:
    return _mask((_hits(p, k) > 0).astype(np.float64), p)


def _mrr(p: _Prepared, k: int) -> np.ndarray:
    h = p.hits[:, :k]
    first = np.argmax(h, axis=1)
    return _mask(np.where(h.any(axis=1), 1.0 / (first + 1.0), 0.0), p)


def _map(p: _Prepared, k: int) -> np.ndarray:
    h = p.hits[:, :k].astype(np.float64)
    prec_at_j = np.cumsum(h, axis=1) / np.arange(1, k + 1, dtype=np.float64)
    ap = (prec_at_j * h).sum(axis=1) / np.maximum(np.minimum(p.n_rel, k), 1)
    return _mask(ap, p)


def _mask(values: np.ndarray, p: _Prepared) -> np.ndarray:
    return np.where(p.evaluated, values, np.nan)


def _per_user(p: _Prepared, name: str, k: int) -> np.ndarray:
    if name == "ndcg":
        return _ndcg(p, k)
    if name == "recall":
        return _recall(p, k, truncated=False)
    if name == "recall_trunc":
        return _recall(p, k, truncated=True)
    if name == "precision":
        return _precision(p, k)
    if name == "hr":
        return _hr(p, k)
    if name == "mrr":
        return _mrr(p, k)
    if name == "map":
        return _map(p, k)
    raise ConfigError(f"unknown metric {name!r}; choose from {', '.join(METRICS)}")


def _mean(values: np.ndarray, p: _Prepared) -> float:
    if not p.evaluated.any():
        raise DataValidationError(
            f"no user has a non-empty target row ({p.evaluated.shape[0]} users, all skipped), so the mean "
            "is undefined", source="targets", hint="check the split: the test part holds no events for these users",
        )
    return float(values[p.evaluated].mean())


def _metric(name: str, recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, per_user: bool
            ) -> float | np.ndarray:
    p = _prepare(recs, targets)
    k = _check_k(k, p.gains.shape[1])
    v = _per_user(p, name, k)
    return v if per_user else _mean(v, p)


# ---------------------------------------------------------------------------------------------- public

_DOC_ARGS = """
    Args:
        recs: int array ``(n_users, K')`` of dense item ids best-first, ``-1`` = no item; ``K' >= k``.
        targets: sparse ``(n_users, n_items)`` relevance; values > 0 are relevant.
        k: cut-off, ``1 <= k <= K'``.
        per_user: return the float64 array ``(n_users,)`` of per-user values (NaN for users with an empty
            target row) instead of their mean.

    Returns:
        The mean over users with a non-empty target row (float), or the per-user array.

    Raises:
        DataValidationError: malformed ``recs``/``targets`` (shapes, ids out of range, repeated items,
            negative or non-finite relevance), or (mean only) no user has a target.
        ConfigError: bad ``k``.
"""


@overload
def ndcg_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
              per_user: Literal[False] = ...) -> float: ...
@overload
def ndcg_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
              per_user: Literal[True]) -> np.ndarray: ...
def ndcg_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *, per_user: bool = False
              ) -> float | np.ndarray:
    """NDCG@K with linear gains (Järvelin & Kekäläinen 2002):
    ``sum_{j<=K} rel(r_j)/log2(j+1)`` divided by the same sum over the user's ``min(K, |R_u|)`` largest
    relevances among **all** their relevant items. Binary targets give the usual binary NDCG; graded
    targets use their values as gains (as scikit-learn's ``ndcg_score``).
    """
    return _metric("ndcg", recs, targets, k, per_user)


@overload
def recall_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
                per_user: Literal[False] = ..., truncated: bool = ...) -> float: ...
@overload
def recall_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
                per_user: Literal[True], truncated: bool = ...) -> np.ndarray: ...
def recall_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *, per_user: bool = False,
                truncated: bool = False) -> float | np.ndarray:
    """Recall@K = ``hits / |R_u|`` (RecBole's definition); with ``truncated=True``,
    ``hits / min(K, |R_u|)`` (Liang et al. 2018, eq. 10).
    """
    return _metric("recall_trunc" if truncated else "recall", recs, targets, k, per_user)


@overload
def precision_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
                   per_user: Literal[False] = ...) -> float: ...
@overload
def precision_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
                   per_user: Literal[True]) -> np.ndarray: ...
def precision_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *, per_user: bool = False
                   ) -> float | np.ndarray:
    """Precision@K = ``hits / K`` (padding ``-1`` slots count as misses)."""
    return _metric("precision", recs, targets, k, per_user)


@overload
def hr_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
            per_user: Literal[False] = ...) -> float: ...
@overload
def hr_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
            per_user: Literal[True]) -> np.ndarray: ...
def hr_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *, per_user: bool = False
            ) -> float | np.ndarray:
    """Hit rate HR@K = ``1[at least one of the top K is relevant]``."""
    return _metric("hr", recs, targets, k, per_user)


@overload
def mrr(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
        per_user: Literal[False] = ...) -> float: ...
@overload
def mrr(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
        per_user: Literal[True]) -> np.ndarray: ...
def mrr(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *, per_user: bool = False
        ) -> float | np.ndarray:
    """MRR@K: ``1 / rank`` of the first relevant item within the top K, 0 if none (Voorhees 1999)."""
    return _metric("mrr", recs, targets, k, per_user)


@overload
def map_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
             per_user: Literal[False] = ...) -> float: ...
@overload
def map_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *,
             per_user: Literal[True]) -> np.ndarray: ...
def map_at_k(recs: np.ndarray, targets: sp.spmatrix | sp.sparray, k: int, *, per_user: bool = False
             ) -> float | np.ndarray:
    """MAP@K: mean of ``AP@K = (1/min(K, |R_u|)) * sum_{j<=K} hit_j * Precision@j`` (RecBole's
    normalisation)."""
    return _metric("map", recs, targets, k, per_user)


for _f in (ndcg_at_k, recall_at_k, precision_at_k, hr_at_k, mrr, map_at_k):
    _f.__doc__ = (_f.__doc__ or "") + _DOC_ARGS


def catalog_coverage(recs: np.ndarray, n_items: int, k: int | None = None) -> float:
    """Catalogue coverage: share of the ``n_items`` catalogue appearing in at least one top-K row
    (Ge et al. 2010): ``|union_u {r_uj : j <= K, r_uj >= 0}| / n_items``, over **all** rows of ``recs``.

    Args:
        recs: int array ``(n_users, K')``; ``-1`` = no item.
        n_items: catalogue size (> 0).
        k: cut-off (default: every column).

    Returns:
        A float in [0, 1].

    Raises:
        DataValidationError: ids outside ``[0, n_items)`` other than -1.
        ConfigError: bad ``n_items`` or ``k``.
    """
    r = np.asarray(recs)
    if r.ndim != 2 or (r.size and not np.issubdtype(r.dtype, np.integer)):
        raise DataValidationError(f"recs must be a 2-D integer array, got shape {r.shape} dtype {r.dtype}",
                                  source="recs")
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise ConfigError(f"n_items must be a positive integer, got {n_items!r}")
    if k is not None:
        r = r[:, : _check_k(k, r.shape[1])]
    ids = r[r != NO_ITEM].astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= n_items):
        raise DataValidationError(f"recs hold item ids outside [0, {n_items}): {int(ids.min())}..{int(ids.max())}",
                                  source="recs")
    return float(np.unique(ids).shape[0] / n_items)


def evaluate(
    recs: np.ndarray,
    targets: sp.spmatrix | sp.sparray,
    ks: Sequence[int] = (10, 20),
    metrics: Sequence[str] = ("ndcg", "recall", "hr", "mrr", "map"),
    n_items: int | None = None,
    *,
    histories: sp.spmatrix | sp.sparray | None = None,
    trained_items: np.ndarray | None = None,
) -> dict[str, float]:
    """All requested metrics at every cut-off in one pass.

    Args:
        recs: int array ``(n_users, K')`` best-first, ``-1`` = no item, ``K' >= max(ks)``.
        targets: sparse ``(n_users, n_items_t)`` relevance (row u ↔ recs row u).
        ks: cut-offs.
        metrics: names from `METRICS` (``ndcg``, ``recall``, ``recall_trunc``, ``precision``, ``hr``,
            ``mrr``, ``map``).
        n_items: catalogue size for coverage (default ``targets.shape[1]``).
        histories: optional sparse ``(n_users, n_items_t)``: what the model saw of each user; adds
            ``n_users_cold`` (evaluated users with an empty history).
        trained_items: optional bool ``(n_items_t,)``: items with at least one interaction in the data the
            model was fitted on (``BaseRecommender.eligible_items_``); adds ``n_targets_cold_item`` (target
            entries of evaluated users on items outside it, never recommendable) and
            ``n_users_only_cold_targets`` (evaluated users all of whose targets are such items: they score 0
            whatever the model does).

    Returns:
        ``{"NDCG@10": ..., "Recall@10": ..., "HR@10": ..., "MRR@10": ..., "MAP@10": ..., ...,
        "coverage@10": ..., "n_users_evaluated": int, "n_users_skipped_empty_target": int,
        "n_users_without_recs": int, "n_targets": int}`` and the counts above when their inputs are given.
        Metric values are means over the evaluated users (those with a non-empty target row);
        ``coverage@K`` is over all rows of ``recs``; ``n_users_without_recs`` counts evaluated users whose row
        holds no item (they score 0); ``n_targets`` counts the relevant (user, item) entries of evaluated
        users.

    Raises:
        DataValidationError: malformed inputs, or no user has a target, or ``histories`` /
            ``trained_items`` of another shape.
        ConfigError: unknown metric or bad cut-off.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(map(repr, unknown))}; choose from {', '.join(METRICS)}")
    if not ks:
        raise ConfigError("ks must hold at least one cut-off")
    p = _prepare(recs, targets)
    ks = [_check_k(k, p.gains.shape[1]) for k in ks]
    n_cat = p.n_items if n_items is None else n_items
    out: dict[str, float] = {}
    for k in ks:
        for m in metrics:
            out[f"{METRICS[m]}@{k}"] = _mean(_per_user(p, m, k), p)
        out[f"coverage@{k}"] = catalog_coverage(np.asarray(recs), n_cat, k)
    n_eval = int(p.evaluated.sum())
    out["n_users_evaluated"] = n_eval
    out["n_users_skipped_empty_target"] = int(p.evaluated.shape[0] - n_eval)
    out["n_users_without_recs"] = int((p.no_recs & p.evaluated).sum())
    out.update(cold_counts(targets, histories=histories, trained_items=trained_items))
    return out


def cold_counts(targets: sp.spmatrix | sp.sparray, *, histories: sp.spmatrix | sp.sparray | None = None,
                trained_items: np.ndarray | None = None) -> dict[str, int]:
    """How many targets and users were out of a model's reach (see `evaluate`; users with an empty target
    row are not counted).

    Args:
        targets: sparse ``(n_users, n_items)`` relevance; values > 0 are relevant.
        histories: optional sparse ``(n_users, n_items)``; adds ``n_users_cold``.
        trained_items: optional bool ``(n_items,)``; adds ``n_targets_cold_item`` and
            ``n_users_only_cold_targets``.

    Returns:
        ``{"n_targets": ...}`` plus the optional counts, as ints.

    Raises:
        DataValidationError: ``histories`` or ``trained_items`` of another shape than ``targets``.
    """
    t = _as_csr(targets)
    t = sp.csr_matrix(t > 0)
    t.eliminate_zeros()
    per_user = np.diff(t.indptr)
    evaluated = per_user > 0
    out = {"n_targets": int(t.nnz)}
    if histories is not None:
        if histories.shape != t.shape:
            raise DataValidationError(f"histories have shape {histories.shape}, targets {t.shape}",
                                      source="histories")
        h = sp.csr_matrix(histories)
        h.eliminate_zeros()
        out["n_users_cold"] = int((evaluated & (np.diff(h.indptr) == 0)).sum())
    if trained_items is not None:
        trained = np.asarray(trained_items, dtype=bool)
        if trained.shape != (t.shape[1],):
            raise DataValidationError(f"trained_items has shape {trained.shape}, expected ({t.shape[1]},)",
                                      source="trained_items")
        cold_entry = ~trained[t.indices]
        rows = np.repeat(np.arange(t.shape[0]), per_user)
        cold_per_user = np.bincount(rows, weights=cold_entry, minlength=t.shape[0]).astype(np.int64)
        out["n_targets_cold_item"] = int(cold_entry.sum())
        out["n_users_only_cold_targets"] = int((evaluated & (cold_per_user == per_user)).sum())
    return out


# ---------------------------------------------------------------------------------------------- metric names


def headline_metrics(ks: Iterable[int]) -> tuple[str, str]:
    """The metrics a run's console table, findings and report lead with, from the config's ``ks``:
    ``(NDCG@k, Recall@r)`` with k = 10 when 10 is among ``ks``, else the smallest k, and r = 20 when 20
    is among ``ks``, else the largest k. E.g. ``[10, 20]`` → NDCG@10, Recall@20; ``[5]`` → NDCG@5,
    Recall@5; ``[10]`` → NDCG@10, Recall@10; ``[5, 50]`` → NDCG@5, Recall@50.

    Raises:
        ValueError: ``ks`` is empty.
    """
    values = sorted(set(ks))
    if not values:
        raise ValueError("ks is empty")
    k = 10 if 10 in values else values[0]
    r = 20 if 20 in values else values[-1]
    return f"NDCG@{k}", f"Recall@{r}"


def metric_ks(metrics: Iterable[str], prefix: str = "NDCG") -> list[int]:
    """The cut-offs of the measured ``metrics`` named ``prefix@k`` (sorted), e.g. ``["NDCG@5", "HR@5"]``
    → ``[5]``."""
    out = set()
    for m in metrics:
        name, _, k = m.partition("@")
        if name == prefix and k.isdigit():
            out.add(int(k))
    return sorted(out)
