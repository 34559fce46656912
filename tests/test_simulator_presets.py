"""Presets: every shipped scenario validates, samples, and produces the statistics its YAML documents.

Each preset YAML carries a ``STATS-BEGIN … STATS-END`` comment block (10,000 users, seed 0); the test
recomputes every statistic and compares it within a tolerance, so the documentation cannot go stale.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from synthrec.errors import ConfigError
from synthrec.evaluation.fidelity import gini
from synthrec.generators.simulator import PRESETS, Scenario, Simulator, load_preset, preset_path
from synthrec.generators.simulator.presets import preset_text

N_USERS = 10_000

#: absolute tolerance per statistic (rates, Gini, coverage) or relative (per-user means, marked rel)
TOLERANCE: dict[str, tuple[str, float]] = {
    "rows_per_user": ("rel", 0.03),
    "choices_per_user": ("rel", 0.03),
    "sessions_per_user": ("rel", 0.03),
    "popularity_gini": ("abs", 0.01),
    "item_coverage": ("abs", 0.01),
    "rating_mean": ("abs", 0.03),
}


def preset_statistics(data, scenario: Scenario) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The documented statistics of a sample: per-user means, popularity Gini, coverage, funnel, ratings.

    ``rate_<stage>`` is the share of choices that reach the stage (for ``final`` funnels: whose row
    carries it).
    """
    it: pl.DataFrame = data.interactions
    stages = scenario.stage_names
    if scenario.behaviour.funnel.mode == "final":
        n_choices = it.height
    else:
        n_choices = int((it["event"] == stages[0]).sum())
    counts = np.bincount(it["item"].to_numpy(), minlength=data.n_items)
    out: dict[str, float] = {
        "rows_per_user": round(it.height / data.n_users, 2),
        "choices_per_user": round(n_choices / data.n_users, 2),
        "sessions_per_user": round(it["session"].n_unique() / data.n_users, 2),
        "popularity_gini": round(gini(counts), 3),
        "item_coverage": round(float((counts > 0).mean()), 3),
    }
    for stage in stages:
        out[f"rate_{stage}"] = round(int((it["event"] == stage).sum()) / n_choices, 4)
    if scenario.behaviour.ratings is not None:
        out["rating_mean"] = round(float(it["rating"].drop_nulls().mean()), 3)  # type: ignore[arg-type]
    return out


def documented_statistics(name: str) -> dict[str, float]:
    block = re.search(r"#   STATS-BEGIN\n(.*?)#   STATS-END", preset_text(name), flags=re.S)
    assert block is not None, f"preset {name} has no STATS block"
    stats = {}
    for line in block.group(1).splitlines():
        key, value = line.lstrip("# ").split(":")
        stats[key.strip()] = float(value)
    return stats


@pytest.mark.parametrize("name", PRESETS)
def test_preset_statistics_match_documentation(name: str) -> None:
    documented = documented_statistics(name)
    scenario = load_preset(name)
    measured = preset_statistics(Simulator(scenario).sample(N_USERS, seed=0), scenario)
    assert set(documented) == set(measured)
    for key, want in documented.items():
        kind, tol = TOLERANCE.get(key, ("abs", 0.01))  # funnel rates: ±0.01
        got = measured[key]
        bound = tol * abs(want) if kind == "rel" else tol
        assert abs(got - want) <= bound, f"{name}.{key}: documented {want}, measured {got}"


@pytest.mark.parametrize("name", PRESETS)
def test_preset_funnel_rates_follow_the_segments(name: str) -> None:
    """Cross-check: the measured share of choices reaching each stage equals the choice-weighted mean
    of the segments' configured rates (computed independently from the segment of each choice)."""
    scenario = load_preset(name)
    data = Simulator(scenario).sample(3000, seed=1)
    it = data.interactions.join(data.users.select("user", "segment"), on="user")
    stages = scenario.stage_names
    final = scenario.behaviour.funnel.mode == "final"
    choices = it if final else it.filter(pl.col("event") == stages[0])
    per_seg = choices.group_by("segment").len()
    names = [g.name for g in scenario.users.segments]
    rates = np.array(scenario.funnel_rates())
    weights = np.array([per_seg.filter(pl.col("segment") == s)["len"].sum() for s in names], dtype=float)
    for k, stage in enumerate(stages[1:], start=1):
        expected = float(weights @ rates[:, k] / weights.sum())
        reached = it.filter(pl.col("event").is_in(stages[k:] if final else [stage])).height
        measured = reached / choices.height
        sd = np.sqrt(expected * (1 - expected) / choices.height)
        assert abs(measured - expected) < 5 * sd + 1e-9, (stage, measured, expected)


def test_presets_are_commented_yaml_files() -> None:
    for name in PRESETS:
        text = preset_text(name)
        assert preset_path(name).name == f"{name}.yaml"
        assert text.count("#") >= 5
        assert load_preset(name).name == name


def test_unknown_preset_lists_the_valid_names() -> None:
    with pytest.raises(ConfigError, match="ecommerce, music, news, poi"):
        Simulator.from_preset("shop")
