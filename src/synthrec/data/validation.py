"""Validation of raw interaction frames before they become `InteractionData`.

Every check raises `DataValidationError` naming the source, the column and the first bad row (1-based,
data rows only), and says what to do.

Besides the checks (`validate_frame`), this module owns the documented duplicate policy
(`check_duplicates`, reported in a `ValidationReport`), attribute-table cleaning (`clean_attribute_table`,
blank cells become null) and time conversion to Int64 epoch seconds (`to_epoch_seconds`).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import polars as pl

from synthrec.errors import DataValidationError, did_you_mean

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
    check_columns(frame, {"user": user_col, "item": item_col, "rating": rating_col, "time": time_col},
                  name=name)
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
            row=_first_row(bad), hint="drop or fill those rows before loading"
            + (", or leave the rating column out to load the log as implicit feedback" if what == "rating" else ""),
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


# ---------------------------------------------------------------------------------------------------------
# Duplicates, the validation report, attribute tables and time conversion
# ---------------------------------------------------------------------------------------------------------

DuplicatePolicy = Literal["drop", "keep", "error"]
TimeUnit = Literal["s", "ms", "us", "ns"]

_UNIT_DIVISOR: dict[str, int] = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}

# An integer time column whose every value is a valid calendar date written YYYYMMDD in this range is
# ambiguous: as epoch seconds the same numbers all fall in July-August 1970 (PITFALLS P13).
YYYYMMDD_RANGE = (18000101, 21001231)

logger = logging.getLogger("synthrec.data")


class DataQualityWarning(UserWarning):
    """Emitted when loading found (and handled, by a documented policy) duplicates or repeated pairs."""


@dataclass(frozen=True)
class ValidationReport:
    """What validation found in one interaction log and what it did about it.

    Duplicate policy (documented, applied by every reader):

    * **exact duplicate rows** — a row equal in *every column of the source* to an earlier row — are
      dropped by default (``duplicates="drop"``), kept with ``"keep"``, or raise with ``"error"``;
      either way they are counted here.
    * **repeated (user, item) pairs** — the same user and item on distinct rows (other time, rating or
      event) — are *kept* as separate events and counted here. ``InteractionData.to_csr("binary")``
      collapses them to one entry; ``to_csr("count")`` counts them.

    Attributes:
        source: the file or frame description.
        rows_read: data rows in the input (header excluded).
        exact_duplicates: rows equal to an earlier row in every source column.
        repeated_pairs: distinct (user, item) pairs that occur on more than one distinct row.
        repeated_events: distinct rows beyond the first of each repeated pair (so a pair seen on three
            distinct rows counts 1 pair and 2 events).
        duplicate_policy: ``"drop"``, ``"keep"`` or ``"error"``.
        rows_kept: rows in the loaded data (``rows_read - exact_duplicates`` under ``"drop"``).
        n_users, n_items: size of the user and item vocabularies of the loaded data.
        time_conversion: how the time column was turned into Int64 seconds, or ``None`` without one.
        notes: other remarks (e.g. blank attribute cells turned into nulls).
        shown_notes: those of ``notes`` the reader already raised as warnings of their own (dropped
            untimed rows, implausible times): `emit_report`'s warning leaves them out, so no remark is
            shown twice; the logged summary keeps them.
    """

    source: str
    rows_read: int
    exact_duplicates: int
    repeated_pairs: int
    repeated_events: int
    duplicate_policy: str
    rows_kept: int
    n_users: int = 0
    n_items: int = 0
    time_conversion: str | None = None
    notes: tuple[str, ...] = ()
    shown_notes: tuple[str, ...] = ()

    @property
    def has_findings(self) -> bool:
        """True when duplicates or repeated pairs were found (the reader then warns)."""
        return self.exact_duplicates > 0 or self.repeated_pairs > 0

    def summary(self, *, skip_shown: bool = False) -> str:
        """One human-readable paragraph: counts and the policy applied (``skip_shown``: without the
        notes already shown as warnings of their own)."""
        dup_action = {"drop": "dropped", "keep": "kept", "error": "rejected"}.get(self.duplicate_policy, "?")
        parts = [
            f"{self.source}: {self.rows_read:,} rows read, {self.rows_kept:,} kept; "
            f"{self.n_users:,} users, {self.n_items:,} items",
            f"{self.exact_duplicates:,} exact duplicate row(s) {dup_action} (duplicates={self.duplicate_policy!r})",
            f"{self.repeated_pairs:,} repeated (user, item) pair(s) with {self.repeated_events:,} extra "
            "event(s) kept as separate events (to_csr('binary') collapses them; splits hold out a "
            "repeated pair's events together, as one item, so a held-out item never stays in the history)",
        ]
        if self.time_conversion:
            parts.append(f"time: {self.time_conversion}")
        parts.extend(n for n in self.notes if not (skip_shown and n in self.shown_notes))
        return "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """Plain dict (JSON-serialisable) for results records."""
        return {**asdict(self), "notes": list(self.notes), "shown_notes": list(self.shown_notes)}


def check_columns(frame: pl.DataFrame, columns: dict[str, str | None], *, name: str) -> None:
    """Raise if a mapped column is absent.

    Args:
        frame: the raw frame.
        columns: role -> source column name (``None`` = not used), e.g. ``{"user": "userId"}``.
        name: source description for the message.

    Raises:
        DataValidationError: naming the missing column, the columns found and what to set, both as the
            CLI option and as the config key (``--user-col`` / ``data.user_col``). Two causes get their own
            hint: when the column names found look like data (`header_looks_like_data`: numbers, or ids and
            dates shaped like the values below them), the file has no header line and the hint is
            ``--columns`` / ``data.column_names``; when the file was read as one column whose name holds
            another separator character, the separator is wrong and the hint is ``--sep`` / ``data.sep``.
    """
    for role, col in columns.items():
        if col is not None and col not in frame.columns:
            found = ", ".join(frame.columns)
            other_sep = wrong_separator(frame.columns)
            if other_sep is not None:
                shown = other_sep.replace("\t", "\\t")
                raise DataValidationError(
                    f"required {role} column is missing: the file was read as a single column "
                    f"({frame.columns[0][:80]!r}) whose name holds {shown!r}, so the separator is probably "
                    f"{shown!r}", source=name, column=col,
                    hint=f"pass the separator with --sep '{shown}' (in a config: data.sep: '{shown}'), or leave "
                    "it out to detect it",
                )
            first_row = frame.row(0) if frame.height else None
            if header_looks_like_data(frame.columns, first_row):
                example = ",".join(["user", "item", "rating", "ts"][:frame.width]
                                   + [f"col{k}" for k in range(4, frame.width)])
                raise DataValidationError(
                    f"required {role} column is missing: the file seems to have no header line (its first "
                    f"line was read as the column names: {found})", source=name, column=col,
                    hint=f"name the columns with --columns {example} (in a config: data.column_names: "
                    f"[{example.replace(',', ', ')}])",
                )
            raise DataValidationError(
                f"required {role} column is missing (columns found: {found})", source=name, column=col,
                hint=f"{did_you_mean(col, frame.columns)}pass the right name with --{role}-col "
                     f"(in a config: data.{role}_col)",
            )


#: A column name that is a number: polars names the columns of a header-less file after its first line
#: (repeated values get ``_duplicated_N``).
_NUMERIC_NAME = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*(_duplicated_\d+)?$")
_DUPLICATED_SUFFIX = re.compile(r"_duplicated_\d+$")
#: Separators looked for in the name of a lone column (the file was split on the wrong one), in order.
_OTHER_SEPARATORS = (",", "\t", ";", "|", "::")


def _shape(text: str) -> str:
    """The pattern of a value: runs of digits become ``9``, letters stay (lower case): ``USER_894`` ->
    ``user_9``, ``2020-01-05`` -> ``9-9-9``; a code mixing letters and at least two digits (``A3SGXH7AUH``)
    becomes ``#`` and its length."""
    text = text.strip()
    if len(text) >= 6 and _CODE.match(text) and sum(c.isdigit() for c in text) >= 2:
        return f"#{len(text)}"
    return re.sub(r"\d+", "9", text.lower())


