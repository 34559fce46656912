"""Event order and timestamps for synthetic users.

Order within a user (`OrderModel`). Each item i has a typical relative position p_i ∈ [0, 1] in the
histories that contain it (0 = a user's first event, 1 = the last), estimated with shrinkage towards 0.5:

    p_i = (Σ_{(u,i)} q_ui + 0.5·κ) / (c_i + κ),    q_ui = rank_u(i) / (n_u − 1)    (q = 0.5 when n_u = 1)

and a synthetic user's items are sorted by the key p_i + s·ε, ε ~ N(0, 1), where s is the standard
deviation of the residuals q_ui − p_i in the real data. Items that real users meet early (e.g. old
classics) therefore come early and recent releases late, with the real amount of noise.

Time (`TimeModel`). A user has a start time t₀, a span T (first to last event) and a tempo μ_u (her mean
log(1 + gap)), all drawn jointly with her other traits by the generator. Gap shapes

    g_j = expm1(max(μ_u + r_j, 0)),    r_j ~ F_r,

with F_r the smoothed empirical distribution of the within-user residuals log(1 + gap) − μ_u of the real
users in the same tempo bucket (5 equal-count buckets by μ_u), are rescaled to last T:

    t_j = t₀ + ⌊T · (g_1 + … + g_j) / Σ g⌋ + j.

The + j makes every step ≥ 1 s, so times strictly increase within a user; nothing is clipped at the real
maximum time; and a history lasts as long as real ones of its kind (summing n i.i.d. heavy-tailed gaps
instead stretched heavy ml-100k users over years, where real spans are at most 7 months). Times are a
segmented cumulative sum (no loop over events).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthrec.generators._sampling import EmpiricalQuantiles, segment_starts

#: largest single gap we generate, log(1 + 20 years in seconds); guards against overflow only.
_MAX_LOG_GAP = float(np.log1p(20 * 365.25 * 86400))


@dataclass(frozen=True)
class OrderModel:
    """Typical relative position of each item within histories (see the module docstring).

    Attributes:
        position: float64 ``(n_items,)``, p_i.
        noise: float, s ≥ 0.
    """

    position: np.ndarray
    noise: float

    @classmethod
    def fit(cls, users: np.ndarray, items: np.ndarray, n_items: int, *, shrinkage: float = 1.0) -> OrderModel:
        """Fit from events sorted by (user, time); ``users`` dense and grouped, ``items`` dense ids."""
        users = np.asarray(users, np.int64)
        n = len(users)
        if n == 0:
            return cls(position=np.full(n_items, 0.5), noise=0.0)
        n_users = int(users.max()) + 1
        starts = segment_starts(users, n_users)
        deg = np.diff(starts)
        rank = np.arange(n) - starts[users]
        span = np.maximum(deg[users] - 1, 1)
        q = np.where(deg[users] > 1, rank / span, 0.5)
        counts = np.bincount(items, minlength=n_items)
        pos = (np.bincount(items, weights=q, minlength=n_items) + 0.5 * shrinkage) / (counts + shrinkage)
        resid = q - pos[items]
        return cls(position=pos, noise=float(resid.std()))

    def keys(self, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Sort keys p_item + s·ε (float64, shape of ``items``); a user's events go in ascending key order."""
        return self.position[items] + self.noise * rng.standard_normal(np.shape(items))


