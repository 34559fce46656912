"""Seeded orders that depend on no file order and no dense id: how synthrec breaks ties.

Dense ids follow first appearance in a file, so any rule "lower id first" lets the order of the file's
rows decide a ranking or a split. Ties are instead broken by a pseudo-random key computed from an item's
*external* id (through its rank in the sorted vocabulary) and a seed: the same catalogue gives the same
order whatever the row order of the file, and no item is favoured for being listed first.
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["item_tie_order", "splitmix64"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser (Steele, Lea & Flood, OOPSLA 2014) applied element-wise.

    Args:
        x: uint64 array.

    Returns:
        uint64 array of the same shape: a bijective, well-mixed hash of each element.
    """
    z = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z += _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def item_tie_order(item_ids: pl.Series, seed: int = 0) -> np.ndarray:
    """Each dense item's place in a seeded random order of the catalogue.

    The order is a function of the *set* of external ids and the seed only: shuffling the rows of a
    log (which renumbers dense ids) moves every item's place together with the item.

    Args:
        item_ids: external ids of dense items ``0 .. n-1`` (``InteractionData.item_ids``), any sortable
            dtype, no duplicates.
        seed: seed of the order.

    Returns:
        int64 array ``(n,)``, a permutation of ``0 .. n-1``: among items with equal scores, the one with
        the lower value ranks first.
    """
    n = item_ids.len()
    rank_of_item = np.empty(n, dtype=np.uint64)
    rank_of_item[item_ids.arg_sort().to_numpy()] = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        key = splitmix64(rank_of_item ^ splitmix64(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)))
    order = np.lexsort((rank_of_item, key))  # key collisions (1 in 2**64) fall back to the sorted id
    place = np.empty(n, dtype=np.int64)
    place[order] = np.arange(n, dtype=np.int64)
    return place
