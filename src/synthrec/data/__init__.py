"""Data model, readers, loaders, validation and splits. Imports nothing else of synthrec."""

from synthrec.data.interactions import InteractionData, concat_users
from synthrec.data.item_map import (
    ItemMap,
    MapCoverage,
    map_items_by_key,
    map_items_by_title,
    normalise_title,
    read_item_map,
    translate_source,
)
from synthrec.data.loaders import list_datasets, load_dataset
from synthrec.data.movielens import (
    read_movielens,
    read_movielens_1m,
    read_movielens_100k,
    read_movielens_latest,
)
from synthrec.data.readers import from_pandas, from_polars, load_with_report, read_frame, read_table
from synthrec.data.recbole import read_recbole, write_recbole
from synthrec.data.validation import DataQualityWarning, ValidationReport

__all__ = [
    "DataQualityWarning",
    "InteractionData",
    "ItemMap",
    "MapCoverage",
    "ValidationReport",
    "concat_users",
    "from_pandas",
    "from_polars",
    "list_datasets",
    "load_dataset",
    "load_with_report",
    "map_items_by_key",
    "map_items_by_title",
    "normalise_title",
    "read_frame",
    "read_item_map",
    "read_movielens",
    "read_movielens_1m",
    "read_movielens_100k",
    "read_movielens_latest",
    "read_recbole",
    "read_table",
    "translate_source",
    "write_recbole",
]
