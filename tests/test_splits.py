"""Splits and scarcity subsampling: exact small cases (PITFALLS P1, P2), partition and time-order
properties on seeded random logs, determinism, and errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synthrec.data.interactions import InteractionData
from synthrec.data.splits import (
    SPLIT_KINDS,
    Split,
    before_test_time,
    cap_history,
    carve_validation,
    global_time_cut,
    leave_last_out,
    leave_one_out,
    make_split,
    random_split,
    split_users,
    subsample_users,
    temporal_fraction,
    user_holdout,
)
from synthrec.errors import ConfigError, DataValidationError


def _data(users: list[object], items: list[object], times: list[int] | None = None,
          item_vocabulary: list[object] | None = None) -> InteractionData:
    """A log whose ``session`` column holds the 0-based source row, to identify rows after a split."""
    cols: dict[str, object] = {"u": users, "i": items, "row": list(range(len(users)))}
    if times is not None:
        cols["t"] = times
    return InteractionData.from_frame(
        pl.DataFrame(cols), user_col="u", item_col="i", time_col="t" if times is not None else None,
        session_col="row", item_vocabulary=None if item_vocabulary is None else pl.Series("i", item_vocabulary),
        name="toy",
    )


def _rows(d: InteractionData) -> list[int]:
    return d.interactions["session"].to_list()


def _random_log(seed: int, n_users: int = 40, n_items: int = 30, n: int = 600, with_time: bool = True
                ) -> InteractionData:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n).tolist()
    items = rng.integers(0, n_items, n).tolist()
    times = rng.integers(0, 50, n).tolist() if with_time else None  # many ties
    return _data(users, items, times)


def _per_user_time_order_ok(split: Split) -> None:
    """Within each user, no item is on both sides, and every train item was met no later than every test
    item (items ordered by the time of the user's first event on them; ties in time may fall either way)."""
    def first_met(d: InteractionData) -> pl.DataFrame:
        return d.interactions.group_by("user", "item").agg(pl.col("timestamp").min().alias("t"))

    train, test = first_met(split.train), first_met(split.test)
    assert train.join(test, on=["user", "item"]).height == 0  # a held-out item never stays in history
    last_train = train.group_by("user").agg(pl.col("t").max().alias("last_train"))
    first_test = test.group_by("user").agg(pl.col("t").min().alias("first_test"))
    j = first_test.join(last_train, on="user", how="left")
    assert j["last_train"].null_count() == 0  # every test user keeps train events
    assert (j["last_train"] <= j["first_test"]).all()


# ---------------------------------------------------------------------------------------------- P1: ties


def test_p1_ties_broken_by_a_seeded_key_not_item_id() -> None:
    users = ["a"] * 4
    times = [100, 100, 100, 50]
    original = _data(users, [30, 10, 20, 40], times, item_vocabulary=[10, 20, 30, 40])
    relabel = {30: 5, 10: 7, 20: 1, 40: 3}
    copy = _data(users, [relabel[i] for i in (30, 10, 20, 40)], times, item_vocabulary=[1, 3, 5, 7])
    for seed in range(6):
        s1, s2 = leave_last_out(original, seed=seed), leave_last_out(copy, seed=seed)
        # relabelling items cannot move the held-out row; it is one of the three tied t=100 rows
        assert _rows(s1.test) == _rows(s2.test) and _rows(s1.test)[0] in (0, 1, 2)
        assert s1.stats["users_tied_at_split"] == 1
        # the same rule in every time-ordered split
        assert _rows(leave_last_out(original, n=2, seed=seed).test) == _rows(leave_last_out(copy, n=2, seed=seed).test)
        assert (_rows(temporal_fraction(original, 0.5, seed=seed).test)
                == _rows(temporal_fraction(copy, 0.5, seed=seed).test))
        assert _rows(cap_history(original, 2, "first", seed=seed)) == _rows(cap_history(copy, 2, "first", seed=seed))
        assert 3 in _rows(cap_history(original, 2, "first", seed=seed))  # the t=50 event is first
    held = {_rows(leave_last_out(original, seed=seed).test)[0] for seed in range(30)}
    assert held == {0, 1, 2}  # every tied row can be the one held out
    assert leave_last_out(original, seed=3).description.count("1 users tied in time at their split point") == 1


def test_time_ties_do_not_favour_large_item_ids_in_a_file_sorted_by_item() -> None:
    """A DVD-rating log sorted by (user, item) once made every tied "last" event the largest item id."""
    n_users = 3000
    users = np.repeat(np.arange(n_users), 4)
    items = np.tile([0, 1, 2, 3], n_users)  # sorted by (user, item)
    times = np.tile([100, 100, 100, 50], n_users)  # items 0, 1, 2 tie at each user's end
    d = _data(users.tolist(), items.tolist(), times.tolist())
    perm = np.random.default_rng(0).permutation(users.shape[0])
    shuffled = _data(users[perm].tolist(), items[perm].tolist(), times[perm].tolist())
    for log in (d, shuffled):
        split = leave_last_out(log, seed=7)
        held = log.item_ids.gather(split.test.interactions["item"]).to_numpy()
        share = np.bincount(held, minlength=4) / n_users
        assert share[3] == 0.0  # the earlier event is never the last
        assert np.all(np.abs(share[:3] - 1 / 3) < 0.04)  # each tied item ~ 1/3, in either row order
        assert split.stats["users_tied_at_split"] == n_users


def test_leave_last_out_uses_declared_row_order_without_timestamp() -> None:
    d = replace(_data(["a", "b", "a", "a", "b", "c"], [1, 2, 3, 4, 5, 6]), row_order_is_time=True)
    s = leave_last_out(d)
    assert _rows(s.test) == [3, 4]  # last rows of a and b; c has one event and stays in train
    assert _rows(s.train) == [0, 1, 2, 5]
    s2 = leave_last_out(d, n=2)
    assert _rows(s2.test) == [2, 3]  # a has 3 events; b (2 events) and c stay in train
    assert s.kind == "leave-last-out" and s.test_history is None
    assert "1 users with <= 1 items" in s.description


def test_time_ordered_splits_refuse_a_log_without_times_or_declared_order() -> None:
    d = _data(["a", "b", "a", "a", "b", "c"], [1, 2, 3, 4, 5, 6])
    for split in (lambda: leave_last_out(d), lambda: temporal_fraction(d, 0.5),
                  lambda: global_time_cut(d, test_fraction=0.5), lambda: cap_history(d, 1, keep="last")):
        with pytest.raises(DataValidationError, match="no time column") as err:
            split()
        assert "toy" in str(err.value) and "leave-one-out" in str(err.value)
    assert cap_history(d, 1, keep="random", seed=0).n_interactions == 3  # random caps need no order


def test_leave_one_out_holds_out_n_random_events_per_user() -> None:
    d = _data(["a"] * 5 + ["b"] * 2 + ["c"], list(range(8)))
    s = leave_one_out(d, seed=3)
    test_users = s.test.interactions["user"].to_list()
    assert sorted(test_users) == [0, 1]  # c (one event) stays wholly in train
    assert s.train.n_interactions + s.test.n_interactions == 8 and s.kind == "leave-one-out"
    assert sorted(_rows(s.train) + _rows(s.test)) == list(range(8))
    assert _rows(leave_one_out(d, seed=3).test) == _rows(s.test)  # same seed, same split
    s2 = leave_one_out(d, n=2, seed=3)
    assert sorted(s2.test.interactions["user"].to_list()) == [0, 0]  # b has only 2 events
    assert make_split(d, "leave-one-out", seed=3).test.interactions.equals(s.test.interactions)
    with pytest.raises(ConfigError, match="seed"):
        make_split(d, "leave-one-out")


def test_leave_one_out_is_uniform_over_a_users_events() -> None:
    # 5 events of one user; over 2,000 seeds each position is held out 400 times in expectation.
    d = _data(["a"] * 5, list(range(5)))
    held = np.array([_rows(leave_one_out(d, seed=s).test)[0] for s in range(2000)])
    counts = np.bincount(held, minlength=5)
    chi2 = float(((counts - 400.0) ** 2 / 400.0).sum())
    assert chi2 < 18.47  # chi-square(4) at p = 0.001


def test_row_order_leave_last_out_is_refused_on_ml1m_subset(shared_data: Path) -> None:
    """The failure this guard exists for: MovieLens-1M lists each user's ratings in no time order, and
    its "last row" is one film (item 1097) for 556 of 3,000 users."""
    raw = pl.read_csv(shared_data / "ml-1m-subset/ratings_3000users.csv", has_header=False,
                      new_columns=["u", "i", "r"])
    d = InteractionData.from_frame(raw, user_col="u", item_col="i", rating_col="r", name="ml-1m-subset")
    with pytest.raises(DataValidationError, match="row_order_is_time"):
        leave_last_out(d)
    last_rows = raw.group_by("u", maintain_order=True).agg(pl.col("i").last())["i"]
    random_out = leave_one_out(d, seed=0).test.interactions["item"]
    top_last = int(last_rows.value_counts().sort("count", descending=True)["count"][0])
    top_random = int(random_out.value_counts().sort("count", descending=True)["count"][0])
    assert top_last == 556 and top_random < 100


def test_leave_last_out_uses_time_not_row_order() -> None:
    d = _data(["a", "a", "a"], [1, 2, 3], [300, 100, 200])
    assert _rows(leave_last_out(d).test) == [0]


# ---------------------------------------------------------------------------------------------- temporal


def test_temporal_fraction_per_user_counts() -> None:
    users = ["a"] * 5 + ["b"] * 10 + ["c"]
    times = list(range(5)) + list(range(100, 110))[::-1] + [7]
    d = _data(users, list(range(16)), times)
    s = temporal_fraction(d, 0.25)
    # a: round(1.25) = 1 latest (row 4); b: round(2.5) = 3 latest = rows 5, 6, 7 (times 109..107); c: none
    assert _rows(s.test) == [4, 5, 6, 7]
    assert s.kind == "temporal-user"
    assert "per-user" in s.description


def test_p2_global_cut_vs_per_user() -> None:
    y2015, y2018 = 1_420_070_400, 1_514_764_800
    users = ["A"] * 4 + ["B"] * 4
    times = [y2015 + 86_400 * k for k in range(4)] + [y2018 + 86_400 * k for k in range(4)]
    d = _data(users, list(range(8)), times)
    g = global_time_cut(d, test_fraction=0.25)
    assert _rows(g.test) == [6, 7]
    assert g.train.interactions["timestamp"].max() < g.test.interactions["timestamp"].min()  # type: ignore[operator]
    assert f"cut={y2018 + 2 * 86_400}s" in g.description
    assert "global" in g.description and g.kind == "temporal-global"
    # the per-user split takes each user's last 25 %: train and test overlap in time across users
    p = temporal_fraction(d, 0.25)
    assert _rows(p.test) == [3, 7]
    assert p.train.interactions["timestamp"].max() > p.test.interactions["timestamp"].min()  # type: ignore[operator]


def test_global_cut_ties_go_to_test_and_explicit_cut() -> None:
    d = _data(["a", "b", "a", "b", "c"], [1, 2, 3, 4, 5], [10, 20, 20, 20, 30])
    s = global_time_cut(d, test_fraction=0.4)  # 2 of 5 -> cut at sorted position 3: time 20
    assert _rows(s.test) == [1, 2, 3, 4]
    assert "2 have no train events" in s.description  # b and c are cold at test time
    assert _rows(global_time_cut(d, cut=25).test) == [4]
    with pytest.raises(DataValidationError, match="leaves test empty"):
        global_time_cut(d, cut=31)
    with pytest.raises(DataValidationError, match="leaves train empty"):
        global_time_cut(d, cut=10)


def test_global_cut_with_declared_row_order_uses_row_index() -> None:
    d = replace(_data(["a", "b", "a", "b"], [1, 2, 3, 4]), row_order_is_time=True)
    assert _rows(global_time_cut(d, test_fraction=0.5).test) == [2, 3]


@pytest.mark.parametrize("seed", range(4))
def test_time_ordered_splits_on_random_logs(seed: int) -> None:
    d = _random_log(seed)
    counts = np.bincount(d.interactions["user"].to_numpy(), minlength=d.n_users)
    for split in (leave_last_out(d, n=2), temporal_fraction(d, 0.3)):
        assert sorted(_rows(split.train) + _rows(split.test)) == list(range(d.n_interactions))
        _per_user_time_order_ok(split)
        # at least one event of every user stays in train
        assert set(split.train.active_users().tolist()) == set(np.flatnonzero(counts).tolist())
    llo = leave_last_out(d, n=2)
    distinct = d.interactions.group_by("user").agg(pl.col("item").n_unique().alias("c"))["c"].to_numpy()
    held_pairs = llo.test.interactions.select("user", "item").unique().height
    assert held_pairs == int(np.sum(np.where(distinct > 2, 2, 0)))  # two items per user, all their events
    g = global_time_cut(d, test_fraction=0.3)
    dropped = g.stats["repeat_targets_dropped"]
    assert dropped > 0  # this log repeats pairs across the cut
    assert len(_rows(g.train)) + len(_rows(g.test)) + dropped == d.n_interactions
    assert g.train.interactions.join(g.test.interactions, on=["user", "item"]).height == 0
    assert g.train.interactions["timestamp"].max() < g.test.interactions["timestamp"].min()  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------- user holdout


def test_user_holdout_fold_in_is_earliest_events() -> None:
    users = ["a"] * 5 + ["b"] * 2 + ["c"]
    d = _data(users, list(range(8)), [5, 1, 4, 2, 3, 10, 9, 0])
    s = user_holdout(d, test_fraction=0.5, fold_in_fraction=0.6, seed=3)  # 2 eligible users (a, b) -> 1
    assert s.test_history is not None and s.kind == "user-holdout"
    held = set(s.test.active_users().tolist()) | set(s.test_history.active_users().tolist())
    assert len(held) == 1
    assert held.isdisjoint(s.train.active_users().tolist())
    assert 2 not in held  # "c" (dense 2) has one event: never held out
    if held == {0}:  # a: 5 events, round(3.0) = 3 earliest by time: rows 1 (t=1), 3 (t=2), 4 (t=3)
        assert _rows(s.test_history) == [1, 3, 4]
        assert _rows(s.test) == [0, 2]
    else:  # b: 2 events -> 1 history (the earlier, row 6), 1 target
        assert _rows(s.test_history) == [6]
        assert _rows(s.test) == [5]


def test_user_holdout_partition_and_evaluation_inputs() -> None:
    d = _random_log(11)
    s = user_holdout(d, test_fraction=0.25, fold_in_fraction=0.8, seed=0)
    assert s.test_history is not None
    all_rows = _rows(s.train) + _rows(s.test) + _rows(s.test_history)
    assert sorted(all_rows) == list(range(d.n_interactions))
    held = s.test.active_users()
    assert set(held.tolist()) == set(s.test_history.active_users().tolist())
    assert np.intersect1d(held, s.train.active_users()).size == 0
    n_eligible = int((np.bincount(d.interactions["user"].to_numpy()) >= 2).sum())
    assert held.shape[0] == int(np.floor(0.25 * n_eligible + 0.5))
    users, hist, targ = s.evaluation_inputs()
    np.testing.assert_array_equal(users, held)
    assert hist.shape == targ.shape == (held.shape[0], d.n_items)
    np.testing.assert_array_equal(hist.toarray(), s.test_history.to_csr()[held].toarray())
    assert targ.sum() > 0 and hist.sum() > 0


def test_evaluation_inputs_use_train_rows_for_per_user_splits() -> None:
    d = _data(["a", "a", "b", "b", "b"], [0, 1, 0, 2, 1], [1, 2, 1, 2, 3])
    s = leave_last_out(d)
    users, hist, targ = s.evaluation_inputs()
    assert users.tolist() == [0, 1]
    assert hist.toarray().tolist() == [[1, 0, 0], [1, 0, 1]]
    assert targ.toarray().tolist() == [[0, 1, 0], [0, 1, 0]]
    assert s.train.to_csr().shape == s.test.to_csr().shape == d.to_csr().shape  # vocabularies unchanged


# ---------------------------------------------------------------------------------------------- random & users


def test_random_split_exact_size_partition_and_seed() -> None:
    d = _random_log(5)
    a = random_split(d, 0.2, seed=42)
    b = random_split(d, 0.2, seed=42)
    c = random_split(d, 0.2, seed=43)
    assert a.test.n_interactions == 120
    assert sorted(_rows(a.train) + _rows(a.test)) == list(range(600))
    assert _rows(a.test) == _rows(b.test)
    assert _rows(a.test) != _rows(c.test)
    assert _rows(a.test) == sorted(_rows(a.test))  # source order kept


def test_split_users_disjoint_and_seeded() -> None:
    d = _random_log(6, n_users=50)
    n_active = d.active_users().shape[0]
    a, b = split_users(d, 0.9, seed=1)
    ua, ub = a.active_users(), b.active_users()
    assert np.intersect1d(ua, ub).size == 0
    assert np.union1d(ua, ub).tolist() == d.active_users().tolist()
    assert ua.shape[0] == int(np.floor(0.9 * n_active + 0.5))
    assert a.n_interactions + b.n_interactions == d.n_interactions
    a2, _ = split_users(d, 0.9, seed=1)
    assert _rows(a) == _rows(a2)
    assert a.n_users == d.n_users  # vocabulary unchanged
    with pytest.raises(DataValidationError, match="one side empty"):
        split_users(_data(["x", "y"], [1, 2]), 0.1, seed=0)


def test_subsample_users_keeps_whole_histories() -> None:
    d = _random_log(7, n_users=40)
    s = subsample_users(d, 0.25, seed=9)
    kept = s.active_users()
    assert kept.shape[0] == int(np.floor(0.25 * d.active_users().shape[0] + 0.5))
    full = d.interactions.filter(pl.col("user").is_in(pl.Series(kept).implode()))
    assert _rows(s) == full["session"].to_list()
    assert _rows(subsample_users(d, 0.25, seed=9)) == _rows(s)
    assert subsample_users(d, 1e-6, seed=0).active_users().shape[0] == 1  # at least one user
    assert subsample_users(d, 1.0, seed=0).n_interactions == d.n_interactions


def test_cap_history_first_last_random() -> None:
    d = _data(["a"] * 5 + ["b"] * 2, list(range(7)), [5, 1, 4, 2, 3, 2, 1])
    assert _rows(cap_history(d, 2, "first")) == [1, 3, 5, 6]  # a: t=1, t=2; b: both
    assert _rows(cap_history(d, 2, "last")) == [0, 2, 5, 6]  # a: t=5, t=4; b: both
    assert _rows(cap_history(d, 1, "first")) == [1, 6]  # a: t=1; b: t=1
    assert _rows(cap_history(d, 1, "last")) == [0, 5]  # a: t=5; b: t=2
    r = cap_history(d, 3, "random", seed=4)
    assert _rows(r) == _rows(cap_history(d, 3, "random", seed=4))
    assert np.bincount(r.interactions["user"].to_numpy()).tolist() == [3, 2]
    assert _rows(r) == sorted(_rows(r))
    big = _random_log(8)
    picks = {tuple(_rows(cap_history(big, 3, "random", seed=s))) for s in range(5)}
    assert len(picks) > 1
    with pytest.raises(ConfigError, match="seed"):
        cap_history(d, 2, "random")
    with pytest.raises(ConfigError, match="max_per_user"):
        cap_history(d, 0)
    with pytest.raises(ConfigError, match="keep"):
        cap_history(d, 2, "middle")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- repeats


def test_repeated_pairs_are_held_out_as_items_not_rows() -> None:
    # a: A(1) B(2) A(3) -> items met A@1, B@2: B is the last item; both A events stay in train
    # b: A(1) B(2) B(3) -> B held out with both of its events
    d = _data(["a", "a", "a", "b", "b", "b"], ["A", "B", "A", "A", "B", "B"], [1, 2, 3, 1, 2, 3])
    s = leave_last_out(d)
    assert _rows(s.test) == [1, 4, 5]
    assert _rows(s.train) == [0, 2, 3]
    assert s.stats["repeat_rows"] == 2 and s.stats["repeat_rows_held_out"] == 1
    assert "2 rows repeat a (user, item) pair; 1 of them went to test" in s.description
    _users, histories, targets = s.evaluation_inputs()
    assert histories.multiply(targets).nnz == 0  # every target is reachable (not in the history)


@pytest.mark.parametrize("kind", SPLIT_KINDS)
def test_no_held_out_item_remains_in_the_users_history(kind: str) -> None:
    d = _random_log(21)  # 600 events on 40 x 30 pairs: most pairs repeat
    assert d.interactions.select("user", "item").unique().height < d.n_interactions
    split = make_split(d, kind, seed=3)
    _users, histories, targets = split.evaluation_inputs()
    assert targets.nnz > 0
    assert histories.multiply(targets).nnz == 0
    assert split.stats["repeat_rows"] == d.n_interactions - d.interactions.select("user", "item").unique().height


# ---------------------------------------------------------------------------------------------- dispatch


@pytest.mark.parametrize("kind", SPLIT_KINDS)
def test_make_split_dispatch_deterministic(kind: str) -> None:
    d = _random_log(9)
    a = make_split(d, kind, seed=5)
    b = make_split(d, kind, seed=5)
    assert a.kind == kind
    assert _rows(a.test) == _rows(b.test) and _rows(a.train) == _rows(b.train)
    assert a.test.n_interactions > 0 and a.train.n_interactions > 0


def test_make_split_errors() -> None:
    d = _random_log(10)
    with pytest.raises(ConfigError, match="unknown split kind 'temporal'"):
        make_split(d, "temporal")
    with pytest.raises(ConfigError, match="does not take fraction_test"):
        make_split(d, "leave-last-out", fraction_test=0.2)
    # a parameter of another kind (one config test_fraction for every kind) is ignored, and said so
    s = make_split(d, "leave-last-out", test_fraction=0.2, seed=1)
    assert _rows(s.test) == _rows(leave_last_out(d, seed=1).test)
    assert s.description.endswith("(ignored for this kind: test_fraction)")
    with pytest.raises(ConfigError, match="explicit integer seed"):
        make_split(d, "random")
    with pytest.raises(ConfigError, match=r"test_fraction must be a number in \(0, 1\)"):
        make_split(d, "temporal-user", test_fraction=1.5)
    assert _rows(make_split(d, "leave-last-out", n=3).test) == _rows(leave_last_out(d, 3).test)


@pytest.mark.parametrize("kind", SPLIT_KINDS)
def test_carve_validation_only_uses_train(kind: str) -> None:
    d = _random_log(12)
    outer = make_split(d, kind, seed=1)
    val = carve_validation(outer.train, kind, seed=2)
    test_rows = set(_rows(outer.test)) | set(_rows(outer.test_history) if outer.test_history else [])
    inner = set(_rows(val.train)) | set(_rows(val.test))
    if val.test_history is not None:
        inner |= set(_rows(val.test_history))
    if kind == "temporal-global":  # the inner cut drops repeats of train items from validation
        assert inner <= set(_rows(outer.train))
        assert len(set(_rows(outer.train)) - inner) == val.stats["repeat_targets_dropped"]
    else:
        assert inner == set(_rows(outer.train))
    assert inner.isdisjoint(test_rows)
    assert val.description.startswith("validation: ")
    assert val.test.name.endswith("/valid")
    assert val.kind == kind


def test_bad_input_errors() -> None:
    empty = InteractionData(
        pl.DataFrame({"user": pl.Series([], dtype=pl.Int32), "item": pl.Series([], dtype=pl.Int32)}),
        pl.Series(["a"]), pl.Series([1]), name="empty.csv",
    )
    with pytest.raises(DataValidationError, match=r"empty\.csv.*no interactions"):
        leave_last_out(empty)
    nulls = InteractionData(
        pl.DataFrame({"user": pl.Series([0, 0], dtype=pl.Int32), "item": pl.Series([0, 0], dtype=pl.Int32),
                      "timestamp": pl.Series([1, None], dtype=pl.Int64)}),
        pl.Series(["a"]), pl.Series([1]), name="log.csv",
    )
    with pytest.raises(DataValidationError, match="column 'timestamp', row 2"):
        temporal_fraction(nulls)
    d = _random_log(13)
    with pytest.raises(ConfigError, match="n must be an integer"):
        leave_last_out(d, n=0)
    with pytest.raises(ConfigError, match="seed must be an integer"):
        random_split(d, 0.2, seed="x")  # type: ignore[arg-type]
    with pytest.raises(DataValidationError, match="at least 2 distinct items"):
        user_holdout(_data(["a", "b"], [1, 2]), seed=0)


# ---------------------------------------------------------------------------------------------- real data


def test_leave_last_out_on_ml100k(shared_data: Path) -> None:
    frame = pl.read_csv(shared_data / "ml-100k" / "u.data", separator="\t", has_header=False,
                        new_columns=["u", "i", "r", "t"])
    d = InteractionData.from_frame(frame, user_col="u", item_col="i", rating_col="r", time_col="t",
                                   name="ml-100k")
    s = leave_last_out(d)
    assert s.test.n_interactions == 943  # every ML-100K user has >= 20 ratings
    last_train = s.train.interactions.group_by("user").agg(pl.col("timestamp").max().alias("lt"))
    j = s.test.interactions.join(last_train, on="user")
    assert (j["timestamp"] >= j["lt"]).all()
    g = global_time_cut(d, test_fraction=0.1)
    assert g.train.interactions["timestamp"].max() < g.test.interactions["timestamp"].min()  # type: ignore[operator]


def test_split_params_and_carve_from_split() -> None:
    d = _random_log(14)
    s = make_split(d, "user-holdout", test_fraction=0.3, fold_in_fraction=0.5, seed=8)
    assert dict(s.params) == {"test_fraction": 0.3, "fold_in_fraction": 0.5, "seed": 8}
    v = carve_validation(s, seed=9)
    assert v.kind == "user-holdout" and v.test_history is not None
    same = carve_validation(s.train, "user-holdout", seed=9, test_fraction=0.3, fold_in_fraction=0.5)
    assert _rows(v.test) == _rows(same.test) and _rows(v.test_history) == _rows(same.test_history)  # type: ignore[arg-type]
    assert "fold_in_fraction=0.5" in v.description
    n = leave_last_out(d, n=2)
    assert carve_validation(n).test.n_interactions == leave_last_out(n.train, n=2).test.n_interactions
    g = global_time_cut(d, cut=40)
    assert dict(g.params) == {"cut": 40}
    vg = carve_validation(g)  # the explicit cut is not reused: the default fraction applies to train
    assert vg.train.interactions["timestamp"].max() < vg.test.interactions["timestamp"].min()  # type: ignore[operator]
    assert (len(set(_rows(vg.train)) | set(_rows(vg.test))) + vg.stats["repeat_targets_dropped"]
            == len(_rows(g.train)))
    with pytest.raises(ConfigError, match="explicit integer seed"):
        carve_validation(random_split(d, 0.2, seed=1))
    with pytest.raises(ConfigError, match="needs kind"):
        carve_validation(d)


def test_before_test_time_drops_the_sources_test_period_only_under_a_global_cut() -> None:
    target = _data(["a", "a", "b", "b"], [1, 2, 1, 3], [10, 20, 30, 40])
    source = _data(["s", "s", "t", "t"], [1, 2, 3, 2], [5, 29, 30, 35])
    cut_split = global_time_cut(target, test_fraction=0.5)  # cut at t = 30: (b,1,30), (b,3,40) are test
    kept = before_test_time(source, cut_split)
    assert kept.interactions["timestamp"].to_list() == [5, 29]  # events at or after 30 would leak the future
    assert before_test_time(source, leave_last_out(target)) is source  # no shared clock: unchanged
    untimed = _data(["s"], [1])
    with pytest.raises(DataValidationError, match="event times"):
        before_test_time(untimed, cut_split)


def test_the_source_ends_at_the_cut_even_when_repeats_were_dropped_from_test() -> None:
    # a: 10@1, 11@2, 10@5 (a repeat: dropped from test), 12@8; cut at 5
    target = _data(["a", "a", "a", "a"], [10, 11, 10, 12], [1, 2, 5, 8])
    split = global_time_cut(target, cut=5)
    assert _rows(split.test) == [3] and split.stats["repeat_targets_dropped"] == 1 and split.stats["cut_time"] == 5
    source = _data(["s"] * 4, [10, 11, 12, 13], [4, 6, 7, 9])
    kept = before_test_time(source, split)
    assert kept.interactions["timestamp"].to_list() == [4]  # not 6 and 7: they lie after the cut


def test_a_global_cut_whose_test_events_all_repeat_train_items_is_refused() -> None:
    d = _data(["a", "a", "a", "b", "b"], [10, 11, 10, 12, 13], [1, 2, 5, 1, 2])
    with pytest.raises(DataValidationError, match="leaves test empty: every event after it repeats"):
        global_time_cut(d, cut=3)
