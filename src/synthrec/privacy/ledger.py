"""The ε ledger: what each mechanism spent, composed by opacus's Rényi-DP accountant.

Every release of a noised statistic is one entry. Gaussian entries are (sampled) Gaussian mechanisms
described by opacus's own vocabulary — noise multiplier σ (noise sd / L2 sensitivity), sampling rate q and
number of steps — and are composed in Rényi DP (Mironov 2017, "Rényi differential privacy", CSF;
sampled Gaussian: Mironov, Talwar & Zhang 2019, arXiv:1908.10530) and converted to (ε, δ) by
``opacus.accountants.analysis.rdp`` (``compute_rdp`` and ``get_privacy_spent``, the conversion of Balle
et al. 2020, AISTATS, Thm 21). Nothing here re-derives either formula.

Pure ε-DP entries (Laplace mechanism) are added on top by basic sequential composition
(Dwork & Roth 2014, *The Algorithmic Foundations of Differential Privacy*, Thm 3.16): the total is
ε_RDP(δ) + Σ ε_pure at the same δ.

`calibrate_noise_multipliers` turns a target (ε, δ) and a plan of Gaussian mechanisms with budget shares
into noise multipliers whose composition spends at most the target, by bisection over opacus's accountant.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from synthrec.errors import ConfigError

#: Rényi orders searched by the conversion: opacus's defaults (``RDPAccountant.DEFAULT_ALPHAS``, checked
#: by a test) plus larger orders, which the optimum needs at small ε (for one Gaussian with q = 1 the best
#: order is about 1 + σ·√(2 log(1/δ))). opacus is imported lazily: importing it loads torch (seconds).
RDP_ORDERS: tuple[float, ...] = tuple(1 + x / 10.0 for x in range(1, 100)) + tuple(
    float(a) for a in (*range(12, 64), *range(64, 256, 8), 256, 320, 384, 512, 768, 1024, 2048, 4096)
)


@dataclass(frozen=True)
class GaussianSpend:
    """One (sampled) Gaussian mechanism, as opacus's RDP accountant describes it.

    Attributes:
        name: what was released (e.g. ``"item_gram"``).
        noise_multiplier: σ = noise standard deviation / L2 sensitivity (> 0).
        sensitivity: L2 sensitivity Δ of the released statistic under add/remove of one user.
        sample_rate: q ∈ (0, 1], the Poisson sampling rate of each step (1 = the whole data set).
        steps: how many times the mechanism ran (≥ 1).
    """

    name: str
    noise_multiplier: float
    sensitivity: float
    sample_rate: float = 1.0
    steps: int = 1

    @property
    def noise_std(self) -> float:
        """Standard deviation of the added noise, σ·Δ."""
        return self.noise_multiplier * self.sensitivity


@dataclass(frozen=True)
class PureSpend:
    """One pure ε-DP release (e.g. Laplace noise of scale Δ₁/ε).

    Attributes:
        name: what was released.
        epsilon: its ε.
        sensitivity: its L1 sensitivity Δ₁.
        scale: the Laplace scale b = Δ₁/ε.
    """

    name: str
    epsilon: float
    sensitivity: float
    scale: float


@dataclass
class PrivacyLedger:
    """Every mechanism run on one data set, and their composed (ε, δ).

    Attributes:
        gaussian: the Gaussian entries, in the order recorded.
        pure: the pure-ε entries, in the order recorded.
    """

    gaussian: list[GaussianSpend] = field(default_factory=list)
    pure: list[PureSpend] = field(default_factory=list)

    def record_gaussian(
        self, name: str, *, noise_multiplier: float, sensitivity: float, sample_rate: float = 1.0, steps: int = 1
    ) -> GaussianSpend:
        """Add a Gaussian entry (see `GaussianSpend`); returns it.

        Raises:
            ConfigError: σ ≤ 0, Δ < 0, q outside (0, 1] or steps < 1 (a mechanism without noise has ε = ∞).
        """
        _check_gaussian(noise_multiplier, sample_rate, steps)
        if not (math.isfinite(sensitivity) and sensitivity >= 0):
            raise ConfigError(f"sensitivity of '{name}' must be a finite number >= 0, got {sensitivity!r}")
        entry = GaussianSpend(name, float(noise_multiplier), float(sensitivity), float(sample_rate), int(steps))
        self.gaussian.append(entry)
        return entry

    def record_pure(self, name: str, *, epsilon: float, sensitivity: float) -> PureSpend:
        """Add a pure ε-DP entry (Laplace scale Δ₁/ε); returns it.

        Raises:
            ConfigError: ε is not a finite number > 0.
        """
        if not (math.isfinite(epsilon) and epsilon > 0):
            raise ConfigError(f"epsilon of '{name}' must be a finite number > 0, got {epsilon!r}")
        entry = PureSpend(name, float(epsilon), float(sensitivity), float(sensitivity) / float(epsilon))
        self.pure.append(entry)
        return entry

    def rdp(self, orders: Sequence[float] = RDP_ORDERS) -> np.ndarray:
        """Rényi-DP curve of the Gaussian entries at ``orders`` (sum over entries of opacus ``compute_rdp``)."""
        return _composed_rdp([(e.noise_multiplier, e.sample_rate, e.steps) for e in self.gaussian], orders)

    def spent(self, delta: float) -> float:
        """ε spent at ``delta`` ∈ (0, 1): opacus's RDP→(ε, δ) conversion of the Gaussian entries + Σ ε_pure.

        0 when nothing was recorded.
        """
        _check_delta(delta)
        eps = _epsilon_of([(e.noise_multiplier, e.sample_rate, e.steps) for e in self.gaussian], delta)
        return eps + sum(e.epsilon for e in self.pure)

    def to_dict(self, delta: float | None = None) -> dict[str, Any]:
        """JSON-ready record: the entries and, if ``delta`` is given, ``{"delta": δ, "epsilon": spent(δ)}``."""
        out: dict[str, Any] = {
            "accountant": "opacus RDP (opacus.accountants.analysis.rdp)",
            "gaussian": [asdict(e) | {"noise_std": e.noise_std} for e in self.gaussian],
            "pure": [asdict(e) for e in self.pure],
        }
        if delta is not None:
            out["delta"] = float(delta)
            out["epsilon"] = self.spent(delta)
        return out

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> PrivacyLedger:
        """Rebuild a ledger written by `to_dict` (derived fields are recomputed, not trusted)."""
        ledger = cls()
        for e in record.get("gaussian", []):
            ledger.record_gaussian(e["name"], noise_multiplier=e["noise_multiplier"], sensitivity=e["sensitivity"],
                                   sample_rate=e["sample_rate"], steps=e["steps"])
        for e in record.get("pure", []):
            ledger.record_pure(e["name"], epsilon=e["epsilon"], sensitivity=e["sensitivity"])
        return ledger


@dataclass(frozen=True)
class PlannedGaussian:
    """A Gaussian mechanism to calibrate: its share of the budget, sampling rate and steps.

    ``share`` > 0 is relative: with one common scale s, the mechanism gets σ = s / √share (so in RDP,
    where a Gaussian with q = 1 costs α/(2σ²), each mechanism's cost is proportional to its share).
    """

    name: str
    share: float
    sample_rate: float = 1.0
    steps: int = 1


def calibrate_noise_multipliers(
    plan: Sequence[PlannedGaussian], *, epsilon: float, delta: float, rtol: float = 1e-4
) -> dict[str, float]:
    """Noise multipliers σ_j = s / √share_j, with the smallest common s whose composition spends ≤ ε.

    The spend of a candidate s is opacus's RDP accountant over all planned mechanisms (same conversion as
    `PrivacyLedger.spent`); s is found by bisection on a log scale until the bracket is within ``rtol``
    (relative), and the upper end (the private side) is returned, so the composed ε never exceeds the
    target.

    Args:
        plan: the mechanisms (distinct names, shares > 0).
        epsilon: target ε (finite, > 0).
        delta: target δ ∈ (0, 1).
        rtol: relative precision of s.

    Returns:
        ``{name: σ}`` noise multipliers (noise sd = σ × the mechanism's L2 sensitivity).

    Raises:
        ConfigError: empty plan, duplicate names, a share ≤ 0, or ε/δ out of range.
    """
    _check_epsilon(epsilon)
    _check_delta(delta)
    if not plan:
        raise ConfigError("calibrate_noise_multipliers needs at least one planned mechanism")
    names = [p.name for p in plan]
    if len(set(names)) != len(names):
        raise ConfigError(f"planned mechanism names must be distinct, got {names}")
    for p in plan:
        if not (math.isfinite(p.share) and p.share > 0):
            raise ConfigError(f"share of '{p.name}' must be a finite number > 0, got {p.share!r}")
        _check_gaussian(1.0, p.sample_rate, p.steps)

    def spend(scale: float) -> float:
        return _epsilon_of([(scale / math.sqrt(p.share), p.sample_rate, p.steps) for p in plan], delta)

    lo, hi = 1e-3, 1.0
    while spend(hi) > epsilon:
        lo, hi = hi, hi * 2.0
        if hi > 1e7:
            raise ConfigError(f"epsilon={epsilon} is too small to reach with delta={delta}: the noise "
                              "multiplier would exceed 1e7")
    while spend(lo) <= epsilon and lo > 1e-9:
        hi, lo = lo, lo / 2.0
    while hi - lo > rtol * hi:
        mid = math.sqrt(lo * hi)
        if spend(mid) <= epsilon:
            hi = mid
        else:
            lo = mid
    return {p.name: hi / math.sqrt(p.share) for p in plan}


def _composed_rdp(history: Sequence[tuple[float, float, int]], orders: Sequence[float]) -> np.ndarray:
    from opacus.accountants.analysis import rdp as opacus_rdp

    total = np.zeros(len(orders))
    for sigma, q, steps in history:
        total = total + np.asarray(opacus_rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=steps,
                                                          orders=list(orders)), dtype=np.float64)
    return total


def _epsilon_of(history: Sequence[tuple[float, float, int]], delta: float) -> float:
    if not history:
        return 0.0
    from opacus.accountants.analysis import rdp as opacus_rdp

    rdp = _composed_rdp(history, RDP_ORDERS)
    with warnings.catch_warnings():
        # opacus warns when the best order is an end of the list; our list reaches order 4096, so this
        # happens only for ε above ~50 (best order → 1) where the bound is loose anyway
        warnings.filterwarnings("ignore", message="Optimal order is the", category=UserWarning)
        eps, _ = opacus_rdp.get_privacy_spent(orders=list(RDP_ORDERS), rdp=list(rdp), delta=delta)
    return float(eps)


def _check_gaussian(noise_multiplier: float, sample_rate: float, steps: int) -> None:
    if not (math.isfinite(noise_multiplier) and noise_multiplier > 0):
        raise ConfigError(f"noise_multiplier must be a finite number > 0, got {noise_multiplier!r} "
                          "(a mechanism without noise has epsilon = infinity)")
    if not (0 < sample_rate <= 1):
        raise ConfigError(f"sample_rate must be in (0, 1], got {sample_rate!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"steps must be an integer >= 1, got {steps!r}")


def _check_epsilon(epsilon: float) -> None:
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise ConfigError(f"epsilon must be a finite number > 0, got {epsilon!r}")


def _check_delta(delta: float) -> None:
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise ConfigError(f"delta must be a number in (0, 1), got {delta!r}")
