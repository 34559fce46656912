"""The YAML configuration of `synthrec run`, validated by pydantic.

A config names the data (a registered loader or a file), how the target is made scarce, the split, the
generators and where they are fitted (``self`` = the scarce target, ``source`` = the private data-rich
users), the strategies, the recommenders, the metrics and the seeds. `synthrec run --help` and the
commented example in ``configs/`` document every key.

An optional ``source:`` names an external data-rich log with its own catalogue and how its items map to the
target's (`ExternalSourceConfig`, `synthrec.experiments.external`)::

    source:
      data: {loader: ml-latest-small}      # read like data:
      map: {by: title}                     # or {by: column, column: imdb_id} or {by: file, path: map.csv}

Every user of ``data:`` is then a target user (``target.source_fraction`` must be 0 or unset), and
``sources:`` may also list ``source-fill``: the ``source`` pool with the target's items the map does not
reach filled in from the target's own training data (`synthrec.experiments.fill`); ``auto`` chooses among
the strategies of every listed source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synthrec._suggest import close_matches
from synthrec.errors import ConfigError

STRATEGIES = ("real-only", "synthetic-only", "augment", "pretrain-finetune", "auto", "ceiling")
SOURCES = ("self", "source", "source-fill")
SPLIT_KINDS = ("leave-last-out", "temporal-user", "temporal-global", "user-holdout", "random")
FILE_FORMATS = ("auto", "table", "movielens-100k", "movielens-1m", "movielens-latest", "recbole", "seq")


SourceName = Literal["self", "source", "source-fill"]
StrategyName = Literal["real-only", "synthetic-only", "augment", "pretrain-finetune", "auto", "ceiling"]
_DEFAULT_SOURCES: tuple[SourceName, ...] = ("self", "source")
_DEFAULT_STRATEGIES: tuple[StrategyName, ...] = (
    "real-only", "synthetic-only", "augment", "pretrain-finetune", "auto", "ceiling",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Where the real log comes from: a registered ``loader`` or a ``path`` (file or folder)."""

    loader: str | None = Field(None, description="registered dataset name, e.g. movielens-small, ml-100k")
    path: Path | None = Field(None, description="a CSV/TSV/Parquet file, a MovieLens folder or RecBole prefix")
    format: Literal["auto", "table", "movielens-100k", "movielens-1m", "movielens-latest", "recbole", "seq"] = Field(
        "auto", description="how to read path: auto-detected, or one of table, movielens-100k, movielens-1m, "
        "movielens-latest, recbole, seq (one user per line: `user item item ...` in time order)",
    )
    user_col: str = "user"
    item_col: str = "item"
    rating_col: str | None = None
    time_col: str | None = None
    sep: str | None = None
    column_names: list[str] | None = Field(
        None, description="names for the columns of a file without a header line (e.g. [user, item, rating, ts])"
    )
    time_format: str | None = None
    time_unit: Literal["s", "ms", "us", "ns"] = "s"
    min_rating: float | None = Field(None, description="keep only ratings >= this (implicit positives)")
    min_item_interactions: int = Field(
        1, ge=1, description="drop items with fewer interactions (keeps dense item-item models tractable)"
    )
    min_user_interactions: int = Field(1, ge=1, description="drop users with fewer interactions")
    row_order_is_time: bool = Field(
        False, description="the file lists each user's events oldest first (only used when it has no time column; "
        "time-ordered splits refuse a log with neither)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.loader is None) == (self.path is None):
            raise ValueError("give exactly one of data.loader or data.path")
        return self


class TargetConfig(_Strict):
    """How the scarce target is made from the data: users are split into a private source and a target."""

    source_fraction: float = Field(
        0.9, ge=0.0, lt=1.0,
        description="fraction of users that form the private data-rich source (0: no source; must be 0 or "
        "unset with an external source:)",
    )
    keep_fraction: float = Field(1.0, gt=0.0, le=1.0, description="scarcity: keep this fraction of target users")
    max_per_user: int | None = Field(None, ge=1, description="scarcity: cap each target user's history")


class ItemMapConfig(_Strict):
    """How the items of an external source are matched to the target's (`synthrec.data.item_map`).

    ``by: title`` matches the items tables' normalised ``title`` (and ``year`` unless ``use_year: false``);
    ``by: column`` a shared id column of both items tables (``column``; ``target_column`` when the target
    names it differently); ``by: file`` a two-column mapping file (``path``; its columns ``source_column``
    / ``target_column``, default ``source`` / ``target``). The map is public information: it uses item
    metadata only, never who interacted with what.
    """

    by: Literal["title", "column", "file"] = "title"
    use_year: bool = Field(True, description="by: title: the release year must match too")
    column: str | None = Field(None, description="by: column: the source's items column holding the key")
    path: Path | None = Field(None, description="by: file: a CSV/TSV/Parquet file of source -> target item ids")
    source_column: str | None = Field(None, description="by: file: the file's source id column (default source)")
    target_column: str | None = Field(
        None, description="by: column: the target's key column (default: column); by: file: the file's target id "
        "column (default target)",
    )

    @model_validator(mode="after")
    def _fields_of_kind(self) -> ItemMapConfig:
        if self.by == "column" and not self.column:
            raise ValueError("map.by: column needs map.column (the items column holding the shared key)")
        if self.by == "file" and self.path is None:
            raise ValueError("map.by: file needs map.path (a file of source -> target item ids)")
        unused = {
            "title": ("column", "path", "source_column", "target_column"),
            "column": ("use_year", "path", "source_column"),
            "file": ("use_year", "column"),
        }[self.by]
        # values, not model_fields_set: a dumped and re-read config carries every key with its default
        given = sorted(k for k in unused if getattr(self, k) != type(self).model_fields[k].default)
        if given:
            raise ValueError(f"map.by: {self.by} does not read {', '.join('map.' + k for k in given)}")
        return self


class ExternalSourceConfig(_Strict):
    """A data-rich source with its own catalogue (issue 16): its users reach the target only through the
    items the map pairs with the target's (`synthrec.data.item_map.translate_source`)."""

    data: DataConfig = Field(description="the source's log, read like the top-level data:")
    map: ItemMapConfig = Field(default_factory=ItemMapConfig, description="how its items match the target's")


class SplitConfig(_Strict):
    kind: Literal["leave-last-out", "leave-one-out", "temporal-user", "temporal-global", "user-holdout",
                  "random"] = "leave-last-out"
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="for fraction-based split kinds")


