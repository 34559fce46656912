"""Tests of `ItemWalkGenerator` (synthrec.generators.item_walk) and its sampler `synthrec.generators._walk`.

The sensitivity of the DP Gram release it uses (`_latent_factor_dp.normalised_gram`: one user moves the
released vector by exactly 1 in L2, whatever her number of items) is tested in
tests/test_latent_factor_dp.py (`test_one_user_moves_the_released_vector_by_at_most_one`,
`test_neighbouring_logs_differ_by_at_most_sensitivity_one`, k = 1, 2, 50 items); here its ledger entry is
checked, and k = 3, 10 are added next to the popularity release's own unit-norm check.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, NotFittedError
from synthrec.generators import GENERATORS, _walk, make_generator
from synthrec.generators._walk import WalkModel, walk
from synthrec.generators.item_walk import ItemWalkGenerator, ease_weights, pairs_above_noise
from synthrec.privacy import PrivacyGuarantee

LEVELS = (1.0, 2.0, 4.0, 5.0)  # no 3: a sampled 3 would be a rating the log never had

# ---------------------------------------------------------------------------------------- fixtures


def two_group_log(
    n_users: int = 300, n_items: int = 30, *, seed: int = 0, time: bool = True, rating: bool = True,
) -> InteractionData:
    """Two disjoint taste groups: even users pick 3..10 items among i0..i14, odd users among i15..i29."""
    rng = np.random.default_rng(seed)
    half = n_items // 2
    users: list[str] = []
    items: list[str] = []
    for u in range(n_users):
        k = int(rng.integers(3, 11))
        block = np.arange(half) + (u % 2) * half
        users += [f"u{u}"] * k
        items += [f"i{j}" for j in rng.choice(block, k, replace=False)]
    cols: dict[str, object] = {"user": users, "item": items}
    n = len(users)
    if time:
        cols["ts"] = 1_000_000_000 + np.arange(n) * 100 + rng.integers(0, 50, n)
    if rating:
        cols["rating"] = rng.choice(LEVELS, n)
    return InteractionData.from_frame(
        pl.DataFrame(cols), rating_col="rating" if rating else None, time_col="ts" if time else None,
        name="two-groups",
    )


def group_of(data: InteractionData) -> np.ndarray:
    """Group (0 / 1) of every dense item id: dense ids follow first appearance, so map via external ids."""
    return np.array([int(str(x)[1:]) >= data.n_items // 2 for x in data.item_ids.to_list()], dtype=np.int64)


def within_group_share(sample: InteractionData, group: np.ndarray) -> float:
    """Share of a sample's within-user item pairs whose two items are in the same group."""
    ints = sample.interactions
    users = ints["user"].to_numpy()
    in_b = group[ints["item"].to_numpy()]
    k = np.bincount(users)
    b = np.bincount(users, weights=in_b, minlength=len(k))
    a = k - b
    same = (a * (a - 1) + b * (b - 1)) / 2
    total = k * (k - 1) / 2
    return float(same.sum() / total.sum())


def no_duplicate_pairs(data: InteractionData) -> bool:
    return not data.interactions.select("user", "item").is_duplicated().any()


@pytest.fixture(scope="module")
def log() -> InteractionData:
    return two_group_log()


@pytest.fixture(scope="module")
def fitted(log: InteractionData) -> ItemWalkGenerator:
    return ItemWalkGenerator().fit(log)


@pytest.fixture(scope="module")
def dp_fitted(log: InteractionData) -> ItemWalkGenerator:
    return ItemWalkGenerator(epsilon=1.0, delta=1e-5, seed=3).fit(log)


# ---------------------------------------------------------------------------------------- ease_weights


