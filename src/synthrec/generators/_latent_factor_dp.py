"""User-level DP estimation of every part `LatentFactorGenerator` fits (used when ``epsilon`` is set).

Each function here releases one or two statistics through `synthrec.privacy.mechanisms` (recording its
spend in the ledger) and turns them, by post-processing only, into a model part. Nothing derived from an
individual user leaves a mechanism: the fitted generator holds noised statistics and functions of them.

Contribution bound: every user's distinct items are capped to L (uniform sample,
`synthrec.privacy.bound_user_contributions`); statistics over items (counts, positions, the rating table)
use the capped rows with sensitivities in L; the Gram block and the taste sums use the capped rows scaled
to unit L2 norm per user (sensitivity 1, see `normalised_gram`); per-user traits (activity, start time,
tempo, span, mean rating) use the user's full history, since each user adds exactly one value to a trait histogram whatever its length.

Budget: `plan_shares` splits ρ (the Rényi "cost" α/(2σ²) of a Gaussian with q = 1) between the mechanisms;
`synthrec.privacy.calibrate_noise_multipliers` turns the target (ε, δ) into one σ per mechanism.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from synthrec.errors import DataValidationError
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
    quantiles_from_histogram,
)

#: ρ-shares of the mechanisms (renormalised over those a log needs); the Gram and the counts carry the
#: item structure that drives recommendation utility, so they get most of the budget.
SHARES: dict[str, float] = {
    "item_counts": 0.12, "item_gram": 0.55, "taste_sums": 0.03, "activity_hist": 0.08,
    "order_positions": 0.04, "order_spread": 0.01,
    "mean_rating_hist": 0.03, "rating_table": 0.06,
    "start_coarse_hist": 0.02, "start_hist": 0.04, "tempo_hist": 0.05, "span_hist": 0.05, "gap_hist": 0.06,
}
#: most items whose Gram block is released (the block is M × M float64)
MAX_GRAM_ITEMS = 4000
#: an item enters the Gram block when its noisy count exceeds this many count-noise sd
GRAM_SIGNAL_SD = 3.0
#: shrink the kept Gram eigenvalues for the noise (see `item_statistics`)
SHRINK_EIGENVALUES = True
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


def normalised_gram(
    x: sp.csr_matrix,
    *,
    noise_multiplier: float,
    rng: np.random.Generator,
    ledger: PrivacyLedger,
    name: str = "item_gram",
) -> np.ndarray:
    """Analyze Gauss on row-normalised histories: G = Σ_u z_u z_uᵀ, z_u = x_u / ‖x_u‖₂, plus symmetric noise.

    Each user's row is scaled to unit L2 norm (an empty row stays 0). The released vector holds G's
    diagonal and √2 × its upper off-diagonal entries; one user adds (z_i²)_i and (√2 z_i z_j)_{i<j}, whose
    squared L2 norm is Σ_i z_i⁴ + 2 Σ_{i<j} z_i² z_j² = ‖z‖⁴ ≤ 1 — L2 sensitivity 1 under add/remove of
    one user, whatever her number of items, so no item cap is needed (Dwork, Talwar, Thakurta & Zhang
    2014, "Analyze Gauss", STOC, Alg. 1, whose analysis assumes rows of norm ≤ 1). The vector is released
    by `gaussian_mechanism` (N(0, σ²) per entry) and unscaled, so a diagonal entry carries noise sd σ and
    an off-diagonal one σ/√2 (mirrored below the diagonal).

    Args:
        x: sparse ``(n_users, M)`` non-negative matrix (binary histories restricted to the released items).
        noise_multiplier: σ > 0; noise sd = σ on the diagonal, σ/√2 off it.

    Returns:
        float64 ``(M, M)`` symmetric matrix (not PSD in general).

    Raises:
        DataValidationError: ``x`` has a negative or non-finite entry.
    """
    x = sp.csr_matrix(x, dtype=np.float64)
    if x.nnz and not (np.isfinite(x.data).all() and x.data.min() >= 0):
        raise DataValidationError("normalised_gram needs a finite, non-negative matrix",
                                  hint="pass binary user × item histories")
    norm = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    z = sp.diags(1.0 / np.where(norm > 0, norm, 1.0)) @ x
    return release_gram((z.T @ z).toarray(), noise_multiplier=noise_multiplier, rng=rng, ledger=ledger, name=name)


def release_gram(gram: np.ndarray, *, noise_multiplier: float, rng: np.random.Generator, ledger: PrivacyLedger,
                 name: str = "item_gram") -> np.ndarray:
    """The release of `normalised_gram` from its exact value G = Σ_u z_u z_uᵀ (rows of norm ≤ 1; e.g.
    summed in passes over a log too large for memory): float64 ``(M, M)``, noise sd σ on the diagonal and
    σ/√2 off it, L2 sensitivity 1 (see `normalised_gram`)."""
    m = gram.shape[0]
    rows, cols = np.triu_indices(m)
    scale = np.where(rows == cols, 1.0, np.sqrt(2.0))
    noisy = gaussian_mechanism(gram[rows, cols] * scale, sensitivity=1.0, noise_multiplier=noise_multiplier,
                               rng=rng, ledger=ledger, name=name) / scale
    out = np.zeros((m, m))
    out[rows, cols] = noisy
    return out + np.triu(out, 1).T


@dataclass(frozen=True)
class ItemStatistics:
    """Noised item statistics and the factors derived from them.

    Attributes:
        counts: float64 ``(m,)`` noisy counts of the capped log, clipped at 0; 0 for items outside
            ``gram_items`` whose noisy count was under twice its noise sd.
        gram_items: int64 ``(M,)`` the items whose Gram block was released, by descending noisy count.
        gram: float64 ``(M, M)`` noisy row-normalised Gram block (`normalised_gram`), diagonal replaced by
            the less noisy estimate ``r̂ · counts`` (see `item_statistics`).
        gram_noise: sd of the noise on each off-diagonal Gram entry.
        item_vecs: float64 ``(m, k)`` item factors (0 outside ``gram_items``).
        user_mean: float64 ``(k,)`` mean of the users' factor vectors.
        user_second: float64 ``(k, k)`` second moment E[u uᵀ] of the users' factor vectors.
        weights: float64 ``(M,)`` the column scaling w used on the Gram block.
        basis: float64 ``(M, k)`` eigenvectors P of W G W (user vector u ∝ x_S W P; only its direction
            is used outside this module).
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
    """Noisy counts, a row-normalised Gram block and taste sums → item factors and user-vector moments.

    The exact fit takes the SVD of X W, W = diag((c + 1)^{-1/2}). Here each user's history restricted to
    the released items S is first scaled to unit L2 norm, z_u = x_{u,S} / ‖x_{u,S}‖, so the Gram
    G = Σ_u z_u z_uᵀ (`normalised_gram`) and the taste sums t = Σ_u z_u have L2 sensitivity 1 whatever
    the cap (a heavy user weighs as much as a light one, as in cosine-normalised item–item CF). Released:

    * item counts c̃ of the capped log (sensitivity √L), which pick S: the items whose noisy count
      exceeds `GRAM_SIGNAL_SD` count noise sd, at most `MAX_GRAM_ITEMS` and at least k + 1 (each extra
      item widens the noise bulk of the spectrum, ∝ √M, while rare items add little co-occurrence signal);
    * G̃ on S (off-diagonal noise sd σ/√2); its diagonal is replaced by r̂ c̃_S, r̂ = ñ / Σ_S c̃ (the true
      diagonal sums to the number of users with an item in S, ≈ ñ), which is far less noisy;
    * t̃ (sensitivity 1).

    w = (r̂ c̃_S + τ)^{-1/2} with τ = max(r̂, off-diagonal noise sd) damps noise-dominated items. With the
    top eigenpairs (λ, P) of W G̃ W: item vectors v_i = P_i / w_i and user vectors u = z_u W P, whose
    moments follow from the releases alone: E[u] = Pᵀ W t̃ / ñ and E[u uᵀ] = Pᵀ W G W P / ñ ≈ diag(θ) / ñ.
    Only eigenvalues above the top eigenvalue of a simulated draw of the noise W E W (public: its scale
    follows from σ and the noisy counts) are kept (at most k). θ shrinks each kept λ for the noise: in
    the spiked Wigner model an outlier eigenvalue sits at λ = θ + b²/(4θ) for a bulk edge b (Benaych-
    Georges & Nadakuditi 2011, "The eigenvalues and eigenvectors of finite, low rank perturbations of
    large random matrices", Adv. Math. 227, Thm 2.1 / §3.1), so θ = (λ + √(λ² − b²)) / 2.

    Args:
        x: ``(n, m)`` binary capped matrix.
        n_factors: k requested (reduced to M − 1 when fewer items are released).
        n_users: ñ, the noisy number of users (> 0).
    """
    def normalised(gram_items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs = sp.csr_matrix(x[:, gram_items], dtype=np.float64)
        norm = np.sqrt(np.asarray(xs.multiply(xs).sum(axis=1)).ravel())
        z = sp.diags(1.0 / np.where(norm > 0, norm, 1.0)) @ xs
        return (z.T @ z).toarray(), np.asarray(z.sum(axis=0)).ravel()

    return item_statistics_from(np.asarray(x.sum(axis=0)).ravel(), normalised, n_factors, n_users, bound, sigmas,
                                rng, ledger)


def item_statistics_from(
    capped_counts: np.ndarray,
    normalised: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    n_factors: int,
    n_users: float,
    bound: ContributionBound,
    sigmas: dict[str, float],
    rng: np.random.Generator,
    ledger: PrivacyLedger,
) -> ItemStatistics:
    """`item_statistics` from exact statistics of the capped log: ``capped_counts`` ``(m,)`` and
    ``normalised(items)``, which returns the exact Σ_u z_u z_uᵀ ``(M, M)`` and taste sums Σ_u z_u ``(M,)``
    of those items (z_u: the user's capped row restricted to them, scaled to unit L2 norm) — computed in
    memory, or in passes over files (`synthrec.generators._latent_factor_stream`). Releases and noise as
    `item_statistics`, in the same order."""
    m = len(capped_counts)
    counts = gaussian_mechanism(np.asarray(capped_counts, dtype=np.float64), sensitivity=bound.counts_l2,
                                noise_multiplier=sigmas["item_counts"], rng=rng, ledger=ledger,
                                name="item_counts")
    count_noise = sigmas["item_counts"] * bound.counts_l2
    order = np.argsort(-counts, kind="stable")
    n_signal = int((counts > GRAM_SIGNAL_SD * count_noise).sum())
    size = int(min(m, MAX_GRAM_ITEMS, max(n_signal, n_factors + 1, 2)))
    # counts under twice their noise sd are mostly noise: most of a catalogue's items are rare, and keeping
    # their noise would make them as popular as real hits; set them to 0 (but keep the M largest)
    kept = np.zeros(m, dtype=bool)
    kept[order[:size]] = True
    counts = np.where(kept | (counts > 2.0 * count_noise), np.maximum(counts, 0.0), 0.0)
    gram_items = order[:size]
    exact_gram, exact_taste = normalised(gram_items)
    gram = release_gram(exact_gram, noise_multiplier=sigmas["item_gram"], rng=rng, ledger=ledger)
    taste = gaussian_mechanism(exact_taste, sensitivity=1.0, noise_multiplier=sigmas["taste_sums"], rng=rng,
                               ledger=ledger, name="taste_sums")
    gram_noise = sigmas["item_gram"] / np.sqrt(2.0)
    c_s = np.maximum(counts[gram_items], 0.0)
    ratio = n_users / max(float(c_s.sum()), 1.0)
    diag = ratio * c_s
    gram[np.diag_indices(size)] = diag
    w = 1.0 / np.sqrt(diag + max(ratio, gram_noise))
    k_max = max(1, min(n_factors, size - 1))
    vals, vecs = sla.eigh(w[:, None] * gram * w[None, :], subset_by_index=[size - k_max, size - 1])
    vals, vecs = vals[::-1], vecs[:, ::-1]
    # bulk edge of the noise alone, W E W (E off-diagonal; the diagonal was replaced): its variance profile
    # (σ w_i w_j)² is public, so one simulated draw estimates it (the row-norm bound 2 max_i √(Σ_j Var)
    # of Bandeira & van Handel 2016 is far too loose for such uneven profiles)
    sim = np.triu(rng.standard_normal((size, size)), 1)
    sim = (sim + sim.T) * (gram_noise * w[:, None] * w[None, :])
    edge = float(sla.eigh(sim, eigvals_only=True, subset_by_index=[size - 1, size - 1])[0])
    k = max(1, int((vals > edge).sum()))
    vals, vecs = vals[:k], vecs[:, :k]
    if SHRINK_EIGENVALUES:
        vals = np.where(vals > edge, 0.5 * (vals + np.sqrt(np.maximum(vals**2 - edge**2, 0.0))), 0.0)
    vals = np.maximum(vals, 0.0)
    item_vecs = np.zeros((m, k))
    item_vecs[gram_items] = vecs / w[:, None]
    user_mean = vecs.T @ (w * taste) / n_users
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
    degree = np.asarray(degree, dtype=np.int64)
    return activity_quantiles_from_histogram(np.bincount(degree), n_items, sigma, rng, ledger)


def activity_quantiles_from_histogram(
    users_per_degree: np.ndarray, n_items: int, sigma: float, rng: np.random.Generator, ledger: PrivacyLedger
) -> tuple[EmpiricalQuantiles, float]:
    """`activity_quantiles` from the exact histogram ``users_per_degree[d]`` = users with d distinct items
    (a sum over users: computable in passes). One user adds 1 to one public bin: sensitivity 1, as
    `dp_histogram`."""
    edges = np.unique(np.rint(np.geomspace(1.0, n_items + 1.0, 33)))
    hist = np.asarray(users_per_degree, dtype=np.float64)
    binned = np.bincount(bin_index(np.arange(len(hist)), edges), weights=hist, minlength=len(edges) - 1)
    noisy = gaussian_mechanism(binned, sensitivity=1.0, noise_multiplier=sigma, rng=rng, ledger=ledger,
                               name="activity_hist")
    knots = _knots(contiguous_tail(noisy, sigma), edges, sigma)
    return EmpiricalQuantiles(_probs(), knots), max(float(np.maximum(noisy, 0.0).sum()), 1.0)


def contiguous_tail(noisy: np.ndarray, threshold: float) -> np.ndarray:
    """A noisy activity histogram (float64 ``(B,)`` on widening log-spaced bins) with every bin after its
    tail's first gap set to 0: past the mode, the first bin at or under ``threshold`` ends the tail.

    Why: activity is heavy-tailed but its counts per log-spaced bin fall steadily past the mode (for a
    density ∝ d^−α, α > 1, a bin [d, 2d) holds ∝ d^(1−α)), so a bin above the noise after an empty one is
    noise. With few users such bins are not rare: at ε = 1 on 1,485 Beauty users (noise sd ≈ 17 users per
    bin), isolated bins out to the catalogue size made synthetic users of up to 364 items (real: 88) and
    slowed the DP fit's calibration. Post-processing of the release: the guarantee is unchanged."""
    above = noisy > threshold
    if not above.any():
        return noisy
    mode = int(np.argmax(noisy))
    gaps = np.flatnonzero(~above[mode:])
    if not gaps.size:
        return noisy
    out = noisy.copy()
    out[mode + int(gaps[0]):] = 0.0
    return out


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

    def spread(pos: np.ndarray) -> float:
        per_user = np.bincount(users, weights=(q - pos[items]) ** 2, minlength=n) / np.maximum(deg, 1)
        return float(per_user.sum())

    return order_model_from(np.bincount(items, weights=q, minlength=n_items), spread, counts, n_users, bound,
                            sigmas, rng, ledger)


def order_model_from(
    position_sums: np.ndarray, spread: Callable[[np.ndarray], float], counts: np.ndarray, n_users: float,
    bound: ContributionBound, sigmas: dict[str, float], rng: np.random.Generator, ledger: PrivacyLedger,
) -> OrderModel:
    """`order_model` from the exact position sums S_i = Σ_u q_ui ``(m,)`` of the capped rows and
    ``spread(p)`` = Σ_u mean_{i in u} (q_ui − p_i)², both sums over users (computable in passes)."""
    sums = gaussian_mechanism(np.asarray(position_sums, dtype=np.float64), sensitivity=bound.counts_l2,
                              noise_multiplier=sigmas["order_positions"], rng=rng, ledger=ledger,
                              name="order_positions")
    kappa = max(1.0, sigmas["item_counts"] * bound.counts_l2)
    pos = np.clip((sums + 0.5 * kappa) / (counts + kappa), 0.0, 1.0)
    total = gaussian_mechanism(np.array([spread(pos)]), sensitivity=1.0, noise_multiplier=sigmas["order_spread"],
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


def time_traits(
    users: np.ndarray, times: np.ndarray | None, sigmas: dict[str, float], rng: np.random.Generator,
    ledger: PrivacyLedger,
) -> tuple[TimeModel | None, list[str], dict[str, EmpiricalQuantiles]]:
    """`time_model` when the log has times (``times`` not None): the model, the trait names ``start_time``,
    ``tempo``, ``log_span`` and their quantiles; ``(None, [], {})`` without times (nothing released)."""
    if times is None:
        return None, [], {}
    model, quantiles = time_model(users, np.asarray(times).astype(np.int64), sigmas, rng, ledger)
    return model, ["start_time", "tempo", "log_span"], quantiles


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
