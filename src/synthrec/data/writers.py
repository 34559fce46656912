"""Write an `InteractionData` log to CSV, TSV or Parquet with external ids.

RecBole atomic files are written by `synthrec.data.recbole.write_recbole`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synthrec.data.atomic import atomic_write
from synthrec.data.interactions import ITEM, USER, InteractionData
from synthrec.errors import DataValidationError

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv"}


def external_frame(data: InteractionData) -> pl.DataFrame:
    """The interactions with ``user`` / ``item`` replaced by their external ids (row order kept).

    Other columns (timestamp in seconds, rating, event, session) are unchanged.
    """
    users = data.user_ids.gather(data.interactions[USER].cast(pl.UInt32)).alias(USER)
    items = data.item_ids.gather(data.interactions[ITEM].cast(pl.UInt32)).alias(ITEM)
    return data.interactions.with_columns(users, items)


def write_interactions(data: InteractionData, path: str | Path) -> Path:
    """Write ``data`` to ``path``; the format follows the suffix (.parquet/.pq zstd, .csv, .tsv).

    The file is written to a temporary name beside ``path`` and renamed when complete, so a failure
    never leaves a half-written file.

    Raises:
        DataValidationError: the suffix is not one of the supported ones.
    """
    path = Path(path)
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataValidationError(
            f"cannot tell the output format from the suffix '{path.suffix}'", source=str(path),
            hint=f"use one of {', '.join(SUFFIXES)}",
        )
    frame = external_frame(data)

    def write(tmp: Path) -> None:
        if fmt == "parquet":
            frame.write_parquet(tmp, compression="zstd")
        else:
            frame.write_csv(tmp, separator="," if fmt == "csv" else "\t")

    return atomic_write(path, write)