_CODE = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]+$")


def header_looks_like_data(names: Sequence[str], first_row: Sequence[object] | None = None) -> bool:
    """Whether column names read from a file's first line are really a data row (the file has no header).

    True when every name is a number, or when at least one name holds a digit and every name is either a
    number or has the same shape as the value below it in ``first_row`` (the same letters with digits in
    the same places: ``USER_894`` over ``USER_12``, ``2020-01-05`` over ``2020-01-06``; or codes of letters
    and digits of the same length). Header names such as ``user``, ``item_id`` or ``col1`` over ``u1`` are
    not data.

    Args:
        names: the column names (polars' ``_duplicated_N`` suffixes are ignored).
        first_row: the values of the next line, one per name, or ``None`` when unknown.
    """
    clean = [_DUPLICATED_SUFFIX.sub("", str(n)).strip() for n in names]
    if not clean:
        return False
    if all(_NUMERIC_NAME.match(n) for n in clean):
        return True
    if first_row is None or len(first_row) != len(clean) or not any(c.isdigit() for n in clean for c in n):
        return False
    return all(_NUMERIC_NAME.match(n) or (v is not None and _shape(n) == _shape(str(v)))
               for n, v in zip(clean, first_row, strict=True))


def wrong_separator(names: Sequence[str]) -> str | None:
    """The separator character found in the name of a file read as a single column, or ``None``.

    A one-column read whose header holds ``,``, a tab, ``;``, ``|`` or ``::`` was split on the wrong
    separator (e.g. ``--sep ';'`` on a comma file).
    """
    if len(names) != 1:
        return None
    return next((s for s in _OTHER_SEPARATORS if s in names[0]), None)


