"""SequenceGenerator: exact lengths and strictly increasing times (P12), determinism, persistence."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError, NotFittedError
from synthrec.generators.registry import make_generator
from synthrec.generators.sequence import SequenceGenerator

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

TINY = dict(dim=8, hidden=16, n_mixture=2, batch_size=32)
DAY = 86_400


def _daily() -> InteractionData:
    """P12: 2 users × 5 daily events."""
    t0 = 1_600_000_000
    frame = pl.DataFrame({
        "user": ["a"] * 5 + ["b"] * 5,
        "item": [f"i{j}" for j in range(5)] + [f"i{j}" for j in range(3, 8)],
        "t": [t0 + j * DAY for j in range(5)] + [t0 + 3 * DAY + j * DAY for j in range(5)],
    })
    return InteractionData.from_frame(frame, time_col="t", name="daily")


def _cycle(n_users: int = 60, n_items: int = 8, seed: int = 0) -> InteractionData:
    """No timestamps; each user walks 0 → 1 → … (mod n_items) from a random start, 3-7 events."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        s, n = int(rng.integers(n_items)), int(rng.integers(3, 8))
        users += [u] * n
        items += [(s + j) % n_items for j in range(n)]
    return InteractionData.from_frame(pl.DataFrame({"user": users, "item": items}), name="cycle",
                                      row_order_is_time=True)


@pytest.fixture(scope="module")
def daily_gen() -> SequenceGenerator:
    return SequenceGenerator(epochs=2, allow_repeats=True, seed=0, **TINY).fit(_daily())


@pytest.fixture(scope="module")
def cycle_gen() -> SequenceGenerator:
    return SequenceGenerator(epochs=60, lr=0.02, seed=0, **TINY).fit(_cycle())


def test_p12_exact_lengths_strictly_increasing_times_no_pile_up(daily_gen: SequenceGenerator) -> None:
    real = _daily()
    daily_gen.fixed_length = 25
    try:
        syn = daily_gen.sample(3, seed=0)
    finally:
        daily_gen.fixed_length = None
    df = syn.interactions
    assert df.group_by("user").len().sort("user")["len"].to_list() == [25, 25, 25]
    assert syn.n_users == 3 and df["user"].to_list() == sorted(df["user"].to_list())  # user-major rows
    t = df["timestamp"].to_numpy()
    u = df["user"].to_numpy()
    same = u[1:] == u[:-1]
    assert (np.diff(t)[same] >= 1).all()  # strictly increasing within each user
    real_max = int(real.interactions["timestamp"].max())  # type: ignore[arg-type]
    assert (t == real_max).sum() <= 1  # nothing is clipped onto the real maximum
    assert len(np.unique(t[t >= real_max])) == (t >= real_max).sum()


def test_drawn_lengths_follow_the_real_activity(cycle_gen: SequenceGenerator) -> None:
    syn = cycle_gen.sample(300, seed=1)
    lengths = syn.interactions.group_by("user").len()["len"].to_numpy()
    assert len(lengths) == 300 and lengths.min() >= 3 and lengths.max() <= 7
    assert abs(lengths.mean() - 5.0) < 0.6


def test_no_repeats_unless_allowed_and_fixed_length_checked(cycle_gen: SequenceGenerator) -> None:
    syn = cycle_gen.sample(100, seed=2)
    assert syn.interactions.unique(["user", "item"]).height == syn.n_interactions
    cycle_gen.fixed_length = 9  # more than the 8 items, without repeats
    try:
        with pytest.raises(ConfigError, match="allow_repeats"):
            cycle_gen.sample(2, seed=0)
    finally:
        cycle_gen.fixed_length = None


def test_learns_the_order_of_the_real_sequences(cycle_gen: SequenceGenerator) -> None:
    syn = cycle_gen.sample(200, seed=3)
    assert "timestamp" not in syn.interactions.columns  # the input had none
    ext = syn.item_ids.to_numpy()[syn.interactions["item"].to_numpy()]
    u = syn.interactions["user"].to_numpy()
    same = u[1:] == u[:-1]
    follows = (ext[1:] == (ext[:-1] + 1) % 8)[same]
    assert follows.mean() > 0.7  # a random order would give 1/7


