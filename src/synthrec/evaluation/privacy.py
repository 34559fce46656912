r"""Distance-based privacy audit of synthetic interaction data: DCR, NNDR and membership inference.

A user is the **set** of items they interacted with (repeats, ratings and times are ignored). Two users
A and B are compared by the Jaccard distance

.. math:: d(A, B) = 1 - |A \cap B| / |A \cup B|, \qquad |A \cup B| = |A| + |B| - |A \cap B|

(Jaccard 1912), in [0, 1]; 0 means identical item sets (an *exact copy*), 1 means no item in common.

Protocol (holdout-based, Platzer & Reutterer 2021, "Holdout-based fidelity and privacy assessment of
mixed-type synthetic data", Frontiers in Big Data 4:679939, Sec. 2.3):

1. Split the real users into **train** (the generator is fitted on them) and **holdout** (never shown to
   the generator), ideally of equal size.
2. **DCR** (distance to closest record): for each synthetic user, the distance to the nearest train user
   and to the nearest holdout user. A generator that does not memorise produces users that are no closer
   to the train users than to the holdout users, so the share of synthetic users closer to train is
   ``n_train / (n_train + n_holdout)`` (0.5 for equal sizes; ties count one half). A share near 1, or
   exact copies (DCR = 0) beyond the holdout's own rate, flags memorisation.
3. **NNDR** (nearest-neighbour distance ratio): ``d1 / d2``, the distances to the nearest and the second
   nearest train user; small values mean a synthetic user sits next to one particular real user rather
   than in a dense region (Platzer & Reutterer 2021, Sec. 2.3; the 0/0 convention of synthcity).
4. **Membership inference** (distance-based attack, e.g. Hilprecht, Härterich & Bernau 2019, "Monte
   Carlo and reconstruction membership inference attacks against generative models", PETS, Sec. 4; Chen
   et al. 2020, "GAN-Leaks", CCS, the "full black-box" attack): each real user x gets the score
   ``-min_s d(x, s)`` over the synthetic users s; members (train) are the positive class and holdout
   users the negative class. The attack's ROC AUC is 0.5 when the synthetic data reveals nothing about
   membership and 1 when every member is closer to the synthetic data than every non-member.

All distances are vectorised: intersections come from sparse products ``X_q · X_rᵀ`` of the binary
user × item matrices, computed in (query block × reference block) tiles so memory is bounded by
``block²`` floats whatever the number of users; a running top-2 is merged across reference tiles. The
only Python loops are over tiles.

`jaccard_nearest` and its helpers live in `synthrec.data.stats` (the generators use it too); it is
re-exported here. This module imports only `synthrec.data` and `synthrec.errors` (never generators or
models).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from synthrec.data.interactions import InteractionData
from synthrec.data.stats import jaccard_nearest, require_active_users
from synthrec.errors import DataValidationError

__all__ = [
    "REPORT_KEYS",
    "DCRResult",
    "NNDRResult",
    "dcr",
    "jaccard_nearest",
    "membership_inference_auc",
    "nndr",
    "privacy_report",
    "rank_auc",
]

REPORT_KEYS: tuple[str, ...] = (
    "n_synthetic",
    "n_train",
    "n_holdout",
    "dcr_train_median",
    "dcr_holdout_median",
    "dcr_train_p05",
    "dcr_holdout_p05",
    "dcr_share_closer_to_train",
    "dcr_share_baseline",
    "exact_copy_share",
    "exact_copy_share_holdout",
    "nndr_mean",
    "nndr_median",
    "nndr_p05",
    "mia_auc",
)
"""Keys of `privacy_report`, in order (stable: reports and ``results.json`` rely on them)."""


# ------------------------------------------------------------------------------------------------ DCR


@dataclass(frozen=True)
class DCRResult:
    """Distances to closest record of each active synthetic user (increasing dense-id order).

    Attributes:
        to_train: float64 ``(n_synthetic,)``, Jaccard distance to the nearest train user.
        to_holdout: float64 ``(n_synthetic,)``, Jaccard distance to the nearest holdout user.
        holdout_to_train: float64 ``(n_holdout,)``, each holdout user's distance to the nearest train user
            (the rate of exact copies that occurs between two real samples, the baseline of
            ``exact_copy_share``).
        n_train, n_holdout: active users in the train and holdout logs.
    """

    to_train: np.ndarray
    to_holdout: np.ndarray
    holdout_to_train: np.ndarray
    n_train: int
    n_holdout: int

    @property
    def share_closer_to_train(self) -> float:
        """Share of synthetic users with ``to_train < to_holdout``; ties count one half."""
        closer = (self.to_train < self.to_holdout).astype(np.float64)
        closer[self.to_train == self.to_holdout] = 0.5
        return float(closer.mean())

    @property
    def share_baseline(self) -> float:
        """``n_train / (n_train + n_holdout)``: the expected `share_closer_to_train` of a generator whose
        output is independent of which real users were in train (0.5 for equal sizes)."""
        return self.n_train / (self.n_train + self.n_holdout)

    @property
    def exact_copy_share(self) -> float:
        """Share of synthetic users whose item set equals some train user's (``to_train == 0``)."""
        return float(np.mean(self.to_train == 0.0))

    def summary(self) -> dict[str, float]:
        """Flat dict: medians and 5th percentiles of both DCRs, the share closer to train and its baseline,
        the exact-copy share and the holdout's own exact-copy share against train."""
        return {
            "dcr_train_median": float(np.median(self.to_train)),
            "dcr_holdout_median": float(np.median(self.to_holdout)),
            "dcr_train_p05": float(np.quantile(self.to_train, 0.05)),
            "dcr_holdout_p05": float(np.quantile(self.to_holdout, 0.05)),
            "dcr_share_closer_to_train": self.share_closer_to_train,
            "dcr_share_baseline": self.share_baseline,
            "exact_copy_share": self.exact_copy_share,
            "exact_copy_share_holdout": float(np.mean(self.holdout_to_train == 0.0)),
        }


