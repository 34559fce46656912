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
from synthrec.generators._pass_source import PassSource, fixed_point_bits, order_model_from_sums, stamp_fitted
from synthrec.generators._ratings import RatingModel

if TYPE_CHECKING:
    from synthrec.generators.latent_factor import LatentFactorGenerator

#: power iterations of the subspace iteration (as `latent_factor._randomized_svd`)
POWER_ITERATIONS = 4
#: extra basis columns beyond k (as `latent_factor._randomized_svd`)
OVERSAMPLE = 10


def fit_latent_factor_from_source(gen: LatentFactorGenerator, source: PassSource) -> None:
    """Fit ``gen`` (its non-private exact model) from a `PassSource`; marks it fitted.

    Raises:
        ConfigError: ``gen`` asks for a DP fit (``epsilon`` finite): not available in passes yet.
    """
    if gen.epsilon is not None and np.isfinite(gen.epsilon):
        raise ConfigError("a streaming fit of a DP latent-factor generator is not available yet: fit it in "
                          "memory (`synthrec fit` without --streaming) or drop --param epsilon")
    gen._fitted = False
    with threadpool_limits(limits=1, user_api="blas"):
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


