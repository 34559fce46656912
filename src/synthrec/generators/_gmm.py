"""A small full-covariance Gaussian mixture fitted by MAP-EM in numpy (scikit-learn is not a dependency).

Model (Bishop 2006, *Pattern Recognition and Machine Learning*, §9.2, eqs. 9.7, 9.23–9.27):

    p(z) = Σ_c π_c · N(z | μ_c, Σ_c)

fitted by expectation–maximisation. The M-step for the covariances uses the posterior mode under a
conjugate inverse-Wishart-style prior centred on the pooled covariance Σ₀ with weight τ pseudo-points
(Fraley & Raftery 2007, "Bayesian regularization for normal mixture estimation", J. Classification 24):

    Σ_c = (S_c + τ Σ₀) / (N_c + τ),    S_c = Σ_n r_nc (z_n − μ_c)(z_n − μ_c)ᵀ,    N_c = Σ_n r_nc

so a component with few members stays well conditioned in many dimensions. Data are standardised per
column before fitting; every public method works in the caller's original units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, ndtr

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class GaussianMixture:
    """A fitted mixture in original units.

    Attributes:
        weights: float64 ``(C,)`` mixing proportions π_c, summing to 1.
        means: float64 ``(C, d)`` component means μ_c.
        chols: float64 ``(C, d, d)`` lower Cholesky factors L_c of Σ_c (Σ_c = L_c L_cᵀ).
        log_likelihood: mean log-likelihood per point at the last EM step (in standardised units).
    """

    weights: np.ndarray
    means: np.ndarray
    chols: np.ndarray
    log_likelihood: float

    @property
    def n_components(self) -> int:
        return len(self.weights)

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` points, float64 ``(n, d)``: c ~ Cat(π), z = μ_c + L_c ε, ε ~ N(0, I)."""
        comp = rng.choice(self.n_components, size=n, p=self.weights)
        eps = rng.standard_normal((n, self.dim))
        out = np.empty((n, self.dim))
        for c in range(self.n_components):  # loop over components, not points
            m = comp == c
            out[m] = self.means[c] + eps[m] @ self.chols[c].T
        return out

    def marginal_cdf(self, j: int, x: np.ndarray) -> np.ndarray:
        """CDF of coordinate ``j`` under the mixture, F_j(x) = Σ_c π_c Φ((x − μ_cj)/σ_cj); shape of ``x``."""
        sd = np.sqrt(np.einsum("ck,ck->c", self.chols[:, j, :], self.chols[:, j, :]))
        z = (np.asarray(x, dtype=np.float64)[..., None] - self.means[:, j]) / sd
        return np.asarray(ndtr(z) @ self.weights)

    def log_pdf(self, z: np.ndarray) -> np.ndarray:
        """Log density of points ``z`` ``(n, d)`` in original units; float64 ``(n,)``."""
        return np.asarray(logsumexp(_component_logpdf(np.asarray(z, np.float64), self.weights, self.means,
                                                      self.chols), axis=1))

    def conditional_sample(self, projection: np.ndarray, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw z ~ p(z | Hᵀz = y), one draw per row of ``values``: `conditional_mixture_sample`."""
        return conditional_mixture_sample(self, projection, values, rng)


def fit_gaussian_mixture(
    z: np.ndarray,
    n_components: int,
    *,
    seed: int,
    prior_weight: float = 1.0,
    reg: float = 1e-3,
    max_iter: int = 100,
    tol: float = 1e-4,
) -> GaussianMixture:
    """Fit a full-covariance Gaussian mixture by MAP-EM (see the module docstring for the equations).

    Args:
        z: float array ``(n, d)``, one row per point (here: one row per real user).
        n_components: number of components C (reduced to ``n`` when there are fewer points).
        seed: seeds the k-means++ initialisation (Arthur & Vassilvitskii 2007).
        prior_weight: τ, pseudo-points of the prior pulling each Σ_c towards the pooled covariance.
        reg: added to the diagonal of the pooled covariance (standardised units), so Σ₀ is positive
            definite even for constant or collinear columns.
        max_iter, tol: EM stops after ``max_iter`` steps or when the mean log-likelihood gains < ``tol``.

    Returns:
        The fitted `GaussianMixture` in the original units of ``z``.

    Raises:
        ValueError: ``z`` is not a finite 2-D array with at least one row.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] == 0 or not np.isfinite(z).all():
        raise ValueError("z must be a finite 2-D array with at least one row")
    n, d = z.shape
    centre = z.mean(axis=0)
    scale = z.std(axis=0)
    scale[scale <= 1e-12] = 1.0
    x = (z - centre) / scale
    pooled = (x.T @ x) / n + reg * np.eye(d)
    n_comp = max(1, min(int(n_components), n))
    rng = np.random.default_rng(seed)

    resp = _kmeans_pp_assign(x, n_comp, rng)
    prev = -np.inf
    ll = -np.inf
    weights = means = chols = None
    for _ in range(max_iter):
        nk = resp.sum(axis=0) + 1e-12
        weights = nk / nk.sum()
        means = (resp.T @ x) / nk[:, None]
        chols = np.empty((n_comp, d, d))
        for c in range(n_comp):
            dev = x - means[c]
            cov = ((resp[:, c, None] * dev).T @ dev + prior_weight * pooled) / (nk[c] + prior_weight)
            chols[c] = np.linalg.cholesky(cov)
        logp = _component_logpdf(x, weights, means, chols)
        norm = logsumexp(logp, axis=1)
        resp = np.exp(logp - norm[:, None])
        ll = float(norm.mean())
        if ll - prev < tol:
            break
        prev = ll
    assert weights is not None and means is not None and chols is not None
    # back to original units: z = centre + scale * x
    return GaussianMixture(
        weights=weights,
        means=centre + means * scale,
        chols=chols * scale[None, :, None],
        log_likelihood=ll,
    )


