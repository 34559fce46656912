r"""Plain statistics of one interaction log, shared by the generators, the audits and the reports.

A log's **degrees** are those of the user–item bipartite graph (the binary matrix ``to_csr("binary")``):
the degree of an item is the number of distinct users who interacted with it (a repeated (user, item) pair
counts once), the degree of a user the number of distinct items in their history. Item statistics run over
the whole catalogue (items nobody touched have degree 0), user statistics over active users.

A user seen as a **set** of items is compared with another by the Jaccard distance

.. math:: d(A, B) = 1 - |A \cap B| / |A \cup B|, \qquad |A \cup B| = |A| + |B| - |A \cap B|

(Jaccard 1912), in [0, 1]; 0 means identical item sets, 1 no item in common (`jaccard_nearest`).

This module imports only `synthrec.data` and `synthrec.errors`: the generators use it to check
themselves (`gini`, `jaccard_nearest`) without importing `synthrec.evaluation`, which builds its audits
on it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from synthrec.data.interactions import ITEM, TIMESTAMP, USER, InteractionData
from synthrec.errors import ConfigError, DataValidationError

__all__ = [
    "active_rows",
    "check_block",
    "check_same_catalogue",
    "distinct_pairs",
    "gini",
    "item_degrees",
    "jaccard_nearest",
    "require_active_users",
    "user_degrees",
    "within_user_gaps",
]


# ---------------------------------------------------------------------------------------- concentration


def gini(counts: npt.ArrayLike) -> float:
    """Gini coefficient of non-negative counts (e.g. item popularity over the whole catalogue).

    G = Σ_i (2i − n − 1) x_(i) / (n Σ_i x_i), with x_(1) ≤ … ≤ x_(n) sorted ascending and i 1-based
    (the Lorenz-curve form; Damgaard & Weiner 2000, "Describing inequality in plant size or fecundity",
    Ecology 81, eq. 1). It equals the mean-absolute-difference form Σ_i Σ_j |x_i − x_j| / (2 n Σ_i x_i).
    Unitless: 0 = all counts equal, (n − 1)/n = one entry holds everything. E.g. [1, 2, 3, 4] → 0.25.

    Args:
        counts: array-like of shape ``(n,)`` (flattened if not 1-D), counts ≥ 0, zeros included.

    Returns:
        float in [0, 1); 0.0 for an empty or all-zero array.

    Raises:
        ValueError: a count is negative or not finite.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64).ravel())
    if x.size and (not np.isfinite(x).all() or x[0] < 0):
        raise ValueError("gini needs finite, non-negative counts")
    total = x.sum()
    if x.size == 0 or total == 0:
        return 0.0
    i = np.arange(1, x.size + 1, dtype=np.float64)
    return float(((2 * i - x.size - 1) @ x) / (x.size * total))


# ---------------------------------------------------------------------------------------- degrees


def distinct_pairs(data: InteractionData) -> tuple[np.ndarray, np.ndarray]:
    """(dense user ids, dense item ids) of the distinct (user, item) pairs of the log, in no set order."""
    pairs = data.interactions.select(USER, ITEM).unique()
    return pairs[USER].to_numpy(), pairs[ITEM].to_numpy()


def item_degrees(data: InteractionData) -> np.ndarray:
    """Distinct users per item, int64 ``(n_items,)``."""
    _, items = distinct_pairs(data)
    return np.bincount(items.astype(np.int64), minlength=data.n_items)


def user_degrees(data: InteractionData) -> np.ndarray:
    """Distinct items per active user, int64 ``(n_active,)``."""
    users, _ = distinct_pairs(data)
    deg = np.bincount(users.astype(np.int64), minlength=data.n_users)
    return deg[deg > 0]


def within_user_gaps(data: InteractionData) -> np.ndarray:
    """Within-user gaps between consecutive events sorted by time, seconds, float64."""
    df = data.interactions.select(USER, TIMESTAMP).drop_nulls()
    u = df[USER].to_numpy().astype(np.int64)
    t = df[TIMESTAMP].to_numpy().astype(np.int64)
    order = np.lexsort((t, u))
    u, t = u[order], t[order]
    same = u[1:] == u[:-1]
    return np.diff(t)[same].astype(np.float64)


# ---------------------------------------------------------------------------------------- checks


