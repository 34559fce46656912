"""The data protocol of one (dataset, split, seed) and of each scarcity level (see the vocabulary in
`synthrec.experiments.bench.config`).

Per (dataset, split, seed) — a *frame* — the users are split into source and target pool
(`split_users`, seed ``derive_seed(seed, "users")``), the target pool is split into train / test once,
and the evaluation set (test users, their histories, their held-out targets) is fixed. Per level, only
the training data changes: a nested random subset of the training users (their order is one seeded
permutation; fraction ``f`` keeps the first ``max(1, round_half_up(f·n))``), or every user capped to
their last ``c`` events — a seeded random ``c`` on a log without event times — (the evaluation histories
are capped the same way).

A dataset with an external ``source:`` (`synthrec.experiments.external`) puts every user in the target pool;
the frame's source is the external log translated onto the dataset's catalogue (None when the map leaves
nothing to use: `Frame.source_problem`), built once per dataset and process, and its ``mapped`` mask feeds
the ``mapped-items`` / ``target-only-items`` breakdowns.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from synthrec.data.interactions import ITEM, InteractionData
from synthrec.data.splits import Split, before_test_time, cap_history, make_split
from synthrec.experiments.bench.breakdowns import Groups, make_groups
from synthrec.experiments.bench.cells import Level
from synthrec.experiments.bench.config import (
    ORDERED_SPLITS,
    SPLIT_ALIASES,
    TIMED_SPLITS,
    BenchConfig,
    BenchDataset,
)
from synthrec.experiments.bench.datasets import load_bench_dataset
from synthrec.experiments.external import ExternalSource, prepare_external_source
from synthrec.experiments.protocol import source_and_target, validation_data
from synthrec.experiments.scoring import EvalSet, eval_set
from synthrec.experiments.strategies import derive_seed


class Unavailable(Exception):
    """A cell cannot be measured for a reason that is not an error (e.g. a temporal split of a log
    without timestamps); its cells are recorded as skipped with this message."""


@dataclass(frozen=True)
class Frame:
    """Everything fixed per (dataset, split, seed).

    Attributes:
        source: the source users (compacted; item vocabulary of the dataset); with an external source, its
            translated users, or None when it has no usable overlap (``source_problem`` says why).
        split: the target pool's split (pool users only; vocabularies of the dataset).
        user_order: int32 ``(n_train_users,)``: the training users in their seeded scarcity order.
        eval: the fixed evaluation set (uncapped histories).
        item_counts: int64 ``(n_items,)`` events per item in the full training part (head/tail).
        mapped: bool ``(n_items,)``: the items an external source's map reaches; None without one.
        source_problem: why an external source cannot be used, else None.
    """

    source: InteractionData | None
    split: Split
    user_order: np.ndarray
    eval: EvalSet
    item_counts: np.ndarray
    mapped: np.ndarray | None = None
    source_problem: str | None = None


@dataclass(frozen=True)
class LevelData:
    """The inputs of one (frame, level).

    Attributes:
        train: the real training data the recommender (and the ``self`` generator) may use, compacted.
        n_train_users: number of real target users in ``train``.
        eval: the evaluation set (histories capped at ``cap`` levels).
        groups: breakdown masks of ``eval`` (see `synthrec.experiments.bench.breakdowns`).
        validation: (inner training data, validation set) carved from ``train``; None when the training
            data is too small to hold a validation target (then defaults are used and ``auto`` keeps
            real-only; recorded in the cell's note).
    """

    train: InteractionData
    n_train_users: int
    eval: EvalSet
    groups: Groups
    validation: tuple[InteractionData, EvalSet] | None
    validation_note: str


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5 + 1e-9)


def split_unavailable(data: InteractionData, split: str) -> str | None:
    """Why ``split`` cannot run on ``data`` (the `Unavailable` message of `build_frame`), or None: a timed
    split on a log without timestamps, or a split that needs events in time order on a log with neither
    timestamps nor ``row_order_is_time``."""
    kind = SPLIT_ALIASES[split]
    if kind in TIMED_SPLITS and not data.has_timestamp:
        return f"skipped: unavailable (split {split!r} needs timestamps; {data.name} has none)"
    if kind in ORDERED_SPLITS and not (data.has_timestamp or data.row_order_is_time):
        return (f"skipped: unavailable (split {split!r} needs events in time order; {data.name} has no "
                "timestamps and does not declare row_order_is_time: use leave-one-out)")
    return None


def build_frame(data: InteractionData, split: str, seed: int, *, source_fraction: float,
                test_fraction: float, external: ExternalSource | None = None) -> Frame:
    """See the module docstring. With ``external`` (translated onto ``data``'s catalogue), every user of
    ``data`` is in the target pool and ``source_fraction`` is not used.

    Raises:
        Unavailable: a timed split on a log without timestamps.
        DataValidationError: the split leaves no test events.
    """
    kind = SPLIT_ALIASES[split]
    reason = split_unavailable(data, split)
    if reason is not None:
        raise Unavailable(reason)
    if external is not None:
        pool = data
    else:
        source, pool = source_and_target(data, source_fraction, seed)
    sp_ = make_split(pool, kind, test_fraction=test_fraction, seed=derive_seed(seed, "split"))
    es = eval_set(sp_)
    train_users = sp_.train.active_users()
    order = np.random.default_rng(derive_seed(seed, "scarcity")).permutation(train_users).astype(np.int32)
    counts = np.bincount(sp_.train.interactions[ITEM].to_numpy(), minlength=data.n_items).astype(np.int64)
    if external is not None:
        # No `before_test_time` guard: it keeps a same-log source out of the target's test period (the two
        # share one clock); an external source's events are another log's, on another clock (ml-latest-small,
        # 2018, as a source for ml-100k, 1998, would be emptied by a 1998 cut).
        return Frame(external.data, sp_, order, es, counts, external.mapped, external.problem)
    # Under a global time cut the source must end where the target's training ends (no test-period leak).
    return Frame(before_test_time(source, sp_).compact_users(), sp_, order, es, counts)


@functools.lru_cache(maxsize=4)
def _external_cached(ds_json: str) -> ExternalSource:
    ds = BenchDataset.model_validate(json.loads(ds_json))
    assert ds.source is not None
    return prepare_external_source(ds.source, load_bench_dataset(ds))


def external_source(ds: BenchDataset) -> ExternalSource | None:
    """The dataset's external source translated onto its catalogue (built once per dataset and process;
    paths are absolute after `synthrec.experiments.bench.config.resolve_paths`), or None without one.

    Raises:
        DataValidationError / ConfigError: the source cannot be read or its map cannot be built.
    """
    return _external_cached(ds.model_dump_json()) if ds.source is not None else None


@functools.lru_cache(maxsize=8)
def _frame_cached(ds_json: str, split: str, seed: int, source_fraction: float, test_fraction: float) -> Frame:
    ds = BenchDataset.model_validate(json.loads(ds_json))
    data = load_bench_dataset(ds)
    return build_frame(data, split, seed, source_fraction=source_fraction, test_fraction=test_fraction,
                       external=external_source(ds))


def get_frame(cfg: BenchConfig, ds: BenchDataset, split: str, seed: int) -> Frame:
    """`build_frame` for a dataset of ``cfg``, cached per process."""
    return _frame_cached(ds.model_dump_json(), split, seed, cfg.source_fraction, cfg.test_fraction)


def level_data(cfg: BenchConfig, frame: Frame, split: str, level: Level, seed: int) -> LevelData:
    """The training data, evaluation set and validation split of one level (see the module docstring)."""
    n_keep = max(1, _round_half_up(level.users * frame.user_order.shape[0]))
    train = frame.split.train
    es = frame.eval
    if level.cap is not None:
        # "Latest c events" where time order is known; otherwise a seeded random c (never "the last rows").
        # The training users and the test users' histories are cut by one draw, so they agree.
        keep: Literal["last", "random"] = "last" if (train.has_timestamp or train.row_order_is_time) else "random"
        train = cap_history(train, level.cap, keep=keep, seed=derive_seed(seed, "cap"))
        hist_src = frame.split.test_history
        capped = train if hist_src is None else cap_history(hist_src, level.cap, keep=keep,
                                                              seed=derive_seed(seed, "cap-history"))
        es = EvalSet(es.users, capped.to_csr()[es.users], es.targets)
    kept = train.filter_users(frame.user_order[:n_keep], name=f"{frame.split.train.name}/{level.label}")
    groups = make_groups(es.histories, frame.item_counts, cold_max_history=cfg.breakdowns.cold_max_history,
                         head_share=cfg.breakdowns.head_share, mapped=frame.mapped)
    validation, note = validation_data(kept, SPLIT_ALIASES[split], seed=seed, test_fraction=cfg.test_fraction)
    return LevelData(kept.compact_users(), n_keep, es, groups, validation, note)
