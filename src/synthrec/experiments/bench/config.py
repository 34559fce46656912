"""The YAML schema of `synthrec bench`: a sweep over datasets × scarcity levels × sources × generators ×
strategies × recommenders × splits × seeds (pydantic, unknown keys are errors).

Vocabulary used throughout `synthrec.experiments.bench`:

- **source split.** Per (dataset, seed) the active users are split once: ``source_fraction`` of them form
  the private data-rich *source*, the rest the *target pool*. Sources name where a generator is fitted:
  ``self`` (the scarce target's training data), ``source`` (the raw source users; they reach the target
  only through the generator's samples), and ``source-dp(eps=E)`` for each ``dp_epsilons`` value (the
  same, with a user-level ε-DP generator; run only where the generator takes ``epsilon=``). These are
  crossed with ``generators``. Two more sources bring their own generator (cells labelled with it, see
  `synthrec.experiments.bench.sources`): ``simulator`` (the scenario simulator calibrated to aggregate
  statistics of the target's training data, over the dataset's own catalogue; generator ``simulator``,
  settings ``simulator_source``) and ``attributes`` (`ColdItemAugmenter`: a latent-factor model of the
  target's training data whose cold items get factors from their attributes, sampled with extra weight on
  cold and long-tail items; generator ``cold-items``, settings ``attributes_source``; datasets without
  item attributes record these cells as skipped).
- **external source.** A dataset may name a ``source:`` with its own catalogue and an item map (the
  `synthrec.config.ExternalSourceConfig` of `synthrec run`): every user of the dataset is then in the
  target pool (``source_fraction`` is not applied to it), the ``source`` / ``source-dp`` generators and the
  ceiling use the external log translated onto the dataset's catalogue (`synthrec.experiments.external`),
  and the breakdowns add the groups ``mapped-items`` / ``target-only-items``. ``sources`` may then list
  ``source-fill`` (and gets ``source-dp-fill(eps=E)`` per ``dp_epsilons`` value): the pool of ``source``
  (``source-dp(eps=E)``) — the same fit, reused from the pool cache — with the target-only items filled in
  from the level's training data (`synthrec.experiments.fill`; refilled from the inner training part for
  validation). On a dataset without an external source these cells are recorded as skipped.
- **split.** The target pool is split once per (dataset, split, seed) into training and test parts; the
  test users and their histories are therefore the *same at every scarcity level* (paired comparisons
  along the learning curve). ``temporal`` is the global time cut (``temporal-global``);
  ``strong-generalisation`` holds out whole target users (``user-holdout``, fold-in histories).
- **scarcity level.** ``users=f``: the recommender and the ``self`` generator see only the training part
  of a fraction ``f`` of the target pool's training users (nested: a smaller fraction keeps a subset of
  the users of a larger one). ``cap=c``: every training user (f = 1), and every test user's history,
  keeps only their last ``c`` events.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synthrec._params import param_names, takes_any_keyword
from synthrec._suggest import did_you_mean, did_you_mean_each
from synthrec.config import DataConfig, ExternalSourceConfig, describe_errors
from synthrec.errors import ConfigError

BenchStrategy = Literal["real-only", "synthetic-only", "augment", "pretrain-finetune", "auto", "ceiling"]
BenchSplit = Literal["leave-last-out", "leave-one-out", "temporal", "temporal-user", "temporal-global",
                     "strong-generalisation", "user-holdout"]
BenchSource = Literal["self", "source", "source-fill", "simulator", "attributes"]
_DEFAULT_SOURCES: tuple[BenchSource, ...] = ("self", "source")
_DEFAULT_STRATEGIES: tuple[BenchStrategy, ...] = (
    "real-only", "synthetic-only", "augment", "pretrain-finetune", "auto", "ceiling",
)
_DEFAULT_SPLITS: tuple[BenchSplit, ...] = ("leave-last-out",)

#: bench split name -> `synthrec.data.splits.make_split` kind
SPLIT_ALIASES: dict[str, str] = {
    "leave-last-out": "leave-last-out",
    "leave-one-out": "leave-one-out",
    "temporal": "temporal-global",
    "temporal-global": "temporal-global",
    "temporal-user": "temporal-user",
    "strong-generalisation": "user-holdout",
    "user-holdout": "user-holdout",
}
#: split kinds that need real event times (on a log without timestamps their cells are skipped)
TIMED_SPLITS = ("temporal-global",)
#: split kinds that need each user's events in time order: timestamps, or a declared row order
ORDERED_SPLITS = ("leave-last-out", "temporal-user", "temporal-global")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemAttributesFile(_Strict):
    """Item attributes of a dataset whose loader reads none (`synthrec.experiments.bench.datasets`).

    ``movielens-dat``: MovieLens-1M ``movies.dat`` (``item::title::genres``, genres ``|``-separated) gives
    the list column ``genres``. ``item2attributes-json``: the ``amazon-seq`` ``*_item2attributes.json``
    (``{"item": [attribute id, ...]}``) gives the list column ``attributes`` (distinct ids as strings).
    Rows are matched to the log's items by their external ids read as text; items without a row get an
    empty list.
    """

    path: Path
    format: Literal["movielens-dat", "item2attributes-json"]


class BenchDataset(_Strict):
    """One dataset of the sweep: a `synthrec.config.DataConfig` (``data``) or a sequence file.

    ``sequence_file`` reads the format of SASRec-style preprocessed logs (``amazon-seq``): one line per
    user, ``user item item ...`` in time order, separated by single spaces.
    """

    name: str = Field(description="label in tables and figures (also part of every cell id)")
    data: DataConfig | None = None
    sequence_file: Path | None = Field(None, description="`user item item ...` per line, in time order")
    min_user_interactions: int = Field(2, ge=1, description="drop users with fewer events (after loading)")
    min_item_interactions: int = Field(1, ge=1, description="drop items with fewer events (after loading)")
    max_items: int | None = Field(
        None, ge=2, description="keep only the most popular items (dense item-item models stay tractable)"
    )
    splits: list[BenchSplit] | None = Field(
        None, description="splits for this dataset (default: the sweep's `splits`), e.g. leave-one-out for a "
        "log without event times",
    )
    item_attributes: ItemAttributesFile | None = Field(
        None, description="a file of item attributes (replaces the loader's items table; used by the "
        "`attributes` and `simulator` sources only)",
    )
    source: ExternalSourceConfig | None = Field(
        None, description="an external source with its own catalogue and an item map (as in `synthrec run`): all "
        "users of the dataset form the target pool; the source / source-dp generators and the ceiling use it",
    )

    @model_validator(mode="after")
    def _one_source(self) -> BenchDataset:
        if (self.data is None) == (self.sequence_file is None):
            raise ValueError(f"dataset {self.name!r}: give exactly one of data or sequence_file")
        return self


class ScarcityConfig(_Strict):
    user_fractions: list[float] = Field(
        default_factory=lambda: [0.05, 0.1, 0.25, 0.5, 1.0],
        description="fractions of the target pool's training users kept, each in (0, 1]",
    )
    history_caps: list[int] = Field(default_factory=list, description="per-user history caps (all users kept)")

    @field_validator("user_fractions")
    @classmethod
    def _fractions(cls, v: list[float]) -> list[float]:
        if not v or any(not 0.0 < f <= 1.0 for f in v):
            raise ValueError("user_fractions must be a non-empty list of numbers in (0, 1]")
        return sorted(set(v))

    @field_validator("history_caps")
    @classmethod
    def _caps(cls, v: list[int]) -> list[int]:
        if any(c < 1 for c in v):
            raise ValueError("history_caps must be integers >= 1")
        return sorted(set(v))


class GeneratorSpec(_Strict):
    """A generator by registry name (`synthrec.generators.registry.GENERATORS`)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None

    @property
    def display(self) -> str:
        return self.label or self.name