def dcr(
    synthetic: InteractionData, train: InteractionData, holdout: InteractionData, *, block: int = 1024
) -> DCRResult:
    """Distance to closest record against train and holdout users (Platzer & Reutterer 2021, Sec. 2.3).

    For each active synthetic user, the Jaccard distance (module docstring) to the nearest train user and
    to the nearest holdout user. Train and holdout must be disjoint sets of real users (e.g. from
    `synthrec.data.splits.split_users`), the generator fitted on train only; use equal sizes so the
    share-closer-to-train baseline is 0.5.

    Args:
        synthetic, train, holdout: logs over one shared item catalogue.
        block: tile size, see `jaccard_nearest`.

    Returns:
        `DCRResult` (arrays per synthetic user; ``summary()`` for the figures).

    Raises:
        DataValidationError: catalogues differ, or a log has no active user.
        ConfigError: bad ``block``.
    """
    for data, what in ((synthetic, "the synthetic data"), (train, "train"), (holdout, "holdout")):
        require_active_users(data, len(data.active_users()), what)
    to_train, _ = jaccard_nearest(synthetic, train, block=block)
    to_holdout, _ = jaccard_nearest(synthetic, holdout, block=block)
    holdout_to_train, _ = jaccard_nearest(holdout, train, block=block)
    return DCRResult(to_train, to_holdout, holdout_to_train,
                     n_train=len(train.active_users()), n_holdout=len(holdout.active_users()))


# ----------------------------------------------------------------------------------------------- NNDR


@dataclass(frozen=True)
class NNDRResult:
    """Nearest-neighbour distance ratios of the active synthetic users (increasing dense-id order).

    Attributes:
        ratio: float64 ``(n_synthetic,)``, ``d1 / d2`` in [0, 1]; 0 where ``d2 == 0`` (the synthetic user
            copies a train item set that occurs at least twice: treated as the riskiest case).
        nearest, second: float64 ``(n_synthetic,)``, the distances d1 and d2 to train users.
    """

    ratio: np.ndarray
    nearest: np.ndarray
    second: np.ndarray

    def summary(self) -> dict[str, float]:
        """``{"nndr_mean", "nndr_median", "nndr_p05"}`` (p05: 5th percentile; low values are risky)."""
        return {
            "nndr_mean": float(np.mean(self.ratio)),
            "nndr_median": float(np.median(self.ratio)),
            "nndr_p05": float(np.quantile(self.ratio, 0.05)),
        }


