"""The sources of `synthrec bench` that bring their own generator: ``simulator`` and ``attributes``.

Both are fitted, like ``self``, on the level's training data of the scarce target (and refitted on the
inner training part for validation), so they use only what the target has. Neither is crossed with the
sweep's ``generators``: their cells carry the generator label `SOURCE_GENERATORS` [source].

**simulator** (`simulator_pool`). The scenario simulator (`synthrec.generators.simulator`) over the
dataset's own catalogue, calibrated to aggregate statistics of the training data:

1. an imported catalogue with one row per item of the dataset, in dense id order (so the simulator's
   dense item i *is* the dataset's item i): ``category`` from the item attributes (`primary_category`;
   one category ``all`` without attributes) and ``quality`` = log(1 + training events of the item),
   standardised by the simulator to ``items.quality_sd``; every item is released before the window
   (``items.release.new_share = 0``), brands carry no quality (``items.brands.quality_sd = 0``);
2. the rest of the starting scenario from `scenario_for_log` (one segment, the log's window, its
   rating scale), then `calibrate` to the log's popularity Gini, rows per user and their CV (and the
   rating histogram) with the small budget of ``simulator_source``;
3. the simulator re-consumes items, a log without repeated (user, item) pairs has none, and dropping
   repeats lowers rows per user, their CV and the Gini. For such a log the calibration is rerun
   ``corrections`` times, from the calibrated scenario, on shifted targets (`corrected_target`): target
   + (statistic with repeats − statistic without) for the Gini, target × (with / without) for rows per
   user and their CV, both measured on the calibrated scenario's sample (same users and seed) — a
   fixed-point step of indirect inference (Gouriéroux, Monfort & Renault 1993, "Indirect inference",
   J. Applied Econometrics 8); then, up to ``activity_iters`` times, ``sessions_per_week`` is scaled by
   (target / achieved distinct items per user)^1.2 (^1 when shrinking). Repeats grow faster than
   activity, so this is approximate: on ml-100k (top items, leave-last-out, seed 0, default settings:
   no recalibration, 3 rescalings) the pool had a Gini of 0.29 / 0.33 / 0.38 against the log's
   0.39 / 0.45 / 0.43 and 90 / 100 / 19 distinct items per user against 94 / 94 / 20 (users=1 /
   users=0.05 / cap=20); one recalibration (``corrections: 1``) gave 0.31 / 0.37 / 0.42 and
   101 / 113 / 19 at about twice the cost;
4. ``round(max_ratio × training users)`` users are sampled; repeated pairs are dropped (as in 3) and only
   the columns the log has (timestamp, rating) are kept.

The simulator carries only these aggregates and each item's training popularity: it is the
"domain knowledge only" baseline and is not expected to help.

**attributes** (`attributes_pool`). `synthrec.generators.cold_items.ColdItemAugmenter` fitted on the
training data and the item attributes (every List column of the items table, multi-hot): a
latent-factor model whose items without a training event get factors and bias predicted from their
attributes (Gantner et al. 2010, ICDM). Its samples put ``attributes_source.focus_share`` of their
interactions on the fit data's *tail* items — all but the ``breakdowns.head_share`` most popular items
(`synthrec.experiments.bench.breakdowns.head_items`), cold items included — by default the tail's own
share in the fit data. Datasets without item attributes raise `Unavailable` (cells recorded as skipped).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from synthrec.data.interactions import ITEM, RATING, TIMESTAMP, USER, InteractionData
from synthrec.errors import ConfigError
from synthrec.experiments.bench.breakdowns import head_items
from synthrec.experiments.bench.cells import OWN_GENERATOR_SOURCES
from synthrec.experiments.bench.config import AttributesSourceConfig, BenchConfig, SimulatorSourceConfig
from synthrec.experiments.bench.frames import Unavailable
from synthrec.experiments.strategies import SyntheticPool, derive_seed
from synthrec.generators.simulator.calibrate import CalibrationTarget

#: source -> label of the generator its cells carry
SOURCE_GENERATORS = OWN_GENERATOR_SOURCES
#: most categories the simulator's imported catalogue gets from item attributes
MAX_CATEGORIES = 20


def attribute_columns(data: InteractionData) -> list[str]:
    """The item attribute columns of ``data``: the List columns of its items table (``genres``, tags,
    attribute ids), in table order; empty without a table or when every list is empty."""
    items = data.items
    if items is None:
        return []
    cols = [c for c, t in items.schema.items() if isinstance(t, pl.List)]
    return [c for c in cols if int(items[c].list.len().fill_null(0).sum()) > 0]


def primary_category(data: InteractionData, columns: list[str], max_categories: int = MAX_CATEGORIES) -> pl.Series:
    """One category per item for the simulator's catalogue, String ``(n_items,)`` in dense id order.

    Candidates are the ``max_categories`` most frequent attribute values over the catalogue (ties: by
    value); an item's category is its *least* frequent candidate (ties: by value), so broad values such
    as "Drama" do not swallow the catalogue; items with no candidate get ``(other)``; without attribute
    columns every item is ``all``.
    """
    n = data.n_items
    if not columns or data.items is None:
        return pl.Series("category", ["all"] * n, dtype=pl.String)
    long = pl.concat([data.items.select(ITEM, pl.col(c).cast(pl.List(pl.String)).alias("value")).explode("value")
                      for c in columns]).drop_nulls("value").unique([ITEM, "value"])
    freq = long.group_by("value").len().sort(["len", "value"], descending=[True, False]).head(max_categories)
    best = (long.join(freq, on="value", how="inner").sort([ITEM, "len", "value"])
            .group_by(ITEM, maintain_order=True).first())
    out = np.full(n, "(other)", dtype=object)
    out[best[ITEM].to_numpy().astype(np.int64)] = best["value"].to_numpy()
    return pl.Series("category", out.tolist(), dtype=pl.String)


def _item_counts(data: InteractionData) -> np.ndarray:
    return np.bincount(data.interactions[ITEM].to_numpy(), minlength=data.n_items).astype(np.int64)


def _has_repeats(data: InteractionData) -> bool:
    it = data.interactions
    return bool(it.height and it.select(USER, ITEM).is_duplicated().any())


def _distinct_per_user(data: InteractionData) -> float:
    it = data.interactions
    users = it[USER].n_unique()
    return it.select(USER, ITEM).unique().height / users if users else 0.0


def to_target_log(sample: InteractionData, target: InteractionData, *, drop_repeats: bool) -> InteractionData:
    """A simulator sample as a log over ``target``'s vocabulary: the simulator's dense item ids are the
    target's (`simulator_pool` builds the catalogue in dense id order); only ``user``, ``item`` and the
    optional columns ``target`` has are kept; with ``drop_repeats`` every (user, item) pair keeps its
    first row only."""
    it = sample.interactions
    keep = [USER, ITEM] + [c for c in (TIMESTAMP, RATING) if c in target.interactions.columns and c in it.columns]
    frame = it.select(keep)
    if drop_repeats:
        frame = frame.unique([USER, ITEM], keep="first", maintain_order=True)
    return InteractionData(frame, sample.user_ids, target.item_ids, None, target.items,
                           name=f"{target.name}/simulated")


def calibration_target(train: InteractionData) -> CalibrationTarget:
    """The `CalibrationTarget` of a training log (`log_statistics`), leaving out statistics a target
    cannot hold: a Gini of 0 or 1, or an activity CV of 0 (every user with the same number of events, as
    at a history-cap level); the knob of a left-out statistic keeps its starting value.

    Raises:
        ConfigError: the log has no interactions.
    """
    from synthrec.generators.simulator.calibrate import log_statistics

    if train.n_interactions == 0:
        raise ConfigError(f"cannot calibrate the simulator to {train.name}: the log has no interactions")
    stats = log_statistics(train)
    bounds = {"popularity_gini": (0.0, 1.0), "activity_mean": (0.0, math.inf), "activity_cv": (0.0, math.inf)}
    for key, (lo, hi) in bounds.items():
        value = stats.get(key)
        if value is None or not (lo < value < hi):
            stats.pop(key, None)
    return CalibrationTarget(**stats)


def _scale_sessions(raw: dict[str, Any], factor: float) -> None:
    for seg in raw["users"]["segments"]:
        seg["activity"]["sessions_per_week"] *= factor


def corrected_target(target: CalibrationTarget, sample: InteractionData) -> CalibrationTarget:
    """``target`` shifted by the effect of dropping repeated (user, item) pairs on ``sample`` (a simulator
    sample, repeats included): Gini + (with − without), clipped to [0.01, 0.99]; rows per user and their
    CV × (with / without). Statistics that are absent, or cannot be measured on ``sample``, stay as they
    are. The rating histogram is kept."""
    from synthrec.generators.simulator.calibrate import log_statistics

    deduped = sample.with_interactions(
        sample.interactions.unique([USER, ITEM], keep="first", maintain_order=True))
    with_r, without = log_statistics(sample), log_statistics(deduped)
    update: dict[str, float] = {}
    if target.popularity_gini is not None:
        shift = with_r["popularity_gini"] - without["popularity_gini"]
        if math.isfinite(shift):
            update["popularity_gini"] = min(max(target.popularity_gini + shift, 0.01), 0.99)
    for key in ("activity_mean", "activity_cv"):
        goal = getattr(target, key)
        if goal is not None and without[key] > 0 and math.isfinite(with_r[key] / without[key]):
            update[key] = goal * with_r[key] / without[key]
    return target.model_copy(update=update)


def simulator_pool(train: InteractionData, options: SimulatorSourceConfig, *, seed: int, purpose: tuple[str, ...],
                   max_ratio: float) -> SyntheticPool:
    """The ``simulator`` source's pool for ``train`` (module docstring, steps 1-4).

    Args:
        train: the training data (dataset vocabularies; at least one interaction).
        options: calibration budget. seed / purpose: seeds ``derive_seed(seed, "fit", *purpose)`` (every
            calibration sample: common random numbers) and ``derive_seed(seed, "sample", *purpose)``.
        max_ratio: synthetic users per training user.

    Returns:
        `SyntheticPool` over ``train``'s item vocabulary; ``base_users`` = active training users.

    Raises:
        ConfigError: the log has no interactions (from `calibrate`).
    """
    from synthrec.generators.simulator import Simulator, calibrate, parse_scenario, scenario_for_log

    base = max(1, len(train.active_users()))
    n_cal = max(1, min(options.calibration_users, base))
    fit_seed = derive_seed(seed, "fit", *purpose)
    counts = _item_counts(train)
    drop = not _has_repeats(train)
    catalogue = pl.DataFrame({
        "item_id": pl.Series(np.arange(train.n_items, dtype=np.int64)),
        "category": primary_category(train, attribute_columns(train)),
        "quality": pl.Series(np.log1p(counts).astype(np.float64)),
    })
    with tempfile.TemporaryDirectory(prefix="synthrec-bench-sim-") as tmp:
        path = Path(tmp) / "catalogue.parquet"
        catalogue.write_parquet(path)
        raw = scenario_for_log(train, name="bench-simulator").model_dump(mode="json")
        raw["items"] = {"source": {"path": str(path), "id_column": "item_id", "category_column": "category",
                                   "quality_column": "quality"},
                        "release": {"new_share": 0.0}, "brands": {"quality_sd": 0.0}}
        start = parse_scenario(raw, source="bench simulator scenario")
        result = calibrate(calibration_target(train), scenario=start, n_users=n_cal, seed=fit_seed,
                           max_iter=options.max_iter, sweeps=options.sweeps, tolerance=options.tolerance)
        scenario = result.scenario
        target = result.target
        for _ in range(options.corrections if drop else 0):
            with_repeats = Simulator(scenario).sample(n_cal, seed=fit_seed)
            shifted = corrected_target(target, with_repeats)
            scenario = calibrate(shifted, scenario=scenario, n_users=n_cal, seed=fit_seed,
                                 max_iter=options.max_iter, sweeps=options.sweeps,
                                 tolerance=options.tolerance).scenario
        if drop:
            want = _distinct_per_user(train)
            for _ in range(options.activity_iters):
                got = _distinct_per_user(Simulator(scenario).sample(n_cal, seed=fit_seed))
                if got <= 0 or abs(got / want - 1.0) <= options.tolerance:
                    break
                raw = scenario.model_dump(mode="json")
                # distinct items grow more slowly than sessions (repeats): a slightly larger step
                _scale_sessions(raw, (want / got) ** 1.2 if want > got else want / got)
                scenario = parse_scenario(raw, source="bench simulator scenario")
        sim = Simulator(scenario)
        n = max(1, round(max_ratio * base))
        sample = sim.sample(n, seed=derive_seed(seed, "sample", *purpose))
    return SyntheticPool(to_target_log(sample, train, drop_repeats=drop), base)


def attributes_pool(train: InteractionData, options: AttributesSourceConfig, *, seed: int, purpose: tuple[str, ...],
                    max_ratio: float, head_share: float) -> SyntheticPool:
    """The ``attributes`` source's pool for ``train`` (module docstring).

    Args:
        train: the training data with an items table holding List attribute columns.
        options: the augmenter's settings and ``focus_share``.
        seed / purpose: seeds ``derive_seed(seed, "fit", *purpose)`` and ``derive_seed(seed, "sample",
            *purpose)``. max_ratio: synthetic users per training user. head_share: see
            `synthrec.experiments.bench.breakdowns.head_items` (on ``train``'s event counts).

    Returns:
        `SyntheticPool` over ``train``'s item vocabulary; ``base_users`` = active training users.

    Raises:
        Unavailable: ``train`` has no item attributes.
        DataValidationError: fewer than 2 items with a training event (from `ColdItemAugmenter.fit`).
    """
    from synthrec.generators.cold_items import ColdItemAugmenter

    columns = attribute_columns(train)
    if not columns:
        raise Unavailable(no_attributes_reason(purpose[0] if purpose else train.name))
    base = max(1, len(train.active_users()))
    aug = ColdItemAugmenter(options.n_factors, l2=options.l2, seed=derive_seed(seed, "fit", *purpose),
                            generator_params=options.generator_params).fit(train, columns)
    counts = _item_counts(train)
    tail = np.flatnonzero(~head_items(counts, head_share))
    share: float | None = None
    if tail.size:
        natural = float(counts[tail].sum() / max(counts.sum(), 1))
        share = options.focus_share if options.focus_share is not None else min(max(natural, 0.01), 0.99)
    n = max(1, round(max_ratio * base))
    sample = aug.sample(n, seed=derive_seed(seed, "sample", *purpose), focus_items=tail if tail.size else None,
                        focus_share=share)
    if not sample.item_ids.equals(train.item_ids):  # pragma: no cover - the generator keeps the catalogue
        sample = InteractionData(sample.interactions, sample.user_ids, train.item_ids, None, train.items,
                                 name=sample.name)
    return SyntheticPool(sample, base)


def no_attributes_reason(dataset: str) -> str:
    """The skip reason of the ``attributes`` source on a dataset without item attributes (recorded by the
    sweep and predicted by ``--dry-run``). Named by the dataset's label, not a derived part's name, so one
    cause gives one reason per dataset."""
    return (f"skipped: unavailable (source 'attributes' needs item attributes; dataset {dataset!r} has none: "
            "give the dataset an items table or item_attributes:)")


def fit_source_pool(cfg: BenchConfig, source: str, train: InteractionData, *, seed: int, purpose: tuple[str, ...],
                    max_ratio: float) -> SyntheticPool:
    """`simulator_pool` or `attributes_pool` with the sweep's settings.

    Raises:
        ValueError: ``source`` is neither. See the two functions for the rest.
    """
    if source == "simulator":
        return simulator_pool(train, cfg.simulator_source, seed=seed, purpose=purpose, max_ratio=max_ratio)
    if source == "attributes":
        return attributes_pool(train, cfg.attributes_source, seed=seed, purpose=purpose, max_ratio=max_ratio,
                               head_share=cfg.breakdowns.head_share)
    raise ValueError(f"source {source!r} brings no generator of its own")


__all__ = ["MAX_CATEGORIES", "SOURCE_GENERATORS", "attribute_columns", "attributes_pool", "calibration_target", "corrected_target", "fit_source_pool",
           "primary_category", "simulator_pool", "to_target_log"]
