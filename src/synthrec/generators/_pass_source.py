"""What a generator's fit may read of a log too large for memory: a `PassSource` (exact item-level sums of
all users in a `ScanSummary`, a user sample, and further passes on demand), computed from Parquet files by
`synthrec.scale.stream_fit` or from a log in memory (its `InMemoryPassSource`, the reference).

Every sum over users is of integers or of values rounded to a fixed grid before summing, so a sum does not
depend on the order of rows, files, chunks or workers; the user sample is chosen by a hash of the user id.
Fits built on a `PassSource` (`_latent_factor_stream`, `_item_walk_stream`) are therefore the same, bit for
bit, whatever the partitioning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import polars as pl

from synthrec import __version__
from synthrec.data.interactions import InteractionData
from synthrec.generators._timestamps import OrderModel

if TYPE_CHECKING:
    from synthrec.generators.base import BaseGenerator

#: fixed-point bits of the order model's per-pair sums: q ∈ [0, 1], Σ_i q over an item ≤ its count
ORDER_BITS = 32
#: fixed-point bits of Σ q² over all pairs (≤ pairs · 2^24 < 2^62 up to 2.7·10^11 pairs)
ORDER_SQUARE_BITS = 24
#: fixed-point bits of the DP order spread's per-user sums (each ≤ 1 per user: ≤ 2^30 users)
SPREAD_BITS = 32
#: fixed-point bits of the unit-norm popularity Σ_u x_u / √n_u (each user adds ≤ 1 per item)
TASTE_BITS = 32


@dataclass(frozen=True)
class ScanSummary:
    """What one pass over the log gives: exact item-level sums of all users, and a sample of users.

    Attributes:
        item_ids: external item ids, length m (position = dense item id).
        items: the item attribute table of the fitted catalogue, or None.
        name: the log's name (a file or folder name), kept as the generator's ``source_name_``.
        counts: int64 ``(m,)`` distinct users per item.
        n_users: users with at least one row. n_pairs: distinct (user, item) pairs. n_rows: rows read.
        order_q_sum: int64 ``(m,)`` Σ_u round(q_ui · 2^ORDER_BITS) of the pairs of each item (q: the
            pair's relative position in the user's history, `synthrec.generators._timestamps.OrderModel`).
        order_q2_sum: int, Σ round(q_ui² · 2^ORDER_SQUARE_BITS) over all pairs.
        activity: int64 ``(max n_u + 1,)`` users per number of distinct items.
        sample: the sampled users' rows (every column the log has), dense users in sorted external-id
            order, items over ``item_ids``.
        has_time, has_rating: whether the log has those columns.
        capped: the sums of the capped log when the scan applied a contribution cap (DP latent-factor).
        unit_taste: int64 ``(m,)`` Σ_u round(2^TASTE_BITS / √n_u) over the users with each item.
    """

    item_ids: pl.Series
    items: pl.DataFrame | None
    name: str
    counts: np.ndarray
    n_users: int
    n_pairs: int
    n_rows: int
    order_q_sum: np.ndarray
    order_q2_sum: int
    activity: np.ndarray
    sample: InteractionData
    has_time: bool
    has_rating: bool
    capped: CappedSums | None = None
    unit_taste: np.ndarray | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def unit_popularity(self) -> np.ndarray:
        """float64 ``(m,)`` Σ_u x_u / √n_u over every user's distinct items (the popularity a DP item-walk
        releases; `unit_taste` on the grid 2^−TASTE_BITS)."""
        assert self.unit_taste is not None, "the scan did not sum the unit-norm popularity"
        return np.ldexp(self.unit_taste.astype(np.float64), -TASTE_BITS)


@dataclass(frozen=True)
class CappedSums:
    """Exact sums over the capped log a user-level DP fit releases (each user's distinct items cut to L,
    `synthrec.privacy.bound_user_contributions_hashed`), in fixed point where they are not integers.

    Attributes:
        cap: L. seed: the seed of the cap's keys.
        counts: int64 ``(m,)`` capped pairs per item.
        position_sums: int64 ``(m,)`` Σ_u round(q_ui · 2^ORDER_BITS), q over the user's capped items in
            time order (as `_latent_factor_dp.order_model`).
        spread_q2: int, Σ_u round(2^SPREAD_BITS · Σ_i q_ui² / d_u) (d_u: her capped items).
        spread_q: int64 ``(m,)`` Σ_u round(2^SPREAD_BITS · q_ui / d_u) of the users with item i.
        spread_one: int64 ``(m,)`` Σ_u round(2^SPREAD_BITS / d_u) of the users with item i.
    """

    cap: int
    seed: int
    counts: np.ndarray
    position_sums: np.ndarray
    spread_q2: int
    spread_q: np.ndarray
    spread_one: np.ndarray

    def spread(self, pos: np.ndarray) -> float:
        """Σ_u mean_{i in u} (q_ui − p_i)² = Σ_u Σ_i q²/d − 2 Σ_i p_i Σ_u q_ui/d + Σ_i p_i² Σ_u 1/d."""
        q2 = math.ldexp(float(self.spread_q2), -SPREAD_BITS)
        q = np.ldexp(self.spread_q.astype(np.float64), -SPREAD_BITS)
        one = np.ldexp(self.spread_one.astype(np.float64), -SPREAD_BITS)
        return max(q2 - 2.0 * float(pos @ q) + float((pos * pos) @ one), 0.0)


#: what `PassSource.note` says before a generator's calibration (simulated users; no data read)
CALIBRATING = "calibrating on simulated users (reads no data)"


class PassSource(Protocol):
    """A log that can be read in passes: its `ScanSummary`, the fixed-point product of `xtx`, and Gram
    blocks (`gram`)."""

    @property
    def summary(self) -> ScanSummary: ...

    def gram(self, items: np.ndarray) -> np.ndarray:
        """One pass: the int64 Gram block Σ_u x_u[items] x_u[items]ᵀ ``(len(items), len(items))``."""
        ...

    def pair_gram(self, items: np.ndarray) -> np.ndarray:
        """One pass: Σ_u w_u x_u x_uᵀ over ``items`` (float64 ``(M, M)``), w_u = √(2 / (k_u (k_u − 1))) for
        the user's k_u items among them (0 when k_u < 2; `synthrec.privacy.pair_gram`), on a grid."""
        ...

    def normalised(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One pass over the capped log: Σ_u z_u z_uᵀ ``(M, M)`` and Σ_u z_u ``(M,)`` (float64), z_u the
        user's capped row restricted to ``items`` scaled to unit L2 norm; each user's weights 1/k_u and
        1/√k_u rounded to the grid 2^−`normalised_bits` before summing (exact in any grouping)."""
        ...

    def note(self, text: str) -> None:
        """Say what the fit does between passes (a long step that reads no data), for progress."""
        ...

    def xtx(self, basis: np.ndarray, bits: int, top: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """One pass: ``(Σ_u x_u ⊗ round(2^bits · x_uᵀ basis), Σ_u x_u[top] x_u[top]ᵀ)``.

        x_u is user u's binary item vector. Returns int64 ``(m, l)`` and, when ``top`` is given, the int64
        Gram block ``(len(top), len(top))`` of those items (else None). ``x_uᵀ basis`` is formed per user
        over her items in ascending item order, so it does not depend on how users are grouped.
        """
        ...


def sample_threshold(n_users: int, sample_users: int) -> int:
    """The uint64 hash threshold τ of the user sample: a user is sampled when hash(id) < τ, so about
    ``sample_users`` of ``n_users`` users are; every user when ``sample_users >= n_users`` (τ = 2^64)."""
    if sample_users >= n_users:
        return 1 << 64
    return math.floor(sample_users / n_users * float(1 << 64))


def normalised_bits(n_users: int) -> int:
    """Grid bits of `PassSource.normalised`: each user adds at most 1 to an entry, so Σ ≤ n_users · 2^b < 2^62."""
    return int(min(40, 61 - math.ceil(math.log2(max(n_users, 1) + 1))))


def fixed_point_bits(n_pairs: int, max_abs: float) -> int:
    """Bits b so that Σ over all pairs of round(2^b · v), |v| ≤ ``max_abs`` per pair of a user's
    projection, stays below 2^62 (no int64 overflow): b = ⌊62 − log2(n_pairs · max_abs)⌋, at most 52."""
    bound = max(float(n_pairs) * max(max_abs, 1e-300), 1.0)
    return int(min(52, math.floor(62 - math.log2(bound))))


def order_model_from_sums(q_sum: np.ndarray, q2_sum: int, counts: np.ndarray, *, shrinkage: float = 1.0
                          ) -> OrderModel:
    """`OrderModel` from fixed-point sums (`ScanSummary.order_q_sum`, ``order_q2_sum``) and item counts.

    p_i = (S_i + ½κ) / (c_i + κ) with S_i = Σ q_ui (as `OrderModel.fit`); the residual sd from
    Σ (q − p_i)² = Σ q² − 2 Σ_i p_i S_i + Σ_i c_i p_i² and Σ (q − p_i) = Σ_i S_i − Σ_i c_i p_i (population
    sd, as numpy's ``std``).
    """
    c = counts.astype(np.float64)
    total = float(c.sum())
    s = np.ldexp(q_sum.astype(np.float64), -ORDER_BITS)
    pos = (s + 0.5 * shrinkage) / (c + shrinkage)
    if total == 0:
        return OrderModel(position=pos, noise=0.0)
    sq = math.ldexp(float(q2_sum), -ORDER_SQUARE_BITS)
    mean_sq = (sq - 2.0 * float(pos @ s) + float(c @ (pos * pos))) / total
    mean = (float(s.sum()) - float(c @ pos)) / total
    return OrderModel(position=pos, noise=float(np.sqrt(max(mean_sq - mean * mean, 0.0))))


def stamp_fitted(gen: BaseGenerator, summary: ScanSummary) -> None:
    """What `BaseGenerator._finish_fit` records, from a `ScanSummary`: catalogue, items table, source name,
    version; marks ``gen`` fitted."""
    gen.item_ids_ = summary.item_ids  # type: ignore[attr-defined]
    gen.items_ = summary.items  # type: ignore[attr-defined]
    gen.source_name_ = summary.name  # type: ignore[attr-defined]
    gen.synthrec_version_ = __version__  # type: ignore[attr-defined]
    gen._fitted = True
