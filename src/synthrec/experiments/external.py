"""An external source with its own catalogue (issue 16), shared by `synthrec run` and `synthrec bench`.

A config's ``source:`` names a data-rich log of other users over another catalogue, and a map from its
items to the target's (`synthrec.config.ItemMapConfig`). `prepare_external_source` loads it with the loader
path of ``data:`` (`synthrec.experiments.data_source.load_data`), builds the map once (per run, or per bench
dataset and process — never per seed), and translates the source onto the target's catalogue
(`synthrec.data.item_map.translate_source`): its users keep the events on mapped items, the events on
source-only items are dropped, so no unmapped source id ever reaches a target model. The translated log
then plays the part a same-log source plays: the ``source`` generators (DP ones included) are fitted on it
and the ``ceiling`` arm trains on target + it.

**Privacy.** The map is built from item metadata alone (titles, years, shared ids, a mapping file): public
information, never who interacted with what. Translating the source is a per-user transformation (each
source user's events are mapped or dropped independently of every other user), so a user-level ε-DP
generator fitted on the translated source is ε-DP with respect to the source users, the same guarantee
unchanged.

**No overlap.** When the map pairs no item (or the translated source holds no event), the source is
*unusable*: `ExternalSource.problem` says why, the source arms and the ceiling are skipped, and ``auto``
chooses among what is left (real-only alone when ``self`` is not listed).

**Item groups.** `ExternalSource.mapped` marks the target items the map reaches; results are also reported
on the held-out targets on those items (``mapped-items``) and on the others (``target-only-items``), the
way `synthrec.experiments.scoring.item_group_metrics` keeps an item group's targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from synthrec.config import ExternalSourceConfig, ItemMapConfig
from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError

if TYPE_CHECKING:
    from synthrec.data.item_map import ItemMap, MapCoverage

#: the item groups of a run or bench dataset with an item map (besides ``all``)
MAPPED_ITEMS = "mapped-items"
TARGET_ONLY_ITEMS = "target-only-items"
ITEM_MAP_GROUPS = (MAPPED_ITEMS, TARGET_ONLY_ITEMS)


@dataclass(frozen=True)
class ExternalSource:
    """An external source translated onto a target's catalogue.

    Attributes:
        name: the source log's name.
        data: the source users over the target's catalogue (events on unmapped items dropped, users
            compacted); None when the source is unusable (``problem``).
        mapped: bool ``(target n_items,)``: target items the map pairs with a source item.
        coverage: JSON-able figures of the map (`coverage_dict`), kept in results.json / the bench manifest.
        lines: the map's coverage lines (`synthrec.data.item_map.MapCoverage.lines`), for logs and reports.
        problem: why the source cannot be used (no item mapped, no event left), else None.
    """

    name: str
    data: InteractionData | None
    mapped: np.ndarray
    coverage: dict[str, Any] = field(default_factory=dict)
    lines: tuple[str, ...] = ()
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.data is not None

    def summary(self) -> dict[str, Any]:
        """What results.json keeps about the source: name, usability, the map's coverage and its lines."""
        return {"name": self.name, "usable": self.usable, "problem": self.problem,
                "source_users": len(self.data.active_users()) if self.data is not None else 0,
                "source_interactions": self.data.n_interactions if self.data is not None else 0,
                "target_items_mapped": int(self.mapped.sum()), "coverage": self.coverage,
                "lines": list(self.lines)}


def build_item_map(spec: ItemMapConfig, source: InteractionData, target: InteractionData,
                   base_dir: Path | None = None) -> ItemMap:
    """The `synthrec.data.item_map.ItemMap` a config's ``map:`` describes (a relative ``path`` is read from
    ``base_dir``, the config's folder).

    Raises:
        ConfigError / DataValidationError: a missing column or file (from `synthrec.data.item_map`).
    """
    from synthrec.data.item_map import map_items_by_key, map_items_by_title, read_item_map

    if spec.by == "title":
        return map_items_by_title(source, target, use_year=spec.use_year)
    if spec.by == "column":
        assert spec.column is not None  # ItemMapConfig validation
        return map_items_by_key(source, target, source_col=spec.column, target_col=spec.target_column)
    assert spec.path is not None  # ItemMapConfig validation
    path = spec.path if spec.path.is_absolute() or base_dir is None else base_dir / spec.path
    return read_item_map(path, source, target, source_col=spec.source_column or "source",
                         target_col=spec.target_column or "target")


