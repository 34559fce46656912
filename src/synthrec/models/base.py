"""The `Recommender` protocol and the plumbing its implementations share.

Recommenders score users **by their histories** (a CSR matrix of shape ``(n_users, n_items)``), not by
training-time user ids: synthetic and real users are different people, so only what is learned about
items transfers. This is also the strong-generalisation protocol for cold users.

Shared conventions of every model in `synthrec.models` (implemented once in `BaseRecommender`):

* **Implicit feedback.** Training data and histories are binarised: any stored non-zero value is one
  interaction, repeats collapse (``InteractionData.to_csr("binary")``).
* **Eligible items.** An item with no interaction in any data the model was fitted or fine-tuned on is
  never recommended (its score is ``-inf``): a collaborative model knows nothing about it, and scoring it
  0 would rank it above items with negative scores. Such rows are padded with `NO_ITEM` instead.
* **Cold users.** A history row with no interactions gets the **popularity fallback**: items ranked by
  ``item_counts_`` (users per item, blended over pre-training and fine-tuning as in
  `blend_counts`). `cold_rows` tells which rows those are.
* **Ranking.** `top_k` ranks best-first and pads with `NO_ITEM`. Equal scores are ordered by a seeded random
  order of the catalogue (`synthrec.data.ordering.item_tie_order`, seeded with the model's ``seed``, 0
  without one), never by dense id: dense ids follow first appearance in the file, so "lower id first" let
  the file's row order decide rankings (a popularity model's ties, EASE's zero scores) and favoured items
  listed first.

Models never import `synthrec.generators`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from synthrec._params import ParamsMixin
from synthrec.data.interactions import InteractionData
from synthrec.data.ordering import item_tie_order
from synthrec.errors import ConfigError, DataValidationError, NotFittedError

try:
    from typing import Self
except ImportError:  # pragma: no cover
    from typing_extensions import Self

#: Filler in a recommendation array when fewer than k items are eligible. Never a real item id.
NO_ITEM = -1

#: Default number of history rows scored at once by `BaseRecommender.recommend` and `top_k`.
DEFAULT_BATCH_ROWS = 2048

#: Upper bound on the number of score cells (rows × items) held per batch, so a large catalogue lowers the
#: number of rows per batch: 2**23 float64 cells are 64 MiB.
SCORE_CELL_BUDGET = 1 << 23


@runtime_checkable
class Recommender(Protocol):
    name: str

    def fit(self, data: InteractionData) -> Self: ...

    def fine_tune(self, data: InteractionData) -> Self: ...

    def recommend(self, histories: sp.csr_matrix, k: int, *, exclude_seen: bool = True) -> np.ndarray:
        """Top-k dense item ids, int64 array of shape ``(n_users, k)``, best first; `NO_ITEM` pads rows
        with fewer than k eligible items."""
        ...


# ---------------------------------------------------------------------------------------------- helpers


def _rows_per_batch(batch_size: int, n_items: int) -> int:
    return max(1, min(int(batch_size), SCORE_CELL_BUDGET // max(n_items, 1)))


def top_k(
    scores: np.ndarray,
    k: int,
    exclude: sp.spmatrix | sp.sparray | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_ROWS,
    tie_order: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the ``k`` highest scores of each row, best first.

    Deterministic: among equal scores the item with the lower ``tie_order`` comes first (the lower item id
    when ``tie_order`` is None), whatever ``k`` is (the cut at the k-th place takes the first tied items in
    that order). Items scored ``-inf`` and items marked in ``exclude`` are ineligible; when a row has
    fewer than ``k`` eligible items its tail is `NO_ITEM`. No id appears twice in a row. Rows are
    processed ``batch_size`` at a time (fewer when the catalogue is large, see `SCORE_CELL_BUDGET`), so
    temporary memory stays bounded for any number of rows. Selection uses ``numpy.partition`` (linear
    time per row), then sorts only the ``k`` selected.

    Args:
        scores: float array of shape ``(n, n_items)``; ``-inf`` marks an ineligible item. Not modified.
        k: number of items per row, ``k >= 1``; may exceed ``n_items`` (the surplus is `NO_ITEM`).
        exclude: optional sparse matrix of shape ``(n, n_items)``; every stored non-zero entry is excluded.
        batch_size: rows per batch (upper bound).
        tie_order: optional int array ``(n_items,)``, a permutation of ``0 .. n_items-1``: each item's place
            among equal scores (`synthrec.data.ordering.item_tie_order`).

    Returns:
        int64 array of shape ``(n, k)``: item ids in ``[0, n_items)`` best first, then `NO_ITEM`.

    Raises:
        ConfigError: ``k < 1`` or ``batch_size < 1``.
        ValueError: ``scores`` is not 2-D, holds NaN, ``exclude`` has another shape, or ``tie_order`` is
            not a permutation of the items.
    """
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_users, n_items), got shape {scores.shape}")
    n, n_items = scores.shape
    excl: sp.csr_matrix | None = None
    if exclude is not None:
        if exclude.shape != scores.shape:
            raise ValueError(f"exclude has shape {exclude.shape}, scores have shape {scores.shape}")
        excl = sp.csr_matrix(exclude)
        excl.eliminate_zeros()
    by_place: np.ndarray | None = None  # by_place[p] = the item at place p of the tie order
    if tie_order is not None:
        order = np.asarray(tie_order)
        if order.shape != (n_items,):
            raise ValueError(f"tie_order has shape {order.shape}, expected ({n_items},)")
        by_place = np.full(n_items, -1, dtype=np.int64)
        by_place[order] = np.arange(n_items)
        if (by_place < 0).any():
            raise ValueError("tie_order must be a permutation of 0 .. n_items-1")
    out = np.full((n, k), NO_ITEM, dtype=np.int64)
    kk = min(k, n_items)
    if n == 0 or kk == 0:
        return out
    step = _rows_per_batch(batch_size, n_items)
    for start in range(0, n, step):
        stop = min(start + step, n)
        block = np.array(scores[start:stop], dtype=np.float64)  # a copy: exclusions are written into it
        if np.isnan(block).any():
            bad = start + int(np.argwhere(np.isnan(block))[0, 0])
            raise ValueError(f"scores hold NaN (first in row {bad}): the model produced invalid scores")
        if excl is not None:
            sub = excl[start:stop].tocoo()
            block[sub.row, sub.col] = -np.inf
        if by_place is None:
            out[start:stop, :kk] = _top_k_block(block, kk)
        else:  # rank columns in tie order, so "lowest column first" means "first in the tie order"
            places = _top_k_block(block[:, by_place], kk)
            out[start:stop, :kk] = np.where(places == NO_ITEM, NO_ITEM, by_place[np.maximum(places, 0)])
    return out


