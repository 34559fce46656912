"""The `Recommender` protocol.

Recommenders score users **by their histories** (a CSR matrix of shape ``(n_users, n_items)``), not by
training-time user ids: synthetic and real users are different people, so only what is learned about
items transfers. This is also the strong-generalisation protocol for cold users.

Models never import `synthrec.generators`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData

try:
    from typing import Self
except ImportError:  # pragma: no cover
    from typing_extensions import Self

#: Filler in a recommendation array when fewer than k items are eligible. Never a real item id.
NO_ITEM = -1


@runtime_checkable
class Recommender(Protocol):
    name: str

    def fit(self, data: InteractionData) -> Self: ...

    def fine_tune(self, data: InteractionData) -> Self: ...

    def recommend(self, histories: sp.csr_matrix, k: int, *, exclude_seen: bool = True) -> np.ndarray:
        """Top-k dense item ids, int64 array of shape ``(n_users, k)``, best first; `NO_ITEM` pads rows
        with fewer than k eligible items."""
        ...
