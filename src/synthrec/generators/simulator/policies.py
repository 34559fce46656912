"""Exposure policies for closed-loop simulation: duck-typed recommenders that need no training.

Generators never import `synthrec.models`, so these are written against the `Recommender` protocol by
shape only (``fit``, ``fine_tune``, ``recommend``, ``name``). They are the usual reference points of a
feedback-loop study:

* ``StochasticPopularity(exponent=0)`` — uniformly random exposure among unseen items, the logging
  policy that gives unbiased feedback (Joachims et al. 2017, "Unbiased learning-to-rank with biased
  feedback", WSDM);
* ``exponent > 0`` — popularity-proportional exposure (a softened most-popular);
* ``exponent < 0`` — popularity-penalised exposure (favours the long tail).

Slates are drawn **without replacement** with P(item i) ∝ (n_i + 1)^exponent by the Gumbel-top-k trick
(Kool, van Hoof & Welling 2019, "Stochastic beams and where to find them", ICML, sec. 3): the k largest
of ``exponent · log(n_i + 1) + G_i``, G_i ~ Gumbel(0, 1), form a sample of k distinct items from the
successive-sampling (Plackett–Luce) distribution with those weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError, NotFittedError

try:
    from typing import Self
except ImportError:  # pragma: no cover
    from typing_extensions import Self

#: filler of a slate position with no eligible item (same value as synthrec.models.base.NO_ITEM)
NO_ITEM = -1
#: upper bound on score cells (rows × items) held at once
_CELL_BUDGET = 1 << 22


def gumbel_top_k(
    log_weights: np.ndarray, k: int, rng: np.random.Generator, *, exclude: sp.csr_matrix | None = None,
    n_rows: int | None = None,
) -> np.ndarray:
    """k distinct items per row drawn without replacement with P ∝ exp(log_weights) (Gumbel-top-k).

    Args:
        log_weights: float ``(n_items,)`` shared by all rows, or ``(n_rows, n_items)``; −inf = ineligible.
        k: slate size, ``>= 1``.
        rng: random source (consumed in row order, so the result is reproducible from its seed).
        exclude: optional binary CSR ``(n_rows, n_items)``; stored entries are ineligible (seen items).
        n_rows: number of rows when ``log_weights`` is 1-D (default: ``exclude.shape[0]``, else 1).

    Returns:
        int64 ``(n_rows, k)`` dense item ids in draw order (the first is the most likely); `NO_ITEM` where
        a row has fewer than k eligible items. Rows are processed in chunks of bounded memory.
    """
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    lw = np.asarray(log_weights, dtype=np.float64)
    n_items = lw.shape[-1]
    if n_rows is None:
        n_rows = lw.shape[0] if lw.ndim == 2 else (exclude.shape[0] if exclude is not None else 1)
    out = np.full((n_rows, k), NO_ITEM, dtype=np.int64)
    kk = min(k, n_items)
    if n_rows == 0 or kk == 0:
        return out
    step = max(1, _CELL_BUDGET // max(n_items, 1))
    for start in range(0, n_rows, step):
        stop = min(start + step, n_rows)
        keys = rng.gumbel(size=(stop - start, n_items))
        keys += lw[start:stop] if lw.ndim == 2 else lw[None, :]
        if exclude is not None:
            sub = exclude[start:stop].tocoo()
            keys[sub.row, sub.col] = -np.inf
        ids = np.argpartition(-keys, kk - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(keys, ids, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        ids = np.take_along_axis(ids, order, axis=1)
        ids[np.take_along_axis(vals, order, axis=1) == -np.inf] = NO_ITEM
        out[start:stop, :kk] = ids
    return out


class StochasticPopularity:
    """Random slates with P(item) ∝ (users of the item + 1)^exponent, without replacement (module docstring).

    Args:
        exponent: 0 = uniform random exposure; > 0 favours popular items; < 0 favours the long tail.
        seed: seed of the policy's random stream; each `recommend` call continues it, so a sequence of
            calls is reproducible from the seed.

    Fitted attributes:
        n_items_: catalogue size; item_counts_: float64 ``(n_items,)`` users per item.

    Every item of the catalogue is eligible (also items nobody has interacted with yet), which is what
    lets random exposure discover them.
    """

    name = "stochastic-popularity"

    def __init__(self, exponent: float = 0.0, *, seed: int = 0) -> None:
        if not np.isfinite(exponent):
            raise ConfigError(f"exponent must be a finite number, got {exponent!r}")
        self.exponent = float(exponent)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.n_items_: int | None = None
        self.item_counts_: np.ndarray | None = None

    def fit(self, data: InteractionData) -> Self:
        """Count users per item in ``data`` (any number of interactions, also none)."""
        self.n_items_ = data.n_items
        self.item_counts_ = np.asarray(data.to_csr("binary").sum(axis=0), dtype=np.float64).ravel()
        return self

    def fine_tune(self, data: InteractionData) -> Self:
        """Add the counts of ``data`` to the current ones.

        Raises:
            NotFittedError: before `fit`. DataValidationError: another catalogue size.
        """
        if self.item_counts_ is None:
            raise NotFittedError("StochasticPopularity is not fitted: call fit(data) before fine_tune()")
        if data.n_items != self.n_items_:
            raise DataValidationError(f"data has {data.n_items} items, the policy was fitted on {self.n_items_}",
                                      source=data.name)
        self.item_counts_ = self.item_counts_ + np.asarray(data.to_csr("binary").sum(axis=0)).ravel()
        return self

    def recommend(self, histories: Any, k: int, *, exclude_seen: bool = True) -> np.ndarray:
        """A random slate per history row; int64 ``(n_users, k)``, `NO_ITEM` when too few items are left.

        Raises:
            NotFittedError: before `fit`. DataValidationError: histories with another number of items.
            ConfigError: ``k < 1``.
        """
        if self.item_counts_ is None or self.n_items_ is None:
            raise NotFittedError("StochasticPopularity is not fitted: call fit(data) before recommend()")
        h = sp.csr_matrix(histories)
        if h.shape[1] != self.n_items_:
            raise DataValidationError(f"histories have {h.shape[1]} item columns, the policy was fitted on "
                                      f"{self.n_items_} items", source="histories")
        log_w = self.exponent * np.log1p(self.item_counts_)
        return gumbel_top_k(log_w, k, self._rng, exclude=h if exclude_seen else None, n_rows=h.shape[0])

    def __repr__(self) -> str:
        return f"StochasticPopularity(exponent={self.exponent!r}, seed={self.seed!r})"