def coverage_dict(cov: MapCoverage) -> dict[str, Any]:
    """The public figures of a `MapCoverage` as plain JSON-able values (its dataclass fields when it is
    one, else the three documented ones)."""
    import dataclasses

    if dataclasses.is_dataclass(cov) and not isinstance(cov, type):
        raw = dataclasses.asdict(cov)
    else:
        raw = {k: getattr(cov, k) for k in ("n_mapped", "source_interaction_share", "target_interaction_share")}
    return {k: _plain(v) for k, v in raw.items()}


def _plain(v: Any) -> Any:
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, pl.Series):
        return v.head(20).to_list()
    if isinstance(v, pl.DataFrame):
        return v.head(20).to_dicts()
    return str(v)


def mapped_mask(item_map: ItemMap, target: InteractionData) -> np.ndarray:
    """Bool ``(target.n_items,)``: the target's dense items whose external id the map reaches."""
    ids = item_map.target_items
    if ids.dtype != target.item_ids.dtype:
        return target.item_ids.cast(pl.String).is_in(ids.cast(pl.String).implode()).to_numpy()
    return target.item_ids.is_in(ids.implode()).to_numpy()


def translate(spec: ExternalSourceConfig, source: InteractionData, target: InteractionData,
              base_dir: Path | None = None) -> ExternalSource:
    """Map ``source`` (loaded from ``spec.data``) onto ``target``'s catalogue (module docstring).

    Raises:
        ConfigError / DataValidationError: the map cannot be built (a missing key column or mapping file).
            An empty map is not an error: the result is unusable and says why.
    """
    from synthrec.data.item_map import translate_source

    item_map = build_item_map(spec.map, source, target, base_dir)
    cov = item_map.coverage(source, target)
    lines = tuple(cov.lines())
    mapped = mapped_mask(item_map, target)
    name = source.name
    try:
        item_map.require_overlap()
    except DataValidationError as exc:
        return ExternalSource(name, None, mapped, coverage_dict(cov), lines, no_overlap_message(name, str(exc)))
    translated = translate_source(source, item_map, target).compact_users()
    if translated.n_interactions == 0:
        return ExternalSource(name, None, mapped, coverage_dict(cov), lines, no_overlap_message(
            name, "no event of the source falls on a mapped item"))
    if not translated.item_ids.equals(target.item_ids):  # pragma: no cover - translate_source's contract
        raise DataValidationError("the translated source is not over the target's catalogue", source=name)
    return ExternalSource(name, translated, mapped, coverage_dict(cov), lines)


def no_overlap_message(name: str, reason: str) -> str:
    """The message of an unusable external source (logged, kept in results.json, a bench cell's note)."""
    return (f"the external source {name} has no usable overlap with the target's catalogue ({reason}): its "
            "arms and the ceiling are skipped and auto keeps to the other candidates (real-only when no "
            "'self' source is listed); check source.map")


def prepare_external_source(spec: ExternalSourceConfig, target: InteractionData, base_dir: Path | None = None
                            ) -> ExternalSource:
    """Load ``spec.data`` (`synthrec.experiments.data_source.load_data`, the loader path of ``data:``) and
    `translate` it onto ``target``.

    Raises:
        DataValidationError / ConfigError: the source cannot be read, or the map cannot be built.
    """
    from synthrec.experiments.data_source import load_data

    try:
        source = load_data(spec.data, base_dir)
    except ConfigError as exc:
        raise ConfigError(f"source.data: {exc}") from None
    return translate(spec, source, target, base_dir)
