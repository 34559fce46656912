"""`LatentFactorGenerator`: a fitted low-rank model that draws new synthetic users with histories."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np
import polars as pl
import scipy.linalg as sla
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from synthrec.data.interactions import RATING, TIMESTAMP, InteractionData
from synthrec.errors import ConfigError
from synthrec.generators import _latent_factor_dp as dp
from synthrec.generators._gmm import GaussianMixture, conditional_mixture_sample, fit_gaussian_mixture
from synthrec.generators._logs import (
    event_columns,
    first_pairs,
    public_rating_levels,
    rating_scale_param,
    synthetic_block,
    user_traits,
)
from synthrec.generators._ratings import RatingModel
from synthrec.generators._sampling import (
    EmpiricalQuantiles,
    GuideTables,
    first_distinct,
    flatten_padded,
    gumbel_top_k,
    rank_within_rows,
    rosen_solve,
    row_percentiles,
    sort_rows,
    successive_sample,
)
from synthrec.generators._timestamps import OrderModel, TimeModel
from synthrec.generators.base import BaseGenerator
from synthrec.privacy import (
    ContributionBound,
    PlannedGaussian,
    PrivacyGuarantee,
    PrivacyLedger,
    bound_user_contributions,
    calibrate_noise_multipliers,
)

#: relative affinity scales tried by ``affinity_scale="auto"`` (multiples of 1 / sd of the scores);
#: the best is then refined by a factor √2 either way.
AUTO_SCALE_GRID: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
#: the calibration simulates at most this many (user, item) cells per round: users = cells / n_items
_CALIBRATION_CELLS = 8_000_000
#: cells of one chunk of logits while calibrating
_CHUNK_CELLS = 2_000_000
#: at most this many (user, item) cells of logits at once while sampling (`chunk_users` users, fewer on
#: catalogues over 23,437 items): the exact sampler holds about 40 bytes per cell, so ≈ 1 GB; measured at
#: 100,000 items, 1,024-user chunks peaked at 4.0 GB RSS, 240-user chunks below 2 GB and 30 % less CPU
_SAMPLE_CHUNK_CELLS = 24_000_000
#: users per chunk of the fast sampler (keeps its packed int64 sort keys in range)
_FAST_CHUNK_USERS = 8192
#: items per prototype with explicit clocks in the fast sampler (the rest: a Poisson stream of draws)
_FAST_HEAVY = 32
#: cells of one chunk of calibration logits (1 MiB of float32: the passes of `rosen_solve` stay in cache)
_ROSEN_CHUNK_CELLS = 262_144
#: the exponential race costs about as much per drawn item as Gumbel-top-k per catalogue cell × this
#: (measured 2026-11-29 on random logits, m = 1,682–10,000 items: the race wins below mean length m / 60)
RACE_CELLS_PER_ITEM = 60


class LatentFactorGenerator(BaseGenerator):
    r"""Low-rank user/item model with a fitted distribution of user traits; samples new users.

    **Fit** (on a real log with ``n`` active users and ``m`` items; repeated (user, item) pairs count once,
    at their first occurrence):

    1. *Item and user factors.* Binary matrix X (n × m), item counts c_i. Truncated SVD of the
       popularity-normalised matrix X·W, W = diag((c_i + 1)^{-1/2}) (PureSVD: Cremonesi, Koren & Turrin
       2010, "Performance of recommender algorithms on top-N recommendation tasks", RecSys; the column
       scaling keeps the leading factors from being only popularity), computed by randomized SVD
       (Halko, Martinsson & Tropp 2011, SIAM Review, Alg. 4.4 + 5.1): X·W ≈ Q Σ Pᵀ with k factors.
       User vectors u = rows of QΣ, item vectors v_i = P_i / w_i, so u·v_i ≈ X_ui.
    2. *User traits.* Each real user is a point z = (u, log n_u [, mean rating] [, start time t₀,
       tempo μ_u, log(1 + span T_u)]).
       A full-covariance Gaussian mixture p(z) = Σ_c π_c N(z | μ_c, Σ_c) is fitted by MAP-EM (see
       `synthrec.generators._gmm`). A NEW user is a draw z ~ p(z): not a copy of a real user. Each scalar
       trait is then mapped through the mixture's marginal CDF onto the smoothed empirical quantile
       function of the real trait, x = Q̂(F_j(z_j)) (a Gaussian-mixture copula; Sklar 1959), so the
       activity distribution, start times, etc. match the real marginals while their dependence on the
       user vector is kept (heavy users keep their heavy-user tastes).
    3. *Items of a user.* Logits ℓ_ui = a · u·v_i + b_i. A user with activity n_u gets n_u distinct items
       sampled without replacement from softmax(ℓ_u) (successive sampling / Plackett–Luce), via
       Gumbel-top-k: the top-n_u of ℓ_u + G, G ~ Gumbel(0, 1) (Kool, van Hoof & Welling 2019, "Stochastic
       Beams and Where to Find Them", ICML, eq. 8); drawn with `successive_sample`, an exact sampler of
       the same law that avoids n_u·m noise draws (exponential race with a Poisson stream for the light
       items).
    4. *Item popularity.* b_i is calibrated so the expected item counts of simulated users match the
       real counts, by raking updates b_i ← b_i + log((c_i + ½)/(ĉ_i + ½)) / ε_i (iterative proportional
       fitting, Deming & Stephan 1940, with a diagonal Newton step: ε_i is the count's elasticity).
       ĉ_i = Σ_u π_ui, rescaled to the real total, uses Rosén's (1972) inclusion probabilities of
       successive sampling, π_ui = 1 − exp(−t_u e^{ℓ_ui}) with Σ_i π_ui = n_u (solved by `rosen_solve`,
       warm-started across rounds), so the calibration has no item-sampling noise. It simulates ``calibration_users`` users, or fewer for catalogues over
       4,000 items (at most 8M user × item cells, at least 200 users).
    5. *Affinity scale a.* ``affinity_scale="auto"`` picks a by the simulated method of moments
       (McFadden 1989, Econometrica 57): among a grid of a values (each with its own calibrated b), the
       one whose expected item–item cosine-similarity matrix S_ij = G_ij / √(G_ii G_jj), with
       G_ij = Σ_u π_ui π_uj (G_ii = Σ_u π_ui), over the ``gram_items`` most popular items is closest in
       Frobenius norm (off-diagonal) to the real one (G = XᵀX). Larger a makes histories more coherent
       (closer to the low-rank structure), smaller a more random. The cosine normalisation keeps the few
       most popular pairs from dominating the moment (on ml-100k and ml-1m the raw-count moment chose
       too small an a and lost ~5 % TSTR utility).
    6. *Ratings* (if the log has them): ordinal quantile mapping P(r | user mean-rating bucket,
       within-user affinity bin of ℓ_ui), see `synthrec.generators._ratings`. The real rating scale
       (e.g. 0.5 steps) is kept.
    7. *Order and timestamps.* A user's items are ordered by their typical relative position in real
       histories plus noise (items real users meet early come first, recent ones last); the first event
       is at the user's start time t₀, the last about T_u later, with gap shapes expm1(μ_u + r) from the
       real within-user gap residuals in between (see `synthrec.generators._timestamps`). Steps are
       ≥ 1 s, so times strictly increase within a user, and they are never clipped at the real maximum
       time. Without a time column the output has none, but rows are still in this order.

    **Differential privacy** (``epsilon`` set and finite): a user-level (ε, δ)-DP fit — neighbouring logs
    differ by one user and all her rows. Every part above is estimated from noised statistics only (see
    `synthrec.generators._latent_factor_dp` for each mechanism and its sensitivity), all released through
    `synthrec.privacy` and composed by opacus's RDP accountant:

    * each user's distinct items are capped to ``max_items_per_user`` = L by a seeded uniform sample;
    * step 1 uses noisy item counts (L2 sensitivity √L) and a noisy Gram matrix ("Analyze Gauss",
      Dwork, Talwar, Thakurta & Zhang 2014, STOC) of each user's item vector scaled to length 1
      (sensitivity 1; off-diagonal noise σ/√2), over the items with the highest noisy counts; its
      eigendecomposition, with eigenvalues shrunk for the noise (Benaych-Georges & Nadakuditi 2011),
      replaces the SVD (`_latent_factor_dp.normalised_gram`);
    * step 2's mixture is replaced by one Gaussian over user vectors whose mean and covariance follow from
      the noisy counts and Gram eigenvalues, with the scalar traits drawn independently from DP histograms
      on fixed public bins (activity, mean rating, start time, tempo, span) — their dependence on the user
      vector is not kept;
    * steps 3–5 run on the noisy counts and the noisy co-occurrence block (post-processing);
    * step 6 uses a noisy, per-user-normalised table over 3 rating buckets × 4 affinity bins; step 7 noisy
      item position sums and per-user-normalised histograms of gap residuals.

    The fitted model holds no per-user record; ``privacy`` reports the spent (ε, δ) and the ledger. The
    rating scale is treated as public (``rating_levels``, or the log's distinct values), and so is the
    item catalogue — every item id of the log and its items table — as in Private ALS (Chien et al.,
    ICML 2021): it is stored in the model and any item may appear in samples. Where an item id is itself
    sensitive (an item only one person has), drop rare items before fitting.

    **Output** of `sample`: `InteractionData` over the SAME item vocabulary (``item_ids``) and ``items``
    attribute table as the fitted data (so it can be stacked with real users via ``concat_users``),
    users ``"syn-0"``, ``"syn-1"``, ... (offset per batch), columns user, item [, timestamp] [, rating];
    never a repeated (user, item) pair. Other columns (event, session) are not generated.

    Args:
        n_factors: k, the number of latent factors (≥ 1). Clamped, with a warning, to min(n, m).
        n_components: components of the user-trait mixture (≥ 1); reduced to n_users // 20 (≥ 1)
            for small logs so each component has enough users. Default 1 (one full-covariance
            Gaussian): on ml-100k and ml-1m it gave the best TSTR utility; use more for populations
            with distinct segments.
        affinity_scale: ``"auto"`` (simulated method of moments, step 5) or a positive multiple of
            1 / sd(u·v) used as a directly.
        calibration_iters: raking rounds for b per candidate scale (≥ 0; 0 keeps b_i = log(c_i + ½)).
        calibration_users: simulated users in the calibration (≥ 1; see step 4).
        gram_items: the co-occurrence moment of step 5 uses at most this many most popular items (≥ 2).
        mixture_prior: τ, prior pseudo-points pulling each mixture covariance to the pooled one (≥ 0).
        fixed_length: if set, every synthetic user gets exactly this many events (instead of a drawn
            activity); `sample` raises ConfigError when it exceeds the number of items. May be set or
            changed after fitting (the calibration always uses drawn activities). Timestamps still
            span the user's drawn span T_u (+1 s per extra event).
        chunk_users: users whose logits (chunk × m, float32) are formed at once while sampling (fewer when
            chunk × m would exceed 24 M cells, so memory stays near 1 GB on large catalogues).
        seed: seeds every random step of `fit` (SVD sketch, mixture initialisation, calibration, and
            under DP the contribution sample and all noise).
        epsilon: None or ``inf`` for the exact (non-private) fit; a finite ε > 0 for a user-level
            (ε, δ)-DP fit (see "Differential privacy").
        delta: δ ∈ (0, 1) of the DP fit; default min(10⁻⁵, n^−1.1) for n users in the log (below 1/n,
            the usual rule; n itself is treated as public, as in DP-SGD practice).
        max_items_per_user: L, the cap on each user's distinct items in the DP fit (≥ 1). Larger L keeps
            more of heavy users' data but adds proportionally more noise to the Gram matrix.
        rating_levels: the public rating scale for the DP fit (e.g. ``[1, 2, 3, 4, 5]``); default the
            log's distinct ratings (at most 64, else ConfigError).
        sampler: ``"exact"`` (default: every user her own vector and logits over the whole catalogue) or
            ``"fast"``, an approximation: the users of a batch share the item distributions of
            ``prototypes`` prototype users (see `_sample_fast`; each user's traits and, given her
            prototype, her items keep the exact law; users of a batch are not independent). May be
            changed after fitting. Measured (benchmarks/README.md §15): 2.6× the exact rate on a
            10,000-item model at 256 prototypes, but slower than exact on ml-100k and biased there below
            1,024 prototypes.
        prototypes: K, prototype users per batch of the fast sampler (≥ 1; min(K, batch users) are used).

    Raises:
        ConfigError: an argument is out of range (message names it and the valid range).

    Fitted attributes (after `fit`): ``item_factors_`` float32 (m, k), ``item_bias_`` float32 (m,),
    ``scale_`` (a), ``user_model_`` (`GaussianMixture`), ``n_factors_`` (k used), ``fit_report_`` (dict:
    ``score_sd``, ``cooccurrence_distance`` {relative scale: distance}, ``relative_scale`` chosen; under DP
    also ``privacy``), ``privacy_ledger_`` (`PrivacyLedger` or None), ``privacy_delta_``.

    Measured (``python benchmarks/latent_factor_ml100k.py``; ml-100k, leave-last-out, fitted on train):
    synthetic-only EASE reaches about 95 % of real-only EASE NDCG@10 with as many synthetic users as real
    ones and about 99 % with twice as many; popularity Gini within 0.01 of the real one.
    """

    supports_dp: ClassVar[bool] = True  # a finite ``epsilon`` gives the user-level DP fit

    def __init__(
        self,
        n_factors: int = 64,
        *,
        n_components: int = 1,
        affinity_scale: float | Literal["auto"] = "auto",
        calibration_iters: int = 8,
        calibration_users: int = 2000,
        gram_items: int = 1000,
        mixture_prior: float = 1.0,
        fixed_length: int | None = None,
        chunk_users: int = 1024,
        seed: int = 0,
        epsilon: float | None = None,
        delta: float | None = None,
        max_items_per_user: int = 64,
        rating_levels: Sequence[float] | None = None,
        sampler: Literal["exact", "fast"] = "exact",
        prototypes: int = 256,
    ) -> None:
        _check_int("n_factors", n_factors, 1)
        _check_int("n_components", n_components, 1)
        _check_int("calibration_iters", calibration_iters, 0)
        _check_int("calibration_users", calibration_users, 1)
        _check_int("gram_items", gram_items, 2)
        _check_int("chunk_users", chunk_users, 1)
        _check_int("seed", seed, 0)
        _check_sampler(sampler, prototypes)
        if fixed_length is not None:
            _check_int("fixed_length", fixed_length, 1)
        if affinity_scale != "auto" and not (
            isinstance(affinity_scale, (int, float)) and not isinstance(affinity_scale, bool)
            and np.isfinite(affinity_scale) and affinity_scale > 0
        ):
            raise ConfigError(f"affinity_scale must be 'auto' or a positive number, got {affinity_scale!r}")
        if not (isinstance(mixture_prior, (int, float)) and np.isfinite(mixture_prior) and mixture_prior >= 0):
            raise ConfigError(f"mixture_prior must be a number >= 0, got {mixture_prior!r}")
        self.n_factors = n_factors
        self.n_components = n_components
        self.affinity_scale = affinity_scale
        self.calibration_iters = calibration_iters
        self.calibration_users = calibration_users
        self.gram_items = gram_items
        self.mixture_prior = float(mixture_prior)
        self.fixed_length = fixed_length
        self.chunk_users = chunk_users
        self.seed = seed
        if epsilon is not None and not (
            isinstance(epsilon, (int, float)) and not isinstance(epsilon, bool) and epsilon > 0
        ):
            raise ConfigError(f"epsilon must be None or a number > 0 (inf = no privacy), got {epsilon!r}")
        if delta is not None and not (isinstance(delta, (int, float)) and 0 < delta < 1):
            raise ConfigError(f"delta must be None or a number in (0, 1), got {delta!r}")
        _check_int("max_items_per_user", max_items_per_user, 1)
        self.epsilon = None if epsilon is None else float(epsilon)
        self.delta = None if delta is None else float(delta)
        self.max_items_per_user = max_items_per_user
        self.rating_levels = rating_scale_param(rating_levels)
        self.sampler = sampler
        self.prototypes = prototypes

    def __repr__(self) -> str:
        state = "fitted" if self._fitted else "not fitted"
        return (f"LatentFactorGenerator(n_factors={self.n_factors}, n_components={self.n_components}, "
                f"affinity_scale={self.affinity_scale!r}, {state})")

    # ------------------------------------------------------------------ fit

    def _fit(self, data: InteractionData) -> None:
        """Fit all parts of the model (see the class docstring) on ``data`` (called by `BaseGenerator.fit`).

        Uses columns user, item and, when present, timestamp and rating.

        Raises:
            DataValidationError: a rating/timestamp is null or not finite.

        BLAS runs single-threaded inside `fit` and `sample` (restored afterwards): the matrices are small,
        and two BLAS threads made the ml-100k fit 2.6× slower on a busy 2-core machine. Parallelise
        across `sample_batches` instead.
        """
        with threadpool_limits(limits=1, user_api="blas"):
            if self.epsilon is not None and np.isfinite(self.epsilon):
                self._fit_dp(data)
            else:
                self._fit_exact(data)

    def _fit_exact(self, data: InteractionData) -> None:
        self.privacy_ledger_: PrivacyLedger | None = None
        self.privacy_delta_: float = 0.0
        frame, users, items, has_time, has_rating = first_pairs(data)
        n, m = int(users.max()) + 1, data.n_items
        rng = np.random.default_rng(self.seed)

        # 1. factors
        x = sp.csr_matrix((np.ones(len(users), np.float64), (users, items)), shape=(n, m))
        counts = np.bincount(items, minlength=m).astype(np.float64)
        k = min(self.n_factors, n, m)
        if k < self.n_factors:
            warnings.warn(f"n_factors={self.n_factors} exceeds min(users, items) = {min(n, m)} of "
                          f"'{data.name}'; using {k} factors", UserWarning, stacklevel=4)
        w = 1.0 / np.sqrt(counts + 1.0)
        q, s, pt = _randomized_svd(x @ sp.diags(w), k, rng)
        user_vecs = q * s
        item_vecs = pt.T / w[:, None]
        # sd of all n·m scores u·v_i without forming them: E[s²] = tr(UᵀU VᵀV)/(nm), E[s] = ū·v̄
        second = float(np.sum((user_vecs.T @ user_vecs) * (item_vecs.T @ item_vecs))) / (n * m)
        mean = float(user_vecs.mean(axis=0) @ item_vecs.mean(axis=0))
        score_sd = float(np.sqrt(max(second - mean * mean, 0.0))) or 1.0

        # 2. user traits
        traits, names, quantiles, time_model = user_traits(frame, users, x, has_time, has_rating)
        n_comp = max(1, min(self.n_components, n // 20))
        self.user_model_: GaussianMixture = fit_gaussian_mixture(
            np.column_stack([user_vecs, *traits]), n_comp, seed=self.seed, prior_weight=self.mixture_prior,
        )
        self.trait_names_ = names
        self.trait_quantiles_ = quantiles  # activity and span on the output scale (see user_traits)
        self.n_factors_ = k
        self.item_factors_ = item_vecs.astype(np.float32)
        self.n_items_ = m

        # 3-5. popularity calibration and affinity scale
        top = np.argsort(-counts, kind="stable")[: min(self.gram_items, m)]
        xt = x[:, top]
        bias = self._fit_popularity_and_scale(counts, top, _cosine((xt.T @ xt).toarray()), score_sd, rng)

        # 6-7. ratings, order, time
        real_scores = np.empty(len(users))
        if n * m <= _CALIBRATION_CELLS:  # one (n × m) product beats gathering (pairs × k) rows
            real_scores[:] = self.scale_ * (user_vecs @ item_vecs.T)[users, items] + bias[items]
        else:
            for lo in range(0, len(users), 1 << 20):  # chunks of 1M pairs bound the (pairs × k) temporaries
                u, i = users[lo:lo + (1 << 20)], items[lo:lo + (1 << 20)]
                real_scores[lo:lo + len(u)] = (self.scale_ * np.einsum("nk,nk->n", user_vecs[u], item_vecs[i])
                                               + bias[i])
        self.rating_model_: RatingModel | None = None
        if has_rating:
            self.rating_model_ = RatingModel.fit(users, frame[RATING].to_numpy(), real_scores, n)
        self.order_model_ = OrderModel.fit(users, items, m)
        self.time_model_: TimeModel | None = time_model

    def _fit_dp(self, data: InteractionData) -> None:
        """User-level (ε, δ)-DP fit: every model part from noised statistics (see "Differential privacy")."""
        assert self.epsilon is not None
        frame, users, items, has_time, has_rating = first_pairs(data)
        n, m = int(users.max()) + 1, data.n_items
        delta = self.delta if self.delta is not None else min(1e-5, float(n) ** -1.1)
        if not 0 < delta < 1:
            raise ConfigError(f"delta must be in (0, 1), got {delta!r}")
        levels = None
        if has_rating:
            levels = public_rating_levels(frame[RATING].to_numpy(), self.rating_levels)
        shares = dp.plan_shares(has_time=has_time, has_rating=has_rating)
        sigmas = calibrate_noise_multipliers([PlannedGaussian(k, v) for k, v in shares.items()],
                                             epsilon=float(self.epsilon), delta=delta)
        bound = ContributionBound(self.max_items_per_user)
        ledger = PrivacyLedger()
        rng = np.random.default_rng(self.seed)
        keep = bound_user_contributions(users, self.max_items_per_user, seed=int(rng.integers(2**62)))
        cu, ci = users[keep], items[keep]
        x = sp.csr_matrix((np.ones(len(cu)), (cu, ci)), shape=(n, m))

        # per-user traits first: the activity histogram also gives the noisy number of users ñ
        deg = np.bincount(users, minlength=n).astype(np.float64)
        activity, n_noisy = dp.activity_quantiles(deg, m, sigmas["activity_hist"], rng, ledger)
        stats = dp.item_statistics(x, self.n_factors, n_noisy, bound, sigmas, rng, ledger)
        k = stats.item_vecs.shape[1]  # may be < n_factors: only factors above the noise are kept
        names = ["log_activity"]
        quantiles: dict[str, EmpiricalQuantiles] = {"log_activity": activity}
        if has_rating:
            names.append("mean_rating")
        time_model, time_names, time_q = dp.time_traits(
            users, frame[TIMESTAMP].to_numpy() if has_time else None, sigmas, rng, ledger)
        names += time_names
        quantiles.update(time_q)
        self.n_factors_ = k
        self.item_factors_ = stats.item_vecs.astype(np.float32)
        self.n_items_ = m
        self.user_model_ = dp.user_model(stats.user_mean, stats.user_second, len(names))
        self.trait_names_ = names
        self.trait_quantiles_ = quantiles  # mean_rating is added below, before sampling needs it

        # sd of u·v over users × items, from the released moments: E[s²] = tr(E[uuᵀ] VᵀV)/m, E[s] = E[u]·v̄
        v = stats.item_vecs
        second = float(np.sum(stats.user_second * (v.T @ v))) / m
        mean = float(stats.user_mean @ v.mean(axis=0))
        score_sd = float(np.sqrt(max(second - mean * mean, 0.0))) or 1.0
        if has_rating:  # placeholder quantiles for the calibration's draws (ratings do not enter it)
            self.trait_quantiles_["mean_rating"] = EmpiricalQuantiles(np.linspace(0, 1, 2), np.zeros(2))
        top_pos = np.arange(min(self.gram_items, len(stats.gram_items)))  # gram_items is sorted by noisy count
        block = stats.gram[np.ix_(top_pos, top_pos)]
        bias = self._fit_popularity_and_scale(stats.counts, stats.gram_items[top_pos], _cosine(block), score_sd,
                                              rng)

        self.rating_model_ = None
        if has_rating:
            assert levels is not None
            sub = stats.gram_items
            uvec = (x[:, sub] @ (stats.weights[:, None] * stats.basis))  # u = x_S W P of each real user
            scores = self.scale_ * np.einsum("nk,nk->n", uvec[cu], stats.item_vecs[ci]) + bias[ci]
            self.rating_model_, self.trait_quantiles_["mean_rating"] = dp.rating_model(
                users, frame[RATING].to_numpy().astype(np.float64), levels, keep, scores, sigmas, rng, ledger)
        self.order_model_ = dp.order_model(cu, ci, m, stats.counts, n_noisy, bound, sigmas, rng, ledger)
        self.time_model_ = time_model
        self.privacy_ledger_ = ledger
        self.privacy_delta_ = float(delta)
        self.fit_report_["privacy"] = ledger.to_dict(delta)
        self.fit_report_["dp_gram_items"] = len(stats.gram_items)

    @property
    def privacy(self) -> PrivacyGuarantee:
        """The fitted guarantee (`PrivacyGuarantee`: epsilon, delta, ledger as a JSON-ready dict or None).

        A non-DP fit reports ε = ∞, δ = 0 and no ledger. ε is what the ledger's composed spend gives at δ
        (≤ the requested ε).
        """
        self._require_fitted()
        ledger = getattr(self, "privacy_ledger_", None)
        if ledger is None:
            return PrivacyGuarantee.none()
        return PrivacyGuarantee(ledger.spent(self.privacy_delta_), self.privacy_delta_,
                                ledger.to_dict(self.privacy_delta_))

    def _fit_popularity_and_scale(
        self, counts: np.ndarray, top: np.ndarray, cos_real: np.ndarray, score_sd: float, rng: np.random.Generator
    ) -> np.ndarray:
        """Steps 3-5 of the class docstring: set ``scale_``, ``item_bias_``, ``fit_report_``; return the bias.

        Args:
            counts: float ``(m,)`` item counts to match. top: the items of the co-occurrence moment.
            cos_real: float ``(len(top), len(top))`` their cosine similarities. score_sd: sd of u·v.
        """
        cal_rng = np.random.default_rng(rng.integers(2**63))
        n_cal = min(self.calibration_users, max(200, _CALIBRATION_CELLS // self.n_items_))
        cal_users, cal_n, _ = self._draw_users(n_cal, cal_rng, fixed_length=None)
        cal = _CalibrationLogits(cal_users, self.item_factors_)
        b0 = np.log(counts + 0.5)
        self.fit_report_: dict[str, object] = {"score_sd": score_sd}
        if self.affinity_scale == "auto":
            tried: dict[float, tuple[float, np.ndarray]] = {}
            b_start = b0
            for rel in AUTO_SCALE_GRID:
                tried[rel] = self._calibrate(rel / score_sd, b_start, cal, cal_n, counts, top, cos_real)
                b_start = tried[rel][1]
            best = min(tried, key=lambda r: tried[r][0])
            for rel in (float(best / np.sqrt(2.0)), float(best * np.sqrt(2.0))):
                tried[rel] = self._calibrate(rel / score_sd, tried[best][1], cal, cal_n, counts, top, cos_real)
            best = min(tried, key=lambda r: tried[r][0])
            self.fit_report_["cooccurrence_distance"] = {r: tried[r][0] for r in sorted(tried)}
            rel_scale, bias = best, tried[best][1]
        else:
            rel_scale = float(self.affinity_scale)
            dist, bias = self._calibrate(rel_scale / score_sd, b0, cal, cal_n, counts, top, cos_real)
            self.fit_report_["cooccurrence_distance"] = {rel_scale: dist}
        self.fit_report_["relative_scale"] = rel_scale
        self.scale_ = rel_scale / score_sd
        self.item_bias_ = bias.astype(np.float32)
        return np.asarray(bias, dtype=np.float64)

    # ------------------------------------------------------------------ sampling

    def _sample_block(self, n_users: int, rng: np.random.Generator, first_user: int) -> InteractionData:
        with threadpool_limits(limits=1, user_api="blas"):
            return self._sample_block_impl(n_users, rng, first_user)

    def _sample_block_impl(self, n_users: int, rng: np.random.Generator, first_user: int) -> InteractionData:
        self._require_fitted()
        if self.fixed_length is not None:
            _check_int("fixed_length", self.fixed_length, 1)
            if self.fixed_length > self.n_items_:
                raise ConfigError(
                    f"fixed_length={self.fixed_length} exceeds the catalogue of {self.n_items_} items; a user "
                    "cannot have more distinct items than exist (pass fixed_length <= n_items)"
                )
        sampler = getattr(self, "sampler", "exact")  # generators saved before the option existed: exact
        prototypes = getattr(self, "prototypes", 256)
        _check_sampler(sampler, prototypes)
        if sampler == "fast" and n_users > 0:
            return self._sample_fast(n_users, prototypes, rng, first_user)
        uvec, length, pct = self._draw_users(n_users, rng, fixed_length=self.fixed_length)
        return self._histories(uvec, length, pct, rng, first_user)

    def _histories(
        self, uvec: np.ndarray, length: np.ndarray, pct: dict[str, np.ndarray], rng: np.random.Generator,
        first_user: int, *, users: pl.DataFrame | None = None, name: str | None = None,
    ) -> InteractionData:
        """Histories of drawn users (vectors ``uvec``, lengths, trait probabilities ``pct``): items in
        event order, timestamps and ratings when the model has them (shared with `_latent_users`)."""
        rows, items, affinity = self._sample_items(uvec, length, self.scale_, self.item_bias_, rng,
                                                   ordered=True)
        return self._assemble(rows, items, affinity, length, pct, rng, first_user, users=users, name=name)

    def _assemble(
        self, rows: np.ndarray, items: np.ndarray, affinity: np.ndarray, length: np.ndarray,
        pct: dict[str, np.ndarray], rng: np.random.Generator, first_user: int, *,
        users: pl.DataFrame | None = None, name: str | None = None,
    ) -> InteractionData:
        """The output block from user-major events (rows ascending, each user's items in event order)
        with their within-user affinity percentiles: timestamps and ratings when the model has them."""
        cols = event_columns(rows, items, length, pct, self.trait_quantiles_, self.time_model_, self.rating_model_,
                             affinity, rng)
        return synthetic_block(cols, first_user, len(length), self.item_ids_, self.items_, self.source_name_,
                               users=users, name=name, row_order_is_time=True)  # rows in step 7's event order

    def _draw_users(
        self, n_users: int, rng: np.random.Generator, *, fixed_length: int | None
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Draw user vectors ``(N, k)`` float32, activities ``(N,)`` int64, and trait probabilities.

        The probabilities ``pct[name]`` ∈ [0, 1] are F_j(z_j), the mixture marginal CDF of each trait;
        `trait_quantiles_[name].ppf(pct)` turns them into values on the real scale.
        """
        z = self.user_model_.sample(n_users, rng)
        length, pct = self._traits(z, fixed_length)
        return z[:, :self.n_factors_].astype(np.float32), length, pct

    def _traits(self, z: np.ndarray, fixed_length: int | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Activities int64 ``(N,)`` and trait probabilities F_j(z_j) of mixture draws ``z`` ``(N, d)``."""
        k = self.n_factors_
        pct = {nm: self.user_model_.marginal_cdf(k + j, z[:, k + j]) for j, nm in enumerate(self.trait_names_)}
        if fixed_length is not None:
            length = np.full(len(z), fixed_length, dtype=np.int64)
        else:
            activity = self.trait_quantiles_["log_activity"].ppf(pct["log_activity"])
            length = np.clip(np.rint(activity), 1, self.n_items_).astype(np.int64)
        return length, pct

    # ------------------------------------------------------------------ fast (prototype) sampler

    def _sample_fast(self, n_users: int, prototypes: int, rng: np.random.Generator, first_user: int) -> InteractionData:
        """``sampler="fast"``: users of a batch share the item distributions of K drawn prototype users.

        1. K = min(``prototypes``, N) prototype vectors u_p ~ p(u), the user-vector marginal of the trait
           mixture; user j gets prototype σ(j) mod K (σ a random permutation: every prototype serves
           ⌊N/K⌋ or ⌈N/K⌉ users) and her scalar traits from p(traits | u = u_σ(j)), the mixture's
           conditional (`_gmm.conditional_mixture_sample`). Each user's (u, traits) is therefore
           an exact draw of the fitted mixture; what is approximate is that users of a batch are not
           independent: ⌈N/K⌉ of them share a taste vector. With K ≥ N every user has her own vector.
        2. Items: prototype logits ℓ_p = a·u_p·V + b (K × m) and their guide tables (`GuideTables`).
           A user's items are the first n_u distinct items of an i.i.d. stream from softmax(ℓ_p): the
           distinct items of i.i.d. draws, in order of first appearance, are an ordered sample without
           replacement with probability ∝ weight among the items not yet drawn (successive sampling,
           Rosén 1972; the Plackett–Luce law of Gumbel-top-k, Kool et al. 2019 §3). Draws come in rounds
           (`first_distinct`); users still short after 4 rounds finish by Gumbel-top-k over the items they
           do not have (the conditional law of the rest), so the law per user given her prototype is exact.
        3. Affinity percentiles, event order (`OrderModel.keys`), timestamps and ratings as in the exact
           sampler; the within-user ranks come from packed sorts (`rank_within_rows`: keys compared on 24
           bits, ties ordered by draw position).
        """
        k = self.n_factors_  # fixed_length was checked by the caller, `_sample_block_impl`
        n_proto = min(prototypes, n_users)
        proto = self.user_model_.sample(n_proto, rng)[:, :k]
        assign = rng.permutation(n_users) % n_proto
        fix_u = np.zeros((self.user_model_.dim, k))
        fix_u[:k] = np.eye(k)
        z = conditional_mixture_sample(self.user_model_, fix_u, proto[assign], rng)
        length, pct = self._traits(z, self.fixed_length)
        v = self.item_factors_.T * np.float32(self.scale_)
        logits = proto.astype(np.float32) @ v + self.item_bias_
        protos = _Prototypes(logits)
        starts = list(range(0, n_users, _FAST_CHUNK_USERS))
        rows_l, items_l = [], []
        for lo in starts:
            hi = min(lo + _FAST_CHUNK_USERS, n_users)
            r, it = _fast_items(protos, assign[lo:hi], length[lo:hi], rng)
            rows_l.append(r + lo)
            items_l.append(it)
        rows, items = np.concatenate(rows_l), np.concatenate(items_l)
        # within-user affinity percentile of each event, then event order: two packed sorts per chunk
        keys = self.order_model_.keys(items, rng).astype(np.float32)
        affinity = np.empty(len(rows))
        order_l = []
        bounds = np.searchsorted(rows, [*starts, n_users])
        for lo, a, b in zip(starts, bounds[:-1], bounds[1:], strict=True):
            local, n_local = rows[a:b] - lo, min(_FAST_CHUNK_USERS, n_users - lo)
            rank, _ = rank_within_rows(local, logits[assign[rows[a:b]], items[a:b]], n_local)
            affinity[a:b] = (rank + 0.5) / length[rows[a:b]]
            order_l.append(rank_within_rows(local, keys[a:b], n_local)[1] + a)
        order = np.concatenate(order_l)
        return self._assemble(rows[order], items[order], affinity[order], length, pct, rng, first_user)

    def _sample_items(
        self,
        uvec: np.ndarray,
        length: np.ndarray,
        scale: float,
        bias: np.ndarray,
        rng: np.random.Generator,
        *,
        ordered: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Items of each user, without replacement from softmax(ℓ_u), in chunks of ``chunk_users`` rows.

        The draw has Gumbel-top-k's law (class docstring, step 3). Chunks of short histories on a large
        catalogue use `successive_sample` (first distinct items of i.i.d. draws; no m Gumbel variates per
        user); the others use `gumbel_top_k` itself, which is faster when the mean history exceeds about
        m / `RACE_CELLS_PER_ITEM` items. Both are exact, so the choice changes speed, not the law. The bias is folded into the
        matmul as an extra factor (ℓ = [u, 1]·[a·v_i; b_i]), saving a pass over the logits.
        Users are processed in order of activity (a stable sort), so each chunk holds users of similar
        length and the padded per-row arrays stay narrow.

        Returns ``(rows, items, extra)`` of length ``length.sum()``. With ``ordered=False`` (used by the
        calibration) rows come grouped but in no particular order, and ``extra`` is empty. With
        ``ordered=True`` rows are ascending, each user's items are in event order (`OrderModel`), and
        ``extra`` is float64 the within-user affinity percentile (rank(ℓ_ui) + 0.5) / n_u of each event.
        """
        v = np.vstack([self.item_factors_.T * np.float32(scale), bias.astype(np.float32)[None, :]])
        by_length = np.argsort(length, kind="stable")
        rows_l, items_l, extra_l = [], [], []
        # the sampler's arrays are chunk × m cells, several times over: cap the cells, not only the users
        per_chunk = max(1, min(self.chunk_users, _SAMPLE_CHUNK_CELLS // max(v.shape[1], 1)))
        chunk = min(per_chunk, len(length))
        logit_buf = np.empty((chunk, v.shape[1]), np.float32)  # reused: no fresh pages per chunk
        workspace = np.empty(chunk * (v.shape[1] + 64), np.float32)
        for lo in range(0, len(length), per_chunk):
            idx = by_length[lo:lo + per_chunk]
            u1 = np.empty((len(idx), v.shape[0]), np.float32)
            u1[:, :-1] = uvec[idx]
            u1[:, -1] = 1.0
            logits = np.matmul(u1, v, out=logit_buf[:len(idx)])
            if length[idx].mean() * RACE_CELLS_PER_ITEM < v.shape[1]:
                top, mask = successive_sample(logits, length[idx], rng, workspace=workspace)
            else:  # long histories on a small catalogue: one Gumbel per cell is cheaper than the race
                top, mask = gumbel_top_k(logits, length[idx], rng)
            if ordered:
                affinity = row_percentiles(np.take_along_axis(logits, top, axis=1), mask)
                top, affinity = sort_rows(self.order_model_.keys(top, rng), mask, top, affinity)
                r, it, aff = flatten_padded(mask, top, affinity)
                extra_l.append(aff)
            else:
                r, it = flatten_padded(mask, top)
            rows_l.append(idx[r])
            items_l.append(it)
        if not rows_l:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        rows, items = np.concatenate(rows_l), np.concatenate(items_l)
        if not ordered:
            return rows, items, np.empty(0)
        # chunks hold users in activity order: move each user's block to its place in user order (O(n))
        concat_start = np.empty(len(length), np.int64)
        concat_start[by_length] = np.cumsum(length[by_length]) - length[by_length]
        out_start = np.cumsum(length) - length
        perm = np.repeat(concat_start - out_start, length) + np.arange(len(rows))
        return rows[perm], items[perm], np.concatenate(extra_l)[perm]

    def _calibrate(
        self,
        scale: float,
        bias: np.ndarray,
        cal: _CalibrationLogits,
        length: np.ndarray,
        counts: np.ndarray,
        top: np.ndarray,
        cos_real: np.ndarray,
    ) -> tuple[float, np.ndarray]:
        """Rake the biases for ``scale`` (class docstring, step 4); return (co-occurrence distance, bias).

        Works with the expected inclusion probabilities π_ui of the simulated users (Rosén's
        approximation, `rosen_solve`), so it is deterministic given the simulated users.
        Each round takes the diagonal Newton step in log space, Δb_i = log((c_i + ½)/(ĉ_i + ½)) / ε_i,
        with ε_i = Σ_u ∂π_ui/∂ℓ_ui / Σ_u π_ui ∈ (0, 1] the elasticity of item i's expected count (items
        that saturate, π → 1, need bigger steps); ε_i is floored at 0.1 and steps are clipped to ±3.
        Stops early when the expected counts are within 0.5 % (L1) of the real ones.
        """
        bias = bias.astype(np.float64).copy()
        target = counts + 0.5
        per_interaction = counts.sum() / max(int(length.sum()), 1)
        cal.set_scale(scale)
        log_t = np.full(len(length), np.nan)  # warm starts of Rosén's log t, updated in place
        current = False  # whether log_t and ``expected`` belong to the current bias
        for _ in range(self.calibration_iters):
            expected, slope = self._expected(cal, length, bias, log_t)
            current = True
            if np.abs(expected * per_interaction - counts).sum() <= 0.005 * counts.sum():
                break
            elasticity = np.clip(slope / np.maximum(expected, 1e-12), 0.1, 1.0)
            bias += np.clip(np.log(target / (expected * per_interaction + 0.5)) / elasticity, -3.0, 3.0)
            current = False
        if not current:
            expected, _ = self._expected(cal, length, bias, log_t)
        # co-occurrence moment on the most popular items (class docstring, step 5): π_uI at the solved t
        pi_top = cal.inclusion_columns(top, bias, log_t, length)
        gram = (pi_top.T @ pi_top).astype(np.float64)
        np.fill_diagonal(gram, expected[top])  # E[x_ui²] = π_ui
        cos_syn = _cosine(gram)
        off = ~np.eye(len(top), dtype=bool)
        denom = float(np.linalg.norm(cos_real[off])) or 1.0
        return float(np.linalg.norm((cos_syn - cos_real)[off])) / denom, bias

    def _expected(
        self, cal: _CalibrationLogits, length: np.ndarray, bias: np.ndarray, log_t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Σ_u π_ui ``(m,)`` and Σ_u ∂π_ui/∂ℓ_ui ``(m,)`` of the simulated users (float64).

        ``log_t`` ``(N,)`` holds each user's Rosén parameter: read as a warm start, overwritten.
        """
        counts = np.zeros(cal.n_items)
        slope = np.zeros(cal.n_items)
        for lo, hi in cal.chunks():
            neg_pi, u, log_t[lo:hi] = rosen_solve(cal.logits(lo, hi, bias), length[lo:hi], log_t[lo:hi])
            # float32 sums over the chunk's rows (≤ 2^18 / m of them), accumulated in float64
            counts -= neg_pi.sum(axis=0)
            np.add(neg_pi, np.float32(1.0), out=neg_pi)  # e^{−u}
            np.multiply(u, neg_pi, out=u)  # ∂π/∂ℓ = u·e^{−u}
            slope += u.sum(axis=0)
        return counts, slope


class _CalibrationLogits:
    """Logits ℓ_ui = a·u·v_i + b_i of the calibration's simulated users, row-shifted, in chunks of rows.

    Rosén's π does not change when a row's logits are shifted (t absorbs it), so the rows are kept as
    (a·s_ui − max_j a·s_uj) + (b_i − max b) ≤ 0 with s = u·v (float32): the first part is formed once per
    scale a (the matrix product s once per fit), a raking round adds the biases in one pass. Kept for
    all simulated users when they have at most ``_CALIBRATION_CELLS`` cells (every catalogue up to
    40,000 items), else recomputed per chunk of rows.
    """

    def __init__(self, uvec: np.ndarray, item_factors: np.ndarray) -> None:
        self.uvec = np.ascontiguousarray(uvec, dtype=np.float32)
        self.vt = np.ascontiguousarray(item_factors.T, dtype=np.float32)
        self.n_users, self.n_items = len(uvec), item_factors.shape[0]
        self.scores = self.uvec @ self.vt if self.n_users * self.n_items <= _CALIBRATION_CELLS else None
        self.scaled: np.ndarray | None = None
        self.scale = 1.0
        self.step = max(1, _ROSEN_CHUNK_CELLS // max(self.n_items, 1))

    def chunks(self) -> list[tuple[int, int]]:
        return [(lo, min(lo + self.step, self.n_users)) for lo in range(0, self.n_users, self.step)]

    def set_scale(self, scale: float) -> None:
        self.scale = float(scale)
        self.scaled = None if self.scores is None else self._shifted(self.scores)

    def _shifted(self, scores: np.ndarray) -> np.ndarray:
        out = np.multiply(scores, np.float32(self.scale))
        out -= out.max(axis=1, keepdims=True)
        return out

    def logits(self, lo: int, hi: int, bias: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """float32 ``(hi − lo, m)`` (or ``(hi − lo, len(cols))``) shifted logits of users lo..hi−1."""
        b = np.asarray(bias, dtype=np.float64)
        b = (b - b.max()).astype(np.float32)
        part = self.scaled[lo:hi] if self.scaled is not None else self._shifted(self.uvec[lo:hi] @ self.vt)
        if cols is None:
            return part + b
        return part[:, cols] + b[cols]  # the same float32 sums as the full rows

    def inclusion_columns(
        self, cols: np.ndarray, bias: np.ndarray, log_t: np.ndarray, length: np.ndarray
    ) -> np.ndarray:
        """float32 ``(N, len(cols))`` π_ui of items ``cols`` at the solved ``log_t`` (`rosen_solve`) for
        histories of ``length`` items (the same values `rosen_solve` returned for those cells)."""
        out = np.empty((self.n_users, len(cols)), np.float32)
        for lo, hi in self.chunks():
            logits = self.logits(lo, hi, bias, cols)
            s = log_t[lo:hi]
            np.add(logits, np.where(np.isfinite(s), s, -np.inf).astype(np.float32)[:, None], out=logits)
            np.minimum(logits, np.float32(30.0), out=logits)
            np.exp(logits, out=logits)
            out[lo:hi] = -np.expm1(-logits)
            out[lo:hi][length[lo:hi] >= self.n_items] = 1.0  # rows with k = m
        return out


def _randomized_svd(
    a: sp.spmatrix, k: int, rng: np.random.Generator, *, oversample: int = 10, n_iter: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-k SVD a ≈ Q diag(s) Pᵀ by randomized range finding with power iterations.

    Halko, Martinsson & Tropp 2011, "Finding structure with randomness", SIAM Review 53(2), Alg. 4.4
    (randomized subspace iteration) and Alg. 5.1 (direct SVD); as in scikit-learn's
    ``randomized_range_finder``, the power iterations are renormalised by LU (cheap), the final basis by
    QR. Returns ``(Q (n,k), s (k,), Pᵀ (k,m))``, float64, singular values descending.
    """
    n, m = a.shape
    width = min(k + oversample, n, m)
    basis = rng.standard_normal((m, width))
    for _ in range(n_iter):
        basis = sla.lu(a @ basis, permute_l=True, check_finite=False)[0]
        basis = sla.lu(a.T @ basis, permute_l=True, check_finite=False)[0]
    basis = sla.qr(a @ basis, mode="economic", check_finite=False)[0]
    small = (a.T @ basis).T  # (width, m) = basisᵀ a
    ub, s, vt = np.linalg.svd(small, full_matrices=False)
    return (basis @ ub)[:, :k], s[:k], vt[:k]


def _cosine(gram: np.ndarray) -> np.ndarray:
    """Item–item cosine similarity G_ij / √(G_ii G_jj) of a co-occurrence matrix (0 where G_ii = 0)."""
    norm = np.sqrt(np.diag(gram))
    norm[norm == 0] = np.inf
    return gram / norm[:, None] / norm[None, :]


class _Prototypes:
    """Item distributions softmax(ℓ_p) of the fast sampler's prototypes, split for the exponential race.

    The ``_FAST_HEAVY`` largest weights of each row (``heavy``, ``heavy_w``) get explicit clocks; the
    other (light) items are drawn i.i.d. from guide tables (`GuideTables`) at the points of a Poisson
    process of rate W_L (``light_total``), as in `successive_sample` (the thinning theorem makes each
    light item's first point an Exp(w_i) clock). Weights are exp(ℓ − max ℓ) per row.
    """

    def __init__(self, logits: np.ndarray) -> None:
        n_rows, m = logits.shape
        self.logits = logits
        self.m = m
        h = min(_FAST_HEAVY, m)
        top = logits.max(axis=1, keepdims=True)
        self.heavy = np.argpartition(-logits, h - 1, axis=1)[:, :h] if h < m else np.tile(np.arange(m), (n_rows, 1))
        self.heavy_w = np.exp(np.take_along_axis(logits, self.heavy, axis=1).astype(np.float64) - top)
        if h < m:
            light = logits.copy()
            np.put_along_axis(light, self.heavy, -np.inf, axis=1)
            self.light_total = np.exp(light.astype(np.float64) - top).sum(axis=1)
            self.tables: GuideTables | None = GuideTables(light)
        else:
            self.light_total = np.zeros(n_rows)
            self.tables = None


def _fast_items(
    protos: _Prototypes, assign: np.ndarray, length: np.ndarray, rng: np.random.Generator, *, max_rounds: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Items of the fast sampler for one chunk of users (`LatentFactorGenerator._sample_fast`, step 2).

    The exponential race of `successive_sample` on the user's prototype weights: heavy items' clocks
    E/w_i, light items' first points of the marked Poisson stream; once at least n_u clocks are ≤ τ
    (the stream's last point) the n_u smallest are the sample; users still short after ``max_rounds``
    rounds keep their clocks ≤ τ and finish by Gumbel-top-k over the other items (exact: memoryless).

    Returns ``(rows, items)`` int64, user-major (rows ascending), ``length[u]`` distinct items per user u.
    """
    n, m = len(length), protos.m
    hw = protos.heavy_w[assign]
    clocks = rng.standard_exponential(hw.shape) / hw  # (n, H) heavy clocks
    rate = protos.light_total[assign]
    tau = np.where(rate > 0, 0.0, np.inf)
    l_row: list[np.ndarray] = []
    l_item: list[np.ndarray] = []
    l_time: list[np.ndarray] = []
    taken = np.empty(0, np.int64)
    found = np.zeros(n, np.int64)
    accept = np.ones(n)
    for _ in range(max_rounds):
        known = found + (clocks <= tau[:, None]).sum(axis=1)
        active = np.flatnonzero((known < length) & (rate > 0))
        if not len(active) or protos.tables is None:
            break
        draws = np.ceil(1.25 * (length[active] - known[active]) / accept[active]).astype(np.int64) + 2
        owner = np.repeat(active, draws)
        gaps = np.cumsum(rng.standard_exponential(len(owner)))
        ends = np.cumsum(draws)
        local = gaps - np.repeat(np.r_[0.0, gaps[ends[:-1] - 1]], draws)
        time = tau[owner] + local / rate[owner]
        items = protos.tables.draw(assign[owner], rng)
        first = first_distinct(owner, items, m, taken)
        l_row.append(owner[first])
        l_item.append(items[first])
        l_time.append(time[first])
        taken = np.concatenate([taken, owner[first] * m + items[first]])
        new = np.bincount(owner[first], minlength=n)[active]
        found[active] += new
        accept[active] = np.clip(new / draws, 0.05, 1.0)
        tau[active] = time[ends - 1]
    # every clock ≤ τ is known: the n_u smallest of them are the sample (or all of them, if fewer)
    h_row, h_col = np.nonzero(clocks <= tau[:, None])
    rows = np.concatenate([h_row, *l_row])
    items = np.concatenate([protos.heavy[assign[h_row], h_col], *l_item])
    time = np.concatenate([clocks[h_row, h_col], *l_time])
    rank, _ = rank_within_rows(rows, time.astype(np.float32), n)
    keep = rank < length[rows]
    rows, items = rows[keep], items[keep]
    have = np.bincount(rows, minlength=n)
    short = np.flatnonzero(have < length)
    if len(short):  # Gumbel-top-k over the items whose clocks exceed τ
        rest = protos.logits[assign[short]].astype(np.float64)
        mine = np.isin(rows, short)
        rest[np.searchsorted(short, rows[mine]), items[mine]] = -np.inf
        more, mask = gumbel_top_k(rest, length[short] - have[short], rng)
        rows = np.concatenate([rows, np.broadcast_to(short[:, None], more.shape)[mask]])
        items = np.concatenate([items, more[mask]])
    order = np.argsort(rows, kind="stable")
    return rows[order], items[order]


def _check_sampler(sampler: object, prototypes: object) -> None:
    if sampler not in ("exact", "fast"):
        raise ConfigError(f"sampler must be 'exact' or 'fast', got {sampler!r}")
    _check_int("prototypes", prototypes, 1)


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
