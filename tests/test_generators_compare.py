"""Helpers of benchmarks/generators_compare.py: scarce slice, TSTR cross-check, aggregation, winners."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from generators_compare import (
    aggregate,
    markdown,
    real_baselines,
    run_generator,
    scarce_slice,
    synthetic_ease,
    winner,
)

from synthrec.data.interactions import InteractionData
from synthrec.data.splits import carve_validation, leave_last_out


@pytest.fixture
def log() -> InteractionData:
    # 40 users; user u has items (u % 7), (u % 7) + 1, ..., 4 or 5 events each over items 0..11;
    # item 11 is touched by nobody (u % 7 + 4 <= 10), so the slice must drop it
    users, items = [], []
    for u in range(40):
        for k in range(4 + u % 2):
            users.append(u)
            items.append((u % 7 + k) % 11)
    frame = pl.DataFrame({"user": users, "item": items, "timestamp": np.arange(len(users)) * 10})
    data = InteractionData.from_frame(frame, time_col="timestamp", name="toy")
    return data


def test_scarce_slice_keeps_a_tenth_of_users_and_only_touched_items(log: InteractionData) -> None:
    sliced = scarce_slice(log, 0.25, None, seed=3)
    assert sliced.n_users == 10
    touched = np.unique(sliced.interactions["item"].to_numpy())
    assert sliced.n_items == touched.size  # untouched items compacted away
    np.testing.assert_array_equal(touched, np.arange(sliced.n_items))
    assert sliced.n_interactions == sliced.interactions.height
    again = scarce_slice(log, 0.25, None, seed=3)
    assert again.user_ids.equals(sliced.user_ids)  # seeded


def test_scarce_slice_max_items_keeps_the_most_popular(log: InteractionData) -> None:
    sliced = scarce_slice(log, 1.0, 3, seed=0)
    counts = np.bincount(np.asarray(log.interactions["item"].to_numpy()), minlength=log.n_items)
    # top three by count, ties broken by lower dense id (as keep_top_items documents)
    top = np.lexsort((np.arange(counts.size), -counts))[:3]
    assert sorted(sliced.item_ids.to_list()) == sorted(log.item_ids.gather(np.sort(top)).to_list())
    assert sliced.n_interactions == int(counts[top].sum())


def test_synthetic_ease_on_the_real_training_data_reproduces_real_ease(log: InteractionData) -> None:
    split = leave_last_out(log)
    grid = [1.0, 10.0]
    real = real_baselines(split, carve_validation(split), grid)
    syn = synthetic_ease(split.train, split, real, grid)
    assert syn["l2"] == real["l2"]
    assert syn["test_ndcg"] == pytest.approx(real["test_ndcg"], abs=1e-12)
    assert syn["best_test_ndcg"] >= syn["test_ndcg"]


def test_run_generator_records_errors_instead_of_raising(log: InteractionData) -> None:
    split = leave_last_out(log)
    real = {"l2": 1.0, "test_ndcg": 0.1}
    rec = run_generator("vae-bad", {"generator": "vae", "no_such_param": 1}, split, real, [1.0], 0, None)
    assert rec["registry_name"] == "vae" and rec["generator"] == "vae-bad"
    assert rec["error"].startswith("ConfigError") and "no_such_param" in rec["error"]


def _rec(gen: str, seed: int, ndcg: float, real: float, **extra: float) -> dict[str, object]:
    return {"dataset": "d", "generator": gen, "seed": seed, "tstr_ndcg": ndcg, "tstr_ratio": ndcg / real,
            "real_ease": {"test_ndcg": real, "pop_test_ndcg": 0.01, "l2": 1.0}, "slice": {}, **extra}


def test_aggregate_means_std_ratio_of_means_and_failures() -> None:
    records = [
        _rec("a", 0, 0.02, 0.04, popularity_gini_diff=-0.3),
        _rec("a", 1, 0.06, 0.04, popularity_gini_diff=0.1),
        _rec("b", 0, 0.01, 0.04, popularity_gini_diff=0.05),
        {"dataset": "d", "generator": "b", "seed": 1, "error": "boom",
         "real_ease": {"test_ndcg": 0.04, "pop_test_ndcg": 0.01, "l2": 1.0}, "slice": {}},
    ]
    agg = aggregate(records)["d"]
    assert agg["a"]["tstr_ndcg"] == pytest.approx(0.04)
    assert agg["a"]["tstr_ndcg_sd"] == pytest.approx(0.02)  # population std of (0.02, 0.06)
    assert agg["a"]["tstr_ratio"] == pytest.approx(1.0)  # mean of 0.5 and 1.5
    assert agg["a"]["tstr_ratio_of_means"] == pytest.approx(1.0)
    assert (agg["b"]["n_ok"], agg["b"]["n_failed"]) == (1, 1)
    assert agg["b"]["tstr_ratio_of_means"] == pytest.approx(0.25)
    # |Δ Gini| wins by absolute value: a's mean is -0.1, b's 0.05
    assert winner(agg, "popularity_gini_diff", "absmin") == "b"
    assert winner(agg, "tstr_ratio", "max") == "a"
    assert winner(agg, "fit_cpu_s", "min") is None  # nobody has it
    table = markdown({"d": agg}, records)
    assert "| b (1 failed) |" in table and "**1.000 ± 0.500**" in table


def test_winner_ignores_nan() -> None:
    rows = {"a": {"x": math.nan}, "b": {"x": 2.0}, "c": {"x": 3.0}}
    assert winner(rows, "x", "max") == "c"
    assert winner(rows, "x", "min") == "b"