def test_ease_weights_hand_computed_3x3() -> None:
    # G + λI = [[3,1,0],[1,3,1],[0,1,3]]; column j is the ridge regression of item j on the other two:
    # j=0: [[3,1],[1,3]]⁻¹ [1,0] = [3/8, −1/8]; j=1: (3I)⁻¹ [1,1] = [1/3, 1/3]; j=2 mirrors j=0
    gram = np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 2.0]])
    before = gram.copy()
    b = ease_weights(gram, 1.0)
    expected = np.array([[0.0, 1 / 3, -1 / 8],
                         [3 / 8, 0.0, 3 / 8],
                         [-1 / 8, 1 / 3, 0.0]])
    np.testing.assert_allclose(b, expected, atol=1e-12)
    assert np.all(np.diag(b) == 0.0)
    assert b.dtype == np.float64 and np.array_equal(gram, before)  # input untouched


@pytest.mark.parametrize("l2", [0.5, 3.0, 50.0])
def test_ease_weights_equal_per_column_ridge_regressions(l2: float) -> None:
    # EASE's columns decouple: B[-j, j] = argmin ‖x_j − X_{-j} β‖² + λ‖β‖², solved here by lstsq on the
    # augmented system [X_{-j}; √λ I] β = [x_j; 0], independently of the closed form under test
    rng = np.random.default_rng(7)
    x = (rng.random((40, 5)) < 0.4).astype(float)
    b = ease_weights(x.T @ x, l2)
    for j in range(5):
        rest = [i for i in range(5) if i != j]
        a = np.vstack([x[:, rest], math.sqrt(l2) * np.eye(4)])
        y = np.r_[x[:, j], np.zeros(4)]
        beta, *_ = np.linalg.lstsq(a, y, rcond=None)
        np.testing.assert_allclose(b[rest, j], beta, rtol=1e-9, atol=1e-12)
        assert b[j, j] == 0.0


# ---------------------------------------------------------------------------------------- walk


def _model(bias: np.ndarray, weights: np.ndarray | None = None, scale: float = 1.0,
           modelled: np.ndarray | None = None) -> WalkModel:
    m = len(bias)
    if modelled is None:
        modelled = np.arange(m)
    if weights is None:
        weights = np.zeros((len(modelled), len(modelled)))
    return WalkModel(np.asarray(bias, np.float32), np.asarray(weights, np.float32),
                     np.asarray(modelled, np.int64), float(scale))


def _first_items(rows: np.ndarray, items: np.ndarray) -> np.ndarray:
    starts = np.r_[True, rows[1:] != rows[:-1]]
    return items[starts]


def test_walk_first_item_follows_softmax_of_bias_at_scale_zero() -> None:
    bias = np.log(np.array([40.0, 20.0, 10.0, 10.0, 5.0, 1.0]))
    w = np.random.default_rng(0).normal(0, 5, (6, 6))  # ignored at scale 0
    np.fill_diagonal(w, 0.0)
    n = 4000
    rows, items, _ = walk(_model(bias, w, scale=0.0), np.full(n, 3), np.random.default_rng(11))
    first = _first_items(rows, items)
    assert len(first) == n
    p = np.exp(bias) / np.exp(bias).sum()
    observed = np.bincount(first, minlength=6)
    assert stats.chisquare(observed, n * p).pvalue > 1e-3
    # and a per-item tolerance of 4 binomial sd
    assert np.all(np.abs(observed - n * p) <= 4 * np.sqrt(n * p * (1 - p)))


def test_walk_scale_zero_rejects_a_wrong_distribution() -> None:
    # the check above can fail: the same draws are far from a uniform first-item distribution
    bias = np.log(np.array([40.0, 20.0, 10.0, 10.0, 5.0, 1.0]))
    rows, items, _ = walk(_model(bias, scale=0.0), np.full(4000, 2), np.random.default_rng(11))
    observed = np.bincount(_first_items(rows, items), minlength=6)
    assert stats.chisquare(observed, np.full(6, 4000 / 6)).pvalue < 1e-6


