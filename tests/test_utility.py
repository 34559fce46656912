"""Utility audit: Kendall τ on known rankings (and a brute-force cross-check), a hand-computed TSTR ratio,
and TSTR of four recommenders on ml-100k."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synthrec.data.interactions import InteractionData
from synthrec.data.splits import Split
from synthrec.errors import ConfigError, DataValidationError
from synthrec.evaluation.utility import TSTRResult, rank_agreement, tstr
from synthrec.models.registry import make_model

CATALOGUE = pl.Series("item_id", np.arange(4, dtype=np.int64))


def _log(rows: list[tuple[str, int]], name: str, users: list[str] | None = None) -> InteractionData:
    frame = pl.DataFrame({"user": [u for u, _ in rows], "item": pl.Series([i for _, i in rows], dtype=pl.Int64)})
    data = InteractionData.from_frame(frame, item_vocabulary=CATALOGUE, name=name)
    if users is None:
        return data
    # re-key onto a fixed user vocabulary so train and test rows align (as a split guarantees)
    vocab = pl.Series("user_id", users)
    dense = data.user_ids.gather(data.interactions["user"]).replace_strict(users, list(range(len(users))),
                                                                          return_dtype=pl.Int32)
    return InteractionData(data.interactions.with_columns(dense.alias("user")), vocab, CATALOGUE, name=name)


def _tau_b_brute_force(a: np.ndarray, b: np.ndarray) -> float:
    p = q = ta = tb = 0
    for i, j in itertools.combinations(range(a.size), 2):
        da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
        if da == 0 and db == 0:
            continue
        if da == 0:
            ta += 1
        elif db == 0:
            tb += 1
        elif da == db:
            p += 1
        else:
            q += 1
    return (p - q) / np.sqrt((p + q + ta) * (p + q + tb))


def test_rank_agreement_known_rankings() -> None:
    assert rank_agreement([0.1, 0.2, 0.3, 0.4], [0.15, 0.3, 0.25, 0.5]) == pytest.approx(2 / 3)
    assert rank_agreement([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert rank_agreement([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(rank_agreement([1.0], [2.0]))
    assert np.isnan(rank_agreement([1, 2], [5, 5]))
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.integers(0, 4, size=7).astype(float), rng.integers(0, 4, size=7).astype(float)  # ties
        if np.ptp(a) and np.ptp(b):
            assert rank_agreement(a, b) == pytest.approx(_tau_b_brute_force(a, b), abs=1e-12)
    with pytest.raises(DataValidationError, match="one score per model"):
        rank_agreement([1, 2], [1, 2, 3])


def test_tstr_result_summary() -> None:
    res = TSTRResult({"pop": 0.1, "ease": 0.3, "als": 0.25, "bpr": 0.5},
                     {"pop": 0.2, "ease": 0.3, "als": 0.5, "bpr": 0.4}, k=10, n_users=7)
    # real order pop < ease < bpr < als; synthetic pop < als < ease < bpr: pairs (ease, als) and (als, bpr)
    # discordant -> tau = (4 - 2) / 6 = 1/3; best model als vs bpr -> disagree
    s = res.summary()
    assert s["tstr_ratio_pop"] == pytest.approx(0.5) and s["tstr_ratio_bpr"] == pytest.approx(1.25)
    assert s["tstr_ratio_mean"] == pytest.approx((0.5 + 1.0 + 0.5 + 1.25) / 4)
    assert s["tstr_kendall_tau"] == pytest.approx(1 / 3)
    assert s["tstr_best_model_agrees"] == 0.0 and s["tstr_n_users"] == 7.0 and s["tstr_k"] == 10.0
    assert np.isnan(TSTRResult({"a": 0.1}, {"a": 0.0}, 10, 1).ratio("a"))


def test_tstr_hand_computed_with_most_popular() -> None:
    users = ["r0", "r1", "r2", "r3"]
    # real train counts: item0 3, item1 2, item2 1, item3 1; held out: r2 -> item 3, r3 -> item 1
    train = _log([("r0", 0), ("r0", 1), ("r1", 0), ("r1", 1), ("r2", 0), ("r2", 2), ("r3", 3)], "train", users)
    test = _log([("r2", 3), ("r3", 1)], "test", users)
    split = Split(train, test, "leave-last-out", "hand-made")
    # synthetic counts: item0 0 (never recommended), item1 1, item2 1, item3 3
    synthetic = _log([("s0", 3), ("s1", 3), ("s2", 3), ("s2", 1), ("s3", 2)], "synthetic")
    # K = 2, seen items excluded:
    #   real-trained:      r2 -> [1, 3] (hit at 2), r3 -> [0, 1] (hit at 2): NDCG = 1/log2(3)
    #   synthetic-trained: r2 -> [3, 1] (hit at 1), r3 -> [1, 2] (tie 1 = 1 -> lower id; hit at 1): NDCG = 1
    res = tstr(split, synthetic, models=["pop"], k=2)
    assert res.ndcg_real["pop"] == pytest.approx(1 / np.log2(3))
    assert res.ndcg_synthetic["pop"] == pytest.approx(1.0)
    assert res.ratio("pop") == pytest.approx(np.log2(3))
    assert res.n_users == 2 and np.isnan(res.kendall_tau)  # one model: no ranking to agree on
    # a mapping of factories works the same way
    custom = tstr(split, synthetic, models={"popular": lambda: make_model("pop")}, k=2)
    assert custom.ndcg_synthetic == {"popular": pytest.approx(1.0)}


def test_tstr_errors() -> None:
    users = ["r0", "r1"]
    train = _log([("r0", 0), ("r1", 1)], "train", users)
    split = Split(train, _log([("r0", 2)], "test", users), "leave-last-out", "hand-made")
    with pytest.raises(ConfigError, match="unknown model"):
        tstr(split, train, models=["nope"])
    with pytest.raises(ConfigError, match="unknown parameter"):
        tstr(split, train, models=["als"], model_params={"als": {"depth": 3}})
    with pytest.raises(ConfigError, match="k must be"):
        tstr(split, train, k=0)
    other = InteractionData.from_frame(pl.DataFrame({"user": ["a"], "item": [9]}), name="other")
    with pytest.raises(DataValidationError, match="catalogues differ"):
        tstr(split, other)
    empty = Split(train, train.with_interactions(train.interactions.clear()), "leave-last-out", "no test")
    with pytest.raises(DataValidationError, match="no test events"):
        tstr(empty, train)


def test_tstr_on_ml100k(shared_data: Path) -> None:
    """Measured (leave-last-out, 943 synthetic users, default small models, K = 10): with the small
    latent-factor generator (n_factors=8, fixed affinity scale) the TSTR ratios are pop 0.93, EASE 0.79,
    ALS 0.66, BPR 0.96 (τ = 0, best model differs); with the default n_factors=32 generator pop 0.96, EASE
    0.93, ALS 0.91, BPR 1.06 (τ = 2/3, best model agrees)."""
    from synthrec.data.movielens import read_movielens_100k
    from synthrec.data.splits import leave_last_out
    from synthrec.generators import LatentFactorGenerator

    data = read_movielens_100k(shared_data / "ml-100k")
    split = leave_last_out(data)
    t0 = time.perf_counter()
    synthetic = LatentFactorGenerator(n_factors=8, calibration_users=300, calibration_iters=2, gram_items=100,
                                      affinity_scale=1.0).fit(split.train).sample(943, seed=1)
    res = tstr(split, synthetic, seed=0)
    s = res.summary()
    print(f"ml-100k TSTR ({time.perf_counter() - t0:.1f}s):", s)
    assert res.n_users == 943 and list(res.ndcg_real) == ["pop", "ease", "als", "bpr"]
    assert res.ndcg_real["ease"] > res.ndcg_real["pop"]  # a sane real baseline
    for m in res.ndcg_real:
        assert 0.5 < s[f"tstr_ratio_{m}"] < 1.2
    assert -1.0 <= s["tstr_kendall_tau"] <= 1.0