class RecommenderSpec(_Strict):
    """A recommender by registry name (`synthrec.models.registry.MODELS`) with fixed ``params`` and a
    tuning ``grid`` (parameter -> candidate values) searched on validation data."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    label: str | None = None

    @property
    def display(self) -> str:
        return self.label or self.name

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in v.items():
            if not values:
                raise ValueError(f"grid.{key} holds no values")
        return v


class TuningConfig(_Strict):
    """Hyper-parameter search, the same for every strategy (real-only included): ``budget`` grid points
    (all of them when the grid is smaller; otherwise a seeded draw without replacement, the same draw for
    every strategy), each trained on the inner training part of a validation split carved from the
    level's real training data and scored by NDCG@10 on its validation targets. Test data is never used."""

    budget: int = Field(4, ge=1, description="grid points tried per (strategy, recommender, seed, level)")


class BreakdownConfig(_Strict):
    """Groups reported besides ``all`` (see `synthrec.experiments.bench.breakdowns`)."""

    cold_max_history: int | None = Field(
        None, ge=0, description="cold users: history length <= this; default: the shortest-history third",
    )
    head_share: float = Field(0.2, gt=0.0, lt=1.0, description="head items: this top share by popularity")


class SimulatorSourceConfig(_Strict):
    """The ``simulator`` source: `synthrec.generators.simulator.calibrate` with a small budget (``sweeps``
    passes of 1-D knob searches of at most ``max_iter`` samples of ``calibration_users`` users, capped at
    the training users). The simulator re-consumes items; a log without repeated (user, item) pairs is
    matched after dropping them: ``corrections`` times, the targets are shifted by the gap between the
    calibrated sample's statistics with and without repeats and the calibration is rerun (see
    `synthrec.experiments.bench.sources`)."""

    calibration_users: int = Field(300, ge=1, description="users per calibration sample (<= training users)")
    max_iter: int = Field(4, ge=1, description="samples per 1-D knob search")
    sweeps: int = Field(1, ge=1, description="passes over the knobs")
    tolerance: float = Field(0.05, gt=0.0, description="relative error at which a knob's search stops")
    corrections: int = Field(0, ge=0, description="recalibrations to targets corrected for dropped repeats")
    activity_iters: int = Field(3, ge=0, description="then rescalings of the session rate so that distinct items "
                                "per user match the log")


