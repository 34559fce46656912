"""Load the datasets of a sweep (once per process) and apply the bench's dataset filters."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from synthrec.data.amazon_seq import read_sequence_file
from synthrec.data.filters import compact_items, filter_min_counts
from synthrec.data.interactions import ITEM, InteractionData
from synthrec.data.readers import read_frame
from synthrec.errors import DataValidationError
from synthrec.experiments.bench.config import BenchDataset, ItemAttributesFile


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


def read_item_attributes(spec: ItemAttributesFile) -> pl.DataFrame:
    """The attribute file of a dataset (see `ItemAttributesFile` for the formats).

    Returns:
        polars DataFrame with ``key`` (String: the external item id as text) and one List(String) column
        (``genres`` for ``movielens-dat``, ``attributes`` for ``item2attributes-json``); ``movielens-dat``
        also keeps ``title``. One row per item of the file.

    Raises:
        DataValidationError: the file is missing or malformed (the message names it), or holds no item.
    """
    path = Path(spec.path)
    if not path.is_file():
        raise DataValidationError("no such file", source=str(path), hint="check item_attributes.path in the bench config")
    if spec.format == "movielens-dat":
        raw = read_frame(path, sep="::", has_header=False, column_names=["key", "title", "genres"], quote_char=None)
        table = raw.select(
            pl.col("key").cast(pl.String), pl.col("title").cast(pl.String),
            pl.col("genres").cast(pl.String).fill_null("").str.split("|")
            .list.eval(pl.element().filter(pl.element() != "")).alias("genres"))
    else:
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataValidationError(f"not valid JSON ({exc})", source=str(path),
                                      hint='expected {"item": [attribute id, ...], ...}') from None
        if not isinstance(mapping, dict) or not all(isinstance(v, list) for v in mapping.values()):
            raise DataValidationError("expected a JSON object of item -> list of attribute ids", source=str(path))
        keys = list(mapping)
        values = [list(dict.fromkeys(str(a) for a in mapping[k])) for k in keys]
        table = pl.DataFrame({"key": pl.Series(keys, dtype=pl.String),
                              "attributes": pl.Series(values, dtype=pl.List(pl.String))})
    if table.height == 0:
        raise DataValidationError("the item attribute file holds no item", source=str(path))
    return table.unique("key", keep="first", maintain_order=True)


def attach_item_attributes(data: InteractionData, spec: ItemAttributesFile) -> InteractionData:
    """``data`` with its ``items`` table replaced by the attribute file's rows for its items (matched by
    external id as text; items without a row get empty lists and null text).

    Raises:
        DataValidationError: as `read_item_attributes`, or no item of the log appears in the file.
    """
    table = read_item_attributes(spec)
    base = pl.DataFrame({ITEM: pl.Series(np.arange(data.n_items, dtype=np.int32)),
                         "key": data.item_ids.cast(pl.String)})
    items = base.join(table, on="key", how="left", maintain_order="left")
    list_cols = [c for c, t in table.schema.items() if isinstance(t, pl.List)]
    matched = int(items[list_cols[0]].is_not_null().sum())
    if matched == 0:
        raise DataValidationError(
            f"none of the log's {data.n_items} items appears in the item attribute file", source=str(spec.path),
            hint=f"item ids of the log look like {data.item_ids.head(3).to_list()}; the file's must match them")
    items = items.with_columns(pl.col(c).fill_null(pl.lit([], dtype=pl.List(pl.String))) for c in list_cols)
    return replace(data, items=items.drop("key"))


def _load_uncached(ds: BenchDataset) -> InteractionData:
    from synthrec.experiments.data_source import load_data

    data = read_sequence_file(ds.sequence_file, name=str(ds.sequence_file)) if ds.sequence_file is not None else load_data(ds.data)  # type: ignore[arg-type]
    if ds.max_items is not None:
        data = keep_top_items(data, ds.max_items)
    if ds.min_item_interactions > 1 or ds.min_user_interactions > 1:
        data = filter_min_counts(data, min_item=ds.min_item_interactions, min_user=ds.min_user_interactions)
    if ds.item_attributes is not None:
        data = attach_item_attributes(data, ds.item_attributes)
    return data.compact_users()


@functools.lru_cache(maxsize=4)
def _load_json(spec_json: str) -> InteractionData:
    return _load_uncached(BenchDataset.model_validate_json(spec_json))


def load_bench_dataset(ds: BenchDataset) -> InteractionData:
    """The dataset's log after ``max_items`` and the minimum-count filters, users compacted, with the
    ``item_attributes`` file (when given) as its items table. Cached per process (a worker runs many cells
    of the same dataset).

    Raises:
        DataValidationError: the files are missing or malformed (see the readers).
    """
    return _load_json(ds.model_dump_json())