def test_walk_attracting_pairs_follow_each_other() -> None:
    # item 1 is rare, but 0↔1 and 2↔3 attract strongly: after drawing 0, a user draws 1 next
    counts = np.array([30.0, 5.0, 20.0, 5.0, 20.0, 20.0])
    w = np.zeros((6, 6))
    w[0, 1] = w[1, 0] = w[2, 3] = w[3, 2] = 8.0
    rows, items, _ = walk(_model(np.log(counts), w), np.full(3000, 2), np.random.default_rng(2))
    first, second = items[0::2], items[1::2]
    assert np.array_equal(rows[0::2], rows[1::2])
    after0 = second[first == 0]
    after2 = second[first == 2]
    after4 = second[first == 4]
    assert len(after0) > 300 and len(after2) > 300 and len(after4) > 300
    popularity_1 = counts[1] / (counts.sum() - counts[0])  # ≈ 0.07: what popularity alone says
    assert np.mean(after0 == 1) > 0.9 > 5 * popularity_1
    assert np.mean(after2 == 3) > 0.9
    assert np.mean(after4 == 1) < 0.15 and np.mean(after4 == 3) < 0.15  # no attraction from item 4


def test_walk_rows_lengths_no_repeats_and_logits() -> None:
    rng = np.random.default_rng(3)
    m = 12
    bias = rng.normal(0, 1, m)
    w = rng.normal(0, 1, (m, m))
    np.fill_diagonal(w, 0.0)
    model = _model(bias, w, scale=0.7)
    lengths = rng.integers(0, m + 1, 150)
    lengths[:3] = [0, m, 1]
    rows, items, logit = walk(model, lengths, np.random.default_rng(4))
    assert rows.dtype == np.int64 and items.dtype == np.int64 and logit.dtype == np.float32
    assert len(rows) == len(items) == len(logit) == lengths.sum()
    assert np.all(np.diff(rows) >= 0)  # user-major
    assert np.array_equal(np.bincount(rows, minlength=len(lengths)), lengths)  # exactly the lengths
    assert sorted(items[rows == 1].tolist()) == list(range(m))  # a full-catalogue user draws everything
    for u in np.unique(rows):
        its = items[rows == u]
        assert len(set(its.tolist())) == len(its)  # no repeat
        # walk order: the logit of step t is b_i + a · Σ_{s<t} W[i_s, i]
        hist = np.cumsum(np.vstack([np.zeros(m), w[its[:-1]]]), axis=0)
        expected = bias[its] + 0.7 * hist[np.arange(len(its)), its]
        np.testing.assert_allclose(logit[rows == u], expected, rtol=1e-4, atol=1e-4)
        assert logit[rows == u][0] == np.float32(bias[its[0]])  # the first item: exactly the bias


def test_walk_zero_full_and_too_long_lengths() -> None:
    m = 5
    model = _model(np.zeros(m), scale=1.0)
    rows, items, logit = walk(model, np.zeros(4, np.int64), np.random.default_rng(0))
    assert len(rows) == len(items) == len(logit) == 0
    rows, items, _ = walk(model, np.array([], np.int64), np.random.default_rng(0))
    assert len(rows) == 0
    rows, items, _ = walk(model, np.array([0, m, 0, m]), np.random.default_rng(0))
    assert rows.tolist() == [1] * m + [3] * m
    assert sorted(items[:m].tolist()) == sorted(items[m:].tolist()) == list(range(m))
    with pytest.raises(ValueError, match="lengths"):
        walk(model, np.array([2, m + 1]), np.random.default_rng(0))
    with pytest.raises(ValueError, match="lengths"):
        walk(model, np.array([-1]), np.random.default_rng(0))


def test_walk_partial_model_equals_zero_padded_full_model() -> None:
    # items outside W only have their bias: the partial path (np.ix_) must add exactly what a full W,
    # zero outside the modelled rows and columns, adds — same draws, same output
    rng = np.random.default_rng(5)
    m, modelled = 9, np.array([1, 4, 5, 8])
    bias = rng.normal(0, 1, m)
    w = rng.normal(0, 2, (4, 4))
    np.fill_diagonal(w, 0.0)
    full = np.zeros((m, m))
    full[np.ix_(modelled, modelled)] = w
    lengths = rng.integers(0, m + 1, 80)
    a = walk(_model(bias, w, 1.3, modelled), lengths, np.random.default_rng(6))
    b = walk(_model(bias, full, 1.3), lengths, np.random.default_rng(6))
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)


