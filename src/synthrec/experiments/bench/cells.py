"""Expand a `BenchConfig` into cells: the smallest measured unit, one (dataset, split, scarcity level,
seed, strategy, source, generator, ratio, recommender).

Each cell has a stable content-hash id: the SHA-256 of its coordinates together with every setting its
result depends on (the dataset spec, generator and recommender parameters, tuning budget, splits'
parameters...). Re-expanding the same config gives the same ids (so finished cells are recognised on a
rerun); changing a setting a cell depends on gives it a new id (so stale results are never reused).

Cells are grouped into *tasks* that share their expensive preparation: a ``real`` task holds the
real-only and ceiling cells of one (dataset, split, level, seed); a ``synthetic`` task the cells of one
(dataset, split, level, seed, generator, source), whose generator is fitted once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from synthrec.experiments.bench.config import SPLIT_ALIASES, BenchConfig
from synthrec.experiments.fill import SOURCE_FILL, fill_label, fill_settings, is_fill
from synthrec.experiments.protocol import level_label

#: bump when the measuring protocol changes in a way that makes old results incomparable
PROTOCOL_VERSION = 1
NONE = "-"


@dataclass(frozen=True)
class Level:
    """A scarcity level: ``users`` fraction of training users kept, or a per-user history ``cap``."""

    users: float = 1.0
    cap: int | None = None

    @property
    def label(self) -> str:
        return level_label(self.users, self.cap)

    @property
    def kind(self) -> str:
        return "cap" if self.cap is not None else "users"


@dataclass(frozen=True)
class Cell:
    """One measured configuration; `id` is its content hash (16 hex digits)."""

    id: str
    dataset: str
    split: str
    level: Level
    seed: int
    strategy: str
    source: str
    epsilon: float | None
    generator: str
    ratio: float | None
    recommender: str
    skip_reason: str | None = None

    @property
    def arm(self) -> str:
        """Display label of the data configuration, e.g. ``augment x1 [source] latent-factor``."""
        if self.strategy in ("real-only", "ceiling"):
            return self.strategy
        ratio = f" x{self.ratio:g}" if self.ratio is not None else ""
        return f"{self.strategy}{ratio} [{self.source}] {self.generator}"

    @property
    def task_key(self) -> tuple[Any, ...]:
        base = (self.dataset, self.split, self.level.label, self.seed)
        if self.strategy in ("real-only", "ceiling"):
            return ("real", *base)
        return ("synthetic", *base, self.generator, self.source)

    def coordinates(self) -> dict[str, Any]:
        """The cell's coordinates as the tidy table's key columns."""
        return {
            "cell_id": self.id, "dataset": self.dataset, "split": self.split, "level": self.level.label,
            "level_kind": self.level.kind, "users_fraction": self.level.users, "history_cap": self.level.cap,
            "seed": self.seed, "strategy": self.strategy, "source": self.source, "epsilon": self.epsilon,
            "generator": self.generator, "ratio": self.ratio, "arm": self.arm, "recommender": self.recommender,
        }


#: sources that bring their own generator (`synthrec.experiments.bench.sources`), not crossed with
#: ``generators``; the label of their generator
OWN_GENERATOR_SOURCES: dict[str, str] = {"simulator": "simulator", "attributes": "cold-items"}


def source_labels(cfg: BenchConfig) -> list[tuple[str, float | None]]:
    """(label, epsilon) of every source: those of ``sources`` in order (``self``, ``source``,
    ``source-fill``, ``simulator``, ``attributes``), then ``source-dp(eps=E)`` per ε when ``source`` is
    listed, then ``source-dp-fill(eps=E)`` per ε when ``source-fill`` is (`synthrec.experiments.fill`)."""
    out: list[tuple[str, float | None]] = [(s, None) for s in cfg.sources]
    if "source" in cfg.sources:
        out.extend((f"source-dp(eps={e:g})", float(e)) for e in cfg.dp_epsilons)
    if SOURCE_FILL in cfg.sources:
        out.extend((fill_label(f"source-dp(eps={e:g})"), float(e)) for e in cfg.dp_epsilons)
    return out


def no_external_source_reason(dataset: str, source: str) -> str:
    """The skip note of a fill source's cells on a dataset without an external source."""
    return (f"skipped: unavailable ({source} fills the items an external source's map does not reach; dataset "
            f"{dataset} has no source:)")


def levels(cfg: BenchConfig) -> list[Level]:
    """User-fraction levels (ascending), then history caps (ascending, all users kept)."""
    return ([Level(users=f) for f in cfg.scarcity.user_fractions]
            + [Level(users=1.0, cap=c) for c in cfg.scarcity.history_caps])


def accepts_epsilon(generator_name: str) -> bool:
    """Whether the registered generator declares user-level DP fitting (`BaseGenerator.supports_dp`)."""
    from synthrec.generators.registry import GENERATORS

    cls = GENERATORS.get(generator_name)
    return cls is not None and bool(cls.supports_dp)


