"""Train/test splits and scarcity subsampling of an `InteractionData`.

Every function here keeps the user and item vocabularies unchanged, so ``train.to_csr()`` and
``test.to_csr()`` have the same shape ``(n_users, n_items)`` and row ``u`` / column ``i`` mean the same
user / item in both. Rows keep the source's order inside each part.

**Time order.** Within a user, events are ordered by ``timestamp`` (seconds); ties in time are broken by a
seeded random key (the split's ``seed``), never by item id or by file order alone: a log sorted by (user,
item) would otherwise hold out the largest tied item id every time, and relabelling items cannot change a
split (PITFALLS P1). ``Split.stats["users_tied_at_split"]`` counts the users whose split point fell inside
a tie. Without a ``timestamp`` column, row order stands for time order only when the log declares it
(``InteractionData.row_order_is_time``, e.g. sequence files); otherwise every time-ordered split raises,
and ``leave-one-out`` (random) is the split to use.

**Repeated (user, item) pairs are held out as items, not rows.** Every per-user split decides on each
user's *distinct items* (ordered by the time the user first met them) and sends every event of a held-out
pair to test. Holding out one event of a repeated pair would leave the same item in the user's history,
where `recommend` excludes it as seen: the target could never be hit (on a public app log 63 % of
leave-one-out targets were unreachable that way). ``temporal-global`` keeps its one cut and drops the test
events of pairs already seen before it. `Split.stats` counts the rows this touched.

Split kinds (the names used by `make_split` and the config):

================  ===================  ==========================================================
kind              function             what goes to test
================  ===================  ==========================================================
leave-last-out    `leave_last_out`     each user's last ``n`` items (per user)
leave-one-out     `leave_one_out`      ``n`` random items of each user (logs without event times)
temporal-user     `temporal_fraction`  the last ``test_fraction`` of *each user's* items (per user)
temporal-global   `global_time_cut`    every event at or after *one global* cut time (new items only)
user-holdout      `user_holdout`       whole held-out users (strong generalisation)
random            `random_split`       a uniformly random ``test_fraction`` of all (user, item) pairs
================  ===================  ==========================================================

**How evaluation uses a split** (see `Split.evaluation_inputs`):

* leave-last-out, leave-one-out, temporal-user, temporal-global, random: the recommender is fitted on ``train``; for the
  users with test events, the histories it is given are their rows of ``train.to_csr()`` and the targets
  are their rows of ``test.to_csr()``. (Under ``temporal-global`` some test users may have no train
  events: they are cold users with empty histories.)
* user-holdout: the recommender is fitted on ``train`` (which holds none of the held-out users); the
  histories are the rows of ``test_history.to_csr()`` (the fold-in part of each held-out user) and the
  targets are the rows of ``test.to_csr()``.

Every random step takes an explicit ``seed`` and uses ``numpy.random.default_rng(seed)``: the same seed on
the same data always gives the same output.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import polars as pl
import scipy.sparse as sp

from synthrec.data.interactions import ITEM, TIMESTAMP, USER, CsrValue, InteractionData
from synthrec.errors import ConfigError, DataValidationError

__all__ = [
    "SPLIT_KINDS",
    "Split",
    "before_test_time",
    "cap_history",
    "carve_validation",
    "global_time_cut",
    "leave_last_out",
    "leave_one_out",
    "make_split",
    "random_split",
    "split_users",
    "subsample_users",
    "temporal_fraction",
    "user_holdout",
]

#: Split kind names accepted by `make_split` / `carve_validation`.
SPLIT_KINDS: tuple[str, ...] = ("leave-last-out", "leave-one-out", "temporal-user", "temporal-global",
                                 "user-holdout", "random")

#: Stream tag mixed with a split's seed for the tie-breaking key, so it is independent of the other
#: random draws made with the same seed.
_TIE_STREAM = 0x7E5


@dataclass(frozen=True)
class Split:
    """The result of a split; all parts share the vocabularies of the input data.

    Attributes:
        train: events the recommender / generator may be fitted on.
        test: held-out target events (never shown to a model).
        kind: one of `SPLIT_KINDS`.
        description: one human-readable line with the parameters and the resulting sizes.
        test_history: only for ``user-holdout``: the fold-in events of the held-out users, i.e. the
            history the recommender sees for them at evaluation time. ``None`` for the other kinds, where
            the histories are the test users' rows of ``train``.
        params: the split function's parameters (seed included where the kind is random or breaks
            ties), so `carve_validation` can repeat the same split on ``train``.
        stats: what the split did about repeats and ties, for reports: ``repeat_rows`` (rows repeating
            an earlier event's (user, item) pair), ``repeat_rows_held_out`` (of those, rows that went to
            test with their held-out item), ``users_tied_at_split`` (time-ordered kinds: users whose last
            kept and first held-out events share one time, so a seeded random key chose), and
            ``repeat_targets_dropped`` (``temporal-global``: test rows dropped because the item was
            already in the user's train events), and ``cut_time`` (``temporal-global``: the cut, in the
            units of the time column).
    """

    train: InteractionData
    test: InteractionData
    kind: str
    description: str
    test_history: InteractionData | None = None
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    stats: Mapping[str, int] = field(default_factory=dict, hash=False)

    def test_users(self) -> np.ndarray:
        """Sorted dense ids (int32) of the users that have at least one test event."""
        return self.test.active_users()

    def evaluation_inputs(
        self, target_value: CsrValue = "binary"
    ) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
        """What a ranking evaluation needs: ``(users, histories, targets)``.

        Args:
            target_value: how target events become relevance (``"binary"``, ``"count"`` or ``"rating"``,
                see `InteractionData.to_csr`); graded values feed graded NDCG.

        Returns:
            users: int32 array ``(n_eval,)``, sorted dense ids of users with test events.
            histories: float32 CSR ``(n_eval, n_items)``, binary: the users' rows of ``test_history``
                (user-holdout) or of ``train`` (every other kind).
            targets: float32 CSR ``(n_eval, n_items)``: the users' rows of ``test``.
        """
        users = self.test_users()
        source = self.test_history if self.test_history is not None else self.train
        histories = source.to_csr()[users]
        targets = self.test.to_csr(target_value)[users]
        return users, histories, targets


# ---------------------------------------------------------------------------------------------- helpers


def _check_nonempty(data: InteractionData, what: str) -> None:
    if data.n_interactions == 0:
        raise DataValidationError(f"cannot {what}: the log has no interactions", source=data.name,
                                  hint="load a non-empty log")


def _check_fraction(value: float, name: str, *, closed: bool = False) -> float:
    numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = numeric and bool(np.isfinite(value)) and (0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0)
    if not ok:
        interval = "[0, 1]" if closed else "(0, 1)"
        raise ConfigError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def _check_seed(seed: int | None, fn: str) -> int:
    if seed is None:
        raise ConfigError(f"{fn} is random: pass an explicit integer seed=...")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"{fn}: seed must be an integer, got {seed!r}")
    return int(seed)


def _times(data: InteractionData) -> np.ndarray:
    """Event times as int64 ``(n,)``: the timestamp column, or the row index of a log whose row order is
    declared to be time order (``row_order_is_time``).

    Raises:
        DataValidationError: a timestamp is missing, or the log has neither timestamps nor a declared row
            order. Taking row order as time order silently is how a benchmark goes wrong: MovieLens-1M's
            ``ratings.dat`` lists each user's ratings in no time order (one film is the "last" row of 19 %
            of users), so leave-last-out holds out that film and starves the training data of it.
    """
    df = data.interactions
    if not data.has_timestamp:
        if not data.row_order_is_time:
            raise DataValidationError(
                "a time-ordered split (leave-last-out, temporal, or a history cap keeping the first/last "
                "events) needs event times: this log has no time column and does not say its rows are in "
                "time order, so its 'last' rows may be any events",
                source=data.name,
                hint="hold out random events instead: `split: {kind: leave-one-out}` in a run config "
                     "(`splits: [leave-one-out]` for a bench dataset; make_split(data, 'leave-one-out', seed=...) "
                     "in Python); or, if each user's rows really are listed oldest first, say so: "
                     "`data: {row_order_is_time: true}` (InteractionData.from_frame(..., row_order_is_time=True))",
            )
        return np.arange(df.height, dtype=np.int64)
    ts = df[TIMESTAMP]
    if ts.null_count():
        row = int(ts.is_null().arg_true()[0]) + 1
        raise DataValidationError(
            f"{ts.null_count()} missing timestamp(s); a time-ordered split needs every event's time",
            source=data.name, column=TIMESTAMP, row=row,
            hint="drop those rows, or drop the timestamp column to use row order as time order",
        )
    return ts.to_numpy().astype(np.int64, copy=False)


def _tie_keys(n: int, seed: int) -> np.ndarray:
    """Per row, a seeded uniform key that orders events tied in time.

    A row's key comes from its position in the file, so one fixed file always splits the same way under one
    seed, while shuffling the rows of the file changes only which of the tied events is drawn: the
    *distribution* of the held-out event over seeds does not depend on row order or on item ids. (Breaking
    ties by file order instead made every tied "last" event the largest item id in a log sorted by
    (user, item).)"""
    return np.random.default_rng((int(seed), _TIE_STREAM)).random(n)


@dataclass(frozen=True)
class _Pairs:
    """The (user, item) pairs of a log: each user's distinct items.

    Attributes:
        rows: int64 ``(n_pairs,)`` source row of each pair's first event (in time order where the log has
            times, ties broken by the seeded key), ascending, so the reduced log keeps source order.
        of_row: int64 ``(n_rows,)``: for each row, the index into ``rows`` of its pair.
    """

    rows: np.ndarray
    of_row: np.ndarray

    @property
    def n_repeat_rows(self) -> int:
        """Rows that repeat an earlier event's (user, item) pair."""
        return int(self.of_row.shape[0] - self.rows.shape[0])