class AttributesSourceConfig(_Strict):
    """The ``attributes`` source: `synthrec.generators.cold_items.ColdItemAugmenter` (``n_factors``,
    ``l2``, ``generator_params`` of its `LatentFactorGenerator`) fitted on the training data and the
    item attributes; its samples put ``focus_share`` of their interactions on the fit data's tail items
    (all but the ``breakdowns.head_share`` most popular, cold items included); ``null``: the tail's share
    in the fit data (the latent-factor model alone under-samples the tail)."""

    n_factors: int = Field(32, ge=1)
    l2: float | Literal["auto"] = "auto"
    focus_share: float | None = Field(None, gt=0.0, lt=1.0, description="share of sampled rows on tail items")
    generator_params: dict[str, Any] = Field(
        default_factory=lambda: {"calibration_users": 1000, "gram_items": 500},
        description="further LatentFactorGenerator parameters (default: its cheaper calibration)",
    )


class BenchConfig(_Strict):
    """A whole benchmark sweep (`synthrec bench CONFIG.yaml`)."""

    name: str = "bench"
    datasets: list[BenchDataset]
    scarcity: ScarcityConfig = Field(default_factory=ScarcityConfig)
    source_fraction: float = Field(0.5, gt=0.0, lt=1.0, description="share of users forming the source")
    sources: list[BenchSource] = Field(default_factory=lambda: list(_DEFAULT_SOURCES))
    dp_epsilons: list[float] = Field(
        default_factory=list, description="ε of user-level DP variants of `source` (need epsilon= support)"
    )
    generators: list[GeneratorSpec] = Field(default_factory=lambda: [GeneratorSpec(name="latent-factor")])
    simulator_source: SimulatorSourceConfig = Field(default_factory=SimulatorSourceConfig)
    attributes_source: AttributesSourceConfig = Field(default_factory=AttributesSourceConfig)
    strategies: list[BenchStrategy] = Field(default_factory=lambda: list(_DEFAULT_STRATEGIES))
    augment_ratios: list[float] = Field(default_factory=lambda: [1.0])
    synthetic_ratio: float = Field(1.0, gt=0.0)
    auto_min_gain: float = Field(0.02, ge=0.0)
    recommenders: list[RecommenderSpec] = Field(
        default_factory=lambda: [RecommenderSpec(name="ease", grid={"l2": [50.0, 200.0, 800.0]})]
    )
    splits: list[BenchSplit] = Field(default_factory=lambda: list(_DEFAULT_SPLITS))
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="temporal and strong-generalisation splits")
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    breakdowns: BreakdownConfig = Field(default_factory=BreakdownConfig)
    ks: list[int] = Field(default_factory=lambda: [10, 20])
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])

    @field_validator("augment_ratios", "dp_epsilons")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(r <= 0 for r in v):
            raise ValueError("values must be > 0")
        return v

    @field_validator("ks")
    @classmethod
    def _ks(cls, v: list[int]) -> list[int]:
        if any(k < 1 for k in v):
            raise ValueError("ks must be positive integers")
        return sorted(set(v) | {10})  # NDCG@10 is the primary metric

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v or len(set(v)) != len(v) or any(s < 0 for s in v):
            raise ValueError("give distinct seeds >= 0")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> BenchConfig:
        names = [d.name for d in self.datasets]
        if not names:
            raise ValueError("give at least one dataset")
        if len(set(names)) != len(names):
            raise ValueError("dataset names must be distinct")
        if not self.recommenders:
            raise ValueError("give at least one recommender")
        labels = [r.display for r in self.recommenders]
        if len(set(labels)) != len(labels):
            raise ValueError("recommender labels must be distinct (set label: for repeated names)")
        if len({g.display for g in self.generators}) != len(self.generators):
            raise ValueError("generator labels must be distinct (set label: for repeated names)")
        needs_generator = {"synthetic-only", "augment", "pretrain-finetune", "auto"} & set(self.strategies)
        if needs_generator and not self.generators and {"self", "source", "source-fill"} & set(self.sources):
            raise ValueError(f"strategies {sorted(needs_generator)} with sources self/source/source-fill need at "
                             "least one generator")
        if len(set(self.sources)) != len(self.sources):
            raise ValueError("sources must be distinct")
        if self.dp_epsilons and not {"source", "source-fill"} & set(self.sources):
            raise ValueError("dp_epsilons are variants of the 'source' source: add 'source' to sources (or "
                             "'source-fill' for its filled variant)")
        if "source-fill" in self.sources and not any(d.source is not None for d in self.datasets):
            raise ValueError("sources lists 'source-fill' (the source pool with the target-only items filled in) "
                             "but no dataset has an external source: (its own catalogue and an item map; "
                             "target-only items are the items the map does not reach): add source: to a "
                             "dataset or remove 'source-fill'")
        return self

    def check_registered(self) -> None:
        """Every generator and recommender name is registered and every parameter is accepted.

        The registries are read at call time, so a generator or recommender registered at runtime (an
        entry added to ``GENERATORS`` / ``MODELS``) is usable without any change here.

        Raises:
            ConfigError: an unknown name or parameter (the message lists what is valid).
        """
        from synthrec.generators.registry import GENERATORS
        from synthrec.models.registry import MODELS

        for g in self.generators:
            if g.name not in GENERATORS:
                raise ConfigError(f"generators: unknown generator {g.name!r}; {did_you_mean(g.name, GENERATORS)}"
                                  f"registered: {', '.join(sorted(GENERATORS))}")
            _check_params(f"generator {g.name!r}", GENERATORS[g.name], set(g.params))
        for r in self.recommenders:
            if r.name not in MODELS:
                raise ConfigError(f"recommenders: unknown recommender {r.name!r}; {did_you_mean(r.name, MODELS)}"
                                  f"registered: {', '.join(sorted(MODELS))}")
            _check_params(f"recommender {r.name!r}", MODELS[r.name], set(r.params) | set(r.grid))


