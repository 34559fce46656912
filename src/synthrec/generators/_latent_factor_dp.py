"""User-level DP estimation of every part `LatentFactorGenerator` fits (used when ``epsilon`` is set).

Each function here releases one or two statistics through `synthrec.privacy.mechanisms` (recording its
spend in the ledger) and turns them, by post-processing only, into a model part. Nothing derived from an
individual user leaves a mechanism: the fitted generator holds noised statistics and functions of them.

Contribution bound: every user's distinct items are capped to L (uniform sample,
`synthrec.privacy.bound_user_contributions`); statistics over items (counts, Gram, positions, the rating
table) use the capped rows, per-user traits (activity, start time, tempo, span, mean rating) use the
user's full history, since each user adds exactly one value to a trait histogram whatever its length.

Budget: `plan_shares` splits ρ (the Rényi "cost" α/(2σ²) of a Gaussian with q = 1) between the mechanisms;
`synthrec.privacy.calibrate_noise_multipliers` turns the target (ε, δ) into one σ per mechanism.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from synthrec.generators._gmm import GaussianMixture
from synthrec.generators._ratings import RatingModel, affinity_bins, user_buckets
from synthrec.generators._sampling import EmpiricalQuantiles, segment_starts
from synthrec.generators._timestamps import _MAX_LOG_GAP, OrderModel, TimeModel
from synthrec.privacy import (
    ContributionBound,
    PrivacyLedger,
    bin_index,
    dp_histogram,
    gaussian_mechanism,
    noisy_gram,
    quantiles_from_histogram,
)

#: ρ-shares of the mechanisms (renormalised over those a log needs); the Gram and the counts carry the
#: item structure that drives recommendation utility, so they get most of the budget.
SHARES: dict[str, float] = {
    "item_counts": 0.12, "item_gram": 0.55, "activity_hist": 0.08,
    "order_positions": 0.04, "order_spread": 0.01,
    "mean_rating_hist": 0.03, "rating_table": 0.06,
    "start_coarse_hist": 0.02, "start_hist": 0.04, "tempo_hist": 0.05, "span_hist": 0.05, "gap_hist": 0.06,
}
#: most items whose Gram block is released (the block is M × M float64)
MAX_GRAM_ITEMS = 4000
#: quantile knots stored per trait
N_KNOTS = 201
#: probability trimmed from each end of a released trait distribution (see `_knots`)
TAIL_TRIM = 0.0025
#: user buckets and affinity bins of the DP rating table (coarser than the non-DP 5 × 10: few users per cell)
RATING_BUCKETS, RATING_BINS = 3, 4
_YEAR = 365.25 * 86400.0
#: public range of the coarse start-time histogram: 1970 to 2100, one bin per year
_COARSE_START_EDGES = np.arange(0.0, 131.0) * _YEAR
_FINE_BINS = 64


def plan_shares(*, has_time: bool, has_rating: bool) -> dict[str, float]:
    """The mechanisms a log needs and their budget shares (summing to 1)."""
    skip = set()
    if not has_time:
        skip |= {"start_coarse_hist", "start_hist", "tempo_hist", "span_hist", "gap_hist"}
    if not has_rating:
        skip |= {"mean_rating_hist", "rating_table"}
    chosen = {k: v for k, v in SHARES.items() if k not in skip}
    total = sum(chosen.values())
    return {k: v / total for k, v in chosen.items()}


@dataclass(frozen=True)
class ItemStatistics:
    """Noised item statistics and the factors derived from them.

    Attributes:
        counts: float64 ``(m,)`` noisy counts of the capped log, clipped at 0; 0 for items outside
            ``gram_items`` (their noisy count was under twice its noise sd).
        gram_items: int64 ``(M,)`` the items whose Gram block was released, by descending noisy count.
        gram: float64 ``(M, M)`` noisy Gram block, diagonal replaced by ``counts`` (less noisy).
        gram_noise: sd of the noise on each Gram entry.
        item_vecs: float64 ``(m, k)`` item factors (0 outside ``gram_items``).
        user_mean: float64 ``(k,)`` mean of the users' factor vectors.
        user_second: float64 ``(k, k)`` second moment E[u uᵀ] of the users' factor vectors.
        weights: float64 ``(M,)`` the column scaling w used on the Gram block.
        basis: float64 ``(M, k)`` eigenvectors P of W G W (user vector u = x_S W P).
    """

    counts: np.ndarray
    gram_items: np.ndarray
    gram: np.ndarray
    gram_noise: float
    item_vecs: np.ndarray
    user_mean: np.ndarray
    user_second: np.ndarray
    weights: np.ndarray
    basis: np.ndarray


def item_statistics(
    x: sp.csr_matrix,
    n_factors: int,
    n_users: float,
    bound: ContributionBound,
    sigmas: dict[str, float],
    rng: np.random.Generator,
    ledger: PrivacyLedger,
) -> ItemStatistics:
    """Noisy counts and Gram block (Analyze Gauss) → item factors and user-vector moments.

    The exact fit takes the SVD of X W, W = diag((c + 1)^{-1/2}); its right singular vectors and squared
    singular values are the eigenpairs of W XᵀX W. Here XᵀX is replaced by its noisy release G̃ on the
    M items whose noisy count exceeds three times its noise sd (items reliably present), at most
    `MAX_GRAM_ITEMS` and at least k + 1; and W uses
    w = (c̃ + τ)^{-1/2}, which damps the noise-dominated rare items. With the top-k eigenpairs (λ, P):
    item vectors v_i = P_i / w_i, user vectors u = x_S W P, whose moments follow from the released
    statistics alone: E[u] = Pᵀ W c̃_S / ñ and E[u uᵀ] = Pᵀ W G̃ W P / ñ = diag(λ) / ñ. Only eigenpairs
    above the top eigenvalue of a simulated draw of the noise W E W (public: its scale follows from σ and
    the noisy counts) are kept (at most k), so at small ε the model has fewer factors.

    Args:
        x: ``(n, m)`` binary capped matrix.
        n_factors: k requested (reduced to M − 1 when fewer items are released).
        n_users: ñ, the noisy number of users (> 0).
    """
    m = x.shape[1]
    counts = gaussian_mechanism(np.asarray(x.sum(axis=0)).ravel(), sensitivity=bound.counts_l2,
                                noise_multiplier=sigmas["item_counts"], rng=rng, ledger=ledger,
                                name="item_counts")
    gram_noise = sigmas["item_gram"] * bound.gram_l2
    count_noise = sigmas["item_counts"] * bound.counts_l2
    order = np.argsort(-counts, kind="stable")
    # the Gram block covers the items whose noisy count is over 3 noise sd: each added item widens the
    # noise bulk of the spectrum (∝ √M) while rare items add little co-occurrence signal
    n_signal = int((counts > 3.0 * count_noise).sum())
    size = int(min(m, MAX_GRAM_ITEMS, max(n_signal, n_factors + 1, 2)))
    # counts under twice their noise sd are mostly noise: most of a catalogue's items are rare, and keeping
    # their noise would make them as popular as real hits; set them to 0 (but keep the M largest)
    kept = np.zeros(m, dtype=bool)
    kept[order[:size]] = True
    counts = np.where(kept | (counts > 2.0 * count_noise), np.maximum(counts, 0.0), 0.0)
    gram_items = order[:size]
    gram = noisy_gram(x[:, gram_items], bound=bound, noise_multiplier=sigmas["item_gram"], rng=rng,
                      ledger=ledger)
    gram[np.diag_indices(size)] = counts[gram_items]
    w = 1.0 / np.sqrt(counts[gram_items] + max(gram_noise, 1.0))
    k_max = max(1, min(n_factors, size - 1))
    vals, vecs = sla.eigh(w[:, None] * gram * w[None, :], subset_by_index=[size - k_max, size - 1])
    vals, vecs = vals[::-1], vecs[:, ::-1]
    # keep the eigenvalues above the top eigenvalue of the noise alone, W E W: its variance profile
    # (τ w_i w_j)² is public, so one simulated draw estimates the bulk edge (the row-norm bound
    # 2 max_i √(Σ_j Var) of Bandeira & van Handel 2016 is far too loose for such uneven profiles)
    sim = np.triu(rng.standard_normal((size, size)))
    sim = (sim + np.triu(sim, 1).T) * (gram_noise * w[:, None] * w[None, :])
    noise_norm = float(sla.eigh(sim, eigvals_only=True, subset_by_index=[size - 1, size - 1])[0])
    k = max(1, int((vals > noise_norm).sum()))
    vals, vecs = np.maximum(vals[:k], 0.0), vecs[:, :k]
    item_vecs = np.zeros((m, k))
    item_vecs[gram_items] = vecs / w[:, None]
    user_mean = vecs.T @ (w * counts[gram_items]) / n_users
    return ItemStatistics(counts, gram_items, gram, gram_noise, item_vecs, user_mean, np.diag(vals / n_users),
                          w, vecs)


def user_model(user_mean: np.ndarray, user_second: np.ndarray, n_traits: int) -> GaussianMixture:
    """One Gaussian over (u, traits): u ~ N(E[u], E[uuᵀ] − E[u]E[u]ᵀ), traits i.i.d. N(0, 1) (copula coordinates).

    The scalar traits are drawn independently of u and of each other (their DP histograms are marginal);
    the covariance of u is projected onto the positive semi-definite cone (eigenvalues floored at 10⁻⁹ of
    the largest) since noise can make it indefinite.
    """
    k = len(user_mean)
    cov = user_second - np.outer(user_mean, user_mean)
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2.0)
    floor = max(float(vals.max()), 1e-12) * 1e-9
    cov = (vecs * np.maximum(vals, floor)) @ vecs.T
    d = k + n_traits
    chol = np.eye(d)
    chol[:k, :k] = np.linalg.cholesky(cov + floor * np.eye(k))
    means = np.zeros((1, d))
    means[0, :k] = user_mean
    return GaussianMixture(weights=np.ones(1), means=means, chols=chol[None], log_likelihood=float("nan"))


def activity_quantiles(
    degree: np.ndarray, n_items: int, sigma: float, rng: np.random.Generator, ledger: PrivacyLedger
) -> tuple[EmpiricalQuantiles, float]:
    """DP histogram of the users' activity (distinct items, uncapped) on public log-spaced bins.

    Returns the activity quantiles (in events) and ñ, the noisy number of users (the histogram total,
    at least 1). Bins: [e_b, e_{b+1}) with e = unique integers of geomspace(1, m + 1, 33).
    """
    edges = np.unique(np.rint(np.geomspace(1.0, n_items + 1.0, 33)))
    noisy = dp_histogram(bin_index(degree, edges), len(edges) - 1, noise_multiplier=sigma, rng=rng,
                         ledger=ledger, name="activity_hist")
    knots = _knots(noisy, edges, sigma)
    return EmpiricalQuantiles(_probs(), knots), max(float(np.maximum(noisy, 0.0).sum()), 1.0)


def order_model(
    users: np.ndarray, items: np.ndarray, n_items: int, counts: np.ndarray, n_users: float,
    bound: ContributionBound, sigmas: dict[str, float], rng: np.random.Generator, ledger: PrivacyLedger,
) -> OrderModel:
    """DP version of `OrderModel.fit` on the capped rows (sorted by user, then time).

    Per-item position sums S_i = Σ_u q_ui (q ∈ [0, 1], L2 sensitivity √L) are released; p_i =
    (S̃_i + ½κ) / (c̃_i + κ) clipped to [0, 1], with κ = the count noise sd (at least 1). The spread s is
    √(released Σ_u mean_i (q_ui − p_i)² / ñ); each user's mean is in [0, 1], so its sensitivity is 1.
    """
    n = int(users.max()) + 1 if len(users) else 0
    starts = segment_starts(users, n)
    deg = np.diff(starts)
    rank = np.arange(len(users)) - starts[users]
    q = np.where(deg[users] > 1, rank / np.maximum(deg[users] - 1, 1), 0.5)
    sums = gaussian_mechanism(np.bincount(items, weights=q, minlength=n_items), sensitivity=bound.counts_l2,
                              noise_multiplier=sigmas["order_positions"], rng=rng, ledger=ledger,
                              name="order_positions")
    kappa = max(1.0, sigmas["item_counts"] * bound.counts_l2)
    pos = np.clip((sums + 0.5 * kappa) / (counts + kappa), 0.0, 1.0)
    per_user = np.bincount(users, weights=(q - pos[items]) ** 2, minlength=n) / np.maximum(deg, 1)
    total = gaussian_mechanism(np.array([per_user.sum()]), sensitivity=1.0, noise_multiplier=sigmas["order_spread"],
                               rng=rng, ledger=ledger, name="order_spread")
    return OrderModel(position=pos, noise=float(np.sqrt(np.clip(total[0] / n_users, 0.0, 1.0))))


def time_model(
    users: np.ndarray, times: np.ndarray, sigmas: dict[str, float], rng: np.random.Generator,
    ledger: PrivacyLedger,
) -> tuple[TimeModel, dict[str, EmpiricalQuantiles]]:
    """DP histograms of start time, tempo, span and within-user gap residuals → `TimeModel` + trait quantiles.

    Args:
        users: dense user ids 0..n−1, grouped, of the full (uncapped) deduplicated log sorted by time.
        times: int64 seconds of those rows.

    Start times: a coarse yearly histogram over 1970–2100 locates the data (years whose noisy count exceeds
    3 noise sd), then a 64-bin histogram over those years. Tempo μ_u = mean log(1 + gap) and log-span
    log(1 + T_u) use 64 bins on [0, log(1 + 20 years)]; users with a single event have no tempo and add
    nothing to its histogram (the exact fit imputes a median, which would let one user move many values).
    Gap residuals log(1 + gap) − μ_u use 80 bins on ±log(1 + 20 years) within 5 tempo buckets whose
    edges are quantiles of the noisy tempo histogram; each user's gaps weigh 1/(her number of gaps).
    Returns the model and quantiles of ``start_time``, ``tempo`` and ``log_span`` (span in seconds).
    """
    n = int(users.max()) + 1
    starts = segment_starts(users, n)
    start = times[starts[:-1]].astype(np.float64)
    last = times[starts[1:] - 1].astype(np.float64)
    same = np.zeros(len(users), dtype=bool)
    same[1:] = users[1:] == users[:-1]
    log_gap = np.log1p(np.maximum(np.diff(times, prepend=0), 0).astype(np.float64))[same]
    gap_user = users[same]
    n_gaps = np.bincount(gap_user, minlength=n)
    tempo = np.bincount(gap_user, weights=log_gap, minlength=n) / np.maximum(n_gaps, 1)
    has = n_gaps > 0
    out: dict[str, EmpiricalQuantiles] = {}

    coarse = dp_histogram(bin_index(start, _COARSE_START_EDGES), len(_COARSE_START_EDGES) - 1,
                          noise_multiplier=sigmas["start_coarse_hist"], rng=rng, ledger=ledger,
                          name="start_coarse_hist")
    busy = np.flatnonzero(coarse > 3.0 * sigmas["start_coarse_hist"])
    if busy.size == 0:
        busy = np.array([int(np.argmax(coarse))])
    fine_edges = np.linspace(_COARSE_START_EDGES[busy[0]], _COARSE_START_EDGES[busy[-1] + 1], _FINE_BINS + 1)
    fine = dp_histogram(bin_index(start, fine_edges), _FINE_BINS, noise_multiplier=sigmas["start_hist"],
                        rng=rng, ledger=ledger, name="start_hist")
    out["start_time"] = EmpiricalQuantiles(_probs(), _knots(fine, fine_edges, sigmas["start_hist"]))

    log_edges = np.linspace(0.0, _MAX_LOG_GAP, _FINE_BINS + 1)
    noisy_tempo = dp_histogram(bin_index(tempo[has], log_edges), _FINE_BINS, noise_multiplier=sigmas["tempo_hist"],
                               rng=rng, ledger=ledger, name="tempo_hist")
    out["tempo"] = EmpiricalQuantiles(_probs(), _knots(noisy_tempo, log_edges, sigmas["tempo_hist"]))
    noisy_span = dp_histogram(bin_index(np.log1p(last - start), log_edges), _FINE_BINS,
                              noise_multiplier=sigmas["span_hist"], rng=rng, ledger=ledger, name="span_hist")
    out["log_span"] = EmpiricalQuantiles(_probs(), np.expm1(_knots(noisy_span, log_edges, sigmas["span_hist"])))

    n_b = 5
    edges = np.unique(out["tempo"].ppf(np.arange(1, n_b) / n_b))
    n_b = len(edges) + 1
    resid_edges = np.linspace(-_MAX_LOG_GAP, _MAX_LOG_GAP, 81)
    n_r = len(resid_edges) - 1
    bucket = np.searchsorted(edges, tempo[gap_user], side="right")
    cells = bucket * n_r + bin_index(log_gap - tempo[gap_user], resid_edges)
    noisy_gaps = dp_histogram(cells, n_b * n_r, users=gap_user, noise_multiplier=sigmas["gap_hist"], rng=rng,
                              ledger=ledger, name="gap_hist").reshape(n_b, n_r)
    residuals = tuple(
        EmpiricalQuantiles(_probs(), _knots(noisy_gaps[b], resid_edges, sigmas["gap_hist"]))
        for b in range(n_b)
    )
    return TimeModel(edges=edges, residuals=residuals), out


def rating_model(
    users: np.ndarray, ratings: np.ndarray, levels: np.ndarray, capped: np.ndarray, scores: np.ndarray,
    sigmas: dict[str, float], rng: np.random.Generator, ledger: PrivacyLedger,
) -> tuple[RatingModel, EmpiricalQuantiles]:
    """DP histogram of users' mean ratings, then a DP table P(level | rating bucket, affinity bin).

    Args:
        users: dense user ids 0..n−1 of the full deduplicated log; ``ratings`` their ratings.
        levels: float64 ``(L,)`` the public rating scale, ascending.
        capped: bool ``(len(users),)`` rows kept by the contribution bound.
        scores: float ``(capped.sum(),)`` the fitted logit of each capped row (only its within-user rank
            is used).

    Mean ratings: 32 bins over [min level, max level]. A user's bucket is ⌊F̃(her mean) · B⌋ with F̃ the
    CDF of that noisy histogram (B = 3). Table: each capped rated row falls in a cell (bucket, affinity
    bin (A = 4, `affinity_bins`), nearest level); a user's rows weigh 1/(her rows), sensitivity 1. The
    noisy table, clipped at 0, is smoothed towards each bucket's level marginal with prior weight
    max(1, 2σ) (as `RatingModel.fit` does with weight 1).
    """
    n = int(users.max()) + 1
    mean = np.bincount(users, weights=ratings, minlength=n) / np.maximum(np.bincount(users, minlength=n), 1)
    lo, hi = float(levels[0]), float(levels[-1])
    edges = np.linspace(lo, hi, 33) if hi > lo else np.array([lo - 0.5, hi + 0.5])
    noisy = dp_histogram(bin_index(mean, edges), len(edges) - 1, noise_multiplier=sigmas["mean_rating_hist"],
                         rng=rng, ledger=ledger, name="mean_rating_hist")
    knots = _knots(noisy, edges, sigmas["mean_rating_hist"])
    quantiles = EmpiricalQuantiles(_probs(), knots)
    pct = np.interp(mean, knots, _probs())
    ub = user_buckets(pct, RATING_BUCKETS)
    cu, cr = users[capped], ratings[capped]
    upper = np.minimum(np.searchsorted(levels, cr), len(levels) - 1)
    lower = np.maximum(upper - 1, 0)
    lev = np.where(np.abs(levels[lower] - cr) <= np.abs(levels[upper] - cr), lower, upper)
    ab = affinity_bins(cu, scores, RATING_BINS)
    n_l = len(levels)
    cells = (ub[cu] * RATING_BINS + ab) * n_l + lev
    table = dp_histogram(cells, RATING_BUCKETS * RATING_BINS * n_l, users=cu,
                         noise_multiplier=sigmas["rating_table"], rng=rng, ledger=ledger, name="rating_table")
    table = np.maximum(table, 0.0).reshape(RATING_BUCKETS, RATING_BINS, n_l)
    marg = table.sum(axis=1, keepdims=True) + 1e-9
    table = table + max(1.0, 2.0 * sigmas["rating_table"]) * marg / marg.sum(axis=2, keepdims=True) + 1e-12
    cdf = np.cumsum(table, axis=2)
    cdf /= cdf[:, :, -1:]
    return RatingModel(levels=np.asarray(levels, np.float64), cdf=cdf), quantiles


def _probs() -> np.ndarray:
    """Probabilities of the stored knots, 0 … 1."""
    return np.linspace(0.0, 1.0, N_KNOTS)


def _knots(noisy: np.ndarray, edges: np.ndarray, threshold: float) -> np.ndarray:
    """Knots at `_probs` of a noisy histogram, its extreme ``TAIL_TRIM`` tails trimmed.

    Empty public bins whose noise lands above the threshold keep a sliver of mass; without the trim that
    sliver would set the minimum and maximum of the distribution.
    """
    return quantiles_from_histogram(noisy, edges, np.linspace(TAIL_TRIM, 1.0 - TAIL_TRIM, N_KNOTS),
                                    threshold=threshold)