def conditional_mixture_sample(
    mixture: GaussianMixture, projection: np.ndarray, values: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw z ~ p(z | Hᵀz = y) from a Gaussian mixture, one draw per row of ``values``; float64 ``(n, d)``.

    Per component c the pair (y = Hᵀz, z) is jointly Gaussian, so (Bishop 2006, PRML eqs. 2.81–2.82)
    z | y ~ N(μ_c + Σ_c H S_c⁻¹ (y − Hᵀμ_c), Σ_c − Σ_c H S_c⁻¹ Hᵀ Σ_c) with S_c = Hᵀ Σ_c H; the
    posterior component weights are π_c N(y | Hᵀμ_c, S_c) normalised (PRML §9.2), and a component is
    drawn per row by the Gumbel-max trick. The conditional covariance has rank d − t; it is factored by
    its eigendecomposition (negative rounding errors set to 0), so Hᵀz = y holds up to rounding.

    Args:
        mixture: the fitted mixture over d coordinates.
        projection: H, float ``(d, t)`` of full column rank (e.g. unit vectors to fix coordinates).
        values: y, float ``(n, t)``.
        rng: the random source.
    """
    h = np.asarray(projection, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    n, t = y.shape
    d = mixture.dim
    if t == 0:
        return mixture.sample(n, rng)
    covs = mixture.chols @ np.transpose(mixture.chols, (0, 2, 1))
    logw = np.empty((n, mixture.n_components))
    for c in range(mixture.n_components):  # loop over components, not users
        l_s = np.linalg.cholesky(h.T @ covs[c] @ h)
        sol = np.linalg.solve(l_s, (y - mixture.means[c] @ h).T)
        logw[:, c] = np.log(mixture.weights[c]) - np.log(np.diag(l_s)).sum() - 0.5 * (sol * sol).sum(axis=0)
    comp = np.argmax(logw - np.log(rng.standard_exponential(logw.shape)), axis=1)
    out = np.empty((n, d))
    eps = rng.standard_normal((n, d))
    for c in range(mixture.n_components):
        rows = comp == c
        if not rows.any():
            continue
        s = covs[c]
        sh = s @ h
        gain = np.linalg.solve(h.T @ sh, sh.T).T  # Σ H S⁻¹, (d, t)
        cond = s - gain @ sh.T
        w, vecs = np.linalg.eigh((cond + cond.T) / 2.0)
        root = vecs * np.sqrt(np.maximum(w, 0.0))
        out[rows] = mixture.means[c] + (y[rows] - mixture.means[c] @ h) @ gain.T + eps[rows] @ root.T
    return out


def _component_logpdf(x: np.ndarray, weights: np.ndarray, means: np.ndarray, chols: np.ndarray) -> np.ndarray:
    """log π_c + log N(x_n | μ_c, L_c L_cᵀ), float64 ``(n, C)``."""
    n, d = x.shape
    out = np.empty((n, len(weights)))
    for c in range(len(weights)):
        sol = np.linalg.solve(chols[c], (x - means[c]).T)
        logdet = 2.0 * np.log(np.diag(chols[c])).sum()
        out[:, c] = np.log(weights[c]) - 0.5 * ((sol * sol).sum(axis=0) + logdet + d * _LOG_2PI)
    return out


def _kmeans_pp_assign(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """One-hot ``(n, k)`` initial responsibilities: nearest of k-means++ seeds (Arthur & Vassilvitskii 2007)."""
    n = x.shape[0]
    centres = [x[rng.integers(n)]]
    d2 = ((x - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = d2.sum()
        idx = rng.integers(n) if total <= 0 else rng.choice(n, p=d2 / total)
        centres.append(x[idx])
        d2 = np.minimum(d2, ((x - x[idx]) ** 2).sum(axis=1))
    c = np.asarray(centres)
    dist = (x * x).sum(1)[:, None] - 2.0 * x @ c.T + (c * c).sum(1)[None, :]
    resp = np.zeros((n, k))
    resp[np.arange(n), np.argmin(dist, axis=1)] = 1.0
    # guarantee every component a member, so no empty component starts EM
    empty = np.flatnonzero(resp.sum(0) == 0)
    if len(empty):
        take = rng.choice(n, size=len(empty), replace=False)
        resp[take] = 0.0
        resp[take, empty] = 1.0
    return resp


__all__ = ["GaussianMixture", "conditional_mixture_sample", "fit_gaussian_mixture"]
