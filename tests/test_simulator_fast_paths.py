"""Fast paths of the open-loop simulator against exact values and slow reference implementations.

The throughput work (benchmarks/simulator_throughput.py) replaced a few steps by faster forms; each is
checked here against the straightforward form it replaces, or against the exact probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from synthrec.generators.simulator import Simulator, parse_scenario
from synthrec.generators.simulator.engine import (
    HOUR,
    _fresh_choices,
    _session_starts,
    funnel_reached,
    position_log_weights,
    softmax_pick,
    utilities,
)


def scenario(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "simulation": {"start": "2024-01-01", "days": 7},
        "items": {"count": 3, "categories": [{"name": "a", "share": 1.0}], "release": {"new_share": 0.0}},
        "users": {"segments": [
            {"name": "plain", "share": 0.5, "session_length": 3, "activity": {"sessions_per_week": 1.0}},
            {"name": "novelty", "share": 0.5, "novelty": {"mean": 1.5, "sd": 0.3},
             "price_sensitivity": {"mean": 2.0, "sd": 0.5}},
        ]},
        "behaviour": {"slate_size": 2, "position_bias": 3.0, "exposure_popularity": 0.0, "freshness_days": 2.0,
                      "funnel": {"stages": [{"name": "view"}, {"name": "click", "rate": 0.3},
                                            {"name": "buy", "rate": 0.1}]}},
    }
    for path, value in over.items():
        node = raw
        keys = path.split("__")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return raw


# ---------------------------------------------------------------------------------------------- softmax_pick


def test_softmax_pick_exact_thresholds() -> None:
    # column 0: weights (1, 3) -> pick 0 iff u < 1/4; column 1: the first weight underflows to 0
    v = np.array([[0.0, -200.0], [np.log(3.0), 0.0]], dtype=np.float32)
    for u, want in [(0.0, [0, 1]), (0.2, [0, 1]), (0.26, [1, 1]), (0.999, [1, 1])]:
        got = softmax_pick(v.copy(), np.full(2, u, dtype=np.float32))
        assert got.tolist() == want, (u, got)


def test_softmax_pick_survives_huge_utilities() -> None:
    # exp(1000) overflows float32; the max shift keeps it exact: weights (e^-1, 1, e^-2)
    v = np.array([[999.0], [1000.0], [998.0]], dtype=np.float32)
    p = np.exp([-1.0, 0.0, -2.0]) / np.exp([-1.0, 0.0, -2.0]).sum()
    u = np.array([p[0] - 1e-3, p[0] + 1e-3, p[0] + p[1] + 1e-3], dtype=np.float32)
    assert softmax_pick(np.repeat(v, 3, axis=1), u).tolist() == [0, 1, 2]


def test_softmax_pick_follows_the_logit() -> None:
    w = np.array([0.5, 2.0, 1.0, 0.1, 3.0])
    n = 200_000
    v = np.repeat(np.log(w).astype(np.float32)[:, None], n, axis=1)
    pick = softmax_pick(v, np.random.default_rng(0).random(n, dtype=np.float32))
    p = w / w.sum()
    freq = np.bincount(pick, minlength=5) / n
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n)), (freq, p)


# ---------------------------------------------------------------------------------------------- organic choice


def test_organic_choices_match_the_exact_slate_logit() -> None:
    """Three equally exposed items, slates of two drawn with replacement: P(i) summed over all 9 slates."""
    sim = Simulator(parse_scenario(scenario()))
    world = sim.world
    users = np.arange(400)
    pop = sim.population(users, seed=0)
    assert np.any(pop.novelty != 0) and np.any(pop.novelty == 0)  # both code paths
    rng = np.random.default_rng(1)
    m = 60_000
    rows = rng.integers(0, len(users), m)
    start = sim.scenario.simulation.start_epoch
    t = start + rng.integers(0, 7 * 86400, m)
    got = _fresh_choices(world, pop, rows, t, np.random.default_rng(2))
    v = utilities(world, pop, rows, np.arange(3), t, with_affinity=False).astype(np.float64)
    log_theta = position_log_weights(2, 3.0).astype(np.float64)  # strong: dropping it fails by ~25 sd
    expected = np.zeros(3)
    for a in range(3):
        for b in range(3):
            w1, w2 = np.exp(v[:, a] + log_theta[0]), np.exp(v[:, b] + log_theta[1])
            expected[a] += (w1 / (w1 + w2)).sum() / 9
            expected[b] += (w2 / (w1 + w2)).sum() / 9
    counts = np.bincount(got, minlength=3)
    assert counts.sum() == m
    p = expected / m
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(m * p * (1 - p))), (counts, expected)


def test_slate_positions_match_draw_positions() -> None:
    sim = Simulator(parse_scenario(scenario(items__count=500, items__categories=[
        {"name": "a", "share": 0.3}, {"name": "b", "share": 0.7}], behaviour__exposure_popularity=0.8,
        items__release={"new_share": 0.3})))
    cat = sim.catalogue
    rng = np.random.default_rng(0)
    c = rng.integers(0, 2, 3000)
    end = cat.available_end(c, sim.scenario.simulation.start_epoch + rng.integers(0, 7 * 86400, 3000))
    ok = end > cat.cat_start[c]
    u = rng.random((int(ok.sum()), 6), dtype=np.float32)
    wide = cat.draw_slate_positions(c[ok], end[ok], np.ascontiguousarray(u.T))
    assert wide.dtype == np.intp
    assert np.array_equal(wide.T, cat.draw_positions(c[ok], end[ok], u))


# ---------------------------------------------------------------------------------------------- funnel, sessions


def test_funnel_reached_matches_the_rate_table() -> None:
    sim = Simulator(parse_scenario(scenario()))
    rng = np.random.default_rng(3)
    seg = rng.integers(0, 2, 10_000).astype(np.int16)
    u = rng.random(10_000)
    rates = sim.world.segments.funnel_rates
    assert np.array_equal(funnel_reached(sim.world, seg, u), (u[:, None] < rates[seg]).sum(axis=1))


def _reference_session_starts(world: Any, pop: Any, s_user: np.ndarray, duration: np.ndarray,
                              rng: np.random.Generator, rounds: int) -> np.ndarray:
    """The one-session-per-(user, hour) rule written plainly: re-sort every claim each round."""
    sim = world.scenario.simulation
    week_w = np.asarray(sim.weekly_weights) / max(sim.weekly_weights)
    hour_cdf = np.cumsum(sim.hourly_weights) / sum(sim.hourly_weights)
    hour_cdf[-1] = 1.0
    lo, hi = pop.active_from[s_user], pop.active_until[s_user]
    d_lo = lo // 86400
    d_n = (hi - 1) // 86400 - d_lo + 1
    n = len(s_user)
    slot = np.full(n, -1, dtype=np.int64)
    fallback = np.full(n, -1, dtype=np.int64)
    todo = np.arange(n)
    for round_ in range(rounds + 1):
        if not todo.size:
            break
        m = todo.size
        day = d_lo[todo] + np.floor(rng.random(m) * d_n[todo]).astype(np.int64)
        hour = np.searchsorted(hour_cdf, rng.random(m), side="right").clip(max=23)
        prop = day * 24 + hour
        if round_ == rounds:
            slot[todo] = np.where(fallback[todo] >= 0, fallback[todo], prop)
            break
        ok = ((rng.random(m) < week_w[(day + 3) % 7]) & (prop * HOUR + HOUR > lo[todo])
              & (prop * HOUR < hi[todo]))
        placed = np.flatnonzero(slot >= 0)
        cand = todo[ok]
        keys = np.concatenate([s_user[placed] * (1 << 40) + slot[placed], s_user[cand] * (1 << 40) + prop[ok]])
        _, first = np.unique(keys, return_index=True)
        win = np.zeros(len(keys), dtype=bool)
        win[first] = True
        won = win[placed.size:]
        slot[cand[won]] = prop[ok][won]
        fallback[cand[~won]] = prop[ok][~won]
        todo = np.setdiff1d(todo, cand[won], assume_unique=True)
    room = np.maximum(HOUR - duration, 1)
    return np.maximum(slot * HOUR + np.floor(rng.random(n) * room).astype(np.int64), lo)


@pytest.mark.parametrize("per_user", [3, 60])  # 60 sessions in a 7-day window: many collisions
def test_session_starts_match_the_plain_rule(per_user: int) -> None:
    from synthrec.generators.simulator import engine

    sim = Simulator(parse_scenario(scenario(users__new_share=0.5)))
    pop = sim.population(np.arange(300), seed=4)
    s_user = np.repeat(np.arange(300), per_user)
    duration = np.random.default_rng(5).integers(0, 2 * HOUR, s_user.size)
    fast = _session_starts(sim.world, pop, s_user, duration, np.random.default_rng(6))
    slow = _reference_session_starts(sim.world, pop, s_user, duration, np.random.default_rng(6),
                                     engine._MAX_SLOT_ROUNDS)
    assert np.array_equal(fast, slow)