def test_same_seed_same_output_and_batches_agree(cycle_gen: SequenceGenerator) -> None:
    a, b = cycle_gen.sample(50, seed=4), cycle_gen.sample(50, seed=4)
    assert a.interactions.equals(b.interactions)
    assert not a.interactions.equals(cycle_gen.sample(50, seed=5).interactions)
    parts = list(cycle_gen.sample_batches(50, batch_users=20, seed=4))
    assert [p.n_users for p in parts] == [20, 20, 10]
    assert parts[1].user_ids[0] == "syn-20"


def test_fit_is_deterministic() -> None:
    data = _cycle(n_users=20)
    a = SequenceGenerator(epochs=2, seed=1, **TINY).fit(data)
    b = SequenceGenerator(epochs=2, seed=1, **TINY).fit(data)
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)  # NaN gap loss: no time column
    assert a.sample(10, seed=0).interactions.equals(b.sample(10, seed=0).interactions)


def test_save_and_load_round_trip(tmp_path: Path, cycle_gen: SequenceGenerator) -> None:
    path = tmp_path / "gen.pkl"
    cycle_gen.save(path)
    loaded = SequenceGenerator.load(path)
    assert loaded.sample(30, seed=6).interactions.equals(cycle_gen.sample(30, seed=6).interactions)


def test_output_shares_the_catalogue(daily_gen: SequenceGenerator) -> None:
    syn = daily_gen.sample(5, seed=0)
    real = _daily()
    assert syn.item_ids.equals(real.item_ids)
    assert syn.interactions.schema["timestamp"] == pl.Int64


def test_errors() -> None:
    with pytest.raises(NotFittedError):
        SequenceGenerator(**TINY).sample(3, seed=0)
    with pytest.raises(DataValidationError, match="InteractionData"):
        SequenceGenerator(**TINY).fit("not data")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="temperature"):
        SequenceGenerator(temperature=0)
    with pytest.raises(ConfigError, match="device"):
        SequenceGenerator(device="nope")


def test_registered() -> None:
    gen = make_generator("sequence", epochs=1, hidden=8)
    assert isinstance(gen, SequenceGenerator) and gen.hidden == 8


def test_learns_the_time_gaps() -> None:
    """Users with hourly events, some starting in 2020, some in 2021: gaps ~1 h, starts from the real ones."""
    rng = np.random.default_rng(0)
    starts = np.where(rng.random(40) < 0.5, 1_577_836_800, 1_609_459_200) + rng.integers(0, DAY, 40)
    gaps = rng.lognormal(np.log(3600), 0.2, (40, 4)).astype(np.int64)
    times = np.concatenate([starts[:, None], starts[:, None] + np.cumsum(gaps, axis=1)], axis=1)
    frame = pl.DataFrame({"user": np.repeat(np.arange(40), 5), "item": rng.integers(0, 6, 200),
                          "t": times.ravel()})
    gen = SequenceGenerator(epochs=40, lr=0.02, allow_repeats=True, seed=0, **TINY).fit(
        InteractionData.from_frame(frame, time_col="t"))
    syn = gen.sample(200, seed=0).interactions
    t, u = syn["timestamp"].to_numpy(), syn["user"].to_numpy()
    same = u[1:] == u[:-1]
    assert 1800 < np.median(np.diff(t)[same]) < 7200
    first = t[np.r_[True, ~same]]
    assert first.min() >= starts.min() and first.max() <= starts.max()


def test_an_untimed_log_of_unknown_order_is_flagged() -> None:
    from synthrec.data.validation import DataQualityWarning

    unordered = replace(_cycle(n_users=6), row_order_is_time=False)
    with pytest.warns(DataQualityWarning, match="row order"):
        SequenceGenerator(epochs=1, seed=0).fit(unordered)