def _top_k_block(block: np.ndarray, kk: int) -> np.ndarray:
    """`top_k` of one dense block (float64, ``-inf`` = ineligible), ``kk <= n_items``; returns (b, kk)."""
    n_items = block.shape[1]
    # Fast path: argpartition picks kk items of the top; it is the right set unless items tied with the
    # kk-th value were left out (argpartition is not stable), which we detect and redo exactly.
    ids = np.argpartition(block, n_items - kk, axis=1)[:, n_items - kk:]
    vals = np.take_along_axis(block, ids, axis=1)
    thresh = vals.min(axis=1, keepdims=True)  # kk-th largest value of each row
    redo = np.flatnonzero((block == thresh).sum(axis=1) != (vals == thresh).sum(axis=1))
    if redo.size:
        sub, t = block[redo], thresh[redo]
        tied = sub == t
        need = kk - (sub > t).sum(axis=1, keepdims=True)
        chosen = (sub > t) | (tied & (np.cumsum(tied, axis=1) <= need))  # lowest ids among the tied
        ids[redo] = np.nonzero(chosen)[1].reshape(redo.size, kk)  # exactly kk per row
        vals[redo] = np.take_along_axis(sub, ids[redo], axis=1)
    order = np.lexsort((ids, -vals), axis=1)  # score descending, then item id ascending
    ids = np.take_along_axis(ids, order, axis=1).astype(np.int64)
    ids[np.take_along_axis(vals, order, axis=1) == -np.inf] = NO_ITEM
    return ids


