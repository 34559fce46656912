"""Closed-loop simulation: feedback amplifies popularity, exact metrics on controlled cases, policies."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.data.stats import gini
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators.simulator import Simulator, StochasticPopularity, parse_scenario
from synthrec.generators.simulator.closed_loop import ROUND, run_closed_loop
from synthrec.generators.simulator.policies import NO_ITEM, gumbel_top_k
from synthrec.models.popularity import MostPopular


def scenario(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "simulation": {"start": "2024-01-01", "days": 60},
        "items": {"count": 500, "categories": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}],
                  "release": {"new_share": 0.0}},
        "users": {"segments": [{"name": "x", "share": 1.0, "session_length": 3,
                                "activity": {"sessions_per_week": 1.0}, "conformity": {"mean": 0.5, "sd": 0.2}}]},
        "behaviour": {"slate_size": 10, "ratings": {"stage": "click"},
                      "funnel": {"stages": [{"name": "view"}, {"name": "click", "rate": 0.3}]}},
    }
    for path, value in over.items():
        node = raw
        keys = path.split("__")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return raw


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(parse_scenario(scenario()))


class FixedSlate:
    """Shows items 0 … k − 1 to everyone and records the size of every log it is fitted on."""

    name = "fixed"

    def __init__(self) -> None:
        self.fitted_rows: list[int] = []

    def fit(self, data: InteractionData) -> FixedSlate:
        self.fitted_rows.append(data.n_interactions)
        return self

    def recommend(self, histories: Any, k: int, *, exclude_seen: bool = True) -> np.ndarray:
        return np.tile(np.arange(k, dtype=np.int64), (histories.shape[0], 1))


class Oracle:
    """Top-k true utilities (from the public `Simulator.true_utilities`) among unseen items."""

    name = "oracle"

    def __init__(self, sim: Simulator, seed: int) -> None:
        self.sim, self.seed = sim, seed

    def fit(self, data: InteractionData) -> Oracle:
        return self

    def recommend(self, histories: Any, k: int, *, exclude_seen: bool = True) -> np.ndarray:
        v = self.sim.true_utilities(np.arange(histories.shape[0]), seed=self.seed).astype(np.float64)
        h = sp.csr_matrix(histories).tocoo()
        v[h.row, h.col] = -np.inf
        return np.argsort(-v, axis=1, kind="stable")[:, :k]


# ---------------------------------------------------------------------------------------------- acceptance


def test_feedback_loop_amplifies_popularity_under_most_popular_not_under_random_exposure(sim: Simulator) -> None:
    rounds, n_users = 8, 2000
    pop = run_closed_loop(sim, MostPopular(), rounds, n_users=n_users, seed=0)
    rnd = run_closed_loop(sim, StochasticPopularity(0.0, seed=1), rounds, n_users=n_users, seed=0)
    g_pop = pop.metrics["gini_cumulative"].to_numpy()
    g_rnd = rnd.metrics["gini_cumulative"].to_numpy()
    print(f"\nwarm-start Gini {pop.warm_start_gini:.3f} (same for both)")
    print("MostPopular   cumulative Gini per round:", np.round(g_pop, 3).tolist())
    print("random expos. cumulative Gini per round:", np.round(g_rnd, 3).tolist())
    print("MostPopular   round Gini:", np.round(pop.metrics["gini_round"].to_numpy(), 3).tolist())
    print("random expos. round Gini:", np.round(rnd.metrics["gini_round"].to_numpy(), 3).tolist())
    assert pop.warm_start_gini == rnd.warm_start_gini  # same users, same organic warm start
    # popularity recommender: concentration rises every round, well above the organic warm start
    assert np.all(np.diff(g_pop) > 0)
    assert g_pop[-1] - pop.warm_start_gini > 0.1
    # random exposure: concentration does not rise; every round is far less concentrated
    assert g_rnd[-1] <= rnd.warm_start_gini
    assert np.all(rnd.metrics["gini_round"].to_numpy() < pop.metrics["gini_round"].to_numpy() - 0.2)
    assert rnd.metrics["coverage"].min() > 0.9 > 0.1 > pop.metrics["coverage"].max()  # type: ignore[operator]
    # the Gini columns are the Gini of the log's own counts (independent recount from the log)
    it = pop.log.interactions.filter(pl.col("event") == "view")
    last = it.filter(pl.col(ROUND) == rounds - 1)["item"].to_numpy()
    assert pop.metrics["gini_round"][-1] == pytest.approx(gini(np.bincount(last, minlength=500)))
    assert g_pop[-1] == pytest.approx(gini(np.bincount(it["item"].to_numpy(), minlength=500)))


# ---------------------------------------------------------------------------------------------- exact cases


def test_metrics_and_log_are_exact_for_a_fixed_slate_and_a_sure_funnel() -> None:
    sim = Simulator(parse_scenario(scenario(
        behaviour__funnel={"stages": [{"name": "view"}, {"name": "click", "rate": 1.0},
                                      {"name": "buy", "rate": 0.0}]})))
    rec = FixedSlate()
    res = run_closed_loop(sim, rec, 3, n_users=50, seed=4, slate_size=4, outside_utility=None,
                          exclude_seen=False)
    m = res.metrics
    assert m["round"].to_list() == [0, 1, 2] and m["policy"].to_list() == ["recommender"] * 3
    assert m["active_users"].to_list() == [50, 50, 50]  # no churn, no late arrivals
    assert m["ctr"].to_list() == [1.0] * 3  # outside option off: every slate yields a choice
    assert m["reach_click"].to_list() == [1.0] * 3 and m["conversion"].to_list() == [0.0] * 3
    assert m["coverage"].to_list() == [4 / 500] * 3
    it = res.log.interactions
    assert it.schema[ROUND] == pl.Int32
    warm = it.filter(pl.col(ROUND) == -1)
    loop = it.filter(pl.col(ROUND) >= 0)
    # every choice writes view then click one second later; chosen items come from the slate
    assert loop.height == 3 * 50 * 2
    assert set(loop["item"].unique().to_list()) <= {0, 1, 2, 3}
    assert loop["event"].value_counts().sort("event").rows() == [("click", 150), ("view", 150)]
    assert loop.filter(pl.col("event") == "view")["rating"].null_count() == 150
    # refit each round on the whole log so far
    assert rec.fitted_rows == [warm.height, warm.height + 100, warm.height + 200]
    # rounds follow the warm start in time; each user's impression lies inside its round
    starts = m["start"].to_list()
    end = sim.scenario.simulation.end_epoch
    assert warm["timestamp"].max() < starts[0]  # type: ignore[operator]
    for r, (lo, hi) in enumerate(zip(starts, [*starts[1:], end], strict=True)):
        ts = loop.filter((pl.col(ROUND) == r) & (pl.col("event") == "view"))["timestamp"]
        assert ts.min() >= lo and ts.max() < hi  # type: ignore[operator]
    # sessions: one per user and round, distinct from the open-loop ones
    assert loop.group_by("user", ROUND).agg(pl.col("session").n_unique())["session"].max() == 1
    assert set(loop["session"].to_list()).isdisjoint(warm["session"].to_list())
    # grouped by user in time order
    u, ts = it["user"].to_numpy(), it["timestamp"].to_numpy()
    assert np.all(np.diff(u) >= 0) and np.all(np.diff(ts)[u[1:] == u[:-1]] >= 0)


def test_regret_is_zero_for_the_oracle_and_positive_for_random_exposure() -> None:
    # no popularity feedback, drift, novelty, churn or late items: utilities do not change in time
    sim = Simulator(parse_scenario(scenario()))
    kw: dict[str, Any] = {"n_users": 300, "seed": 2, "popularity_feedback": False}
    oracle = run_closed_loop(sim, Oracle(sim, seed=2), 3, **kw).metrics
    rnd = run_closed_loop(sim, StochasticPopularity(0.0, seed=0), 3, **kw).metrics
    assert np.allclose(oracle["regret"].to_numpy(), 0.0, atol=1e-5)
    assert (oracle["utility_best"] >= oracle["utility_shown"] - 1e-5).all()
    assert (rnd["regret"] > 1.0).all()
    assert np.allclose(rnd["utility_best"].to_numpy(), oracle["utility_best"].to_numpy(), atol=0.5)


def test_runs_are_deterministic_and_seed_dependent(sim: Simulator) -> None:
    a = run_closed_loop(sim, MostPopular(), 2, n_users=200, seed=5)
    b = run_closed_loop(sim, MostPopular(), 2, n_users=200, seed=5)
    c = run_closed_loop(sim, MostPopular(), 2, n_users=200, seed=6)
    assert a.log.interactions.equals(b.log.interactions) and a.metrics.equals(b.metrics)
    assert not a.log.interactions.equals(c.log.interactions)
    assert a.log.user_ids[:2].to_list() == ["sim-0", "sim-1"]
    assert a.log.users is not None and a.log.users.height == 200


def test_without_warm_start_round_zero_is_random_exposure_of_released_items() -> None:
    sim = Simulator(parse_scenario(scenario(items__release={"new_share": 0.5})))
    res = run_closed_loop(sim, MostPopular(), 2, n_users=300, seed=0, warm_start="none")
    assert res.metrics["policy"].to_list() == ["random", "recommender"]
    assert np.isnan(res.warm_start_gini)
    r0 = res.round_log(0).interactions
    release = sim.catalogue.release[r0["item"].to_numpy()]
    assert np.all(release <= res.metrics["start"][0])
    assert res.round_log(-1).n_interactions == 0


def test_a_given_warm_start_log_counts_as_the_initial_popularity(sim: Simulator) -> None:
    warm = sim.sample(100, seed=1)
    rec = FixedSlate()
    res = run_closed_loop(sim, rec, 1, n_users=100, seed=1, warm_start=warm)
    assert rec.fitted_rows == [warm.n_interactions]
    assert res.round_log(-1).n_interactions == warm.n_interactions
    with pytest.raises(DataValidationError, match="warm-start log has 100 users"):
        run_closed_loop(sim, rec, 1, n_users=50, seed=1, warm_start=warm)


def test_bad_arguments_and_bad_recommender_output_raise_named_errors(sim: Simulator) -> None:
    class Broken(FixedSlate):
        def recommend(self, histories: Any, k: int, *, exclude_seen: bool = True) -> np.ndarray:
            return np.full((histories.shape[0], k), 500)

    with pytest.raises(DataValidationError, match=r"round 0: recommend\(\) returned item id 500"):
        run_closed_loop(sim, Broken(), 1, n_users=20, seed=0)

    class WrongShape(FixedSlate):
        def recommend(self, histories: Any, k: int, *, exclude_seen: bool = True) -> np.ndarray:
            return np.zeros((1, k), dtype=np.int64)

    with pytest.raises(DataValidationError, match="expected integers of shape"):
        run_closed_loop(sim, WrongShape(), 1, n_users=20, seed=0)
    with pytest.raises(ConfigError, match="rounds"):
        run_closed_loop(sim, FixedSlate(), 0, n_users=20, seed=0)
    with pytest.raises(ConfigError, match="warm_start"):
        run_closed_loop(sim, FixedSlate(), 1, n_users=20, seed=0, warm_start="organics")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="has no fit"):
        run_closed_loop(sim, object(), 1, n_users=20, seed=0)
    with pytest.raises(ConfigError, match="warm_days"):
        run_closed_loop(sim, FixedSlate(), 1, n_users=20, seed=0, warm_days=60)


# ---------------------------------------------------------------------------------------------- policies


def test_gumbel_top_k_draws_distinct_unseen_items_and_pads() -> None:
    rng = np.random.default_rng(0)
    seen = sp.csr_matrix(np.array([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=np.float32))
    out = gumbel_top_k(np.zeros(5), 4, rng, exclude=seen)
    assert out.shape == (2, 4) and out.dtype == np.int64
    assert sorted(out[0, :2].tolist()) == [3, 4] and out[0, 2:].tolist() == [NO_ITEM, NO_ITEM]
    assert len(set(out[1].tolist())) == 4 and NO_ITEM not in out[1]
    # −inf weights are never drawn
    assert set(gumbel_top_k(np.array([0.0, -np.inf, 0.0]), 3, rng, n_rows=10)[:, :2].ravel()) == {0, 2}


def test_gumbel_top_k_first_draw_follows_the_weights() -> None:
    # P(first = i) = w_i / Σ w (Gumbel-max); 40,000 draws, 5-sigma binomial tolerance
    w = np.array([1.0, 2.0, 3.0, 4.0])
    first = gumbel_top_k(np.log(w), 1, np.random.default_rng(1), n_rows=40_000)[:, 0]
    freq = np.bincount(first, minlength=4) / first.size
    p = w / w.sum()
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / first.size))


def test_stochastic_popularity_exponent_moves_exposure_to_popular_items(sim: Simulator) -> None:
    data = sim.sample(300, seed=0)
    counts = np.asarray(data.to_csr("binary").sum(axis=0)).ravel()
    hist = sp.csr_matrix((2000, data.n_items), dtype=np.float32)
    shown = {e: StochasticPopularity(e, seed=0).fit(data).recommend(hist, 10) for e in (-1.0, 0.0, 2.0)}
    mean_pop = {e: counts[s].mean() for e, s in shown.items()}
    assert mean_pop[-1.0] < mean_pop[0.0] < mean_pop[2.0]
    with pytest.raises(ConfigError, match="exponent"):
        StochasticPopularity(float("nan"))
