"""Load the datasets of a sweep (once per process) and apply the bench's dataset filters."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from synthrec.data.filters import compact_items, filter_min_counts
from synthrec.data.interactions import ITEM, InteractionData
from synthrec.data.readers import from_polars
from synthrec.errors import DataValidationError
from synthrec.experiments.bench.config import BenchDataset


def read_sequences(path: Path) -> InteractionData:
    """Read a SASRec-style sequence file: one line per user, ``user item item ...`` (single spaces), items
    in time order. There are no timestamps: row order is time order (as `synthrec.data.splits` assumes).

    Returns:
        `InteractionData` with ``user`` and ``item`` only (external ids kept as Int64 where numeric).

    Raises:
        DataValidationError: missing file, or a line with a user and no item (names the line).
    """
    if not path.is_file():
        raise DataValidationError("no such file", source=str(path), hint="check sequence_file in the bench config")
    lines = pl.read_csv(path, has_header=False, new_columns=["line"], separator="\x1f", quote_char=None,
                        schema_overrides={"line": pl.String})
    tokens = lines.with_row_index("row").with_columns(pl.col("line").str.strip_chars().str.split(" ").alias("tok"))
    short = tokens.filter(pl.col("tok").list.len() < 2)
    if short.height:
        row = int(short["row"][0]) + 1
        raise DataValidationError("a line holds a user and no item", source=str(path), row=row,
                                  hint="each line must be `user item item ...`")
    frame = tokens.select(
        pl.col("tok").list.first().alias("user"), pl.col("tok").list.slice(1).alias("item")
    ).explode("item")
    frame = frame.with_columns(pl.col("user").cast(pl.Int64, strict=False).fill_null(pl.col("user")),
                               pl.col("item").cast(pl.Int64, strict=False).fill_null(pl.col("item")))
    data = from_polars(frame, user_col="user", item_col="item", name=str(path), duplicates="keep")
    return replace(data, row_order_is_time=True)


def keep_top_items(data: InteractionData, max_items: int) -> InteractionData:
    """Keep the ``max_items`` most frequent items (ties: lower dense id first) and compact the items."""
    counts = np.bincount(data.interactions[ITEM].to_numpy(), minlength=data.n_items)
    if int((counts > 0).sum()) <= max_items:
        return data
    order = np.lexsort((np.arange(counts.shape[0]), -counts))[:max_items]
    keep = pl.Series(np.sort(order).astype(np.int32))
    kept = data.with_interactions(data.interactions.filter(pl.col(ITEM).is_in(keep.implode())),
                                  name=f"{data.name}/top{max_items}")
    return compact_items(kept)


def _load_uncached(ds: BenchDataset) -> InteractionData:
    from synthrec.experiments.data_source import load_data

    data = read_sequences(ds.sequence_file) if ds.sequence_file is not None else load_data(ds.data)  # type: ignore[arg-type]
    if ds.max_items is not None:
        data = keep_top_items(data, ds.max_items)
    if ds.min_item_interactions > 1 or ds.min_user_interactions > 1:
        data = filter_min_counts(data, min_item=ds.min_item_interactions, min_user=ds.min_user_interactions)
    return data.compact_users()


@functools.lru_cache(maxsize=4)
def _load_json(spec_json: str) -> InteractionData:
    return _load_uncached(BenchDataset.model_validate_json(spec_json))


def load_bench_dataset(ds: BenchDataset) -> InteractionData:
    """The dataset's log after ``max_items`` and the minimum-count filters, users compacted. Cached per
    process (a worker runs many cells of the same dataset).

    Raises:
        DataValidationError: the files are missing or malformed (see the readers).
    """
    return _load_json(ds.model_dump_json())
