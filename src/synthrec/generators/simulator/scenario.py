"""The scenario: a YAML description of a domain that the simulator turns into users, items and logs.

A scenario has four parts (every key is documented in `scenario_template`):

* ``simulation`` — the time window (UTC start date, number of days), daily and weekly arrival cycles, the
  mean gap between choices inside a session;
* ``items`` — the catalogue: a category taxonomy with shares and log-normal prices per category, brands,
  quality, base popularity, release times (back catalogue and new items arriving during the window), or an
  imported real catalogue (CSV/Parquet) whose columns give these attributes;
* ``users`` — segments (personas) with shares, demographics, activity, category affinities, price
  sensitivity, conformity, novelty seeking, repeat consumption, preference drift and churn; the share of
  users that arrive during the window (cold users);
* ``behaviour`` — slate size, exposure and position bias, the event funnel and optional explicit ratings.

Validation happens in two steps: pydantic checks types, ranges and unknown keys (``extra="forbid"``, so a
typo is an error), then `check_scenario` checks what spans several keys (shares summing to 1, funnel rates
that cannot increase along the funnel, names that must exist). Every problem raises
`synthrec.errors.ConfigError` with the key path (``users.segments[1].share``), the file and, for files,
the line.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from synthrec.errors import ConfigError

#: tolerance on "shares sum to 1"
SHARE_TOLERANCE = 1e-6


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------- simulation


class SimulationSpec(_Strict):
    """Time window and arrival cycles. Times are UTC; timestamps are epoch seconds."""

    start: dt.date = Field(dt.date(2024, 1, 1), description="first day of the window (UTC), YYYY-MM-DD")
    days: int = Field(90, ge=1, le=36500, description="length of the window in days")
    hourly_weights: list[float] = Field(
        default_factory=lambda: [1.0] * 24,
        description="24 relative weights of session starts by hour of day (UTC), hour 0 first",
    )
    weekly_weights: list[float] = Field(
        default_factory=lambda: [1.0] * 7,
        description="7 relative weights of session starts by day of week, Monday first",
    )
    choice_gap_seconds: float = Field(
        60.0, ge=0.0, description="mean gap in seconds between two choices of one session (exponential)"
    )

    @field_validator("hourly_weights")
    @classmethod
    def _hours(cls, v: list[float]) -> list[float]:
        return _weights(v, 24)

    @field_validator("weekly_weights")
    @classmethod
    def _week(cls, v: list[float]) -> list[float]:
        return _weights(v, 7)

    @property
    def start_epoch(self) -> int:
        """First second of the window, epoch seconds (UTC)."""
        return int(dt.datetime(self.start.year, self.start.month, self.start.day, tzinfo=dt.timezone.utc)
                   .timestamp())

    @property
    def end_epoch(self) -> int:
        """First second after the window."""
        return self.start_epoch + 86400 * self.days


def _weights(v: list[float], n: int) -> list[float]:
    if len(v) != n:
        raise ValueError(f"give exactly {n} weights, got {len(v)}")
    if any(not (w >= 0) for w in v) or sum(v) <= 0:  # `not >=` also catches NaN
        raise ValueError("weights must be >= 0 and not all 0")
    return v


# ---------------------------------------------------------------------------------------------- items


class PriceSpec(_Strict):
    """Log-normal price: log(price) ~ N(log(median), sigma²)."""

    median: float = Field(20.0, gt=0, description="median price (currency units)")
    sigma: float = Field(0.5, ge=0, description="standard deviation of log(price)")


class CategorySpec(_Strict):
    """A node of the category taxonomy. Leaves are the categories items belong to.

    A leaf's share of the catalogue is the product of the shares on its path; a child inherits its
    parent's price unless it sets its own. Leaf names are written ``parent/child``.
    """

    name: str = Field(..., min_length=1, pattern=r"^[^/]+$")
    share: float = Field(..., ge=0, le=1, description="share of the parent (or of the catalogue)")
    price: PriceSpec | None = None
    children: list[CategorySpec] = Field(default_factory=list)


class BrandSpec(_Strict):
    """Brands: brand b has Zipf weight (b + 1)^-zipf_exponent and a quality offset ~ N(0, quality_sd²)."""

    count: int = Field(20, ge=1)
    zipf_exponent: float = Field(1.0, ge=0)
    quality_sd: float = Field(0.3, ge=0, description="sd of the brand's shift of item quality")


class PopularitySpec(_Strict):
    """Base popularity ("buzz") of an item, normalised to mean 1 over the catalogue.

    log(buzz_i) = quality_weight · quality_i + sigma · ε_i, ε_i ~ N(0, 1).
    """

    sigma: float = Field(1.0, ge=0)
    quality_weight: float = Field(0.5)


class ReleaseSpec(_Strict):
    """Release times: a back catalogue released before the window and new items released during it."""

    back_catalogue_days: int = Field(730, ge=1, description="back-catalogue items are released uniformly "
                                     "over this many days before the window starts")
    new_share: float = Field(0.1, ge=0, le=1, description="share of items released uniformly during the "
                             "window (cold items)")


class CatalogueFileSpec(_Strict):
    """A real catalogue to import (CSV or Parquet); missing attribute columns are simulated."""

    path: Path = Field(..., description="CSV/Parquet file; relative paths are relative to the scenario file")
    id_column: str = "item_id"
    category_column: str = "category"
    price_column: str | None = None
    brand_column: str | None = None
    quality_column: str | None = Field(None, description="numeric; standardised to mean 0, sd items.quality_sd")
    release_column: str | None = Field(None, description="epoch seconds (integers)")
    attributes: list[str] = Field(default_factory=list, description="extra columns copied to the items table")


class ItemsSpec(_Strict):
    """The catalogue. Give ``count`` + ``categories`` (simulated) or ``source`` (imported)."""

    count: int | None = Field(1000, gt=0, description="number of items (ignored with source)")
    seed: int = Field(0, ge=0, description="seed of the catalogue: every sample of this scenario shares it")
    categories: list[CategorySpec] = Field(
        default_factory=lambda: [CategorySpec(name="all", share=1.0)]
    )
    price: PriceSpec = Field(default_factory=PriceSpec, description="default price of categories")
    brands: BrandSpec = Field(default_factory=BrandSpec)
    quality_sd: float = Field(1.0, ge=0, description="sd of item quality (within a brand)")
    popularity: PopularitySpec = Field(default_factory=PopularitySpec)
    release: ReleaseSpec = Field(default_factory=ReleaseSpec)
    source: CatalogueFileSpec | None = None


# ---------------------------------------------------------------------------------------------- users


class TraitSpec(_Strict):
    """A per-user trait ~ N(mean, sd²)."""

    mean: float = 0.0
    sd: float = Field(0.0, ge=0)


class ActivitySpec(_Strict):
    """Sessions of a user: 1 + Poisson(λ_u · active weeks), λ_u ~ Gamma or LogNormal with mean
    ``sessions_per_week``. With the gamma (``negative_binomial``) the count over a fixed window is
    negative binomial with shape ``dispersion`` (smaller = more heterogeneous users)."""

    distribution: Literal["negative_binomial", "lognormal"] = "negative_binomial"
    sessions_per_week: float = Field(1.0, gt=0)
    dispersion: float = Field(1.0, gt=0, description="gamma shape (negative_binomial)")
    sigma: float = Field(1.0, ge=0, description="sd of log λ (lognormal)")
    max_sessions: int = Field(1000, ge=1, le=100_000, description="cap on sessions per user")


class AffinitySpec(_Strict):
    """Category affinity of a user ~ Dirichlet(concentration · m), m_c ∝ share_c · weight_c.

    ``weights`` maps a category name (a top-level name applies to all its leaves, a ``parent/child`` name to
    one leaf) to a relative weight; unnamed categories weigh 1. Small concentration = specialists.
    """

    concentration: float = Field(2.0, gt=0)
    weights: dict[str, float] = Field(default_factory=dict)

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, w in v.items() if not (w >= 0)]
        if bad:
            raise ValueError(f"weights must be >= 0 (category {bad[0]!r})")
        return v


class SegmentSpec(_Strict):
    """A persona: a share of the users and the distributions of their traits."""

    name: str = Field(..., min_length=1)
    share: float = Field(..., ge=0, le=1)
    demographics: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="overrides users.demographics for this segment"
    )
    activity: ActivitySpec = Field(default_factory=ActivitySpec)
    session_length: float = Field(3.0, ge=1, description="mean choices per session (geometric, >= 1)")
    churn_per_week: float = Field(0.0, ge=0, description="hazard of leaving for good, per week")
    affinity: AffinitySpec = Field(default_factory=AffinitySpec)
    price_sensitivity: TraitSpec = Field(default_factory=lambda: TraitSpec(mean=1.0, sd=0.3))
    conformity: TraitSpec = Field(default_factory=lambda: TraitSpec(mean=0.5, sd=0.2))
    novelty: TraitSpec = Field(default_factory=TraitSpec)
    repeat: float = Field(0.0, ge=0, le=1, description="probability that a choice re-consumes an earlier item")
    drift_per_30_days: float = Field(0.0, ge=0, description="rate at which affinity moves to a second draw")
    funnel: dict[str, float] = Field(default_factory=dict, description="overrides behaviour.funnel rates")


class UsersSpec(_Strict):
    new_share: float = Field(0.0, ge=0, le=1, description="share of users who arrive during the window")
    demographics: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="attribute -> {value: share}; shares sum to 1"
    )
    segments: list[SegmentSpec] = Field(
        default_factory=lambda: [SegmentSpec(name="everyone", share=1.0)], min_length=1
    )


# ---------------------------------------------------------------------------------------------- behaviour


class StageSpec(_Strict):
    """A funnel stage; ``rate`` is the share of choices that reach it (the first stage is every choice)."""

    name: str = Field(..., min_length=1)
    rate: float = Field(1.0, ge=0, le=1)


class FunnelSpec(_Strict):
    """Stages in order. ``cumulative``: a choice writes one row per stage reached (view, click, cart, ...);
    ``final``: one row per choice, carrying the deepest stage reached (e.g. stages [skip, play])."""

    mode: Literal["cumulative", "final"] = "cumulative"
    stages: list[StageSpec] = Field(default_factory=lambda: [StageSpec(name="view")], min_length=1)


class RatingSpec(_Strict):
    """Explicit ratings on the rows of one stage: clip(round_step(mean + utility_weight·V + noise_sd·ε)).

    With ``thresholds`` (an ordered-probit model, McKelvey & Zavoina 1975, "A statistical model for the
    analysis of ordinal level dependent variables", J. Math. Sociology 4) the latent value
    y = mean + utility_weight·V + noise_sd·ε gets the j-th value of the grid scale[0], scale[0] + step, …,
    scale[1] where j = number of thresholds ≤ y; calibration sets them to match a rating histogram.
    """

    stage: str
    scale: tuple[float, float] = (1.0, 5.0)
    step: float = Field(1.0, gt=0)
    mean: float = 3.5
    utility_weight: float = 0.7
    noise_sd: float = Field(0.7, ge=0)
    thresholds: list[float] | None = Field(
        None, description="increasing cut points, one fewer than the rating values (ordered probit)"
    )

    def grid(self) -> list[float]:
        """The rating values scale[0], scale[0] + step, …, up to scale[1]."""
        lo, hi = self.scale
        n = int((hi - lo) / self.step + 1e-9) + 1
        return [lo + self.step * j for j in range(n)]


class BehaviourSpec(_Strict):
    slate_size: int = Field(10, ge=1, le=1000, description="items exposed per choice (organic slate)")
    exposure_popularity: float = Field(
        0.5, description="exponent of base popularity in the chance of being exposed (exposure bias)"
    )
    position_bias: float = Field(
        0.5, ge=0, description="slate position k (1-based) adds log(k^-position_bias) to utility"
    )
    quality_weight: float = Field(1.0, description="weight of item quality in utility")
    freshness_days: float = Field(14.0, gt=0, description="time scale of an item's novelty after release")
    funnel: FunnelSpec = Field(default_factory=FunnelSpec)
    ratings: RatingSpec | None = None


class Scenario(_Strict):
    """A complete scenario. Build with `load_scenario` (file) or `parse_scenario` (dict)."""

    name: str = "scenario"
    description: str = ""
    simulation: SimulationSpec = Field(default_factory=SimulationSpec)
    items: ItemsSpec = Field(default_factory=ItemsSpec)
    users: UsersSpec = Field(default_factory=UsersSpec)
    behaviour: BehaviourSpec = Field(default_factory=BehaviourSpec)
    _source_file: Path | None = PrivateAttr(None)

    @property
    def source_file(self) -> Path | None:
        """The YAML file this scenario was read from (None when built in code)."""
        return self._source_file

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.behaviour.funnel.stages]

    def funnel_rates(self) -> list[list[float]]:
        """Rates ``[segment][stage]`` after segment overrides (stage 0 is always 1)."""
        base = {s.name: s.rate for s in self.behaviour.funnel.stages}
        rates = []
        for seg in self.users.segments:
            row = [1.0] + [seg.funnel.get(n, base[n]) for n in self.stage_names[1:]]
            rates.append(row)
        return rates


# ---------------------------------------------------------------------------------------------- loading


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a YAML scenario file.

    Raises:
        ConfigError: the file is missing or not YAML (the message names the file and line), or the scenario
            is invalid (each problem with its key path, e.g. ``users.segments[1].share``, and line).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"scenario file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    scenario = parse_scenario_text(text, source=str(path), base_dir=path.parent)
    scenario._source_file = path
    return scenario


def parse_scenario_text(text: str, *, source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate a scenario given as YAML text; see `load_scenario`."""
    try:
        raw = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    return parse_scenario(raw, source=source, base_dir=base_dir, _node=root)


def parse_scenario(
    raw: dict[str, Any], *, source: str = "<scenario>", base_dir: Path | None = None, _node: Any = None
) -> Scenario:
    """Validate a scenario given as a dict (e.g. parsed YAML).

    Args:
        raw: the scenario keys.
        source: file name or description used in messages.
        base_dir: folder that relative catalogue paths are resolved against.

    Raises:
        ConfigError: every problem found, one per line, as ``path: message``.
    """
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; see scenario_template())"
            problems.append((loc, msg))
        raise ConfigError(_format(problems, source, _node)) from None
    problems = check_scenario(scenario)
    if problems:
        raise ConfigError(_format(problems, source, _node))
    if base_dir is not None and scenario.items.source is not None and not scenario.items.source.path.is_absolute():
        cat = scenario.items.source.model_copy(update={"path": base_dir / scenario.items.source.path})
        scenario = scenario.model_copy(update={"items": scenario.items.model_copy(update={"source": cat})})
    return scenario


