"""Bias audit of synthetic interaction data and of recommenders trained on it.

Three questions, one function each:

1. `popularity_bias` — does the synthetic log concentrate on popular items more than the real one
   (popularity-bias amplification)?
2. `representation` — are user segments (a ``users`` column) and item groups (an ``items`` column, or
   popularity head/tail) represented in the synthetic log in the same shares as in the real one?
3. `recommender_bias` — does a recommender trained on synthetic data expose head items more, or serve
   cold users / tail items worse, than the same recommender trained on real data?

Conventions shared with `synthrec.evaluation.fidelity`: popularity = item **degree** (distinct users per
item; a repeated (user, item) pair counts once), over the whole catalogue; an "interaction" here is a
distinct (user, item) pair; the popular **head** is `head_item_mask` of the real degrees (top 20 % of the
real-observed items by degree), the **tail** the other observed items. Undefined values are ``nan``.

Every result is a frozen dataclass with ``summary() -> dict[str, float]`` (flat, JSON-ready). Suggested
report thresholds are given in each result's docstring; they are rules of thumb for flagging, not
statistical tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse as sp

from synthrec.data.interactions import ITEM, USER, InteractionData
from synthrec.data.stats import check_same_catalogue, distinct_pairs, gini, item_degrees
from synthrec.errors import ConfigError, DataValidationError
from synthrec.evaluation.fidelity import HEAD_FRACTION, head_item_mask
from synthrec.evaluation.metrics import NO_ITEM, ndcg_at_k

__all__ = [
    "MISSING_LABEL",
    "AttributeShares",
    "PopularityBias",
    "RecommenderBias",
    "RepresentationResult",
    "attribute_labels",
    "group_metrics",
    "popularity_bias",
    "recommender_bias",
    "representation",
    "total_variation",
]

#: label given to a missing (null) attribute value: missing is a category of its own (PITFALLS P15)
MISSING_LABEL = "<missing>"

#: synthetic item group used when the catalogue has no attribute column: real popularity head / tail
POPULARITY_GROUP = "popularity_group"

#: columns with more distinct values than this are skipped by `representation` unless named explicitly
MAX_CATEGORIES = 50


# ------------------------------------------------------------------------------------------ primitives


def total_variation(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Total variation distance TV(p, q) = ½ Σ_v |p_v − q_v| of two distributions on the same support.

    (Levin, Peres & Wilmer, "Markov Chains and Mixing Times", 2nd ed., Prop. 4.2.) Unitless in [0, 1]:
    0 = identical shares, 1 = disjoint support. E.g. p = (0.5, 0.5, 0), q = (0.25, 0.25, 0.5) → 0.5.

    Args:
        p, q: array-likes of the same shape ``(n_values,)``, each non-negative and summing to 1.

    Raises:
        DataValidationError: shapes differ, a share is negative or not finite, or a side does not sum to 1
            (within 1e-6).
    """
    a = np.asarray(p, dtype=np.float64).ravel()
    b = np.asarray(q, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise DataValidationError(f"total_variation needs two share vectors of one length, got {a.size} and {b.size}")
    for v, name in ((a, "p"), (b, "q")):
        if v.size and (not np.isfinite(v).all() or v.min() < 0 or abs(v.sum() - 1.0) > 1e-6):
            raise DataValidationError(f"total_variation: {name} must hold finite shares >= 0 summing to 1, "
                                      f"got sum {v.sum()!r}")
    return float(0.5 * np.abs(a - b).sum())


def attribute_labels(
    values: pl.Series, *, bins: Sequence[float] | None = None, source: str = "attribute"
) -> pl.Series:
    """String labels of an attribute column, with numeric columns optionally cut into bands.

    * ``bins`` = strictly increasing edges e_0 < … < e_J: value v gets ``"[e_{j-1}, e_j)"`` for
      e_{j-1} ≤ v < e_j, ``"< e_0"`` below the first edge and ``">= e_J"`` from the last one on
      (e.g. ml-100k ages with bins (18, 25, 35, 45, 56): 30 → ``"[25, 35)"``). Edges print with ``:g``.
    * Without ``bins`` every distinct value is its own label (``str(value)``).
    * Null (and NaN) values get `MISSING_LABEL`.

    Args:
        values: a polars Series of numbers, strings, categoricals or booleans (not a list column).
        bins: optional band edges (numeric columns only).
        source: name used in error messages (e.g. ``"users.age"``).

    Returns:
        String Series of the same length (name kept).

    Raises:
        ConfigError: ``bins`` are not strictly increasing finite numbers.
        DataValidationError: ``bins`` given for a non-numeric column, or a list/struct column.
    """
    dtype = values.dtype
    if isinstance(dtype, (pl.List, pl.Array, pl.Struct)):
        raise DataValidationError(f"{dtype} values cannot be one label per row", column=source,
                                  hint="explode the list column first (representation() does this)")
    if bins is None:
        clean = values.fill_nan(None) if dtype.is_float() else values
        return clean.cast(pl.String).fill_null(MISSING_LABEL).alias(values.name)
    edges = np.asarray(list(bins), dtype=np.float64)
    if edges.size < 1 or not np.isfinite(edges).all() or (np.diff(edges) <= 0).any():
        raise ConfigError(f"bins for '{source}' must be strictly increasing finite numbers, got {list(bins)!r}")
    if not dtype.is_numeric():
        raise DataValidationError(f"bins given for a non-numeric column ({dtype})", column=source,
                                  hint="drop bins for categorical columns")
    names = np.array([f"< {edges[0]:g}"] + [f"[{lo:g}, {hi:g})" for lo, hi in itertools.pairwise(edges)]
                     + [f">= {edges[-1]:g}"], dtype=object)
    x = values.cast(pl.Float64).fill_null(float("nan")).to_numpy()
    band = np.digitize(np.where(np.isnan(x), 0.0, x), edges, right=False)  # 0 .. J+1
    labels = np.where(np.isnan(x), MISSING_LABEL, names[band])
    return pl.Series(values.name, labels, dtype=pl.String)


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b != 0 and np.isfinite(a) and np.isfinite(b) else float("nan")


# ------------------------------------------------------------------------------------------ popularity


@dataclass(frozen=True)
class PopularityBias:
    """Popularity concentration of a synthetic log relative to the real one.

    Attributes:
        gini_real, gini_synthetic: `gini` of the item degrees over the whole catalogue.
        head_share_real, head_share_synthetic: share of the log's distinct (user, item) pairs that fall on
            the real head items (`head_item_mask` of the real degrees).
        n_head_items: size of the real head.

    Suggested thresholds (ratio synthetic / real, for both Gini and head share): pass within
    [0.9, 1.1]; warn within [0.8, 1.25]; fail outside (> 1: the generator amplifies popularity bias,
    < 1: it flattens it).
    """

    gini_real: float
    gini_synthetic: float
    head_share_real: float
    head_share_synthetic: float
    n_head_items: int

    @property
    def gini_ratio(self) -> float:
        """Gini amplification ratio ``gini_synthetic / gini_real`` (nan when the real Gini is 0)."""
        return _ratio(self.gini_synthetic, self.gini_real)

    @property
    def head_share_ratio(self) -> float:
        """Head-share amplification ratio ``head_share_synthetic / head_share_real``."""
        return _ratio(self.head_share_synthetic, self.head_share_real)

    def summary(self) -> dict[str, float]:
        """Flat dict: the attributes (``popularity_*``) and both ratios."""
        return {
            "popularity_gini_real": self.gini_real,
            "popularity_gini_synthetic": self.gini_synthetic,
            "popularity_gini_ratio": self.gini_ratio,
            "popularity_head_share_real": self.head_share_real,
            "popularity_head_share_synthetic": self.head_share_synthetic,
            "popularity_head_share_ratio": self.head_share_ratio,
            "popularity_n_head_items": float(self.n_head_items),
        }


def popularity_bias(
    real: InteractionData, synthetic: InteractionData, *, head_fraction: float = HEAD_FRACTION
) -> PopularityBias:
    """Popularity-bias amplification of a synthetic log (Abdollahpouri, Burke & Mobasher 2017, "Controlling
    popularity bias in learning-to-rank recommendation", RecSys, measure it by head/tail shares; the Gini
    form as in `synthrec.data.stats.gini`).

    With d = item degrees and H = `head_item_mask` (d_real, head_fraction):
    head share = Σ_{i∈H} d_i / Σ_i d_i for each log (same H for both); Gini = `gini` (d) over the catalogue.

    Args:
        real, synthetic: logs over one item catalogue.
        head_fraction: share of the real-observed items in the head, in (0, 1].

    Returns:
        `PopularityBias`.

    Raises:
        DataValidationError: the catalogues differ, or either log has no interaction.
        ConfigError: bad ``head_fraction``.
    """
    check_same_catalogue(real, synthetic)
    for data in (real, synthetic):
        if data.n_interactions == 0:
            raise DataValidationError("the log has no interactions, so it has no popularity to compare",
                                      source=data.name, column=ITEM, hint="pass a non-empty log")
    d_real, d_syn = item_degrees(real), item_degrees(synthetic)
    head = head_item_mask(d_real, head_fraction)
    return PopularityBias(
        gini_real=gini(d_real), gini_synthetic=gini(d_syn),
        head_share_real=float(d_real[head].sum() / d_real.sum()),
        head_share_synthetic=float(d_syn[head].sum() / d_syn.sum()),
        n_head_items=int(head.sum()),
    )


# ------------------------------------------------------------------------------------- representation


@dataclass(frozen=True)
class AttributeShares:
    """Shares of one attribute's values in the real and the synthetic log.

    Attributes:
        attribute: column name (or `POPULARITY_GROUP`).
        kind: ``"user"`` (share of active users per segment) or ``"item"`` (share of interactions per
            item group).
        table: polars DataFrame with columns ``value`` (String), ``share_real``, ``share_synthetic``,
            ``difference`` (synthetic − real), Float64, sorted by ``value`` in string order (so bands read
            ``"< 18"``, ``">= 56"``, ``"[18, 25)"``, …); each share column sums to 1.
        tvd: `total_variation` of the two share columns.
    """

    attribute: str
    kind: str
    table: pl.DataFrame
    tvd: float


@dataclass(frozen=True)
class RepresentationResult:
    """Representation of user segments and item groups in synthetic vs real data.

    Attributes:
        attributes: one `AttributeShares` per compared attribute (user columns first, then item columns).
        skipped: column name → why it was not compared (no synthetic users table, too many categories, …).

    Suggested thresholds (per attribute TV distance, and on ``tvd_max`` in `synthrec.evaluation.cards`):
    pass ≤ 0.05; warn ≤ 0.10; fail above.
    """

    attributes: tuple[AttributeShares, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        """``{"tvd_<kind>_<attribute>": TV, ..., "tvd_max": worst TV}`` (``tvd_max`` nan when none)."""
        out = {f"tvd_{a.kind}_{a.attribute}": a.tvd for a in self.attributes}
        out["tvd_max"] = max(out.values()) if out else float("nan")
        return out


def representation(
    real: InteractionData,
    synthetic: InteractionData,
    *,
    user_columns: Sequence[str] | None = None,
    item_columns: Sequence[str] | None = None,
    bins: Mapping[str, Sequence[float]] | None = None,
    head_fraction: float = HEAD_FRACTION,
) -> RepresentationResult:
    """Share of each user segment and item group in synthetic vs real data, and their TV distances.

    * **User segments** (column c of ``users``): share of the log's *active* users with each label of c
      (`attribute_labels`; users absent from the table count as `MISSING_LABEL`). Needs a ``users`` table
      holding c on both sides; otherwise c is listed in ``skipped``.
    * **Item groups** (column c of the real ``items`` table; the catalogue is shared, so the real table
      describes the synthetic items too): share of the log's distinct (user, item) pairs whose item has
      each label. A list column (e.g. ml-100k genres) is exploded: every (pair, label) counts once, and
      the shares are normalised over all such (pair, label) rows; an empty list counts as `MISSING_LABEL`.
    * When no item column is compared (no ``items`` table, none with few enough categories, or
      ``item_columns=()``), the items are grouped by real popularity into ``head`` / ``tail`` /
      ``unseen`` (`head_item_mask` of the real degrees; ``unseen`` = real degree 0) under the name
      `POPULARITY_GROUP`.

    Columns are chosen, when not given, as every attribute column with at most `MAX_CATEGORIES` distinct
    labels (numeric columns listed in ``bins`` always qualify); the others go to ``skipped``.

    Args:
        real, synthetic: logs over one item catalogue.
        user_columns, item_columns: columns to compare (default: chosen as above). A named column that
            does not exist raises.
        bins: column → band edges for numeric columns (see `attribute_labels`), e.g. ``{"age": (18, 25,
            35, 45, 56)}``.
        head_fraction: for the popularity grouping.

    Returns:
        `RepresentationResult`.

    Raises:
        DataValidationError: catalogues differ, a log has no interaction, or a named column is missing
            from the real table.
        ConfigError: bad bins or ``head_fraction``.
    """
    check_same_catalogue(real, synthetic)
    for data in (real, synthetic):
        if data.n_interactions == 0:
            raise DataValidationError("the log has no interactions", source=data.name, hint="pass a non-empty log")
    bins = dict(bins or {})
    skipped: dict[str, str] = {}
    results: list[AttributeShares] = []

    users_cols = _pick_columns(real.users, USER, user_columns, bins, skipped, real.name, "users")
    for col in users_cols:
        if synthetic.users is None or col not in synthetic.users.columns:
            skipped[col] = "the synthetic data has no users table with this column"
            continue
        p = _user_label_counts(real, col, bins.get(col))
        q = _user_label_counts(synthetic, col, bins.get(col))
        results.append(_shares(col, "user", p, q))

    item_cols = _pick_columns(real.items, ITEM, item_columns, bins, skipped, real.name, "items")
    for col in item_cols:
        assert real.items is not None  # _pick_columns returns nothing without a table
        p = _item_label_counts(real, real.items, col, bins.get(col))
        q = _item_label_counts(synthetic, real.items, col, bins.get(col))
        results.append(_shares(col, "item", p, q))
    if not item_cols:
        d_real = item_degrees(real)
        head = head_item_mask(d_real, head_fraction)
        group = np.where(head, "head", np.where(d_real > 0, "tail", "unseen"))
        table = pl.DataFrame({ITEM: np.arange(real.n_items, dtype=np.int32), POPULARITY_GROUP: group})
        p = _item_label_counts(real, table, POPULARITY_GROUP, None)
        q = _item_label_counts(synthetic, table, POPULARITY_GROUP, None)
        results.append(_shares(POPULARITY_GROUP, "item", p, q))
    return RepresentationResult(tuple(results), skipped)


def _pick_columns(table: pl.DataFrame | None, key: str, requested: Sequence[str] | None,
                  bins: Mapping[str, Sequence[float]], skipped: dict[str, str], source: str, what: str
                  ) -> list[str]:
    if requested is not None:
        cols = list(requested)
        missing = [c for c in cols if table is None or c not in table.columns or c == key]
        if missing:
            raise DataValidationError(f"no attribute column {missing[0]!r} in the {what} table", source=source,
                                      column=missing[0],
                                      hint=f"available: {', '.join(c for c in (table.columns if table is not None else []) if c != key) or 'none'}")
        return cols
    if table is None:
        return []
    chosen = []
    for col in table.columns:
        if col == key:
            continue
        s = table[col]
        n = s.explode().n_unique() if isinstance(s.dtype, pl.List) else s.n_unique()
        if col in bins or n <= MAX_CATEGORIES:
            chosen.append(col)
        else:
            skipped[col] = f"{n} distinct values (> {MAX_CATEGORIES}); pass bins or name it explicitly"
    return chosen


def _user_label_counts(data: InteractionData, col: str, bins: Sequence[float] | None) -> pl.DataFrame:
    assert data.users is not None
    active = pl.DataFrame({USER: data.active_users().astype(np.int32)})
    joined = active.join(data.users.select(USER, col), on=USER, how="left")
    labels = attribute_labels(joined[col], bins=bins, source=f"users.{col}")
    return labels.value_counts(name="n").rename({col: "value"})


def _item_label_counts(data: InteractionData, items: pl.DataFrame, col: str, bins: Sequence[float] | None
                       ) -> pl.DataFrame:
    _, item_of_pair = distinct_pairs(data)
    pairs = pl.DataFrame({ITEM: item_of_pair.astype(np.int32)})
    joined = pairs.join(items.select(ITEM, col), on=ITEM, how="left")
    s = joined[col]
    if isinstance(s.dtype, pl.List):
        s = s.list.eval(pl.element().cast(pl.String)).explode(empty_as_null=True)
    labels = attribute_labels(s, bins=bins, source=f"items.{col}")
    return labels.value_counts(name="n").rename({col: "value"})


def _shares(attribute: str, kind: str, p: pl.DataFrame, q: pl.DataFrame) -> AttributeShares:
    t = p.join(q, on="value", how="full", coalesce=True, suffix="_syn").fill_null(0)
    t = t.with_columns(
        (pl.col("n") / pl.col("n").sum()).cast(pl.Float64).alias("share_real"),
        (pl.col("n_syn") / pl.col("n_syn").sum()).cast(pl.Float64).alias("share_synthetic"),
    ).with_columns((pl.col("share_synthetic") - pl.col("share_real")).alias("difference"))
    t = t.select("value", "share_real", "share_synthetic", "difference").sort("value")
    return AttributeShares(attribute, kind, t, total_variation(t["share_real"].to_numpy(),
                                                               t["share_synthetic"].to_numpy()))


# ---------------------------------------------------------------------------------------- recommenders


def group_metrics(
    recs: np.ndarray,
    targets: sp.spmatrix | sp.sparray,
    cold_users: np.ndarray,
    head_items: np.ndarray,
    *,
    k: int = 10,
) -> dict[str, float]:
    """Per-group ranking quality and head exposure of one recommender's top-K lists.

    * ``ndcg``: mean NDCG@K (`synthrec.evaluation.metrics.ndcg_at_k`, linear gains) over users with a
      non-empty target row; ``ndcg_cold`` / ``ndcg_warm``: the same mean over the cold / warm users only.
    * ``ndcg_head_items`` / ``ndcg_tail_items``: item-group NDCG@K — the targets restricted to head
      (tail) items (every other target entry set to 0), the recommendation lists unchanged, so DCG counts
      hits on group items and the ideal DCG uses the user's group items only; mean over users with at
      least one target in the group. Here "tail" = every item not in ``head_items``.
    * ``head_exposure``: share of the filled top-K slots (ids ≠ `NO_ITEM`) holding head items (slot
      exposure; each slot weighs 1, position ignored); ``nan`` when no slot is filled.

    Args:
        recs: int array ``(n_users, K')`` of dense item ids best first, ``-1`` padding, ``K' >= k``.
        targets: sparse ``(n_users, n_items)`` relevance of the same users (row u ↔ recs row u).
        cold_users: bool ``(n_users,)``, True for the cold group.
        head_items: bool ``(n_items,)``, True for head items.
        k: cut-off.

    Returns:
        dict with the keys above (floats; ``nan`` for a group without evaluated users).

    Raises:
        DataValidationError: shapes disagree or recs/targets are malformed (see `ndcg_at_k`).
        ConfigError: bad ``k``.
    """
    t = sp.csr_matrix(targets)
    cold = np.asarray(cold_users, dtype=bool).ravel()
    head = np.asarray(head_items, dtype=bool).ravel()
    if cold.size != t.shape[0] or head.size != t.shape[1]:
        raise DataValidationError(
            f"cold_users has {cold.size} entries and head_items {head.size}, but targets are {t.shape}",
            source="targets", hint="give one flag per evaluated user and one per catalogue item")
    per_user = ndcg_at_k(recs, t, k, per_user=True)
    diag_head = sp.diags(head.astype(np.float64))
    diag_tail = sp.diags((~head).astype(np.float64))
    ndcg_head = ndcg_at_k(recs, sp.csr_matrix(t @ diag_head), k, per_user=True)
    ndcg_tail = ndcg_at_k(recs, sp.csr_matrix(t @ diag_tail), k, per_user=True)
    top = np.asarray(recs)[:, :k]
    filled = top != NO_ITEM
    n_filled = int(filled.sum())
    head_slots = int(head[top[filled]].sum())
    return {
        "ndcg": _nanmean(per_user),
        "ndcg_cold": _nanmean(per_user[cold]),
        "ndcg_warm": _nanmean(per_user[~cold]),
        "ndcg_head_items": _nanmean(ndcg_head),
        "ndcg_tail_items": _nanmean(ndcg_tail),
        "head_exposure": head_slots / n_filled if n_filled else float("nan"),
    }


#: keys of `group_metrics`, the per-model part of `RecommenderBias.summary`
GROUP_METRIC_KEYS: tuple[str, ...] = ("ndcg", "ndcg_cold", "ndcg_warm", "ndcg_head_items", "ndcg_tail_items",
                                      "head_exposure")


@dataclass(frozen=True)
class RecommenderBias:
    """`group_metrics` of a recommender trained on synthetic data and of one trained on real data, scored
    on the same real users.

    Attributes:
        synthetic, real: `group_metrics` dicts.
        k: cut-off.
        cold_max_items: the cold-user threshold used (cold ⇔ history length ≤ it).
        n_cold, n_warm: evaluated users (non-empty target row) in each group.
        n_head_items: size of the head.

    Suggested thresholds: ``*_ratio`` of NDCG groups (synthetic / real): pass ≥ 0.9, warn ≥ 0.7, fail
    below — and a group ratio more than 0.1 below the overall ``ndcg_ratio`` flags that group as
    disproportionately hurt; ``head_exposure_ratio``: pass ≤ 1.1, warn ≤ 1.25, fail above (the model trained
    on synthetic data recommends popular items more than the real-trained one).
    """

    synthetic: Mapping[str, float]
    real: Mapping[str, float]
    k: int
    cold_max_items: int
    n_cold: int
    n_warm: int
    n_head_items: int

    def summary(self) -> dict[str, float]:
        """``<metric>_synthetic``, ``<metric>_real``, ``<metric>_ratio`` (synthetic / real) for every key of
        `GROUP_METRIC_KEYS`, then ``k``, ``cold_max_items``, ``n_cold``, ``n_warm``, ``n_head_items``."""
        out: dict[str, float] = {}
        for key in GROUP_METRIC_KEYS:
            out[f"{key}_synthetic"] = float(self.synthetic[key])
            out[f"{key}_real"] = float(self.real[key])
            out[f"{key}_ratio"] = _ratio(self.synthetic[key], self.real[key])
        out.update({"k": float(self.k), "cold_max_items": float(self.cold_max_items),
                    "n_cold": float(self.n_cold), "n_warm": float(self.n_warm),
                    "n_head_items": float(self.n_head_items)})
        return out


def recommender_bias(
    recs_synthetic: np.ndarray | Any,
    recs_real: np.ndarray | Any,
    histories: sp.spmatrix | sp.sparray,
    targets: sp.spmatrix | sp.sparray,
    item_popularity: npt.ArrayLike,
    *,
    k: int = 10,
    head_fraction: float = HEAD_FRACTION,
    cold_max_items: int | None = None,
) -> RecommenderBias:
    """Compare the exposure and per-group NDCG@K of a recommender trained on synthetic vs on real data.

    Groups (precisely):

    * **cold / warm users**: user u is cold iff its history length |H_u| (distinct items in row u of
      ``histories``) is ≤ ``cold_max_items``; warm otherwise. With ``cold_max_items=None`` the threshold is
      the 25th percentile of |H_u| over the rows (``numpy.quantile``, linear, rounded down to an int), so
      the lightest quarter of users (with ties, possibly more) is cold.
    * **head / tail items**: head = `head_item_mask` (``item_popularity``, ``head_fraction``): the top
      ⌈head_fraction · m₊⌉ items by popularity among the m₊ items with popularity ≥ 1 (ties: lower id),
      i.e. by default the top 20 % items by interactions. Tail = every other item.

    Args:
        recs_synthetic, recs_real: int arrays ``(n_users, K')`` (``K' >= k``) of recommendations for the
            rows of ``histories``, from the model trained on synthetic / on real data — or the fitted
            recommenders themselves (anything with ``recommend(histories, k)``), which are then asked for
            ``k`` items per row with seen items excluded.
        histories: binary CSR ``(n_users, n_items)``: what the recommenders saw for each evaluated user
            (e.g. from `synthrec.data.splits.Split.evaluation_inputs`).
        targets: CSR ``(n_users, n_items)``: the held-out real interactions of the same users.
        item_popularity: ``(n_items,)`` popularity counts defining the head, normally users per item in
            the *real training* data (`synthrec.models.base.item_counts`).
        k: cut-off.
        head_fraction: share of observed items in the head, in (0, 1].
        cold_max_items: cold-user threshold (an int ≥ 0), or None for the lower quartile.

    Returns:
        `RecommenderBias`.

    Raises:
        DataValidationError: shapes disagree or inputs are malformed.
        ConfigError: bad ``k``, ``head_fraction`` or ``cold_max_items``.
    """
    h = sp.csr_matrix(histories)
    h.eliminate_zeros()
    length = np.diff(h.indptr)
    if cold_max_items is None:
        threshold = int(np.floor(np.quantile(length, 0.25))) if length.size else 0
    elif isinstance(cold_max_items, bool) or not isinstance(cold_max_items, (int, np.integer)) or cold_max_items < 0:
        raise ConfigError(f"cold_max_items must be an int >= 0 or None, got {cold_max_items!r}")
    else:
        threshold = int(cold_max_items)
    pop = np.asarray(item_popularity, dtype=np.float64).ravel()
    if pop.size != h.shape[1]:
        raise DataValidationError(f"item_popularity has {pop.size} entries but histories have {h.shape[1]} items",
                                  source="item_popularity", hint="pass one count per catalogue item")
    head = head_item_mask(pop, head_fraction)
    cold = length <= threshold
    t = sp.csr_matrix(targets)
    t.eliminate_zeros()
    on_synthetic = group_metrics(_as_recs(recs_synthetic, h, k), t, cold, head, k=k)  # validates shapes
    on_real = group_metrics(_as_recs(recs_real, h, k), t, cold, head, k=k)
    has_target = np.diff(t.indptr) > 0
    return RecommenderBias(
        synthetic=on_synthetic, real=on_real, k=int(k), cold_max_items=threshold,
        n_cold=int((cold & has_target).sum()), n_warm=int((~cold & has_target).sum()),
        n_head_items=int(head.sum()),
    )


def _as_recs(recs: Any, histories: sp.csr_matrix, k: int) -> np.ndarray:
    """Recommendations as an array: a fitted recommender is asked for ``k`` unseen items per row."""
    if hasattr(recs, "recommend"):
        return np.asarray(recs.recommend(histories, k, exclude_seen=True))
    return np.asarray(recs)
