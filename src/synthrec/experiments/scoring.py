"""Turn a split into what a recommender is scored on: histories in, held-out targets to hit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from synthrec.data.splits import Split
from synthrec.errors import DataValidationError
from synthrec.evaluation.metrics import evaluate
from synthrec.models.base import Recommender


@dataclass(frozen=True)
class EvalSet:
    """Rows are the evaluated users (those with at least one held-out interaction).

    Attributes:
        users: int32 dense ids of the evaluated users, shape (n,).
        histories: CSR (n, n_items), what the recommender sees (train rows, or the fold-in part of
            held-out users under strong generalisation).
        targets: CSR (n, n_items), binary held-out interactions.
    """

    users: np.ndarray
    histories: sp.csr_matrix
    targets: sp.csr_matrix

    @property
    def n_users(self) -> int:
        return len(self.users)


def eval_set(split: Split) -> EvalSet:
    """Histories and targets of every user with a held-out interaction in ``split.test``."""
    users, histories, targets = split.evaluation_inputs("binary")
    if len(users) == 0:
        raise DataValidationError(
            f"the {split.kind} split of '{split.train.name}' holds no test events, so nothing can be "
            "measured", source=split.train.name,
            hint="users with a single interaction stay wholly in train under leave-last-out: set "
            "data.min_user_interactions: 2, use more data, or another split kind",
        )
    return EvalSet(users, histories, targets)


def score(model: Recommender, es: EvalSet, ks: list[int]) -> dict[str, float]:
    """Full-ranking metrics of ``model`` on ``es`` (seen items excluded), keyed like ``"NDCG@10"``, with
    the counts of cold targets and users (`synthrec.evaluation.metrics.evaluate`): ``n_targets_cold_item``
    counts held-out items the model was never trained on."""
    return score_with_groups(model, es, ks, None)[0]


def keep_items(targets: sp.csr_matrix, mask: np.ndarray) -> sp.csr_matrix:
    """``targets`` with only the columns of ``mask`` (bool ``(n_items,)``) kept: an item group's held-out
    targets (`synthrec.experiments.bench.breakdowns`, the run's item groups)."""
    out = targets.multiply(mask[None, :].astype(targets.dtype)).tocsr()
    out.eliminate_zeros()
    return out


def item_group_metrics(recs: np.ndarray, targets: sp.csr_matrix, groups: dict[str, np.ndarray], ks: list[int],
                       metrics: tuple[str, ...] = ("ndcg", "recall", "hr", "mrr")
                       ) -> dict[str, tuple[dict[str, float], int]]:
    """Metrics on each item group's held-out targets: group name -> (metric -> value, users evaluated).

    For each group, every user's targets are cut to the group's items (`keep_items`) and the metrics are
    averaged over the users with at least one such target; recommendations are not filtered (an item
    group's NDCG@10 asks: when the held-out item is in the group, how well is it ranked?). A group no user
    holds a target in is left out (never scored as 0). Counts are dropped, ``coverage@K`` kept as
    `synthrec.evaluation.metrics.evaluate` gives it.
    """
    out: dict[str, tuple[dict[str, float], int]] = {}
    for name, mask in groups.items():
        t = keep_items(targets, mask)
        if t.shape[0] == 0 or t.nnz == 0:
            continue
        res = evaluate(recs, t, ks=tuple(ks), metrics=metrics, n_items=t.shape[1])
        n = int(res.pop("n_users_evaluated"))
        for key in ("n_users_skipped_empty_target", "n_users_without_recs", "n_targets"):
            res.pop(key)
        out[name] = (res, n)
    return out


def score_with_groups(model: Recommender, es: EvalSet, ks: list[int], item_groups: dict[str, np.ndarray] | None
                      ) -> tuple[dict[str, float], dict[str, tuple[dict[str, float], int]]]:
    """`score` and, with ``item_groups``, NDCG and Recall per item group (`item_group_metrics`) from the
    same recommendations (``{}`` without groups). The overall figures are exactly `score`'s."""
    recs = model.recommend(es.histories, max(ks), exclude_seen=True)
    trained = getattr(model, "eligible_items_", None)
    overall = evaluate(recs, es.targets, ks=tuple(ks), n_items=es.targets.shape[1], histories=es.histories,
                       trained_items=None if trained is None else np.asarray(trained, dtype=bool))
    if not item_groups:
        return overall, {}
    groups = item_group_metrics(recs, es.targets, item_groups, ks, metrics=("ndcg", "recall"))
    return overall, {g: ({k: v for k, v in m.items() if not k.startswith("coverage")}, n)
                     for g, (m, n) in groups.items()}