Loc = tuple[Any, ...]


def check_scenario(s: Scenario) -> list[tuple[Loc, str]]:
    """Cross-key checks pydantic cannot express; returns ``[(key path, problem)]`` (empty when valid)."""
    out: list[tuple[Loc, str]] = []

    def shares(loc: Loc, values: list[float]) -> None:
        total = sum(values)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            out.append((loc, f"shares must sum to 1, they sum to {total:.6g}"))

    items = s.items
    if items.source is None:
        if items.count is None:
            out.append((("items", "count"), "give the number of items (or items.source)"))

        def walk(nodes: list[CategorySpec], loc: Loc) -> None:
            shares(loc, [c.share for c in nodes])
            names = [c.name for c in nodes]
            for j, c in enumerate(nodes):
                if names.index(c.name) != j:
                    out.append(((*loc, j, "name"), f"duplicate category name {c.name!r}"))
                if c.children:
                    walk(c.children, (*loc, j, "children"))

        walk(items.categories, ("items", "categories"))
    leaves = set(leaf_names(items.categories)) if items.source is None else None
    tops = {c.name for c in items.categories} if items.source is None else None

    shares(("users", "segments"), [g.share for g in s.users.segments])
    for name, dist in s.users.demographics.items():
        _demographic(out, ("users", "demographics", name), dist)
    seg_names = [g.name for g in s.users.segments]
    stages = s.stage_names
    if len(set(stages)) != len(stages):
        out.append((("behaviour", "funnel", "stages"), "stage names must be distinct"))
    base_rates = [st.rate for st in s.behaviour.funnel.stages]
    if base_rates[0] != 1.0:
        out.append((("behaviour", "funnel", "stages", 0, "rate"), "the first stage is every choice: rate must be 1"))
    for j, g in enumerate(s.users.segments):
        loc: Loc = ("users", "segments", j)
        if seg_names.index(g.name) != j:
            out.append(((*loc, "name"), f"duplicate segment name {g.name!r}"))
        for name, dist in g.demographics.items():
            _demographic(out, (*loc, "demographics", name), dist)
        if leaves is not None and tops is not None:
            for cname in g.affinity.weights:
                if cname not in leaves and cname not in tops:
                    out.append(((*loc, "affinity", "weights", cname),
                                f"unknown category; known: {', '.join(sorted(tops | leaves))}"))
        for stage, rate in g.funnel.items():
            if stage not in stages:
                out.append(((*loc, "funnel", stage), f"unknown stage; stages are {', '.join(stages)}"))
            elif not 0.0 <= rate <= 1.0:
                out.append(((*loc, "funnel", stage), f"rate {rate} is outside [0, 1]"))
            elif stage == stages[0] and rate != 1.0:
                out.append(((*loc, "funnel", stage), "the first stage is every choice: rate must be 1"))
        rates = [1.0] + [g.funnel.get(n, base_rates[k + 1]) for k, n in enumerate(stages[1:])]
        for k in range(1, len(rates)):
            if rates[k] > rates[k - 1] + 1e-12:
                where = (*loc, "funnel", stages[k]) if stages[k] in g.funnel else (
                    "behaviour", "funnel", "stages", k, "rate")
                out.append((where, f"impossible funnel for segment {g.name!r}: {stages[k]} rate {rates[k]} "
                                   f"exceeds {stages[k - 1]} rate {rates[k - 1]} (rates are shares of all "
                                   "choices and cannot grow along the funnel)"))
    r = s.behaviour.ratings
    if r is not None:
        if r.stage not in stages:
            out.append((("behaviour", "ratings", "stage"), f"unknown stage; stages are {', '.join(stages)}"))
        if not r.scale[0] < r.scale[1]:
            out.append((("behaviour", "ratings", "scale"), "give [low, high] with low < high"))
        elif r.thresholds is not None:
            n_values = len(r.grid())
            if len(r.thresholds) != n_values - 1:
                out.append((("behaviour", "ratings", "thresholds"),
                            f"give {n_values - 1} cut points (one fewer than the {n_values} rating values)"))
            elif any(not b > a for a, b in zip(r.thresholds, r.thresholds[1:], strict=False)):
                out.append((("behaviour", "ratings", "thresholds"), "cut points must be strictly increasing"))
    return out


