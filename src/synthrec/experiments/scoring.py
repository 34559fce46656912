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
    recs = model.recommend(es.histories, max(ks), exclude_seen=True)
    trained = getattr(model, "eligible_items_", None)
    return evaluate(recs, es.targets, ks=tuple(ks), n_items=es.targets.shape[1], histories=es.histories,
                    trained_items=None if trained is None else np.asarray(trained, dtype=bool))