def test_walk_is_deterministic_per_seed_and_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    m = 10
    bias = np.log(np.arange(1, m + 1, dtype=float))
    w = rng.normal(0, 1, (m, m))
    np.fill_diagonal(w, 0.0)
    model = _model(bias, w, 0.5)
    lengths = np.r_[np.full(500, 1), rng.integers(0, m + 1, 300)]
    default = walk(model, lengths, np.random.default_rng(9))
    again = walk(model, lengths, np.random.default_rng(9))
    other = walk(model, lengths, np.random.default_rng(10))
    assert all(np.array_equal(x, y) for x, y in zip(default, again, strict=True))
    assert not np.array_equal(default[1], other[1])
    # chunking changes the order of the random draws, so the output is NOT the same across chunk sizes;
    # what holds: each chunk size is deterministic, the layout (rows) is the same, and so is the law
    for cells in (7 * m, 1):  # 7 users per chunk; and one user per chunk (CHUNK_CELLS < m)
        monkeypatch.setattr(_walk, "CHUNK_CELLS", cells)
        small = walk(model, lengths, np.random.default_rng(9))
        small_again = walk(model, lengths, np.random.default_rng(9))
        assert all(np.array_equal(x, y) for x, y in zip(small, small_again, strict=True))
        assert np.array_equal(small[0], default[0])
        first_small = _first_items(small[0], small[1])
        first_default = _first_items(default[0], default[1])
        table = np.vstack([np.bincount(first_small, minlength=m), np.bincount(first_default, minlength=m)])
        table = table[:, table.sum(axis=0) > 0]
        assert stats.chi2_contingency(table).pvalue > 1e-3
        for u in np.unique(small[0]):  # still no repeats within a user
            its = small[1][small[0] == u]
            assert len(set(its.tolist())) == len(its)


# ---------------------------------------------------------------------------------------- exact fit


def test_registered_and_repr(fitted: ItemWalkGenerator) -> None:
    assert GENERATORS["item-walk"] is ItemWalkGenerator
    assert "fitted" in repr(fitted) and "not fitted" in repr(ItemWalkGenerator())
    with pytest.raises(NotFittedError):
        ItemWalkGenerator().sample(3, seed=0)


def test_exact_fit_keeps_the_two_groups(log: InteractionData, fitted: ItemWalkGenerator) -> None:
    group = group_of(log)
    assert within_group_share(log, group) == 1.0
    syn = fitted.sample(600, seed=1)
    # random pairs over 30 items: 14/29 ≈ 0.48 within a group
    assert within_group_share(syn, group) > 0.9
    # the structure comes from W: with the history term switched (almost) off, pairs fall to the baseline
    flat = ItemWalkGenerator(affinity_scale=1e-6).fit(log).sample(600, seed=1)
    assert abs(within_group_share(flat, group) - 14 / 29) < 0.06
    assert fitted.fit_report_["modelled_items"] == 30 and fitted.walk_.weights.shape == (30, 30)
    assert np.all(np.diag(fitted.walk_.weights) == 0.0)


def test_exact_fit_activity_matches(log: InteractionData, fitted: ItemWalkGenerator) -> None:
    real = log.interactions.group_by("user").len()["len"].to_numpy()
    syn = fitted.sample(2000, seed=2).interactions.group_by("user").len()["len"].to_numpy()
    assert len(syn) == 2000  # every synthetic user has at least one item
    assert abs(syn.mean() - real.mean()) < 0.1 * real.mean()
    assert syn.min() >= real.min() - 1 and syn.max() <= real.max() + 1