def check_duplicates(
    frame: pl.DataFrame,
    *,
    user_col: str,
    item_col: str,
    policy: DuplicatePolicy = "drop",
    name: str = "<frame>",
) -> tuple[pl.DataFrame, ValidationReport]:
    """Count exact duplicate rows and repeated (user, item) pairs and apply the duplicate policy.

    Exact duplicates are judged on every column of ``frame`` (pass the source's full row, not just the
    mapped columns, so rows that differ only in an unused column are not called duplicates). Row order is
    kept; under ``"drop"`` the first occurrence stays.

    Args:
        frame: validated external-id frame, rows in source order.
        user_col, item_col: the id columns.
        policy: ``"drop"`` (default), ``"keep"`` or ``"error"``; see `ValidationReport`.
        name: source description.

    Returns:
        ``(frame, report)``: the frame after the policy, and the report (``n_users``/``n_items`` filled
        from the returned frame).

    Raises:
        DataValidationError: ``policy="error"`` and a duplicate exists (names the first duplicate row and
            the earlier row it repeats, 1-based), or an unknown policy.
    """
    if policy not in ("drop", "keep", "error"):
        raise DataValidationError(f"unknown duplicates policy {policy!r}", source=name,
                                  hint="use 'drop', 'keep' or 'error'")
    n = frame.height
    first = frame.select(pl.struct(pl.all()).is_first_distinct().alias("f"))["f"]
    n_dup = int(n - first.sum())
    if n_dup and policy == "error":
        row = int((~first).arg_true()[0])
        earlier = frame.with_row_index("_r").select(pl.col("_r").min().over(frame.columns))["_r"][row]
        raise DataValidationError(
            f"row {row + 1} is an exact duplicate of row {int(earlier) + 1} "
            f"({n_dup} exact duplicate row(s) in all)",
            source=name, row=row + 1,
            hint="pass duplicates='drop' to drop them or duplicates='keep' to keep them",
        )
    distinct = frame.filter(first) if n_dup else frame
    pair = pl.struct(user_col, item_col)
    rep = distinct.select(
        (pair.is_duplicated() & pair.is_first_distinct()).sum().alias("pairs"),
        (~pair.is_first_distinct()).sum().alias("events"),
    )
    out = distinct if policy == "drop" else frame
    report = ValidationReport(
        source=name, rows_read=n, exact_duplicates=n_dup, repeated_pairs=int(rep["pairs"][0]),
        repeated_events=int(rep["events"][0]), duplicate_policy=policy, rows_kept=out.height,
        n_users=out[user_col].n_unique(), n_items=out[item_col].n_unique(),
    )
    return out, report


def emit_report(report: ValidationReport, *, warn: bool = True, stacklevel: int = 3) -> None:
    """Make a report visible: always logged (INFO) on ``synthrec.data``; with ``warn`` and findings,
    also a `DataQualityWarning` carrying the summary."""
    logger.info(report.summary())
    if warn and report.has_findings:
        warnings.warn(report.summary(skip_shown=True), DataQualityWarning, stacklevel=stacklevel)