def _pairs(data: InteractionData, t: np.ndarray | None, key: np.ndarray) -> _Pairs:
    """Group the rows of ``data`` by (user, item); ``t`` (times) decides which event of a pair is first."""
    df = data.interactions
    n = df.height
    pair = df[USER].to_numpy().astype(np.int64) * max(data.n_items, 1) + df[ITEM].to_numpy().astype(np.int64)
    order = np.lexsort((key, pair) if t is None else (key, t, pair))
    sorted_pair = pair[order]
    is_start = np.r_[True, sorted_pair[1:] != sorted_pair[:-1]] if n else np.zeros(0, dtype=bool)
    group_sorted = np.cumsum(is_start) - 1
    first = order[is_start]  # first row of each group, groups in pair order
    rank = np.argsort(first, kind="stable")  # groups re-numbered by their first row
    new_index = np.empty_like(rank)
    new_index[rank] = np.arange(rank.shape[0])
    of_row = np.empty(n, dtype=np.int64)
    of_row[order] = new_index[group_sorted]
    return _Pairs(first[rank].astype(np.int64), of_row)


@dataclass(frozen=True)
class _PairView:
    """A log reduced to one row per (user, item) pair, with what the per-user splits need.

    Splits decide on pairs and then send every row of a pair to the same side: a user's repeated item is
    held out *whole*, so a held-out item never stays in that user's history (where `recommend` would
    exclude it as seen, making the target unreachable).
    """

    users: np.ndarray  # int64 (n_pairs,): the user of each pair, pairs in the source order of first events
    times: np.ndarray | None  # int64 (n_pairs,): first-event times (row index without timestamps)
    keys: np.ndarray  # float64 (n_pairs,): seeded tie keys of the first events
    pairs: _Pairs

    def rows_mask(self, pair_mask: np.ndarray) -> np.ndarray:
        """A mask over the source rows from a mask over pairs."""
        return pair_mask[self.pairs.of_row]


