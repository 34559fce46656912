"""Calibration: reach a real log's statistics (MovieLens 100K), recover a known scenario, exact pieces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError
from synthrec.generators.simulator import (
    CalibrationTarget,
    Simulator,
    calibrate,
    load_scenario,
    parse_scenario,
    scenario_for_log,
    target_statistics,
)
from synthrec.generators.simulator.calibrate import (
    log_statistics,
    ordered_probit_thresholds,
    rating_probabilities,
)


def small_scenario(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "simulation": {"start": "2024-01-01", "days": 56},
        "items": {"count": 400},
        "users": {"segments": [{"name": "x", "share": 1.0, "session_length": 4,
                                "activity": {"sessions_per_week": 1.5}}]},
        "behaviour": {"funnel": {"stages": [{"name": "view"}, {"name": "click", "rate": 0.4},
                                            {"name": "buy", "rate": 0.1}]},
                      "ratings": {"stage": "click"}},
    }
    for path, value in over.items():
        node = raw
        keys = path.split("__")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return raw


# ---------------------------------------------------------------------------------------------- acceptance


def test_calibration_reaches_movielens_100k_gini_activity_and_rating_histogram(shared_data: Path,
                                                                              tmp_path: Path) -> None:
    from synthrec.data.movielens import read_movielens_100k

    real = read_movielens_100k(shared_data / "ml-100k")
    result = calibrate(real, seed=0)  # starts from scenario_for_log(real); 943 users per sample
    report = {r["statistic"]: r for r in result.report.iter_rows(named=True)}
    print("\n" + "\n".join(f"{k}: target {r['target']:.4f} achieved {r['achieved']:.4f} "
                           f"relative error {r['relative_error']:.2%}" for k, r in report.items()))
    print(f"rating TV distance {result.rating_tv:.4f}; {result.evaluations} samples")
    # independent check of the targets: Gini, rows per user, rating shares of ML-100K
    counts = np.bincount(real.interactions["item"].to_numpy(), minlength=real.n_items)
    assert report["popularity_gini"]["target"] == pytest.approx(0.629, abs=5e-4)
    assert report["activity_mean"]["target"] == pytest.approx(100_000 / 943)
    assert report["rating_1"]["target"] == pytest.approx(0.0611)
    assert counts.sum() == 100_000
    for key in ("popularity_gini", "activity_mean", "rating_1", "rating_2", "rating_3", "rating_4", "rating_5"):
        assert report[key]["relative_error"] < 0.05, key
    assert result.rating_tv < 0.02
    # the report is what a fresh sample of the saved scenario gives (same users and seed)
    path = result.save(tmp_path / "ml100k.yaml")
    again = Simulator(load_scenario(path)).sample(943, seed=0)
    achieved = log_statistics(again)
    assert achieved["popularity_gini"] == pytest.approx(report["popularity_gini"]["achieved"])
    assert achieved["activity_mean"] == pytest.approx(report["activity_mean"]["achieved"])


# ---------------------------------------------------------------------------------------------- recovery


def test_calibration_recovers_the_statistics_of_a_known_scenario_deterministically() -> None:
    truth = Simulator(parse_scenario(small_scenario(
        simulation__days=28, users__segments=[{"name": "x", "share": 1.0, "session_length": 6,
                          "activity": {"sessions_per_week": 3.0, "dispersion": 0.6}}],
        items__popularity={"sigma": 1.6})))
    target = target_statistics(truth.sample(400, seed=11), scenario=truth.scenario)
    assert target.funnel is not None and set(target.funnel) == {"view", "click", "buy"}
    start = parse_scenario(small_scenario(simulation__days=28, behaviour__funnel={"stages": [
        {"name": "view"}, {"name": "click", "rate": 0.2}, {"name": "buy", "rate": 0.02}]}))
    a = calibrate(target, scenario=start, n_users=400, seed=3)
    b = calibrate(target.model_dump(), scenario=start, n_users=400, seed=3)
    with pl.Config(tbl_rows=20):
        print(f"\n{a.report}\n{a.evaluations} samples")
    assert a.scenario == b.scenario and a.report.equals(b.report)  # common random numbers
    rel = dict(zip(a.report["statistic"], a.report["relative_error"], strict=True))
    for key in ("popularity_gini", "activity_mean", "activity_cv", "session_length", "funnel_click", "funnel_buy"):
        assert rel[key] < 0.05, key
    # rating shares: an absolute bound, since the rarest bin (~0.25 %, ~40 ratings of 400 users) is too
    # noisy for a relative one; the ml-100k test above checks every bin within 5 % relative
    hist = a.report.filter(pl.col("statistic").str.starts_with("rating_"))
    assert ((hist["achieved"] - hist["target"]).abs() < 0.01).all()
    seg = a.scenario.users.segments[0]
    assert 4.5 < seg.session_length < 7.5  # the knob moved toward the true value (6)
    assert a.evaluations == a.history.height


def test_a_target_already_met_changes_nothing() -> None:
    start = parse_scenario(small_scenario())
    data = Simulator(start).sample(300, seed=0)
    target = CalibrationTarget(activity_mean=log_statistics(data)["activity_mean"])
    result = calibrate(target, scenario=start, n_users=300, seed=0)
    assert result.scenario == start and result.evaluations == 1
    assert result.report["relative_error"].to_list() == [0.0]


# ---------------------------------------------------------------------------------------------- exact pieces


def test_log_statistics_on_a_hand_made_log() -> None:
    inter = pl.DataFrame({
        "user": pl.Series([0, 0, 0, 0, 1, 1], dtype=pl.Int32),
        "item": pl.Series([0, 0, 1, 0, 0, 2], dtype=pl.Int32),
        "event": ["view", "click", "view", "view", "view", "view"],
        "session": pl.Series([1, 1, 1, 2, 3, 3], dtype=pl.Int64),
        "rating": pl.Series([None, 4.0, None, None, 2.0, 4.0], dtype=pl.Float32),
    })
    data = InteractionData(inter, pl.Series(["a", "b"]), pl.Series(["i1", "i2", "i3"]))
    s = log_statistics(data, stages=["view", "click"], final_mode=False)
    # rows per item: i1 4, i2 1, i3 1 → Gini = Σ(2i − n − 1) x_(i) / (n Σx) = (−2·1 + 0·1 + 2·4) / (3·6) = 1/3
    assert s["popularity_gini"] == pytest.approx(1 / 3)
    assert s["activity_mean"] == 3.0 and s["activity_cv"] == pytest.approx(1 / 3)  # rows 4 and 2
    assert s["session_length"] == pytest.approx(5 / 3)  # 5 views in 3 sessions
    assert s["funnel"] == {"view": 1.0, "click": pytest.approx(1 / 5)}
    assert s["rating_histogram"] == {2.0: pytest.approx(1 / 3), 4.0: pytest.approx(2 / 3)}
    # final mode: the share of rows at or beyond each stage
    f = log_statistics(data, stages=["view", "click"], final_mode=True)
    assert f["funnel"] == {"view": 1.0, "click": pytest.approx(1 / 6)}


def test_ordered_probit_thresholds_are_normal_quantiles_for_constant_utility() -> None:
    shares = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    tau = ordered_probit_thresholds(np.zeros(7), shares, mean=0.5, weight=2.0, sd=1.5)
    expected = stats.norm.ppf([0.1, 0.3, 0.7, 0.9], loc=0.5, scale=1.5)  # independent implementation
    assert np.allclose(tau, expected, atol=1e-7)
    assert np.allclose(rating_probabilities(np.zeros(7), np.array(tau), mean=0.5, weight=2.0, sd=1.5), shares)
    # heterogeneous utilities: the expected histogram is matched exactly, empty bins keep τ increasing
    v = np.random.default_rng(0).normal(size=500)
    shares = np.array([0.0, 0.25, 0.5, 0.25, 0.0])
    tau = ordered_probit_thresholds(v, shares, mean=3.0, weight=0.7, sd=0.8)
    assert np.all(np.diff(tau) > 0)
    assert np.allclose(rating_probabilities(v, np.array(tau), mean=3.0, weight=0.7, sd=0.8), shares, atol=1e-6)


def test_rating_probabilities_with_rounding_edges() -> None:
    # latent 3.2 ± tiny noise rounds to 3: all mass on the third of the values 1..5
    p = rating_probabilities(np.zeros(3), np.array([1.5, 2.5, 3.5, 4.5]), mean=3.2, weight=0.0, sd=1e-6)
    assert np.allclose(p, [0, 0, 1, 0, 0])
    # sd 1, latent 3: P(3) = Φ(0.5) − Φ(−0.5)
    p = rating_probabilities(np.zeros(1), np.array([1.5, 2.5, 3.5, 4.5]), mean=3.0, weight=0.0, sd=1.0)
    assert p[2] == pytest.approx(stats.norm.cdf(0.5) - stats.norm.cdf(-0.5))


def test_thresholds_in_a_scenario_drive_the_simulated_ratings() -> None:
    shares = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    tau = stats.norm.ppf(np.cumsum(shares)[:-1]).tolist()
    sim = Simulator(parse_scenario(small_scenario(behaviour__ratings={
        "stage": "click", "mean": 0.0, "utility_weight": 0.0, "noise_sd": 1.0, "thresholds": tau})))
    ratings = sim.sample(1500, seed=0).interactions["rating"].drop_nulls().to_numpy()
    freq = np.array([(ratings == v).mean() for v in (1, 2, 3, 4, 5)])
    assert set(np.unique(ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert np.all(np.abs(freq - shares) < 5 * np.sqrt(shares * (1 - shares) / ratings.size))
    with pytest.raises(ConfigError, match=r"behaviour.ratings.thresholds.*give 4 cut points"):
        parse_scenario(small_scenario(behaviour__ratings={"stage": "click", "thresholds": [0.0, 1.0]}))
    with pytest.raises(ConfigError, match="strictly increasing"):
        parse_scenario(small_scenario(behaviour__ratings={"stage": "click", "thresholds": [0, 1, 1, 2]}))


def test_scenario_for_log_matches_the_shape_of_the_log() -> None:
    frame = pl.DataFrame({"user": [1, 1, 2], "item": [5, 6, 5], "rating": [1.0, 4.5, 3.5],
                          "ts": [86400 * 10, 86400 * 10 + 5, 86400 * 13]})
    data = InteractionData.from_frame(frame, rating_col="rating", time_col="ts")
    s = scenario_for_log(data, name="tiny")
    assert s.name == "tiny" and s.items.count == 2
    assert str(s.simulation.start) == "1970-01-11" and s.simulation.days == 3
    assert s.behaviour.ratings is not None
    assert s.behaviour.ratings.scale == (1.0, 4.5) and s.behaviour.ratings.step == 1.0
    assert s.behaviour.ratings.mean == pytest.approx(3.0)


def test_calibration_errors_name_the_problem() -> None:
    start = parse_scenario(small_scenario())
    with pytest.raises(ConfigError, match="popularity_gini"):
        calibrate({"popularity_gini": 1.5}, scenario=start)
    with pytest.raises(ConfigError, match=r"unknown_key"):
        calibrate({"unknown_key": 1.0}, scenario=start)
    with pytest.raises(ConfigError, match="stage 'cart'"):
        calibrate({"funnel": {"cart": 0.1}}, scenario=start)
    with pytest.raises(ConfigError, match=r"add behaviour.ratings"):
        calibrate({"rating_histogram": {1.0: 1.0}}, scenario=parse_scenario(small_scenario(behaviour__ratings=None)))
    with pytest.raises(ConfigError, match="not on the scenario's rating grid"):
        calibrate({"rating_histogram": {1.5: 1.0}}, scenario=start)
    with pytest.raises(ConfigError, match="not both"):
        calibrate({"activity_mean": 3.0}, scenario=start, preset="news")
    with pytest.raises(ConfigError, match="give the scenario"):
        calibrate({"activity_mean": 3.0})