def check_same_catalogue(reference: InteractionData, other: InteractionData, *, why: str = "") -> None:
    """Raise unless the two logs share one item catalogue (same ``item_ids``, in the same order).

    Args:
        reference: the log the other is compared with (the real data, the query users).
        other: the log named in the error (the synthetic data, the reference of a distance).
        why: appended to the message (``"; Jaccard distances ... need one shared catalogue"``).

    Raises:
        DataValidationError: the catalogues differ (the message names both logs and their sizes).
    """
    if reference.n_items != other.n_items or not reference.item_ids.equals(other.item_ids):
        raise DataValidationError(
            f"cannot compare '{other.name}' with '{reference.name}': their item catalogues differ "
            f"({other.n_items} vs {reference.n_items} items){why}",
            source=other.name, column=ITEM,
            hint="sample the synthetic data from a generator fitted on the same catalogue, or build both logs "
                 "with InteractionData.from_frame(..., item_vocabulary=other.item_ids)",
        )


def require_active_users(data: InteractionData, n_active: int, what: str, at_least: int = 1) -> None:
    """Raise unless ``n_active`` (the active users of ``data``, called ``what``) is at least ``at_least``."""
    if n_active < at_least:
        raise DataValidationError(
            f"{what} has {n_active} user(s) with interactions; the privacy audit needs at least {at_least}",
            source=data.name, column=USER, hint=f"pass a non-empty {what} log",
        )


def check_block(block: int) -> int:
    """``block`` (users per tile of a distance computation) as an int; ConfigError unless ≥ 1."""
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ConfigError(f"block must be a positive integer (users per tile), got {block!r}")
    return int(block)


# ---------------------------------------------------------------------------------------- distances


def active_rows(data: InteractionData) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray]:
    """(active dense user ids int64, binary CSR of their rows (float32), item-set sizes float64)."""
    active = data.active_users().astype(np.int64)
    x = data.to_csr("binary")[active]
    sizes = np.asarray(x.sum(axis=1), dtype=np.float64).ravel()
    return active, sp.csr_matrix(x), sizes


def jaccard_nearest(
    query: InteractionData,
    reference: InteractionData,
    *,
    exclude_self: bool = False,
    block: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Jaccard distance from each active query user to its nearest and second-nearest reference user.

    ``d(A, B) = 1 - |A ∩ B| / (|A| + |B| - |A ∩ B|)`` on item sets (module docstring). Only users with at
    least one interaction take part, on both sides. Intersections come from sparse products
    ``X_q · X_rᵀ`` of the binary user × item matrices, in (query block × reference block) tiles, so memory
    is bounded by ``block²`` floats whatever the number of users; a running top-2 is merged across tiles.

    Args:
        query: log whose active users are the rows of the result, in increasing dense-id order
            (``query.active_users()``).
        reference: log searched for neighbours; must share the query's item catalogue.
        exclude_self: skip the reference user with the same dense user id as the query user (use with
            ``reference is query`` to get leave-one-out neighbours within one log).
        block: users per tile on each side; peak memory is about ``block² · 8`` bytes plus the tiles'
            sparse products.

    Returns:
        ``(nearest, second)``: float64 arrays of shape ``(n_query_active,)`` with values in [0, 1].
        ``second`` is NaN where fewer than two reference users are available.

    Raises:
        DataValidationError: the catalogues differ, or the reference has no active user (none other than
            the query user itself with ``exclude_self``).
        ConfigError: ``block`` is not a positive integer.
    """
    b = check_block(block)
    check_same_catalogue(query, reference, why="; Jaccard distances between users need one shared catalogue")
    q_ids, xq, q_size = active_rows(query)
    r_ids, xr, r_size = active_rows(reference)
    require_active_users(reference, len(r_ids), "the reference")
    n_q = len(q_ids)
    best = np.full((n_q, 2), np.inf)
    for q0 in range(0, n_q, b):
        q1 = min(q0 + b, n_q)
        xq_b = xq[q0:q1]
        run = best[q0:q1]
        for r0 in range(0, len(r_ids), b):
            r1 = min(r0 + b, len(r_ids))
            inter = (xq_b @ xr[r0:r1].T).toarray().astype(np.float64)
            union = q_size[q0:q1, None] + r_size[None, r0:r1] - inter
            dist = 1.0 - inter / union
            if exclude_self:
                dist[q_ids[q0:q1, None] == r_ids[None, r0:r1]] = np.inf
            both = np.concatenate([run, dist], axis=1)
            run = np.partition(both, 1, axis=1)[:, :2]
        best[q0:q1] = np.sort(run, axis=1)
    if n_q and np.isinf(best[:, 0]).any():
        raise DataValidationError(
            "a query user has no reference user to compare with (exclude_self removed the only one)",
            source=reference.name, column=USER, hint="pass a reference log with at least two active users",
        )
    second = best[:, 1]
    second[np.isinf(second)] = np.nan
    return best[:, 0].copy(), second.copy()
