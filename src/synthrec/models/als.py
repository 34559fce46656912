"""Matrix factorisation for implicit feedback through the `implicit` library: ALS and BPR.

Both learn item factors on training users, then score *any* history by **folding it in**: the user's
factors are computed from the history and the fixed item factors (no training-time user ids are used).

* `ALS`: Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008,
  via ``implicit.cpu.als.AlternatingLeastSquares``.
* `BPR`: Rendle, Freudenthaler, Gantner & Schmidt-Thieme, "BPR: Bayesian Personalized Ranking from
  Implicit Feedback", UAI 2009, via ``implicit.cpu.bpr.BayesianPersonalizedRanking``.

What implicit 0.7.3 does with pre-set factors (read in its source, ``implicit/cpu/als.py`` and checked
for the compiled ``implicit/cpu/bpr.so``): ``fit`` initialises ``user_factors`` / ``item_factors``
randomly **only when they are None**, and otherwise continues from them. Fine-tuning therefore keeps
``item_factors``, sets ``user_factors`` of the new users to their fold-in, and calls ``fit`` with
``iterations = fine_tune_iterations``.

Every call into implicit runs under ``threadpoolctl.threadpool_limits(1, "blas")``: implicit
parallelises over users itself, and a multi-threaded BLAS underneath oversubscribes the cores.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError
from synthrec.models.base import BaseRecommender, check_non_negative, check_positive

try:
    from typing import Self
except ImportError:  # pragma: no cover
    from typing_extensions import Self


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread (implicit's own OpenMP threads are unaffected)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def clamp_factors(requested: int, x: sp.csr_matrix, model: str) -> int:
    """The number of factors the data supports: ``min(requested, active users, active items)``.

    A user-item matrix has rank at most ``min(n_users, n_items)`` over its non-empty rows and columns;
    more factors than that only fit noise (and with weak regularisation make the normal equations
    singular). Warns (`UserWarning`) when it clamps.
    """
    x = sp.csr_matrix(x)
    n_u = int((np.diff(x.indptr) > 0).sum())
    n_i = int((np.bincount(x.indices, minlength=x.shape[1]) > 0).sum())
    supported = max(1, min(n_u, n_i))
    if requested > supported:
        warnings.warn(
            f"{model}: factors={requested} exceeds what the data supports (rank <= min({n_u} active users, "
            f"{n_i} active items) = {supported}); using {supported} factors",
            UserWarning, stacklevel=3,
        )
        return supported
    return requested


def _check_finite(name: str, arr: np.ndarray) -> None:
    if not np.isfinite(arr).all():  # pragma: no cover - guarded by clamping and regularisation > 0
        raise ConfigError(f"{name} hold NaN or inf after fitting: lower learning_rate, raise regularization")


# ------------------------------------------------------------------------------------------------ ALS


class ALS(BaseRecommender):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with fold-in scoring of histories.

    Confidence: for a binary interaction matrix ``P``, ``C = 1 + alpha · P`` (Hu et al. eq. 2 with
    ``r_ui`` ∈ {0, 1}); it is passed to implicit as the matrix of values ``1 + alpha`` on the positives
    with implicit's own ``alpha`` at 1, because implicit reads a stored value ``c`` as the confidence
    itself (it adds ``(c − 1) y yᵀ`` to the normal equations), not as ``r`` in ``1 + alpha · r``.

    Fold-in (`user_factors`): the exact least-squares solution of Hu et al. eq. 4 for each history,
    ``x_u = (YᵀY + Yᵀ(Cᵘ − I)Y + λI)⁻¹ Yᵀ Cᵘ p(u)`` with item factors ``Y`` fixed, computed by
    implicit's ``recalculate_user`` (a Cholesky solve per user, in C). Scores are ``x_u · Y``. Measured
    on 2 cores for 20,000 histories over 5,000 items (1 % dense, 64 factors): 0.9 s, against 95 s for a
    batched numpy version of the same closed form (einsum of the outer products + batched solve), which
    agreed to 1e-7; hence implicit's.

    Fine-tuning keeps ``Y``, folds in the new users, and runs ``fine_tune_iterations`` more ALS sweeps
    (user step, then item step) on the new data only; items absent from the new data drift towards 0 in
    the item step, as ALS on that data would have it.

    Args:
        factors: latent dimension; clamped (with a warning) to ``min(active users, active items)`` of
            the training data (`clamp_factors`). Default 64.
        regularization: λ > 0 of Hu et al. eq. 3 (it multiplies ``‖x_u‖² + ‖y_i‖²``, not scaled by the
            number of interactions). Default 10.0.
        alpha: confidence scale ``alpha`` ≥ 0 (eq. 2). Default 2.0.
        iterations: ALS sweeps in `fit`. Default 15.
        fine_tune_iterations: ALS sweeps in `fine_tune`. Default 5.
        seed: seed of the initial factors. Default 0.
        use_cg: implicit's conjugate-gradient solver in `fit` (faster, approximate) instead of Cholesky.
        num_threads: implicit's threads; 0 = all cores. Results do not depend on it (users and items are
            solved independently).
        batch_size: history rows scored at once in `recommend`.

    Defaults: among factors ∈ {32, 64, 128}, regularization ∈ {0.01 … 30}, alpha ∈ {0.5 … 20} these are
    within noise of the best validation NDCG@10 on ml-100k (leave-last-out of the training part; test
    NDCG@10 ≈ 0.075, EASE ≈ 0.073, popularity 0.045).

    Fitted attributes: ``item_factors_`` float32 ``(n_items, factors_)``, ``factors_`` (after clamping).
    """

    name = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 10.0,
        alpha: float = 2.0,
        iterations: int = 15,
        fine_tune_iterations: int = 5,
        seed: int = 0,
        use_cg: bool = True,
        num_threads: int = 0,
        batch_size: int = 2048,
    ) -> None:
        check_positive("factors", factors, integer=True)
        check_positive("regularization", regularization)
        check_non_negative("alpha", alpha)
        check_non_negative("iterations", iterations, integer=True)
        check_non_negative("fine_tune_iterations", fine_tune_iterations, integer=True)
        check_non_negative("num_threads", num_threads, integer=True)
        check_positive("batch_size", batch_size, integer=True)
        self.factors = factors
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.iterations = iterations
        self.fine_tune_iterations = fine_tune_iterations
        check_non_negative("seed", seed, integer=True)
        self.seed = seed
        self.use_cg = use_cg
        self.num_threads = num_threads
        self.batch_size = batch_size
        self.factors_: int | None = None
        self._model: Any = None

    # ---------------------------------------------------------------- internals

    def _confidence(self, x: sp.csr_matrix) -> sp.csr_matrix:
        c = sp.csr_matrix(x, dtype=np.float32, copy=True)
        c.data[:] = 1.0 + self.alpha
        return c

    def _new_model(self, factors: int) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        with single_threaded_blas():
            return AlternatingLeastSquares(
                factors=factors, regularization=self.regularization, alpha=1.0, dtype=np.float32,
                use_cg=self.use_cg, iterations=self.iterations, num_threads=self.num_threads,
                random_state=self.seed,
            )

    @property
    def item_factors_(self) -> np.ndarray:
        """float32 ``(n_items, factors_)`` item factors ``Y``."""
        self._require_fitted("item_factors_")
        return np.asarray(self._model.item_factors)

    def user_factors(self, histories: sp.csr_matrix) -> np.ndarray:
        """Fold-in (Hu et al. eq. 4) of binary history rows: float32 ``(n_rows, factors_)``.

        An empty history folds in to the zero vector.
        """
        self._require_fitted("user_factors")
        c = self._confidence(histories)
        with single_threaded_blas():
            return np.asarray(self._model.recalculate_user(np.arange(c.shape[0]), c))

    # ---------------------------------------------------------------- API

    def fit(self, data: InteractionData) -> Self:
        """Fit item (and training-user) factors on the binary interactions of ``data``.

        Raises:
            DataValidationError: ``data`` has no interactions.
        """
        x = self._start_fit(data)
        self.factors_ = clamp_factors(self.factors, x, "ALS")
        self._model = self._new_model(self.factors_)
        with single_threaded_blas():
            self._model.fit(self._confidence(x), show_progress=False)
        _check_finite("ALS item factors", self._model.item_factors)
        return self

    def fine_tune(self, data: InteractionData) -> Self:
        """Continue ALS from the current item factors on ``data`` for ``fine_tune_iterations`` sweeps.

        Raises:
            NotFittedError: before `fit`.
            DataValidationError: ``data`` has another catalogue size or no interactions.
        """
        x = self._start_fine_tune(data)
        c = self._confidence(x)
        with single_threaded_blas():
            self._model.user_factors = np.asarray(
                self._model.recalculate_user(np.arange(c.shape[0]), c), dtype=np.float32)
            self._model.iterations = self.fine_tune_iterations
            try:
                self._model.fit(c, show_progress=False)
            finally:
                self._model.iterations = self.iterations
        _check_finite("ALS item factors", self._model.item_factors)
        return self

    def _score(self, histories: sp.csr_matrix) -> np.ndarray:
        u = self.user_factors(histories)
        return np.asarray(u, dtype=np.float64) @ self.item_factors_.T.astype(np.float64)


