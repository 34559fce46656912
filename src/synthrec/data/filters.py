"""Row filters applied before splitting: rating thresholds and minimum activity counts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from synthrec.data.interactions import ITEM, RATING, USER, InteractionData
from synthrec.errors import DataValidationError


def keep_min_rating(data: InteractionData, threshold: float) -> InteractionData:
    """Keep interactions whose rating is ``>= threshold`` (the usual way to read ratings as positives).

    Raises:
        DataValidationError: the data has no rating column, or nothing is left.
    """
    if not data.has_rating:
        raise DataValidationError("min_rating is set but the data has no rating column", source=data.name,
                                  column=RATING, hint="set data.rating_col or drop min_rating")
    out = data.with_interactions(data.interactions.filter(pl.col(RATING) >= threshold))
    if out.n_interactions == 0:
        raise DataValidationError(f"no rating is >= {threshold}", source=data.name, column=RATING,
                                  hint="lower min_rating")
    return out


def filter_min_counts(data: InteractionData, *, min_item: int = 1, min_user: int = 1) -> InteractionData:
    """Drop items with fewer than ``min_item`` users and users with fewer than ``min_user`` interactions
    (one pass each, items first), then renumber both densely in their original order.

    Counts are distinct (user, item) pairs. One pass, not an iterated k-core: the result is documented
    and predictable, and later steps tolerate the few users pushed below ``min_user`` by the item filter.

    Raises:
        DataValidationError: nothing is left after filtering.
    """
    inter = data.interactions
    if min_item > 1:
        deg = inter.select(USER, ITEM).unique().group_by(ITEM).len()
        keep = deg.filter(pl.col("len") >= min_item)[ITEM]
        inter = inter.filter(pl.col(ITEM).is_in(keep.implode()))
    if min_user > 1:
        deg = inter.select(USER, ITEM).unique().group_by(USER).len()
        keep = deg.filter(pl.col("len") >= min_user)[USER]
        inter = inter.filter(pl.col(USER).is_in(keep.implode()))
    if inter.height == 0:
        raise DataValidationError(
            f"no interaction is left after dropping items with < {min_item} users and users with "
            f"< {min_user} interactions", source=data.name, hint="lower min_item_interactions/min_user_interactions",
        )
    return compact_items(data.with_interactions(inter)).compact_users()


def compact_items(data: InteractionData) -> InteractionData:
    """Drop items without interactions from the catalogue and renumber items densely (order kept)."""
    active = np.unique(data.interactions[ITEM].to_numpy())
    if len(active) == data.n_items:
        return data
    remap = np.full(data.n_items, -1, dtype=np.int32)
    remap[active] = np.arange(len(active), dtype=np.int32)
    inter = data.interactions.with_columns(pl.Series(ITEM, remap[data.interactions[ITEM].to_numpy()],
                                                     dtype=pl.Int32))
    items = None
    if data.items is not None:
        kept = data.items.filter(pl.col(ITEM).is_in(pl.Series(active).implode()))
        items = kept.with_columns(pl.Series(ITEM, remap[kept[ITEM].to_numpy()], dtype=pl.Int32))
    return replace(data, interactions=inter, item_ids=data.item_ids.gather(active), items=items)