def _pair_view(data: InteractionData, seed: int, *, timed: bool) -> _PairView:
    """Reduce ``data`` to its (user, item) pairs; ``timed`` reads event times (raising as `_times` does)."""
    n = data.n_interactions
    t = _times(data) if timed else None
    key = _tie_keys(n, seed)
    pairs = _pairs(data, t, key)
    rows = pairs.rows  # all rows, in order, when no pair repeats
    users = data.interactions[USER].to_numpy().astype(np.int64)[rows]
    return _PairView(users, None if t is None else t[rows], key[rows], pairs)


def _positions(users: np.ndarray, t: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: 0-based position of the event in its user's time order, and the user's event count.

    Time order is ``t``, with ties broken by the seeded ``key`` (never by item id or file order)."""
    n = users.shape[0]
    order = np.lexsort((key, t, users))  # primary user, then time, then the seeded tie key
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]]) if n else np.zeros(0, np.int64)
    counts_sorted = np.diff(np.r_[starts, n])
    group = np.repeat(np.arange(starts.shape[0]), counts_sorted)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n) - starts[group]
    cnt = np.empty(n, dtype=np.int64)
    cnt[order] = counts_sorted[group]
    return pos, cnt


def _users_tied_at_cut(users: np.ndarray, t: np.ndarray, test: np.ndarray) -> int:
    """Users whose latest kept event and earliest held-out event share one time: which of them was held
    out was decided by the seeded tie key, not by time."""
    if not test.any() or test.all():
        return 0
    n_users = int(users.max()) + 1
    kept_max = np.full(n_users, np.iinfo(np.int64).min)
    np.maximum.at(kept_max, users[~test], t[~test])
    held_min = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(held_min, users[test], t[test])
    return int((kept_max == held_min).sum())


def _stats(view: _PairView, pair_test: np.ndarray, *, tied: int | None) -> dict[str, int]:
    """What a split reports about repeats and ties (see `Split.stats`)."""
    repeat_rows = view.pairs.n_repeat_rows
    moved = int(view.rows_mask(pair_test).sum() - pair_test.sum()) if repeat_rows else 0
    out = {"repeat_rows": repeat_rows, "repeat_rows_held_out": moved}
    if tied is not None:
        out["users_tied_at_split"] = tied
    return out


def _stats_text(stats: Mapping[str, int]) -> str:
    parts = []
    if stats.get("repeat_rows"):
        moved = stats.get("repeat_rows_held_out")
        parts.append(f"{stats['repeat_rows']} rows repeat a (user, item) pair"
                     + ("" if moved is None else f"; {moved} of them went to test with their held-out item"))
    if stats.get("users_tied_at_split"):
        parts.append(f"{stats['users_tied_at_split']} users tied in time at their split point "
                     "(broken by a seeded random key)")
    if stats.get("repeat_targets_dropped"):
        parts.append(f"{stats['repeat_targets_dropped']} test rows dropped: the user's item was already in train")
    return "; " + "; ".join(parts) if parts else ""


def _random_ranks(users: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: a uniformly random rank ``0 .. c-1`` among its user's ``c`` rows (a seeded random order
    of each user's events), and ``c``."""
    users = users.astype(np.int64, copy=False)
    key = np.random.default_rng(seed).random((users.shape[0],))
    return _positions(users, np.zeros(users.shape[0], dtype=np.int64), key)


def _parts(data: InteractionData, test_mask: np.ndarray, suffix: tuple[str, str] = ("train", "test"),
           drop: np.ndarray | None = None) -> tuple[InteractionData, InteractionData]:
    """``(train, test)`` by a row mask; rows marked in ``drop`` go to neither side."""
    df = data.interactions
    keep_train = ~test_mask if drop is None else ~test_mask & ~drop
    keep_test = test_mask if drop is None else test_mask & ~drop
    return (data.with_interactions(df.filter(pl.Series(keep_train)), name=f"{data.name}/{suffix[0]}"),
            data.with_interactions(df.filter(pl.Series(keep_test)), name=f"{data.name}/{suffix[1]}"))


def _n_users(df: pl.DataFrame) -> int:
    return int(df[USER].n_unique()) if df.height else 0


def _round_half_up(x: np.ndarray | float) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5 + 1e-9).astype(np.int64)