def test_sample_output_shape(log: InteractionData, fitted: ItemWalkGenerator) -> None:
    syn = fitted.sample(200, seed=3)
    assert syn.item_ids.equals(log.item_ids)
    assert syn.user_ids.to_list() == [f"syn-{u}" for u in range(200)]
    assert syn.interactions.columns == ["user", "item", "timestamp", "rating"]
    assert no_duplicate_pairs(syn)
    users = syn.interactions["user"].to_numpy()
    assert np.all(np.diff(users) >= 0)  # user-major
    ts = syn.interactions["timestamp"].to_numpy()
    same_user = users[1:] == users[:-1]
    assert np.all(np.diff(ts)[same_user] > 0)  # strictly increasing within a user
    assert set(np.unique(syn.interactions["rating"].to_numpy()).tolist()) <= set(LEVELS)
    assert len(np.unique(syn.interactions["rating"].to_numpy())) >= 2


def test_sample_without_time_and_rating() -> None:
    data = two_group_log(120, time=False, rating=False)
    syn = ItemWalkGenerator().fit(data).sample(50, seed=0)
    assert syn.interactions.columns == ["user", "item"]
    assert no_duplicate_pairs(syn) and syn.n_users == 50


def test_sample_determinism_and_batches(fitted: ItemWalkGenerator) -> None:
    a = fitted.sample(100, seed=5)
    assert a.interactions.equals(fitted.sample(100, seed=5).interactions)
    assert not a.interactions.equals(fitted.sample(100, seed=6).interactions)
    (one,) = list(fitted.sample_batches(100, batch_users=100, seed=5))
    assert one.interactions.equals(a.interactions) and one.user_ids.equals(a.user_ids)
    # a batch depends only on (seed, batch_users, b): the first three batches of 30 are the same whether
    # 100 or 200 users are asked for; user ids are offset per batch
    short = list(fitted.sample_batches(100, batch_users=30, seed=5))
    long = list(fitted.sample_batches(200, batch_users=30, seed=5))
    assert [p.n_users for p in short] == [30, 30, 30, 10] and len(long) == 7
    for b in range(3):
        assert short[b].interactions.equals(long[b].interactions)
        assert short[b].user_ids.to_list() == [f"syn-{30 * b + u}" for u in range(30)]
    assert not short[0].interactions.equals(short[1].interactions)
    assert fitted.sample(0, seed=0).n_interactions == 0


def test_save_load_round_trip(tmp_path: Path, fitted: ItemWalkGenerator) -> None:
    path = tmp_path / "walk.pkl"
    fitted.save(path)
    back = ItemWalkGenerator.load(path)
    assert isinstance(back, ItemWalkGenerator)
    assert back.sample(80, seed=4).interactions.equals(fitted.sample(80, seed=4).interactions)


def test_max_items_keeps_the_most_frequent() -> None:
    # item i{j} is used by 20 − j users (distinct counts), so the 5 modelled items are i0..i4
    users, items = [], []
    for j in range(12):
        for u in range(20 - j):
            users.append(f"u{u}")
            items.append(f"i{j}")
    data = InteractionData.from_frame(pl.DataFrame({"user": users, "item": items}))
    gen = make_generator("item-walk", max_items=5)
    assert isinstance(gen, ItemWalkGenerator) and gen.max_items == 5
    gen.fit(data)
    assert gen.fit_report_["modelled_items"] == 5 and gen.walk_.weights.shape == (5, 5)
    ext = data.item_ids.to_list()
    assert sorted(ext[i] for i in gen.walk_.modelled) == [f"i{j}" for j in range(5)]
    syn = gen.sample(100, seed=0)
    assert no_duplicate_pairs(syn) and syn.item_ids.equals(data.item_ids)


@pytest.mark.parametrize("kwargs", [
    {"l2": 0}, {"l2": -1.0}, {"affinity_scale": -1}, {"affinity_scale": 0.0}, {"max_items": 1},
    {"max_items": 2.5}, {"epsilon": 0}, {"epsilon": -1.0}, {"delta": 2}, {"delta": 0.0},
    {"dp_l2": 0.0}, {"seed": -1}, {"l2": float("nan")}, {"dp_gram": "cols"}, {"affinity_scale": 1e7},
])
def test_bad_params_raise_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        make_generator("item-walk", **kwargs)
    with pytest.raises(ConfigError):
        ItemWalkGenerator(**kwargs)  # type: ignore[arg-type]


