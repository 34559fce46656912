"""Tests of `synthrec.generators.target_only.fill_target_only_items`: the share, the draw probabilities
(popularity and genre terms, against their exact softmax), no repeats, determinism, the added rows."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError, UnknownIdError
from synthrec.generators.cold_items import PROVENANCE
from synthrec.generators.target_only import fill_target_only_items, target_only_share


def log(users: list[int] | np.ndarray, items: list[int] | np.ndarray, n_items: int,
        genres: list[list[str]] | None = None, *, times: bool = True, ratings: bool = True,
        name: str = "log", extra: dict[str, object] | None = None) -> InteractionData:
    """A log over items 0 .. n_items-1 (dense id = external id = index), optional genres table."""
    u = np.asarray(users, dtype=np.int64)
    cols: dict[str, object] = {"user": u, "item": np.asarray(items, dtype=np.int64)}
    if times:
        cols["timestamp"] = 1000 + 10 * np.arange(u.size, dtype=np.int64)
    if ratings:
        cols["rating"] = (1.0 + np.arange(u.size) % 5).astype(np.float32)
    cols.update(extra or {})
    vocab = pl.Series("item", np.arange(n_items, dtype=np.int64))
    data = InteractionData.from_frame(pl.DataFrame(cols), item_vocabulary=vocab, name=name,
                                      time_col="timestamp" if times else None,
                                      rating_col="rating" if ratings else None,
                                      event_col="event" if "event" in cols else None)
    if genres is not None:
        items = pl.DataFrame({"item": pl.Series(np.arange(n_items), dtype=pl.Int32), "genres": genres},
                             schema={"item": pl.Int32, "genres": pl.List(pl.String)})
        data = dataclasses.replace(data, items=items)
    return data


def added_part(out: InteractionData, before: InteractionData) -> pl.DataFrame:
    return out.interactions.slice(before.n_interactions)


def test_share_is_matched_over_many_users_default_from_the_target() -> None:
    # 30 mapped items (0-29), 10 target-only (30-39); the target's log has 20 % of its rows on them
    n_items, n_users = 40, 2000
    genres = [["g"]] * n_items
    rng = np.random.default_rng(0)
    syn_items = np.concatenate([rng.choice(30, 10, replace=False) for _ in range(n_users)])
    synthetic = log(np.repeat(np.arange(n_users), 10), syn_items, n_items, genres, name="syn")
    t_items = np.r_[np.arange(30).repeat(4), np.arange(30, 40).repeat(3)]  # 120 mapped + 30 target-only rows
    target = log(np.arange(t_items.size) % 7, t_items, n_items, genres, name="target")
    pool = np.arange(30, 40)
    assert target_only_share(target, pool) == pytest.approx(0.2)
    out = fill_target_only_items(synthetic, target, pool, seed=1)
    on_pool = np.isin(out.interactions["item"].to_numpy(), pool)
    # q = 0.2 / 0.8 = 0.25: E[m_u] = 2.5; the share's sd here is about 0.002
    assert on_pool.mean() == pytest.approx(0.2, abs=0.008)
    assert np.bincount(out.interactions["user"].to_numpy()[on_pool], minlength=n_users).mean() == \
        pytest.approx(2.5, abs=0.1)
    # a share above 1/2: q = 1.5, m_u = n_u + Binomial(n_u, 0.5)
    small = synthetic.with_interactions(synthetic.interactions.filter(pl.int_range(pl.len()).over("user") < 4))
    high = fill_target_only_items(small, target, pool, share=0.6, seed=2)
    frac = np.isin(high.interactions["item"].to_numpy(), pool).mean()
    assert frac == pytest.approx(0.6, abs=0.01)
    assert fill_target_only_items(synthetic, target, pool, share=0.0, seed=1) is synthetic


def test_items_the_target_chose_more_are_drawn_more_with_the_exact_softmax() -> None:
    # each user has one mapped item and share 1/2 (q = 1): exactly one draw per user; no genre term, so
    # P(i) = (1 + c_i) / Σ_j (1 + c_j) with target counts c = [0, 1, 3, 7] -> [1, 2, 4, 8] / 15
    n_users = 6000
    synthetic = log(np.arange(n_users), np.zeros(n_users, dtype=np.int64), 5, name="syn")
    t_items = [0, 2, 3, 3, 3, *[4] * 7]
    target = log(np.zeros(len(t_items), dtype=np.int64), t_items, 5, name="target")
    out = fill_target_only_items(synthetic, target, np.array([1, 2, 3, 4]), attribute=None, share=0.5, seed=3)
    new = added_part(out, synthetic)
    assert np.bincount(new["user"].to_numpy(), minlength=n_users).tolist() == [1] * n_users
    freq = np.bincount(new["item"].to_numpy(), minlength=5)[1:] / n_users
    p = np.array([1, 2, 4, 8]) / 15
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / n_users)), freq


def test_genre_similar_items_are_drawn_more_with_the_exact_softmax() -> None:
    # item 0 (mapped) is {A}; target-only 1 = {A}, 2 = {B}, 3 = {A, B}, equal (zero) target counts.
    # cos({A}, ·) = [1, 0, 1/√2]: P ∝ exp(β · cos) with β = 2. Users of item 4 (no genre): uniform.
    genres = [["A"], ["A"], ["B"], ["A", "B"], []]
    n_users = 6000
    half = n_users // 2
    synthetic = log(np.arange(n_users), np.r_[np.zeros(half), np.full(half, 4)].astype(np.int64), 5, genres)
    target = log([0, 0], [0, 4], 5, genres, name="target")
    out = fill_target_only_items(synthetic, target, np.array([1, 2, 3]), share=0.5, similarity_weight=2.0,
                                 seed=4)
    new = added_part(out, synthetic)
    users, items = new["user"].to_numpy(), new["item"].to_numpy()
    w = np.exp(2.0 * np.array([1.0, 0.0, 1 / np.sqrt(2)]))
    for group, p in ((users < half, w / w.sum()), (users >= half, np.full(3, 1 / 3))):
        freq = np.bincount(items[group], minlength=4)[1:] / group.sum()
        assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / group.sum())), freq


def test_no_repeated_pair_owned_items_excluded_and_the_cap_warns() -> None:
    # user 0 already has target-only item 3; share 0.6 asks for more target-only items than exist
    synthetic = log([0, 0, 0, 0, 1, 1, 1], [0, 1, 2, 3, 0, 1, 2], 6, [["x"]] * 6)
    target = log([0, 0], [4, 5], 6, [["x"]] * 6, name="target")
    with pytest.warns(UserWarning, match="exceed"):
        out = fill_target_only_items(synthetic, target, np.array([3, 4, 5]), share=0.6, seed=5)
    pairs = out.interactions.select("user", "item")
    assert pairs.is_unique().all()
    new = added_part(out, synthetic)
    assert sorted(new.filter(pl.col("user") == 0)["item"].to_list()) == [4, 5]  # 3 is hers already
    assert sorted(new.filter(pl.col("user") == 1)["item"].to_list()) == [3, 4, 5]


def test_deterministic_per_seed_and_independent_of_row_order() -> None:
    rng = np.random.default_rng(6)
    genres = [[g] for g in rng.choice(["A", "B", "C"], 20).tolist()]
    users = np.repeat(np.arange(300), 5)
    items = np.concatenate([rng.choice(12, 5, replace=False) for _ in range(300)])
    synthetic = log(users, items, 20, genres)
    target = log(rng.integers(0, 9, 80), rng.integers(0, 20, 80), 20, genres, name="target")
    pool = np.arange(12, 20)
    a = fill_target_only_items(synthetic, target, pool, seed=7)
    b = fill_target_only_items(synthetic, target, pool, seed=7)
    assert a.interactions.equals(b.interactions)
    c = fill_target_only_items(synthetic, target, pool, seed=8)
    assert not a.interactions.equals(c.interactions)
    shuffled_syn = synthetic.with_interactions(synthetic.interactions.sample(fraction=1.0, shuffle=True, seed=1))
    shuffled_tgt = target.with_interactions(target.interactions.sample(fraction=1.0, shuffle=True, seed=2))
    d = fill_target_only_items(shuffled_syn, shuffled_tgt, pool[::-1].copy(), seed=7)
    assert added_part(d, synthetic).equals(added_part(a, synthetic))
    # external ids as a Series give the same result as dense ids
    e = fill_target_only_items(synthetic, target, pl.Series("item", pool.tolist()), seed=7)
    assert e.interactions.equals(a.interactions)


def test_added_rows_catalogue_times_ratings_and_other_columns() -> None:
    genres = [["A"], ["B"], ["A"], ["B"], ["A"], ["B"]]
    extra = {"event": ["view", "buy", "view", "view", "buy", "view"]}
    synthetic = log([0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2], 6, genres, extra=extra)
    # user 0: times 1000, 1010, 1020, ratings 1, 2, 3 (median 2); user 1: 1030..1050, ratings 4, 5, 1 (median 4)
    target = log([0, 1, 2], [3, 4, 5], 6, genres, name="target")
    out = fill_target_only_items(synthetic, target, np.array([3, 4, 5]), share=0.5, seed=9)
    assert out.item_ids.equals(synthetic.item_ids) and out.items.equals(synthetic.items)  # type: ignore[union-attr]
    assert out.user_ids.equals(synthetic.user_ids)
    assert out.interactions.schema == synthetic.interactions.schema
    assert out.interactions.slice(0, 6).equals(synthetic.interactions)  # the pool's rows kept as they were
    new = added_part(out, synthetic)
    assert new.height == 6 and PROVENANCE not in new.columns  # q = 1: 3 each, no provenance column made up
    for user, (lo, hi), median in ((0, (1000, 1020), 2.0), (1, (1030, 1050), 4.0)):
        rows = new.filter(pl.col("user") == user)
        assert rows["timestamp"].is_between(lo, hi).all()
        assert rows["rating"].to_list() == [median] * 3
    assert new["event"].is_null().all()
    # a pool with a provenance column gets True on the added rows
    marked = synthetic.with_interactions(synthetic.interactions.with_columns(pl.lit(True).alias(PROVENANCE)))
    out2 = fill_target_only_items(marked, target, np.array([3, 4, 5]), share=0.5, seed=9)
    assert added_part(out2, marked)[PROVENANCE].to_list() == [True] * 6
    # without timestamps or ratings: appended after the user's rows, no such columns
    bare = log([0, 0], [0, 1], 6, genres, times=False, ratings=False)
    out3 = fill_target_only_items(bare, target, np.array([3, 4, 5]), share=0.5, seed=9)
    assert out3.interactions.columns == ["user", "item"] and out3.n_interactions == 4


def test_errors_are_clear() -> None:
    genres = [["A"]] * 4
    synthetic = log([0, 0], [0, 1], 4, genres)
    target = log([0], [2], 4, genres, name="target")
    with pytest.raises(DataValidationError, match="different item catalogues"):
        fill_target_only_items(synthetic, log([0], [2], 5, [["A"]] * 5), np.array([3]), seed=0)
    with pytest.raises(UnknownIdError):
        fill_target_only_items(synthetic, target, pl.Series("item", [99]), seed=0)
    with pytest.raises(DataValidationError, match="dense ids"):
        fill_target_only_items(synthetic, target, np.array([4]), seed=0)
    with pytest.raises(ConfigError, match="share"):
        fill_target_only_items(synthetic, target, np.array([3]), share=1.0, seed=0)
    with pytest.raises(ConfigError, match="similarity_weight"):
        fill_target_only_items(synthetic, target, np.array([3]), similarity_weight=-1.0, seed=0)
    with pytest.raises(DataValidationError, match="missing") as err:
        fill_target_only_items(synthetic, target, np.array([3]), attribute="tags", seed=0)
    assert "tags" in str(err.value)
    plain_syn, plain_tgt = log([0, 0], [0, 1], 4), log([0], [2], 4, name="target")
    with pytest.raises(DataValidationError, match="no items table"):
        fill_target_only_items(plain_syn, plain_tgt, np.array([3]), seed=0)
    out = fill_target_only_items(plain_syn, plain_tgt, np.array([2, 3]), attribute=None, share=0.5, seed=0)
    assert out.n_interactions == 4