def _check_n(n: int, fn: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"{fn}: n must be an integer >= 1, got {n!r}")
    return int(n)


# ---------------------------------------------------------------------------------------------- splits


def leave_last_out(data: InteractionData, n: int = 1, *, seed: int = 0) -> Split:
    """Leave-last-out (per user): each user's last ``n`` *items* in time order go to test.

    Decided on each user's distinct items, ordered by the time the user first met them: every event of a
    held-out (user, item) pair goes to test, so the target is never left in the user's history (a repeated
    pair would otherwise make it unreachable: `recommend` excludes seen items). Time order is
    ``timestamp``, ties broken by a seeded random key (`Split.stats` counts the users tied at their split
    point); without a timestamp column, row order where the log declares it time order. Users with ``n``
    distinct items or fewer stay wholly in train (no target, so not evaluated).

    Args:
        data: the log; any columns.
        n: items held out per user, ``n >= 1``.
        seed: seed of the tie-breaking key (events tied in time); the default suits logs without ties.

    Returns:
        `Split` of kind ``"leave-last-out"`` (``test_history`` is None).

    Raises:
        ConfigError: ``n`` is not a positive integer.
        DataValidationError: the log is empty, a timestamp is missing, or the log has neither timestamps
            nor a declared row order.
    """
    n = _check_n(n, "leave_last_out")
    s = _check_seed(seed, "leave_last_out")
    _check_nonempty(data, "split")
    view = _pair_view(data, s, timed=True)
    assert view.times is not None
    pos, cnt = _positions(view.users, view.times, view.keys)
    pair_test = (cnt > n) & (pos >= cnt - n)
    stats = _stats(view, pair_test, tied=_users_tied_at_cut(view.users, view.times, pair_test))
    train, test = _parts(data, view.rows_mask(pair_test))
    kept = _n_users(data.interactions) - _n_users(test.interactions)
    desc = (f"leave-last-out n={n}: {test.n_interactions} test events of {_n_users(test.interactions)} users; "
            f"{kept} users with <= {n} items kept wholly in train{_stats_text(stats)}")
    return Split(train, test, "leave-last-out", desc, params={"n": n, "seed": s}, stats=stats)


def leave_one_out(data: InteractionData, n: int = 1, *, seed: int) -> Split:
    """Leave-one-out (random): ``n`` of each user's distinct items, drawn uniformly at random, go to test.

    The split for logs without event times (the time-free counterpart of `leave_last_out`, as used e.g.
    by He et al. 2017, NCF, when no time is known). Every event of a held-out (user, item) pair goes to
    test (see `leave_last_out`). Users with ``n`` distinct items or fewer stay wholly in train.

    Args:
        data: the log; any columns.
        n: items held out per user, ``n >= 1``.
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        `Split` of kind ``"leave-one-out"``.

    Raises:
        ConfigError: ``n`` is not a positive integer, or the seed is missing.
        DataValidationError: the log is empty.
    """
    n = _check_n(n, "leave_one_out")
    s = _check_seed(seed, "leave_one_out")
    _check_nonempty(data, "split")
    view = _pair_view(data, s, timed=False)
    rank, cnt = _random_ranks(view.users, s)
    pair_test = (cnt > n) & (rank < n)
    stats = _stats(view, pair_test, tied=None)
    train, test = _parts(data, view.rows_mask(pair_test))
    kept = _n_users(data.interactions) - _n_users(test.interactions)
    desc = (f"leave-one-out (random) n={n} seed={s}: {test.n_interactions} test events of "
            f"{_n_users(test.interactions)} users; {kept} users with <= {n} items kept wholly in train"
            f"{_stats_text(stats)}")
    return Split(train, test, "leave-one-out", desc, params={"n": n, "seed": s}, stats=stats)


def temporal_fraction(data: InteractionData, test_fraction: float = 0.2, *, seed: int = 0) -> Split:
    """Per-user temporal split: the last ``test_fraction`` of *each user's* items (time order) → test.

    This is the **per-user** temporal split: each user's own timeline is cut, at a different time for
    each user (train and test times overlap across users). For one cut time shared by everyone, use
    `global_time_cut`.

    A user with ``c`` distinct items sends the ``min(c - 1, round_half_up(test_fraction * c))`` items
    met latest to test, with every event of those (user, item) pairs (see `leave_last_out`), so at least
    one item always stays in train. Time order is ``timestamp`` with ties broken by a seeded random key;
    without timestamps, row order where the log declares it time order.

    Args:
        data: the log.
        test_fraction: in (0, 1).
        seed: seed of the tie-breaking key.

    Returns:
        `Split` of kind ``"temporal-user"``.

    Raises:
        ConfigError: ``test_fraction`` outside (0, 1).
        DataValidationError: the log is empty, or a timestamp is missing.
    """
    f = _check_fraction(test_fraction, "test_fraction")
    s = _check_seed(seed, "temporal_fraction")
    _check_nonempty(data, "split")
    view = _pair_view(data, s, timed=True)
    assert view.times is not None
    pos, cnt = _positions(view.users, view.times, view.keys)
    n_test = np.minimum(cnt - 1, _round_half_up(f * cnt))
    pair_test = pos >= cnt - n_test
    stats = _stats(view, pair_test, tied=_users_tied_at_cut(view.users, view.times, pair_test))
    train, test = _parts(data, view.rows_mask(pair_test))
    desc = (f"temporal-user (per-user cut) test_fraction={f:g}: {test.n_interactions} of "
            f"{data.n_interactions} events to test from {_n_users(test.interactions)} users{_stats_text(stats)}")
    return Split(train, test, "temporal-user", desc, params={"test_fraction": f, "seed": s}, stats=stats)


