"""Vectorised sampling primitives shared by the generators.

* `gumbel_top_k`: k items per row without replacement from softmax(logits) (Gumbel-top-k).
* `successive_sample`: the same distribution, much faster when k ≪ m (two-level inverse CDF + rejection).
* `EmpiricalQuantiles`: a smoothed empirical distribution stored as quantile knots.
* `ranks_within_groups`: rank of each value inside its group (e.g. a user's items by affinity).
* `segment_starts`: first position of each group in a grouped array.
* `rosen_solve`: Rosén's inclusion probabilities for the latent-factor calibration (fused, no sort).
* `GuideTables`, `first_distinct`, `rank_within_rows`: the parts of the fast (prototype) sampler of
  `LatentFactorGenerator`: O(1) inverse-CDF draws, first occurrences in a stream, ranks within rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: a row whose weights sum below this lost precision to float32 underflow: redone with the row max
_TINY_TOTAL = 1e-18


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


def successive_sample(
    logits: np.ndarray,
    k: np.ndarray,
    rng: np.random.Generator,
    *,
    block: int | None = None,
    max_rounds: int = 6,
    heavy_passes: int = 2,
    workspace: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`gumbel_top_k`'s distribution (successive sampling without replacement), without m draws per row.

    **Law.** Gumbel-top-k is an exponential race: give item i the clock T_i = E_i / w_i, E_i ~ Exp(1)
    i.i.d., w_i = exp(logit_i); the k items with the smallest clocks, in clock order, are a Plackett–Luce
    sample (successive sampling without replacement; −log T_i = logit_i + Gumbel, so the order is that of
    the perturbed logits: Kool, van Hoof & Welling 2019, ICML, §3). This function builds the same k
    smallest clocks without drawing m of them:

    * *Heavy items* (weight ≥ W/(2k), W the row's remaining mass, found in ``heavy_passes`` passes; at
      most 2k per pass) get their clock drawn explicitly.
    * *Light items* (the rest, total mass W_L) share one marked Poisson process of rate W_L: points at
      unit-rate exponential gaps / W_L, each point an item drawn i.i.d. with probability w_i / W_L. By
      the thinning (marking) theorem the points of item i form independent Poisson processes of rates
      w_i, so the first point of item i is exactly an Exp(w_i) clock, independent of the others
      (Kingman 1993, "Poisson Processes", §5.1). Simulating the process up to the time τ of its last
      point reveals every light clock ≤ τ.

    Once at least k items (heavy or light) have clocks ≤ τ, the k smallest clocks are known exactly;
    otherwise the process continues beyond τ (memoryless; the decision uses only clocks ≤ τ). So the
    output has exactly `gumbel_top_k`'s law. Rows still short after ``max_rounds`` rounds, or whose next
    round would draw over m / 4 points, finish by Gumbel-top-k over the items with clocks > τ after the
    known prefix — exact as well: given the clocks ≤ τ, the remaining clocks exceed τ by independent
    Exp(w_i) amounts, a Plackett–Luce race over the remaining items.

    **Cost.** Per row one exp and one block sum over the m logits (no random numbers); per light point a
    binary search over the row's cumulative block masses (all rows at once in one ``searchsorted``,
    row r offset by r) and an inverse CDF inside the ``block`` items of the chosen block on a fresh
    uniform (prefix sums by a triangular matmul). Light points repeat an item with probability
    ≤ 1/(2k) each, so about k points suffice.

    **Numerics.** Weights are float32 exp(logit − c_r) with c_r = 0, except rows that overflow (a weight
    or block sum is inf) or underflow (row sum below 10⁻¹⁸), which are redone with c_r = the row
    maximum (no row-maximum pass for the usual rows). An item whose float32 weight underflows to 0
    (probability < e⁻⁸⁷ of the row's largest) is only drawn by the Gumbel fallback. Otherwise the law is Gumbel-top-k's up to the float32 rounding
    of the weights (relative ~10⁻⁷) — `gumbel_top_k` in float32 rounds as much.

    Args:
        logits: float ``(B, m)`` (float32 is fastest); finite, or −inf for items that must not be drawn.
            Not modified.
        k: int ``(B,)``, ``0 ≤ k[r] ≤`` the number of finite logits of row r.
        rng: the random source.
        block: items per block of the two-level search; default about √m / 2, between 8 and 64.
        max_rounds: rounds of light points before the Gumbel fallback (≥ 1).
        heavy_passes: passes that move items of weight ≥ W/(2k) to explicit clocks (≥ 0).
        workspace: optional float32 array of at least B·⌈m/block⌉·block elements, overwritten with the
            weights (reusing it across calls saves allocating and page-faulting a fresh buffer).

    Returns:
        ``(top, mask)`` exactly as `gumbel_top_k`: int64 ``(B, kmax)`` items in sampling order, and the
        prefix mask of the first ``k[r]`` entries of each row. No item repeats within a row.

    Raises:
        ValueError: ``k`` has the wrong shape or a value outside ``[0, m]``, or ``max_rounds < 1``.
    """
    n_rows, m = logits.shape
    k = np.asarray(k, dtype=np.int64)
    if k.shape != (n_rows,) or (k.size and (k.min() < 0 or k.max() > m)):
        raise ValueError(f"k must have shape ({n_rows},) with values in [0, {m}]")
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
    kmax = int(k.max()) if k.size else 0
    if kmax == 0:
        return np.empty((n_rows, 0), np.int64), np.empty((n_rows, 0), bool)
    bs = block if block is not None else int(np.clip(round(np.sqrt(m) / 2), 8, 64))
    n_blocks = -(-m // bs)
    weights, mass = _block_weights(logits, bs, n_blocks, workspace)
    mass[k == 0] = 0.0
    heavy_row, heavy_item, heavy_w = _split_heavy(weights, mass, k, heavy_passes)
    heavy_clock = rng.standard_exponential(len(heavy_row)) / heavy_w
    light = _LightStream(weights, mass, bs)
    tau = np.where(light.total > 0, 0.0, np.inf)
    heavy_count = np.bincount(heavy_row, minlength=n_rows)
    light_row: list[np.ndarray] = []
    light_item: list[np.ndarray] = []
    light_clock: list[np.ndarray] = []
    light_found = np.zeros(n_rows, np.int64)
    acceptance = np.ones(n_rows)
    for _ in range(max_rounds):
        heavy_known = np.bincount(heavy_row[heavy_clock <= tau[heavy_row]], minlength=n_rows)
        known = light_found + heavy_known
        rows = np.flatnonzero((known < k) & (light.total > 0))
        if not len(rows):
            break
        # heavy clocks still beyond τ will mostly arrive too: count half of them as expected items
        expected = known[rows] + 0.5 * (heavy_count[rows] - heavy_known[rows])
        draws = np.ceil(1.2 * np.maximum(k[rows] - expected, 1.0) / acceptance[rows]).astype(np.int64) + 2
        ok = draws <= max(m // 4, 8)
        rows, draws = rows[ok], draws[ok]
        if not len(rows):
            break
        r, item, clock, first = light.points(rows, draws, tau, rng)
        tau[rows] = clock[np.cumsum(draws) - 1]
        light_row.append(r[first])
        light_item.append(item[first])
        light_clock.append(clock[first])
        new = np.bincount(r[first], minlength=n_rows)[rows]
        light_found[rows] += new
        acceptance[rows] = np.clip(new / draws, 0.02, 1.0)
    # every clock ≤ τ is known: sort them per row, the k smallest are the sample (in order)
    all_row = np.concatenate([heavy_row, *light_row])
    all_item = np.concatenate([heavy_item, *light_item])
    all_clock = np.concatenate([heavy_clock, *light_clock])
    sure = all_clock <= tau[all_row]
    all_row, all_item, all_clock = all_row[sure], all_item[sure], all_clock[sure]
    order = np.lexsort((all_clock, all_row))
    all_row, all_item = all_row[order], all_item[order]
    count = np.bincount(all_row, minlength=n_rows)
    rank = np.arange(len(all_row)) - np.repeat(np.cumsum(count) - count, count)
    keep = rank < k[all_row]
    top = np.zeros((n_rows, kmax), np.int64)
    top[all_row[keep], rank[keep]] = all_item[keep]
    have = np.minimum(count, k)
    short = np.flatnonzero(have < k)
    if len(short):  # Gumbel-top-k over the items whose clocks exceed τ (exact: see the docstring)
        rest = np.asarray(logits[short], dtype=np.float64).copy()
        prefix = np.arange(kmax)[None, :] < have[short, None]
        rest[np.broadcast_to(np.arange(len(short))[:, None], prefix.shape)[prefix], top[short][prefix]] = -np.inf
        more, more_mask = gumbel_top_k(rest, k[short] - have[short], rng)
        cols = have[short, None] + np.arange(more.shape[1])[None, :]
        r_idx = np.broadcast_to(short[:, None], more.shape)
        top[r_idx[more_mask], cols[more_mask]] = more[more_mask]
    return top, np.arange(kmax)[None, :] < k[:, None]


def _split_heavy(
    weights: np.ndarray, mass: np.ndarray, k: np.ndarray, passes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move items of weight ≥ (remaining row mass) / (2k) out of ``weights``/``mass`` (in place).

    Returns their ``(row, item, weight)`` (int64, int64, float64). Only blocks whose mass reaches the
    threshold can hold such an item, so each pass looks at those blocks only.
    """
    n_rows, n_blocks = mass.shape
    bs = weights.shape[1] // n_blocks
    cube = weights.reshape(n_rows, n_blocks, bs)
    rows_l, items_l, w_l = [], [], []
    for _ in range(passes):
        threshold = mass.sum(axis=1) / (2.0 * np.maximum(k, 1))
        br, bb = np.nonzero((mass >= threshold[:, None]) & (mass > 0))
        if not len(br):
            break
        blocks = cube[br, bb]
        hit = blocks >= threshold[br, None]
        at, j = np.nonzero(hit)
        if not len(at):
            break
        rows_l.append(br[at])
        items_l.append(bb[at] * bs + j)
        w_l.append(blocks[at, j].astype(np.float64))
        blocks[hit] = 0.0
        cube[br, bb] = blocks
        mass[br, bb] = blocks.sum(axis=1, dtype=np.float64)
    if not rows_l:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return np.concatenate(rows_l), np.concatenate(items_l), np.concatenate(w_l)


class _LightStream:
    """The marked Poisson process of the light items of each row (see `successive_sample`)."""

    def __init__(self, weights: np.ndarray, mass: np.ndarray, bs: int) -> None:
        n_rows, n_blocks = mass.shape
        cum = np.cumsum(mass, axis=1)
        self.total = cum[:, -1].copy()
        scale = np.where(self.total > 0, self.total, 1.0)
        cum /= scale[:, None]
        cum[:, -1] = 1.0
        cum += np.arange(n_rows, dtype=np.float64)[:, None]  # row r searches in [r, r + 1]
        self.flat_cum = cum.ravel()
        self.weights = weights
        self.blocks = weights.reshape(n_rows * n_blocks, bs)
        self.n_blocks, self.bs = n_blocks, bs
        self.prefix_matrix = np.triu(np.ones((bs, bs), np.float32))
        self.taken = np.zeros(weights.shape, bool)

    def points(
        self, rows: np.ndarray, draws: np.ndarray, tau: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``draws[j]`` more points of row ``rows[j]`` after time ``tau``: (row, item, time, first).

        ``first`` marks the first point of an item not seen before in the row (its clock); it also
        skips points on zero weight (float rounding at a block edge).
        """
        n_blocks, bs = self.n_blocks, self.bs
        cand_row = np.repeat(rows, draws)
        starts = np.cumsum(draws) - draws
        gaps = np.cumsum(rng.standard_exponential(len(cand_row)))
        local = gaps - np.repeat(np.r_[0.0, gaps][starts], draws)  # unit-rate times within each row
        clock = tau[cand_row] + local / self.total[cand_row]
        pos = np.searchsorted(self.flat_cum, cand_row + rng.random(len(cand_row)), side="right")
        blk = np.clip(pos - cand_row * n_blocks, 0, n_blocks - 1)
        prefix = self.blocks[cand_row * n_blocks + blk] @ self.prefix_matrix
        target = rng.random(len(cand_row), dtype=np.float32) * prefix[:, -1]
        item = blk * bs + np.minimum((prefix <= target[:, None]).sum(axis=1), bs - 1)
        flat_item = cand_row * self.weights.shape[1] + item
        fresh = (self.weights.ravel()[flat_item] > 0) & ~self.taken.ravel()[flat_item]
        first = np.zeros(len(cand_row), bool)
        fresh_idx = np.flatnonzero(fresh)
        first[fresh_idx[np.unique(flat_item[fresh_idx], return_index=True)[1]]] = True
        self.taken.ravel()[flat_item[first]] = True
        return cand_row, item, clock, first


def _block_weights(
    logits: np.ndarray, bs: int, n_blocks: int, workspace: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Float32 weights ``(B, n_blocks·bs)`` = exp(logit − c_r), zero-padded, and float64 block sums.

    c_r = 0 unless that overflows (a weight or block sum is inf) or underflows (the row sums below
    10⁻¹⁸); those rows are redone with c_r = their maximum. Skipping the shift saves two passes. Block
    sums are a float32 matrix–vector product with ones (faster than a reduction over a short axis).
    """
    n_rows, m = logits.shape
    size = n_rows * n_blocks * bs
    if workspace is not None and workspace.dtype == np.float32 and workspace.size >= size:
        weights = workspace.reshape(-1)[:size].reshape(n_rows, n_blocks * bs)
    else:
        weights = np.empty((n_rows, n_blocks * bs), np.float32)
    weights[:, m:] = 0.0
    ones = np.ones(bs, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        np.exp(logits, out=weights[:, :m], casting="unsafe")
        mass = (weights.reshape(n_rows * n_blocks, bs) @ ones).reshape(n_rows, n_blocks).astype(np.float64)
    total = mass.sum(axis=1)
    redo = np.flatnonzero(~(total < np.inf) | (total < _TINY_TOTAL))
    if len(redo):
        sub = np.asarray(logits[redo], dtype=np.float32)
        top = sub.max(axis=1, keepdims=True)
        top[~np.isfinite(top)] = 0.0  # a row of only −inf: weights 0
        weights[redo, :m] = np.exp(sub - top)
        mass[redo] = weights[redo].reshape(len(redo), n_blocks, bs).sum(axis=2, dtype=np.float64)
    return weights, mass


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


def rosen_solve(
    logits: np.ndarray,
    k: np.ndarray,
    log_t: np.ndarray | None = None,
    *,
    max_iter: int = 50,
    rtol: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`inclusion_probabilities` for the calibration loop: fewer passes, no sort, fused row sums.

    Rosén's (1972, Ann. Math. Statist. 43) approximation π_i = 1 − exp(−t·w_i), w_i = exp(ℓ_i), with
    t > 0 solving f(t) = Σ_i π_i = k, as in `inclusion_probabilities`, solved for s = log t:

    * cold start (``log_t`` NaN or absent) at s₀ = log(k / Σ w), below the root since 1 − e^{−x} ≤ x
      (no per-row sort);
    * Newton steps on log f against log s (exact when no item saturates, f = t·Σw):
      s ← s + log(k / f) · f / (df/ds), with df/ds = Σ_i u_i e^{−u_i}, u = t·w; steps capped at
      4·2^iteration, and a bisection of the bracket [lo, hi] (the largest s with f < k, the smallest with
      f > k) whenever a step leaves it. f is increasing in s, so this converges;
    * u = exp(min(ℓ + s, 30)) in float32, π = −expm1(−u) (accurate for tiny π).

    Args:
        logits: float32 ``(B, m)``; finite or −inf (never included). Not modified.
        k: int or float ``(B,)`` with ``0 ≤ k[r] ≤`` the number of finite logits of row r.
        log_t: optional float64 ``(B,)`` starting values of s (NaN = cold start).
        max_iter, rtol: stop when every row has |Σ π − k| ≤ rtol·max(k, 1), or after ``max_iter`` steps.

    Returns:
        ``(neg_pi, u, log_t)``: float32 ``(B, m)`` −π_i, float32 ``(B, m)`` u_i = t·w_i (capped at e³⁰)
        — so ∂π_i/∂ℓ_i = u_i·e^{−u_i} = u_i·(1 + neg_pi_i) — and float64 ``(B,)`` the solved s (NaN for
        rows with k = 0 or k = m, which get π = 0 and π = 1 everywhere).
    """
    n_rows, m = logits.shape
    k = np.asarray(k, dtype=np.float64)
    full = k >= m
    live = (k > 0) & ~full
    s = np.full(n_rows, np.nan) if log_t is None else np.asarray(log_t, dtype=np.float64).copy()
    u = np.empty((n_rows, m), np.float32)
    neg_pi = np.empty((n_rows, m), np.float32)
    cold = np.flatnonzero(live & ~np.isfinite(s))
    if len(cold):
        total = np.exp(logits[cold]).sum(axis=1, dtype=np.float64)
        with np.errstate(divide="ignore"):
            s[cold] = np.log(k[cold]) - np.log(total)
    s[~live] = -np.inf
    row_max = logits.max(axis=1).astype(np.float64) if m else np.zeros(n_rows)
    lo = np.full(n_rows, -np.inf)
    hi = np.full(n_rows, np.inf)
    rows = np.flatnonzero(live)
    for it in range(max_iter + 1):
        if it == 0 or 2 * len(rows) > n_rows:  # the whole block in place (converged rows keep their s)
            _rosen_evaluate(logits, s, row_max, u, neg_pi)
            uu, npi = u[rows], neg_pi[rows]
        else:
            uu = np.empty((len(rows), m), np.float32)
            npi = np.empty((len(rows), m), np.float32)
            _rosen_evaluate(logits[rows], s[rows], row_max[rows], uu, npi)
            u[rows], neg_pi[rows] = uu, npi
        if not len(rows) or it == max_iter:
            break
        f = -npi.sum(axis=1).astype(np.float64)  # float32 pairwise sums: relative error ~1e-7
        gap = f - k[rows]
        todo = np.abs(gap) > rtol * np.maximum(k[rows], 1.0)
        if not todo.any():
            break
        rows, f, gap, uu, npi = rows[todo], f[todo], gap[todo], uu[todo], npi[todo]
        lo[rows] = np.where(gap < 0, s[rows], lo[rows])
        hi[rows] = np.where(gap > 0, s[rows], hi[rows])
        # df/ds = Σ u·e^{−u}; e^{−u} = 1 + neg_pi formed first (u·1 + u·neg_pi would cancel for large u)
        slope = np.einsum("ij,ij->i", uu, npi + np.float32(1.0)).astype(np.float64)
        cap = 4.0 * 2.0 ** min(it, 20)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.clip(np.log(k[rows] / f) * f / slope, -cap, cap)
            middle = (lo[rows] + hi[rows]) / 2.0
        new = np.where(np.isfinite(step), s[rows] + step, s[rows] + np.where(gap < 0, cap, -cap))
        bisect = ((new <= lo[rows]) | (new >= hi[rows])) & np.isfinite(middle)
        s[rows] = np.where(bisect, middle, new)
    neg_pi[full] = -1.0
    u[full] = 0.0
    s[~live] = np.nan
    return neg_pi, u, s


def _rosen_evaluate(
    logits: np.ndarray, s: np.ndarray, row_max: np.ndarray, u: np.ndarray, neg_pi: np.ndarray
) -> None:
    """u = exp(min(ℓ + s, 30)), neg_pi = expm1(−u), written into the given float32 arrays."""
    np.add(logits, s.astype(np.float32)[:, None], out=u)
    if not np.all(s + row_max <= 30.0):  # else no cell exceeds 30: skip the pass
        np.minimum(u, np.float32(30.0), out=u)
    np.exp(u, out=u)
    np.negative(u, out=neg_pi)
    np.expm1(neg_pi, out=neg_pi)


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


class GuideTables:
    """Inverse-CDF tables of R discrete distributions over m items, for O(1) expected-time draws.

    Indexed search (Chen & Asau 1974, "On generating random variates from an empirical distribution",
    AIIE Transactions 6; Devroye 1986, "Non-Uniform Random Variate Generation", §III.2.4): row r keeps its
    cumulative distribution F_r (float64) and a guide g_r(j) = the first item i with F_r(i) ≥ j / m,
    j = 0..m−1. A draw takes U ~ U[0, 1), starts at g_r(⌊U·m⌋) and steps right while F_r(i) < U; the
    result is exactly the inverse CDF F_r⁻¹(U), and the expected number of steps is at most 1 + 1 (the
    m slots cut [0, 1) into pieces that hold one item boundary each on average). Building costs O(R·m).

    Args:
        logits: float ``(R, m)`` unnormalised log-probabilities of each row; finite or −inf, at least one
            finite per row.
    """

    def __init__(self, logits: np.ndarray) -> None:
        n_rows, m = logits.shape
        w = np.exp(logits - logits.max(axis=1, keepdims=True), dtype=np.float64)
        cdf = np.cumsum(w, axis=1)
        cdf /= cdf[:, -1:]
        cdf[:, -1] = 1.0  # F(m − 1) = 1 exactly: a walk never leaves its row
        slot = np.minimum((cdf * m).astype(np.int64), m - 1)  # ⌊F·m⌋; guide(j) = #{i : slot_i < j}
        counts = np.bincount((slot + np.arange(n_rows)[:, None] * m).ravel(), minlength=n_rows * m)
        guide = np.cumsum(counts) - counts  # flat: row r's entries already offset by r·m
        self.cdf = cdf.ravel()
        self.guide = guide
        self.m = m

    def draw(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One item per entry of ``rows`` (int ``(n,)`` row indices): int64 ``(n,)`` items in [0, m).

        After 3 steps right, the few draws still short of U (a slot holding many tiny items) finish by
        bisection between their position and the next slot's guide (exact as well).
        """
        u = rng.random(len(rows))
        base = np.asarray(rows, np.int64) * self.m
        slot = base + (u * self.m).astype(np.int64)
        flat = self.guide[slot]
        todo = np.flatnonzero(self.cdf[flat] < u)
        for _ in range(3):  # step right; each pass keeps only the draws still short of U
            if not len(todo):
                return flat - base
            flat[todo] += 1
            todo = todo[self.cdf[flat[todo]] < u[todo]]
        if len(todo):  # F(lo) < U ≤ F(hi): bisect
            lo = flat[todo]
            nxt = np.minimum(slot[todo] + 1, len(self.guide) - 1)
            hi = np.where((slot[todo] + 1) % self.m == 0, base[todo] + self.m - 1, self.guide[nxt])
            hi = np.maximum(hi, lo + 1)
            while True:
                open_ = hi - lo > 1
                if not open_.any():
                    break
                mid = (lo + hi) // 2
                below = self.cdf[mid] < u[todo]
                lo = np.where(open_ & below, mid, lo)
                hi = np.where(open_ & ~below, mid, hi)
            flat[todo] = hi
        return flat - base


def first_distinct(
    owner: np.ndarray, items: np.ndarray, n_items: int, taken: np.ndarray | None = None
) -> np.ndarray:
    """Mask of the first occurrence of each (owner, item) pair in a stream, skipping ``taken`` pairs.

    Args:
        owner: int ``(n,)`` non-negative row of each draw (any order; draw order = array order).
        items: int ``(n,)`` item of each draw, in [0, n_items).
        taken: optional int64 keys ``owner·n_items + item`` of pairs drawn before this stream (never first).

    Returns:
        bool ``(n,)``: true where the pair appears for the first time (and is not in ``taken``).
        One packed int64 sort (key·2^b + position), no hashing.
    """
    n = len(owner)
    key = np.asarray(owner, np.int64) * n_items + np.asarray(items, np.int64)
    extra = 0 if taken is None else len(taken)
    bits = max(1, int(n + extra).bit_length())
    if n == 0:
        return np.zeros(0, bool)
    if (int(key.max()) + 1) << bits >= 1 << 63:
        raise ValueError("first_distinct: too many (owner, item) pairs to pack in int64; use smaller chunks")
    packed = (key << bits) | (np.arange(n, dtype=np.int64) + extra)
    if extra:  # earlier pairs sort before any new draw of the same pair (positions 0..extra−1)
        packed = np.concatenate([(np.asarray(taken, np.int64) << bits) | np.arange(extra, dtype=np.int64), packed])
    packed.sort()
    head = np.ones(len(packed), bool)
    head[1:] = (packed[1:] >> bits) != (packed[:-1] >> bits)
    pos = packed[head] & ((1 << bits) - 1)
    first = np.zeros(n, bool)
    first[pos[pos >= extra] - extra] = True
    return first


def sortable_float(values: np.ndarray, bits: int) -> np.ndarray:
    """Order-preserving unsigned integer code of float32 ``values`` in [0, 2^bits) (top ``bits`` bits).

    The IEEE-754 bit pattern, with the sign handled (negative: all bits flipped; non-negative: sign bit
    set), is monotone in the value; keeping its top ``bits`` bits merges values closer than about
    2^(bits − 32) relative (ties, broken by the caller's payload). int64 ``(n,)``.
    """
    raw = np.asarray(values, np.float32).view(np.uint32).astype(np.int64)
    code = np.where(raw >= 1 << 31, (1 << 32) - 1 - raw, raw + (1 << 31))
    return code >> (32 - bits)


def rank_within_rows(
    row: np.ndarray, value: np.ndarray, n_rows: int, *, value_bits: int = 24
) -> tuple[np.ndarray, np.ndarray]:
    """Ascending rank of ``value`` among the entries of the same ``row``, by one packed int64 sort.

    Sorts row·2^(value_bits+b) + code(value)·2^b + position (b = bits of the length; `sortable_float`
    keeps the top ``value_bits`` bits of each float32 value, so values closer than about 2^(value_bits−32)
    relative tie and are ordered by position).

    Args:
        row: int ``(n,)`` in [0, n_rows), any order. value: float ``(n,)``.

    Returns:
        ``(rank, order)``, int64 ``(n,)`` each: the 0-based rank of each entry within its row, and the
        entry positions in (row, value) order (rows ascending).

    Raises:
        ValueError: n_rows · 2^value_bits · 2^b does not fit in int64 (use fewer rows per call).
    """
    n = len(row)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    bits = max(1, n.bit_length())
    if ((n_rows << value_bits) << bits) >= 1 << 63:
        raise ValueError("rank_within_rows: too many rows and entries to pack in int64; use fewer rows per call")
    row = np.asarray(row, np.int64)
    packed = ((row << value_bits | sortable_float(value, value_bits)) << bits) | np.arange(n, dtype=np.int64)
    packed.sort()
    order = packed & ((1 << bits) - 1)
    counts = np.bincount(row, minlength=n_rows)
    starts = np.cumsum(counts) - counts
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, counts)
    return rank, order
