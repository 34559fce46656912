"""Helpers shared by the tests of `synthrec.scale` (not a test module itself)."""

from __future__ import annotations

import numpy as np
import polars as pl

from synthrec.data.interactions import InteractionData
from synthrec.generators.latent_factor import LatentFactorGenerator


def two_taste_log(n_users: int = 60, n_items: int = 30, per_user: int = 6, *, seed: int = 0) -> InteractionData:
    """Even users pick from the first half of the items, odd users from the second; with time and rating."""
    rng = np.random.default_rng(seed)
    half = n_items // 2
    users = np.repeat(np.arange(n_users), per_user)
    picks = np.concatenate([rng.choice(half, per_user, replace=False) + (u % 2) * half for u in range(n_users)])
    frame = pl.DataFrame({
        "user": [f"u{u}" for u in users],
        "item": [f"i{j}" for j in picks],
        "ts": (rng.integers(1_000_000_000, 1_000_500_000, n_users)[:, None]
               + rng.integers(1, 5000, (n_users, per_user)).cumsum(axis=1)).ravel(),
        "rating": rng.choice(np.arange(1, 6), n_users * per_user).astype(float),
    })
    return InteractionData.from_frame(frame, rating_col="rating", time_col="ts", name="two-taste")


def small_generator(seed: int = 0) -> LatentFactorGenerator:
    """A fitted LatentFactorGenerator on `two_taste_log` (about a second to fit)."""
    return LatentFactorGenerator(n_factors=3, calibration_users=200, calibration_iters=3,
                                 affinity_scale=4.0, seed=seed).fit(two_taste_log())