def check_runnable(cfg: BenchConfig) -> None:
    """Everything about ``cfg`` that can be checked without running a cell: registered names and accepted
    parameter names (`BenchConfig.check_registered`), every dataset file or folder exists, and every
    generator and recommender constructs with its ``params`` (generators also with each ``dp_epsilons``
    value where they take ``epsilon=``; recommenders also with each ``grid`` value on its own; the
    ``attributes`` source's augmenter with ``attributes_source``), and every ``item_attributes`` file exists.

    Called by `synthrec bench --dry-run` and before a sweep runs, so a typo fails at once with the config
    key named instead of failing every cell.

    Raises:
        ConfigError: naming the config key (e.g. ``generators[0] (latent-factor).params``) and the reason.
    """
    from synthrec.generators.registry import GENERATORS, make_generator
    from synthrec.models.registry import make_model

    cfg.check_registered()
    for i, d in enumerate(cfg.datasets):
        key, path = ((f"datasets[{i}] ({d.name}).sequence_file", d.sequence_file) if d.sequence_file is not None
                     else (f"datasets[{i}] ({d.name}).data.path", d.data.path if d.data is not None else None))
        if path is not None and not Path(path).exists():
            raise ConfigError(f"{key}: {path} does not exist; fix the path (a relative path is read from the "
                              "config file's folder)")
        if d.source is not None:
            src = d.source
            if src.data.path is not None and not Path(src.data.path).exists():
                raise ConfigError(f"datasets[{i}] ({d.name}).source.data.path: {src.data.path} does not exist; fix "
                                  "the path (a relative path is read from the config file's folder)")
            if src.map.path is not None and not Path(src.map.path).is_file():
                raise ConfigError(f"datasets[{i}] ({d.name}).source.map.path: {src.map.path} does not exist; fix "
                                  "the path (a relative path is read from the config file's folder)")
        if d.item_attributes is not None and not d.item_attributes.path.is_file():
            raise ConfigError(f"datasets[{i}] ({d.name}).item_attributes.path: {d.item_attributes.path} does not "
                              "exist; fix the path (a relative path is read from the config file's folder)")
    for i, g in enumerate(cfg.generators):
        key = f"generators[{i}] ({g.display}).params"
        _try_build(key, functools.partial(make_generator, g.name, seed=0, **g.params))
        if cfg.dp_epsilons and GENERATORS[g.name].supports_dp:
            for eps in cfg.dp_epsilons:
                _try_build(f"{key} with dp_epsilons {eps:g}",
                           functools.partial(make_generator, g.name, seed=0, **{**g.params, "epsilon": eps}))
    if "attributes" in cfg.sources:
        from synthrec.generators.cold_items import ColdItemAugmenter

        a = cfg.attributes_source
        _try_build("attributes_source", functools.partial(
            ColdItemAugmenter, a.n_factors, l2=a.l2, seed=0, generator_params=a.generator_params))
    for i, r in enumerate(cfg.recommenders):
        key = f"recommenders[{i}] ({r.display})"
        _try_build(f"{key}.params", functools.partial(make_model, r.name, seed=0, **r.params))
        for name, values in r.grid.items():
            for value in values:
                _try_build(f"{key}.grid.{name} = {value!r}",
                           functools.partial(make_model, r.name, seed=0, **{**r.params, name: value}))


