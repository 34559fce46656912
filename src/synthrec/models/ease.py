"""EASE: Embarrassingly Shallow Autoencoder (Steck 2019).

H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019. The item-item weight matrix
has the closed form (eq. 8 of the paper)::

    P = (XᵀX + λI)⁻¹,        B = I − P · diagMat(1 ⊘ diag(P))

i.e. ``B[i, j] = −P[i, j] / P[j, j]`` off the diagonal and ``B[j, j] = 0``. A user with binary history
row ``x`` is scored ``x · B``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.linalg.lapack
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError
from synthrec.models.base import BaseRecommender, check_non_negative, check_positive

try:
    from typing import Self
except ImportError:  # pragma: no cover
    from typing_extensions import Self


def ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
    """EASE item-item weights from a Gram matrix (Steck 2019, eq. 8).

    Args:
        gram: float array ``(n_items, n_items)``, symmetric positive semi-definite (``XᵀX``).
        l2: λ > 0, added to the diagonal.

    Returns:
        float64 array ``B`` of shape ``(n_items, n_items)`` with ``B = I − P diagMat(1/diag(P))``,
        ``P = (gram + λI)⁻¹``; its diagonal is exactly 0.

    Raises:
        ConfigError: ``l2`` is not > 0.
    """
    check_positive("l2", l2)
    a = np.array(gram, dtype=np.float64)  # a copy: the solve overwrites it
    a[np.diag_indices_from(a)] += l2
    # gram + λI is symmetric positive definite: invert through its Cholesky factor (LAPACK potrf then
    # potri, about 3x faster than solving against the identity). `a.T` is a Fortran-ordered view of the
    # same symmetric matrix, so LAPACK works in place without a copy.
    fortran = a.T
    c, info = scipy.linalg.lapack.dpotrf(fortran, lower=1, clean=0, overwrite_a=1)
    if info != 0:
        raise ConfigError(f"EASE: the Gram matrix plus l2={l2} is not positive definite (LAPACK info={info}); "
                          "increase l2")
    inv, info = scipy.linalg.lapack.dpotri(c, lower=1, overwrite_c=1)
    if info != 0:
        raise ConfigError(f"EASE: inversion failed (LAPACK info={info}); increase l2")
    del a, c, fortran
    p = np.tril(inv)
    p += np.tril(inv, -1).T  # potri fills one triangle only
    del inv
    p /= -np.diag(p)[None, :]  # B = −P diagMat(1/diag(P)) off the diagonal, in place
    np.fill_diagonal(p, 0.0)
    return p


class EASE(BaseRecommender):
    """EASE linear item-item autoencoder (Steck 2019, WWW, eq. 8); scores a history row ``x`` as ``x · B``.

    Fitting stores the Gram matrix ``G = XᵀX`` (binary X, so ``G[i, j]`` = users who interacted with both
    i and j, and ``trace(G)`` = number of distinct user-item pairs) and solves for ``B``.

    Fine-tuning on new (real) data after fitting on pre-training (synthetic) data re-solves ``B`` from::

        G = synthetic_weight * G_pre * (trace(G_new) / trace(G_pre)) + G_new

    The pre-training Gram matrix is first rescaled to the new data's mass (its trace, i.e. its number of
    interactions), so ``synthetic_weight`` is the weight of the pre-training data relative to the new
    data: 1 = equal mass, 0.25 = a quarter of the real data's mass, 0 = the real data alone. λ (`l2`) is
    unchanged. The blended ``G`` is stored, so fine-tuning again treats it as the new pre-training data.

    Memory and time: two dense float64 ``n_items × n_items`` matrices are kept (``gram_`` and ``B_``, i.e.
    16·n_items² bytes: 45 MB at 1,682 items, 6.4 GB at 20,000) plus one more during the O(n_items³)
    Cholesky solve (0.4 s at 1,682 items on 2 cores).

    Args:
        l2: λ, the L2 penalty on ``B``. Default 100: the best validation NDCG@10 on ml-100k
            (leave-last-out of the training part) over λ ∈ {30 … 1000}; on the test split λ from 100 to
            700 are within noise (0.072–0.074). ``G`` grows with the number of users, so larger data
            usually wants a larger λ.
        synthetic_weight: ``>= 0``, see fine-tuning above. Default 1.0.
        max_items: refuse (ConfigError) catalogues larger than this. Default 20,000.
        batch_size: history rows scored at once in `recommend`.

    Fitted attributes:
        gram_: float64 ``(n_items, n_items)``, the (blended) Gram matrix.
        B_: float64 ``(n_items, n_items)``, the weights, zero diagonal.
    """

    name = "ease"

    def __init__(
        self,
        l2: float = 100.0,
        synthetic_weight: float = 1.0,
        max_items: int = 20_000,
        batch_size: int = 2048,
    ) -> None:
        check_positive("l2", l2)
        check_non_negative("synthetic_weight", synthetic_weight)
        check_positive("max_items", max_items, integer=True)
        check_positive("batch_size", batch_size, integer=True)
        self.l2 = float(l2)
        self.synthetic_weight = float(synthetic_weight)
        self.max_items = max_items
        self.batch_size = batch_size
        self.gram_: np.ndarray | None = None
        self.B_: np.ndarray | None = None

    def _pretrain_mass(self) -> float:
        return self.synthetic_weight

    def _check_size(self, data: InteractionData) -> None:
        if data.n_items > self.max_items:
            gib = 24 * data.n_items**2 / 2**30
            raise ConfigError(
                f"EASE needs dense {data.n_items} × {data.n_items} item-item matrices (about {gib:.1f} GiB) "
                f"for '{data.name}', above max_items={self.max_items}. Raise max_items if the memory is "
                "there, filter rare items first, or use ALS/BPR"
            )

    @staticmethod
    def _gram(x: sp.csr_matrix) -> np.ndarray:
        x64 = x.astype(np.float64)
        return np.asarray((x64.T @ x64).toarray(), dtype=np.float64)

    def fit(self, data: InteractionData) -> Self:
        """Compute ``G = XᵀX`` of the binary user-item matrix of ``data`` and solve for ``B``.

        Raises:
            ConfigError: more than ``max_items`` items.
            DataValidationError: ``data`` has no interactions.
        """
        self._check_size(data)
        x = self._start_fit(data)
        self.gram_ = self._gram(x)
        self.B_ = ease_weights(self.gram_, self.l2)
        return self

    def fine_tune(self, data: InteractionData) -> Self:
        """Blend the stored Gram matrix with that of ``data`` (class docstring) and re-solve ``B``.

        Raises:
            NotFittedError: before `fit`.
            DataValidationError: ``data`` has another catalogue size or no interactions.
        """
        x = self._start_fine_tune(data)
        assert self.gram_ is not None
        g_new = self._gram(x)
        t_pre, t_new = float(np.trace(self.gram_)), float(np.trace(g_new))
        if t_pre > 0 and self.synthetic_weight > 0:
            g_new += (self.synthetic_weight * t_new / t_pre) * self.gram_
        self.gram_ = g_new
        self.B_ = ease_weights(self.gram_, self.l2)
        return self

    def _score(self, histories: sp.csr_matrix) -> np.ndarray:
        assert self.B_ is not None
        return np.asarray(histories.astype(np.float64) @ self.B_)
