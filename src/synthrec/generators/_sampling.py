"""Vectorised sampling primitives shared by the generators.

* `gumbel_top_k`: k items per row without replacement from softmax(logits) (Gumbel-top-k).
* `EmpiricalQuantiles`: a smoothed empirical distribution stored as quantile knots.
* `ranks_within_groups`: rank of each value inside its group (e.g. a user's items by affinity).
* `segment_starts`: first position of each group in a grouped array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def gumbel_top_k(
    logits: np.ndarray, k: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``k[r]`` distinct columns of row ``r`` without replacement from softmax(``logits[r]``).

    Gumbel-top-k trick (Kool, van Hoof & Welling 2019, "Stochastic Beams and Where to Find Them", ICML,
    §3 and eq. 8; Vieira 2014): the indices of the k largest perturbed logits ``logits + G``, with
    ``G ~ Gumbel(0, 1)`` i.i.d., are an ordered sample of k items without replacement, each drawn with
    probability proportional to exp(logit) among those not yet drawn (successive sampling /
    Plackett–Luce). We draw ``G = −log E``, ``E ~ Exp(1)`` (numpy's ziggurat), which is exactly Gumbel.

    Args:
        logits: float array ``(B, m)``; finite.
        k: int array ``(B,)`` with ``0 ≤ k[r] ≤ m``.
        rng: the random source.

    Returns:
        ``(top, mask)``, both ``(B, kmax)`` with ``kmax = max(k)`` (0 columns when all k are 0): ``top``
        int64 column indices of each row in sampling order (largest perturbed logit first), ``mask``
        true on the first ``k[r]`` entries of row r (the sample; the rest is padding). No column repeats
        within a row. Use `flatten_padded` to get row-major flat arrays.

    Raises:
        ValueError: ``k`` has the wrong shape or a value outside ``[0, m]``.
    """
    b, m = logits.shape
    k = np.asarray(k, dtype=np.int64)
    if k.shape != (b,) or (k.size and (k.min() < 0 or k.max() > m)):
        raise ValueError(f"k must have shape ({b},) with values in [0, {m}]")
    kmax = int(k.max()) if k.size else 0
    if kmax == 0:
        return np.empty((b, 0), np.int64), np.empty((b, 0), bool)
    dtype = np.float32 if logits.dtype == np.float32 else np.float64
    expo = rng.standard_exponential(size=(b, m), dtype=dtype)
    np.maximum(expo, np.finfo(dtype).tiny, out=expo)  # E = 0 has probability ~2⁻²⁴ per cell in float32
    keys = logits - np.log(expo, out=expo)
    if kmax < m:
        top = np.argpartition(-keys, kmax - 1, axis=1)[:, :kmax]
    else:
        top = np.broadcast_to(np.arange(m), (b, m)).copy()
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
    top = np.take_along_axis(top, order, axis=1).astype(np.int64, copy=False)
    return top, np.arange(kmax)[None, :] < k[:, None]


