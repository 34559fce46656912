r"""Base of the deep generators: a network models a user's item preferences; the rest of a history
(activity, order, timestamps, ratings) comes from the same fitted pieces as `LatentFactorGenerator`.

A subclass implements the network part:

* ``_fit_network(x, train_rows, valid_rows)``: train on the binary user × item matrix ``x`` (CSR);
* ``_new_user_logits(n, rng)``: float32 ``(n, m)`` item logits of ``n`` NEW users drawn from the
  network's generative model (noise from the numpy ``rng``, so sampling is reproducible on any device);
* ``_real_pair_scores(x, users, items)``: a score per real (user, item) pair, only ranked within a user
  (for the rating model);
* ``_build_network(name)``: an untrained module of the attribute ``name`` (in ``_NETWORKS``), for load.

What this base does (fit):

1. Validate the log; keep each (user, item) pair once, at its first occurrence in time (file order breaks
   ties); users are the rows of the binary matrix X (n × m) — ids are never one-hot encoded.
2. *User traits* z = (log n_u [, mean rating] [, start time t₀, tempo μ_u, log(1 + span T_u)]) get one
   full-covariance Gaussian (`synthrec.generators._gmm`, one component) whose marginal CDFs are mapped
   onto each trait's smoothed empirical quantile function — a Gaussian copula (Sklar 1959) — exactly as
   in `LatentFactorGenerator` step 2, but without the user vector: traits are drawn independently of the
   network's preference vector. Activity, start time, tempo and span thus keep their real marginals and
   their mutual dependence.
3. *Order and time*: `OrderModel` and `TimeModel` (`synthrec.generators._timestamps`).
4. *Ratings*: `RatingModel` (`synthrec.generators._ratings`) on the within-user rank of the subclass's
   pair scores.

**Differential privacy** (``epsilon`` finite; `fit` then runs `_fit_private`). Neighbouring logs differ
by one user and all her rows (user-level DP). Every statistic the fitted generator holds comes out of a
mechanism of `synthrec.privacy`, recorded in one `PrivacyLedger` and composed by opacus's RDP accountant;
everything else is post-processing of those releases:

========================  ==========================================================  ================
released                  what                                                        L2 sensitivity
========================  ==========================================================  ================
``dp_sgd``                the network's weights: DP-SGD, one user's whole item        C = max_grad_norm
                          vector per example, Poisson rate q = B/N, fixed epochs       per step
``activity_hist``         histogram of users' activity (distinct items, uncapped)     1
                          on public log-spaced bins; also gives ñ
``item_counts``           item counts of the capped rows (L = max_items_per_user)     √L
``order_positions``       per-item sums of relative positions, capped rows            √L
``order_spread``          Σ_u mean squared position residual                          1
``start_coarse_hist``     yearly histogram of start times, 1970–2100                  1
``start_hist``            64-bin start-time histogram inside the busy years           1
``tempo_hist``            histogram of users' mean log gap                            1
``span_hist``             histogram of users' log span                                1
``gap_hist``              per-user-normalised histogram of gap residuals              1
``mean_rating_hist``      histogram of users' mean rating                             1
``rating_table``          per-user-normalised (bucket, affinity bin, level) table     1
========================  ==========================================================  ================

(the time rows only with timestamps, the rating rows only with ratings; each histogram mechanism and its
post-processing is documented in `synthrec.generators._latent_factor_dp`, reused here.) The budget is
split by `private_fit_shares` and turned into noise multipliers by
`synthrec.privacy.calibrate_noise_multipliers` over the whole plan (DP-SGD's sampled Gaussian included),
so the composed ε is at most the target. Under DP:

* no user is held out and there is **no early stopping**: stopping on held-out users' likelihood would
  read data outside the ledger, so the network trains exactly ``dp_epochs`` epochs, planned before
  training;
* the traits are drawn independently of each other (their DP histograms are marginal), no longer through
  a fitted copula;
* N (the number of users, for q = B/N) and the catalogue are treated as public, as in DP-SGD practice,
  and so is the rating scale (``rating_levels``, or the log's distinct ratings);
* the within-user rank that places a rated row in the rating table comes from the DP network applied to
  the user's own history: it moves her rows between cells, but her rows weigh 1 in total whatever cells
  they fall in, so the table's sensitivity stays 1.

``privacy`` then reports ``PrivacyGuarantee(epsilon=spent, delta=δ, ledger=ledger.to_dict(δ))``.

Sampling a block of new users: draw traits; the user's activity n_u is the trait quantile (rounded,
clipped to [1, m]); logits ℓ_u from the network; n_u distinct items by Gumbel-top-k on ℓ_u (Kool, van
Hoof & Welling 2019, ICML, eq. 8: sampling without replacement from softmax(ℓ_u)); events ordered by
`OrderModel`; timestamps from `TimeModel`; ratings from `RatingModel` with the within-user rank of ℓ_ui.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl
import scipy.sparse as sp
import torch
from torch import nn

from synthrec.data.interactions import ITEM, RATING, TIMESTAMP, USER, InteractionData
from synthrec.errors import ConfigError
from synthrec.generators import _latent_factor_dp as dp
from synthrec.generators._gmm import GaussianMixture, fit_gaussian_mixture
from synthrec.generators._logs import (
    first_pairs,
    public_rating_levels,
    synthetic_block,
    user_traits,
)
from synthrec.generators._ratings import RatingModel
from synthrec.generators._sampling import (
    EmpiricalQuantiles,
    flatten_padded,
    gumbel_top_k,
    row_percentiles,
    sort_rows,
)
from synthrec.generators._timestamps import OrderModel, TimeModel
from synthrec.generators._torch import (
    CsrRows,
    PrivacyHook,
    cpu_state,
    load_device,
    load_network,
    make_loader,
    resolve_device,
    seeded,
    split_users,
    unwrap,
)
from synthrec.generators.base import BaseGenerator
from synthrec.privacy import (
    ContributionBound,
    PlannedGaussian,
    PrivacyGuarantee,
    PrivacyLedger,
    bound_user_contributions,
    calibrate_noise_multipliers,
    gaussian_mechanism,
)

#: share of the budget (in the sense of `synthrec.privacy.calibrate_noise_multipliers`) given to the
#: network's DP-SGD; the history statistics share the rest in the proportions of
#: `synthrec.generators._latent_factor_dp.SHARES`. With 0.5 on ml-100k-sized data (N = 943, B = 64,
#: 20 epochs) DP-SGD's σ is within 10 % of what it gets with 0.9, while the histograms' noise halves.
NETWORK_SHARE = 0.5
#: the mechanisms of the history model under DP (`_latent_factor_dp` names; its Gram and taste sums
#: are the latent-factor network's and are not used here)
HISTORY_MECHANISMS = ("item_counts", "activity_hist", "order_positions", "order_spread", "mean_rating_hist",
                      "rating_table", "start_coarse_hist", "start_hist", "tempo_hist", "span_hist", "gap_hist")
#: the ledger name of the network's DP-SGD
DP_SGD = "dp_sgd"


@dataclass(frozen=True)
class DPTrainingPlan:
    """The network's share of a DP fit, fixed before training (what `_fit_network` must follow).

    Attributes:
        noise_multiplier: σ of DP-SGD (noise sd σ·C per step).
        delta: δ of the whole fit.
        epochs: epochs to train, exactly (no early stopping).
        sample_rate: q = min(1, B/N).
        steps: planned optimizer steps.
        ledger: the fit's ledger; DP-SGD records its entry there.
    """

    noise_multiplier: float
    delta: float
    epochs: int
    sample_rate: float
    steps: int
    ledger: PrivacyLedger


def private_fit_shares(*, has_time: bool, has_rating: bool) -> dict[str, float]:
    """Budget shares of a DP fit (summing to 1): ``NETWORK_SHARE`` for ``"dp_sgd"``, the rest split over
    the history mechanisms the log needs (`HISTORY_MECHANISMS`) in `_latent_factor_dp`'s proportions."""
    base = dp.plan_shares(has_time=has_time, has_rating=has_rating)
    history = {k: v for k, v in base.items() if k in HISTORY_MECHANISMS}
    total = sum(history.values())
    return {DP_SGD: NETWORK_SHARE} | {k: (1.0 - NETWORK_SHARE) * v / total for k, v in history.items()}


