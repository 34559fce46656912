"""Write an `InteractionData` log to CSV, TSV or Parquet with external ids.

RecBole atomic files are written by `synthrec.data.recbole.write_recbole`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synthrec.data.atomic import atomic_write
from synthrec.data.interactions import ITEM, TIMESTAMP, USER, InteractionData
from synthrec.data.validation import TIME_TYPES
from synthrec.errors import DataValidationError

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv"}


#: Generator attribute where `synthrec fit` records the time type of the log it was fitted on
#: (`InteractionData.time_type`), so that `synthrec sample` / `generate` write times back in that type.
INPUT_TIME_TYPE_ATTR = "input_time_type_"


def recorded_time_type(generator: object) -> str | None:
    """The time type `synthrec fit` recorded on ``generator`` (``None`` when it recorded none)."""
    value = getattr(generator, INPUT_TIME_TYPE_ATTR, None)
    return value if value in TIME_TYPES else None


def convert_times(frame: pl.DataFrame, time_type: str | None) -> pl.DataFrame:
    """``frame`` with its ``timestamp`` column (Int64 epoch seconds) written as ``time_type``: ``"date"``
    (a Date, the UTC day), ``"datetime"`` (a Datetime in UTC, naive, whole seconds) or ``"seconds"`` /
    ``None`` (unchanged).

    Raises:
        DataValidationError: an unknown ``time_type``.
    """
    if time_type not in (None, *TIME_TYPES):
        raise DataValidationError(f"unknown time type {time_type!r}", hint=f"use one of {', '.join(TIME_TYPES)}")
    if TIMESTAMP not in frame.columns or time_type in (None, "seconds"):
        return frame
    as_datetime = pl.from_epoch(pl.col(TIMESTAMP), time_unit="s")
    return frame.with_columns(as_datetime.dt.date() if time_type == "date" else as_datetime)


def external_frame(data: InteractionData, *, time_type: str | None = None) -> pl.DataFrame:
    """The interactions with ``user`` / ``item`` replaced by their external ids (row order kept).

    Other columns (rating, event, session) are unchanged; the timestamp stays in seconds unless
    ``time_type`` asks for dates or datetimes (`convert_times`).
    """
    users = data.user_ids.gather(data.interactions[USER].cast(pl.UInt32)).alias(USER)
    items = data.item_ids.gather(data.interactions[ITEM].cast(pl.UInt32)).alias(ITEM)
    return convert_times(data.interactions.with_columns(users, items), time_type)


def write_interactions(data: InteractionData, path: str | Path, *, time_type: str | None = None) -> Path:
    """Write ``data`` to ``path``; the format follows the suffix (.parquet/.pq zstd, .csv, .tsv).

    ``time_type`` writes the timestamp as ``"date"``, ``"datetime"`` or (default) ``"seconds"`` since the
    epoch (`convert_times`); `synthrec sample` passes the type of the log the generator was fitted on.

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
    frame = external_frame(data, time_type=time_type)

    def write(tmp: Path) -> None:
        if fmt == "parquet":
            frame.write_parquet(tmp, compression="zstd")
        else:
            frame.write_csv(tmp, separator="," if fmt == "csv" else "\t")

    return atomic_write(path, write)