def global_time_cut(data: InteractionData, test_fraction: float | None = 0.2, *, cut: int | None = None
                    ) -> Split:
    """Global temporal split: every event at or after **one cut time shared by all users** → test.

    This is the **global** temporal split (no information from the future leaks into train:
    ``max(train time) < min(test time)``). Users whose whole history is before the cut are train-only;
    users whose whole history is after it appear only in test (cold users with empty histories — the
    evaluation counts them). For per-user cuts, use `temporal_fraction`.

    **Repeats.** An event after the cut whose (user, item) pair already has an event before it is a repeat
    of an item in the user's training history: `recommend` excludes seen items, so it could never be hit.
    Such rows are dropped from test (and, being after the cut, are not in train either);
    ``Split.stats["repeat_targets_dropped"]`` counts them.

    The cut is either given (``cut``, in the units of the timestamp column: seconds) or chosen from
    ``test_fraction``: with the ``N`` events sorted by time (stable), ``cut`` is the time of the event at
    0-based position ``N - round_half_up(test_fraction * N)``. All events tied at the cut time go to test,
    so the test share can exceed ``test_fraction`` when many events share that second. Without a
    timestamp column, the row index serves as time (``cut`` is then a 0-based row number).

    Args:
        data: the log.
        test_fraction: in (0, 1); ignored when ``cut`` is given.
        cut: explicit cut time (events with ``time >= cut`` are test).

    Returns:
        `Split` of kind ``"temporal-global"``; its description holds the cut time.

    Raises:
        ConfigError: bad ``test_fraction``, or neither it nor ``cut`` given.
        DataValidationError: the log is empty, a timestamp is missing, or the cut leaves train or test
            empty (e.g. all events share one time).
    """
    _check_nonempty(data, "split")
    t = _times(data)
    if cut is None:
        if test_fraction is None:
            raise ConfigError("global_time_cut needs test_fraction or cut")
        f = _check_fraction(test_fraction, "test_fraction")
        n = t.shape[0]
        n_test = int(np.clip(_round_half_up(f * n), 1, n))
        cut_value = int(np.sort(t, kind="stable")[n - n_test])
        how = f"test_fraction={f:g}"
    else:
        cut_value = int(cut)
        how = "explicit cut"
    test_mask = t >= cut_value
    n_test_events = int(test_mask.sum())
    if n_test_events == 0 or n_test_events == t.shape[0]:
        side = "test" if n_test_events == 0 else "train"
        raise DataValidationError(
            f"the global time cut at {cut_value} leaves {side} empty "
            f"(times range over [{int(t.min())}, {int(t.max())}])",
            source=data.name, column=TIMESTAMP if data.has_timestamp else None,
            hint="choose a cut inside the time range, or a per-user split (temporal-user, leave-last-out)",
        )
    pairs = _pairs(data, t, np.zeros(t.shape[0]))
    pair_in_train = np.zeros(pairs.rows.shape[0], dtype=bool)
    pair_in_train[pairs.of_row[~test_mask]] = True
    repeat_target = test_mask & pair_in_train[pairs.of_row]
    train, test = _parts(data, test_mask, drop=repeat_target)
    if test.n_interactions == 0:
        raise DataValidationError(
            f"the global time cut at {cut_value} leaves test empty: every event after it repeats an item the "
            "same user had before it (a seen item cannot be recommended, so it is no target)",
            source=data.name, column=TIMESTAMP if data.has_timestamp else None,
            hint="choose an earlier cut (a larger test_fraction), or a per-user split (leave-last-out)",
        )
    stats = {"repeat_rows": pairs.n_repeat_rows, "repeat_targets_dropped": int(repeat_target.sum()),
             "cut_time": cut_value}
    te_users = test.active_users()
    cold = int((~np.isin(te_users, train.active_users())).sum())
    unit = "s" if data.has_timestamp else " (row index)"
    desc = (f"temporal-global (one global cut) {how}: cut={cut_value}{unit}; {test.n_interactions} of "
            f"{t.shape[0]} events to test; {te_users.shape[0]} test users, of whom {cold} have no train "
            f"events (cold){_stats_text(stats)}")
    params: dict[str, Any] = {"cut": cut_value} if cut is not None else {"test_fraction": test_fraction}
    return Split(train, test, "temporal-global", desc, params=params, stats=stats)


