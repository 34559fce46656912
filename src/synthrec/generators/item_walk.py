"""`ItemWalkGenerator`: a high-rank transfer generator — new users drawn by a walk over a fitted
item–item model (EASE weights), so the source's co-occurrence structure crosses beyond a low-rank
approximation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from synthrec.data.interactions import RATING, TIMESTAMP, InteractionData
from synthrec.errors import ConfigError
from synthrec.generators import _latent_factor_dp as dp
from synthrec.generators._gmm import GaussianMixture, fit_gaussian_mixture
from synthrec.generators._logs import (
    event_columns,
    first_pairs,
    public_rating_levels,
    rating_scale_param,
    synthetic_block,
    user_traits,
)
from synthrec.generators._ratings import RatingModel
from synthrec.generators._sampling import EmpiricalQuantiles, ranks_within_groups
from synthrec.generators._timestamps import TimeModel
from synthrec.generators._walk import WalkModel, walk
from synthrec.generators.base import BaseGenerator
from synthrec.privacy import (
    PlannedGaussian,
    PrivacyGuarantee,
    PrivacyLedger,
    calibrate_noise_multipliers,
    gaussian_mechanism,
    release_pair_gram,
)

#: default relative scale a·s of the exact fit (s = mean over modelled items of the largest weight of
#: their row, so a relative scale of 1 lets an item's strongest neighbour add 1 to its logit). Measured on
#: issue 13's protocol (Beauty, Toys; EASE; one seed, the target's test users): share of the ceiling 0.38 at 1, 0.86–0.88 at 8, 0.93–1.04 at
#: 16, 0.97–1.04 at 32, 1.04–1.05 at 64, 0.96–1.00 at 128. The held-out likelihood of real histories
#: peaks near 1: the most useful synthetic users are more coherent than real ones.
EXACT_RELATIVE_SCALE = 32.0
#: default relative scale under DP. Measured at ε = 4 with the default release (Beauty / Toys, one seed,
#: every non-source user scored): share 0.15 / 0.15 at 1, 0.37 / 0.33 at 4, 0.38 / 0.33 at 16
DP_RELATIVE_SCALE = 4.0
#: ρ-shares of the DP mechanisms (renormalised over those a log needs): the Gram block carries the
#: item–item structure, the counts the popularity and the choice of modelled items
DP_SHARES: dict[str, float] = {
    "item_counts": 0.10, "item_gram": 0.72, "activity_hist": 0.05,
    "mean_rating_hist": 0.02, "rating_table": 0.03,
    "start_coarse_hist": 0.01, "start_hist": 0.02, "tempo_hist": 0.02, "span_hist": 0.02, "gap_hist": 0.03,
}
#: largest accepted ``affinity_scale`` (far past where the walk is already deterministic)
MAX_RELATIVE_SCALE = 1e6
#: largest change of one item's bias per raking round (log scale)
RAKING_STEP = 2.0
#: an item is modelled under DP when its noisy count exceeds this many count-noise sd
DP_SIGNAL_SD = 2.0
#: a released pair counts as signal above this many noise sd (`pairs_above_noise`; 3 sd: 0.13 % of pure-noise
#: pairs pass)
PAIR_SIGNAL_SD = 3.0
#: default ``neighbours``: the weights kept per modelled item (see the class docstring, "Large catalogues").
#: Measured on issue 13's protocol (Beauty, Toys; EASE at λ = 200; 5 seeds; benchmarks/README.md §19): the
#: share of the ceiling with k = 50 / 100 / 200 is the dense model's within noise (paired differences
#: −0.05 to +0.04, none significant); 100 keeps 57–64 % of the positive weight mass (50: 37–43 %)
DEFAULT_NEIGHBOURS = 100


@dataclass(frozen=True)
class WalkDPInputs:
    """The exact statistics the DP item-walk fit releases (`ItemWalkGenerator._fit_dp_from`).

    Attributes:
        n_users, n_items: users with a row (public, as in DP-SGD practice: it sets the default δ) and m.
        users_per_degree: int ``(max n_u + 1,)`` users per number of distinct items.
        unit_popularity: float ``(m,)`` Σ_u x_u / √n_u.
        pair_gram: items ``(M,)`` → Σ_u w_u x_u x_uᵀ over them, w_u = √(2 / (k_u (k_u − 1))) (`pair_gram`).
        normalised_gram: items → Σ_u z_u z_uᵀ, z_u the user's row over them at unit L2 norm.
        frame, users, items, has_time, has_rating: `first_pairs` of the users the per-user releases
            (times, ratings) read — every user in memory, a hash-chosen sample in passes.
        x: float ``(users, m)`` CSR of those users' items (their real events' logits for the rating table).
    """

    n_users: int
    n_items: int
    users_per_degree: np.ndarray
    unit_popularity: np.ndarray
    pair_gram: Callable[[np.ndarray], np.ndarray]
    normalised_gram: Callable[[np.ndarray], np.ndarray]
    frame: Any
    users: np.ndarray
    items: np.ndarray
    has_time: bool
    has_rating: bool
    x: sp.csr_matrix


def ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
    """EASE item–item weights from a Gram matrix: B = I − P · diag(1 / diag P), P = (G + λI)⁻¹, diag B = 0.

    Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW, eq. 8. (The recommender of the
    same name lives in `synthrec.models.ease`; generators do not import models.)

    Args:
        gram: float ``(M, M)`` symmetric; λI must make G + λI invertible (for a noisy Gram: λ above the
            noise's spectral norm).
        l2: λ > 0.

    Returns:
        float64 ``(M, M)``; B_ij is the weight of item i in the score of item j.

    Raises:
        ConfigError: G + λI is singular (λ too small for this Gram).
    """
    try:
        p = np.linalg.inv(gram + l2 * np.eye(gram.shape[0]))
    except np.linalg.LinAlgError:
        raise ConfigError(f"l2={l2:g} leaves the item Gram matrix singular: use a larger l2 (e.g. 200)") from None
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


def pairs_above_noise(released: np.ndarray, noise_sd: float, *, threshold_sd: float = PAIR_SIGNAL_SD
                      ) -> tuple[int, float]:
    """How much co-occurrence a DP release carries: ``(pairs, by_chance)``, the item pairs (strict upper
    triangle of ``released``, ``(M, M)``) whose released value exceeds ``threshold_sd`` noise sd, and how
    many pure noise would put there, M (M − 1) / 2 · P(N(0, 1) > threshold_sd).

    Post-processing of the release (no privacy cost). When ``pairs`` is not well above ``by_chance`` the
    release holds almost no pair structure the walk could follow: expect DP synthetic users to add little
    or to mislead (docs/transfer.md, "DP scaling")."""
    from scipy.stats import norm

    m = released.shape[0]
    above = int(np.count_nonzero(np.triu(released > threshold_sd * noise_sd, 1)))
    return above, float(m * (m - 1) / 2 * norm.sf(threshold_sd))


def select_modelled(counts: np.ndarray, max_items: int) -> np.ndarray:
    """int64 ``(M,)`` ascending: the ``max_items`` most frequent items with a count > 0 (ties: lower id),
    at least two (the first two ids when fewer items were seen) — step 1 of the exact fit."""
    counts = np.asarray(counts)
    m = len(counts)
    modelled = np.sort(np.lexsort((np.arange(m), -counts))[: min(max_items, int((counts > 0).sum()))])
    return (modelled if len(modelled) >= 2 else np.arange(min(m, 2))).astype(np.int64)


def top_neighbours(weights: np.ndarray, modelled: np.ndarray, neighbours: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the ``neighbours`` largest weights (by value) of each row of W, as CSR.

    Args:
        weights: float ``(M, M)`` W (row i: what drawing item i adds to every item's logit).
        modelled: int64 ``(M,)`` catalogue ids of W's rows and columns.
        neighbours: k ≥ 1 kept per row (ties: lower column); the diagonal and exact zeros are never kept.

    Returns:
        ``(indptr, indices, data)``: int64 ``(M + 1,)``, int64 catalogue ids (ascending within a row) and
        float32 weights — `synthrec.generators._walk.WalkModel`'s sparse rows.
    """
    w = np.asarray(weights, dtype=np.float32)
    big_m = w.shape[0]
    k = min(int(neighbours), max(big_m - 1, 0))
    if k == 0:
        return np.zeros(big_m + 1, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    ranked = w.astype(np.float64)
    np.fill_diagonal(ranked, -np.inf)
    # the k largest per row; ties broken toward the lower column by a stable sort of the k-th value's ties
    order = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
    cols = np.sort(order, axis=1)
    vals = np.take_along_axis(w, cols, axis=1)
    keep = (vals != 0) & (cols != np.arange(big_m)[:, None])
    counts = keep.sum(axis=1)
    indptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    indices = np.asarray(modelled, np.int64)[cols[keep]]
    return indptr, indices, vals[keep].astype(np.float32)


def walk_from_statistics(
    counts: np.ndarray,
    modelled: np.ndarray,
    gram: np.ndarray,
    *,
    l2: float = 200.0,
    relative_scale: float = EXACT_RELATIVE_SCALE,
    neighbours: int | None = DEFAULT_NEIGHBOURS,
) -> WalkModel:
    """The exact fit's item–item model (steps 1–2 of `ItemWalkGenerator`, before calibration) from counts.

    A pure function of integer statistics, so a streaming pass over files can supply them without an
    `InteractionData`: b = log(c + ½), W = EASE(G, λ) over the modelled items, a = relative_scale / s
    (s: mean over rows of the largest weight), then W cut to its ``neighbours`` largest weights per row
    (kept dense when that drops nothing, i.e. ``neighbours`` ≥ M − 1, or when None).

    Args:
        counts: int64 ``(m,)`` distinct users per item (each (user, item) pair once).
        modelled: int64 ``(M,)`` ascending catalogue ids of the modelled items (e.g. `select_modelled`).
        gram: int64 ``(M, M)`` co-occurrence counts XᵀX of the modelled items (diagonal: their counts).
        l2: λ > 0 of EASE.
        relative_scale: a · s > 0.
        neighbours: weights kept per row, or None for the dense M × M model.

    Returns:
        The `WalkModel` (float32 bias and weights / CSR data).
    """
    counts = np.asarray(counts)
    modelled = np.asarray(modelled, dtype=np.int64)
    bias = np.log(counts.astype(np.float64) + 0.5).astype(np.float32)
    weights = ease_weights(np.asarray(gram, dtype=np.float64), l2).astype(np.float32)
    return _walk_model(bias, weights, modelled, relative_scale, neighbours)


def _walk_model(bias: np.ndarray, weights: np.ndarray, modelled: np.ndarray, rel: float,
                neighbours: int | None) -> WalkModel:
    """b, W, modelled ids and the relative scale → `WalkModel`, sparse when ``neighbours`` drops weights.
    The scale a = rel / s is taken from the dense W (the largest weight of a row is always kept)."""
    a = float(rel / _strength(weights))
    modelled = modelled.astype(np.int64)
    if neighbours is None or neighbours >= len(modelled) - 1:
        return WalkModel(bias.astype(np.float32), weights.astype(np.float32), modelled, a)
    indptr, indices, data = top_neighbours(weights, modelled, neighbours)
    return WalkModel(bias.astype(np.float32), None, modelled, a, indptr, indices, data)


class ItemWalkGenerator(BaseGenerator):
    r"""New users drawn item by item from a fitted item–item model; keeps co-occurrence beyond low rank.

    **Model.** A synthetic user draws her activity n_u, then her items one at a time: step t picks item i
    among those she has not drawn with probability ∝ exp(ℓ_ti), ℓ_t = b + a · Σ_{s<t} W_{i_s}
    (`synthrec.generators._walk.walk`). b_i = log(c_i + ½) are log item counts, so her first item follows
    popularity; W are EASE weights (Steck 2019, WWW, eq. 8; `ease_weights`) of the M most popular items,
    fitted on the log's Gram matrix XᵀX with ridge λ = ``l2``, so each next item is what an EASE model
    of the source would recommend to the history so far, tempered by a. Unlike a rank-k generator
    (`LatentFactorGenerator`), W is full rank: a pair of items that co-occur more than their factors
    explain keeps co-occurring. This is the "quick high-rank prototype" of issue 13 made a generator;
    related in aim to Distill-CF (Sachdeva et al., NeurIPS 2022), which instead optimises synthetic users
    for downstream utility.

    **Fit** (exact): repeated (user, item) pairs count once, at their first occurrence (`first_pairs`).

    1. Counts c and the modelled items: the ``max_items`` most frequent (ties: lower id).
    2. The scale a = ``affinity_scale`` / s, s the mean over modelled items of their largest weight
       (default `EXACT_RELATIVE_SCALE`). Chosen for utility, not likelihood: the held-out likelihood of
       real histories peaks at a relative scale near 1, where synthetic users carry 0.38 of the ceiling
       on Beauty (one seed); at 32, 0.83–0.99 on four logs over 5 seeds (see `EXACT_RELATIVE_SCALE` and
       "Measured"). The walk is then more coherent than real users — nearer to "users distilled for
       training" than to look-alikes: on dense logs many synthetic users nearly repeat each other (ml-100k:
       31 % have a synthetic twin at Jaccard ≥ 0.9; 10 % at a relative scale of 8).
    3. User traits (log activity [, mean rating] [, start time, tempo, log span]) as
       `LatentFactorGenerator` has them (`_logs.user_traits`), joined by one full-covariance Gaussian
       copula (their dependence is kept: heavy users keep their time spans).
    4. Ratings: P(level | mean-rating bucket, within-user bin of the walk logit) (`_ratings.RatingModel`),
       the logit of a real event being b_i + a · Σ_{j in her history, j ≠ i} W_ji.
    5. Order and times: the walk's order is the event order; timestamps from the user's start time, tempo
       and span (`_timestamps.TimeModel`), strictly increasing within a user.
    6. Popularity calibration: a large a makes the walk pile onto items with strong neighbours, so b is
       raked (iterative proportional fitting, Deming & Stephan 1940) for ``calibration_rounds`` rounds:
       ``calibration_users`` users with activities drawn from the log's are walked, and
       b_i ← b_i + log((c_i + ½) / (ĉ_i + ½)) (ĉ the simulated counts scaled to the real total, each step
       clipped to ±`RAKING_STEP`). Measured (Beauty, Toys): popularity Gini of 2,000 items from 0.68 / 0.63
       to 0.52 / 0.48 (real: 0.33 / 0.27) after 3 rounds, share of the ceiling unchanged within noise
       (0.85 → 0.87, 0.91 → 0.90). ``fit_report_["calibration_l1"]``: Σ|ĉ − c| / Σc before each round.

    **Large catalogues** (issue 15): a dense W cannot hold 10⁵ items (40 GB), and the dense walk costs
    Σ_u n_u · m. So the modelled items are the ``max_items`` most frequent (EASE's inverse stays dense over
    them: M ≤ ~5,000 is practical), and W is then cut to its ``neighbours`` largest weights per row
    (`top_neighbours`, CSR in `WalkModel` ``indptr`` / ``indices`` / ``data``; dense when None or when
    ``neighbours`` ≥ M − 1). The cut is by value, so what is kept are the strongest *pulls*; a row keeps a
    negative weight only when it has fewer than k positive ones — measured on Beauty / Toys (2,000 items,
    λ = 200) every row has ≥ 210 positive weights, so at k ≤ 200 no negative weight is kept (negatives are
    34 % of Σ|W|; k = 50 / 100 / 200 keep 37–43 / 57–64 / 80–86 % of the positive mass). The scale a is
    taken from the dense W (a row's largest weight is always kept), so the cut changes nothing else. A
    sparse model is drawn exactly by the touched-set sampler of `synthrec.generators._walk` (cost per step
    ∝ the user's history × neighbours, not m; ``sampler="auto"`` keeps the dense sampler where it is
    cheaper: small catalogues, long histories). Under DP the cut is applied to the released W:
    post-processing. The item–item fit is `walk_from_statistics` (integer counts and Gram → `WalkModel`),
    so a streaming pass can feed it without an `InteractionData`.

    **Differential privacy** (``epsilon`` finite): user-level (ε, δ)-DP, every release through
    `synthrec.privacy` and composed by opacus's RDP accountant; synthetic users are post-processing. The
    item catalogue (every item id of the log, its items table) and the rating scale are public, as for
    `LatentFactorGenerator`: an item below the noise is still in the model and may be drawn (with the
    bias of a zero count), so drop rare items before fitting where an item id is itself sensitive.

    * popularity: t = Σ_u x_u / ‖x_u‖₂ (each user's distinct items as a unit vector), Gaussian mechanism
      with L2 sensitivity 1 — no cap on a user's items; counts are t̃ rescaled by Σ_u n_u / Σ_u √n_u
      from the released activity distribution. Modelled items: those whose t̃ exceeds `DP_SIGNAL_SD`
      noise sd (at most ``max_items``); t̃ under 2 sd is set to 0 outside them;
    * co-occurrence (``dp_gram="pairs"``, default): `synthrec.privacy.pair_gram` over the modelled items —
      each user's item pairs weighted √(2 / (n_u (n_u − 1))), so her off-diagonal vector has L2 norm 1
      (sensitivity 1 whatever her length) and no budget goes to the diagonal; ``"rows"``: Analyze Gauss
      on unit-norm rows (`_latent_factor_dp.normalised_gram`, noise σ/√2 off the diagonal), which the
      pairs release beats by √(n_u / (n_u − 1)) in signal-to-noise. The diagonal is set from the counts;
    * denoising matched to the noise: W = EASE(G̃, λ) with λ = ``dp_l2`` × 2σ√M, a multiple of the
      spectral norm of the symmetric noise (the edge of Wigner's semicircle for entries of sd σ), so
      G̃ + λI stays positive definite and directions at the noise level are shrunk. Measured at ε = 4
      (Beauty, Toys; one seed, every non-source user scored): share 0.28 / 0.24 at ``dp_l2`` = 1,
      0.38 / 0.30 at 3, 0.37 / 0.33 at 5, 0.38 / 0.31 at 10, negative at 0.5 (the walk then follows
      noise). With λ far above the noise EASE tends to G̃ / λ: plain noisy co-occurrence;
    * a = `DP_RELATIVE_SCALE` / s unless ``affinity_scale`` is given; the calibration (step 6) rakes
      toward the noisy counts, with activities from the DP activity histogram (post-processing);
    * activity, start time, tempo, span, gap residuals, mean ratings and the rating table: the DP
      histograms of `_latent_factor_dp` (traits drawn independently).

    **Output** of `sample`: `InteractionData` over the fitted item vocabulary and ``items`` table; users
    ``"syn-0"``, ``"syn-1"``, … (offset per batch); columns user, item [, timestamp] [, rating]; never a
    repeated (user, item) pair; rows user-major in event order.

    Args:
        l2: λ of the exact fit's EASE weights (> 0; in co-occurrence counts).
        affinity_scale: the relative scale > 0 (a = value / s); None: `EXACT_RELATIVE_SCALE`, or
            `DP_RELATIVE_SCALE` under DP.
        max_items: M, the most items with item–item weights (≥ 2; W is M × M float32 in memory).
        calibration_rounds: raking rounds of step 6 (≥ 0; 0 keeps b = log(c + ½)).
        calibration_users: simulated users per raking round (≥ 1).
        seed: seeds the calibration's simulated users and, under DP, every noise draw.
        epsilon: None / ``inf`` for the exact fit; finite > 0 for the user-level DP fit.
        delta: δ of the DP fit; default min(10⁻⁵, n^−1.1).
        dp_l2: λ multiplier under DP (> 0), in units of the noise's spectral norm 2σ√M.
        dp_gram: the DP co-occurrence release, ``"pairs"`` or ``"rows"`` (see "Differential privacy").
        rating_levels: the public rating scale of a DP fit (default: the log's distinct ratings, ≤ 64).
        neighbours: k ≥ 1, the weights kept per modelled item (see "Large catalogues"); None: the dense
            M × M W. Default `DEFAULT_NEIGHBOURS`.

    Raises:
        ConfigError: an argument out of range (the message names it).

    Fitted attributes: ``walk_`` (`WalkModel`), ``relative_scale_``, ``fit_report_`` (dict:
    ``modelled_items``, ``l2``, ``relative_scale``, ``neighbours`` (None: dense), ``calibration_l1``; under DP ``gram_noise_sd`` and
    ``privacy``),
    ``privacy_ledger_`` (or None), ``privacy_delta_``.

    Measured (benchmarks/transfer_share.py, issue 13's protocol; docs/transfer.md): on amazon-seq Beauty,
    Toys, Sports and Yelp (2,000 items, 16k–30k source users, a 2 % target) augmenting the target with as
    many synthetic users as the source has recovers 0.81–0.98 of the gain of the raw source (EASE and ALS,
    5 seeds; latent-factor 0.06–0.44), 0.14–0.44 at ε = 4 (at 5fe9da6; 0.14–0.47 at 3ebbdce) and none
    at ε = 1. Fit + sampling on Sports (30k users): 4.6 CPU-s exact, 5.3 at ε = 4 (the default ``neighbours``; the dense model gave 0.83–0.99,
    0.21–0.42, 4.8 and 9.5 CPU-s; dense and top-100 under DP: 0.31 and 0.31 mean share at ε = 4 over the
    8 dataset × model cells, docs/transfer.md). Sparse neighbours (benchmarks/README.md §19): on Beauty / Toys (EASE at λ = 200,
    5 seeds) the share with k = 50 / 100 / 200 differs from the dense model's by −0.05 to +0.04, every
    paired difference within its 95 % interval of 0 (k = 100: 0.87 / 0.91 against 0.91 / 0.87 dense).
    Sampling (benchmarks/item_walk_large.py; simulated shop, 3,000 modelled items, ~50 items per user):
    the sparse walk at k = 100 draws 25k / 21k rows per CPU-second on 18k / 85k items against 5.2k / 1.1k
    for the dense walk; on 1.8k items it is no faster (36k against 43k), and ``sampler="auto"`` then
    draws most users densely.
    """

    supports_dp: ClassVar[bool] = True  # a finite ``epsilon`` gives the user-level DP fit

    def __init__(
        self,
        *,
        l2: float = 200.0,
        affinity_scale: float | None = None,
        max_items: int = 4000,
        calibration_rounds: int = 3,
        calibration_users: int = 5000,
        seed: int = 0,
        epsilon: float | None = None,
        delta: float | None = None,
        dp_l2: float = 5.0,
        dp_gram: Literal["pairs", "rows"] = "pairs",
        rating_levels: Sequence[float] | None = None,
        neighbours: int | None = DEFAULT_NEIGHBOURS,
    ) -> None:
        _check_positive("l2", l2)
        _check_positive("dp_l2", dp_l2)
        if affinity_scale is not None:
            _check_positive("affinity_scale", affinity_scale, hint=" or None (the default)")
            if affinity_scale > MAX_RELATIVE_SCALE:  # a · W must stay finite in float32
                raise ConfigError(f"affinity_scale must be <= {MAX_RELATIVE_SCALE:g} (a larger scale makes the "
                                  f"walk deterministic anyway), got {affinity_scale!r}")
        _check_int("max_items", max_items, 2)
        _check_int("calibration_rounds", calibration_rounds, 0)
        _check_int("calibration_users", calibration_users, 1)
        _check_int("seed", seed, 0)
        if neighbours is not None:
            _check_int("neighbours", neighbours, 1)
        if epsilon is not None and not (
            isinstance(epsilon, (int, float)) and not isinstance(epsilon, bool) and epsilon > 0
        ):
            raise ConfigError(f"epsilon must be None or a number > 0 (inf = no privacy), got {epsilon!r}")
        if delta is not None and not (isinstance(delta, (int, float)) and 0 < delta < 1):
            raise ConfigError(f"delta must be None or a number in (0, 1), got {delta!r}")
        self.l2 = float(l2)
        self.affinity_scale = affinity_scale
        self.max_items = max_items
        self.calibration_rounds = calibration_rounds
        self.calibration_users = calibration_users
        self.seed = seed
        self.epsilon = None if epsilon is None else float(epsilon)
        self.delta = None if delta is None else float(delta)
        self.dp_l2 = float(dp_l2)
        if dp_gram not in ("pairs", "rows"):
            raise ConfigError(f"dp_gram must be 'pairs' or 'rows', got {dp_gram!r}")
        self.dp_gram = dp_gram
        self.rating_levels = rating_scale_param(rating_levels)
        self.neighbours = neighbours

    def __repr__(self) -> str:
        state = "fitted" if self._fitted else "not fitted"
        dp_text = "" if self.epsilon is None else f", epsilon={self.epsilon:g}"
        return f"ItemWalkGenerator(l2={self.l2:g}, max_items={self.max_items}{dp_text}, {state})"

    @property
    def is_private(self) -> bool:
        return self.epsilon is not None and bool(np.isfinite(self.epsilon))

    # ------------------------------------------------------------------ fit

    def _fit(self, data: InteractionData) -> None:
        """Fit on ``data`` (see the class docstring; called by `BaseGenerator.fit`).

        Raises:
            DataValidationError: a null / non-finite rating or timestamp.
            ConfigError: under DP, more than 64 distinct ratings and no ``rating_levels``.
        """
        with threadpool_limits(limits=1, user_api="blas"):
            if self.is_private:
                self._fit_dp(data)
            else:
                self._fit_exact(data)

    def _fit_exact(self, data: InteractionData) -> None:
        frame, users, items, has_time, has_rating = first_pairs(data)
        n, m = int(users.max()) + 1, data.n_items
        x = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(n, m))
        counts = np.bincount(items, minlength=m).astype(np.int64)
        modelled = select_modelled(counts, self.max_items)
        self.fit_report_: dict[str, object] = {"modelled_items": len(modelled), "l2": self.l2}

        rel = EXACT_RELATIVE_SCALE if self.affinity_scale is None else float(self.affinity_scale)
        xm = x[:, modelled]
        gram = np.rint((xm.T @ xm).toarray()).astype(np.int64)
        self.walk_ = walk_from_statistics(counts, modelled, gram, l2=self.l2, relative_scale=rel,
                                          neighbours=self.neighbours)
        self._note_walk(rel)
        degrees = np.diff(x.indptr)
        self._calibrate(counts.astype(np.float64), lambda k, g: g.choice(degrees, size=k))

        traits, names, quantiles, time_model = user_traits(frame, users, x, has_time, has_rating)
        self.trait_model_: GaussianMixture | None = fit_gaussian_mixture(np.column_stack(traits), 1, seed=self.seed)
        self.trait_names_ = names
        self.trait_quantiles_ = quantiles
        self.time_model_: TimeModel | None = time_model
        self.rating_model_: RatingModel | None = None
        if has_rating:
            scores = self._real_logits(x, users, items)
            self.rating_model_ = RatingModel.fit(users, frame[RATING].to_numpy(), scores, n)
        self.privacy_ledger_: PrivacyLedger | None = None
        self.privacy_delta_ = 0.0

    def _note_walk(self, rel: float) -> None:
        self.relative_scale_ = rel
        self.fit_report_["relative_scale"] = rel
        self.fit_report_["neighbours"] = self.walk_.n_neighbours if self.walk_.sparse else None

    def _calibrate(self, counts: np.ndarray, draw_lengths: Callable[[int, np.random.Generator], np.ndarray]) -> None:
        """Rake the walk's bias so simulated item counts match ``counts`` (step 6 of the class docstring)."""
        rng = np.random.default_rng([self.seed, 1])
        target = np.asarray(counts, np.float64)
        history = []
        for _ in range(self.calibration_rounds):
            lengths = np.minimum(draw_lengths(self.calibration_users, rng), self.walk_.n_items)
            _, items, _ = walk(self.walk_, lengths, rng)
            sim = np.bincount(items, minlength=self.walk_.n_items) * (target.sum() / max(len(items), 1))
            step = np.clip(np.log((target + 0.5) / (sim + 0.5)), -RAKING_STEP, RAKING_STEP)
            history.append(float(np.abs(sim - target).sum() / max(target.sum(), 1.0)))
            self.walk_ = replace(self.walk_, bias=(self.walk_.bias + step).astype(np.float32))
        self.fit_report_["calibration_l1"] = history

    def _real_logits(self, x: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """b_i + a · Σ_{j in u, j ≠ i} W_ji of each real (user, item) row (W has a zero diagonal)."""
        wm = self.walk_
        pos = wm.position()
        xm = x[:, wm.modelled]
        out = wm.bias[items].astype(np.float64)
        if wm.sparse:  # Σ_j W_ji over her history by a sparse product: nothing of size M × M
            assert wm.indptr is not None and wm.indices is not None and wm.data is not None
            w_sp = sp.csr_matrix((wm.data.astype(np.float64), pos[wm.indices], wm.indptr),
                                 shape=(len(wm.modelled), len(wm.modelled)))
            scores = (xm @ w_sp).tocsr()
            p = pos[items]
            has = p >= 0
            out[has] += wm.scale * np.asarray(scores[users[has], p[has]]).ravel()
            return out
        step = max(1, 4_000_000 // max(len(wm.modelled), 1))
        for lo in range(0, x.shape[0], step):  # users in chunks: (chunk × M) dense scores
            sel = (users >= lo) & (users < lo + step)
            p = pos[items[sel]]
            has = p >= 0
            scores = np.asarray(xm[lo:lo + step] @ wm.weights)
            idx = np.flatnonzero(sel)[has]
            out[idx] += wm.scale * scores[users[idx] - lo, p[has]]
        return out

    def _fit_dp(self, data: InteractionData) -> None:
        frame, users, items, has_time, has_rating = first_pairs(data)
        n, m = int(users.max()) + 1, data.n_items
        x = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(n, m))
        deg = np.bincount(users, minlength=n).astype(np.float64)

        def pairs(modelled: np.ndarray) -> np.ndarray:
            xm = sp.csr_matrix(x[:, modelled], dtype=np.float64)
            k = np.diff(xm.indptr).astype(np.float64)
            weight = np.sqrt(2.0 / np.where(k > 1, k * (k - 1.0), np.inf))
            return (xm.T @ sp.diags(weight) @ xm).toarray()

        def rows(modelled: np.ndarray) -> np.ndarray:
            xm = sp.csr_matrix(x[:, modelled], dtype=np.float64)
            norm = np.sqrt(np.asarray(xm.sum(axis=1)).ravel())
            z = sp.diags(1.0 / np.where(norm > 0, norm, 1.0)) @ xm
            return (z.T @ z).toarray()

        self._fit_dp_from(WalkDPInputs(
            n_users=n, n_items=m, users_per_degree=np.bincount(deg.astype(np.int64)),
            unit_popularity=np.asarray((sp.diags(1.0 / np.sqrt(np.maximum(deg, 1.0))) @ x).sum(axis=0)).ravel(),
            pair_gram=pairs, normalised_gram=rows, frame=frame, users=users, items=items, has_time=has_time,
            has_rating=has_rating, x=x))

    def _fit_dp_from(self, inputs: WalkDPInputs) -> None:
        """The DP fit (class docstring, "Differential privacy") from exact statistics (`WalkDPInputs`): of
        the log in memory (`_fit_dp`) or summed in passes over files (`_item_walk_stream`)."""
        frame, users, items = inputs.frame, inputs.users, inputs.items
        has_time, has_rating = inputs.has_time, inputs.has_rating
        n, m = inputs.n_users, inputs.n_items
        delta = self.delta if self.delta is not None else min(1e-5, float(n) ** -1.1)
        levels = public_rating_levels(frame[RATING].to_numpy(), self.rating_levels) if has_rating else None
        skip = set()
        if not has_time:
            skip |= {"start_coarse_hist", "start_hist", "tempo_hist", "span_hist", "gap_hist"}
        if not has_rating:
            skip |= {"mean_rating_hist", "rating_table"}
        plan = [PlannedGaussian(k, v) for k, v in DP_SHARES.items() if k not in skip]
        sigmas = calibrate_noise_multipliers(plan, epsilon=float(self.epsilon), delta=delta)  # type: ignore[arg-type]
        ledger = PrivacyLedger()
        rng = np.random.default_rng(self.seed)
        activity, _ = dp.activity_quantiles_from_histogram(inputs.users_per_degree, m, sigmas["activity_hist"], rng,
                                                           ledger)
        # popularity from per-user unit-norm rows, t = Σ_u x_u / ‖x_u‖₂: L2 sensitivity 1 whatever a user's
        # length, where raw counts need a cap L and carry noise √L times larger (with L = 64, 8×: at ε = 1
        # on Beauty only 22 items then stood above the noise, against hundreds with t)
        taste = gaussian_mechanism(inputs.unit_popularity, sensitivity=1.0, noise_multiplier=sigmas["item_counts"],
                                   rng=rng, ledger=ledger, name="item_counts")
        taste_sd = sigmas["item_counts"]
        order = np.lexsort((np.arange(m), -taste))
        size = int(min(m, self.max_items, max(int((taste > DP_SIGNAL_SD * taste_sd).sum()), 2)))
        modelled = np.sort(order[:size])
        # sums under twice their noise sd are mostly noise: most of a catalogue is rare, and keeping their
        # noise would make rare items as likely as hits
        in_model = np.zeros(m, dtype=bool)
        in_model[modelled] = True
        clean = np.where((taste > 2.0 * taste_sd) | in_model, np.maximum(taste, 0.0), 0.0)
        # back to the scale of counts: Σ_i c_i = Σ_u n_u and Σ_i t_i = Σ_u √n_u, both from the released
        # activity distribution
        probs = np.linspace(0.0, 1.0, 1001)
        n_draws = np.maximum(np.rint(activity.ppf(probs)), 1.0)
        counts = clean * float(n_draws.mean() / np.sqrt(n_draws).mean())
        bias = np.log(counts + 0.5).astype(np.float32)

        if self.dp_gram == "pairs":
            gram = release_pair_gram(inputs.pair_gram(modelled), noise_multiplier=sigmas["item_gram"], rng=rng,
                                     ledger=ledger, name="item_gram")
            # the diagonal of Σ_u w_u x_u x_uᵀ is Σ_u w_u x_ui ≈ c_i · E[w n] / E[n], w = √(2 / (n (n − 1)))
            weight = np.sqrt(2.0 / np.where(n_draws > 1, n_draws * (n_draws - 1.0), np.inf))
            ratio = float((weight * n_draws).mean() / n_draws.mean())
            noise_sd = float(sigmas["item_gram"])
        else:
            gram = dp.release_gram(inputs.normalised_gram(modelled), noise_multiplier=sigmas["item_gram"], rng=rng,
                                   ledger=ledger, name="item_gram")
            # the released diagonal sums to the number of users with a modelled item (each row has norm 1);
            # its total is precise (noise sd σ√M against thousands), its entries are not: spread it by counts
            ratio = max(float(np.trace(gram)), 1.0) / max(float(counts[modelled].sum()), 1.0)
            noise_sd = sigmas["item_gram"] / np.sqrt(2.0)
        pairs_above, pairs_by_chance = pairs_above_noise(gram, noise_sd)
        gram[np.diag_indices(size)] = ratio * counts[modelled]
        self.fit_report_ = {"modelled_items": size, "gram_noise_sd": float(noise_sd),
                            "pairs_above_noise": pairs_above, "pairs_above_noise_by_chance": pairs_by_chance}
        l2 = self.dp_l2 * 2.0 * noise_sd * np.sqrt(size)
        self.fit_report_["l2"] = float(l2)
        weights = ease_weights(gram, l2).astype(np.float32)
        rel = DP_RELATIVE_SCALE if self.affinity_scale is None else float(self.affinity_scale)
        # keeping the top neighbours of the released W is post-processing: the DP guarantee is unchanged
        self.walk_ = _walk_model(bias, weights, modelled, rel, self.neighbours)
        self._note_walk(rel)
        self._calibrate(counts, lambda k, g: np.maximum(np.rint(activity.sample(k, g)), 1).astype(np.int64))

        names = ["log_activity"]
        quantiles: dict[str, EmpiricalQuantiles] = {"log_activity": activity}
        self.time_model_, time_names, time_q = dp.time_traits(
            users, frame[TIMESTAMP].to_numpy() if has_time else None, sigmas, rng, ledger)
        names += time_names
        quantiles.update(time_q)
        self.rating_model_ = None
        if has_rating:
            assert levels is not None
            every = np.ones(len(users), dtype=bool)  # the table weighs each user's rows 1 / (her rows): no cap
            scores = self._real_logits(inputs.x, users, items)
            self.rating_model_, quantiles["mean_rating"] = dp.rating_model(
                users, frame[RATING].to_numpy().astype(np.float64), levels, every, scores, sigmas, rng, ledger)
            names.insert(1, "mean_rating")
        self.trait_model_ = None  # under DP the traits are drawn independently (marginal histograms)
        self.trait_names_ = names
        self.trait_quantiles_ = quantiles
        self.privacy_ledger_ = ledger
        self.privacy_delta_ = float(delta)
        self.fit_report_["privacy"] = ledger.to_dict(delta)

    @property
    def privacy(self) -> PrivacyGuarantee:
        """The fitted guarantee (`PrivacyGuarantee`); ε = ∞, δ = 0, no ledger when exact."""
        self._require_fitted()
        if self.privacy_ledger_ is None:
            return PrivacyGuarantee.none()
        return PrivacyGuarantee(self.privacy_ledger_.spent(self.privacy_delta_), self.privacy_delta_,
                                self.privacy_ledger_.to_dict(self.privacy_delta_))

    # ------------------------------------------------------------------ sampling

    def _sample_block(self, n_users: int, rng: np.random.Generator, first_user: int) -> InteractionData:
        with threadpool_limits(limits=1, user_api="blas"):
            return self._sample_impl(n_users, rng, first_user)

    def _sample_impl(self, n_users: int, rng: np.random.Generator, first_user: int) -> InteractionData:
        self._require_fitted()
        names = self.trait_names_
        if self.trait_model_ is not None:
            z = self.trait_model_.sample(n_users, rng)
            pct = {nm: self.trait_model_.marginal_cdf(j, z[:, j]) for j, nm in enumerate(names)}
        else:
            u = rng.random((n_users, len(names)))
            pct = {nm: u[:, j] for j, nm in enumerate(names)}
        m = self.walk_.n_items
        activity = self.trait_quantiles_["log_activity"].ppf(pct["log_activity"])
        length = np.clip(np.rint(activity), 1, m).astype(np.int64)
        rows, items, logit = walk(self.walk_, length, rng)
        affinity = None if self.rating_model_ is None else (ranks_within_groups(rows, logit) + 0.5) / length[rows]
        cols = event_columns(rows, items, length, pct, self.trait_quantiles_, self.time_model_, self.rating_model_,
                             affinity, rng)
        return synthetic_block(cols, first_user, n_users, self.item_ids_, self.items_, self.source_name_,
                               row_order_is_time=True)  # the walk's order is the event order


def _strength(weights: np.ndarray) -> float:
    """s: the mean over rows of the largest weight (the typical strongest neighbour); 1 when all ≤ 0."""
    if weights.size == 0:
        return 1.0
    top = weights.max(axis=1)
    s = float(np.mean(np.maximum(top, 0.0)))
    return s if s > 0 else 1.0


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_positive(name: str, value: object, hint: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not (
        np.isfinite(value) and value > 0
    ):
        raise ConfigError(f"{name} must be a number > 0{hint}, got {value!r}")