def clean_attribute_table(table: pl.DataFrame, *, key: str, name: str) -> tuple[pl.DataFrame, list[str]]:
    """Normalise a user/item attribute table (PITFALLS P15).

    Text cells that are empty or only whitespace become null, so "missing" is one category of a
    categorical attribute and its rate is kept; surrounding whitespace is stripped. Rows are never
    dropped.

    Returns:
        ``(table, notes)``; ``notes`` says how many blank cells each column had.

    Raises:
        DataValidationError: the key column is missing, has missing values, or repeats a key (the
            message names the first repeated row, 1-based).
    """
    if key not in table.columns:
        raise DataValidationError(
            f"attribute table has no key column (columns found: {', '.join(table.columns)})",
            source=name, column=key, hint="pass the key column name (user_key= / item_key=)",
        )
    _check_ids(table[key], name)
    dup = table[key].is_duplicated() & ~table[key].is_first_distinct()
    if dup.any():
        row = _first_row(dup)
        raise DataValidationError(
            f"key {table[key][row - 1]!r} appears more than once", source=name, column=key, row=row,
            hint="an attribute table needs one row per user/item",
        )
    notes = []
    exprs = []
    for col, dtype in table.schema.items():
        if col == key or not (dtype == pl.String or dtype == pl.Categorical):
            continue
        s = table[col].cast(pl.String)
        blank = s.str.strip_chars() == ""
        n_blank = int(blank.sum())
        if n_blank:
            notes.append(f"{name}: column '{col}' has {n_blank} blank cell(s), read as missing (null)")
        exprs.append(
            pl.when(pl.col(col).cast(pl.String).str.strip_chars() == "").then(None)
            .otherwise(pl.col(col).cast(pl.String).str.strip_chars()).alias(col)
        )
    return (table.with_columns(exprs) if exprs else table), notes


def normalise_ids(col: pl.Series) -> pl.Series:
    """Integral float ids (e.g. from pandas columns with NaN removed) become Int64; others unchanged."""
    if col.dtype.is_float():
        finite = col.drop_nulls()
        if finite.len() and bool((finite == finite.floor()).all()) and not bool(finite.is_nan().any()):
            return col.cast(pl.Int64)
    return col