def as_binary_histories(histories: Any, n_items: int, *, source: str = "histories") -> sp.csr_matrix:
    """Validate a history matrix and return it as a binary float32 CSR with sorted indices.

    Args:
        histories: scipy sparse matrix/array (or dense 2-D array) of shape ``(n_users, n_items)``; every
            stored non-zero entry counts as one interaction, explicit zeros are dropped.
        n_items: the catalogue size the model was fitted on.
        source: name used in error messages.

    Raises:
        DataValidationError: not 2-D, wrong number of item columns, or NaN/inf values.
    """
    if sp.issparse(histories):
        h = sp.csr_matrix(histories, dtype=np.float32, copy=True)
    else:
        arr = np.asarray(histories)
        if arr.ndim != 2:
            raise DataValidationError(
                f"histories must be a 2-D (n_users, n_items) matrix, got shape {arr.shape}", source=source,
                hint="build it with InteractionData.to_csr() over the training catalogue",
            )
        h = sp.csr_matrix(arr.astype(np.float32))
    if h.shape[1] != n_items:
        raise DataValidationError(
            f"histories have {h.shape[1]} item columns but the model was fitted on {n_items} items",
            source=source,
            hint="build histories over the same item catalogue as the training data "
            "(InteractionData.from_frame(item_vocabulary=...))",
        )
    if not np.isfinite(h.data).all():
        row = int(np.searchsorted(h.indptr, int(np.flatnonzero(~np.isfinite(h.data))[0]), side="right")) - 1
        raise DataValidationError("histories hold NaN or infinite values", source=source, row=row + 1,
                                  hint="histories are implicit feedback: store 1 where the user interacted")
    h.eliminate_zeros()
    h.sum_duplicates()
    h.data[:] = 1.0
    h.sort_indices()
    return h


def cold_rows(histories: sp.spmatrix | sp.sparray) -> np.ndarray:
    """Boolean mask of shape ``(n_users,)``: rows with no stored non-zero entry (cold users)."""
    h = sp.csr_matrix(histories)
    h.eliminate_zeros()
    return np.diff(h.indptr) == 0


def item_counts(data: InteractionData) -> np.ndarray:
    """Users per item (repeats of a user-item pair count once): float64 array of shape ``(n_items,)``."""
    return np.asarray(data.to_csr("binary").sum(axis=0), dtype=np.float64).ravel()


def blend_counts(previous: np.ndarray, new: np.ndarray, weight: float) -> np.ndarray:
    """Blend pre-training counts into new counts: ``weight * previous * (new.sum() / previous.sum()) + new``.

    The previous counts are first rescaled to the new data's total mass, so ``weight`` is the mass of the
    previous (e.g. synthetic) data relative to the new (real) data: ``weight=1`` gives both equal mass,
    ``weight=0`` forgets the previous data. When one side is all zero the other is returned unchanged.

    Args:
        previous, new: non-negative float arrays of shape ``(n_items,)``.
        weight: ``>= 0``.

    Returns:
        float64 array of shape ``(n_items,)``.

    Raises:
        ConfigError: ``weight`` is negative or not finite.
    """
    check_non_negative("weight", weight)
    prev = np.asarray(previous, dtype=np.float64)
    cur = np.asarray(new, dtype=np.float64)
    p_tot, n_tot = prev.sum(), cur.sum()
    if p_tot <= 0:
        return cur.copy()
    if n_tot <= 0:
        return prev.copy()
    return weight * prev * (n_tot / p_tot) + cur


def check_positive(name: str, value: float, *, integer: bool = False) -> None:
    """Raise `ConfigError` unless ``value`` is a finite number > 0 (an int when ``integer``)."""
    if integer and (isinstance(value, bool) or not isinstance(value, int | np.integer)):
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(value, int | float | np.integer | np.floating) or not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")


def check_non_negative(name: str, value: float, *, integer: bool = False) -> None:
    """Raise `ConfigError` unless ``value`` is a finite number >= 0 (an int when ``integer``)."""
    if integer and (isinstance(value, bool) or not isinstance(value, int | np.integer)):
        raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
    if not isinstance(value, int | float | np.integer | np.floating) or not np.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")


# ------------------------------------------------------------------------------------------ base class


