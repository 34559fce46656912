"""The data protocol a `synthrec run` seed and a `synthrec bench` cell share, before any model is trained:
who is source and who is target, the validation split carved from the training data, and the names that
key the generators' seeds (`synthrec.experiments.pools.pool_purpose`).

A run seed *is* one bench cell: dataset = `dataset_label` of the run's data, split = the run's split kind,
level = `level_label` of its scarcity knobs. With ``keep_fraction: 1`` and no ``max_per_user``, the same
data, seed, split, generator, ratios and recommender (no tuning grid) give the same scores in both
(``tests/test_run_bench_parity.py``). The scarcity knobs themselves differ: `synthrec run` makes the whole
target scarce (test users too); the bench keeps the test users fixed and thins the training users only.
"""

from __future__ import annotations

from pathlib import Path

from synthrec.config import DataConfig
from synthrec.data.interactions import InteractionData
from synthrec.data.splits import carve_validation, split_users
from synthrec.errors import ConfigError, DataValidationError
from synthrec.experiments.scoring import EvalSet, eval_set
from synthrec.experiments.strategies import derive_seed


def source_and_target(data: InteractionData, source_fraction: float, seed: int
                      ) -> tuple[InteractionData, InteractionData]:
    """``(source, target)``: ``round_half_up(source_fraction × active users)`` users drawn as the private
    source (`synthrec.data.splits.split_users`, seed ``derive_seed(seed, "users")``), the others the target.
    Vocabularies unchanged."""
    return split_users(data, source_fraction, seed=derive_seed(seed, "users"))


def validation_data(train: InteractionData, kind: str, *, seed: int, test_fraction: float
                    ) -> tuple[tuple[InteractionData, EvalSet] | None, str]:
    """``((inner training part, validation set), "")`` carved from ``train`` with the same split kind
    (`synthrec.data.splits.carve_validation`, seed ``derive_seed(seed, "validation")``); ``(None, note)``
    when the training data is too small to hold a validation target (then ``auto`` keeps real-only and the
    bench uses fixed parameters)."""
    try:
        inner = carve_validation(train, kind, seed=derive_seed(seed, "validation"), test_fraction=test_fraction)
        return (inner.train.compact_users(), eval_set(inner)), ""
    except (DataValidationError, ConfigError) as exc:
        return None, f"no validation split ({exc}): defaults used"


def level_label(users: float = 1.0, cap: int | None = None) -> str:
    """A scarcity level's label: ``users=0.1`` (fraction of training users kept) or ``cap=10`` (events per
    user)."""
    return f"cap={cap}" if cap is not None else f"users={users:g}"


def dataset_label(dc: DataConfig) -> str:
    """The dataset name a run's seeds are keyed by: the loader's name, or the stem of the data path
    (``data/ml-100k`` → ``ml-100k``, ``ratings.csv`` → ``ratings``), so it does not depend on where the
    file lies."""
    if dc.loader is not None:
        return dc.loader
    assert dc.path is not None
    return Path(dc.path).stem