def user_holdout(data: InteractionData, test_fraction: float = 0.2, fold_in_fraction: float = 0.8, *,
                 seed: int) -> Split:
    """Strong generalisation: hold out whole users (Marlin 2004; Liang et al. 2018, Mult-VAE protocol).

    Held-out users are drawn uniformly without replacement among users with **at least 2 distinct items**
    (a user with one item cannot have both a history and a target); ``round_half_up(test_fraction *
    n_eligible)`` of them, clamped to ``[1, n_eligible]``. ``train`` holds every event of the other users.
    For each held-out user with ``c`` distinct items, the ``clip(round_half_up(fold_in_fraction * c), 1,
    c - 1)`` items met first (time order, ties broken by a seeded key; row order where the log declares it
    time order) form
    ``test_history`` (shown to the recommender) with all their events, and the other items' events form
    ``test`` (targets): an item is never on both sides. Liang et al. draw the fold-in events at random;
    here they are the earliest ones, so no future event is shown to the model.

    Args:
        data: the log.
        test_fraction: share of eligible users held out, in (0, 1).
        fold_in_fraction: share of each held-out user's items given as history, in (0, 1).
        seed: seed of ``numpy.random.default_rng`` for the choice of users (and of the tie key).

    Returns:
        `Split` of kind ``"user-holdout"`` with ``test_history`` set.

    Raises:
        ConfigError: a fraction outside (0, 1) or a missing seed.
        DataValidationError: the log is empty, or no user has 2 items, or holding out would leave train
            empty.
    """
    f = _check_fraction(test_fraction, "test_fraction")
    fi = _check_fraction(fold_in_fraction, "fold_in_fraction")
    s = _check_seed(seed, "user_holdout")
    _check_nonempty(data, "split")
    view = _pair_view(data, s, timed=False)  # times are read after the users are chosen (clearer errors)
    counts = np.bincount(view.users, minlength=data.n_users)
    eligible = np.flatnonzero(counts >= 2)
    if eligible.shape[0] == 0:
        raise DataValidationError("user_holdout needs users with at least 2 distinct items; none has",
                                  source=data.name, column=USER, hint="use a per-interaction split")
    n_hold = int(np.clip(_round_half_up(f * eligible.shape[0]), 1, eligible.shape[0]))
    rng = np.random.default_rng(s)
    held = np.sort(rng.choice(eligible, size=n_hold, replace=False))
    is_held = np.zeros(data.n_users, dtype=bool)
    is_held[held] = True
    users = data.interactions[USER].to_numpy()
    row_held = is_held[users]
    if row_held.all():
        raise DataValidationError(
            f"holding out {n_hold} users leaves no training users", source=data.name,
            hint="lower test_fraction",
        )
    view = _pair_view(data, s, timed=True)  # the fold-in part is each user's earliest items
    assert view.times is not None
    pos, cnt = _positions(view.users, view.times, view.keys)
    n_hist = np.clip(_round_half_up(fi * cnt), 1, np.maximum(cnt - 1, 1))
    pair_held = is_held[view.users]
    pair_target = pair_held & (pos >= n_hist)
    tied = _users_tied_at_cut(view.users[pair_held], view.times[pair_held], pair_target[pair_held])
    stats = _stats(view, pair_target, tied=tied)
    target = view.rows_mask(pair_target)
    history = row_held & ~target
    df = data.interactions
    train = data.with_interactions(df.filter(pl.Series(~row_held)), name=f"{data.name}/train")
    test = data.with_interactions(df.filter(pl.Series(target)), name=f"{data.name}/test")
    hist = data.with_interactions(df.filter(pl.Series(history)), name=f"{data.name}/test-history")
    desc = (f"user-holdout (strong generalisation) test_fraction={f:g} fold_in_fraction={fi:g} seed={s}: "
            f"{n_hold} of {eligible.shape[0]} users with >= 2 items held out; "
            f"{hist.n_interactions} fold-in events, {test.n_interactions} target events{_stats_text(stats)}")
    return Split(train, test, "user-holdout", desc, test_history=hist,
                 params={"test_fraction": f, "fold_in_fraction": fi, "seed": s}, stats=stats)


def random_split(data: InteractionData, test_fraction: float = 0.2, *, seed: int) -> Split:
    """Random split of (user, item) pairs: exactly ``round_half_up(test_fraction * P)`` of the ``P``
    distinct pairs, drawn uniformly without replacement, go to test with all their events (ignores time).

    On a log without repeated pairs this is the usual per-interaction random split.

    Args:
        data: the log.
        test_fraction: in (0, 1).
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        `Split` of kind ``"random"``.

    Raises:
        ConfigError: bad fraction or missing seed.
        DataValidationError: the log is empty.
    """
    f = _check_fraction(test_fraction, "test_fraction")
    s = _check_seed(seed, "random_split")
    _check_nonempty(data, "split")
    view = _pair_view(data, s, timed=False)
    n = view.users.shape[0]
    n_test = int(np.clip(_round_half_up(f * n), 0, n))
    rng = np.random.default_rng(s)
    pair_test = np.zeros(n, dtype=bool)
    pair_test[rng.choice(n, size=n_test, replace=False)] = True
    stats = _stats(view, pair_test, tied=None)
    train, test = _parts(data, view.rows_mask(pair_test))
    desc = (f"random (per (user, item) pair) test_fraction={f:g} seed={s}: {n_test} of {n} pairs to test "
            f"({test.n_interactions} events) from {_n_users(test.interactions)} users{_stats_text(stats)}")
    return Split(train, test, "random", desc, params={"test_fraction": f, "seed": s}, stats=stats)