class BaseRecommender(ParamsMixin):
    """Shared plumbing of the models in `synthrec.models`: validation, batching, popularity fallback.

    Subclasses implement `fit` and `fine_tune` (calling `_start_fit` / `_start_fine_tune` first) and
    `_score(histories) -> (b, n_items) float array` for a binary CSR block of histories. `recommend`
    then adds, per batch: the cold-user popularity fallback, ``-inf`` for items never seen in training,
    exclusion of seen items, and `top_k`.

    Fitted attributes (``None`` before `fit`):
        n_items_: catalogue size.
        tie_order_: int64 ``(n_items,)``, each item's place among equal scores (see the module docstring).
        item_counts_: float64 ``(n_items,)`` users per item; after `fine_tune`, blended by `blend_counts`
            with weight `_pretrain_mass`.
    """

    name: str = "base"
    batch_size: int = DEFAULT_BATCH_ROWS
    n_items_: int | None = None
    item_counts_: np.ndarray | None = None
    tie_order_: np.ndarray | None = None

    # ---------------------------------------------------------------- to implement

    def fit(self, data: InteractionData) -> Self:  # pragma: no cover - abstract
        """Fit on ``data`` from scratch; returns self."""
        raise NotImplementedError

    def fine_tune(self, data: InteractionData) -> Self:  # pragma: no cover - abstract
        """Continue from the current weights on ``data`` (transfer); returns self."""
        raise NotImplementedError

    def _score(self, histories: sp.csr_matrix) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _pretrain_mass(self) -> float:
        """Weight of the pre-training data's popularity after `fine_tune` (see `blend_counts`)."""
        return 1.0

    # ---------------------------------------------------------------- shared

    @property
    def is_fitted(self) -> bool:
        return self.n_items_ is not None

    def _require_fitted(self, what: str = "recommend") -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(data) before {what}()")

    def _start_fit(self, data: InteractionData) -> sp.csr_matrix:
        """Record the catalogue and popularity of ``data``; return its binary user×item CSR (float32)."""
        if data.n_items == 0 or data.n_interactions == 0:
            raise DataValidationError("cannot fit on data without interactions", source=data.name,
                                      hint="check the input log and the split that produced it")
        x = data.to_csr("binary")
        self.n_items_ = data.n_items
        self.item_counts_ = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
        self.tie_order_ = item_tie_order(data.item_ids, self._tie_seed())
        return x

    def _tie_seed(self) -> int:
        seed = getattr(self, "seed", None)
        return int(seed) if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else 0

    def _start_fine_tune(self, data: InteractionData) -> sp.csr_matrix:
        """Check ``data`` shares the fitted catalogue, blend popularity; return its binary CSR."""
        self._require_fitted("fine_tune")
        if data.n_items != self.n_items_:
            raise DataValidationError(
                f"fine-tuning data has {data.n_items} items but the model was fitted on {self.n_items_}",
                source=data.name,
                hint="pre-training and fine-tuning data must share one item catalogue "
                "(InteractionData.from_frame(item_vocabulary=...))",
            )
        if data.n_interactions == 0:
            raise DataValidationError("cannot fine-tune on data without interactions", source=data.name)
        x = data.to_csr("binary")
        new = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
        assert self.item_counts_ is not None
        self.item_counts_ = blend_counts(self.item_counts_, new, self._pretrain_mass())
        return x

    @property
    def eligible_items_(self) -> np.ndarray:
        """Boolean ``(n_items,)``: items with at least one training interaction (the only ones recommended)."""
        self._require_fitted("eligible_items_")
        assert self.item_counts_ is not None
        return self.item_counts_ > 0

    def recommend(self, histories: Any, k: int, *, exclude_seen: bool = True) -> np.ndarray:
        """Top-k dense item ids for each history row, best first.

        Args:
            histories: sparse ``(n_users, n_items)`` matrix over the fitted catalogue; non-zero = seen.
            k: items per user, ``>= 1``.
            exclude_seen: do not recommend items in the user's history.

        Returns:
            int64 array ``(n_users, k)``; `NO_ITEM` pads rows with fewer than k eligible items. Rows with
            an empty history get the popularity fallback (see the module docstring).

        Raises:
            NotFittedError: before `fit`.
            DataValidationError: histories of the wrong shape or with NaN.
            ConfigError: ``k < 1``.
        """
        self._require_fitted()
        assert self.n_items_ is not None and self.item_counts_ is not None
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        h = as_binary_histories(histories, self.n_items_)
        n = h.shape[0]
        out = np.full((n, k), NO_ITEM, dtype=np.int64)
        ineligible = ~self.eligible_items_
        step = _rows_per_batch(self.batch_size, self.n_items_)
        for start in range(0, n, step):
            hb = h[start:start + step]
            cold = np.diff(hb.indptr) == 0
            scores = np.array(self._score(hb), dtype=np.float64)
            if cold.any():
                scores[cold] = self.item_counts_
            scores[:, ineligible] = -np.inf
            out[start:start + hb.shape[0]] = top_k(scores, k, hb if exclude_seen else None,
                                                   batch_size=hb.shape[0], tie_order=self.tie_order_)
        return out

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"
