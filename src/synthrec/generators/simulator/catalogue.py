"""The item catalogue of a scenario: attributes, latent quality and popularity, and fast samplers.

A catalogue is either simulated from ``items`` of the scenario or imported from a real CSV/Parquet file
(`items.source`), in which case missing attributes are simulated. It is fixed per scenario: it depends
only on the scenario and ``items.seed``, never on the seed of a sample, so every sample (and every round
of a closed loop) shares the same items and dense item ids.

Simulated attributes (Greene-style hedonic model, kept deliberately simple):

* category: leaf c with exact counts ``round(count · share_c)`` (largest remainder), in random order;
* brand: b ~ Zipf weights (b + 1)^-s over ``brands.count`` brands; brand quality offset β_b ~ N(0, σ_b²);
* quality q_i = β_brand(i) + σ_q · ε_i (standard units; 0 = average);
* price: log p_i ~ N(log median_c, σ_c²), rounded to cents;
* base popularity ("buzz"), normalised to mean 1: log b_i = w_q · q_i + σ_p · η_i − log mean(·);
* release: new items (exactly ``round(count · new_share)``) uniform over the window, the others uniform
  over ``back_catalogue_days`` before it. Epoch seconds.

Sampling structure. The organic exposure of the simulator draws items of one category with
probability proportional to an exposure weight e_i = b_i^γ (γ = ``behaviour.exposure_popularity``) among
the items already released at time t. The weights are quantised into exposure *slots* (shelf space):
item i of category c gets max(1, round(16 · n_c · e_i / Σ_c e)) slots, so every item can be exposed and
weights are kept to 1/16 of an average item's share. Positions are sorted by (category, release), so
the released items of a category own a contiguous run of slots, and a draw is one uniform and one table
look-up — the table ("urn") method for discrete distributions (Devroye 1986, "Non-Uniform Random
Variate Generation", ch. III). The end of the released run at time t is found from a per-(category, time bin)
guide (Chen & Asau 1974, "On generating random variates from an empirical distribution", AIIE
Transactions 6(2)) and a short vectorised scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from synthrec.errors import ConfigError
from synthrec.generators.simulator.scenario import CategorySpec, PriceSpec, Scenario, leaf_names

DAY = 86400
#: mean exposure slots per item; an item gets max(1, round(SLOTS_PER_ITEM · n_c · e_i / Σ_c e)) slots
SLOTS_PER_ITEM = 16


@dataclass(frozen=True)
class Catalogue:
    """Items of a scenario. Arrays are indexed by dense item id unless they say *sorted position*.

    Attributes:
        item_ids: polars Series ``(n,)``, external item ids (Int64 ``0..n-1`` when simulated).
        category: int32 ``(n,)``, leaf category index into ``category_names``.
        category_names: leaf names (``parent/child``), ``C`` of them.
        price: float64 ``(n,)``, currency units.
        brand: int32 ``(n,)``, index into ``brand_names``.
        brand_names: brand labels.
        quality: float32 ``(n,)``, standard units.
        log_popularity: float32 ``(n,)``, log of the base popularity (mean of exp = 1).
        release: int64 ``(n,)``, release time, epoch seconds.
        extra: extra attribute columns of an imported catalogue (polars DataFrame in dense id order).
        log_price: float32 ``(n,)``, log(price) − median log(price) over the catalogue.
        order: int32 ``(n,)``, dense item id at each sorted position (sorted by category, then release).
        cat_start: int64 ``(C + 1,)``, first sorted position of each category.
        slots: int32 ``(Σ slots,)``: sorted position of each exposure slot, in position order.
        slot_before: int64 ``(n + 1,)``: number of slots before each sorted position.
        release_sorted: int64 ``(n,)``, release at sorted positions.
        day_guide: int32 ``(C, B)``, first position of c with release ≥ window start + b · ``bin_seconds``.
        bin_seconds: width of a time bin of ``day_guide`` (a day, or less when many items are released).
        window_start: epoch seconds of the simulation window start (for ``day_guide``).
        pos_quality, pos_log_price, pos_log_popularity: float32 ``(n,)``, the attributes at sorted positions
            (gathers of slate items then touch one array each, no id translation).
    """

    item_ids: pl.Series
    category: np.ndarray
    category_names: list[str]
    price: np.ndarray
    brand: np.ndarray
    brand_names: list[str]
    quality: np.ndarray
    log_popularity: np.ndarray
    release: np.ndarray
    exposure_popularity: float
    window_start: int
    window_days: int
    extra: pl.DataFrame | None = None
    log_price: np.ndarray = field(init=False)
    order: np.ndarray = field(init=False)
    cat_start: np.ndarray = field(init=False)
    slots: np.ndarray = field(init=False)
    slot_before: np.ndarray = field(init=False)
    release_sorted: np.ndarray = field(init=False)
    day_guide: np.ndarray = field(init=False)
    bin_seconds: int = field(init=False)
    pos_quality: np.ndarray = field(init=False)
    pos_log_price: np.ndarray = field(init=False)
    pos_log_popularity: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n, n_cat = len(self.category), len(self.category_names)
        lp = np.log(self.price)
        object.__setattr__(self, "log_price", (lp - np.median(lp)).astype(np.float32))
        order = np.lexsort((np.arange(n), self.release, self.category)).astype(np.int32)
        cat_sorted = self.category[order]
        cat_start = np.searchsorted(cat_sorted, np.arange(n_cat + 1)).astype(np.int64)
        # exposure slots: item weight e = buzz^γ, quantised to whole slots within its category
        weight = np.exp(self.exposure_popularity * self.log_popularity[order].astype(np.float64))
        size = np.diff(cat_start)
        cat_mass = np.bincount(cat_sorted, weights=weight, minlength=n_cat)
        share = weight / cat_mass[cat_sorted]
        n_slots = np.maximum(np.rint(SLOTS_PER_ITEM * size[cat_sorted] * share), 1).astype(np.int64)
        slot_before = np.concatenate([[0], np.cumsum(n_slots)])
        slots = np.repeat(np.arange(n, dtype=np.int32), n_slots)
        rel = self.release[order]
        # time_guide[c, b]: first p in c with release >= start + b·bin (searchsorted on (category, release));
        # about one new release per (category, bin) keeps the scan in `available_end` short
        n_new = int(((rel >= self.window_start) & (rel < self.window_start + self.window_days * DAY)).sum())
        per_day = int(np.clip(np.ceil(n_new / max(n_cat * self.window_days, 1)), 1, 1440))
        object.__setattr__(self, "bin_seconds", DAY // per_day)
        bins = np.arange((self.window_days + 2) * per_day + 1, dtype=np.int64)
        span = int(max(rel.max(initial=0), self.window_start + bins[-1] * self.bin_seconds)) + 1
        base = int(min(rel.min(initial=0), self.window_start)) - 1
        rkey = cat_sorted.astype(np.int64) * (span - base) + (rel - base)
        queries = (np.arange(n_cat, dtype=np.int64)[:, None] * (span - base)
                   + (self.window_start + bins[None, :] * self.bin_seconds - base))
        day_guide = np.searchsorted(rkey, queries, side="left").astype(np.int32)
        for name, value in (("order", order), ("cat_start", cat_start), ("slots", slots),
                            ("slot_before", slot_before), ("release_sorted", rel),
                            ("day_guide", day_guide),
                            ("pos_quality", self.quality[order]), ("pos_log_price", self.log_price[order]),
                            ("pos_log_popularity", self.log_popularity[order])):
            object.__setattr__(self, name, value)

    @property
    def n_items(self) -> int:
        return len(self.category)

    @property
    def n_categories(self) -> int:
        return len(self.category_names)

    def table(self) -> pl.DataFrame:
        """Items attribute table: ``item`` Int32 dense id, ``category`` String, ``price`` Float64,
        ``brand`` String, ``quality`` Float32, ``release_time`` Int64 (epoch seconds), extra columns."""
        cats = pl.Series(self.category_names, dtype=pl.String)
        brands = pl.Series(self.brand_names, dtype=pl.String)
        df = pl.DataFrame({
            "item": pl.Series(np.arange(self.n_items, dtype=np.int32)),
            "category": cats.gather(self.category),
            "price": pl.Series(self.price, dtype=pl.Float64),
            "brand": brands.gather(self.brand),
            "quality": pl.Series(self.quality, dtype=pl.Float32),
            "release_time": pl.Series(self.release, dtype=pl.Int64),
        })
        if self.extra is not None and self.extra.width:
            df = pl.concat([df, self.extra], how="horizontal")
        return df

    # ------------------------------------------------------------------ sampling

    def available_end(self, category: np.ndarray, t: np.ndarray) -> np.ndarray:
        """One past the last sorted position of ``category`` released at or before ``t``.

        Args:
            category: int ``(m,)`` leaf indices.
            t: int64 ``(m,)`` epoch seconds.

        Returns:
            int64 ``(m,)`` in ``[cat_start[c], cat_start[c + 1]]``; equal to ``cat_start[c]`` when nothing of
            the category is released yet.
        """
        b = np.clip((t - self.window_start) // self.bin_seconds, 0, self.day_guide.shape[1] - 1)
        p = self.day_guide[category, b].astype(np.int64)
        end = self.cat_start[category + 1]
        todo = np.flatnonzero(p < end)
        while todo.size:  # about one item of a category is released per time bin
            step = self.release_sorted[p[todo]] <= t[todo]
            todo = todo[step]
            p[todo] += 1
            todo = todo[p[todo] < end[todo]]
        return p

    def draw_positions(self, category: np.ndarray, end: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Draws of sorted positions of ``category`` among ``[cat_start[c], end)``, by exposure.

        Position p is drawn with probability slots_p / Σ slots over the released prefix (see the module
        docstring): one uniform and one table look-up per draw.

        Args:
            category: int ``(m,)``; end: int64 ``(m,)`` from `available_end` (must exceed the start);
            u: float ``(m, K)`` uniforms in [0, 1) (float32 is enough below 2^20 slots per category).

        Returns:
            int32 ``(m, K)`` sorted positions (`order` maps them to dense item ids).
        """
        lo = self.slot_before[self.cat_start[category]]
        width = self.slot_before[end] - lo
        idx = (u * width[:, None].astype(u.dtype)).astype(np.int64)
        np.minimum(idx, (width - 1)[:, None], out=idx)
        idx += lo[:, None]
        return self.slots[idx]

    def draw_slate_positions(self, category: np.ndarray, end: np.ndarray, u: np.ndarray) -> np.ndarray:
        """`draw_positions` laid out slate-position major: ``u`` float32 ``(K, m)``; returns intp ``(K, m)``.

        Same draw per uniform as `draw_positions` (one table look-up); the intp result feeds the attribute
        gathers without an index conversion.
        """
        lo = self.slot_before[self.cat_start[category]]
        width = self.slot_before[end] - lo
        idx = (u * width.astype(u.dtype)).astype(np.intp)
        np.minimum(idx, width - 1, out=idx)
        idx += lo
        return np.take(self.slots, idx).astype(np.intp)

    def draw(self, category: np.ndarray, end: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Like `draw_positions` but returns dense item ids, int32 ``(m, K)``."""
        return self.order[self.draw_positions(category, end, u)]


# ---------------------------------------------------------------------------------------------- building


def build_catalogue(scenario: Scenario) -> Catalogue:
    """The catalogue of ``scenario`` (deterministic given ``items.seed``).

    Raises:
        ConfigError: an imported catalogue file is missing, unreadable, lacks a named column, has
            duplicate or missing ids, or non-positive prices (the message names file, column and row).
    """
    items = scenario.items
    rng = np.random.default_rng(np.random.SeedSequence(items.seed, spawn_key=(0xCA7A,)))
    if items.source is not None:
        return _import_catalogue(scenario, rng)
    assert items.count is not None  # checked by check_scenario
    n = items.count
    names, shares, prices = _leaves(items.categories, items.price)
    counts = _largest_remainder(n, np.asarray(shares))
    category = rng.permutation(np.repeat(np.arange(len(names), dtype=np.int32), counts))
    median = np.array([p.median for p in prices])[category]
    sigma = np.array([p.sigma for p in prices])[category]
    price = np.maximum(np.round(median * np.exp(sigma * rng.standard_normal(n)), 2), 0.01)
    brand, brand_names, quality = _brands_and_quality(scenario, n, rng)
    return _finish(scenario, rng, pl.Series("item_id", np.arange(n, dtype=np.int64)), category, names, price,
                   brand, brand_names, quality, release=None, extra=None)


def _finish(
    scenario: Scenario, rng: np.random.Generator, ids: pl.Series, category: np.ndarray, names: list[str],
    price: np.ndarray, brand: np.ndarray, brand_names: list[str], quality: np.ndarray,
    release: np.ndarray | None, extra: pl.DataFrame | None,
) -> Catalogue:
    items, sim = scenario.items, scenario.simulation
    n = len(category)
    pop = items.popularity
    log_buzz = pop.quality_weight * quality + pop.sigma * rng.standard_normal(n)
    log_buzz -= np.log(np.mean(np.exp(log_buzz - log_buzz.max()))) + log_buzz.max()  # mean(buzz) = 1
    if release is None:
        n_new = round(n * items.release.new_share)
        is_new = np.zeros(n, dtype=bool)
        is_new[rng.choice(n, size=n_new, replace=False)] = True
        back = items.release.back_catalogue_days * DAY
        offset = rng.random(n)
        release = np.where(
            is_new,
            sim.start_epoch + np.floor(offset * sim.days * DAY),
            sim.start_epoch - back + np.floor(offset * back),
        ).astype(np.int64)
    return Catalogue(
        item_ids=ids, category=category.astype(np.int32), category_names=names,
        price=price.astype(np.float64), brand=brand.astype(np.int32), brand_names=brand_names,
        quality=quality.astype(np.float32), log_popularity=log_buzz.astype(np.float32),
        release=release.astype(np.int64), exposure_popularity=scenario.behaviour.exposure_popularity,
        window_start=sim.start_epoch, window_days=sim.days, extra=extra,
    )


def _brands_and_quality(scenario: Scenario, n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str], np.ndarray]:
    spec = scenario.items.brands
    w = (np.arange(spec.count) + 1.0) ** -spec.zipf_exponent
    brand = rng.choice(spec.count, size=n, p=w / w.sum()).astype(np.int32)
    width = len(str(spec.count))
    names = [f"brand-{b:0{width}d}" for b in range(spec.count)]
    offset = spec.quality_sd * rng.standard_normal(spec.count)
    quality = offset[brand] + scenario.items.quality_sd * rng.standard_normal(n)
    return brand, names, quality


def _leaves(nodes: list[CategorySpec], price: PriceSpec) -> tuple[list[str], list[float], list[PriceSpec]]:
    """Leaf names, catalogue shares (product along the path) and prices (inherited)."""
    names, shares, prices = [], [], []
    for c in nodes:
        own = c.price or price
        if c.children:
            sub_names, sub_shares, sub_prices = _leaves(c.children, own)
            names += [f"{c.name}/{s}" for s in sub_names]
            shares += [c.share * s for s in sub_shares]
            prices += sub_prices
        else:
            names.append(c.name)
            shares.append(c.share)
            prices.append(own)
    assert names == leaf_names(nodes)
    return names, shares, prices


def _largest_remainder(n: int, shares: np.ndarray) -> np.ndarray:
    """Integer counts summing to n, closest to n·shares (Hamilton's method; ties to the lower index)."""
    exact = n * shares / shares.sum()
    counts = np.floor(exact).astype(np.int64)
    short = n - int(counts.sum())
    if short:
        counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return counts


def _import_catalogue(scenario: Scenario, rng: np.random.Generator) -> Catalogue:
    spec = scenario.items.source
    assert spec is not None
    path = Path(spec.path)
    if not path.is_file():
        raise ConfigError(f"items.source.path: catalogue file {path} does not exist")
    try:
        df = pl.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pl.read_csv(
            path, infer_schema_length=10000)
    except Exception as exc:  # polars raises several types for unreadable files
        raise ConfigError(f"items.source.path: cannot read catalogue {path}: {exc}") from None
    wanted = {"id_column": spec.id_column, "category_column": spec.category_column,
              "price_column": spec.price_column, "brand_column": spec.brand_column,
              "quality_column": spec.quality_column, "release_column": spec.release_column}
    wanted |= {f"attributes[{k}]": a for k, a in enumerate(spec.attributes)}
    for key, col in wanted.items():
        if col is not None and col not in df.columns:
            raise ConfigError(f"items.source.{key}: file {path} has no column {col!r}; its columns are "
                              f"{', '.join(df.columns)}")
    if df.height == 0:
        raise ConfigError(f"items.source.path: catalogue {path} has no rows")
    ids = df[spec.id_column]
    _no_nulls(ids, path, spec.id_column)
    dup = ~ids.is_first_distinct()  # the second and later copies
    if dup.any():
        row = int(dup.arg_true()[0]) + 1
        raise ConfigError(f"file {path}, column {spec.id_column!r}, row {row}: duplicate item id {ids[row - 1]!r}; "
                          "item ids must be unique")
    cats = df[spec.category_column].cast(pl.String).fill_null("(missing)")
    names = sorted(cats.unique().to_list())
    category = cats.replace_strict(names, list(range(len(names))), return_dtype=pl.Int32).to_numpy()
    n = df.height
    brand, brand_names, quality = _brands_and_quality(scenario, n, rng)
    if spec.brand_column is not None:
        b = df[spec.brand_column].cast(pl.String).fill_null("(missing)")
        brand_names = sorted(b.unique().to_list())
        brand = b.replace_strict(brand_names, list(range(len(brand_names))), return_dtype=pl.Int32).to_numpy()
    if spec.quality_column is not None:
        q = _numeric(df, spec.quality_column, path)
        sd = q.std()
        quality = scenario.items.quality_sd * (q - q.mean()) / (sd if sd > 0 else 1.0)
    price = np.maximum(np.round(scenario.items.price.median * np.exp(
        scenario.items.price.sigma * rng.standard_normal(n)), 2), 0.01)
    if spec.price_column is not None:
        price = _numeric(df, spec.price_column, path)
        bad = np.flatnonzero(~(price > 0))
        if bad.size:
            raise ConfigError(f"file {path}, column {spec.price_column!r}, row {bad[0] + 1}: price must be > 0, "
                              f"got {price[bad[0]]}")
    release = None
    if spec.release_column is not None:
        release = _numeric(df, spec.release_column, path).astype(np.int64)
    extra = df.select(spec.attributes) if spec.attributes else None
    return _finish(scenario, rng, ids.alias("item_id"), category, names, price, brand, brand_names,
                   quality, release=release, extra=extra)


def _no_nulls(s: pl.Series, path: Path, col: str) -> None:
    if s.null_count():
        row = int(s.is_null().arg_true()[0]) + 1
        raise ConfigError(f"file {path}, column {col!r}, row {row}: missing value; fill it or drop the row")


def _numeric(df: pl.DataFrame, col: str, path: Path) -> np.ndarray:
    s = df[col]
    _no_nulls(s, path, col)
    try:
        return s.cast(pl.Float64, strict=True).to_numpy()
    except Exception:
        raise ConfigError(f"file {path}, column {col!r}: must be numeric, found {s.dtype}") from None
