"""Simulator engine: exact small cases, determinism, batching, ground truth, and the closed-loop pieces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from synthrec.errors import ConfigError
from synthrec.generators import Generator
from synthrec.generators.simulator import (
    BLOCK_USERS,
    Simulator,
    log_popularity_from_counts,
    parse_scenario,
)
from synthrec.generators.simulator.catalogue import SLOTS_PER_ITEM


def scenario(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "simulation": {"start": "2024-01-01", "days": 28, "choice_gap_seconds": 30},
        "items": {"count": 300, "categories": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}],
                  "release": {"new_share": 0.2}},
        "users": {"segments": [{"name": "x", "share": 1.0, "session_length": 3,
                                "activity": {"sessions_per_week": 1.0}}]},
        "behaviour": {"slate_size": 5,
                      "funnel": {"stages": [{"name": "view"}, {"name": "click", "rate": 0.3}]}},
    }
    for path, value in over.items():
        node = raw
        keys = path.split("__")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return raw


def sim_of(**over: Any) -> Simulator:
    return Simulator(parse_scenario(scenario(**over)))


@pytest.fixture(scope="module")
def default_sim() -> Simulator:
    return sim_of(users__new_share=0.3, users__segments=[
        {"name": "x", "share": 0.5, "repeat": 0.2, "drift_per_30_days": 0.5, "churn_per_week": 0.2,
         "novelty": {"mean": 1.0, "sd": 0.2}},
        {"name": "y", "share": 0.5, "session_length": 4, "activity": {"sessions_per_week": 2.0}},
    ], behaviour__ratings={"stage": "click"})


def test_is_a_generator_and_fit_explains_calibration(default_sim: Simulator) -> None:
    assert isinstance(default_sim, Generator)
    with pytest.raises(ConfigError, match="calibrate"):
        default_sim.fit(default_sim.sample(3, seed=0))


def test_output_schema_and_tables(default_sim: Simulator) -> None:
    data = default_sim.sample(200, seed=0)
    it = data.interactions
    assert it.columns == ["user", "item", "timestamp", "event", "session", "rating"]
    assert it.schema["timestamp"] == pl.Int64 and it.schema["session"] == pl.Int64
    assert it.schema["rating"] == pl.Float32 and it.schema["event"] == pl.String
    assert data.n_users == 200 and data.n_items == 300
    assert data.user_ids[:2].to_list() == ["sim-0", "sim-1"]
    assert data.users is not None and data.users.columns == ["user", "segment", "first_seen"]
    assert data.items is not None
    assert data.items.columns == ["item", "category", "price", "brand", "quality", "release_time"]
    # ratings exactly on click rows, within the scale
    rated = it.filter(pl.col("rating").is_not_null())
    assert rated["event"].unique().to_list() == ["click"]
    assert it.filter(pl.col("event") == "click").height == rated.height
    assert rated["rating"].min() >= 1 and rated["rating"].max() <= 5  # type: ignore[operator]


def test_time_and_availability_invariants(default_sim: Simulator) -> None:
    data = default_sim.sample(300, seed=1)
    it = data.interactions
    assert data.users is not None and data.items is not None
    # strictly increasing timestamps within each user (rows are grouped by user in time order)
    u, ts = it["user"].to_numpy(), it["timestamp"].to_numpy()
    same = u[1:] == u[:-1]
    assert np.all(np.diff(u) >= 0) and np.all(np.diff(ts)[same] > 0)
    joined = it.join(data.items.select("item", "release_time"), on="item").join(
        data.users.select("user", "first_seen"), on="user")
    assert (joined["timestamp"] >= joined["release_time"]).all()  # no item before its release
    assert (joined["timestamp"] >= joined["first_seen"]).all()  # no user before her arrival
    sc = default_sim.scenario.simulation
    assert it["timestamp"].min() >= sc.start_epoch  # type: ignore[operator]
    # sessions: contiguous per user, ids = user * 2^20 + rank
    sess = it["session"].to_numpy()
    assert np.all(sess // (1 << 20) == u)
    assert np.all(np.diff(sess)[same] >= 0)


def test_funnel_with_rates_one_and_zero_is_exact() -> None:
    stages = [{"name": "view"}, {"name": "click", "rate": 1.0}, {"name": "cart", "rate": 1.0},
              {"name": "purchase", "rate": 0.0}]
    data = sim_of(behaviour__funnel={"stages": stages}).sample(100, seed=0)
    it = data.interactions
    counts = dict(it["event"].value_counts().iter_rows())
    assert counts["view"] == counts["click"] == counts["cart"] and "purchase" not in counts
    # every choice writes view, click, cart at t, t + 1, t + 2 on the same item and session
    ev = it["event"].to_numpy().reshape(-1, 3)
    assert (ev == np.array(["view", "click", "cart"])).all()
    for col in ("item", "session", "user"):
        block = it[col].to_numpy().reshape(-1, 3)
        assert (block == block[:, :1]).all()
    ts = it["timestamp"].to_numpy().reshape(-1, 3)
    assert (ts - ts[:, :1] == [0, 1, 2]).all()
    # final mode: one row per choice, labelled with the deepest stage
    final = sim_of(behaviour__funnel={"mode": "final", "stages": [{"name": "skip"}, {"name": "play", "rate": 1.0}]})
    assert final.sample(50, seed=0).interactions["event"].unique().to_list() == ["play"]
    final0 = sim_of(behaviour__funnel={"mode": "final", "stages": [{"name": "skip"}, {"name": "play", "rate": 0.0}]})
    assert final0.sample(50, seed=0).interactions["event"].unique().to_list() == ["skip"]


def test_daily_and_weekly_cycles_are_exact() -> None:
    hours = [0.0] * 24
    hours[3] = 1.0
    week = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]  # Wednesdays only
    # 8 Wednesdays = 8 free hour slots per user; at most 4 sessions each, all short
    sim = sim_of(simulation__hourly_weights=hours, simulation__weekly_weights=week, simulation__days=56,
                 users__segments=[{"name": "x", "share": 1.0, "session_length": 3,
                                   "activity": {"sessions_per_week": 1.0, "max_sessions": 4}}])
    ts = sim.sample(300, seed=0).interactions["timestamp"].to_numpy()
    assert np.all((ts % 86400) // 3600 == 3)
    assert np.all((ts // 86400 + 3) % 7 == 2)  # 1970-01-01 was a Thursday; Monday = 0


def test_segment_counts_match_shares() -> None:
    shares = [0.2, 0.3, 0.5]
    sim = sim_of(users__segments=[{"name": f"s{k}", "share": p} for k, p in enumerate(shares)])
    n = 4000
    users = sim.sample(n, seed=3).users
    assert users is not None
    counts = users["segment"].value_counts().sort("segment")["count"].to_numpy()
    sd = np.sqrt(n * np.array(shares) * (1 - np.array(shares)))
    assert np.all(np.abs(counts - n * np.array(shares)) < 4 * sd), counts


def test_same_seed_gives_byte_identical_parquet(tmp_path: Path, default_sim: Simulator) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    default_sim.sample(150, seed=7).interactions.write_parquet(a)
    Simulator(default_sim.scenario).sample(150, seed=7).interactions.write_parquet(b)  # fresh catalogue too
    assert a.read_bytes() == b.read_bytes()
    c = tmp_path / "c.parquet"
    default_sim.sample(150, seed=8).interactions.write_parquet(c)
    assert a.read_bytes() != c.read_bytes()


@pytest.mark.parametrize("batch_users", [1000, BLOCK_USERS, 333])
def test_batches_concatenate_to_the_sample(default_sim: Simulator, batch_users: int) -> None:
    n = 2100
    whole = default_sim.sample(n, seed=5)
    parts = list(default_sim.sample_batches(n, batch_users=batch_users, seed=5))
    assert [p.n_users for p in parts] == [min(batch_users, n - s) for s in range(0, n, batch_users)]
    offsets = np.cumsum([0] + [p.n_users for p in parts[:-1]])
    inter = pl.concat([p.interactions.with_columns(pl.col("user") + int(o)) for p, o in zip(parts, offsets, strict=True)])
    assert inter.equals(whole.interactions)
    assert pl.concat([p.user_ids for p in parts]).equals(whole.user_ids)
    users = pl.concat([p.users.with_columns(pl.col("user") + int(o)) for p, o in zip(parts, offsets, strict=True)])  # type: ignore[union-attr]
    assert whole.users is not None and users.equals(whole.users)
    # a range in the middle equals the same users of the full sample
    mid = default_sim.sample_range(700, 500, seed=5)
    want = whole.interactions.filter(pl.col("user").is_between(700, 1199)).with_columns(pl.col("user") - 700)
    assert mid.interactions.equals(want)


def test_save_load_round_trip(tmp_path: Path, default_sim: Simulator) -> None:
    default_sim.save(tmp_path / "sim.pkl")
    again = Simulator.load(tmp_path / "sim.pkl")
    assert again.sample(40, seed=2).interactions.equals(default_sim.sample(40, seed=2).interactions)


def test_repeat_one_means_one_item_per_user() -> None:
    data = sim_of(users__segments=[{"name": "x", "share": 1.0, "repeat": 1.0}]).sample(200, seed=0)
    per_user = data.interactions.group_by("user").agg(pl.col("item").n_unique())
    assert (per_user["item"] == 1).all()


def test_population_is_rebuilt_exactly(default_sim: Simulator) -> None:
    users = np.array([5, 1500, 3, BLOCK_USERS, 5])
    pop = default_sim.population(users, seed=11)
    full = default_sim.population(np.arange(2 * BLOCK_USERS), seed=11)
    assert np.array_equal(pop.user, users)
    for name in ("segment", "price_sensitivity", "conformity", "active_from", "active_until"):
        assert np.array_equal(getattr(pop, name), getattr(full, name)[users])
    assert np.allclose(pop.affinity_start, full.affinity_start[users])
    sample_users = default_sim.sample(1600, seed=11).users
    assert sample_users is not None
    segs = default_sim.world.segments.names
    assert [segs[s] for s in pop.segment[:2]] == sample_users["segment"].gather([5, 1500]).to_list()


def test_true_utilities_match_the_formula() -> None:
    sim = sim_of(items__categories=[{"name": "only", "share": 1.0}], items__release={"new_share": 0.0},
                 users__segments=[{"name": "x", "share": 1.0, "price_sensitivity": {"mean": 2.0, "sd": 0.0},
                                   "conformity": {"mean": 0.5, "sd": 0.0}}],
                 behaviour__quality_weight=1.5)
    cat = sim.catalogue
    v = sim.true_utilities([0, 7], [0, 4, 9], seed=0)
    items = np.array([0, 4, 9])
    lp = np.log(cat.price[items]) - np.median(np.log(cat.price))
    want = 1.5 * cat.quality[items] - 2.0 * lp + 0.5 * cat.log_popularity[items]  # log(C·a) = log(1·1) = 0
    assert v.shape == (2, 3) and v.dtype == np.float32
    assert np.allclose(v, want[None, :], atol=1e-5)
    # closed-loop popularity replaces the base popularity term
    counts = np.zeros(cat.n_items)
    counts[4] = 99.0
    lpop = log_popularity_from_counts(counts)
    assert np.isclose(lpop[4], np.log(100 / (1 + 99 / cat.n_items)), atol=1e-5)
    v2 = sim.true_utilities([0], [4], seed=0, log_popularity=lpop)
    assert np.isclose(v2[0, 0], want[1] + 0.5 * (lpop[4] - cat.log_popularity[4]), atol=1e-5)


def test_true_utilities_hide_unreleased_items(default_sim: Simulator) -> None:
    cat = default_sim.catalogue
    start = default_sim.scenario.simulation.start_epoch
    new = np.flatnonzero(cat.release >= start)[:5]
    v = default_sim.true_utilities([0], new, seed=0, at=start - 1)
    assert np.all(np.isneginf(v))
    assert np.all(np.isfinite(default_sim.true_utilities([0], new, seed=0)))


def test_respond_follows_the_logit_with_position_bias() -> None:
    """Choice frequencies on a fixed slate equal softmax(V + log θ) computed independently."""
    sim = sim_of(items__release={"new_share": 0.0}, behaviour__position_bias=1.0)
    pop = sim.population(np.zeros(1, dtype=np.int64), seed=0)
    slate = np.array([3, 10, 20, 150])
    m = 40_000
    t = sim.scenario.simulation.end_epoch - 1
    res = sim.respond(pop, np.zeros(m, dtype=np.int64), np.tile(slate, (m, 1)), t,
                      np.random.default_rng(0), outside_utility=None)
    v = sim.true_utilities([0], slate, seed=0)[0].astype(np.float64) - np.log(np.arange(1, 5))
    p = np.exp(v - v.max())
    p /= p.sum()
    freq = np.bincount(res.position, minlength=4) / m
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / m) + 1e-4), (freq, p)
    assert np.array_equal(res.item, slate[res.position])
    assert set(np.unique(res.reached)) <= {1, 2}
    # an outside option of huge utility means nobody chooses; padding is never chosen
    none = sim.respond(pop, np.zeros(10, dtype=np.int64), np.tile(slate, (10, 1)), t,
                       np.random.default_rng(1), outside_utility=1e6)
    assert np.all(none.position == -1) and np.all(none.item == -1) and np.all(none.reached == 0)
    padded = sim.respond(pop, np.zeros(200, dtype=np.int64), np.tile([-1, 7, -1], (200, 1)), t,
                         np.random.default_rng(2), outside_utility=None)
    assert np.all(padded.item == 7)


def test_exposure_slots_and_availability_against_brute_force() -> None:
    sim = sim_of(behaviour__exposure_popularity=0.0, items__release={"new_share": 0.5})
    cat = sim.catalogue
    n_slots = np.diff(cat.slot_before)
    assert np.all(n_slots == SLOTS_PER_ITEM)  # γ = 0: equal exposure, exact
    rng = np.random.default_rng(0)
    c = rng.integers(0, cat.n_categories, 5000)
    start = sim.scenario.simulation.start_epoch
    t = start + rng.integers(0, 28 * 86400, 5000)
    end = cat.available_end(c, t)
    rel = cat.release
    brute = np.array([cat.cat_start[ci] + np.sum((cat.category == ci) & (rel <= ti)) for ci, ti in zip(c, t, strict=True)])
    assert np.array_equal(end, brute)
    # draws stay inside the released prefix and are uniform over it when exposure is flat
    ok = end > cat.cat_start[c]
    pos = cat.draw_positions(c[ok], end[ok], rng.random((int(ok.sum()), 8), dtype=np.float32))
    assert np.all(pos >= cat.cat_start[c[ok]][:, None]) and np.all(pos < end[ok][:, None])
    items = cat.draw(np.zeros(60_000, dtype=np.int64), np.full(60_000, cat.cat_start[1]),
                     rng.random((60_000, 1), dtype=np.float32))[:, 0]
    counts = np.bincount(items, minlength=cat.n_items)[cat.category == 0]
    expected = 60_000 / counts.size
    assert abs(counts.mean() - expected) < 1e-9 and counts.std() < 4 * np.sqrt(expected)


def test_popular_items_are_exposed_more() -> None:
    sim = sim_of(behaviour__exposure_popularity=1.0)
    cat = sim.catalogue
    n_slots = np.diff(cat.slot_before)
    buzz = np.exp(cat.log_popularity[cat.order])
    assert np.corrcoef(n_slots, buzz)[0, 1] > 0.95


def test_conformity_raises_popularity_concentration() -> None:
    from synthrec.evaluation.fidelity import gini

    def g(conf: float) -> float:
        s = sim_of(users__segments=[{"name": "x", "share": 1.0, "conformity": {"mean": conf, "sd": 0.0}}])
        d = s.sample(400, seed=0)
        return gini(np.bincount(d.interactions["item"].to_numpy(), minlength=d.n_items))

    assert g(2.0) > g(0.0) + 0.05


def test_new_users_arrive_during_the_window() -> None:
    sim = sim_of(users__new_share=1.0)
    users = sim.sample(300, seed=0).users
    assert users is not None
    start = sim.scenario.simulation.start_epoch
    assert (users["first_seen"] > start).mean() > 0.99
    none = sim_of(users__new_share=0.0).sample(50, seed=0).users
    assert none is not None and (none["first_seen"] == start).all()


def test_zero_users_and_bad_arguments(default_sim: Simulator) -> None:
    empty = default_sim.sample(0, seed=0)
    assert empty.n_users == 0 and empty.n_interactions == 0
    with pytest.raises(ValueError):
        list(default_sim.sample_batches(10, batch_users=0, seed=0))
