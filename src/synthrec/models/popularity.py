"""Most-popular baseline: every user gets the items with the most users, minus what they have seen."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.models.base import BaseRecommender, check_non_negative

try:
    from typing import Self
except ImportError:  # pragma: no cover
    from typing_extensions import Self


class MostPopular(BaseRecommender):
    """Rank items by the number of distinct users who interacted with them (ties: lower item id first).

    Histories matter only through exclusion of seen items; the ranking is the same for every user.

    Fine-tuning (transfer from synthetic pre-training data to real data) blends counts with
    `synthrec.models.base.blend_counts`::

        counts = pretrain_weight * previous_counts * (new_total / previous_total) + new_counts

    where ``*_total`` are the sums of the count vectors (= numbers of distinct user-item pairs). The
    previous counts are thus rescaled to the new data's mass first, and ``pretrain_weight`` is the weight
    of the previous data relative to the new: 1 gives both equal say, 0 keeps only the new data.

    Args:
        pretrain_weight: ``>= 0``; see above. Default 1.0.
        batch_size: history rows ranked at once in `recommend`.

    Fitted attributes:
        item_counts_: float64 ``(n_items,)``, the scores.
    """

    name = "pop"

    def __init__(self, pretrain_weight: float = 1.0, batch_size: int = 2048) -> None:
        check_non_negative("pretrain_weight", pretrain_weight)
        self.pretrain_weight = float(pretrain_weight)
        self.batch_size = batch_size

    def _pretrain_mass(self) -> float:
        return self.pretrain_weight

    def fit(self, data: InteractionData) -> Self:
        """Count users per item in ``data``.

        Raises:
            DataValidationError: ``data`` has no interactions.
        """
        self._start_fit(data)
        return self

    def fine_tune(self, data: InteractionData) -> Self:
        """Blend the current counts with the counts of ``data`` (formula in the class docstring).

        Raises:
            NotFittedError: before `fit`.
            DataValidationError: ``data`` has another catalogue size or no interactions.
        """
        self._start_fine_tune(data)
        return self

    def _score(self, histories: sp.csr_matrix) -> np.ndarray:
        assert self.item_counts_ is not None
        return np.broadcast_to(self.item_counts_, (histories.shape[0], self.item_counts_.shape[0]))