def test_unknown_param_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="max_items"):
        make_generator("item-walk", max_itms=5)


# ---------------------------------------------------------------------------------------- DP fit


def test_dp_privacy_spends_nearly_all_the_budget(dp_fitted: ItemWalkGenerator) -> None:
    info = dp_fitted.privacy
    assert 0.9 < info.epsilon <= 1.0 + 1e-6
    assert info.delta == 1e-5
    assert dp_fitted.is_private and dp_fitted.fit_report_["privacy"]["delta"] == 1e-5  # type: ignore[index]
    exact = ItemWalkGenerator().fit(two_group_log(60))
    assert exact.privacy == PrivacyGuarantee.none() and not exact.privacy.is_dp


def test_dp_ledger_entries_and_sensitivities(dp_fitted: ItemWalkGenerator) -> None:
    ledger = dp_fitted.privacy_ledger_
    assert ledger is not None and not ledger.pure
    by_name = {e.name: e for e in ledger.gaussian}
    assert len(by_name) == len(ledger.gaussian)  # each release once
    assert set(by_name) == {"item_counts", "item_gram", "activity_hist", "mean_rating_hist", "rating_table",
                            "start_coarse_hist", "start_hist", "tempo_hist", "span_hist", "gap_hist"}
    assert by_name["item_counts"].sensitivity == 1.0  # Σ_u x_u / ‖x_u‖₂: unit rows, no cap on items
    assert by_name["item_gram"].sensitivity == 1.0  # `pair_gram`: each user's pairs weighted to unit norm
    assert all(e.noise_multiplier > 0 and e.sample_rate == 1.0 and e.steps == 1 for e in ledger.gaussian)
    # the Gram's largest share of ρ gives it the smallest noise multiplier
    assert by_name["item_gram"].noise_multiplier == min(e.noise_multiplier for e in ledger.gaussian)
    # pair_gram: noise sd σ on every off-diagonal entry (the rows release puts σ/√2 there)
    assert dp_fitted.fit_report_["gram_noise_sd"] == pytest.approx(by_name["item_gram"].noise_multiplier)


def test_dp_fit_without_time_and_rating() -> None:
    data = two_group_log(200, time=False, rating=False)
    gen = ItemWalkGenerator(epsilon=1.0, delta=1e-6, seed=0).fit(data)
    assert gen.privacy_ledger_ is not None
    assert {e.name for e in gen.privacy_ledger_.gaussian} == {"item_counts", "item_gram", "activity_hist"}
    assert 0.9 < gen.privacy.epsilon <= 1.0 + 1e-6
    assert gen.privacy.delta == 1e-6
    syn = gen.sample(100, seed=0)
    assert syn.interactions.columns == ["user", "item"]
    assert no_duplicate_pairs(syn) and syn.item_ids.equals(data.item_ids) and syn.n_users == 100


def test_dp_sample_output(log: InteractionData, dp_fitted: ItemWalkGenerator) -> None:
    syn = dp_fitted.sample(150, seed=0)
    assert syn.item_ids.equals(log.item_ids) and syn.user_ids[0] == "syn-0"
    assert syn.interactions.columns == ["user", "item", "timestamp", "rating"]
    assert no_duplicate_pairs(syn)
    users = syn.interactions["user"].to_numpy()
    assert np.all(np.diff(syn.interactions["timestamp"].to_numpy())[users[1:] == users[:-1]] > 0)
    assert set(np.unique(syn.interactions["rating"].to_numpy()).tolist()) <= set(LEVELS)


