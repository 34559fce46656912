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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from synthrec.config import ExperimentConfig

NO_SOURCE = "-"
#: the strategies that train on synthetic users
SYNTHETIC_STRATEGIES = ("synthetic-only", "augment", "pretrain-finetune")


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
        return self.strategy in SYNTHETIC_STRATEGIES


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


def auto_candidates(strategies: Iterable[str], sources: Iterable[str], *, synthetic_ratio: float,
                    augment_ratios: Iterable[float]) -> list[Arm]:
    """What ``auto`` chooses among (`synthrec.experiments.auto.choose_auto`): real-only, then per source the
    synthetic strategies listed in ``strategies`` — synthetic-only, augment at each ratio,
    pretrain-finetune — in that order. Never the ceiling, which needs raw source data the user does not
    have. The bench's rule, per (generator, source)."""
    listed = set(strategies)
    arms = [Arm("real-only")]
    for source in sources:
        if "synthetic-only" in listed:
            arms.append(Arm("synthetic-only", source, synthetic_ratio))
        if "augment" in listed:
            arms.extend(Arm("augment", source, r) for r in augment_ratios)
        if "pretrain-finetune" in listed:
            arms.append(Arm("pretrain-finetune", source, synthetic_ratio))
    return arms


def candidate_arms(cfg: ExperimentConfig) -> list[Arm]:
    """What ``auto`` chooses among in `synthrec run`: `auto_candidates` over the config's sources; a config
    that lists no synthetic strategy (e.g. only ``auto``) lets it choose among all three."""
    strategies: list[str] = list(cfg.strategies)
    if not set(strategies) & set(SYNTHETIC_STRATEGIES):
        strategies.extend(SYNTHETIC_STRATEGIES)
    return auto_candidates(strategies, cfg.sources, synthetic_ratio=cfg.synthetic_ratio,
                           augment_ratios=cfg.augment_ratios)


class RatioConfig(Protocol):
    """What `max_ratio` reads (`synthrec.config.ExperimentConfig`, `synthrec.experiments.bench.config.BenchConfig`)."""

    @property
    def strategies(self) -> Sequence[str]: ...

    @property
    def synthetic_ratio(self) -> float: ...

    @property
    def augment_ratios(self) -> Sequence[float]: ...


def max_ratio(cfg: RatioConfig) -> float:
    """Largest number of synthetic users per fitted real user any arm (or auto) needs: the size of a pool
    (`synthrec.experiments.pools`), in `synthrec run` and in the bench."""
    ratios = [cfg.synthetic_ratio]
    if "augment" in cfg.strategies or "auto" in cfg.strategies:
        ratios.extend(cfg.augment_ratios)
    return max(ratios)
