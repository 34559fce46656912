"""The arms of an experiment: one (strategy, source, ratio) combination each.

Strategies (DESIGN.md "Source and target"):

- ``real-only``: train on the scarce target's training data.
- ``synthetic-only``: train on synthetic users alone, test on real (TSTR).
- ``augment``: target training data + synthetic users at a ratio.
- ``pretrain-finetune``: train on synthetic users, then ``fine_tune`` on the target (transfer).
- ``auto``: choose one of the above on a validation split carved from the target's training data.
- ``ceiling``: target + the raw source users (what a generator fitted on the source could at best recover).

Sources say where the generator was fitted: ``self`` (the target's own training data) or ``source``
(the private, data-rich users). Ratios count synthetic users per real user the generator was fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthrec.config import ExperimentConfig

NO_SOURCE = "-"


@dataclass(frozen=True)
class Arm:
    """One trainable configuration of data; models are crossed with arms."""

    strategy: str
    source: str = NO_SOURCE
    ratio: float | None = None

    @property
    def label(self) -> str:
        if self.strategy in ("real-only", "ceiling", "auto"):
            return self.strategy
        suffix = f" x{self.ratio:g}" if self.ratio is not None else ""
        return f"{self.strategy}{suffix} [{self.source}]"

    @property
    def uses_synthetic(self) -> bool:
        return self.strategy in ("synthetic-only", "augment", "pretrain-finetune")


def plan_arms(cfg: ExperimentConfig) -> list[Arm]:
    """The fixed arms of a config, in display order (``auto`` is resolved per run, see `candidate_arms`)."""
    arms: list[Arm] = []
    if "real-only" in cfg.strategies:
        arms.append(Arm("real-only"))
    for source in cfg.sources:
        if "synthetic-only" in cfg.strategies:
            arms.append(Arm("synthetic-only", source, cfg.synthetic_ratio))
        if "augment" in cfg.strategies:
            arms.extend(Arm("augment", source, r) for r in cfg.augment_ratios)
        if "pretrain-finetune" in cfg.strategies:
            arms.append(Arm("pretrain-finetune", source, cfg.synthetic_ratio))
    if "ceiling" in cfg.strategies:
        arms.append(Arm("ceiling"))
    return arms


def candidate_arms(cfg: ExperimentConfig) -> list[Arm]:
    """What ``auto`` may choose from: real-only and every synthetic arm (never the ceiling, which needs
    raw source data the user does not have)."""
    cands = [Arm("real-only")]
    for source in cfg.sources:
        cands.extend(Arm("augment", source, r) for r in cfg.augment_ratios)
        cands.append(Arm("pretrain-finetune", source, cfg.synthetic_ratio))
        cands.append(Arm("synthetic-only", source, cfg.synthetic_ratio))
    return cands


def max_ratio(cfg: ExperimentConfig) -> float:
    """Largest number of synthetic users per fitted real user any arm (or auto) needs."""
    ratios = [cfg.synthetic_ratio]
    if "augment" in cfg.strategies or "auto" in cfg.strategies:
        ratios.extend(cfg.augment_ratios)
    return max(ratios)
