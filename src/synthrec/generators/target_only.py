"""Synthetic interactions for a target's *target-only* items (items the source never saw).

A generator fitted on a source translated onto the target's catalogue (`synthrec.data.item_map.
translate_source`) emits only the target's *mapped* items: the target-only items
(`ItemMap.unmatched_target`; about 25 % of ml-100k's items and 7 % of its ratings when the source is
ml-latest-small) get no synthetic interaction, so a recommender pre-trained on the pool learns nothing about
them. `fill_target_only_items` adds some, from what is public about them: their attributes (genres) and the
target's own few interactions with them.

**How many.** Let ``s`` be the wanted share of target-only items among the interactions (default: their
share among the target's training interactions, `target_only_share`) and ``n_u`` the number of rows of
synthetic user ``u`` on items that are not target-only. User ``u`` gets

    m_u = ⌊q⌋ · n_u + Binomial(n_u, q − ⌊q⌋),        q = s / (1 − s),

added rows (for s ≤ 1/2, q ≤ 1 and this is plain Binomial(n_u, q)). Then E[m_u] = q n_u, and with
N = Σ n_u, M = Σ m_u the share of target-only rows is M / (N + M), with E[M] = qN, so

    E[M] / (N + E[M]) = q / (1 + q) = s,

i.e. the share matches in expectation (as a ratio of expectations). M is a sum of independent binomials,
Var M ≤ N / 4, so M / N = q + O(1/√N) and the realised share is s + O(1/√N); its bias as a ratio is
O(1/N). Each user's own share m_u / (n_u + m_u) is centred near s too (she keeps her activity level). A
user cannot get more target-only items than exist (minus those she already has): m_u is capped there,
which lowers the share, and a warning says so when the cap removes over 1 % of the draws. Rows the pool
already has on target-only items (a generator fitted on target + translated source) are kept and not
counted in n_u, so such a pool ends above s: pass a smaller ``share`` there.

**Which items.** Drawn without replacement (Gumbel-top-k, `synthrec.generators._sampling.gumbel_top_k`;
successive sampling, Kool et al. 2019) from the softmax over the target-only items ``i`` the user does not
already have of

    logit_ui = β · cos(p_u, g_i) + log(1 + c_i)

with ``g_i`` the item's attribute vector (multi-hot genres: `synthrec.generators.cold_items.
item_attribute_matrix`), ``p_u = Σ_{j ∈ history(u)} g_j`` the user's attribute profile over her distinct
synthetic items, ``c_i`` the item's number of rows in the target's training log, and β =
``similarity_weight`` (an inverse temperature: 0 = popularity only; larger = sharper preference for items
like the user's). So each draw picks item ``i`` with probability ∝ (1 + c_i) · exp(β cos): items the
target's users chose more often are drawn more, and so are items whose genres are like the user's. A user
whose history has no attribute (or an item without any) has cos = 0: popularity-only draws.

**The added rows.** ``rating``: the user's median rating (if the pool has ratings); ``timestamp``: uniform
integer seconds between the user's first and last timestamps (inclusive; her only timestamp if she has one),
so the new events are interleaved with her own (if the pool has timestamps); the other event columns
(``event``, ``session``, ...) are null, except a provenance column `PROVENANCE` (``synthetic``) when the pool
already has one (True on the added rows). Added rows come after all the pool's rows, ordered by user then
draw order (without timestamps, after the user's own rows). The catalogue (``item_ids``, ``items``) and the
users are unchanged; no (user, item) pair is repeated by the fill.

**Determinism.** The result is a function of the seed and of the inputs as sets of rows per dense user
(counts, profiles, first / last times, medians): the row order of ``synthetic`` and ``target_train``
changes nothing (except where the pool's own rows sit, which are kept as they are).

**Privacy.** The draws read the target's training log (the counts c_i, and the default share): the added
rows are not covered by a DP guarantee of the source generator; treat them like the target's data.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl

from synthrec.data.interactions import ITEM, RATING, TIMESTAMP, USER, InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators._sampling import flatten_padded, gumbel_top_k
from synthrec.generators.cold_items import PROVENANCE, item_attribute_matrix

#: default β of the genre term (inverse temperature); see the module docstring
DEFAULT_SIMILARITY_WEIGHT = 5.0
#: rows (users) whose logits are held at once
_BATCH_USERS = 4096


def target_only_dense(target: InteractionData, target_only: np.ndarray | pl.Series) -> np.ndarray:
    """Sorted unique dense ids (int64) of the target-only items.

    Args:
        target: a log over the target's catalogue.
        target_only: dense item ids (an integer numpy array) or external ids (a polars Series, e.g.
            `ItemMap.unmatched_target`).

    Raises:
        UnknownIdError: an external id is not in the catalogue.
        DataValidationError: a dense id is out of range, or the array is not of integers.
    """
    if isinstance(target_only, pl.Series):
        dense = target.dense_items(target_only.to_list(), strict=True).astype(np.int64)
    else:
        arr = np.asarray(target_only)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise DataValidationError(
                f"target_only must hold dense item ids (integers), got dtype {arr.dtype}", source=target.name,
                hint="pass external ids as a polars Series (e.g. ItemMap.unmatched_target)")
        dense = arr.astype(np.int64).ravel()
        if dense.size and (dense.min() < 0 or dense.max() >= target.n_items):
            raise DataValidationError(f"target_only dense ids must lie in [0, {target.n_items})",
                                      source=target.name)
    return np.unique(dense)


def target_only_share(target_train: InteractionData, target_only: np.ndarray | pl.Series) -> float:
    """Share of the rows of ``target_train`` that fall on target-only items (0 for an empty log)."""
    dense = target_only_dense(target_train, target_only)
    if target_train.n_interactions == 0:
        return 0.0
    mask = np.zeros(target_train.n_items, dtype=bool)
    mask[dense] = True
    return float(mask[target_train.interactions[ITEM].to_numpy()].mean())


def fill_target_only_items(
    synthetic: InteractionData,
    target_train: InteractionData,
    target_only: np.ndarray | pl.Series,
    *,
    attribute: str | None = "genres",
    share: float | None = None,
    similarity_weight: float = DEFAULT_SIMILARITY_WEIGHT,
    seed: int,
) -> InteractionData:
    """Add target-only items to each synthetic user's history (module docstring: how many, which, how).

    Args:
        synthetic: the synthetic pool, over the target's catalogue (e.g. sampled from a generator fitted
            on `translate_source`'s output).
        target_train: the target's training log (its item counts ``c_i``, its default share, its
            ``items`` table); same catalogue as ``synthetic``. Never its test part.
        target_only: the target-only items: dense ids (integer array) or external ids (polars Series,
            e.g. `ItemMap.unmatched_target`).
        attribute: item attribute column of the items table (``target_train.items``, else
            ``synthetic.items``) for the genre term; a list column gives a multi-hot vector, a string
            column a one-hot one. None: popularity-only draws.
        share: wanted share ``s`` in [0, 1) of target-only rows after the fill; None = their share in
            ``target_train`` (`target_only_share`).
        similarity_weight: β ≥ 0, the weight of the cosine term (an inverse temperature).
        seed: the random seed (the binomial counts, the Gumbel keys, the timestamps).

    Returns:
        `InteractionData` with the pool's rows followed by the added ones; same users, ``item_ids``,
        ``items`` and flags; its name says how many rows were added.

    Raises:
        DataValidationError: the two logs have different catalogues; ``attribute`` is set and there is
            no items table or it lacks the column; bad ``target_only`` ids (or UnknownIdError).
        ConfigError: ``share`` outside [0, 1), ``similarity_weight`` negative or not finite, ``seed`` not an
            integer.
    """
    if synthetic.n_items != target_train.n_items or not synthetic.item_ids.equals(target_train.item_ids):
        raise DataValidationError(
            f"the synthetic pool '{synthetic.name}' and the target '{target_train.name}' have different "
            "item catalogues", source=synthetic.name,
            hint="sample the pool from a generator fitted on translate_source(source, item_map, target)")
    if share is not None and (isinstance(share, bool) or not isinstance(share, int | float)
                              or not math.isfinite(share) or not 0.0 <= share < 1.0):
        raise ConfigError(f"share must be a number in [0, 1), got {share!r}")
    if (isinstance(similarity_weight, bool) or not isinstance(similarity_weight, int | float)
            or not math.isfinite(similarity_weight) or similarity_weight < 0):
        raise ConfigError(f"similarity_weight must be a finite number >= 0, got {similarity_weight!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    pool = target_only_dense(target_train, target_only)
    s = target_only_share(target_train, pool) if share is None else float(share)
    n_items, n_users = synthetic.n_items, synthetic.n_users
    feats = _attributes(synthetic, target_train, attribute)
    if pool.size == 0 or s == 0.0 or n_users == 0 or synthetic.n_interactions == 0:
        return synthetic
    rng = np.random.default_rng(int(seed))

    inter = synthetic.interactions
    users = inter[USER].to_numpy().astype(np.int64)
    items = inter[ITEM].to_numpy().astype(np.int64)
    is_pool = np.zeros(n_items, dtype=bool)
    is_pool[pool] = True
    pos = np.full(n_items, -1, dtype=np.int64)  # item -> column among the target-only items
    pos[pool] = np.arange(pool.size)
    n_mapped = np.bincount(users[~is_pool[items]], minlength=n_users)
    # the user's distinct items (set semantics: independent of row order and repeats)
    pairs = np.unique(users * n_items + items)
    p_user, p_item = pairs // n_items, pairs % n_items
    owned = np.bincount(p_user[is_pool[p_item]], minlength=n_users)

    q = s / (1.0 - s)
    whole = math.floor(q)
    m = whole * n_mapped + rng.binomial(n_mapped, q - whole)
    room = pool.size - owned
    capped = np.minimum(m, room)
    if m.sum() > 0 and (m.sum() - capped.sum()) > 0.01 * m.sum():
        warnings.warn(
            f"target-only fill: {int(m.sum() - capped.sum())} of {int(m.sum())} draws exceed the "
            f"{pool.size} target-only items a user can still get; the share falls below {s:.3f}",
            UserWarning, stacklevel=2)
    m = capped

    counts = np.bincount(target_train.interactions[ITEM].to_numpy(), minlength=n_items)[pool]
    pop = np.log1p(counts.astype(np.float64))
    if feats is not None:
        g_pool = _unit(feats[pool])  # (T, p): g_i / ‖g_i‖
    takers = np.flatnonzero(m > 0)
    # owned target-only items, per taker: excluded from her draws
    own_rows = p_user[is_pool[p_item]]
    own_cols = pos[p_item[is_pool[p_item]]]
    out_user: list[np.ndarray] = []
    out_item: list[np.ndarray] = []
    for start in range(0, takers.size, _BATCH_USERS):
        batch = takers[start:start + _BATCH_USERS]
        logits = np.broadcast_to(pop, (batch.size, pool.size)).copy()
        if feats is not None and similarity_weight > 0:
            sel = np.isin(p_user, batch)
            local = np.searchsorted(batch, p_user[sel])
            prof = np.zeros((batch.size, feats.shape[1]))  # p_u = Σ_j g_j over her distinct items
            np.add.at(prof, local, feats[p_item[sel]])
            logits += similarity_weight * (_unit(prof) @ g_pool.T)  # β · cos(p_u, g_i)
        sel_own = np.isin(own_rows, batch)
        logits[np.searchsorted(batch, own_rows[sel_own]), own_cols[sel_own]] = -np.inf
        top, mask = gumbel_top_k(logits, m[batch], rng)
        rows, cols = flatten_padded(mask, top)
        out_user.append(batch[rows])
        out_item.append(pool[cols])
    add_user = np.concatenate(out_user) if out_user else np.zeros(0, np.int64)
    add_item = np.concatenate(out_item) if out_item else np.zeros(0, np.int64)
    added = _added_rows(inter, add_user, add_item, n_users, rng)
    name = f"{synthetic.name} + {add_user.size} target-only rows"
    return synthetic.with_interactions(pl.concat([inter, added], how="vertical"), name=name)


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; zero rows stay zero."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def _attributes(synthetic: InteractionData, target_train: InteractionData,
                attribute: str | None) -> np.ndarray | None:
    """Attribute rows g_i, float64 (n_items, p), of the items table; None without an attribute."""
    if attribute is None:
        return None
    table = target_train.items if target_train.items is not None else synthetic.items
    if table is None:
        raise DataValidationError(
            f"no items table, so no '{attribute}' attribute for the target-only fill",
            source=target_train.name,
            hint="load the target's item file (e.g. ml-100k u.item), or pass attribute=None for "
            "popularity-only draws")
    return item_attribute_matrix(table, target_train.n_items, attribute, source=target_train.name)


def _added_rows(inter: pl.DataFrame, add_user: np.ndarray, add_item: np.ndarray, n_users: int,
                rng: np.random.Generator) -> pl.DataFrame:
    """The added rows with the pool's schema: ratings the user's median, timestamps within her span."""
    schema = inter.schema
    cols: dict[str, pl.Series] = {}
    for name, dtype in schema.items():
        if name == USER:
            values = pl.Series(name, add_user, dtype=dtype)
        elif name == ITEM:
            values = pl.Series(name, add_item, dtype=dtype)
        elif name == RATING:
            med = inter.group_by(USER).agg(pl.col(RATING).median())
            per_user = np.full(n_users, np.nan)
            per_user[med[USER].to_numpy()] = med[RATING].cast(pl.Float64).fill_null(np.nan).to_numpy()
            values = pl.Series(name, per_user[add_user], dtype=pl.Float64).fill_nan(None).cast(dtype)
        elif name == TIMESTAMP:
            span = inter.group_by(USER).agg(pl.col(TIMESTAMP).min().alias("lo"),
                                            pl.col(TIMESTAMP).max().alias("hi"))
            lo = np.zeros(n_users, dtype=np.int64)
            hi = np.full(n_users, -1, dtype=np.int64)  # hi < lo: no timestamp
            has = span["lo"].is_not_null().to_numpy()
            lo[span[USER].to_numpy()[has]] = span["lo"].to_numpy()[has]
            hi[span[USER].to_numpy()[has]] = span["hi"].to_numpy()[has]
            a, b = lo[add_user], hi[add_user]
            timed = b >= a
            t = np.zeros(add_user.size, dtype=np.int64)
            # uniform integers in [a, b]: floor(a + U (b − a + 1)), clipped for float rounding
            u = rng.random(add_user.size)
            t[timed] = np.minimum(a[timed] + np.floor(u[timed] * (b[timed] - a[timed] + 1)).astype(np.int64),
                                  b[timed])
            values = pl.Series(name, t, dtype=dtype)
            if not timed.all():
                values = values.scatter(np.flatnonzero(~timed), None)
        elif name == PROVENANCE and schema[name] == pl.Boolean:
            values = pl.Series(name, np.ones(add_user.size, dtype=bool), dtype=dtype)
        else:
            values = pl.Series(name, [None] * add_user.size, dtype=dtype)
        cols[name] = values
    return pl.DataFrame(cols)
