"""The main job behind `synthrec run` and `synthrec demo`.

For each seed: split users into a private source and a scarce target, split the target into train and
test, fit the generator on each requested source (``self``: the target's training data; ``source``: the
raw source users), draw synthetic users once per source, then train every model on every arm and score
it on the target's real test users. ``auto`` chooses its arm on a validation split carved from the
target's training data and is then refitted on the whole training data.

With an external ``source:`` (a log with its own catalogue and an item map, `synthrec.experiments.external`)
every user of ``data:`` is a target user and the source users are the external log translated onto the
target's catalogue, built once per run; the ``source`` arms (a DP generator keeps its guarantee: the map is
public) and the ceiling use it, and every arm is also scored on the held-out targets whose item is mapped
(``mapped-items``) and on the others (``target-only-items``): `RunResult.group_records`. A source with no
usable overlap skips its arms and the ceiling (``auto`` keeps to the others). ``sources:`` may then also
list ``source-fill``: the ``source`` pool (not refitted) with target-only items filled in from the seed's
target training data (`synthrec.experiments.fill`; refilled from the inner training part for ``auto``'s
validation), so ``auto`` decides per strategy whether the fill helps.

Pools, the ``auto`` rule, model seeds and the source/target and validation splits are those of
`synthrec bench` (`synthrec.experiments.pools`, `synthrec.experiments.auto`,
`synthrec.experiments.protocol`): a seed of a run scores exactly as the bench's cell with the same data,
split, generator, ratios and recommender (dataset = `synthrec.experiments.protocol.dataset_label`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthrec.config import ComponentConfig, ExperimentConfig
from synthrec.data.interactions import InteractionData
from synthrec.data.splits import Split, before_test_time, make_split, subsample_users
from synthrec.errors import ConfigError
from synthrec.evaluation.bias import popularity_bias
from synthrec.evaluation.cards import dp_summary
from synthrec.evaluation.fidelity import fidelity_report
from synthrec.evaluation.metrics import cold_counts
from synthrec.evaluation.privacy import privacy_report
from synthrec.experiments.arms import Arm, candidate_arms, max_ratio, plan_arms
from synthrec.experiments.auto import choose_auto, validation_score
from synthrec.experiments.external import (
    MAPPED_ITEMS,
    TARGET_ONLY_ITEMS,
    ExternalSource,
    prepare_external_source,
)
from synthrec.experiments.fill import base_label, fill_info, fill_pool, fill_purpose, is_fill
from synthrec.experiments.pools import draw_pool, fit_generator, pool_purpose
from synthrec.experiments.protocol import dataset_label, level_label, source_and_target, validation_data
from synthrec.experiments.scoring import EvalSet, eval_set, score_with_groups
from synthrec.experiments.strategies import ArmInputs, SyntheticPool, derive_seed, model_factory, train_arm
from synthrec.generators.base import BaseGenerator
from synthrec.generators.registry import make_generator
from synthrec.models.base import Recommender
from synthrec.progress import StepProgress, step_progress


@dataclass
class RunResult:
    """Everything a run measured; `synthrec.experiments.results` turns it into tables and JSON.

    Attributes:
        records: one dict per (seed, arm, model, metric): keys seed, arm, strategy, source, ratio,
            model, metric, value.
        auto_choices: one dict per (seed, model): the arm ``auto`` chose and its validation scores.
        seeds_info: per seed: sizes of source/target/train/test and generator fit times (seconds).
        group_records: with an external source's item map, one dict per (seed, arm, model, item group,
            metric): the keys of ``records`` plus ``group`` (``mapped-items``, ``target-only-items``) and
            ``n_users`` (users with a held-out target in the group); NDCG and Recall at every k. Empty
            without a map.
        external_source: `synthrec.experiments.external.ExternalSource.summary` (the map's coverage), or
            None without an external source.
    """

    config: ExperimentConfig
    data_summary: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    auto_choices: list[dict[str, Any]] = field(default_factory=list)
    seeds_info: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    group_records: list[dict[str, Any]] = field(default_factory=list)
    external_source: dict[str, Any] | None = None


def _model_factory(mc: ComponentConfig, seed: int) -> Callable[[], Recommender]:
    return model_factory(mc.name, mc.params, seed, mc.display)


def _fill_purpose(cfg: ExperimentConfig, source: str) -> tuple[str, ...]:
    """The purpose of a fill source's seed (`synthrec.experiments.fill.fill_purpose`), keyed like the bench
    cell's (dataset label, split kind, level of the scarcity knobs)."""
    return fill_purpose(source, dataset=dataset_label(cfg.data), split=cfg.split.kind,
                        level=level_label(cfg.target.keep_fraction, cfg.target.max_per_user),
                        split_kind=cfg.split.kind)


def _pool_purpose(cfg: ExperimentConfig, source: str) -> tuple[str, ...]:
    """The seeds' purpose of the pool of ``source`` (`synthrec.experiments.pools.pool_purpose`): the run is
    the bench cell (dataset label, split kind, level of the scarcity knobs)."""
    return pool_purpose(source, dataset=dataset_label(cfg.data), split=cfg.split.kind,
                        level=level_label(cfg.target.keep_fraction, cfg.target.max_per_user),
                        split_kind=cfg.split.kind, fitted_on_target=source == "self")


def _fit_pool(cfg: ExperimentConfig, fit_data: InteractionData, seed: int, purpose: tuple[str, ...]
              ) -> tuple[SyntheticPool, float, BaseGenerator]:
    """Fit the generator on ``fit_data`` and draw the largest synthetic pool any arm needs
    (`synthrec.experiments.pools`); also returns the seconds it took and the fitted generator (for its
    privacy report)."""
    start = time.perf_counter()
    gen = fit_generator(cfg.generator, fit_data, seed=seed, purpose=purpose)
    pool = draw_pool(gen, fit_data, seed=seed, purpose=purpose, max_ratio=max_ratio(cfg))
    return pool, time.perf_counter() - start, gen


def synthetic_quality(fitted_on: InteractionData, synthetic: InteractionData,
                      holdout: InteractionData | None, *, generator: object | None = None
                      ) -> dict[str, float | None]:
    """Fidelity and popularity bias of ``synthetic`` against the data its generator was fitted on; when real
    people outside that data are at hand, a privacy audit against them (DCR, NNDR, membership-inference
    AUC); and the generator's DP guarantee when it reports one.

    ``holdout`` must come from the same population without having been used for fitting: for a
    generator fitted on the source it is the target's training users, and the other way round.

    Keys: `synthrec.evaluation.fidelity.FIDELITY_KEYS`; the ``popularity_*`` keys of
    `synthrec.evaluation.bias.PopularityBias.summary` (head-share and Gini ratios, synthetic / real; cheap:
    one pass over the item degrees); with a holdout, `synthrec.evaluation.privacy.REPORT_KEYS`; and, when
    ``generator`` is a `BaseGenerator` (its ``privacy``, a `synthrec.privacy.PrivacyGuarantee`, read by
    `synthrec.evaluation.cards.dp_summary`), ``dp`` (1.0 for a DP fit, else 0.0), ``dp_epsilon`` (``None``
    when not DP: ε = ∞ has no JSON form) and ``dp_delta``.
    """
    out: dict[str, float | None] = dict(fidelity_report(fitted_on, synthetic))
    out.update(popularity_bias(fitted_on, synthetic).summary())
    if holdout is not None and len(fitted_on.active_users()) >= 2:
        out.update(privacy_report(synthetic, fitted_on, holdout))
    if isinstance(generator, BaseGenerator):
        dp = dp_summary(generator)
        out.update({"dp": dp["dp"], "dp_epsilon": dp["epsilon"] if dp["dp"] else None, "dp_delta": dp["delta"]})
    return out


def prepare_target(
    data: InteractionData, cfg: ExperimentConfig, seed: int
) -> tuple[InteractionData, InteractionData | None]:
    """Split users into (scarce target, private source) as the bench does
    (`synthrec.experiments.protocol.source_and_target`); apply the scarcity knobs to the target. With an
    external source (``cfg.source``), every user is a target user and the source returned is None (the
    caller holds the translated external source)."""
    source: InteractionData | None = None
    target = data
    if cfg.target.source_fraction > 0 and cfg.source is None:
        source, target = source_and_target(data, cfg.target.source_fraction, seed)
    if cfg.target.keep_fraction < 1.0:
        target = subsample_users(target, cfg.target.keep_fraction, seed=derive_seed(seed, "scarcity"))
    if cfg.target.max_per_user is not None:
        from synthrec.data.splits import cap_history

        target = cap_history(target, cfg.target.max_per_user, keep="first", seed=derive_seed(seed, "cap"))
    return target, source


def _split(cfg: ExperimentConfig, data: InteractionData, seed: int) -> Split:
    return make_split(data, cfg.split.kind, test_fraction=cfg.split.test_fraction,
                      seed=derive_seed(seed, "split"))


def split_report(split: Split, es: EvalSet) -> dict[str, int]:
    """What a run reports about its test set: the split's handling of repeats and ties (`Split.stats`) and
    the targets no model fitted on the target's training data could reach (held-out items absent from
    it, users with an empty history; `synthrec.evaluation.metrics.cold_counts`)."""
    trained = np.bincount(split.train.interactions["item"].to_numpy(), minlength=split.train.n_items) > 0
    return {**split.stats, **cold_counts(es.targets, histories=es.histories, trained_items=trained)}


def check_components(cfg: ExperimentConfig) -> None:
    """Build every model and the generator once, so a bad name or parameter fails before any work.

    Raises:
        ConfigError: an unknown name or an invalid parameter (the message lists the valid ones).
    """
    for k, mc in enumerate(cfg.models):
        try:
            _model_factory(mc, cfg.seeds[0])()
        except ConfigError as exc:
            raise ConfigError(f"models[{k}] ({mc.name}): {exc}") from None
    try:
        make_generator(cfg.generator.name, seed=cfg.seeds[0], **dict(cfg.generator.params))
    except ConfigError as exc:
        raise ConfigError(f"generator ({cfg.generator.name}): {exc}") from None


def without_source(cfg: ExperimentConfig) -> ExperimentConfig:
    """``cfg`` without its source arms (``source`` and ``source-fill``) and ceiling (an external source with
    no usable overlap): ``auto`` then chooses among real-only and the ``self`` arms alone."""
    return cfg.model_copy(update={"sources": [s for s in cfg.sources if base_label(s) != "source"],
                                  "strategies": [s for s in cfg.strategies if s != "ceiling"]})


def run_experiment(
    cfg: ExperimentConfig, data: InteractionData, *, progress: bool = True,
    log: Callable[[str], None] | None = None, source: ExternalSource | None = None,
    base_dir: Path | None = None,
) -> RunResult:
    """Run every seed of ``cfg`` on ``data`` and return the measurements (nothing is written here).

    Args:
        source: ``cfg.source`` already translated onto ``data``'s catalogue
            (`synthrec.experiments.external.prepare_external_source`); built here (from ``base_dir``, the
            config's folder) when ``cfg.source`` is given and this is None.
    """
    started = time.perf_counter()
    check_components(cfg)
    if cfg.source is not None and source is None:
        source = prepare_external_source(cfg.source, data, base_dir)
        for line in source.lines:
            if log:
                log(line)
    run_cfg = cfg
    if source is not None and not source.usable:
        if log and source.problem:
            log(source.problem)
        run_cfg = without_source(cfg)
    arms = plan_arms(run_cfg)
    with_auto = "auto" in run_cfg.strategies
    result = RunResult(cfg, {"name": data.name, "users": data.n_users, "items": data.n_items,
                             "interactions": data.n_interactions},
                       external_source=source.summary() if source is not None else None)
    steps_per_seed = len(run_cfg.sources) + len(run_cfg.models) * (len(arms) + (1 if with_auto else 0))
    with step_progress(steps_per_seed * len(run_cfg.seeds), "run", enabled=progress) as bar:
        for seed in run_cfg.seeds:
            _run_seed(run_cfg, data, seed, arms, with_auto, result, bar, log, source)
    result.seconds = time.perf_counter() - started
    return result


def _run_seed(
    cfg: ExperimentConfig, data: InteractionData, seed: int, arms: list[Arm], with_auto: bool,
    result: RunResult, bar: StepProgress, log: Callable[[str], None] | None, external: ExternalSource | None = None,
) -> None:
    target, source = prepare_target(data, cfg, seed)
    split = _split(cfg, target, seed)
    es = eval_set(split)
    train = split.train.compact_users()
    if external is not None:
        # No `before_test_time` guard here: it keeps a same-log source from seeing the target's future (the
        # two share one clock), but an external source's events are not the target's: its clock is another
        # log's (ml-latest-small, 2018, as a source for ml-100k, 1998, would be emptied by a cut at 1998).
        source = external.data
        source_c = source.compact_users() if source is not None else None
    else:
        source_c = before_test_time(source, split).compact_users() if source is not None else None
    item_groups = (None if external is None else
                   {MAPPED_ITEMS: external.mapped, TARGET_ONLY_ITEMS: ~external.mapped})
    info: dict[str, Any] = {
        "seed": seed, "target_users": len(target.active_users()), "train_interactions": train.n_interactions,
        "test_users": es.n_users, "source_users": len(source.active_users()) if source is not None else 0,
        "split": split_report(split, es), "generator_seconds": {},
    }
    pools: dict[str, SyntheticPool] = {}
    # pools of the base sources, fitted once: a fill source (``source-fill``) reuses its base's pool
    fitted: dict[str, tuple[SyntheticPool, BaseGenerator]] = {}
    for src in cfg.sources:
        bar.describe(f"seed {seed}: fit generator on {src}")
        base = base_label(src)
        fit_data = train if base == "self" else source_c
        assert fit_data is not None  # config validation guarantees source users exist
        secs = 0.0
        if base not in fitted:
            pool, secs, gen = _fit_pool(cfg, fit_data, seed, _pool_purpose(cfg, base))
            fitted[base] = (pool, gen)
        pools[src], gen = fitted[base]
        if is_fill(src):
            assert external is not None  # config validation: source-fill needs an external source
            start = time.perf_counter()
            pools[src] = fill_pool(pools[src], train, external.mapped, seed=seed, purpose=_fill_purpose(cfg, src))
            secs += time.perf_counter() - start
            info.setdefault("target_only_fill", {})[src] = fill_info(pools[src], fitted[base][0], external.mapped)
        info["generator_seconds"][src] = round(secs, 3)
        info[f"synthetic_users_{src}"] = pools[src].data.n_users
        # The privacy audit needs holdout users of the fitted population; an external source's users and the
        # target's are two populations (another catalogue, another time), so closeness to one over the other
        # would measure the gap between them, not memorisation: no holdout audit then. A fill pool is also
        # compared with the source its generator was fitted on (its target-only rows show as a gap there).
        holdout = None if external is not None else source_c if src == "self" else train
        info.setdefault("synthetic_quality", {})[src] = synthetic_quality(fit_data, pools[src].take(1.0), holdout,
                                                                          generator=gen)
        bar.advance()
    inputs = ArmInputs(train, source_c, pools)
    ctx = (auto_context(cfg, split, source_c, pools, seed, base_pools={b: p for b, (p, _) in fitted.items()},
                        mapped=external.mapped if external is not None else None)
           if with_auto else None)
    if with_auto and ctx is None and log:
        log(f"seed {seed}: the training data is too small to carve a validation split: auto keeps real-only")
    for mc in cfg.models:
        factory = _model_factory(mc, seed)
        for arm in arms:
            bar.describe(f"seed {seed}: {mc.display} on {arm.label}")
            model = train_arm(arm, factory, inputs)
            _record(result, seed, arm, mc.display, *score_with_groups(model, es, cfg.ks, item_groups))
            bar.advance()
        if with_auto:
            bar.describe(f"seed {seed}: {mc.display} auto (validation)")
            chosen, val_scores = auto_choice(cfg, ctx, mc, seed)
            model = train_arm(chosen, factory, inputs)
            _record(result, seed, Arm("auto"), mc.display, *score_with_groups(model, es, cfg.ks, item_groups))
            result.auto_choices.append({"seed": seed, "model": mc.display, "chosen": chosen.label,
                                        "validation": val_scores})
            if log:
                log(f"seed {seed}, {mc.display}: auto chose {chosen.label}")
            bar.advance()
    result.seeds_info.append(info)


@dataclass(frozen=True)
class AutoContext:
    """What ``auto`` validates on, built once per seed and shared by every model.

    The ``self`` generator is refitted on the inner training part, so validation items never leak into
    synthetic data; the ``source`` pool does not depend on the target's split and is reused as is; a
    ``source-fill`` pool is the ``source`` pool filled again from the inner training part (seed purpose +
    ``"validation"``), so the validation targets never inform the fill either.
    """

    inputs: ArmInputs
    eval_set: EvalSet


def auto_context(cfg: ExperimentConfig, split: Split, source: InteractionData | None,
                 pools: dict[str, SyntheticPool], seed: int, *,
                 base_pools: Mapping[str, SyntheticPool] | None = None,
                 mapped: np.ndarray | None = None) -> AutoContext | None:
    """Carve a validation split from the training data (never the test data) and draw its pools, as the
    bench does (`synthrec.experiments.protocol.validation_data`); None when the training data is too small
    to hold a validation target.

    Args:
        base_pools: the pools of the base sources (``source``), by label: a fill source's validation pool is
            its base pool filled from the inner training part. Needed when ``cfg.sources`` lists a fill
            source (default: ``pools``).
        mapped: the external source's ``mapped`` mask (`synthrec.experiments.external.ExternalSource`);
            needed with a fill source.

    Raises:
        ValueError: a fill source is listed without its base pool or ``mapped``.
    """
    validation, _ = validation_data(split.train, cfg.split.kind, seed=seed, test_fraction=cfg.split.test_fraction)
    if validation is None:
        return None
    inner_train, es = validation
    inner_pools = {src: pool for src, pool in pools.items() if not is_fill(src)}
    if "self" in cfg.sources:
        purpose = (*_pool_purpose(cfg, "self"), "validation")
        inner_pools["self"], _, _ = _fit_pool(cfg, inner_train, seed, purpose)
    bases = pools if base_pools is None else base_pools
    for src in cfg.sources:
        if not is_fill(src):
            continue
        base = bases.get(base_label(src))
        if base is None or mapped is None:
            raise ValueError(f"the validation pool of {src!r} needs the {base_label(src)!r} pool and the item "
                             "map's mapped mask")
        # the base pool does not depend on the target; the fill reads the inner training part only
        inner_pools[src] = fill_pool(base, inner_train, mapped, seed=seed,
                                     purpose=(*_fill_purpose(cfg, src), "validation"))
    return AutoContext(ArmInputs(inner_train, source, inner_pools), es)


def auto_choice(cfg: ExperimentConfig, ctx: AutoContext | None, mc: ComponentConfig, seed: int
                ) -> tuple[Arm, dict[str, float | None]]:
    """The arm ``auto`` picks for model ``mc`` (`synthrec.experiments.auto.choose_auto` over
    `synthrec.experiments.arms.candidate_arms`, ``cfg.auto_min_gain``) and every candidate's validation
    score by label (None for all without validation data: real-only is kept)."""
    factory = _model_factory(mc, seed)
    val: dict[Arm, float | None] = {
        arm: validation_score(arm, factory, ctx.inputs, ctx.eval_set) if ctx is not None else None
        for arm in candidate_arms(cfg)
    }
    return choose_auto(val, cfg.auto_min_gain), {arm.label: v for arm, v in val.items()}


def _record(result: RunResult, seed: int, arm: Arm, model: str, metrics: dict[str, float],
            groups: dict[str, tuple[dict[str, float], int]] | None = None) -> None:
    keys = {"seed": seed, "arm": arm.label, "strategy": arm.strategy, "source": arm.source, "ratio": arm.ratio,
            "model": model}
    for metric, value in metrics.items():
        result.records.append({**keys, "metric": metric, "value": float(value)})
    for group, (values, n_users) in (groups or {}).items():
        for metric, value in values.items():
            result.group_records.append({**keys, "group": group, "metric": metric, "value": float(value),
                                         "n_users": n_users})