def _hash(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def expand(cfg: BenchConfig) -> list[Cell]:
    """Every cell of the sweep in a fixed order (dataset, split, level, seed, then arms and recommenders).

    DP-source cells are included even when the generator takes no ``epsilon=``; they carry a
    ``skip_reason`` and are recorded as skipped, never run. Sources with their own generator
    (`OWN_GENERATOR_SOURCES`) come after the generator × source arms, once per (dataset, split, level,
    seed); their ids also depend on their settings (``simulator_source`` / ``attributes_source``) and on
    the dataset's ``item_attributes``, which the ids of the other cells leave out.
    """
    shared = {"protocol": PROTOCOL_VERSION, "source_fraction": cfg.source_fraction,
              "test_fraction": cfg.test_fraction, "ks": cfg.ks, "tuning": cfg.tuning.model_dump(),
              "breakdowns": cfg.breakdowns.model_dump()}
    rec_specs = {r.display: r.model_dump() for r in cfg.recommenders}
    gen_specs = {g.display: g for g in cfg.generators}
    auto_cfg = {"augment_ratios": cfg.augment_ratios, "synthetic_ratio": cfg.synthetic_ratio,
                "auto_min_gain": cfg.auto_min_gain, "strategies": sorted(cfg.strategies)}
    cells: list[Cell] = []
    for ds in cfg.datasets:
        # Defaults (and the split list: each cell has its split) left out, so a new optional dataset key
        # or another split for the dataset leaves the ids of finished cells unchanged.
        # item attributes only feed the own-generator sources: they are hashed with those cells alone
        ds_json = ds.model_dump(mode="json", exclude_defaults=True, exclude={"splits", "item_attributes"})
        attrs_json = ds.item_attributes.model_dump(mode="json") if ds.item_attributes is not None else None
        for split in ds.splits or cfg.splits:
            for level in levels(cfg):
                for seed in cfg.seeds:
                    base = {"dataset": ds_json, "split": SPLIT_ALIASES[split], "level": asdict(level),
                            "seed": seed, **shared}

                    def add(strategy: str, source: str, eps: float | None, gen: str, ratio: float | None,
                            skip: str | None, extra: dict[str, Any], *, _base: dict[str, Any] = base,
                            _ds: str = ds.name, _split: str = split, _level: Level = level,
                            _seed: int = seed) -> None:
                        for rec, rspec in rec_specs.items():
                            payload = {**_base, "strategy": strategy, "source": source, "epsilon": eps,
                                       "ratio": ratio, "recommender": rspec, **extra}
                            if source != NONE:
                                payload["source_kind"] = source
                            cells.append(Cell(_hash(payload), _ds, _split, _level, _seed, strategy, source,
                                              eps, gen, ratio, rec, skip))

                    if "real-only" in cfg.strategies:
                        add("real-only", NONE, None, NONE, None, None, {})
                    if "ceiling" in cfg.strategies:
                        add("ceiling", NONE, None, NONE, None, None, {})
                    for gname, gspec in gen_specs.items():
                        gextra = {"generator": gspec.model_dump()}
                        for source, eps in source_labels(cfg):
                            if source in OWN_GENERATOR_SOURCES:
                                continue
                            skip = None
                            if eps is not None and not accepts_epsilon(gspec.name):
                                skip = f"skipped: unavailable (generator {gspec.name!r} takes no epsilon=)"
                            # a fill cell's id also depends on the fill's settings (the other ids do not)
                            fextra = {"fill": fill_settings()} if is_fill(source) else {}
                            if is_fill(source) and ds.source is None:
                                skip = no_external_source_reason(ds.name, source)
                            for strategy, ratio in _synthetic_arms(cfg):
                                extra = {**gextra, **fextra, **(auto_cfg if strategy == "auto" else {})}
                                add(strategy, source, eps, gname, ratio, skip, extra)
                    for source in cfg.sources:
                        if source not in OWN_GENERATOR_SOURCES:
                            continue
                        options = cfg.simulator_source if source == "simulator" else cfg.attributes_source
                        oextra = {"generator": {"name": OWN_GENERATOR_SOURCES[source],
                                                "options": options.model_dump(mode="json")},
                                  "item_attributes": attrs_json}
                        for strategy, ratio in _synthetic_arms(cfg):
                            extra = {**oextra, **(auto_cfg if strategy == "auto" else {})}
                            add(strategy, source, None, OWN_GENERATOR_SOURCES[source], ratio, None, extra)
    return cells


def _synthetic_arms(cfg: BenchConfig) -> list[tuple[str, float | None]]:
    out: list[tuple[str, float | None]] = []
    if "synthetic-only" in cfg.strategies:
        out.append(("synthetic-only", cfg.synthetic_ratio))
    if "augment" in cfg.strategies:
        out.extend(("augment", r) for r in cfg.augment_ratios)
    if "pretrain-finetune" in cfg.strategies:
        out.append(("pretrain-finetune", cfg.synthetic_ratio))
    if "auto" in cfg.strategies:
        out.append(("auto", None))
    return out


def group_tasks(cells: list[Cell]) -> list[list[Cell]]:
    """Cells grouped by `Cell.task_key`, in first-appearance order."""
    tasks: dict[tuple[Any, ...], list[Cell]] = {}
    for c in cells:
        tasks.setdefault(c.task_key, []).append(c)
    return list(tasks.values())
