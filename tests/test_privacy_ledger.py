"""Tests of the ε ledger and noise calibration (synthrec.privacy.ledger), cross-checked against opacus."""

from __future__ import annotations

import json
import math

import pytest
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier

from synthrec.errors import ConfigError
from synthrec.privacy import PlannedGaussian, PrivacyLedger, calibrate_noise_multipliers
from synthrec.privacy.ledger import RDP_ORDERS

DELTA = 1e-5


def opacus_epsilon(history: list[tuple[float, float, int]], delta: float = DELTA) -> float:
    """ε from opacus's own RDPAccountant object (independent of our ledger code path)."""
    acc = RDPAccountant()
    acc.history = list(history)
    return float(acc.get_epsilon(delta=delta, alphas=list(RDP_ORDERS)))


def test_orders_include_opacus_defaults() -> None:
    assert set(RDPAccountant.DEFAULT_ALPHAS) <= set(RDP_ORDERS)


def test_spent_matches_opacus_accountant_for_a_mix() -> None:
    ledger = PrivacyLedger()
    ledger.record_gaussian("counts", noise_multiplier=3.0, sensitivity=8.0)
    ledger.record_gaussian("gram", noise_multiplier=5.0, sensitivity=36.0)
    ledger.record_gaussian("sgd", noise_multiplier=1.1, sensitivity=1.0, sample_rate=0.05, steps=200)
    expected = opacus_epsilon([(3.0, 1.0, 1), (5.0, 1.0, 1), (1.1, 0.05, 200)])
    assert ledger.spent(DELTA) == pytest.approx(expected, rel=1e-12)
    # and with opacus's default orders when the optimum lies inside them
    acc = RDPAccountant()
    acc.history = [(3.0, 1.0, 1), (5.0, 1.0, 1), (1.1, 0.05, 200)]
    assert ledger.spent(DELTA) <= acc.get_epsilon(delta=DELTA) + 1e-12


def test_sensitivity_does_not_change_epsilon_but_sets_noise_std() -> None:
    a, b = PrivacyLedger(), PrivacyLedger()
    ea = a.record_gaussian("x", noise_multiplier=2.0, sensitivity=1.0)
    eb = b.record_gaussian("x", noise_multiplier=2.0, sensitivity=7.0)
    assert a.spent(DELTA) == b.spent(DELTA)
    assert (ea.noise_std, eb.noise_std) == (2.0, 14.0)


def test_composition_of_gaussians_equals_one_with_combined_sigma() -> None:
    # q = 1: RDP α/(2σ²) adds, so σ₁, σ₂ compose like σ with 1/σ² = 1/σ₁² + 1/σ₂²
    two = PrivacyLedger()
    two.record_gaussian("a", noise_multiplier=3.0, sensitivity=1.0)
    two.record_gaussian("b", noise_multiplier=4.0, sensitivity=1.0)
    one = PrivacyLedger()
    one.record_gaussian("ab", noise_multiplier=1.0 / math.sqrt(1 / 9 + 1 / 16), sensitivity=1.0)
    assert two.spent(DELTA) == pytest.approx(one.spent(DELTA), rel=1e-9)


def test_pure_entries_add_by_basic_composition() -> None:
    ledger = PrivacyLedger()
    ledger.record_gaussian("g", noise_multiplier=4.0, sensitivity=1.0)
    gaussian_only = ledger.spent(DELTA)
    entry = ledger.record_pure("hist", epsilon=0.25, sensitivity=2.0)
    assert entry.scale == 8.0
    assert ledger.spent(DELTA) == pytest.approx(gaussian_only + 0.25)


def test_empty_ledger_spends_nothing() -> None:
    assert PrivacyLedger().spent(DELTA) == 0.0


def test_p18_full_batch_gives_finite_epsilon_without_amplification() -> None:
    # 20 examples, batch 32 → q = min(1, 32/20) = 1: every step sees everyone, ε finite from σ = 1 alone
    ledger = PrivacyLedger()
    ledger.record_gaussian("sgd", noise_multiplier=1.0, sensitivity=1.0, sample_rate=min(1.0, 32 / 20), steps=1)
    eps = ledger.spent(DELTA)
    assert math.isfinite(eps)
    assert eps == pytest.approx(opacus_epsilon([(1.0, 1.0, 1)]), rel=1e-12)
    # amplification would only lower it: the same σ at q = 0.05 costs far less
    amplified = PrivacyLedger()
    amplified.record_gaussian("sgd", noise_multiplier=1.0, sensitivity=1.0, sample_rate=50 / 1000, steps=1)
    assert amplified.spent(DELTA) < eps / 2


