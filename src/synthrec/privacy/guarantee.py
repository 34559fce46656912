"""`PrivacyGuarantee`: the (ε, δ) a fitted generator gives, as one type every reader can rely on.

Every `synthrec.generators.base.BaseGenerator` has a ``privacy`` property returning one. A generator
fitted without differential privacy gives ``PrivacyGuarantee.none()``: ε = ∞, δ = 0, no ledger. A DP fit
(``supports_dp`` generators with a finite ``epsilon``) gives the ε its `synthrec.privacy.ledger.PrivacyLedger`
spends at δ and the ledger's JSON record (`PrivacyLedger.to_dict`).

Source of the accounting: the ledger composes its Gaussian mechanisms (and DP-SGD's sampled Gaussian)
with opacus's Rényi-DP accountant (``opacus.accountants.analysis.rdp``: Mironov 2017, "Rényi
differential privacy", CSF; Mironov, Talwar & Zhang 2019, arXiv:1908.10530), converts RDP to (ε, δ) by
Balle et al. 2020 (AISTATS, Thm 21), and adds the pure ε of its Laplace releases by basic sequential
composition (Dwork & Roth 2014, Thm 3.16). The guarantee is user-level: neighbouring logs differ by one
user and all her rows. See `synthrec.privacy.ledger` for the details.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PrivacyGuarantee:
    """The user-level (ε, δ)-DP guarantee of a fitted generator.

    Attributes:
        epsilon: ε spent (≤ the requested target); ``math.inf`` when the fit is not differentially private.
        delta: δ of the guarantee; 0.0 when not DP.
        ledger: the JSON-ready record of every noised release (`PrivacyLedger.to_dict` at ``delta``), or
            None when not DP.

    ``guarantee["epsilon"]``, ``["delta"]``, ``["ledger"]`` and ``guarantee.get("epsilon")`` also work: a
    compatibility shim for code written when ``privacy`` returned a dict; read the attributes in new code.
    """

    epsilon: float
    delta: float
    ledger: dict[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        epsilon, delta = float(self.epsilon), float(self.delta)
        if math.isnan(epsilon) or epsilon < 0:
            raise ValueError(f"a privacy guarantee needs ε >= 0 (inf = not DP), got {self.epsilon!r}")
        if not 0.0 <= delta < 1.0:
            raise ValueError(f"a privacy guarantee needs δ in [0, 1), got {self.delta!r}")
        object.__setattr__(self, "epsilon", epsilon)
        object.__setattr__(self, "delta", delta)

    @classmethod
    def none(cls) -> PrivacyGuarantee:
        """No differential privacy: ε = ∞, δ = 0, no ledger."""
        return cls(math.inf, 0.0, None)

    @property
    def is_dp(self) -> bool:
        """True for a differentially private fit (finite ε)."""
        return math.isfinite(self.epsilon)

    def to_dict(self) -> dict[str, Any]:
        """``{"epsilon", "delta", "ledger"}`` (JSON-ready for a DP guarantee; ε = ∞ has no strict-JSON form)."""
        return {"epsilon": self.epsilon, "delta": self.delta, "ledger": self.ledger}

    def __getitem__(self, key: str) -> Any:
        """Compatibility shim: ``guarantee["epsilon"]`` is ``guarantee.epsilon`` (also delta, ledger)."""
        if key not in ("epsilon", "delta", "ledger"):
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Compatibility shim: ``guarantee.get("epsilon")`` as on the old dict (``default`` for other keys)."""
        return getattr(self, key) if key in ("epsilon", "delta", "ledger") else default