@dataclass(frozen=True)
class TimeModel:
    """Distribution of within-user gap residuals, per tempo bucket (see the module docstring).

    Residuals are pooled within B equal-count buckets of users by tempo (B = min(``n_buckets``, users with
    a gap)): slow users' gaps are all long and vary little in log scale, fast users mix in-session seconds
    with days between sessions, so one pooled residual distribution would give slow users absurd tails.

    Per-user traits (start time t₀, tempo μ_u) are returned by `fit` but not stored: the generator models
    them jointly with the user's other traits, and the artefact keeps no per-user record.

    Attributes:
        edges: float64 ``(B − 1,)`` tempo bucket boundaries (ascending).
        residuals: B `EmpiricalQuantiles` of log(1 + gap) − μ_u over the gaps of each bucket's users.
    """

    edges: np.ndarray
    residuals: tuple[EmpiricalQuantiles, ...]

    @classmethod
    def fit(
        cls, users: np.ndarray, times: np.ndarray, *, n_buckets: int = 5
    ) -> tuple[TimeModel, np.ndarray, np.ndarray, np.ndarray]:
        """Fit from events sorted by (user, time); ``users`` dense 0..n−1 and grouped, ``times`` int64 s.

        Returns:
            ``(model, start, tempo, log_span)``, each float64 ``(n,)``: ``start`` is each user's first
            event time t₀ (seconds); ``tempo`` is μ_u = mean log(1 + gap) (users with a single event get the
            median over the others; 0 when no user has two events); ``log_span`` is log(1 + T_u), T_u the
            seconds from the user's first to her last event.
        """
        users = np.asarray(users, np.int64)
        times = np.asarray(times, np.int64)
        n_users = int(users.max()) + 1 if len(users) else 0
        starts = segment_starts(users, n_users)
        start = times[starts[:-1]].astype(np.float64) if n_users else np.empty(0)
        same = np.zeros(len(users), dtype=bool)
        same[1:] = users[1:] == users[:-1]
        log_gap = np.log1p(np.maximum(np.diff(times, prepend=0), 0).astype(np.float64))[same]
        gap_user = users[same]
        n_gaps = np.bincount(gap_user, minlength=n_users)
        tempo = np.bincount(gap_user, weights=log_gap, minlength=n_users) / np.maximum(n_gaps, 1)
        has = n_gaps > 0
        tempo[~has] = float(np.median(tempo[has])) if has.any() else 0.0
        n_b = max(1, min(n_buckets, int(has.sum())))
        edges = np.quantile(tempo[has], np.arange(1, n_b) / n_b) if n_b > 1 else np.empty(0)
        bucket = np.searchsorted(edges, tempo[gap_user], side="right")
        resid = log_gap - tempo[gap_user]
        residuals = tuple(EmpiricalQuantiles.fit(resid[bucket == b]) for b in range(n_b))
        last = times[starts[1:] - 1].astype(np.float64) if n_users else np.empty(0)
        return cls(edges=edges, residuals=residuals), start, tempo, np.log1p(last - start)

    def generate(
        self,
        start: np.ndarray,
        tempo: np.ndarray,
        span: np.ndarray,
        counts: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Timestamps, int64 of length ``counts.sum()``, user-major, strictly increasing within a user.

        Gap shapes g_j = expm1(max(μ_u + r_j, 0)) (r_j from the user's tempo bucket) are rescaled to the
        user's span T_u: t_j = t₀ + ⌊T_u · (g_1 + … + g_j) / (g_1 + … + g_{n−1})⌋ + j, so the history
        lasts T_u (+ n − 1 s) and every step is ≥ 1 s. When all g are 0 the events are evenly spaced.

        Args:
            start: float ``(N,)`` start times t₀ (seconds).
            tempo: float ``(N,)`` μ_u of each synthetic user.
            span: float ``(N,)`` T_u ≥ 0, seconds from first to last event.
            counts: int ``(N,)`` events per user.
        """
        counts = np.asarray(counts, np.int64)
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, np.int64)
        owner = np.repeat(np.arange(len(counts)), counts)
        bucket = np.searchsorted(self.edges, tempo, side="right")[owner]
        prob = rng.random(total)
        resid = np.empty(total)
        for b, dist in enumerate(self.residuals):  # loop over ≤ 5 buckets, not events
            here = bucket == b
            resid[here] = dist.ppf(prob[here])
        gap = np.expm1(np.clip(tempo[owner] + resid, 0.0, _MAX_LOG_GAP))
        offsets = np.cumsum(counts) - counts
        rank = np.arange(total) - offsets[owner]
        gap[rank == 0] = 0.0
        cum = np.cumsum(gap)
        cum -= np.repeat(cum[offsets] - gap[offsets], counts)  # segmented cumsum (first gap is 0)
        last = offsets + counts - 1
        user_total = np.zeros(len(counts))
        has = counts > 0
        user_total[has] = cum[last[has]]
        denom = user_total[owner]
        even = rank / np.maximum(counts[owner] - 1, 1)
        frac = np.where(denom > 0, cum / np.where(denom > 0, denom, 1.0), even)
        base = np.rint(start).astype(np.int64)[owner]
        return base + np.floor(np.maximum(span, 0.0)[owner] * frac).astype(np.int64) + rank