class ComponentConfig(_Strict):
    """A generator or model by registry name with its constructor parameters."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = Field(None, description="display name (default: name)")

    @property
    def display(self) -> str:
        return self.label or self.name


class ExperimentConfig(_Strict):
    """A full `synthrec run` experiment. Unknown keys are errors (typos never pass silently)."""

    name: str = "experiment"
    data: DataConfig
    source: ExternalSourceConfig | None = Field(
        None, description="an external data-rich source with its own catalogue and an item map; every user of "
        "data: is then a target user (target.source_fraction must be 0 or unset)",
    )
    target: TargetConfig = Field(default_factory=TargetConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    generator: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="latent-factor"))
    sources: list[SourceName] = Field(default_factory=lambda: list(_DEFAULT_SOURCES))
    strategies: list[StrategyName] = Field(default_factory=lambda: list(_DEFAULT_STRATEGIES))
    augment_ratios: list[float] = Field(default_factory=lambda: [0.5, 1.0, 2.0, 4.0])
    synthetic_ratio: float = Field(
        1.0, gt=0.0,
        description="synthetic users per real user the generator was fitted on (synthetic-only, pretrain)",
    )
    auto_min_gain: float = Field(
        0.02, ge=0.0,
        description="auto keeps real-only unless a synthetic strategy beats it on validation by this "
        "relative margin",
    )
    models: list[ComponentConfig] = Field(
        default_factory=lambda: [ComponentConfig(name="ease"), ComponentConfig(name="als")]
    )
    ks: list[int] = Field(default_factory=lambda: [10, 20])
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])

    @field_validator("augment_ratios")
    @classmethod
    def _positive_ratios(cls, v: list[float]) -> list[float]:
        if any(r <= 0 for r in v):
            raise ValueError("augment ratios must be > 0")
        return v

    @field_validator("ks")
    @classmethod
    def _positive_ks(cls, v: list[int]) -> list[int]:
        if not v or any(k < 1 for k in v):
            raise ValueError("ks must be a non-empty list of positive integers")
        return sorted(set(v))

    @field_validator("seeds")
    @classmethod
    def _some_seeds(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("give at least one seed")
        if len(set(v)) != len(v):
            # A repeated seed would count the same run twice as independent evidence.
            raise ValueError(f"give distinct seeds, got {','.join(map(str, v))}")
        return v

    @property
    def has_source(self) -> bool:
        """Source users exist: split from ``data`` (``target.source_fraction > 0``) or an external ``source``."""
        return self.source is not None or self.target.source_fraction > 0

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        if self.source is not None:
            if "source_fraction" in self.target.model_fields_set and self.target.source_fraction > 0:
                raise ValueError(
                    f"target.source_fraction is {self.target.source_fraction:g} but an external source: is "
                    "given; with source:, every user of data: is a target user: remove target.source_fraction "
                    "(or set it to 0)")
            self.target.source_fraction = 0.0
        if not self.has_source:
            # Without source users, the defaults mean "everything that needs no source".
            if "sources" not in self.model_fields_set:
                self.sources = ["self"]
            if "strategies" not in self.model_fields_set:
                self.strategies = [s for s in self.strategies if s != "ceiling"]
        if "source" in self.sources and not self.has_source:
            raise ValueError("sources lists 'source' but target.source_fraction is 0 (no source users; set it "
                             "> 0 or give an external source:)")
        if "source-fill" in self.sources and self.source is None:
            raise ValueError(
                "sources lists 'source-fill' (the source pool with the target-only items filled in) but no "
                "external source: is given; source-fill needs a source with its own catalogue and an item map "
                "(target-only items are the target's items the map does not reach): add source: or remove "
                "'source-fill'")
        if "ceiling" in self.strategies and not self.has_source:
            raise ValueError("strategy 'ceiling' needs source users: set target.source_fraction > 0 or give an "
                             "external source:")
        if not self.models:
            raise ValueError("give at least one model")
        return self


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a YAML experiment config.

    Raises:
        ConfigError: the file is missing, is not YAML, or does not match the schema; the message names
            the file and each bad key with what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], *, source: str = "<config>") -> ExperimentConfig:
    """Validate a config given as a dict; relative data paths stay as written.

    Raises:
        ConfigError: see `load_config`.
    """
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"  {line}" for line in describe_errors(exc, ExperimentConfig)]
        raise ConfigError(f"{source}: invalid config:\n" + "\n".join(lines)) from None


def did_you_mean(word: object, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``word``, or ``""``: the matching rule of
    `synthrec._suggest.close_matches` (case, ``-`` and ``_`` ignored), in the parenthetical form that
    closes a config error's sentence."""
    close = close_matches(str(word), choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``X``, ``X | None``, ``list[X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _keys_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str] | None:
    """The valid keys of the mapping at ``loc`` (list indices skipped) inside ``model``, if known."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None or part not in current.model_fields:
            return None
        current = _inner_model(current.model_fields[part].annotation)
    return list(current.model_fields) if current is not None else None


def describe_errors(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """One line per error of ``exc`` (raised validating ``model``): ``key.path: what is wrong``.

    An unknown key names the closest valid key ("did you mean") and lists the valid ones; a value outside
    a fixed set of choices names the closest choice.
    """
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and err["loc"]:
            key = err["loc"][-1]
            valid = _keys_at(model, err["loc"][:-1])
            msg = "unknown key (check its spelling)"
            if valid:
                msg = f"unknown key{did_you_mean(key, valid)}; valid keys: {', '.join(valid)}"
        elif err["type"] == "literal_error":
            choices = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
            msg += did_you_mean(err.get("input"), choices)
        lines.append(f"{loc}: {msg}")
    return lines