def _demographic(out: list[tuple[Loc, str]], loc: Loc, dist: dict[str, float]) -> None:
    if not dist:
        out.append((loc, "give at least one value with its share"))
        return
    for value, share in dist.items():
        if not (0.0 <= share <= 1.0):
            out.append(((*loc, value), f"share {share} is outside [0, 1]"))
    total = sum(dist.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        out.append((loc, f"shares must sum to 1, they sum to {total:.6g}"))


def leaf_names(nodes: list[CategorySpec], prefix: str = "") -> list[str]:
    """Leaf category names in taxonomy order, ``parent/child`` for nested ones."""
    out: list[str] = []
    for c in nodes:
        name = f"{prefix}{c.name}"
        out.extend(leaf_names(c.children, name + "/") if c.children else [name])
    return out


def format_loc(loc: Loc) -> str:
    """``("users", "segments", 1, "share")`` → ``users.segments[1].share``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _line(node: Any, loc: Loc) -> int | None:
    """1-based line of the YAML node at ``loc`` (the deepest existing ancestor), or None."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if getattr(k, "value", None) == str(part)]
            keys = [k for k, v in node.value if getattr(k, "value", None) == str(part)]
            if not match:
                return line
            line = keys[0].start_mark.line + 1
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _format(problems: list[tuple[Loc, str]], source: str, node: Any) -> str:
    lines = []
    for loc, msg in problems:
        line = _line(node, loc)
        at = f" (line {line})" if line is not None else ""
        lines.append(f"  {format_loc(loc)}{at}: {msg}")
    return f"{source}: invalid scenario:\n" + "\n".join(lines)


# ---------------------------------------------------------------------------------------------- template


def scenario_template() -> str:
    """A fully commented YAML scenario that validates; the starting point of a new domain.

    Used by ``synthrec scenario init``. Every key is shown with its default or an example value.
    """
    from synthrec.generators.simulator.template import TEMPLATE

    return TEMPLATE