def before_test_time(other: InteractionData, split: Split) -> InteractionData:
    """The events of another log (e.g. a private source of other users) that a model trained at the
    split's training time could have seen.

    Under ``temporal-global`` the test period starts at one cut time; the source's events at or after it
    lie in the future of every model and would leak the test period's popularity into a generator fitted
    on the source (and into the target + source ceiling). They are dropped: the result keeps the events
    with ``timestamp`` before the split's cut (``Split.stats["cut_time"]``; not the earliest test event,
    which can be later when repeats were dropped from test). Other split kinds have no shared clock and
    return ``other`` unchanged.

    Raises:
        DataValidationError: the split is ``temporal-global`` and ``other`` has no timestamp column.
    """
    if split.kind != "temporal-global":
        return other
    cut_time = split.stats.get("cut_time")
    if cut_time is None and split.test.n_interactions == 0:
        return other
    if not other.has_timestamp:
        raise DataValidationError(
            "a temporal split needs the source's event times too, to keep the test period out of it",
            source=other.name, column=TIMESTAMP, hint="give the source log a timestamp column",
        )
    # the split's own cut (its test part may start later: repeats of train items are dropped from it)
    cut = int(cut_time) if cut_time is not None else int(split.test.interactions[TIMESTAMP].min())  # type: ignore[arg-type]
    return other.with_interactions(other.interactions.filter(pl.col(TIMESTAMP) < cut),
                                   name=f"{other.name}/before{cut}")


# ---------------------------------------------------------------------------------------------- users


