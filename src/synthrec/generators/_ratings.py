"""Ratings conditioned on the user's rating level and on the item's affinity to the user.

Ordinal quantile mapping. In the real log every rated pair (u, i) gets two coordinates:

* b(u) ∈ {0..B−1}: the quantile bucket of the user's mean rating among all users (B equal-count bins);
* a(u, i) ∈ {0..A−1}: the bin of the item's within-user affinity percentile
  (rank_u(score_ui) + 0.5) / n_u, where score_ui is the generator's logit for the pair.

The model is the conditional table P(r = ℓ | b, a) over the real rating levels ℓ (the real scale is kept,
e.g. 0.5 steps), estimated by counting with a Dirichlet prior of total weight α centred on the bucket's
marginal P(ℓ | b) (additive smoothing; Manning, Raghavan & Schütze 2008, §13.2). A synthetic user brings
her bucket (from her drawn mean-rating level) and each sampled item its within-user affinity bin; the
rating is an inverse-CDF draw from the table. High-affinity items therefore get the ratings that
high-affinity items get in the real log, and generous raters stay generous.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthrec.generators._sampling import ranks_within_groups


def affinity_bins(groups: np.ndarray, scores: np.ndarray, n_bins: int) -> np.ndarray:
    """Within-group percentile bin of ``scores``: ⌊(rank + 0.5)/n_g · A⌋, int64 in ``[0, A)``."""
    groups = np.asarray(groups, np.int64)
    if len(groups) == 0:
        return np.empty(0, np.int64)
    size = np.bincount(groups)[groups]
    pct = (ranks_within_groups(groups, scores) + 0.5) / size
    return np.minimum((pct * n_bins).astype(np.int64), n_bins - 1)


@dataclass(frozen=True)
class RatingModel:
    """Fitted P(rating level | user bucket, affinity bin).

    Attributes:
        levels: float64 ``(L,)`` the rating values that can be produced, ascending.
        cdf: float64 ``(B, A, L)`` cumulative probabilities over levels (last entry 1).
    """

    levels: np.ndarray
    cdf: np.ndarray

    @property
    def n_buckets(self) -> int:
        return int(self.cdf.shape[0])

    @property
    def n_bins(self) -> int:
        return int(self.cdf.shape[1])

    @classmethod
    def fit(
        cls,
        users: np.ndarray,
        ratings: np.ndarray,
        scores: np.ndarray,
        n_users: int,
        *,
        n_buckets: int = 5,
        n_bins: int = 10,
        max_levels: int = 64,
        prior_weight: float = 1.0,
    ) -> RatingModel:
        """Fit from one row per rated pair.

        Args:
            users: int ``(n,)`` dense user ids in ``[0, n_users)``, every user present.
            ratings: float ``(n,)`` finite ratings.
            scores: float ``(n,)`` the generator's logit of each pair (only its within-user rank matters).
            n_users: number of users.
            n_buckets, n_bins: B and A in the module docstring.
            max_levels: when the data has more distinct ratings than this, the levels are this many
                quantiles of the ratings (a documented coarsening for continuous scores).
            prior_weight: α, the Dirichlet prior's total weight per cell.
        """
        users = np.asarray(users, np.int64)
        ratings = np.asarray(ratings, np.float64)
        levels = np.unique(ratings)
        if len(levels) > max_levels:
            levels = np.unique(np.quantile(ratings, np.linspace(0, 1, max_levels), method="nearest"))
        # nearest level for each rating (exact when levels are the unique values)
        upper = np.minimum(np.searchsorted(levels, ratings), len(levels) - 1)
        lower = np.maximum(upper - 1, 0)
        lev = np.where(np.abs(levels[lower] - ratings) <= np.abs(levels[upper] - ratings), lower, upper)
        user_mean = np.bincount(users, weights=ratings, minlength=n_users) / np.maximum(
            np.bincount(users, minlength=n_users), 1)
        n_b = max(1, min(n_buckets, n_users))
        user_rank = np.argsort(np.argsort(user_mean, kind="stable"), kind="stable")
        ub = user_buckets((user_rank + 0.5) / n_users, n_b)
        ab = affinity_bins(users, scores, n_bins)
        n_l = len(levels)
        flat = (ub[users] * n_bins + ab) * n_l + lev
        counts = np.bincount(flat, minlength=n_b * n_bins * n_l).reshape(n_b, n_bins, n_l).astype(np.float64)
        marg = counts.sum(axis=1, keepdims=True) + 1e-9
        table = counts + prior_weight * marg / marg.sum(axis=2, keepdims=True) + 1e-12  # no empty cell
        cdf = np.cumsum(table, axis=2)
        cdf /= cdf[:, :, -1:]
        return cls(levels=levels, cdf=cdf)

    def sample(
        self, user_pct: np.ndarray, rows: np.ndarray, affinity_pct: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Ratings, float32 ``(n,)``, for events of synthetic users.

        Args:
            user_pct: float ``(N,)`` each synthetic user's mean-rating level as a probability in [0, 1]
                (her quantile among real users).
            rows: int ``(n,)`` the event's user in ``[0, N)``.
            affinity_pct: float ``(n,)`` the event's within-user affinity percentile
                (rank_u(ℓ_ui) + 0.5) / n_u in (0, 1).
        """
        rows = np.asarray(rows, np.int64)
        if len(rows) == 0:
            return np.empty(0, np.float32)
        b = user_buckets(np.asarray(user_pct), self.n_buckets)[rows]
        a = user_buckets(np.asarray(affinity_pct), self.n_bins)
        cdf = self.cdf[b, a]  # (n, L)
        idx = (cdf < rng.random(len(rows))[:, None]).sum(axis=1)
        return self.levels[np.minimum(idx, len(self.levels) - 1)].astype(np.float32)


def user_buckets(pct: np.ndarray, n_buckets: int) -> np.ndarray:
    """Equal-count bucket ⌊p · B⌋ of probabilities ``p`` in [0, 1]; int64 in ``[0, B)``."""
    return np.clip((np.asarray(pct) * n_buckets).astype(np.int64), 0, n_buckets - 1)