def nndr(synthetic: InteractionData, train: InteractionData, *, block: int = 1024) -> NNDRResult:
    """Nearest-neighbour distance ratio ``d1 / d2`` of each synthetic user against the train users.

    d1, d2: Jaccard distances to the nearest and second-nearest train user (Platzer & Reutterer 2021,
    Sec. 2.3). ``0 / 0`` is taken as 0 (as ``d1 / (d2 + 1e-8)`` in synthcity).

    Raises:
        DataValidationError: catalogues differ, the synthetic log is empty, or train has fewer than two
            active users.
        ConfigError: bad ``block``.
    """
    require_active_users(synthetic, len(synthetic.active_users()), "the synthetic data")
    require_active_users(train, len(train.active_users()), "train", at_least=2)
    d1, d2 = jaccard_nearest(synthetic, train, block=block)
    ratio = np.divide(d1, d2, out=np.zeros_like(d1), where=d2 > 0)
    return NNDRResult(ratio, d1, d2)


# ------------------------------------------------------------------------------- membership inference


def rank_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC from the Mann–Whitney U statistic: ``P(s⁺ > s⁻) + ½ P(s⁺ = s⁻)``.

    ``U = R⁺ - n⁺(n⁺ + 1)/2`` with ``R⁺`` the sum of the positives' ranks in the pooled sample (ties get
    their average rank), ``AUC = U / (n⁺ n⁻)`` (Mann & Whitney 1947; Hanley & McNeil 1982, eq. 1–2).

    Args:
        positive, negative: 1-D finite scores; higher means "more likely positive".

    Raises:
        DataValidationError: a side is empty or a score is not finite.
    """
    pos = np.asarray(positive, dtype=np.float64).ravel()
    neg = np.asarray(negative, dtype=np.float64).ravel()
    if pos.size == 0 or neg.size == 0:
        raise DataValidationError(f"AUC needs both classes, got {pos.size} positive and {neg.size} negative scores")
    if not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        raise DataValidationError("AUC scores must be finite (NaN or inf found)")
    ranks = rankdata(np.concatenate([pos, neg]), method="average")
    u = float(ranks[: pos.size].sum()) - pos.size * (pos.size + 1) / 2.0
    return u / (pos.size * neg.size)


def membership_inference_auc(
    synthetic: InteractionData, members: InteractionData, non_members: InteractionData, *, block: int = 1024
) -> float:
    """ROC AUC of the distance-based membership-inference attack (module docstring, point 4).

    Each real user x gets the score ``-min_s d_J(x, s)`` over the active synthetic users s; members (the
    generator's training users) are the positive class, non-members (real users it never saw) the
    negative class; the AUC comes from `rank_auc` (ties averaged). 0.5: the synthetic data tells members
    from non-members no better than chance; ≥ 0.95: it practically reveals the training set.

    Raises:
        DataValidationError: catalogues differ or a log has no active user.
        ConfigError: bad ``block``.
    """
    require_active_users(synthetic, len(synthetic.active_users()), "the synthetic data")
    require_active_users(members, len(members.active_users()), "members")
    require_active_users(non_members, len(non_members.active_users()), "non-members")
    d_members, _ = jaccard_nearest(members, synthetic, block=block)
    d_non, _ = jaccard_nearest(non_members, synthetic, block=block)
    return rank_auc(-d_members, -d_non)


# --------------------------------------------------------------------------------------------- report


def privacy_report(
    synthetic: InteractionData, train: InteractionData, holdout: InteractionData, *, block: int = 1024
) -> dict[str, float]:
    """All distance-based privacy figures in one flat dict with the keys of `REPORT_KEYS`, in that order.

    ``n_*``: active users; ``dcr_*`` and ``exact_copy_share*``: `DCRResult.summary`; ``nndr_*``:
    `NNDRResult.summary` against train; ``mia_auc``: `membership_inference_auc` with train as members and
    holdout as non-members. Warning signs: ``dcr_share_closer_to_train`` well above
    ``dcr_share_baseline``, ``exact_copy_share`` above ``exact_copy_share_holdout``, ``mia_auc`` well above
    0.5.

    Raises:
        DataValidationError: catalogues differ, a log has no active user, or train has fewer than two.
        ConfigError: bad ``block``.
    """
    d = dcr(synthetic, train, holdout, block=block)
    nn = nndr(synthetic, train, block=block)
    out: dict[str, float] = {
        "n_synthetic": float(len(d.to_train)),
        "n_train": float(d.n_train),
        "n_holdout": float(d.n_holdout),
        **d.summary(),
        **nn.summary(),
        "mia_auc": membership_inference_auc(synthetic, train, holdout, block=block),
    }
    return {k: out[k] for k in REPORT_KEYS}
