"""Train one model on one arm's data: the strategies of `synthrec.experiments.arms`."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthrec.data.interactions import InteractionData, concat_users
from synthrec.experiments.arms import Arm
from synthrec.models.base import Recommender
from synthrec.models.registry import make_model as make_registered_model


@dataclass(frozen=True)
class SyntheticPool:
    """Synthetic users drawn once per (seed, source); arms take nested prefixes of it, so a larger ratio
    always contains the users of a smaller one (less noise between ratios).

    Attributes:
        data: the synthetic users (dense user ids 0..n-1, target's item vocabulary).
        base_users: number of real users the generator was fitted on; ratio r takes r × base_users.
    """

    data: InteractionData
    base_users: int

    def take(self, ratio: float) -> InteractionData:
        n = max(1, round(ratio * self.base_users))
        if n > self.data.n_users:
            raise ValueError(f"asked for {n} synthetic users, pool holds {self.data.n_users}")
        head = self.data.interactions.filter(self.data.interactions["user"] < n)
        return self.data.with_interactions(head).compact_users()


@dataclass(frozen=True)
class ArmInputs:
    """Everything an arm may train on, for one seed.

    Attributes:
        train: the target's training data (compacted: only users with interactions).
        source: the raw source users (only the ``ceiling`` arm touches them), or None.
        pools: synthetic users per source name (``"self"``, ``"source"``).
    """

    train: InteractionData
    source: InteractionData | None
    pools: Mapping[str, SyntheticPool]


def model_factory(name: str, params: Mapping[str, Any], seed: int, label: str) -> Callable[[], Recommender]:
    """Builds fresh registered models ``name(**params)`` seeded ``derive_seed(seed, "model", label)``
    (``label``: the recommender's display name), the same for every arm, in `synthrec run` and in the
    bench."""
    kwargs = dict(params)

    def build() -> Recommender:
        return make_registered_model(name, seed=derive_seed(seed, "model", label), **kwargs)

    return build


def train_arm(arm: Arm, make_model: Callable[[], Recommender], inputs: ArmInputs) -> Recommender:
    """Fit a fresh model the way ``arm`` says.

    Raises:
        ValueError: the arm needs data the inputs do not hold (a source without users, an unknown
            strategy).
    """
    model = make_model()
    if arm.strategy == "real-only":
        return model.fit(inputs.train)
    if arm.strategy == "ceiling":
        if inputs.source is None:
            raise ValueError("the ceiling arm needs source users")
        return model.fit(concat_users([inputs.train, inputs.source], name="target+source"))
    if arm.source not in inputs.pools:
        raise ValueError(f"no synthetic data for source '{arm.source}'")
    synthetic = inputs.pools[arm.source].take(arm.ratio if arm.ratio is not None else 1.0)
    if arm.strategy == "synthetic-only":
        return model.fit(synthetic)
    if arm.strategy == "augment":
        return model.fit(concat_users([inputs.train, synthetic], name="target+synthetic"))
    if arm.strategy == "pretrain-finetune":
        return model.fit(synthetic).fine_tune(inputs.train)
    raise ValueError(f"unknown strategy '{arm.strategy}'")


def derive_seed(seed: int, *keys: str) -> int:
    """A 32-bit seed for one purpose (e.g. ``("sample", "source")``) derived from the run seed, so
    streams for different purposes never overlap and do not depend on execution order."""
    key = tuple(zlib.crc32(k.encode()) for k in keys)
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1)[0])
