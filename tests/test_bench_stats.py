"""Statistics of `synthrec bench` against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from synthrec.experiments.bench.stats import (
    NOTE_CONSTANT,
    auto_report,
    holm,
    paired_t_test,
    summarise,
    t_interval,
    versus_best_real,
    wilcoxon_signed_rank,
    worth_real_users,
    worth_table,
)
from synthrec.experiments.bench.store import rows_frame


def test_t_interval_of_one_to_five() -> None:
    # mean 3; s² = (4+1+0+1+4)/4 = 2.5; s/√5 = √0.5 = 0.707107; t_{0.975,4} = 2.776445 (t table)
    # half-width = 2.776445 · 0.707107 = 1.963243
    mean, lo, hi = t_interval([1, 2, 3, 4, 5])
    assert mean == 3.0
    assert lo == pytest.approx(3 - 1.963243, abs=1e-6)
    assert hi == pytest.approx(3 + 1.963243, abs=1e-6)


def test_t_interval_needs_two_values() -> None:
    mean, lo, hi = t_interval([0.5])
    assert mean == 0.5 and math.isnan(lo) and math.isnan(hi)


def test_wilcoxon_exact_all_positive() -> None:
    # ranks 1..6 all positive: W- = 0; exact null: 2^6 = 64 sign patterns, only "all +" has W- = 0,
    # so two-sided p = 2 · 1/64 = 0.03125
    stat, p = wilcoxon_signed_rank([1, 2, 3, 4, 5, 6])
    assert stat == 0.0
    assert p == pytest.approx(2 / 64)


def test_wilcoxon_exact_one_negative() -> None:
    # d = [1, -2, 3, 4, 5, 6]: W- = 2 (rank of |-2|); patterns with negative-rank sum <= 2:
    # {}, {1}, {2} -> 3/64 one-sided, two-sided p = 6/64 = 0.09375
    stat, p = wilcoxon_signed_rank([1, -2, 3, 4, 5, 6])
    assert stat == 2.0
    assert p == pytest.approx(6 / 64)


def test_wilcoxon_five_seeds_cannot_reach_five_percent() -> None:
    # the smallest two-sided exact p with 5 pairs is 2/32 = 0.0625
    _, p = wilcoxon_signed_rank([0.1, 0.2, 0.3, 0.4, 0.5])
    assert p == pytest.approx(0.0625)


def test_wilcoxon_all_ties_is_no_evidence() -> None:
    assert wilcoxon_signed_rank([0.0, 0.0, 0.0]) == (0.0, 1.0)


def test_holm_by_hand() -> None:
    # sorted p: 0.01, 0.02, 0.04 -> ×3, ×2, ×1 = 0.03, 0.04, 0.04 (running max keeps order)
    adj = holm([0.04, 0.01, 0.02, np.nan])
    assert adj[:3] == pytest.approx([0.04, 0.03, 0.04])
    assert math.isnan(adj[3])


def test_worth_real_users_log_interpolation() -> None:
    # 0.25 is halfway between 0.2 (100 users) and 0.3 (1000 users): exp((ln 100 + ln 1000)/2) = √1e5
    users, status = worth_real_users([1000, 10, 100], [0.3, 0.1, 0.2], 0.25)
    assert status == "interpolated"
    assert users == pytest.approx(math.sqrt(1e5))
    # exactly on a level
    assert worth_real_users([10, 100, 1000], [0.1, 0.2, 0.3], 0.2)[0] == pytest.approx(100)


def test_worth_real_users_uses_running_maximum_and_edges() -> None:
    # a dip at 100 users (0.15 < 0.2 at 10) is smoothed to 0.2: 0.25 lies between 0.2 at 100 and 0.3 at 1000
    users, _ = worth_real_users([10, 100, 1000], [0.2, 0.15, 0.3], 0.25)
    assert users == pytest.approx(math.sqrt(1e5))
    assert worth_real_users([10, 100], [0.1, 0.2], 0.05) == (10.0, "below-curve")
    users, status = worth_real_users([10, 100], [0.1, 0.2], 0.5)
    assert status == "above-curve" and math.isnan(users)


def _row(level: float, seed: int, strategy: str, rec: str, value: float, n_train: int, **kw: object) -> dict:
    arm = strategy if strategy in ("real-only", "ceiling") else f"{strategy} [source] g"
    base = {"cell_id": f"{level}-{seed}-{strategy}-{rec}", "dataset": "d", "split": "leave-last-out",
            "level": f"users={level:g}", "level_kind": "users", "users_fraction": level, "seed": seed,
            "strategy": strategy, "source": "-" if strategy == "real-only" else "source",
            "generator": "-" if strategy == "real-only" else "g", "arm": arm, "recommender": rec,
            "metric": "NDCG@10", "group": "all", "value": value, "n_users": 50, "n_train_users": n_train,
            "status": "ok"}
    return {**base, **kw}


def _table() -> pl.DataFrame:
    rows = []
    for s in range(6):
        # real-only curve of 'ease': 0.10 at 10 users, 0.20 at 100 users; 'pop' is worse
        rows.append(_row(0.1, s, "real-only", "ease", 0.10 + 0.001 * s, 10))
        rows.append(_row(1.0, s, "real-only", "ease", 0.20 + 0.001 * s, 100))
        rows.append(_row(0.1, s, "real-only", "pop", 0.05, 10))
        rows.append(_row(1.0, s, "real-only", "pop", 0.06, 100))
        # augment beats the best real-only (ease) at 10 users in every seed, by 0.05 + 0.001·s
        rows.append(_row(0.1, s, "augment", "pop", 0.15 + 0.002 * s, 10))
        rows.append(_row(0.1, s, "auto", "ease", 0.10 + 0.001 * s, 10, chosen_arm="real-only"))
    return rows_frame(rows)


def test_versus_best_real_pairs_by_seed_against_best_recommender() -> None:
    res = versus_best_real(_table())
    aug = res.filter(pl.col("strategy") == "augment").row(0, named=True)
    assert aug["baseline"] == "ease"  # the best real-only model, not the strategy's own recommender
    assert aug["n"] == 6 and aug["wins"] == 6 and aug["losses"] == 0
    # diffs 0.05 + 0.001·s: mean 0.0525
    assert aug["mean_diff"] == pytest.approx(0.0525)
    assert aug["p_value"] == pytest.approx(2 / 64)
    assert aug["min_p"] == pytest.approx(2 / 64)
    # family at users=0.1: augment (p 1/32) and auto (all ties: p 1) -> Holm: 2/64 · 2 = 0.0625
    assert aug["p_holm"] == pytest.approx(0.0625)
    assert aug["verdict_wilcoxon"] == "n.s."  # the exact test's floor: 6 seeds and 2 hypotheses cannot reach 0.05
    # paired t: d = 0.05 + 0.001·s, s = 0..5: s_d = 0.001·√3.5 (sd of 0..5 = √(17.5/5)),
    # t = 0.0525 / (0.001·√3.5/√6) = 52.5·√(6/3.5) = 68.7386; auto's differences are all 0: t 0, p 1
    t_hand = 52.5 * math.sqrt(6 / 3.5)
    assert aug["t_statistic"] == pytest.approx(t_hand, rel=1e-9)
    p_hand = 2 * float(sps.t.sf(t_hand, 5))
    assert aug["p_t"] == pytest.approx(p_hand, rel=1e-6)
    # Holm over {p_hand, 1}: sorted p_hand ×2, then max(2·p_hand, 1·1) = 1
    assert aug["p_t_holm"] == pytest.approx(2 * p_hand, rel=1e-6)
    assert aug["verdict"] == "better" and aug["note"] == ""
    auto = res.filter(pl.col("strategy") == "auto").row(0, named=True)
    assert (auto["t_statistic"], auto["p_t"], auto["p_t_holm"], auto["verdict"]) == (0.0, 1.0, 1.0, "n.s.")
    # the columns of earlier versions keep their place, the new ones follow
    assert res.columns[-11:] == ["statistic", "p_value", "min_p", "p_holm", "t_statistic", "p_t", "p_t_holm",
                                 "verdict", "verdict_wilcoxon", "note", "metric"]
    assert set(res["metric"]) == {"NDCG@10"}  # the CSV says which metric the tests compare


def test_summary_and_worth_table() -> None:
    summ = summarise(_table())
    ease1 = summ.filter((pl.col("strategy") == "real-only") & (pl.col("recommender") == "ease")
                        & (pl.col("level") == "users=1")).row(0, named=True)
    # values 0.200..0.205: mean 0.2025
    assert ease1["mean"] == pytest.approx(0.2025) and ease1["n"] == 6
    worth = worth_table(summ)
    # augment with pop at 10 users scores 0.155 on average; pop's own real-only curve tops at 0.06
    aug = worth.filter(pl.col("arm").str.starts_with("augment")).row(0, named=True)
    assert aug["status"] == "above-curve"
    # auto with ease: mean 0.1025 on ease's curve (0.1025 at 10 users, 0.2025 at 100): exactly 10 users
    auto = worth.filter(pl.col("arm").str.starts_with("auto")).row(0, named=True)
    assert auto["equivalent_users"] == pytest.approx(10.0)
    assert auto["worth_users"] == pytest.approx(0.0)


def test_auto_report_counts_good_choices() -> None:
    per_seed, per_group = auto_report(_table())
    # auto (ease) = real-only (ease); no synthetic arm of the same recommender ran, so the oracle is
    # real-only and auto chose best in all 6 seeds, with zero regret
    assert per_seed.height == 6
    assert per_seed["chose_best"].all()
    g = per_group.row(0, named=True)
    assert g["share_chose_best"] == 1.0 and g["mean_regret"] == pytest.approx(0.0)
    assert g["significantly_worse"] is False


def test_versus_best_real_with_many_uncapped_levels_before_capped_ones() -> None:
    # regression: 120 user-fraction levels (history_cap null) listed before a capped one made polars
    # infer history_cap from the first 100 rows only and fail on the integer cap
    from synthrec.experiments.bench.stats import versus_best_real
    from synthrec.experiments.bench.store import rows_frame

    rows = []
    levels = [(f"users={i}", None) for i in range(120)] + [("cap=5", 5)]
    for level, cap in levels:
        for seed in range(3):
            for strategy, value in (("real-only", 0.1 + seed / 100), ("augment", 0.2 + seed / 100)):
                rows.append({"dataset": "d", "split": "s", "level": level, "history_cap": cap, "seed": seed,
                             "strategy": strategy, "arm": strategy, "recommender": "ease", "metric": "NDCG@10",
                             "group": "all", "value": value, "status": "ok"})
    res = versus_best_real(rows_frame(rows))
    assert res.height == len(levels)
    assert res.filter(pl.col("level") == "cap=5")["history_cap"].to_list() == [5]
    assert np.allclose(res["mean_diff"].to_numpy(), 0.1, rtol=0, atol=1e-12)
    assert res["wins"].to_list() == [3] * len(levels)


def test_paired_t_test_by_hand() -> None:
    # d = 1..6: mean 3.5; s² = (6.25+2.25+0.25+0.25+2.25+6.25)/5 = 3.5; s/√6 = √(3.5/6);
    # t = 3.5/√(3.5/6) = √21 = 4.582576; p = 2·P(T_5 ≥ √21)
    t, p, note = paired_t_test([1, 2, 3, 4, 5, 6])
    assert t == pytest.approx(math.sqrt(21), rel=1e-12)
    assert p == pytest.approx(2 * float(sps.t.sf(math.sqrt(21), 5)), rel=1e-10)
    assert 0.0059 < p < 0.0060  # t table: t_{0.995,5} = 4.032, t_{0.9975,5} = 4.773
    assert note == ""
    # the same as scipy's paired test on the two samples
    a = np.array([0.31, 0.25, 0.40, 0.18, 0.22])
    b = np.array([0.30, 0.21, 0.41, 0.12, 0.20])
    ref = sps.ttest_rel(a, b)
    t2, p2, _ = paired_t_test(a - b)
    assert t2 == pytest.approx(float(ref.statistic)) and p2 == pytest.approx(float(ref.pvalue))
    # sign: negative differences give a negative t and the same two-sided p
    t3, p3, _ = paired_t_test([-1, -2, -3, -4, -5, -6])
    assert t3 == pytest.approx(-math.sqrt(21)) and p3 == pytest.approx(p)


def test_paired_t_test_degenerate_cases() -> None:
    assert paired_t_test([0.0, 0.0, 0.0]) == (0.0, 1.0, "")  # no difference at all: no evidence
    assert paired_t_test([0.0]) == (0.0, 1.0, "")
    t, p, note = paired_t_test([0.05, 0.05, 0.05])  # constant shift: t = +inf, p undefined
    assert t == math.inf and math.isnan(p) and note == NOTE_CONSTANT
    t, p, note = paired_t_test([-0.05, -0.05])
    assert t == -math.inf and math.isnan(p) and note == NOTE_CONSTANT
    # a constant shift that float subtraction spreads by a few ulps is still constant (not t ≈ 1e14)
    d = np.array([0.31, 0.61, 0.21]) - np.array([0.21, 0.51, 0.11])
    assert np.ptp(d) > 0  # the subtraction really differs in the last bits
    t, p, note = paired_t_test(d)
    assert t == math.inf and math.isnan(p) and note == NOTE_CONSTANT
    t, p, note = paired_t_test([0.1])  # one pair: no variance estimate
    assert math.isnan(t) and math.isnan(p) and note == ""
    t, p, _ = paired_t_test([])
    assert math.isnan(t) and math.isnan(p)


def test_t_verdict_with_constant_differences_and_holm_family() -> None:
    # 3 seeds, best real-only 'ease' = 0.1, 0.2, 0.3; arm A = ease + 0.05 exactly each seed (constant),
    # arm B = ease + 0.01·(s+1) -> d = 0.01, 0.02, 0.03
    rows = []
    for s in range(3):
        base = 0.1 * (s + 1)
        rows.append({"dataset": "d", "split": "s", "level": "users=1", "seed": s, "strategy": "real-only",
                     "arm": "real-only", "recommender": "ease", "metric": "NDCG@10", "group": "all", "value": base,
                     "status": "ok"})
        for strategy, d in (("augment", 0.05), ("synthetic-only", 0.01 * (s + 1))):
            rows.append({"dataset": "d", "split": "s", "level": "users=1", "seed": s, "strategy": strategy,
                         "arm": strategy, "recommender": "ease", "metric": "NDCG@10", "group": "all",
                         "value": base + d, "status": "ok"})
    res = versus_best_real(rows_frame(rows), alpha=0.2)
    a = res.filter(pl.col("strategy") == "augment").row(0, named=True)
    b = res.filter(pl.col("strategy") == "synthetic-only").row(0, named=True)
    assert a["t_statistic"] == math.inf and math.isnan(a["p_t"]) and math.isnan(a["p_t_holm"])
    assert a["note"] == NOTE_CONSTANT and a["verdict"] == "n.s."
    # B: mean 0.02, s = 0.01, t = 0.02/(0.01/√3) = 2√3; A has no p, so B's Holm family has size 1
    assert b["t_statistic"] == pytest.approx(2 * math.sqrt(3))
    p_b = 2 * float(sps.t.sf(2 * math.sqrt(3), 2))  # ≈ 0.0742
    assert b["p_t"] == pytest.approx(p_b) and b["p_t_holm"] == pytest.approx(p_b)
    assert b["verdict"] == "better"  # p_b < alpha = 0.2
    # the Wilcoxon family has both (exact p 2/8 each): Holm 0.5, 0.5 -> n.s.
    assert a["p_value"] == pytest.approx(0.25) and b["p_holm"] == pytest.approx(0.5)
    assert b["verdict_wilcoxon"] == "n.s."


def test_auto_report_uses_the_paired_t_test() -> None:
    # 5 seeds, auto (ease) below real-only (ease) by 0.01 + 0.001·s: the exact Wilcoxon p is 2/32 = 0.0625,
    # the t-test: mean 0.012, s = 0.001·√2.5, t = -0.012/(0.001·√(2.5/5)) = -12·√2 = -16.97
    rows = []
    for s in range(5):
        real = 0.2 + 0.01 * s
        for strategy, v in (("real-only", real), ("auto", real - (0.01 + 0.001 * s))):
            rows.append(_row(1.0, s, strategy, "ease", v, 100, chosen_arm="real-only"))
    _, g = auto_report(rows_frame(rows))
    r = g.row(0, named=True)
    assert r["p_value"] == pytest.approx(0.0625) and r["significantly_worse_wilcoxon"] is False
    assert r["t_statistic"] == pytest.approx(-12 * math.sqrt(2), rel=1e-6)
    assert r["p_t"] == pytest.approx(2 * float(sps.t.sf(12 * math.sqrt(2), 4)), rel=1e-5)
    assert r["significantly_worse"] is True and r["note"] == ""


def test_worth_table_bounds_and_negative_worth() -> None:
    def srow(level: str, strategy: str, users: float, mean: float) -> dict:
        return {"dataset": "d", "split": "s", "level": level, "level_kind": "users", "strategy": strategy,
                "arm": strategy, "recommender": "ease", "metric": "NDCG@10", "group": "all",
                "n_train_users": users, "mean": mean}

    # real-only curve: 10 users -> 0.1, 100 users -> 0.2
    summ = pl.DataFrame([srow("users=0.1", "real-only", 10, 0.1), srow("users=1", "real-only", 100, 0.2),
                         srow("users=1", "augment", 100, 0.15),        # below real-only with its own 100 users
                         srow("users=1", "synthetic-only", 100, 0.05),  # below the whole curve
                         srow("users=0.1", "pretrain-finetune", 10, 0.3)])  # above the whole curve
    w = {r["arm"]: r for r in worth_table(summ).to_dicts()}
    assert list(worth_table(summ).columns) == ["dataset", "split", "level", "arm", "recommender", "n_train_users",
                                               "mean", "equivalent_users", "worth_users", "status", "worth_bound",
                                               "bound", "metric"]
    assert set(worth_table(summ)["metric"]) == {"NDCG@10"}
    # 0.15 halfway between 0.1 and 0.2: √(10·100) = 31.62 users; worth 31.62 - 100 = -68.38 (cost 68 real users)
    a = w["augment"]
    assert a["status"] == "interpolated" and a["bound"] == "exact"
    assert a["worth_users"] == pytest.approx(math.sqrt(1000) - 100) and a["worth_bound"] == a["worth_users"]
    # below the curve: real-only needs at most 10 users -> worth at most 10 - 100 = -90
    b = w["synthetic-only"]
    assert (b["status"], b["bound"], b["equivalent_users"], b["worth_users"], b["worth_bound"]) == \
        ("below-curve", "at most", 10.0, -90.0, -90.0)
    # above the curve: more than 100 users -> worth more than 100 - 10 = 90; worth_users stays NaN
    c = w["pretrain-finetune"]
    assert c["status"] == "above-curve" and c["bound"] == "more than" and c["worth_bound"] == 90.0
    assert math.isnan(c["worth_users"]) and math.isnan(c["equivalent_users"])