def inclusion_probabilities(
    logits: np.ndarray,
    k: np.ndarray,
    log_t: np.ndarray | None = None,
    *,
    max_iter: int = 50,
    rtol: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Approximate P(item i is among the k[r] items `gumbel_top_k` draws for row r).

    Rosén's approximation for successive sampling without replacement (Rosén 1972, "Asymptotic theory
    for successive sampling with varying probabilities without replacement", Ann. Math. Statist. 43):
    π_i = 1 − exp(−t·w_i), w_i = exp(ℓ_i − max ℓ), with t > 0 solving Σ_i π_i = k. We solve for
    s = log t by safeguarded Newton steps (|Δs| ≤ 4·2^iteration, bisection inside the bracket once the
    root is bracketed), starting at ``log_t`` when given (warm start) or at the capped solution
    Σ_i min(1, t·w_i) = k, where Σ π ≤ k.
    Deterministic, so calibrating on it has no sampling noise.

    Args:
        logits: float ``(B, m)``.
        k: int ``(B,)`` with ``0 ≤ k[r] ≤ m``.
        log_t: optional float64 ``(B,)`` starting values of s (e.g. the solution for nearby logits).
        max_iter, rtol: stop when every row has |Σ π − k| ≤ rtol·k, or after ``max_iter`` steps.

    Returns:
        ``(pi, log_t, slope)``: float ``(B, m)`` (dtype of ``logits``) inclusion probabilities in [0, 1]
        with row sums ≈ k (exactly 1 everywhere for rows with k = m); float64 ``(B,)`` the solved s; and
        float ``(B, m)`` ∂π_i/∂ℓ_i = t·w_i·exp(−t·w_i) at fixed t (0 where π is pinned to 0 or 1).
    """
    k = np.asarray(k, dtype=np.float64)
    lp = logits - logits.max(axis=1, keepdims=True)
    full = k >= logits.shape[1]
    live = (k > 0) & ~full
    s = np.full(len(k), np.nan) if log_t is None else np.asarray(log_t, dtype=np.float64).copy()
    cold = live & ~np.isfinite(s)
    if cold.any():
        s[cold] = _capped_log_t(lp[cold], k[cold])
    s[~live] = -np.inf  # k = 0: π = 0; k = m: π = 1 (set below)

    def evaluate(rows: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        u = np.exp(np.minimum(lp[rows] + s[rows, None].astype(lp.dtype), 30.0))
        e = np.exp(-u)
        u *= e  # ∂π/∂ℓ = u·e^{−u}
        return 1.0 - e, u

    pi, slope_cells = evaluate(slice(None))
    lo = np.full(len(k), -np.inf)
    hi = np.full(len(k), np.inf)
    act = np.flatnonzero(live)  # rows still iterating; converged rows keep their last evaluation
    gap = pi[act].sum(axis=1, dtype=np.float64) - k[act]
    for it in range(max_iter):
        todo = np.abs(gap) > rtol * np.maximum(k[act], 1.0)
        if not todo.any():
            break
        act, gap = act[todo], gap[todo]
        lo[act] = np.where(gap < 0, s[act], lo[act])
        hi[act] = np.where(gap > 0, s[act], hi[act])
        slope = slope_cells[act].sum(axis=1, dtype=np.float64)
        cap = 4.0 * 2.0 ** min(it, 20)  # growing step cap: a far root is reached in O(log) steps
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = s[act] - np.clip(gap / slope, -cap, cap)
            middle = (lo[act] + hi[act]) / 2.0  # used only where both ends are finite
        newton = np.where(np.isfinite(newton), newton, s[act] + np.where(gap < 0, cap, -cap))
        bisect = (newton <= lo[act]) | (newton >= hi[act])
        s[act] = np.where(bisect, middle, newton)
        pi[act], slope_cells[act] = evaluate(act)
        gap = pi[act].sum(axis=1, dtype=np.float64) - k[act]
    pi[full] = 1.0
    slope_cells[full] = 0.0
    s[~live] = np.nan
    return pi, s, slope_cells


def _capped_log_t(lp: np.ndarray, k: np.ndarray) -> np.ndarray:
    """log t of the capped approximation Σ_i min(1, t·w_i) = k (about a lower bound of Rosén's t).

    With the j largest w saturated, t_j = (k − j) / (sum of the other w); j is the smallest count with
    t_j · (largest unsaturated w) ≤ 1. Since 1 − e^{−x} < min(1, x), Σ π(t_j) ≤ k up to rounding: a
    close start from below. Computed on ascending-sorted w (index q = m − 1 − j).
    """
    m = lp.shape[1]
    w = np.sort(np.exp(lp), axis=1)  # ascending
    below = np.cumsum(w, axis=1)  # below[:, q] = Σ of the q + 1 smallest
    q = np.arange(m)[None, :]
    saturated = (m - 1) - q  # items above position q
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (k[:, None] - saturated) / below
        ok = (t * w <= 1.0) & (saturated < k[:, None])
    last = (m - 1) - np.argmax(ok[:, ::-1], axis=1)  # largest q that works (fewest saturated)
    t_best = t[np.arange(len(k)), last].astype(np.float64)
    fallback = k / below[:, -1].astype(np.float64)
    return np.log(np.where(np.isfinite(t_best) & (t_best > 0) & ok.any(axis=1), t_best, fallback))


def flatten_padded(mask: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Row-major flat view of padded ``(B, K)`` arrays: ``(rows, *[a[mask] for a in arrays])``."""
    rows = np.nonzero(mask)[0].astype(np.int64)
    return (rows, *(a[mask] for a in arrays))


def sort_rows(key: np.ndarray, mask: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sort each row of padded ``(B, K)`` arrays by ``key`` ascending, padding (``~mask``) kept last.

    Requires ``mask`` to be a prefix mask (true entries first in each row), as `gumbel_top_k` returns.
    Returns the reordered ``arrays`` (same shapes).
    """
    order = np.argsort(np.where(mask, key, np.inf), axis=1)
    return tuple(np.take_along_axis(a, order, axis=1) for a in arrays)


def row_percentiles(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(rank + 0.5) / n_r of each entry among the valid entries of its row, float64 ``(B, K)``.

    Ranks ascending by ``values``; padded entries (``~mask``, a prefix mask) get values ≥ 1.
    """
    order = np.argsort(np.where(mask, values, np.inf), axis=1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(order.shape[1]), order.shape), axis=1)
    n = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    return (ranks + 0.5) / n


@dataclass(frozen=True)
class EmpiricalQuantiles:
    """A 1-D distribution stored as ``m`` quantile knots; `ppf` interpolates linearly between them.

    Linear interpolation of the empirical quantile function (Hyndman & Fan 1996, "Sample quantiles in
    statistical packages", definition 7) gives a continuous distribution supported on ``[min, max]`` of
    the data that matches its empirical CDF at the knots. Storing at most ``m`` knots (not the raw values)
    keeps the fitted artefact small and does not retain individual records when ``n > m``.

    Attributes:
        probs: float64 ``(m,)`` equally spaced from 0 to 1 (``linspace(0, 1, m)``).
        knots: float64 ``(m,)`` the quantiles at ``probs``.
    """

    probs: np.ndarray
    knots: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, max_knots: int = 1001) -> EmpiricalQuantiles:
        """Quantile knots of finite ``values`` (any shape, flattened). Empty input gives the point mass 0."""
        v = np.asarray(values, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        if v.size == 0:
            v = np.zeros(1)
        m = int(min(max(v.size, 2), max_knots))
        probs = np.linspace(0.0, 1.0, m)
        return cls(probs=probs, knots=np.quantile(v, probs))

    def ppf(self, p: np.ndarray) -> np.ndarray:
        """Quantile function at probabilities ``p`` (clipped to [0, 1]); float64, shape of ``p``.

        The knots sit at equally spaced probabilities, so the segment of p is ⌊p·(m − 1)⌋ (no search).
        """
        m = len(self.knots)
        if m == 1:
            return np.full(np.shape(p), self.knots[0])
        pos = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0) * (m - 1)
        seg = np.minimum(pos.astype(np.int64), m - 2)
        lo = self.knots[seg]
        return lo + (pos - seg) * (self.knots[seg + 1] - lo)

    def sample(self, size: int | tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Inverse-CDF draws, float64 of shape ``size``."""
        return self.ppf(rng.random(size))


def segment_starts(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Start offsets ``(n_groups + 1,)`` of each group in a non-decreasing int array ``groups``."""
    return np.searchsorted(groups, np.arange(n_groups + 1))


def ranks_within_groups(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """0-based ascending rank of ``values[j]`` among the values of its group ``groups[j]``.

    Ties keep input order. Works for any order of ``groups``; int64 array of the input's length.
    """
    groups = np.asarray(groups)
    order = np.lexsort((values, groups))
    g_sorted = groups[order]
    n = len(groups)
    first = np.ones(n, dtype=bool)
    if n:
        first[1:] = g_sorted[1:] != g_sorted[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n) - start
    return ranks