def to_epoch_seconds(
    col: pl.Series,
    *,
    time_format: str | None = None,
    time_unit: TimeUnit = "s",
    name: str = "<frame>",
) -> tuple[pl.Series, str]:
    """Convert a time column to Int64 seconds since the Unix epoch (UTC).

    Accepted inputs (PITFALLS P13):

    * polars ``Datetime`` of any unit (pandas ``datetime64``): naive values are taken as UTC, tz-aware
      values are converted to UTC; sub-second parts are floored.
    * polars ``Date`` (pandas columns of ``datetime.date``): midnight UTC.
    * integers or integral floats: epoch in ``time_unit`` (default seconds), floored to seconds. An
      integer column whose values all look like ``YYYYMMDD`` dates (all in `YYYYMMDD_RANGE` with a valid
      month and day) raises unless ``time_format`` is given: it is never silently read as seconds. Pass
      ``time_format="%Y%m%d"`` for dates, or ``time_format="%s"`` for genuine epoch seconds.
    * strings: parsed with ``time_format`` (a ``strftime`` pattern such as ``"%Y%m%d"`` or
      ``"%Y-%m-%d %H:%M:%S"``); without a format, digit strings are treated as integers (above) and
      ISO-8601 strings (``2020-01-31``, ``2020-01-31T12:00:00``) are parsed.

    Missing values stay null: nulls, NaN, and strings that are empty or one of `NULL_TOKENS` (``NULL``,
    ``null``, ``NA``, ``N/A``, ``NaN``, ``None``, in any case). Readers drop those rows with a warning
    (`synthrec.data.readers.build_interactions`). Millisecond values read as seconds are caught later by
    `validate_frame`; implausible values by `implausible_times`.

    Returns:
        ``(seconds, description)``: an Int64 series with the input's name, and a note for the report.

    Raises:
        DataValidationError: ambiguous YYYYMMDD integers, unparseable strings (naming the first bad row),
            infinite values, or an unsupported dtype.
    """
    cname = col.name
    dtype = col.dtype
    if time_unit not in _UNIT_DIVISOR:
        raise DataValidationError(f"unknown time unit {time_unit!r}", source=name, column=cname,
                                  hint="use 's', 'ms', 'us' or 'ns'")
    if isinstance(dtype, pl.Datetime):
        s = col
        tz = dtype.time_zone
        if tz is not None:
            s = s.dt.convert_time_zone("UTC")
        return s.dt.epoch("s").alias(cname), f"datetime[{dtype.time_unit}, {tz or 'naive=UTC'}] -> seconds (UTC)"
    if dtype == pl.Date:
        return col.dt.epoch("s").alias(cname), "date -> seconds at midnight UTC"
    if dtype == pl.String or dtype == pl.Categorical:
        s = col.cast(pl.String).str.strip_chars()
        s = pl.select(pl.when(s.str.to_lowercase().is_in(list(NULL_TOKENS))).then(None).otherwise(s)
                      .alias(cname)).to_series()
        if s.null_count() == s.len():
            return s.cast(pl.Int64), "every value missing"
        if time_format is not None:
            return _parse_strings(s, time_format, name), f"strings parsed with {time_format!r} -> seconds (UTC)"
        nonnull = s.drop_nulls()
        if nonnull.len() and bool(nonnull.str.contains(r"^-?\d+(\.\d*)?$").all()):
            return to_epoch_seconds(s.cast(pl.Float64).alias(cname) if bool(nonnull.str.contains(r"\.").any())
                                    else s.cast(pl.Int64).alias(cname),
                                    time_unit=time_unit, name=name)
        if nonnull.len() and bool(nonnull.str.contains(r"^\d{4}-\d{2}-\d{2}").all()):
            try:
                parsed = s.str.to_datetime(strict=True, time_unit="us")
            except Exception as exc:
                raise DataValidationError(
                    f"could not parse ISO-8601 times ({exc})", source=name, column=cname,
                    hint="pass time_format (e.g. '%Y-%m-%d %H:%M:%S')",
                ) from None
            out, _ = to_epoch_seconds(parsed, name=name)
            return out, "ISO-8601 strings -> seconds (UTC)"
        first = nonnull[0] if nonnull.len() else None
        raise DataValidationError(
            f"cannot tell how to read time strings such as {first!r}", source=name, column=cname,
            hint="pass time_format, a strftime pattern such as '%d/%m/%Y %H:%M'",
        )
    if dtype.is_integer() or dtype.is_float():
        if time_format is not None:
            if dtype.is_float():
                col = col.fill_nan(None)
                _check_finite(col, name)
                col = col.cast(pl.Int64)
            return (_parse_strings(col.cast(pl.String), time_format, name),
                    f"integers parsed with {time_format!r} -> seconds (UTC)")
        if dtype.is_float():
            col = col.fill_nan(None)  # NaN is a missing time, like null (see NULL_TOKENS)
            _check_finite(col, name)
            integral = bool((col.drop_nulls() == col.drop_nulls().floor()).all())
            if integral:
                col = col.cast(pl.Int64)
        if col.dtype.is_integer():
            _refuse_yyyymmdd(col, name)
        unit = time_unit
        div = _UNIT_DIVISOR[unit]
        if col.dtype.is_float():
            out = (col / div).floor().cast(pl.Int64)
        else:
            out = col.cast(pl.Int64) // div if div > 1 else col.cast(pl.Int64)
        return out.alias(cname), f"epoch {unit} -> seconds"
    raise DataValidationError(
        f"unsupported time dtype {dtype}", source=name, column=cname,
        hint="use datetimes, dates, epoch integers, or strings with time_format",
    )


#: The time types a source may write (`source_time_type`; `InteractionData.time_type`).
TIME_TYPES = ("seconds", "date", "datetime")
_CLOCK_DIRECTIVES = re.compile(r"%[HIMSpfTXcrRsz]")


def source_time_type(col: pl.Series, *, time_format: str | None = None) -> str:
    """How a raw time column writes its times: ``"date"`` (polars ``Date``; ISO ``YYYY-MM-DD`` strings;
    strings or integers read with a ``time_format`` without clock directives, e.g. ``%Y%m%d``),
    ``"datetime"`` (``Datetime``; other ISO strings; formats with a clock) or ``"seconds"`` (epoch
    numbers, of any ``time_unit``)."""
    dtype = col.dtype
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Date:
        return "date"
    if time_format is not None:
        if time_format == "%s":
            return "seconds"
        return "datetime" if _CLOCK_DIRECTIVES.search(time_format) else "date"
    if dtype == pl.String or dtype == pl.Categorical:
        s = col.cast(pl.String).str.strip_chars().drop_nulls()
        s = s.filter(~s.str.to_lowercase().is_in(list(NULL_TOKENS)))
        if s.len() and bool(s.str.contains(r"^\d{4}-\d{2}-\d{2}").all()):
            return "date" if bool((s.str.len_chars() == 10).all()) else "datetime"
    return "seconds"