class PreferenceGenerator(BaseGenerator):
    """Shared fit/sample/persistence of the torch generators (see the module docstring).

    Subclasses set ``_NETWORKS`` (names of their `nn.Module` attributes), ``batch_size`` and
    ``max_epochs``, and call `_set_shared_settings` from ``__init__`` (``seed``, ``device``,
    ``chunk_users``, ``dp_hook``, ``memory_budget_mb`` and the DP settings). Their `_fit_network` trains
    inside `_training_scope`, gets its loader from `_training_loader` (which, under DP, wraps the module
    that sees real users with `_make_private` as ``_dp_plan`` says) and keeps `_released` networks.
    """

    _NETWORKS: ClassVar[tuple[str, ...]] = ()
    #: every subclass takes ``epsilon`` (DP-SGD plus DP history releases; `_fit_private`)
    supports_dp: ClassVar[bool] = True
    #: share of users held out to early-stop the network on its validation likelihood
    validation_fraction: ClassVar[float] = 0.1
    seed: int
    device: str | None
    chunk_users: int
    dp_hook: PrivacyHook | None
    batch_size: int
    max_epochs: int
    memory_budget_mb: float
    epsilon: float | None = None
    delta: float | None = None
    max_grad_norm: float = 1.0
    dp_epochs: int = 20
    max_items_per_user: int = 64
    rating_levels: tuple[float, ...] | None = None
    _dp_plan: DPTrainingPlan | None = None

    def _set_shared_settings(
        self, *, memory_budget_mb: float, chunk_users: int, device: str | None, seed: int,
        dp_hook: PrivacyHook | None, epsilon: float | None, delta: float | None, max_grad_norm: float,
        dp_epochs: int, max_items_per_user: int, rating_levels: Sequence[float] | None,
    ) -> None:
        """Check (``memory_budget_mb`` > 0 and `check_privacy_args`) and set the settings every subclass
        takes; ``chunk_users`` and ``seed`` are checked by the subclass with its other integers.

        Raises:
            ConfigError: as `check_privacy_args`, or ``memory_budget_mb`` not a finite number > 0.
        """
        check_float("memory_budget_mb", memory_budget_mb, 0.0, np.inf, lo_open=True)
        check_privacy_args(epsilon=epsilon, delta=delta, max_grad_norm=max_grad_norm, dp_epochs=dp_epochs,
                           max_items_per_user=max_items_per_user, rating_levels=rating_levels, dp_hook=dp_hook)
        self.memory_budget_mb = float(memory_budget_mb)
        self.chunk_users, self.device, self.seed, self.dp_hook = chunk_users, device, seed, dp_hook
        self.epsilon = None if epsilon is None else float(epsilon)
        self.delta = None if delta is None else float(delta)
        self.max_grad_norm, self.dp_epochs = float(max_grad_norm), dp_epochs
        self.max_items_per_user = max_items_per_user
        self.rating_levels = None if rating_levels is None else tuple(float(r) for r in rating_levels)

    # ------------------------------------------------------------------ subclass interface

    def _fit_network(self, x: sp.csr_matrix, train_rows: np.ndarray, valid_rows: np.ndarray) -> None:
        raise NotImplementedError

    def _new_user_logits(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _real_pair_scores(self, x: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _build_network(self, name: str) -> nn.Module:
        raise NotImplementedError

    # ------------------------------------------------------------------ fit

    def _fit(self, data: InteractionData) -> None:
        """Fit the network and the history model on ``data`` (see the module and class docstrings; called
        by `BaseGenerator.fit`). Uses columns user, item and, when present, timestamp and rating.

        Raises:
            DataValidationError: a null / non-finite rating or timestamp (the message names the column and
                the first bad row).
            ConfigError: the device is unavailable, or the batch would exceed the memory budget.
        """
        self.device_ = resolve_device(self.device)
        frame, users, items, has_time, has_rating = first_pairs(data)
        n, m = int(users.max()) + 1, data.n_items
        x = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=(n, m))
        self.n_items_ = m
        self.n_train_users_ = n
        self.privacy_ledger_: PrivacyLedger | None = None
        self.privacy_delta_ = 0.0
        self._privacy_record: dict[str, Any] = {}
        if self.is_private:
            self._fit_private(frame, users, items, x, has_time, has_rating)
        else:
            train_rows, valid_rows = split_users(n, self.validation_fraction, self.seed)
            self._fit_network(x, train_rows, valid_rows)
            self._fit_history(frame, users, items, x, has_time, has_rating)

    @property
    def is_private(self) -> bool:
        """True when `fit` runs with differential privacy (``epsilon`` set and finite)."""
        return self.epsilon is not None and math.isfinite(self.epsilon)

    def _fit_history(self, frame: pl.DataFrame, users: np.ndarray, items: np.ndarray, x: sp.csr_matrix,
                     has_time: bool, has_rating: bool) -> None:
        """Exact (non-private) traits, order, time and rating models (module docstring, steps 2–4)."""
        n, m = x.shape
        traits, names, quantiles, time_model = user_traits(frame, users, x, has_time, has_rating)
        self.trait_model_: GaussianMixture = fit_gaussian_mixture(np.column_stack(traits), 1, seed=self.seed)
        self.trait_names_ = names
        self.trait_quantiles_ = quantiles
        self.order_model_ = OrderModel.fit(users, items, m)
        self.time_model_: TimeModel | None = time_model
        self.rating_model_: RatingModel | None = None
        if has_rating:
            scores = self._real_pair_scores(x, users, items)
            self.rating_model_ = RatingModel.fit(users, frame[RATING].to_numpy(), scores, n)

    # ------------------------------------------------------------------ differential privacy

    def _fit_private(self, frame: pl.DataFrame, users: np.ndarray, items: np.ndarray, x: sp.csr_matrix,
                     has_time: bool, has_rating: bool) -> None:
        """User-level (ε, δ)-DP fit of the network and the history model (module docstring, "Differential
        privacy"): plan and calibrate the budget, train the network for exactly ``dp_epochs`` epochs on all
        users, then release the history statistics."""
        assert self.epsilon is not None
        n = x.shape[0]
        delta = self.delta if self.delta is not None else min(1e-5, float(n) ** -1.1)
        levels = public_rating_levels(frame[RATING].to_numpy(), self.rating_levels) if has_rating else None
        from synthrec.privacy.dp_sgd import poisson_schedule  # imports opacus: only under DP

        q, _, steps = poisson_schedule(n, self.batch_size, self.dp_epochs)
        shares = private_fit_shares(has_time=has_time, has_rating=has_rating)
        plan = [PlannedGaussian(k, v, q, steps) if k == DP_SGD else PlannedGaussian(k, v) for k, v in shares.items()]
        sigmas = calibrate_noise_multipliers(plan, epsilon=float(self.epsilon), delta=delta)
        ledger = PrivacyLedger()
        self._dp_plan = DPTrainingPlan(sigmas[DP_SGD], delta, self.dp_epochs, q, steps, ledger)
        self._dp_run: Any = None
        try:
            self._fit_network(x, np.arange(n, dtype=np.int64), np.empty(0, np.int64))
            run = self._dp_run
            if run is None or run.steps_taken() > steps:  # a bug in a subclass, never a user error
                raise RuntimeError(f"{type(self).__name__}._fit_network did not train through _make_private "
                                   f"within its {steps} planned steps")
            taken = run.steps_taken()
        finally:
            self._dp_plan, self._dp_run = None, None
        self._fit_history_private(frame, users, items, x, has_time, has_rating, levels, sigmas, ledger)
        spent = ledger.spent(delta)
        if spent > float(self.epsilon) * (1 + 1e-9):  # calibration guarantees this; never release otherwise
            raise RuntimeError(f"DP fit spent ε = {spent} over the target {self.epsilon}")
        self.privacy_ledger_ = ledger
        self.privacy_delta_ = float(delta)
        self._privacy_record = ledger.to_dict(delta)  # the accountant is slow for sampled steps: once
        self.fit_report_["privacy"] = copy.deepcopy(self._privacy_record) | {
            "epsilon_target": float(self.epsilon), "dp_sgd_steps_taken": taken,
            "epsilon_alone": {e.name: _alone(e.name, ledger, delta) for e in ledger.gaussian},
        }

    def _make_private(self, module: nn.Module, optimizer: torch.optim.Optimizer, dataset: Any) -> Any:
        """Wrap the module that sees real users for DP-SGD as ``_dp_plan`` says (call once, from
        `_fit_network`, under DP). Returns the `synthrec.privacy.dp_sgd.PrivateTraining`; its loader yields
        1-tuples ``(batch,)``, possibly of 0 users."""
        from synthrec.privacy.dp_sgd import make_private_training

        plan = self._dp_plan
        assert plan is not None, "_make_private is for DP fits only"
        run = make_private_training(module, optimizer, dataset, noise_multiplier=plan.noise_multiplier,
                                    delta=plan.delta, epochs=plan.epochs, batch_size=self.batch_size,
                                    max_grad_norm=float(self.max_grad_norm), seed=self.seed, ledger=plan.ledger,
                                    name=DP_SGD)
        if (run.sample_rate, run.steps) != (plan.sample_rate, plan.steps):  # the same poisson_schedule
            raise RuntimeError(f"DP-SGD plan mismatch: q={run.sample_rate}, steps={run.steps} vs "
                               f"q={plan.sample_rate}, steps={plan.steps} (the dataset must hold all N users)")
        self._dp_run = run
        return run

    @contextmanager
    def _training_scope(self) -> Iterator[None]:
        """Seed torch (``seed``, on ``device_``) for the training inside; silence opacus's warning that its
        hooks fire on a first layer whose input needs no gradient (harmless)."""
        with seeded(self.seed, self.device_), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
            yield

    def _training_loader(
        self, module: nn.Module, optimizer: torch.optim.Optimizer, x: sp.csr_matrix, train_rows: np.ndarray
    ) -> tuple[nn.Module, torch.optim.Optimizer, Any, int]:
        """``(module, optimizer, loader, epochs)`` to train on the rows ``train_rows`` of ``x``: under DP
        wrapped by `_make_private` for exactly ``dp_epochs`` epochs (the loader yields 1-tuples
        ``(batch,)``); otherwise a seeded shuffling loader of ``batch_size`` rows for up to ``max_epochs``
        epochs, passed through ``dp_hook`` when one is set."""
        dataset = CsrRows(x, train_rows)
        if self._dp_plan is not None:
            run = self._make_private(module, optimizer, dataset)
            return run.module, run.optimizer, run.loader, self.dp_epochs
        loader = make_loader(dataset, self.batch_size, self.seed)
        if self.dp_hook is not None:
            module, optimizer, loader = self.dp_hook(module, optimizer, loader)
        return module, optimizer, loader, self.max_epochs

    @staticmethod
    def _released(module: nn.Module, *, private: bool) -> nn.Module:
        """The trained network to keep: a plain module (no opacus hooks or per-example gradients when
        ``private``; no hook wrapper), in eval mode, its gradients dropped (weights only)."""
        if private:
            module = module.to_standard_module()  # type: ignore[operator]
        net = unwrap(module)
        net.zero_grad(set_to_none=True)
        return net.eval()

    def _fit_history_private(
        self, frame: pl.DataFrame, users: np.ndarray, items: np.ndarray, x: sp.csr_matrix, has_time: bool,
        has_rating: bool, levels: np.ndarray | None, sigmas: dict[str, float], ledger: PrivacyLedger,
    ) -> None:
        """Traits, order, time and rating models from the DP releases of the module docstring's table
        (mechanisms of `synthrec.generators._latent_factor_dp`); traits independent."""
        m = x.shape[1]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x5EC]))
        bound = ContributionBound(self.max_items_per_user)
        keep = bound_user_contributions(users, self.max_items_per_user, seed=int(rng.integers(2**62)))
        cu, ci = users[keep], items[keep]
        deg = np.diff(x.indptr).astype(np.float64)
        activity, n_noisy = dp.activity_quantiles(deg, m, sigmas["activity_hist"], rng, ledger)
        counts = gaussian_mechanism(np.bincount(ci, minlength=m).astype(np.float64), sensitivity=bound.counts_l2,
                                    noise_multiplier=sigmas["item_counts"], rng=rng, ledger=ledger,
                                    name="item_counts")
        names = ["log_activity"] + (["mean_rating"] if has_rating else [])
        quantiles: dict[str, EmpiricalQuantiles] = {"log_activity": activity}
        self.time_model_, time_names, time_q = dp.time_traits(
            users, frame[TIMESTAMP].to_numpy() if has_time else None, sigmas, rng, ledger)
        names += time_names
        quantiles.update(time_q)
        self.order_model_ = dp.order_model(cu, ci, m, np.maximum(counts, 0.0), n_noisy, bound, sigmas, rng, ledger)
        self.rating_model_ = None
        if has_rating:
            assert levels is not None
            scores = self._real_pair_scores(x, cu, ci)
            self.rating_model_, quantiles["mean_rating"] = dp.rating_model(
                users, frame[RATING].to_numpy().astype(np.float64), levels, keep, scores, sigmas, rng, ledger)
        d = len(names)  # independent traits: a standard normal copula
        self.trait_model_ = GaussianMixture(weights=np.ones(1), means=np.zeros((1, d)), chols=np.eye(d)[None],
                                            log_likelihood=float("nan"))
        self.trait_names_ = names
        self.trait_quantiles_ = quantiles

    @property
    def privacy(self) -> PrivacyGuarantee:
        """The fitted guarantee (`PrivacyGuarantee`, as
        `synthrec.generators.latent_factor.LatentFactorGenerator.privacy`; its ledger JSON-ready).

        A DP fit reports the ε its ledger's composed spend gives at δ (≤ the requested ε) and the ledger as a
        dict; a non-DP fit reports ε = ∞, δ = 0 and no ledger.

        Raises:
            NotFittedError: before `fit`.
        """
        self._require_fitted()
        if getattr(self, "privacy_ledger_", None) is None:
            return PrivacyGuarantee.none()
        record = copy.deepcopy(self._privacy_record)
        return PrivacyGuarantee(record["epsilon"], record["delta"], record)

    # ------------------------------------------------------------------ sampling

    def _draw_traits(self, n_users: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Activities int64 ``(N,)`` in [1, m] and each trait's probability F_j(z_j) ∈ [0, 1]."""
        z = self.trait_model_.sample(n_users, rng)
        pct = {nm: self.trait_model_.marginal_cdf(j, z[:, j]) for j, nm in enumerate(self.trait_names_)}
        activity = self.trait_quantiles_["log_activity"].ppf(pct["log_activity"])
        return np.clip(np.rint(activity), 1, self.n_items_).astype(np.int64), pct

    def _sample_block(self, n_users: int, rng: np.random.Generator, first_user: int) -> InteractionData:
        self._require_fitted()
        length, pct = self._draw_traits(n_users, rng)
        rows_l, items_l, aff_l = [], [], []
        for lo in range(0, n_users, self.chunk_users):
            hi = min(lo + self.chunk_users, n_users)
            logits = self._new_user_logits(hi - lo, rng)
            top, mask = gumbel_top_k(logits, length[lo:hi], rng)
            affinity = row_percentiles(np.take_along_axis(logits, top, axis=1), mask)
            top, affinity = sort_rows(self.order_model_.keys(top, rng), mask, top, affinity)
            r, it, aff = flatten_padded(mask, top, affinity)
            rows_l.append(r + lo)
            items_l.append(it)
            aff_l.append(aff)
        rows = np.concatenate(rows_l) if rows_l else np.empty(0, np.int64)
        items = np.concatenate(items_l) if items_l else np.empty(0, np.int64)
        cols: dict[str, pl.Series] = {
            USER: pl.Series(USER, rows, dtype=pl.Int32),
            ITEM: pl.Series(ITEM, items, dtype=pl.Int32),
        }
        if self.time_model_ is not None:
            q = self.trait_quantiles_
            times = self.time_model_.generate(q["start_time"].ppf(pct["start_time"]), q["tempo"].ppf(pct["tempo"]),
                                              q["log_span"].ppf(pct["log_span"]), length, rng)
            cols[TIMESTAMP] = pl.Series(TIMESTAMP, times, dtype=pl.Int64)
        if self.rating_model_ is not None:
            affinity = np.concatenate(aff_l) if aff_l else np.empty(0)
            cols[RATING] = pl.Series(RATING, self.rating_model_.sample(pct["mean_rating"], rows, affinity, rng),
                                     dtype=pl.Float32)
        return synthetic_block(cols, first_user, n_users, self.item_ids_, self.items_, self.source_name_)

    def preferences(self, n_users: int, *, seed: int) -> np.ndarray:
        """Item-choice probabilities softmax(ℓ_u) of ``n_users`` new users, float32 ``(n_users, m)``.

        The distribution each new user's items are drawn from (before activity and Gumbel-top-k); rows sum
        to 1. Used by diagnostics such as `synthrec.generators.gan.mode_collapse_report`.
        """
        self._require_fitted()
        if n_users < 0:
            raise ConfigError(f"n_users must be >= 0, got {n_users}")
        rng = np.random.default_rng(seed)
        out = np.empty((n_users, self.n_items_), np.float32)
        for lo in range(0, n_users, self.chunk_users):
            logits = self._new_user_logits(min(self.chunk_users, n_users - lo), rng)
            logits -= logits.max(axis=1, keepdims=True)
            np.exp(logits, out=logits)
            out[lo:lo + len(logits)] = logits / logits.sum(axis=1, keepdims=True)
        return out

    # ------------------------------------------------------------------ persistence

    def __getstate__(self) -> dict[str, Any]:
        """Networks are kept as CPU state dicts (by `save` and by pickle; load on any device); the DP hook is
        not kept."""
        state = self.__dict__.copy()
        state["dp_hook"] = None
        for transient in ("device_", "_dp_plan", "_dp_run"):
            state.pop(transient, None)
        for name in self._NETWORKS:
            if name in state:
                state[name] = cpu_state(state[name])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if not self._fitted:
            return
        self.device_ = load_device(self.device)
        for name in self._NETWORKS:
            if name in state:
                setattr(self, name, load_network(self._build_network(name), state[name], self.device_))

    @torch.no_grad()
    def _run(self, module: nn.Module, inputs: np.ndarray) -> np.ndarray:
        """Apply ``module`` in eval mode to a float32 numpy batch; float32 numpy result."""
        out = module(torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)).to(self.device_))
        return np.asarray(out.float().cpu().numpy(), dtype=np.float32)