def _try_build(key: str, build: Callable[[], object]) -> None:
    """Call ``build``; a ConfigError, TypeError or ValueError becomes a ConfigError naming ``key``."""
    try:
        build()
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _check_params(what: str, cls: type, given: set[str]) -> None:
    if takes_any_keyword(cls):
        return
    valid = param_names(cls)
    unknown = sorted(given - set(valid))
    if unknown:
        raise ConfigError(f"{what}: unknown parameter(s) {', '.join(unknown)}; {did_you_mean_each(unknown, valid)}"
                          f"valid: {', '.join(valid)}")


def load_bench_config(path: str | Path) -> BenchConfig:
    """Read and validate a bench YAML file; relative dataset paths are resolved against its folder.

    Raises:
        ConfigError: missing file, invalid YAML, schema violations (each bad key named with what was
            expected), or unregistered generator / recommender names.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"bench config {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    cfg = parse_bench_config(raw, source=str(path))
    return resolve_paths(cfg, path.parent)


def parse_bench_config(raw: dict[str, Any], *, source: str = "<bench config>") -> BenchConfig:
    """Validate a bench config given as a dict (paths stay as written).

    Raises:
        ConfigError: see `load_bench_config`.
    """
    try:
        cfg = BenchConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"  {line}" for line in describe_errors(exc, BenchConfig)]
        raise ConfigError(f"{source}: invalid bench config:\n" + "\n".join(lines)) from None
    try:
        cfg.check_registered()
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return cfg


def resolve_paths(cfg: BenchConfig, base_dir: Path) -> BenchConfig:
    """A copy of ``cfg`` whose relative dataset paths are made absolute against ``base_dir``."""
    datasets = []
    for d in cfg.datasets:
        upd: dict[str, Any] = {}
        if d.sequence_file is not None and not d.sequence_file.is_absolute():
            upd["sequence_file"] = (base_dir / d.sequence_file).resolve()
        if d.data is not None and d.data.path is not None and not d.data.path.is_absolute():
            upd["data"] = d.data.model_copy(update={"path": (base_dir / d.data.path).resolve()})
        if d.item_attributes is not None and not d.item_attributes.path.is_absolute():
            upd["item_attributes"] = d.item_attributes.model_copy(
                update={"path": (base_dir / d.item_attributes.path).resolve()})
        if d.source is not None:
            src_upd: dict[str, Any] = {}
            if d.source.data.path is not None and not d.source.data.path.is_absolute():
                src_upd["data"] = d.source.data.model_copy(update={"path": (base_dir / d.source.data.path).resolve()})
            if d.source.map.path is not None and not d.source.map.path.is_absolute():
                src_upd["map"] = d.source.map.model_copy(update={"path": (base_dir / d.source.map.path).resolve()})
            if src_upd:
                upd["source"] = d.source.model_copy(update=src_upd)
        datasets.append(d.model_copy(update=upd))
    return cfg.model_copy(update={"datasets": datasets})
