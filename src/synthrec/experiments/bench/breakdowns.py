"""Per-group evaluation: all users, cold / warm users, head / tail items.

Definitions (``n`` evaluated users; a user's *history length* is the number of distinct items in the
history the recommender is given for that user at evaluation time, i.e. the row of ``EvalSet.histories``):

- **cold users**: history length ``<= t``. ``t`` is ``cold_max_history`` when the config gives one;
  otherwise the *shortest-history third*: with the lengths sorted ascending, ``t`` is the value at
  1-based rank ``ceil(n / 3)``, so at least a third of the users are cold and users with equal lengths
  always fall in the same group. **warm users** are the others.
- **head items**: the ``ceil(head_share * m)`` most popular of the ``m`` items with at least one event
  in the *full* training part of the target pool (the level-1.0 training data, so the head set is the
  same at every scarcity level), ranked by event count, ties by lower dense item id. **tail items** are
  all other items (never-seen items included).
- **mapped-items / target-only-items** (only for a dataset with an external ``source:`` and its item
  map, `synthrec.experiments.external`): held-out items the map pairs with a source item, and the
  others.
- A user-group metric is the usual mean over the users of the group. An item-group metric keeps only the
  group's items among each user's held-out targets and averages over users with at least one such target;
  recommendations are not filtered (a head-item NDCG@10 asks: when the held-out item is a head item, how
  well is it ranked?).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from synthrec.evaluation.metrics import evaluate
from synthrec.experiments.external import ITEM_MAP_GROUPS, MAPPED_ITEMS, TARGET_ONLY_ITEMS
from synthrec.experiments.scoring import keep_items

GROUPS = ("all", "cold-users", "warm-users", "head-items", "tail-items")
#: every group a table may hold: `GROUPS`, then the item-map groups of datasets with an external source
ALL_GROUPS = (*GROUPS, *ITEM_MAP_GROUPS)


@dataclass(frozen=True)
class Groups:
    """Boolean masks: ``cold`` over evaluated users ``(n,)``, ``head`` over items ``(n_items,)``;
    ``mapped`` over items, the items an external source's map reaches (None without one)."""

    cold: np.ndarray
    head: np.ndarray
    cold_threshold: int
    mapped: np.ndarray | None = None


def cold_threshold(history_lengths: np.ndarray, cold_max_history: int | None = None) -> int:
    """``t`` of the module docstring. ``history_lengths``: int array ``(n,)``, ``n >= 1``."""
    if cold_max_history is not None:
        return int(cold_max_history)
    lengths = np.sort(np.asarray(history_lengths, dtype=np.int64))
    return int(lengths[math.ceil(lengths.shape[0] / 3) - 1])


def head_items(item_counts: np.ndarray, head_share: float) -> np.ndarray:
    """Bool mask ``(n_items,)`` of the head items, from training event counts per item (int ``(n_items,)``)."""
    counts = np.asarray(item_counts, dtype=np.int64)
    active = np.flatnonzero(counts > 0)
    n_head = math.ceil(head_share * active.shape[0])
    order = active[np.lexsort((active, -counts[active]))][:n_head]
    mask = np.zeros(counts.shape[0], dtype=bool)
    mask[order] = True
    return mask


def make_groups(histories: sp.csr_matrix, item_counts: np.ndarray, *, cold_max_history: int | None,
                head_share: float, mapped: np.ndarray | None = None) -> Groups:
    """The masks of the module docstring for one evaluation set (``mapped``: see `Groups`)."""
    lengths = np.diff(histories.indptr)
    t = cold_threshold(lengths, cold_max_history) if lengths.shape[0] else 0
    return Groups(lengths <= t, head_items(item_counts, head_share), t, mapped)


_keep_items = keep_items


def evaluate_groups(recs: np.ndarray, targets: sp.csr_matrix, groups: Groups, ks: list[int]
                    ) -> dict[str, tuple[dict[str, float], int]]:
    """Metrics of `synthrec.evaluation.metrics.evaluate` per group.

    Args:
        recs: int ``(n, K)`` recommendations (dense item ids, ``-1`` = none), ``K >= max(ks)``.
        targets: CSR ``(n, n_items)`` held-out relevance.
        groups: masks from `make_groups` for the same rows.
        ks: cut-offs.

    Returns:
        group name -> (metric name -> value, number of users evaluated). A group with no user holding a
        target in it is left out (never scored as 0).
    """
    parts: dict[str, tuple[np.ndarray, sp.csr_matrix]] = {
        "all": (recs, targets),
        "cold-users": (recs[groups.cold], targets[groups.cold]),
        "warm-users": (recs[~groups.cold], targets[~groups.cold]),
        "head-items": (recs, _keep_items(targets, groups.head)),
        "tail-items": (recs, _keep_items(targets, ~groups.head)),
    }
    if groups.mapped is not None:
        parts[MAPPED_ITEMS] = (recs, _keep_items(targets, groups.mapped))
        parts[TARGET_ONLY_ITEMS] = (recs, _keep_items(targets, ~groups.mapped))
    out: dict[str, tuple[dict[str, float], int]] = {}
    for name, (r, t) in parts.items():
        if t.shape[0] == 0 or t.nnz == 0:
            continue
        res = evaluate(r, t, ks=tuple(ks), metrics=("ndcg", "recall", "hr", "mrr"), n_items=t.shape[1])
        n = int(res.pop("n_users_evaluated"))
        res.pop("n_users_skipped_empty_target")
        res.pop("n_users_without_recs")
        res.pop("n_targets")
        out[name] = (res, n)
    return out
