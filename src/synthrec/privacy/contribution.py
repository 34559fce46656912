"""Bounding each user's contribution, the step that makes user-level sensitivities finite.

The unit of privacy in synthrec is the **user**: two logs are neighbours when one holds every row of one
extra person (add/remove adjacency). A person may own thousands of rows, so before any statistic is
released each user's distinct items are capped to ``L = max_items_per_user`` by a uniform random sample
without replacement (Amin, Kulesza, Munoz & Vassilvitskii 2019, "Bounding user contributions: a
bias-variance trade-off in differential privacy", ICML). After the cap, a user's binary row x ∈ {0,1}^m
has at most L ones, and the sensitivities of the statistics built from it are:

=================================  ==============================  ===========================
statistic                          L1 sensitivity                  L2 sensitivity
=================================  ==============================  ===========================
item counts c = Σ_u x_u            L                               √L
item sums Σ_u Σ_i a_ui, a ∈ [0,1]  L                               √L
Gram G = Σ_u x_u x_uᵀ (upper tri)  L(L + 1)/2                      √(L(L + 1)/2)
Gram (full matrix, Frobenius)      L²                              L
one-value-per-user histogram       1                               1
per-user-normalised histogram      1                               1
=================================  ==============================  ===========================

(Gram: x xᵀ has L ones on its diagonal and L(L − 1) off it; its upper triangle, diagonal included, has
L + L(L − 1)/2 = L(L + 1)/2 ones. A per-user-normalised histogram gives each of the user's r rows the
weight 1/r, so her whole contribution sums to 1 and its L2 norm is at most 1.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthrec.errors import ConfigError


@dataclass(frozen=True)
class ContributionBound:
    """The sensitivities implied by capping every user at ``max_items_per_user`` distinct items (table above).

    Attributes:
        max_items_per_user: L ≥ 1.
    """

    max_items_per_user: int

    def __post_init__(self) -> None:
        _check_cap(self.max_items_per_user)

    @property
    def counts_l1(self) -> float:
        """L1 sensitivity of the item-count vector: L."""
        return float(self.max_items_per_user)

    @property
    def counts_l2(self) -> float:
        """L2 sensitivity of the item-count vector (or of per-item sums of values in [0, 1]): √L."""
        return math.sqrt(self.max_items_per_user)

    @property
    def gram_l2(self) -> float:
        """L2 sensitivity of the upper triangle (diagonal included) of XᵀX: √(L(L + 1)/2)."""
        cap = self.max_items_per_user
        return math.sqrt(cap * (cap + 1) / 2.0)

    @property
    def gram_frobenius(self) -> float:
        """Frobenius-norm sensitivity of the full XᵀX: L."""
        return float(self.max_items_per_user)

    @property
    def histogram_l2(self) -> float:
        """L2 (and L1) sensitivity of a one-value-per-user or per-user-normalised histogram: 1."""
        return 1.0


def bound_user_contributions(users: np.ndarray, max_items_per_user: int, *, seed: int) -> np.ndarray:
    """Keep at most ``L`` rows per user, chosen uniformly at random without replacement.

    Each row gets an independent uniform key; a user's rows are ranked by key and the first L kept, so the
    kept set is a uniform L-subset of her rows (all of them when she has ≤ L). Callers deduplicate
    (user, item) pairs first, so the cap is on distinct items.

    Args:
        users: int array ``(n,)`` of user ids (any order, any integer labels).
        max_items_per_user: L ≥ 1.
        seed: seeds the keys; the same seed and input give the same selection.

    Returns:
        bool mask ``(n,)``: True for kept rows (rows keep their input order).

    Raises:
        ConfigError: ``max_items_per_user`` is not an integer ≥ 1.
    """
    _check_cap(max_items_per_user)
    users = np.asarray(users)
    n = len(users)
    if n == 0:
        return np.zeros(0, dtype=bool)
    return _smallest_keys_per_user(users, np.random.default_rng(seed).random(n), max_items_per_user)


def bound_user_contributions_hashed(user_keys: np.ndarray, items: np.ndarray, max_items_per_user: int, *,
                                    seed: int) -> np.ndarray:
    """`bound_user_contributions` whose choice for a user depends only on her own rows: each (user, item)
    row's key is a pseudo-random function of (the user's 64-bit key, the item, ``seed``) — SplitMix64
    (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators", OOPSLA) of their mix —
    and a user keeps the L rows with the smallest keys, a uniform L-subset of her distinct items.

    So the kept rows do not depend on the order of the rows or on which other users share a file or a
    chunk: the cap a streaming fit applies per chunk is the cap of the whole log (`bound_user_contributions`
    draws one key per row from a seeded stream, which depends on the row's position).

    Args:
        user_keys: uint64 ``(n,)`` a key per row identifying its user (e.g. a hash of the user id).
        items: int ``(n,)`` the row's item; a user's (user, item) pairs are distinct.
        max_items_per_user: L ≥ 1.
        seed: seeds the keys.

    Returns:
        bool mask ``(n,)`` of the kept rows.

    Raises:
        ConfigError: ``max_items_per_user`` is not an integer ≥ 1.
    """
    _check_cap(max_items_per_user)
    users = np.asarray(user_keys, dtype=np.uint64)
    n = len(users)
    if n == 0:
        return np.zeros(0, dtype=bool)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps modulo 2^64 by design
        salt = np.uint64(seed % (1 << 64)) * _GOLDEN
        keys = splitmix64(users ^ splitmix64(np.asarray(items, dtype=np.uint64) + salt))
    return _smallest_keys_per_user(users, keys, max_items_per_user)


def _smallest_keys_per_user(users: np.ndarray, keys: np.ndarray, limit: int) -> np.ndarray:
    """bool mask ``(n,)``: each user's ``limit`` rows with the smallest ``keys`` (``n`` ≥ 1 rows)."""
    n = len(users)
    order = np.lexsort((keys, users))
    sorted_users = users[order]
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_users[1:] != sorted_users[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    keep = np.empty(n, dtype=bool)
    keep[order] = (np.arange(n) - group_start) < limit
    return keep


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 output function of uint64 ``x`` (elementwise; wraps modulo 2^64): a bijective mix
    whose outputs of consecutive inputs look independent (Steele, Lea & Flood 2014)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _check_cap(cap: object) -> None:
    if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1:
        raise ConfigError(f"max_items_per_user must be an integer >= 1, got {cap!r}")
