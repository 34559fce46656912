"""Synthetic pools, shared by `synthrec run` and `synthrec bench`: fit a generator and draw the largest
pool any arm needs (arms take nested prefixes of it, `synthrec.experiments.strategies.SyntheticPool`).

**Seeds.** A pool's generator is built with ``derive_seed(seed, "fit", *purpose)`` and sampled with
``derive_seed(seed, "sample", *purpose)``; ``purpose`` (`pool_purpose`) names what the pool is for: a
generator fitted on the target's training data (``self``, and the bench's own-generator sources) is keyed
by ``(dataset, split, level, source)``, one fitted on the source users by ``(dataset, source)`` (plus the
split kind under a global time cut, where the source ends at the cut); a validation pool appends
``"validation"``. A `synthrec run` seed uses the coordinates of the bench cell it equals (`synthrec.
experiments.protocol`), so the two draw the same pools.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from synthrec.data.atomic import atomic_write
from synthrec.data.interactions import InteractionData
from synthrec.experiments.arms import max_ratio
from synthrec.experiments.strategies import SyntheticPool, derive_seed
from synthrec.generators.base import BaseGenerator
from synthrec.generators.registry import make_generator

__all__ = ["GeneratorSpecLike", "cached_pool", "draw_pool", "fit_generator", "fit_pool", "max_ratio",
           "pool_purpose"]


class GeneratorSpecLike(Protocol):
    """A registered generator's name and constructor parameters (`synthrec.config.ComponentConfig`,
    `synthrec.experiments.bench.config.GeneratorSpec`)."""

    @property
    def name(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Any]: ...


def pool_purpose(source: str, *, dataset: str, split: str, level: str, split_kind: str,
                 fitted_on_target: bool) -> tuple[str, ...]:
    """The purpose strings of a pool's seeds (see the module docstring).

    Args:
        source: the source's label (``self``, ``source``, ``source-dp(eps=1)``, ``simulator``...).
        dataset, split, level: the cell's dataset name, split name and scarcity level label.
        split_kind: the `synthrec.data.splits.make_split` kind of ``split``.
        fitted_on_target: the generator is fitted on the target's training data (else on the source users,
            which depend neither on the level nor, except under a global time cut, on the split).
    """
    if fitted_on_target:
        return (dataset, split, level, source)
    return (dataset, source) if split_kind != "temporal-global" else (dataset, source, split_kind)


def fit_generator(spec: GeneratorSpecLike, fit_data: InteractionData, *, seed: int, purpose: tuple[str, ...],
                  epsilon: float | None = None) -> BaseGenerator:
    """Build ``spec``'s generator (``epsilon=`` added when given) seeded ``derive_seed(seed, "fit",
    *purpose)`` and fit it on ``fit_data``."""
    params = dict(spec.params)
    if epsilon is not None:
        params["epsilon"] = epsilon
    gen = make_generator(spec.name, seed=derive_seed(seed, "fit", *purpose), **params)
    gen.fit(fit_data)
    return gen


def draw_pool(gen: BaseGenerator, fit_data: InteractionData, *, seed: int, purpose: tuple[str, ...],
              max_ratio: float) -> SyntheticPool:
    """``round(max_ratio × active users of fit_data)`` synthetic users (at least 1) of a fitted generator,
    sampled with ``derive_seed(seed, "sample", *purpose)``."""
    base = max(1, len(fit_data.active_users()))
    n = max(1, round(max_ratio * base))
    return SyntheticPool(gen.sample(n, seed=derive_seed(seed, "sample", *purpose)), base)


def fit_pool(spec: GeneratorSpecLike, fit_data: InteractionData, *, seed: int, purpose: tuple[str, ...],
             max_ratio: float, epsilon: float | None = None, cache_dir: Path | None = None,
             cache_key: Mapping[str, Any] | None = None) -> SyntheticPool:
    """Fit the generator on ``fit_data`` and draw the largest pool any arm needs (`fit_generator`, then
    `draw_pool`). With ``cache_dir`` and ``cache_key``, the pool is read from / stored in the cache
    (`cached_pool`)."""
    def make() -> SyntheticPool:
        gen = fit_generator(spec, fit_data, seed=seed, purpose=purpose, epsilon=epsilon)
        return draw_pool(gen, fit_data, seed=seed, purpose=purpose, max_ratio=max_ratio)

    if cache_dir is None or cache_key is None:
        return make()
    return cached_pool(cache_dir, cache_key, make)


def cached_pool(cache_dir: Path | None, key: Mapping[str, Any], make: Callable[[], SyntheticPool]) -> SyntheticPool:
    """A pool from ``cache_dir`` (pickle named by the hash of ``key``), made and stored when absent; without
    a cache folder, ``make()``. A damaged cache entry is rebuilt."""
    if cache_dir is None:
        return make()
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = cache_dir / f"pool-{digest}.pkl"
    if path.is_file():
        try:
            with path.open("rb") as fh:
                pool = pickle.load(fh)
            if isinstance(pool, SyntheticPool):
                return pool
        except Exception:  # a damaged cache entry is rebuilt
            pass
    pool = make()
    atomic_write(path, lambda tmp: tmp.write_bytes(pickle.dumps(pool, protocol=pickle.HIGHEST_PROTOCOL)))
    return pool
