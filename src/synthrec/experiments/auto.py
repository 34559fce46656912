"""The ``auto`` strategy, shared by `synthrec run` (`synthrec.experiments.pipeline`) and `synthrec bench`
(`synthrec.experiments.bench.execute`): how a candidate (`synthrec.experiments.arms.auto_candidates`) is
scored on validation data, and the rule that picks one.

The rule: the candidate with the best validation `PRIMARY_METRIC`; real-only is kept unless the best
synthetic candidate beats it by ``min_gain`` (relative): small validation sets are noisy and synthetic data
must earn its place. Validation data is carved from the training data (`synthrec.experiments.protocol.
validation_data`), never from the test data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from synthrec.experiments.arms import Arm
from synthrec.experiments.scoring import EvalSet, score
from synthrec.experiments.strategies import ArmInputs, train_arm
from synthrec.models.base import Recommender

#: the metric ``auto`` and the bench's tuning choose by, and the bench's tables and tests report
PRIMARY_METRIC = "NDCG@10"
#: its cut-off
PRIMARY_K = 10


def validation_score(arm: Arm, make_model: Callable[[], Recommender], inputs: ArmInputs, es: EvalSet) -> float:
    """`PRIMARY_METRIC` of a model trained the way ``arm`` says on ``inputs`` (the inner training part and
    its pools) and scored on the validation targets ``es``."""
    return score(train_arm(arm, make_model, inputs), es, [PRIMARY_K])[PRIMARY_METRIC]


def choose_auto(validation: Mapping[Arm, float | None], min_gain: float) -> Arm:
    """The candidate with the best validation score; real-only unless the best beats it by ``min_gain``
    (relative). Candidates without a score (no validation data, failed fits) never win; ties go to the
    first candidate in ``validation``'s order."""
    real = Arm("real-only")
    scored = {a: v for a, v in validation.items() if v is not None}
    if not scored or real not in scored:
        return real
    best = max(scored, key=lambda a: scored[a])
    if best != real and scored[best] <= scored[real] * (1.0 + min_gain):
        return real
    return best