def check_int(name: str, value: object, minimum: int) -> None:
    """Raise ConfigError unless ``value`` is an int ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_float(
    name: str, value: object, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False
) -> None:
    """Raise ConfigError unless ``value`` is a finite number in the interval from ``lo`` to ``hi``."""
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        rng = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
        raise ConfigError(f"{name} must be a number in {rng}, got {value!r}")


def check_privacy_args(
    *, epsilon: object, delta: object, max_grad_norm: object, dp_epochs: object, max_items_per_user: object,
    rating_levels: object, dp_hook: object,
) -> None:
    """Validate the DP settings of a preference generator.

    Raises:
        ConfigError: ε not None and not > 0 (``inf`` = no privacy); δ not None and not in (0, 1);
            max_grad_norm not finite > 0; dp_epochs or max_items_per_user not an int ≥ 1; rating_levels
            not None and not a non-empty sequence of finite numbers; or a finite ε together with
            ``dp_hook`` (one DP mechanism at a time).
    """
    if epsilon is not None and not (isinstance(epsilon, (int, float, np.floating)) and not isinstance(epsilon, bool)
                                    and float(epsilon) > 0):
        raise ConfigError(f"epsilon must be None or a number > 0 (inf = no privacy), got {epsilon!r}")
    if delta is not None:
        check_float("delta", delta, 0.0, 1.0, lo_open=True, hi_open=True)
    check_float("max_grad_norm", max_grad_norm, 0.0, np.inf, lo_open=True)
    check_int("dp_epochs", dp_epochs, 1)
    check_int("max_items_per_user", max_items_per_user, 1)
    if rating_levels is not None:
        levels = np.asarray(rating_levels, dtype=np.float64) if isinstance(rating_levels, Sequence) else None
        if levels is None or levels.ndim != 1 or not levels.size or not np.isfinite(levels).all():
            raise ConfigError(f"rating_levels must be None or a non-empty sequence of finite numbers, got "
                              f"{rating_levels!r}")
    if epsilon is not None and math.isfinite(float(epsilon)) and dp_hook is not None:  # type: ignore[arg-type]
        raise ConfigError("epsilon and dp_hook both make training private: give one (epsilon runs DP-SGD "
                          "through opacus and accounts for every released statistic; dp_hook is your own)")


def _alone(name: str, ledger: PrivacyLedger, delta: float) -> float:
    """ε of one Gaussian entry of ``ledger`` on its own at ``delta`` (for the report; the guarantee is
    the composed spend, smaller than the sum of these)."""
    alone = PrivacyLedger()
    for e in ledger.gaussian:
        if e.name == name:
            alone.record_gaussian(e.name, noise_multiplier=e.noise_multiplier, sensitivity=e.sensitivity,
                                  sample_rate=e.sample_rate, steps=e.steps)
    return alone.spent(delta)