def test_dp_fit_depends_on_seed(log: InteractionData) -> None:
    a = ItemWalkGenerator(epsilon=8.0, delta=1e-5, seed=0).fit(log)
    b = ItemWalkGenerator(epsilon=8.0, delta=1e-5, seed=0).fit(log)
    c = ItemWalkGenerator(epsilon=8.0, delta=1e-5, seed=1).fit(log)
    assert np.array_equal(a.walk_.weights, b.walk_.weights) and np.array_equal(a.walk_.bias, b.walk_.bias)
    assert a.walk_.weights.shape == c.walk_.weights.shape == (30, 30)  # ε = 8: every item is signal
    assert not np.allclose(a.walk_.weights, c.walk_.weights)


def test_dp_fit_at_large_epsilon_keeps_the_groups(log: InteractionData) -> None:
    gen = ItemWalkGenerator(epsilon=8.0, delta=1e-5, seed=0).fit(log)
    assert within_group_share(gen.sample(400, seed=1), group_of(log)) > 0.75


def test_pairs_above_noise_hand_counted() -> None:
    """Only the strict upper triangle counts, strictly above threshold_sd × noise_sd; chance is
    M (M − 1) / 2 · P(N(0, 1) > threshold_sd)."""
    released = np.array([[9.0, 3.5, -4.0],
                         [3.5, 9.0, 3.0],
                         [-4.0, 3.0, 9.0]])
    above, chance = pairs_above_noise(released, 1.0)  # 3 sd of 1.0: 3.5 passes, 3.0 does not, -4.0 does not
    assert above == 1
    assert chance == pytest.approx(3 * stats.norm.sf(3.0))
    assert pairs_above_noise(released, 0.5, threshold_sd=2.0)[0] == 2  # threshold 1.0: 3.5 and 3.0
    assert pairs_above_noise(released, 2.0, threshold_sd=1.5)[0] == 1  # threshold 3.0: 3.0 is not above it


def test_dp_fit_reports_pairs_above_noise(log: InteractionData) -> None:
    """Two strong taste groups at ε = 8: many pairs stand above the noise, far more than chance would put
    there; at ε = 0.5 on the same log, far fewer."""
    strong = ItemWalkGenerator(epsilon=8.0, delta=1e-5, seed=0).fit(log).fit_report_
    weak = ItemWalkGenerator(epsilon=0.5, delta=1e-5, seed=0).fit(log).fit_report_
    m = strong["modelled_items"]
    assert strong["pairs_above_noise_by_chance"] == pytest.approx(m * (m - 1) / 2 * stats.norm.sf(3.0))
    assert strong["pairs_above_noise"] > 20 * strong["pairs_above_noise_by_chance"]
    assert weak["pairs_above_noise"] < strong["pairs_above_noise"]


def test_dp_model_holds_no_per_user_data() -> None:
    # same 30 items, 10× the users: the fitted model's size must not grow with the users (max_items=2
    # fixes the size of the item model, which under DP depends on how many items are signal)
    sizes = []
    for n in (300, 3000):
        gen = ItemWalkGenerator(epsilon=1.0, delta=1e-5, max_items=2, seed=0).fit(two_group_log(n))
        assert gen.walk_.weights.shape == (2, 2)
        sizes.append(len(pickle.dumps(gen)))
    assert abs(sizes[1] - sizes[0]) <= 0.02 * sizes[0]


@pytest.mark.parametrize("k", [1, 3, 10])
def test_one_user_moves_the_popularity_release_by_exactly_one(k: int) -> None:
    # the DP popularity release is t = Σ_u x_u / √n_u (x_u binary, n_u her distinct items): one user adds
    # x_u / √n_u, whose L2 norm is √(n_u / n_u) = 1 whatever n_u — the sensitivity the ledger records
    x = np.zeros(50)
    x[np.random.default_rng(k).choice(50, k, replace=False)] = 1.0
    assert np.linalg.norm(x / np.sqrt(x.sum())) == pytest.approx(1.0, rel=1e-12)
    # and so does her contribution to the released Gram vector (diag, √2 × upper off-diagonal of z zᵀ)
    z = x / np.linalg.norm(x)
    r, c = np.triu_indices(50)
    assert np.linalg.norm(np.outer(z, z)[r, c] * np.where(r == c, 1.0, np.sqrt(2.0))) == pytest.approx(1.0)


