"""The shard plan: which synthetic users each shard holds, and the seed it is drawn with.

``n_users`` synthetic users are cut into ``n_shards = ceil(n_users / shard_users)`` shards of
``shard_users`` consecutive users (the last may be smaller). Shard ``s`` holds the users with global
numbers ``s·shard_users … s·shard_users + size − 1`` (external ids ``syn-<number>``) and is drawn with the
seed ``numpy.random.SeedSequence(seed).spawn(n_shards)[s]``.

Both depend only on ``(n_users, shard_users, seed, s)``: never on how many workers there are or which
worker draws the shard, so the output of a sharded run is the same on 1 worker, 3 processes or a Dask
cluster. It is also exactly what ``BaseGenerator.sample_batches(n_users, batch_users=shard_users,
seed=seed)`` yields as batch ``s``, and what ``synthrec sample --batch-users shard_users`` writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError
from synthrec.generators.base import BaseGenerator

#: Default users per shard: the default batch size of `synthrec sample`, so both commands agree.
DEFAULT_SHARD_USERS = 10_000


@dataclass(frozen=True)
class Shard:
    """One unit of work: ``n_users`` consecutive synthetic users starting at global number ``first_user``.

    Attributes:
        index: shard number ``s`` in ``[0, n_shards)``.
        first_user: global number of the shard's first user (``s · shard_users``).
        n_users: users in the shard (``shard_users``, or fewer for the last shard).
        seed: the run's integer seed; with ``index`` it determines the shard's random stream.
    """

    index: int
    first_user: int
    n_users: int
    seed: int

    def seed_sequence(self) -> np.random.SeedSequence:
        """``SeedSequence(seed).spawn(n)[index]`` for any ``n > index`` (numpy gives child ``i`` of a root
        the spawn key ``(i,)``, so it is built directly without spawning the siblings)."""
        return np.random.SeedSequence(self.seed, spawn_key=(self.index,))

    def file_stem(self) -> str:
        """Base name of the shard's output file, e.g. ``part-000007`` (zero-padded so names sort)."""
        return f"part-{self.index:06d}"


@dataclass(frozen=True)
class ShardPlan:
    """All shards of a run; iterate it for the `Shard` objects in order.

    Attributes:
        n_users: total synthetic users (≥ 1).
        shard_users: users per shard (≥ 1).
        seed: integer seed (≥ 0) of the whole run.
    """

    n_users: int
    shard_users: int
    seed: int

    def __post_init__(self) -> None:
        for name, value, low in (("n_users", self.n_users, 1), ("shard_users", self.shard_users, 1),
                                 ("seed", self.seed, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")

    @property
    def n_shards(self) -> int:
        """``ceil(n_users / shard_users)``."""
        return -(-self.n_users // self.shard_users)

    def shard(self, index: int) -> Shard:
        """Shard ``index``; raises IndexError outside ``[0, n_shards)``."""
        if not 0 <= index < self.n_shards:
            raise IndexError(f"shard {index} outside [0, {self.n_shards})")
        first = index * self.shard_users
        return Shard(index, first, min(self.shard_users, self.n_users - first), self.seed)

    def __iter__(self) -> Iterator[Shard]:
        return (self.shard(s) for s in range(self.n_shards))

    def __len__(self) -> int:
        return self.n_shards


def sample_shard(generator: BaseGenerator, shard: Shard) -> InteractionData:
    """Draw the users of one shard with a fitted generator.

    Returns:
        `InteractionData` over the generator's item vocabulary with ``shard.n_users`` users whose
        external ids are ``syn-<first_user>`` … ``syn-<first_user + n_users − 1>``; equal to batch
        ``shard.index`` of ``generator.sample_batches(n, batch_users=shard_users, seed=shard.seed)``.

    Raises:
        NotFittedError: the generator is not fitted.
        ConfigError: ``generator`` is not a `BaseGenerator` (the per-batch sampling contract
            ``_sample_block(n_users, rng, first_user)`` is what makes shards independent of each other).
    """
    if not isinstance(generator, BaseGenerator):
        raise ConfigError(f"sharded generation needs a synthrec BaseGenerator, got {type(generator).__name__}")
    generator._require_fitted()
    rng = np.random.default_rng(shard.seed_sequence())
    # `_sample_block` is BaseGenerator's documented per-batch contract; `sample_batches` calls it the same way.
    return generator._sample_block(shard.n_users, rng, shard.first_user)