#: Strings read as a missing time (compared in lower case, after stripping blanks).
NULL_TOKENS = ("", "null", "na", "n/a", "nan", "none")

#: Times at or after this (2100-01-01 UTC, in seconds) are implausible for a real log.
PLAUSIBLE_MAX_SECONDS = 4_102_444_800
_SECONDS_PER_YEAR = 31_556_952


def _when(seconds: int) -> str:
    """A date for a message; outside what `datetime` holds (years 1-9999), the year only."""
    from datetime import datetime, timezone

    try:
        return f"{datetime.fromtimestamp(seconds, tz=timezone.utc):%Y-%m-%d}"
    except (OverflowError, OSError, ValueError):
        return f"year {1970 + seconds // _SECONDS_PER_YEAR:,}"


def implausible_times(seconds: pl.Series, *, time_unit: str = "s", name: str = "<frame>") -> str | None:
    """A warning text when times in seconds look wrong, else ``None``.

    Implausible: negative (before 1970) or at/after 2100 (`PLAUSIBLE_MAX_SECONDS`); the text gives their
    count, their range and, when a unit looks wrong, the ``--time-unit`` to use (values after 2100 read as
    seconds are often milliseconds). Also warned: with ``time_unit`` other than ``"s"``, every time falls
    in 1970 (the values were probably seconds already).
    """
    v = seconds.drop_nulls()
    if not v.len():
        return None
    col = seconds.name
    bad = (v < 0) | (v >= PLAUSIBLE_MAX_SECONDS)
    n_bad = int(bad.sum())
    if n_bad:
        lo, hi = int(v.filter(bad).min()), int(v.filter(bad).max())  # type: ignore[arg-type]
        text = (f"{name}: column {col!r}: {n_bad:,} of {v.len():,} time(s) are implausible (before 1970 or "
                f"after 2100), from {_when(lo)} to {_when(hi)}")
        if hi >= PLAUSIBLE_MAX_SECONDS and time_unit == "s":
            text += ("; if the column is in milliseconds, pass --time-unit ms (in a config: data.time_unit: ms)"
                     if hi < MILLISECONDS_THRESHOLD * 1000 else
                     "; if the column is in microseconds, pass --time-unit us (in a config: data.time_unit: us)")
        else:
            text += "; check the column (or --time-unit / --time-format)"
        return text
    if time_unit != "s" and int(v.max()) < _SECONDS_PER_YEAR:  # type: ignore[arg-type]
        return (f"{name}: column {col!r}: read in {time_unit}, every time falls in 1970 "
                f"({_when(int(v.min()))} to {_when(int(v.max()))}); if the values are seconds, pass "  # type: ignore[arg-type]
                "--time-unit s (in a config: data.time_unit: s)")
    return None


def _check_finite(col: pl.Series, name: str) -> None:
    bad = col.is_nan() | col.is_infinite()
    if bad.fill_null(False).any():
        raise DataValidationError("non-finite timestamp", source=name, column=col.name,
                                  row=_first_row(bad.fill_null(False)),
                                  hint="drop those rows or load without a time column")


def _refuse_yyyymmdd(col: pl.Series, name: str) -> None:
    v = col.drop_nulls()
    if not v.len():
        return
    lo, hi = YYYYMMDD_RANGE
    month = (v // 100) % 100
    day = v % 100
    looks = bool(((v >= lo) & (v <= hi) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)).all())
    if looks:
        raise DataValidationError(
            f"ambiguous time column: every value looks like a YYYYMMDD date (e.g. {int(v[0])}); read as epoch "
            "seconds they would all fall in July-August 1970",
            source=name, column=col.name,
            hint="pass time_format='%Y%m%d' (CLI: --time-format %Y%m%d) for dates, or time_format='%s' if "
                 "they really are epoch seconds",
        )


def _parse_strings(s: pl.Series, time_format: str, name: str) -> pl.Series:
    parsed = s.str.strptime(pl.Datetime("us"), time_format, strict=False)
    bad = parsed.is_null() & s.is_not_null()
    if bad.any():
        row = _first_row(bad)
        raise DataValidationError(
            f"time value {s[row - 1]!r} does not match time_format {time_format!r}", source=name,
            column=s.name, row=row, hint="fix the value or the format",
        )
    return parsed.dt.epoch("s").alias(s.name)
