"""`LatentFactorGenerator`'s fit from statistics that can be computed in passes over a log too large for
memory (`synthrec.scale.stream_fit` computes them from Parquet files, on any backend).

The exact fit (`LatentFactorGenerator._fit_exact`) needs the whole log in one process: a randomized SVD of
the n × m matrix X·W keeps an n × (k + 10) basis of users, and the user-trait mixture, the rating model and
the time model read every user's rows. This fit needs instead:

* **item-level statistics of all users**, each a sum over users: item counts c, the activity histogram,
  the Gram block XᵀX of the ``gram_items`` most popular items (integers), the order model's sums
  Σ q_ui and Σ q_ui² (fixed point), and products Xᵀ·q(X·B) for a few m × l matrices B (fixed point, see
  `PassSource.xtx`);
* **a uniform sample of users** (`synthrec.generators._pass_source.ScanSummary.sample`, at most about ``sample_users`` of them, chosen
  by a hash of the user id, so the sample does not depend on file order or partitioning) for everything
  fitted per user: the trait mixture, the trait quantiles, the time model and the rating model. With
  fewer users than ``sample_users`` the sample is every user.

**Item factors by randomized subspace iteration on the Gram matrix.** The right singular vectors of
A = X·W are the eigenvectors of G = AᵀA = W XᵀX W (m × m, never formed): with a Gaussian start
B₀ (m × l, l = k + 10) and Bₜ = orth(G Bₜ₋₁) for t = 1..q (q = 4), the Rayleigh–Ritz step on
T = B_qᵀ G B_q = U Λ Uᵀ gives P = B_q U_k and σ² = Λ_k (Halko, Martinsson & Tropp 2011, SIAM Review
53(2), Alg. 4.4 applied to the Hermitian G, and Alg. 5.3). Each product G B is one pass over the log
(A B = X (W B) per user, then Xᵀ of that), so only m × l numbers are held. The in-memory fit's
Alg. 4.4 on A with the same q and start spans the same subspace, so the two agree within the
subspace iteration's error (tests/test_stream_fit.py checks factors, scale and samples).

**Exactness across partitions.** Every sum over users is of integers (counts, Gram) or of values
rounded to a fixed grid before summing (`PassSource.xtx`, the order sums), so the totals are the same
whatever the order of the rows, the files, the chunks or the workers, and a fit from files equals, bit
for bit, this fit from the same log in memory (`synthrec.scale.stream_fit.InMemoryPassSource`).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from synthrec.data.interactions import RATING
from synthrec.errors import ConfigError
from synthrec.generators._gmm import fit_gaussian_mixture
from synthrec.generators._logs import first_pairs, user_traits
from synthrec.generators._pass_source import (
    CALIBRATING,
    ORDER_BITS,
    PassSource,
    fixed_point_bits,
    order_model_from_sums,
    stamp_fitted,
)
from synthrec.generators._ratings import RatingModel

if TYPE_CHECKING:
    from synthrec.generators.latent_factor import LatentFactorGenerator

#: power iterations of the subspace iteration (as `latent_factor._randomized_svd`)
POWER_ITERATIONS = 4
#: extra basis columns beyond k (as `latent_factor._randomized_svd`)
OVERSAMPLE = 10


def fit_latent_factor_from_source(gen: LatentFactorGenerator, source: PassSource) -> None:
    """Fit ``gen`` from a `PassSource` — its exact model, or with ``epsilon`` finite its user-level DP model
    (`_fit_dp`); marks it fitted.

    Raises:
        ConfigError: a DP fit from a source read without the contribution cap (``summary.capped`` None).
    """
    private = gen.epsilon is not None and bool(np.isfinite(gen.epsilon))
    if private and source.summary.capped is None:
        raise ConfigError("a DP fit needs the capped sums: read the log with the generator's max_items_per_user "
                          "as the cap (fit_streaming and fit_in_passes do)")
    gen._fitted = False
    with threadpool_limits(limits=1, user_api="blas"):
        if private:
            _fit_dp(gen, source)
        else:
            _fit(gen, source)
    stamp_fitted(gen, source.summary)


def _fit(gen: LatentFactorGenerator, source: PassSource) -> None:
    from synthrec.generators.latent_factor import _cosine

    s = source.summary
    counts = s.counts.astype(np.float64)
    n, m = s.n_users, len(counts)
    gen.privacy_ledger_ = None
    gen.privacy_delta_ = 0.0
    rng = np.random.default_rng(gen.seed)

    # 1. item factors: subspace iteration on G = W XᵀX W, one pass per product
    k = min(gen.n_factors, n, m)
    if k < gen.n_factors:
        warnings.warn(f"n_factors={gen.n_factors} exceeds min(users, items) = {min(n, m)} of '{s.name}'; "
                      f"using {k} factors", UserWarning, stacklevel=3)
    w = 1.0 / np.sqrt(counts + 1.0)
    width = min(k + OVERSAMPLE, n, m)
    basis = rng.standard_normal((m, width))
    top = np.argsort(-counts, kind="stable")[: min(gen.gram_items, m)]
    product, gram_top = _gram_product(source, w, basis, s.n_pairs, top)
    assert gram_top is not None
    for _ in range(POWER_ITERATIONS):
        # orthonormal columns: every entry in [−1, 1], so the fixed-point bound of the next pass holds
        basis = sla.qr(product, mode="economic", check_finite=False)[0]
        product, _ = _gram_product(source, w, basis, s.n_pairs, None)
    ritz = basis.T @ product
    values, vectors = np.linalg.eigh((ritz + ritz.T) / 2.0)
    order = np.argsort(-values, kind="stable")[:k]
    values = np.maximum(values[order], 0.0)
    basis_k = basis @ vectors[:, order]  # P: m × k, orthonormal right singular vectors of X·W
    item_vecs = basis_k / w[:, None]
    # sd of the n·m scores u·v_i, u = x_u W P: Σ_u u uᵀ = Pᵀ G P = diag(λ) (Rayleigh–Ritz), Σ_u u = Pᵀ W c
    vtv = item_vecs.T @ item_vecs
    second = float(np.sum(values * np.diag(vtv))) / (n * m)
    mean = float(((basis_k.T @ (w * counts)) / n) @ item_vecs.mean(axis=0))
    score_sd = float(np.sqrt(max(second - mean * mean, 0.0))) or 1.0

    # 2. user traits, from the user sample
    frame, users, items, has_time, has_rating = first_pairs(s.sample)
    n_s = int(users.max()) + 1
    x_s = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(n_s, m))
    user_vecs = x_s @ (w[:, None] * basis_k)
    traits, names, quantiles, time_model = user_traits(frame, users, x_s, has_time, has_rating)
    n_comp = max(1, min(gen.n_components, n_s // 20))
    gen.user_model_ = fit_gaussian_mixture(np.column_stack([user_vecs, *traits]), n_comp, seed=gen.seed,
                                           prior_weight=gen.mixture_prior)
    gen.trait_names_ = names
    gen.trait_quantiles_ = quantiles
    gen.n_factors_ = k
    gen.item_factors_ = item_vecs.astype(np.float32)
    gen.n_items_ = m

    # 3-5. popularity calibration and affinity scale (no data: simulated users)
    source.note(CALIBRATING)
    bias = gen._fit_popularity_and_scale(counts, top, _cosine(gram_top.astype(np.float64)), score_sd, rng)

    # 6. ratings, from the user sample; 7. order from the sums of all users, time from the sample
    gen.rating_model_ = None
    if has_rating:
        scores = gen.scale_ * np.einsum("nk,nk->n", user_vecs[users], item_vecs[items]) + bias[items]
        gen.rating_model_ = RatingModel.fit(users, frame[RATING].to_numpy(), scores, n_s)
    gen.order_model_ = order_model_from_sums(s.order_q_sum, s.order_q2_sum, s.counts)
    gen.time_model_ = time_model
    gen.fit_report_["streaming"] = {"users": n, "pairs": s.n_pairs, "rows": s.n_rows, "sample_users": n_s,
                                    "passes": POWER_ITERATIONS + 1}


def _gram_product(source: PassSource, w: np.ndarray, basis: np.ndarray, n_pairs: int, top: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """G·basis = W Xᵀ X W basis (float64 ``(m, l)``) from one fixed-point pass, and the Gram block of
    ``top`` when asked. The per-user projections x_uᵀ W basis are bounded by Σ_{i∈u} w_i ≤ n_u · max w,
    so the bits follow from the number of pairs."""
    scaled = w[:, None] * basis
    bits = fixed_point_bits(n_pairs, float(np.abs(scaled).max(initial=0.0)))
    total, gram = source.xtx(scaled, bits, top)
    return w[:, None] * np.ldexp(total.astype(np.float64), -bits), gram




def _fit_dp(gen: LatentFactorGenerator, source: PassSource) -> None:
    """User-level (ε, δ)-DP fit in passes: the mechanisms of `LatentFactorGenerator._fit_dp`, each run once.

    Item-level releases (item counts, the unit-norm Gram block and taste sums, order positions and spread)
    are computed from exact sums over every user's capped items (`ScanSummary.capped`; the cap is
    `bound_user_contributions_hashed`, so it does not depend on partitioning); the activity histogram from
    every user; the per-user releases (start time, tempo, span, gap residuals, mean rating, the rating
    table) from the hash-chosen user sample — a mechanism run on a subset chosen without looking at the
    data is still (ε, δ)-DP, only its signal is that of the sample. The ledger composes the same spends as
    the in-memory DP fit.
    """
    from synthrec.generators import _latent_factor_dp as dp
    from synthrec.generators._logs import public_rating_levels
    from synthrec.generators._sampling import EmpiricalQuantiles
    from synthrec.generators.latent_factor import _cosine
    from synthrec.privacy import (
        ContributionBound,
        PlannedGaussian,
        PrivacyLedger,
        bound_user_contributions_hashed,
        calibrate_noise_multipliers,
    )

    assert gen.epsilon is not None
    s = source.summary
    capped = s.capped
    assert capped is not None
    frame, users, items, has_time, has_rating = first_pairs(s.sample)
    m = len(s.counts)
    delta = gen.delta if gen.delta is not None else min(1e-5, float(s.n_users) ** -1.1)
    if not 0 < delta < 1:
        raise ConfigError(f"delta must be in (0, 1), got {delta!r}")
    levels = public_rating_levels(frame[RATING].to_numpy(), gen.rating_levels) if has_rating else None
    shares = dp.plan_shares(has_time=has_time, has_rating=has_rating)
    sigmas = calibrate_noise_multipliers([PlannedGaussian(k, v) for k, v in shares.items()],
                                         epsilon=float(gen.epsilon), delta=delta)
    bound = ContributionBound(gen.max_items_per_user)
    ledger = PrivacyLedger()
    rng = np.random.default_rng(gen.seed)

    activity, n_noisy = dp.activity_quantiles_from_histogram(s.activity, m, sigmas["activity_hist"], rng, ledger)
    stats = dp.item_statistics_from(capped.counts, source.normalised, gen.n_factors, n_noisy, bound, sigmas, rng,
                                    ledger)
    k = stats.item_vecs.shape[1]
    names = ["log_activity"]
    quantiles: dict[str, EmpiricalQuantiles] = {"log_activity": activity}
    if has_rating:
        names.append("mean_rating")
    time_model, time_names, time_q = dp.time_traits(
        users, frame["timestamp"].to_numpy() if has_time else None, sigmas, rng, ledger)
    names += time_names
    quantiles.update(time_q)
    gen.n_factors_ = k
    gen.item_factors_ = stats.item_vecs.astype(np.float32)
    gen.n_items_ = m
    gen.user_model_ = dp.user_model(stats.user_mean, stats.user_second, len(names))
    gen.trait_names_ = names
    gen.trait_quantiles_ = quantiles
    v = stats.item_vecs
    second = float(np.sum(stats.user_second * (v.T @ v))) / m
    mean = float(stats.user_mean @ v.mean(axis=0))
    score_sd = float(np.sqrt(max(second - mean * mean, 0.0))) or 1.0
    if has_rating:  # placeholder quantiles for the calibration's draws (ratings do not enter it)
        gen.trait_quantiles_["mean_rating"] = EmpiricalQuantiles(np.linspace(0, 1, 2), np.zeros(2))
    top_pos = np.arange(min(gen.gram_items, len(stats.gram_items)))
    block = stats.gram[np.ix_(top_pos, top_pos)]
    source.note(CALIBRATING)
    bias = gen._fit_popularity_and_scale(stats.counts, stats.gram_items[top_pos], _cosine(block), score_sd, rng)

    gen.rating_model_ = None
    if has_rating:
        assert levels is not None
        user_keys = s.sample.user_ids.hash(seed=0).to_numpy()[users]
        keep = bound_user_contributions_hashed(user_keys, items, capped.cap, seed=capped.seed)
        cu, ci = users[keep], items[keep]
        x = sp.csr_matrix((np.ones(len(cu)), (cu, ci)), shape=(int(users.max()) + 1, m))
        uvec = x[:, stats.gram_items] @ (stats.weights[:, None] * stats.basis)
        scores = gen.scale_ * np.einsum("nk,nk->n", uvec[cu], stats.item_vecs[ci]) + bias[ci]
        gen.rating_model_, gen.trait_quantiles_["mean_rating"] = dp.rating_model(
            users, frame[RATING].to_numpy().astype(np.float64), levels, keep, scores, sigmas, rng, ledger)
    gen.order_model_ = dp.order_model_from(np.ldexp(capped.position_sums.astype(np.float64), -ORDER_BITS),
                                           capped.spread, stats.counts, n_noisy, bound, sigmas, rng, ledger)
    gen.time_model_ = time_model
    gen.privacy_ledger_ = ledger
    gen.privacy_delta_ = float(delta)
    gen.fit_report_["privacy"] = ledger.to_dict(delta)
    gen.fit_report_["dp_gram_items"] = len(stats.gram_items)
    gen.fit_report_["streaming"] = {"users": s.n_users, "pairs": s.n_pairs, "rows": s.n_rows,
                                    "sample_users": int(users.max()) + 1, "passes": 1}