def test_dp_popularity_is_the_normalised_item_sum_at_large_epsilon() -> None:
    # with negligible noise, exp(b_i) − ½ = t_i · Σ n / Σ √n: the released statistic is t_i = Σ_{u∋i} 1/√n_u
    # (not raw counts), rescaled to counts by the (released) activity distribution
    data = two_group_log(300, time=False, rating=False)
    ints = data.interactions
    users, items = ints["user"].to_numpy(), ints["item"].to_numpy()
    n_u = np.bincount(users).astype(float)
    t = np.bincount(items, weights=1.0 / np.sqrt(n_u[users]), minlength=data.n_items)
    gen = ItemWalkGenerator(epsilon=1e5, delta=1e-5, seed=0, calibration_rounds=0).fit(data)
    ratio = (np.exp(gen.walk_.bias.astype(np.float64)) - 0.5) / t
    assert ratio.max() / ratio.min() < 1.005
    assert ratio.mean() == pytest.approx(n_u.mean() / np.sqrt(n_u).mean(), rel=0.1)


def test_dp_rows_release_is_the_alternative_gram() -> None:
    data = two_group_log(300, time=False, rating=False)
    gen = ItemWalkGenerator(epsilon=8.0, dp_gram="rows", seed=0).fit(data)
    by_name = {e.name: e for e in gen.privacy_ledger_.gaussian}  # type: ignore[union-attr]
    assert by_name["item_gram"].sensitivity == 1.0
    # Analyze Gauss on unit rows: σ on the released vector is σ/√2 on an off-diagonal entry
    assert gen.fit_report_["gram_noise_sd"] == pytest.approx(by_name["item_gram"].noise_multiplier / math.sqrt(2))
    assert gen.privacy.epsilon <= 8.0 + 1e-6
    assert no_duplicate_pairs(gen.sample(50, seed=1))


def test_calibration_brings_item_counts_toward_the_real_ones() -> None:
    data = two_group_log(400, time=False, rating=False)
    real = np.bincount(data.interactions["item"].to_numpy(), minlength=data.n_items).astype(float)

    def l1(gen: ItemWalkGenerator) -> float:
        syn = gen.sample(4000, seed=5)
        c = np.bincount(syn.interactions["item"].to_numpy(), minlength=data.n_items).astype(float)
        return float(np.abs(c / c.sum() - real / real.sum()).sum())

    raw = ItemWalkGenerator(calibration_rounds=0, affinity_scale=64.0).fit(data)
    raked = ItemWalkGenerator(calibration_rounds=4, affinity_scale=64.0).fit(data)
    assert raked.fit_report_["calibration_l1"][0] > raked.fit_report_["calibration_l1"][-1]
    assert l1(raked) < l1(raw)
    assert "calibration_l1" in raw.fit_report_ and raw.fit_report_["calibration_l1"] == []


def test_a_singular_gram_names_l2() -> None:
    with pytest.raises(ConfigError, match="l2"):
        ease_weights(-np.eye(3), 1.0)  # G + λI = 0


def test_item_walk_is_exported_like_latent_factor() -> None:
    import synthrec.generators as gens

    assert gens.ItemWalkGenerator is ItemWalkGenerator and "ItemWalkGenerator" in gens.__all__


@pytest.mark.parametrize("name", ["item-walk", "latent-factor"])
@pytest.mark.parametrize("bad", [5, "1,2,3", [1, "x"], [], [1.0, float("nan")]])
def test_rating_levels_must_be_a_list_of_numbers(name: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=r"rating_levels must be a list of numbers, e\.g\. \[1, 2, 3, 4, 5\]"):
        make_generator(name, rating_levels=bad)
    assert make_generator(name, rating_levels=[1, 2, 3]).rating_levels == (1.0, 2.0, 3.0)  # type: ignore[attr-defined]