def test_sample_rate_above_one_is_an_error() -> None:
    with pytest.raises(ConfigError, match="sample_rate"):
        PrivacyLedger().record_gaussian("x", noise_multiplier=1.0, sensitivity=1.0, sample_rate=32 / 20)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_noise_multiplier_must_be_positive_finite(bad: float) -> None:
    with pytest.raises(ConfigError, match="noise_multiplier"):
        PrivacyLedger().record_gaussian("x", noise_multiplier=bad, sensitivity=1.0)


def test_calibration_meets_target_and_is_tight() -> None:
    plan = [PlannedGaussian("counts", 0.2), PlannedGaussian("gram", 0.5), PlannedGaussian("hist", 0.3)]
    sigmas = calibrate_noise_multipliers(plan, epsilon=1.0, delta=DELTA)
    spent = opacus_epsilon([(sigmas[p.name], 1.0, 1) for p in plan])
    assert spent <= 1.0
    assert spent > 0.999
    # σ_j ∝ 1/√share_j
    assert sigmas["counts"] / sigmas["gram"] == pytest.approx(math.sqrt(0.5 / 0.2), rel=1e-9)


def test_calibration_of_one_mechanism_agrees_with_opacus_get_noise_multiplier() -> None:
    ours = calibrate_noise_multipliers([PlannedGaussian("x", 1.0)], epsilon=2.0, delta=DELTA)["x"]
    theirs = get_noise_multiplier(target_epsilon=2.0, target_delta=DELTA, sample_rate=1.0, steps=1,
                                  alphas=list(RDP_ORDERS), epsilon_tolerance=1e-4)
    assert ours == pytest.approx(theirs, rel=2e-3)


def test_calibration_with_sampling() -> None:
    # N = 1000, B = 50: q = 0.05, 100 steps (5 epochs)
    sigmas = calibrate_noise_multipliers([PlannedGaussian("sgd", 1.0, sample_rate=0.05, steps=100)],
                                         epsilon=1.0, delta=DELTA)
    assert opacus_epsilon([(sigmas["sgd"], 0.05, 100)]) <= 1.0


@pytest.mark.parametrize("kwargs", [{"epsilon": 0.0, "delta": DELTA}, {"epsilon": math.inf, "delta": DELTA},
                                    {"epsilon": 1.0, "delta": 0.0}, {"epsilon": 1.0, "delta": 1.0}])
def test_calibration_rejects_bad_targets(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        calibrate_noise_multipliers([PlannedGaussian("x", 1.0)], **kwargs)


def test_calibration_rejects_bad_plans() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        calibrate_noise_multipliers([], epsilon=1.0, delta=DELTA)
    with pytest.raises(ConfigError, match="distinct"):
        calibrate_noise_multipliers([PlannedGaussian("x", 1.0), PlannedGaussian("x", 1.0)], epsilon=1.0,
                                    delta=DELTA)
    with pytest.raises(ConfigError, match="share"):
        calibrate_noise_multipliers([PlannedGaussian("x", 0.0)], epsilon=1.0, delta=DELTA)


def test_ledger_round_trips_through_json() -> None:
    ledger = PrivacyLedger()
    ledger.record_gaussian("gram", noise_multiplier=5.0, sensitivity=36.0)
    ledger.record_pure("hist", epsilon=0.1, sensitivity=1.0)
    record = json.loads(json.dumps(ledger.to_dict(DELTA)))
    assert record["epsilon"] == pytest.approx(ledger.spent(DELTA))
    assert record["gaussian"][0]["noise_std"] == 180.0
    back = PrivacyLedger.from_dict(record)
    assert back.spent(DELTA) == pytest.approx(ledger.spent(DELTA))
    assert back.gaussian == ledger.gaussian and back.pure == ledger.pure