def _choose_users(data: InteractionData, fraction: float, seed: int, *, at_least: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Active users split into (chosen, rest), each sorted; ``max(at_least, round_half_up(fraction *
    n_active))`` chosen uniformly without replacement."""
    active = data.active_users()
    n_pick = min(active.shape[0], max(at_least, int(_round_half_up(fraction * active.shape[0]))))
    rng = np.random.default_rng(seed)
    pick = np.zeros(active.shape[0], dtype=bool)
    pick[rng.choice(active.shape[0], size=n_pick, replace=False)] = True
    return active[pick], active[~pick]


def split_users(data: InteractionData, fraction: float, *, seed: int
                ) -> tuple[InteractionData, InteractionData]:
    """Partition the active users into two disjoint sets, e.g. 90 % source and 10 % target.

    ``a`` gets ``round_half_up(fraction * n_active)`` users drawn uniformly without replacement and all
    their events; ``b`` gets every other user. Vocabularies are unchanged (rows stay aligned); call
    `InteractionData.compact_users` for dense user ids.

    Args:
        data: the log.
        fraction: share of users in ``a``, in (0, 1).
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        ``(a, b)``, named ``"<name>/users-a"`` and ``"<name>/users-b"``.

    Raises:
        ConfigError: bad fraction or missing seed.
        DataValidationError: the log is empty, or one side would get no user.
    """
    f = _check_fraction(fraction, "fraction")
    s = _check_seed(seed, "split_users")
    _check_nonempty(data, "split users")
    a_users, b_users = _choose_users(data, f, s)
    if a_users.shape[0] == 0 or b_users.shape[0] == 0:
        raise DataValidationError(
            f"splitting {a_users.shape[0] + b_users.shape[0]} users with fraction={f:g} leaves one side empty",
            source=data.name, column=USER, hint="use a fraction nearer 0.5, or more users",
        )
    return (data.filter_users(a_users, name=f"{data.name}/users-a"),
            data.filter_users(b_users, name=f"{data.name}/users-b"))


def subsample_users(data: InteractionData, fraction: float, *, seed: int) -> InteractionData:
    """Scarcity: keep a uniformly random ``fraction`` of the active users (at least 1) with all their
    events; vocabularies unchanged.

    Args:
        data: the log.
        fraction: in (0, 1]; ``1`` returns every user.
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        The kept users' events, named ``"<name>/users<fraction>"``.

    Raises:
        ConfigError: bad fraction or missing seed.
        DataValidationError: the log is empty.
    """
    f = _check_fraction(fraction, "fraction", closed=True)
    if f == 0.0:
        raise ConfigError("subsample_users: fraction must be > 0")
    s = _check_seed(seed, "subsample_users")
    _check_nonempty(data, "subsample")
    keep, _ = _choose_users(data, f, s, at_least=1)
    return data.filter_users(keep, name=f"{data.name}/users{f:g}")


def cap_history(data: InteractionData, max_per_user: int,
                keep: Literal["first", "last", "random"] = "first", *, seed: int | None = None
                ) -> InteractionData:
    """Scarcity: keep at most ``max_per_user`` events of each user (rows keep source order).

    Args:
        data: the log.
        max_per_user: cap, ``>= 1``.
        keep: ``"first"`` (earliest events in time order, ties broken by a key seeded with ``seed``, 0
            when not given), ``"last"`` (latest) or ``"random"``
            (uniform without replacement per user; needs ``seed``).
        seed: seed of ``numpy.random.default_rng``; required for ``keep="random"``, breaks ties in time
            otherwise.

    Returns:
        The capped log, named ``"<name>/cap<max_per_user>"``.

    Raises:
        ConfigError: bad cap, unknown ``keep``, or ``keep="random"`` without a seed.
        DataValidationError: a timestamp is missing.
    """
    if isinstance(max_per_user, bool) or not isinstance(max_per_user, (int, np.integer)) or max_per_user < 1:
        raise ConfigError(f"cap_history: max_per_user must be an integer >= 1, got {max_per_user!r}")
    if keep not in ("first", "last", "random"):
        raise ConfigError(f"cap_history: keep must be 'first', 'last' or 'random', got {keep!r}")
    df = data.interactions
    if keep == "random":
        rank, _ = _random_ranks(df[USER].to_numpy(), _check_seed(seed, "cap_history(keep='random')"))
        mask = rank < max_per_user
    elif df.height == 0:
        mask = np.zeros(0, dtype=bool)
    else:
        users = df[USER].to_numpy().astype(np.int64)
        pos, cnt = _positions(users, _times(data), _tie_keys(df.height, 0 if seed is None else int(seed)))
        mask = pos < max_per_user if keep == "first" else pos >= cnt - max_per_user
    return data.with_interactions(df.filter(pl.Series(mask, dtype=pl.Boolean)),
                                  name=f"{data.name}/cap{max_per_user}")


# ---------------------------------------------------------------------------------------------- dispatch

_SPLITTERS: dict[str, Callable[..., Split]] = {
    "leave-last-out": leave_last_out,
    "leave-one-out": leave_one_out,
    "temporal-user": temporal_fraction,
    "temporal-global": global_time_cut,
    "user-holdout": user_holdout,
    "random": random_split,
}


def _accepted(kind: str) -> set[str]:
    return set(inspect.signature(_SPLITTERS[kind]).parameters) - {"data"}


def make_split(data: InteractionData, kind: str, *, seed: int | None = None, **params: Any) -> Split:
    """Split by kind name (see the module table).

    Args:
        data: the log.
        kind: one of `SPLIT_KINDS`: ``"leave-last-out"`` and ``"leave-one-out"`` (params ``n``),
            ``"temporal-user"`` (``test_fraction``), ``"temporal-global"`` (``test_fraction`` or ``cut``), ``"user-holdout"``
            (``test_fraction``, ``fold_in_fraction``), ``"random"`` (``test_fraction``).
        seed: required by ``leave-one-out``, ``user-holdout`` and ``random``; breaks ties in time for
            ``leave-last-out`` and ``temporal-user`` (default 0); accepted and ignored by
            ``temporal-global`` (so callers can pass one seed whatever the kind).
        **params: keyword parameters of the split function. A parameter that another kind takes but this
            one does not (e.g. ``test_fraction`` for ``leave-last-out``, as a config holding one
            ``test_fraction`` for every kind passes it) is ignored and named in the description; a
            parameter no kind takes raises. ``None`` values are dropped (the function's default applies).

    Raises:
        ConfigError: unknown kind, a parameter no kind takes, or a missing seed.
    """
    if kind not in _SPLITTERS:
        raise ConfigError(f"unknown split kind {kind!r}; choose one of {', '.join(SPLIT_KINDS)}")
    fn = _SPLITTERS[kind]
    accepted = _accepted(kind)
    known = set().union(*(_accepted(k) for k in _SPLITTERS))
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"split kind {kind!r} does not take {', '.join(unknown)}; it takes "
                          f"{', '.join(sorted(accepted - {'seed'})) or 'no parameters'}")
    ignored = sorted(k for k, v in params.items() if k not in accepted and v is not None)
    kwargs = {k: v for k, v in params.items() if k in accepted and v is not None}
    if "seed" in accepted:
        required = inspect.signature(fn).parameters["seed"].default is inspect.Parameter.empty
        if required or seed is not None:  # time-ordered kinds take a seed only to break ties in time
            kwargs["seed"] = _check_seed(seed, f"split kind {kind!r}")
    split = fn(data, **kwargs)
    if ignored:
        split = replace(split, description=f"{split.description} (ignored for this kind: {', '.join(ignored)})")
    return split


def carve_validation(train: InteractionData | Split, kind: str | None = None, *, seed: int | None = None,
                     **params: Any) -> Split:
    """Apply the same split kind again to a training part, giving ``(train', validation)``.

    Used to choose settings (e.g. by the ``auto`` strategy) on validation data, never on test.

    Args:
        train: the training part (`InteractionData`, with ``kind`` given), or a whole `Split`, whose
            ``train`` is carved with the split's own kind and parameters (``params`` override them). The
            split's seed is not reused (pass ``seed``), nor an explicit global ``cut`` (the whole training
            part lies before it; the default ``test_fraction`` applies unless given).
        kind: one of `SPLIT_KINDS`; defaults to the split's kind when ``train`` is a `Split`.
        seed: as in `make_split` (required by the random kinds).
        **params: as in `make_split`.

    Returns:
        A `Split` with ``train`` = the inner training part, ``test`` = the validation targets
        (``test_history`` = validation fold-in for ``user-holdout``), named ``<name>/train``,
        ``<name>/valid`` (and ``<name>/valid-history``); its description starts with ``"validation: "``.

    Raises:
        ConfigError: no kind given for an `InteractionData`; otherwise as `make_split`.
        DataValidationError: as `make_split`.
    """
    if isinstance(train, Split):
        base = {k: v for k, v in train.params.items() if k not in ("seed", "cut")}
        if kind is not None and kind != train.kind:
            base = {}
        params = {**base, **params}
        kind = kind or train.kind
        data = train.train
    else:
        if kind is None:
            raise ConfigError("carve_validation needs kind=... when given training data (not a Split)")
        data = train
    inner = make_split(data, kind, seed=seed, **params)
    hist = inner.test_history
    return replace(
        inner,
        train=inner.train.with_interactions(inner.train.interactions, name=f"{data.name}/train"),
        test=inner.test.with_interactions(inner.test.interactions, name=f"{data.name}/valid"),
        description=f"validation: {inner.description}",
        test_history=None if hist is None else hist.with_interactions(hist.interactions,
                                                                       name=f"{data.name}/valid-history"),
    )
