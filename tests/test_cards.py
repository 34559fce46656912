"""Pass / warn / fail cards: every threshold at its exact boundaries, derived figures, optional audits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from synthrec.errors import ConfigError
from synthrec.evaluation.cards import (
    FIDELITY_AUDITS,
    OPTIONAL_SUMMARIES,
    PRIVACY_AUDITS,
    THRESHOLDS,
    AuditCard,
    Threshold,
    all_cards,
    card,
    derived_figures,
    dp_summary,
    fidelity_cards,
    optional_cards,
    privacy_cards,
    worst_status,
)
from synthrec.privacy import PrivacyGuarantee


def _just_beyond(t: Threshold, at: float) -> float:
    """A value 1e-6 on the bad side of ``at`` (an upper end of a band: above it)."""
    return at - 1e-6 if t.better == "higher" else at + 1e-6


@pytest.mark.parametrize("audit", sorted(THRESHOLDS))
def test_every_threshold_at_its_boundaries(audit: str) -> None:
    t = THRESHOLDS[audit]
    assert t.status(t.pass_at) == "pass"  # boundaries are inclusive
    assert t.status(_just_beyond(t, t.pass_at)) == "warn"
    assert t.status(t.warn_at) == "warn"
    assert t.status(_just_beyond(t, t.warn_at)) == "fail"
    if t.better == "band":  # the lower ends too
        assert t.pass_low is not None and t.warn_low is not None
        assert t.status(t.pass_low) == "pass" and t.status(t.pass_low - 1e-6) == "warn"
        assert t.status(t.warn_low) == "warn" and t.status(t.warn_low - 1e-6) == "fail"
    assert t.status(None) == "not-applicable"
    assert t.status(float("nan")) == "not-applicable"


def test_every_optional_threshold_reads_a_known_summary() -> None:
    optional = [t for t in THRESHOLDS.values() if t.audit not in (*FIDELITY_AUDITS, *PRIVACY_AUDITS)]
    assert {t.source for t in optional} == set(OPTIONAL_SUMMARIES)


def test_new_boundaries_exactly() -> None:
    aia, pop = THRESHOLDS["attribute_inference"], THRESHOLDS["popularity_bias"]
    tau, dp = THRESHOLDS["rank_agreement"], THRESHOLDS["dp"]
    # attribute-inference advantage: pass <= 0.03, warn <= 0.08
    assert [aia.status(v) for v in (-0.1, 0.03, 0.0300001, 0.08, 0.0800001)] == [
        "pass", "pass", "warn", "warn", "fail"]
    # two-sided popularity amplification: pass in [0.9, 1.1], warn in [0.8, 1.25]
    assert [pop.status(v) for v in (0.7999999, 0.8, 0.8999999, 0.9, 1.0, 1.1, 1.1000001, 1.25, 1.2500001)] == [
        "fail", "warn", "warn", "pass", "pass", "pass", "warn", "warn", "fail"]
    assert pop.status(0.66 / 0.6) == "pass"  # 1.1000000000000003 in floats: on the boundary
    assert pop.in_words() == "pass within [0.9, 1.1] · warn within [0.8, 1.25] · fail outside"
    # Kendall tau with 4 models moves in steps of 1/3: 2/3 passes, 1/3 and 0 warn, -1/3 fails
    assert [tau.status(v) for v in (1.0, 2 / 3, 0.6, 0.5999999, 1 / 3, 0.0, -1e-7, -1 / 3)] == [
        "pass", "pass", "pass", "warn", "warn", "warn", "fail", "fail"]
    assert tau.source == "utility"
    # DP: eps <= 1 pass, <= 10 warn, a finite eps above fails, but eps = inf (not DP) warns
    assert [dp.status(v) for v in (0.5, 1.0, 1.0000001, 10.0, 10.000001, math.inf)] == [
        "pass", "pass", "warn", "warn", "fail", "warn"]
    assert dp.in_words() == "pass ≤ 1 · warn ≤ 10 · fail above · ∞: warn"


def test_band_threshold_is_validated() -> None:
    with pytest.raises(ValueError, match="warn_low <= pass_low"):
        Threshold("x", "X", "bias", "m", "m", "band", 1.1, 1.25, "why", pass_low=0.7, warn_low=0.8)
    with pytest.raises(ValueError, match="warn_low <= pass_low"):
        Threshold("x", "X", "bias", "m", "m", "band", 1.1, 1.25, "why")
    with pytest.raises(ValueError, match="band"):
        Threshold("x", "X", "bias", "m", "m", "lower", 0.1, 0.2, "why", pass_low=0.0, warn_low=0.0)


def test_dp_card_of_a_generator_without_dp() -> None:
    c = optional_cards({"dp": dp_summary(object())})[0]
    assert c.status == "warn" and c.value == math.inf
    assert c.headline == "user-level ε spent fitting the generator = ∞"
    assert c.note.startswith("not DP: ε = ∞") and "no formal bound" in c.note
    d = c.to_dict()
    assert d["value"] is None and json.loads(json.dumps(d, allow_nan=False))["status"] == "warn"


class _Reports:
    def __init__(self, privacy: object) -> None:
        self.privacy = privacy


def test_dp_summary_reads_the_privacy_guarantee() -> None:
    assert dp_summary(object()) == {"epsilon": math.inf, "delta": 0.0, "dp": 0.0}
    assert dp_summary(_Reports(PrivacyGuarantee(2.5, 1e-5, {}))) == {"epsilon": 2.5, "delta": 1e-5, "dp": 1.0}
    assert dp_summary(_Reports(PrivacyGuarantee.none())) == {"epsilon": math.inf, "delta": 0.0, "dp": 0.0}
    with pytest.raises(ConfigError, match="PrivacyGuarantee"):
        dp_summary(_Reports({"epsilon": 2.5, "delta": 1e-5}))  # a mapping is no longer read
    statuses = [optional_cards({"dp": dp_summary(_Reports(PrivacyGuarantee(e, 1e-5)))})[0].status
                for e in (1.0, 8.0, 12.0)]
    assert statuses == ["pass", "warn", "fail"]


def test_privacy_guarantee_checks_its_values_and_answers_old_readers() -> None:
    g = PrivacyGuarantee(np.float64(0.8), 1e-6, {"gaussian": []})
    assert type(g.epsilon) is float and g.is_dp and not PrivacyGuarantee.none().is_dp
    assert (g["epsilon"], g["delta"], g["ledger"]) == (0.8, 1e-6, {"gaussian": []})  # compatibility shim
    assert g.get("delta") == 1e-6 and g.get("sigma", 0) == 0
    with pytest.raises(KeyError):
        g["sigma"]
    for eps, delta in ((-1.0, 0.0), (math.nan, 0.0), (1.0, 1.0), (1.0, -0.1)):
        with pytest.raises(ValueError):
            PrivacyGuarantee(eps, delta)


def test_one_summary_feeds_the_utility_and_rank_agreement_cards() -> None:
    summary = {"tstr_ratio_mean": 0.9, "tstr_kendall_tau": 1 / 3, "tstr_best_model_agrees": 0.0,
               "tstr_ndcg_real_ease": 0.07}
    cards = optional_cards({"utility": summary}, notes={"utility": "scored on holdout users"})
    assert [(c.audit, c.status) for c in cards] == [("utility", "pass"), ("rank_agreement", "warn")]
    assert cards[1].details == {"tstr_best_model_agrees": 0.0}  # its detail_keys
    assert cards[0].details == {"tstr_kendall_tau": 1 / 3, "tstr_best_model_agrees": 0.0,
                                "tstr_ndcg_real_ease": 0.07}  # every other figure
    assert all(c.note == "scored on holdout users" for c in cards)
    pop = optional_cards({"popularity_bias": {"popularity_head_share_ratio": 1.3, "popularity_gini_ratio": 1.1,
                                              "popularity_n_head_items": 40.0}})[0]
    assert pop.status == "fail" and pop.details == {"popularity_gini_ratio": 1.1}


def test_statuses_of_known_values() -> None:
    gaps, cooc, mia = THRESHOLDS["time_gaps"], THRESHOLDS["cooccurrence"], THRESHOLDS["membership"]
    # lower is better: pass <= 0.10, warn <= 0.25
    assert [gaps.status(v) for v in (0.0, 0.10, 0.1000001, 0.25, 0.2500001, 1.0)] == [
        "pass", "pass", "warn", "warn", "fail", "fail"]
    # higher is better: pass >= 0.70, warn >= 0.50
    assert [cooc.status(v) for v in (1.0, 0.70, 0.6999999, 0.50, 0.4999999, -1.0)] == [
        "pass", "pass", "warn", "warn", "fail", "fail"]
    # the measured ml-100k generator: MIA 0.545 passes; the P17 copier (AUC 1.0) fails
    assert mia.status(0.545) == "pass" and mia.status(1.0) == "fail"


def test_rules_in_words() -> None:
    assert THRESHOLDS["activity"].in_words() == "pass ≤ 0.1 · warn ≤ 0.2 · fail above"
    assert THRESHOLDS["cooccurrence"].in_words() == "pass ≥ 0.7 · warn ≥ 0.5 · fail below"


def test_misordered_threshold_is_rejected() -> None:
    with pytest.raises(ValueError, match="good side"):
        Threshold("x", "X", "fidelity", "m", "m", "lower", 0.3, 0.1, "why")
    with pytest.raises(ValueError, match="good side"):
        Threshold("x", "X", "fidelity", "m", "m", "higher", 0.1, 0.3, "why")


def test_every_threshold_states_why() -> None:
    for t in THRESHOLDS.values():
        assert len(t.why.split()) >= 8, t.audit


def test_derived_figures_hand_computed() -> None:
    d = derived_figures({"popularity_gini_diff": -0.07, "dcr_share_closer_to_train": 0.8,
                         "dcr_share_baseline": 0.5, "exact_copy_share": 0.03, "exact_copy_share_holdout": 0.01})
    assert d["popularity_gini_abs_diff"] == pytest.approx(0.07)
    assert d["dcr_share_excess"] == pytest.approx(0.3)
    assert d["exact_copy_excess"] == pytest.approx(0.02)
    assert derived_figures({}) == {"popularity_gini_abs_diff": None, "dcr_share_excess": None,
                                   "exact_copy_excess": None}


def test_dcr_excess_is_rescaled_to_a_balanced_split() -> None:
    # 258 members, 742 holdout users: without memorisation a synthetic user is closer to train w.p. 0.742.
    dcr = THRESHOLDS["dcr"]
    copier = derived_figures({"dcr_share_closer_to_train": 1.0, "dcr_share_baseline": 0.742})
    assert copier["dcr_share_excess"] == pytest.approx(0.5)  # (1 - 0.742) / 0.258 * 0.5; raw excess 0.258
    assert dcr.status(copier["dcr_share_excess"]) == "fail"  # the raw 0.258 only warned
    mild = derived_figures({"dcr_share_closer_to_train": 0.8, "dcr_share_baseline": 0.742})
    assert mild["dcr_share_excess"] == pytest.approx(0.058 / 0.258 * 0.5)  # 0.1124...
    assert dcr.status(mild["dcr_share_excess"]) == "warn"
    # at the balanced baseline 0.5 the figure is share - 0.5, as before
    for share, status in ((0.55, "pass"), (0.7, "warn"), (0.9, "fail"), (0.4, "pass")):
        d = derived_figures({"dcr_share_closer_to_train": share, "dcr_share_baseline": 0.5})
        assert d["dcr_share_excess"] == pytest.approx(share - 0.5)
        assert dcr.status(d["dcr_share_excess"]) == status
    assert derived_figures({"dcr_share_closer_to_train": 1.0, "dcr_share_baseline": 1.0})["dcr_share_excess"] is None


def test_derived_boundary_is_not_lost_to_float_rounding() -> None:
    # 0.6 - 0.5 = 0.09999999999999998 and 0.8 - 0.5 = 0.30000000000000004 in floats; rounded to 12 decimals
    # they sit exactly on the dcr boundaries 0.10 (pass) and 0.30 (warn).
    privacy = {"dcr_share_closer_to_train": 0.6, "dcr_share_baseline": 0.5, "exact_copy_share": 0.0,
               "exact_copy_share_holdout": 0.0, "mia_auc": 0.5}
    assert privacy_cards(privacy)[0].status == "pass"
    assert privacy_cards({**privacy, "dcr_share_closer_to_train": 0.8})[0].status == "warn"
    assert privacy_cards({**privacy, "dcr_share_closer_to_train": 0.81})[0].status == "fail"


def _fidelity(**over: float | None) -> dict[str, float | None]:
    base: dict[str, float | None] = {
        "popularity_gini_real": 0.60, "popularity_gini_synthetic": 0.65, "popularity_gini_diff": 0.05,
        "popularity_spearman": 0.9, "popularity_ks": 0.05, "long_tail_coverage": 0.5,
        "catalogue_coverage_real": 0.9, "catalogue_coverage_synthetic": 0.8, "activity_ks": 0.2,
        "rating_tvd": None, "gap_ks": float("nan"), "cooccurrence_cosine_corr": 0.4999,
    }
    return {**base, **over}


def test_fidelity_cards_status_and_notes() -> None:
    cards = fidelity_cards(_fidelity())
    assert [c.audit for c in cards] == list(FIDELITY_AUDITS)
    by = {c.audit: c for c in cards}
    assert by["popularity"].status == "pass"  # |0.05| on the boundary
    assert by["long_tail"].status == "pass"  # 0.5 on the boundary
    assert by["activity"].status == "warn"  # 0.2 on the warn boundary
    assert by["ratings"].status == "not-applicable" and "rating column" in by["ratings"].note
    assert by["time_gaps"].status == "not-applicable" and "timestamps" in by["time_gaps"].note
    assert by["cooccurrence"].status == "fail"
    assert by["popularity"].details == {"popularity_gini_real": 0.60, "popularity_gini_synthetic": 0.65,
                                        "popularity_spearman": 0.9, "popularity_ks": 0.05}
    assert by["activity"].headline == "KS statistic on items per user = 0.200"
    assert by["ratings"].headline.endswith("= not measured")
    assert by["activity"].thresholds == "pass ≤ 0.1 · warn ≤ 0.2 · fail above"


def test_privacy_cards_without_audit_or_with_a_seen_holdout() -> None:
    none = privacy_cards(None, reason="no holdout here")
    assert [c.audit for c in none] == list(PRIVACY_AUDITS)
    assert {c.status for c in none} == {"not-applicable"} and all(c.note == "no holdout here" for c in none)
    leaky = {"dcr_share_closer_to_train": 1.0, "dcr_share_baseline": 0.5, "exact_copy_share": 0.2,
             "exact_copy_share_holdout": 0.0, "mia_auc": 1.0}
    assert [c.status for c in privacy_cards(leaky)] == ["fail", "fail", "fail"]
    seen = privacy_cards(leaky, holdout_unseen=False)
    # with a holdout the generator may have seen, only the exact-copy card can still be judged
    assert [c.status for c in seen] == ["not-applicable", "fail", "not-applicable"]
    assert "cannot detect memorisation" in seen[0].note


def test_optional_cards() -> None:
    cards = optional_cards({
        "attack": {"mia_shadow_auc": 0.7, "mia_shadow_tpr_at_fpr_10": 0.02},
        "utility": {"tstr_ndcg_synthetic_ease": 0.05},
        "dp": {"epsilon": 1.0, "delta": 1e-6},
        "canaries": {"exposure": 3.2, "label": "text is skipped"},
    })
    by = {c.audit: c for c in cards}
    assert by["attack"].status == "warn" and by["attack"].details == {"mia_shadow_tpr_at_fpr_10": 0.02}
    assert by["utility"].status == "not-applicable" and "'tstr_ratio_mean'" in by["utility"].note
    assert by["rank_agreement"].status == "not-applicable" and "'tstr_kendall_tau'" in by["rank_agreement"].note
    assert by["dp"].status == "pass" and by["dp"].value == 1.0
    assert by["canaries"].status == "not-applicable" and by["canaries"].details == {"exposure": 3.2}
    assert optional_cards(None) == []


def test_all_cards_order_and_worst_status() -> None:
    cards = all_cards(_fidelity(activity_ks=0.0, cooccurrence_cosine_corr=0.9), None,
                      summaries={"dp": {"epsilon": 20.0}})
    assert [c.audit for c in cards] == [*FIDELITY_AUDITS, *PRIVACY_AUDITS, "dp"]
    assert worst_status(cards) == "fail"  # epsilon 20 > 10
    assert worst_status(cards[:3]) == "pass"
    assert worst_status(cards[:4]) == "not-applicable"  # ratings not measured
    assert worst_status([]) == "not-applicable"


def test_card_to_dict_is_strict_json() -> None:
    c = card(THRESHOLDS["time_gaps"], {"gap_ks": float("nan"), "gap_median_real": float("nan")})
    d = c.to_dict()
    assert d["value"] is None and d["details"] == {"gap_median_real": None}
    assert json.loads(json.dumps(d, allow_nan=False))["status"] == "not-applicable"
    assert AuditCard(**d).status == "not-applicable"
    assert math.isnan(c.value or math.nan)