# ------------------------------------------------------------------------------------------------ BPR

FoldIn = Literal["ridge", "mean"]


class BPR(BaseRecommender):
    """Bayesian Personalized Ranking matrix factorisation (Rendle et al. 2009) with fold-in scoring.

    implicit's BPR learns item factors with an item-bias column: ``item_factors`` has ``factors + 1``
    columns, the last being the item bias ``b_i``, and every user's last column is fixed at 1. A user
    vector ``x`` scores item ``i`` as ``x · y_i + b_i``.

    Fold-in of a history ``h`` (binary row) for a user not seen in training (`user_factors`):

    * ``"mean"`` (default): the mean of the factor vectors of the history's items,
      ``x = (1/|h|) Σ_{i ∈ h} y_i`` (item-factor averaging).
    * ``"ridge"``: ridge least squares of the history against the item factors,
      ``x = argmin ‖h − Y x‖² + μ‖x‖² = (YᵀY + μI)⁻¹ Yᵀ h`` over **all** items (unseen items are
      targets 0), ``Y`` without the bias column; ``μ = fold_in_l2``.

    Both use the item bias (the user's last coordinate is 1). Measured on ml-100k (validation
    leave-last-out NDCG@10 over 36 settings of learning rate, regularisation, factors and epochs), mean
    gave 0.05–0.075 and ridge 0.030–0.042 for every μ in {0.01 … 100}; even the users' own trained
    factors scored 0.044 for the default setting. A BPR user vector mostly carries the item-bias
    trade-off, which a least-squares fit to 0/1 targets does not reproduce; averaging keeps the factor
    scale the SGD learned.

    Fine-tuning keeps the item factors (bias included), sets the new users' vectors to their fold-in,
    and runs ``fine_tune_iterations`` epochs of implicit's SGD on the new data (implicit 0.7.3's
    ``fit`` continues from pre-set factors; see the module docstring). implicit draws the negative item
    of each SGD triple from the items of the training interactions (popularity-proportional), so an item
    absent from the fine-tuning data is neither a positive nor a negative there and keeps its pretrained
    factors exactly (checked in the tests); only the items the new data holds move.

    Determinism: implicit's BPR is Hogwild SGD; with ``num_threads > 1`` threads race and results vary
    run to run. The default ``num_threads=1`` makes the same seed give the same model.

    Args:
        factors: latent dimension (the bias column comes on top). Default 64.
        learning_rate: SGD step. Default 0.05.
        regularization: L2 penalty of the SGD updates. Default 0.01.
        iterations: epochs in `fit`. Default 100.
        fine_tune_iterations: epochs in `fine_tune`. Default 30.
        seed: seed of the initial factors and of negative sampling. Default 0.
        fold_in: ``"mean"`` or ``"ridge"``, see above. Default ``"mean"``.
        fold_in_l2: μ of the ridge fold-in. Default 1.0.
        num_threads: implicit's SGD threads (see determinism). Default 1.
        batch_size: history rows scored at once in `recommend`.

    Fitted attributes: ``item_factors_`` float32 ``(n_items, factors + 1)``, last column the item bias.
    """

    name = "bpr"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        fine_tune_iterations: int = 30,
        seed: int = 0,
        fold_in: FoldIn = "mean",
        fold_in_l2: float = 1.0,
        num_threads: int = 1,
        batch_size: int = 2048,
    ) -> None:
        check_positive("factors", factors, integer=True)
        check_positive("learning_rate", learning_rate)
        check_non_negative("regularization", regularization)
        check_non_negative("iterations", iterations, integer=True)
        check_non_negative("fine_tune_iterations", fine_tune_iterations, integer=True)
        check_positive("fold_in_l2", fold_in_l2)
        check_non_negative("num_threads", num_threads, integer=True)
        check_positive("batch_size", batch_size, integer=True)
        if fold_in not in ("ridge", "mean"):
            raise ConfigError(f"fold_in must be 'ridge' or 'mean', got {fold_in!r}")
        self.factors = factors
        self.learning_rate = float(learning_rate)
        self.regularization = float(regularization)
        self.iterations = iterations
        self.fine_tune_iterations = fine_tune_iterations
        check_non_negative("seed", seed, integer=True)
        self.seed = seed
        self.fold_in: FoldIn = fold_in
        self.fold_in_l2 = float(fold_in_l2)
        self.num_threads = num_threads
        self.batch_size = batch_size
        self._model: Any = None
        self._ridge: np.ndarray | None = None  # (YᵀY + μI)⁻¹ Yᵀ, shape (factors, n_items), float64

    @property
    def item_factors_(self) -> np.ndarray:
        """float32 ``(n_items, factors + 1)``; the last column is the item bias."""
        self._require_fitted("item_factors_")
        return np.asarray(self._model.item_factors)

    def _prepare_fold_in(self) -> None:
        y = self.item_factors_[:, :-1].astype(np.float64)
        gram = y.T @ y
        gram[np.diag_indices_from(gram)] += self.fold_in_l2
        self._ridge = scipy.linalg.solve(gram, y.T, assume_a="pos")

    def user_factors(self, histories: sp.csr_matrix) -> np.ndarray:
        """Fold-in of binary history rows: float64 ``(n_rows, factors + 1)``, last column 1 (bias).

        An empty history folds in to zeros (and the bias 1).
        """
        self._require_fitted("user_factors")
        h = sp.csr_matrix(histories, dtype=np.float64)
        if self.fold_in == "ridge":
            assert self._ridge is not None
            x = np.asarray(h @ self._ridge.T)
        else:
            n = np.maximum(np.diff(h.indptr), 1).astype(np.float64)
            x = np.asarray(h @ self.item_factors_[:, :-1].astype(np.float64)) / n[:, None]
        return np.hstack([x, np.ones((x.shape[0], 1))])

    def fit(self, data: InteractionData) -> Self:
        """Fit by implicit's BPR SGD on the binary interactions of ``data``.

        Raises:
            DataValidationError: ``data`` has no interactions.
        """
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        x = self._start_fit(data)
        with single_threaded_blas():
            self._model = BayesianPersonalizedRanking(
                factors=self.factors, learning_rate=self.learning_rate, regularization=self.regularization,
                dtype=np.float32, iterations=self.iterations, num_threads=self.num_threads,
                verify_negative_samples=True, random_state=self.seed,
            )
            self._model.fit(x, show_progress=False)
        _check_finite("BPR item factors", self._model.item_factors)
        self._prepare_fold_in()
        return self

    def fine_tune(self, data: InteractionData) -> Self:
        """Continue BPR SGD from the current item factors on ``data`` for ``fine_tune_iterations`` epochs.

        Raises:
            NotFittedError: before `fit`.
            DataValidationError: ``data`` has another catalogue size or no interactions.
        """
        x = self._start_fine_tune(data)
        with single_threaded_blas():
            self._model.user_factors = np.ascontiguousarray(self.user_factors(x), dtype=np.float32)
            self._model.iterations = self.fine_tune_iterations
            try:
                self._model.fit(x, show_progress=False)
            finally:
                self._model.iterations = self.iterations
        _check_finite("BPR item factors", self._model.item_factors)
        self._prepare_fold_in()
        return self

    def _score(self, histories: sp.csr_matrix) -> np.ndarray:
        return self.user_factors(histories) @ self.item_factors_.T.astype(np.float64)
