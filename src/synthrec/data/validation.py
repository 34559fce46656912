"""Validation of raw interaction frames before they become `InteractionData`.

Every check raises `DataValidationError` naming the source, the column and the first bad row (1-based,
data rows only), and says what to do.
"""

from __future__ import annotations

import polars as pl

from synthrec.errors import DataValidationError

# Seconds since 1970 pass 1e11 only in the year 5138; milliseconds pass it in 1973. So a time column
# whose median exceeds this is almost surely in milliseconds (or finer).
MILLISECONDS_THRESHOLD = 1e11


def validate_frame(
    frame: pl.DataFrame,
    *,
    user_col: str,
    item_col: str,
    rating_col: str | None = None,
    time_col: str | None = None,
    name: str = "<frame>",
) -> pl.DataFrame:
    """Check an external-id frame; return it unchanged when it is valid.

    Checks: input not empty; required columns present; user/item ids neither null, NaN nor empty
    strings; ratings numeric and finite; timestamps integer seconds (millisecond values are detected).

    Raises:
        DataValidationError: the first problem found, with file, column and row.
    """
    if frame.height == 0:
        raise DataValidationError("the input has no rows", source=name,
                                  hint="check the path and the separator; an empty log cannot be used")
    wanted = {"user": user_col, "item": item_col, "rating": rating_col, "time": time_col}
    for role, col in wanted.items():
        if col is not None and col not in frame.columns:
            raise DataValidationError(
                f"required {role} column is missing (columns found: {', '.join(frame.columns)})",
                source=name, column=col, hint=f"pass the right name with --{role}-col",
            )
    for col in (user_col, item_col):
        _check_ids(frame[col], name)
    if rating_col is not None:
        _check_numeric(frame[rating_col], name, what="rating")
    if time_col is not None:
        _check_seconds(frame[time_col], name)
    return frame


def _first_row(mask: pl.Series) -> int:
    return int(mask.arg_true()[0]) + 1


def _check_ids(col: pl.Series, name: str) -> None:
    bad = col.is_null()
    if col.dtype.is_float():
        bad = bad | col.is_nan()
    if col.dtype == pl.String:
        bad = bad | (col.str.strip_chars() == "")
    bad = bad.fill_null(True)
    if bad.any():
        raise DataValidationError(
            f"{int(bad.sum())} missing or empty id(s)", source=name, column=col.name, row=_first_row(bad),
            hint="drop or fill those rows before loading",
        )


def _check_numeric(col: pl.Series, name: str, *, what: str) -> None:
    if col.dtype == pl.String:
        as_num = col.cast(pl.Float64, strict=False)
        bad = as_num.is_null() & col.is_not_null()
        if bad.any():
            row = _first_row(bad)
            raise DataValidationError(
                f"non-numeric {what} {col[row - 1]!r}", source=name, column=col.name, row=row,
                hint=f"{what}s must be numbers",
            )
        col = as_num
    if not col.dtype.is_numeric():
        raise DataValidationError(f"{what}s must be numbers, got dtype {col.dtype}", source=name,
                                  column=col.name)
    bad = col.is_null()
    if col.dtype.is_float():
        bad = bad | col.is_nan() | col.is_infinite()
    if bad.any():
        raise DataValidationError(
            f"{int(bad.sum())} missing or non-finite {what}(s)", source=name, column=col.name,
            row=_first_row(bad), hint="drop or fill those rows before loading",
        )


def _check_seconds(col: pl.Series, name: str) -> None:
    if not col.dtype.is_integer():
        raise DataValidationError(
            f"timestamps must be integer seconds since the epoch, got dtype {col.dtype}",
            source=name, column=col.name,
            hint="readers convert datetimes and dates; for YYYYMMDD integers pass time_format='%Y%m%d'",
        )
    bad = col.is_null()
    if bad.any():
        raise DataValidationError("missing timestamp", source=name, column=col.name, row=_first_row(bad),
                                  hint="drop those rows or load without a time column")
    median = col.median()
    if median is not None and float(median) > MILLISECONDS_THRESHOLD:  # type: ignore[arg-type]
        raise DataValidationError(
            f"timestamps look like milliseconds (median {int(float(median)):,}, which as seconds is after the year 5000)",  # type: ignore[arg-type]
            source=name, column=col.name,
            hint="pass time_unit='ms' (CLI: --time-unit ms) to convert them to seconds",
        )
