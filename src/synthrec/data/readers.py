"""Generic readers: delimited text and Parquet files, pandas and polars frames -> `InteractionData`.

Every reader maps the source's columns onto the standard roles (user, item, rating, time, event, session),
converts time to Int64 epoch seconds (UTC), validates (`synthrec.data.validation`), applies the
documented duplicate policy and reports what it found:

* `read_table`, `from_pandas`, `from_polars` return the data and make the `ValidationReport` visible
  (logged at INFO on the ``synthrec.data`` logger, plus a `DataQualityWarning` when duplicates or repeated
  (user, item) pairs were found);
* `load_with_report` returns ``(data, report)`` for callers that record it (pipelines, the CLI).

Text files are read whole into memory (decoded as UTF-8, falling back to Latin-1); the separator is
sniffed from the first lines when not given. Ids keep their type: numeric ids stay integers (Int64),
other ids stay strings. ``name`` defaults to the file path so every error names the file.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import polars as pl

from synthrec.data.interactions import ITEM, USER, InteractionData
from synthrec.data.validation import (
    DataQualityWarning,
    DuplicatePolicy,
    TimeUnit,
    ValidationReport,
    check_columns,
    check_duplicates,
    clean_attribute_table,
    emit_report,
    implausible_times,
    normalise_ids,
    source_time_type,
    to_epoch_seconds,
    validate_frame,
)
from synthrec.errors import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

PathLike = Union[str, "os.PathLike[str]"]
TableSource = Union[str, "os.PathLike[str]", pl.DataFrame, "pd.DataFrame"]

PARQUET_SUFFIXES = (".parquet", ".pq")
#: Separators tried by the sniffer, in order of preference; ``"whitespace"`` means runs of blanks.
SNIFF_SEPARATORS = ("\t", ",", ";", "|", "::", " ", "whitespace")
_SNIFF_BYTES = 1 << 16
_SNIFF_LINES = 50
_UNIT_SEP = "\x1f"  # stands in for multi-character separators before polars parses the text


# ------------------------------------------------------------------------------------------ raw frames


def sniff_separator(lines: Sequence[str], *, quote_char: str | None = '"', name: str = "<text>") -> str:
    """Guess the field separator of delimited text from its first lines.

    A candidate of `SNIFF_SEPARATORS` is accepted when it splits every sampled non-blank line into the
    same number (at least 2) of fields, honouring quotes; the first accepted candidate wins.

    Args:
        lines: the first lines of the file (header included), without line terminators.
        quote_char: quote character of the format, ``None`` for none.
        name: file name for the error message.

    Returns:
        The separator: a single character, ``"::"``, or ``"whitespace"`` (runs of spaces/tabs).

    Raises:
        DataValidationError: no candidate splits the lines consistently (names the file and hints ``sep=``).
    """
    rows = [ln for ln in lines if ln.strip()]
    if not rows:
        raise DataValidationError("the file has no data rows", source=name,
                                  hint="check the path; an empty log cannot be used")
    for cand in SNIFF_SEPARATORS:
        if cand == "::":
            counts = [ln.count("::") + 1 for ln in rows]
        elif cand == "whitespace":
            counts = [len(ln.split()) for ln in rows]
        else:
            reader = (csv.reader(rows, delimiter=cand, quotechar=quote_char) if quote_char
                      else csv.reader(rows, delimiter=cand, quoting=csv.QUOTE_NONE))
            try:
                counts = [len(r) for r in reader]
            except csv.Error:
                continue
        if min(counts) >= 2 and len(set(counts)) == 1:
            return cand
    shown = ", ".join(repr(s) for s in SNIFF_SEPARATORS)
    raise DataValidationError(
        f"could not detect the field separator from the first {len(rows)} line(s) "
        f"(line 1 is {rows[0][:80]!r}; tried {shown})",
        source=name, hint="give the separator: --sep ',' or --sep tab on the command line (data.sep in a "
        "config, sep= in Python); a file whose lines are `user item item ...` (one user per line, items in "
        "time order) is a sequence file: --format seq (data.format: seq)",
    )


#: separators as people type them in a shell or YAML, and what they mean
_SEPARATOR_ALIASES = {"\\t": "\t", "tab": "\t", "TAB": "\t", "\\s+": "whitespace", "space": " "}


def normalize_separator(sep: str | None) -> str | None:
    """``sep`` with the spellings people type for a tab (``\\t`` typed literally, ``tab``) or for runs of
    blanks (``\\s+``) turned into what the readers use (``"\t"``, ``"whitespace"``); ``None`` stays None."""
    return None if sep is None else _SEPARATOR_ALIASES.get(sep, sep)


def read_frame(
    path: PathLike,
    *,
    sep: str | None = None,
    has_header: bool = True,
    column_names: Sequence[str] | None = None,
    encoding: str | None = None,
    quote_char: str | None = '"',
) -> pl.DataFrame:
    """Read a delimited text file or a Parquet file into a polars DataFrame, all columns, file order.

    Parquet is chosen by suffix (``.parquet``, ``.pq``); anything else (``.csv``, ``.tsv``, ``.dat``,
    ``.txt``, ...) is delimited text. Column types are inferred from the whole file (so a zip code
    column with one letter stays a string); empty fields are null.

    Args:
        path: the file.
        sep: field separator; ``None`` sniffs it (`sniff_separator`). Multi-character separators such as
            ``"::"`` and ``"whitespace"`` (runs of blanks) are supported; ``"\\t"`` (a backslash and t,
            as typed in a shell) and ``"tab"`` mean a tab (`normalize_separator`).
        has_header: whether line 1 holds column names.
        column_names: names to give the columns (required in practice when ``has_header`` is false,
            otherwise polars names them ``column_1``, ...).
        encoding: ``None`` = UTF-8 when the bytes are valid UTF-8, else Latin-1; or any Python codec.
        quote_char: quote character, ``None`` to treat quotes as ordinary text.

    Returns:
        polars DataFrame with one row per data line.

    Raises:
        DataValidationError: the file does not exist, is empty (0 bytes) or has a header but no data
            rows, the separator cannot be detected, or the text is malformed (e.g. ragged lines).
    """
    p = Path(path)
    name = str(p)
    sep = normalize_separator(sep)
    if not p.is_file():
        raise DataValidationError("file not found", source=name, hint="check the path")
    if p.suffix.lower() in PARQUET_SUFFIXES:
        try:
            frame = pl.read_parquet(p)
        except Exception as exc:
            raise DataValidationError(f"could not read Parquet ({exc})", source=name) from None
        if column_names is not None:
            frame = frame.rename(dict(zip(frame.columns, column_names, strict=False)))
        return frame
    raw = p.read_bytes()
    if not raw.strip():
        raise DataValidationError("the file is empty (0 bytes)" if not raw else "the file holds only blanks",
                                  source=name, hint="check the path; an empty log cannot be used")
    text, utf8 = _decode(raw, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    if sep is None:
        head = text[:_SNIFF_BYTES].splitlines()
        if len(text) > _SNIFF_BYTES and len(head) > 1:
            head = head[:-1]  # the last sampled line may be cut
        sep = sniff_separator(head[:_SNIFF_LINES], quote_char=quote_char, name=name)
    if len(sep) == 1 and sep != _UNIT_SEP:
        payload = raw if (utf8 and not raw.startswith(b"\xef\xbb\xbf")) else text.encode("utf-8")
        separator = sep
    else:
        if sep in ("whitespace", r"\s+"):
            text = re.sub(r"[ \t]+", _UNIT_SEP, re.sub(r"(?m)^[ \t]+|[ \t]+(?=\r?$)", "", text))
        else:
            text = text.replace(sep, _UNIT_SEP)
        payload = text.encode("utf-8")
        separator = _UNIT_SEP
        quote_char = None
    if column_names is not None and not has_header:
        _check_names_fit(payload, separator, quote_char, list(column_names), shown_sep=sep, name=name)
    try:
        frame = pl.read_csv(
            io.BytesIO(payload), separator=separator, has_header=has_header,
            new_columns=list(column_names) if column_names is not None else None,
            quote_char=quote_char, infer_schema_length=None, try_parse_dates=False,
        )
    except pl.exceptions.NoDataError:
        raise DataValidationError("the file is empty", source=name,
                                  hint="check the path; an empty log cannot be used") from None
    except Exception as exc:
        raise DataValidationError(
            f"could not parse the file with separator {sep!r} ({str(exc).splitlines()[0]})", source=name,
            hint="check the separator (sep=, CLI --sep) and that every line has the same number of fields",
        ) from None
    if frame.height == 0:
        raise DataValidationError("the file has a header but no data rows", source=name,
                                  hint="check the path; an empty log cannot be used")
    # Strip the CR left by CRLF files in the last column of multi-character-separator text.
    last = frame.columns[-1]
    if frame.schema[last] == pl.String:
        frame = frame.with_columns(pl.col(last).str.strip_chars_end("\r"))
    return frame


def _check_names_fit(payload: bytes, separator: str, quote_char: str | None, names: list[str], *,
                     shown_sep: str, name: str) -> None:
    """Raise a clear error when a header-less file's first line holds another number of fields than the
    names given for its columns (polars would say so in terms of its own arguments)."""
    import csv

    first = payload.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    fields = next(csv.reader([first], delimiter=separator, quotechar=quote_char or '"',
                             quoting=csv.QUOTE_MINIMAL if quote_char else csv.QUOTE_NONE), [])
    if len(fields) == len(names):
        return
    if len(fields) < len(names):
        hint = ("the separator probably does not split this file's fields: check --sep (data.sep in a config), "
                "or give one name per field with --columns (data.column_names)")
    else:
        extra = [f"col{i}" for i in range(len(names) + 1, len(fields) + 1)]
        hint = (f"give one name per field with --columns (data.column_names in a config), e.g. --columns "
                f"{','.join(names + extra)}; or, if the fields are not split right, check --sep (data.sep)")
    raise DataValidationError(
        f"{len(names)} column name(s) given ({', '.join(names)}) but line 1 has {len(fields)} field(s) with "
        f"separator {shown_sep!r}: {first[:80]!r}", source=name, row=1, hint=hint)


def _decode(raw: bytes, encoding: str | None) -> tuple[str, bool]:
    """Decode bytes; returns (text, whether it was UTF-8)."""
    if encoding is None:
        try:
            return raw.decode("utf-8"), True
        except UnicodeDecodeError:
            return raw.decode("latin-1"), False
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise DataValidationError(f"cannot decode the file as {encoding!r} ({exc})",
                                  hint="pass encoding=None to auto-detect UTF-8 / Latin-1") from None
    return text, encoding.lower().replace("_", "-") in ("utf-8", "utf8")


def _table(source: TableSource, *, name: str) -> tuple[pl.DataFrame, str]:
    """A polars frame from a path, a polars frame or a pandas frame, and its description."""
    if isinstance(source, pl.DataFrame):
        return source, name
    if isinstance(source, (str, os.PathLike)):
        return read_frame(source), str(source)
    if type(source).__module__.startswith("pandas"):
        return polars_from_pandas(source, name=name), name
    raise TypeError(f"expected a path, a polars or a pandas DataFrame, got {type(source).__name__}")


def polars_from_pandas(df: pd.DataFrame, *, name: str = "<pandas DataFrame>") -> pl.DataFrame:
    """``pl.from_pandas(df)``, with the conversion errors of mixed-type columns made readable.

    Raises:
        DataValidationError: a column cannot be converted (e.g. an ``object`` column mixing ints and
            strings); the message names the column and how to fix it (cast it to one type).
    """
    try:
        return pl.from_pandas(df)
    except Exception as exc:  # pyarrow.ArrowInvalid / ArrowTypeError, or polars' own errors
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        bad = None
        for col in df.columns:
            try:
                pl.from_pandas(df[[col]])
            except Exception:
                bad = str(col)
                break
        if bad is None:
            raise DataValidationError(f"cannot convert the pandas DataFrame ({first})", source=name,
                                      hint="give every column one type, e.g. df[col] = df[col].astype(str)") from None
        raise DataValidationError(
            f"column {bad!r} mixes value types and cannot be converted ({first})", source=name, column=bad,
            hint=f"cast it to one type first, e.g. df[{bad!r}] = df[{bad!r}].astype(str) (ids), or "
            f"pd.to_numeric(df[{bad!r}]) (numbers)",
        ) from None


# ------------------------------------------------------------------------------------------ the shared core


def build_interactions(
    frame: pl.DataFrame,
    *,
    user_col: str = USER,
    item_col: str = ITEM,
    rating_col: str | None = None,
    time_col: str | None = None,
    event_col: str | None = None,
    session_col: str | None = None,
    time_format: str | None = None,
    time_unit: TimeUnit = "s",
    duplicates: DuplicatePolicy = "drop",
    users: TableSource | None = None,
    items: TableSource | None = None,
    user_key: str | None = None,
    item_key: str | None = None,
    full_catalogue: bool = False,
    name: str = "<frame>",
) -> tuple[InteractionData, ValidationReport]:
    """Map, convert, validate and deduplicate a raw frame; the engine behind every reader.

    Steps, in order (row numbers in errors are those of ``frame``, 1-based): the input must have rows and
    the mapped columns; time is converted to Int64 seconds (`to_epoch_seconds`); integral float ids
    become Int64; rows whose time is missing (null, NaN, an empty field or a null token: ``NULL``,
    ``null``, ``NA``, ``N/A``, ``NaN``, ``None``) are **dropped**, with a `DataQualityWarning` naming the
    file, the column, the number of rows and the first one (a log whose every time is missing raises: load
    it without a time column); ids, ratings and seconds are validated (`validate_frame`); implausible
    times (before 1970, after 2100, or all in 1970 with a ``time_unit`` other than seconds) are warned
    about (`implausible_times`, suggesting ``--time-unit``) but kept; the duplicate policy is
    applied (`check_duplicates`, judged on *all* columns of ``frame``); attribute tables are cleaned
    (`clean_attribute_table`) and keyed by dense id.

    Args:
        frame: raw rows in source order; columns beyond the mapped ones are used only to judge exact
            duplicates.
        user_col, item_col, rating_col, time_col, event_col, session_col: source column names
            (``None`` = not present). Events are cast to String; non-integer session ids are numbered
            by first appearance.
        time_format, time_unit: see `to_epoch_seconds`.
        duplicates: ``"drop"`` (default), ``"keep"`` or ``"error"``; see `ValidationReport`.
        users, items: attribute tables (path, polars or pandas frame) keyed by external id in column
            ``user_key`` / ``item_key`` (default ``user_col`` / ``item_col``).
        full_catalogue: with ``items``, also put catalogue items without interactions into the item
            vocabulary (after the interacted items, in table order), so cold items keep their
            attributes; otherwise the vocabulary holds interacted items only.
        name: source description used in every message.

    Returns:
        ``(data, report)``; ``data.interactions`` has the standard schema of `InteractionData`.

    Raises:
        DataValidationError: empty input, a missing column, a role mapped twice, bad ids/ratings/times,
            a duplicate under ``duplicates="error"``, or a malformed attribute table.
    """
    if frame.height == 0:
        raise DataValidationError("the input has no rows", source=name,
                                  hint="check the path and the separator; an empty log cannot be used")
    roles = {"user": user_col, "item": item_col, "rating": rating_col, "time": time_col,
             "event": event_col, "session": session_col}
    check_columns(frame, roles, name=name)
    used = [c for c in roles.values() if c is not None]
    if len(set(used)) != len(used):
        raise DataValidationError(f"one column is mapped to two roles ({roles})", source=name,
                                  hint="give each role its own column")
    conversion = time_type = None
    fixes: list[pl.Series] = [normalise_ids(frame[user_col]), normalise_ids(frame[item_col])]
    if time_col is not None:
        time_type = source_time_type(frame[time_col], time_format=time_format)
        seconds, conversion = to_epoch_seconds(frame[time_col], time_format=time_format, time_unit=time_unit,
                                               name=name)
        fixes.append(seconds)
    frame = frame.with_columns(fixes)
    notes: list[str] = []
    shown: list[str] = []  # notes already raised as warnings of their own
    n_untimed = 0
    if time_col is not None and frame[time_col].null_count():
        frame, n_untimed, note = _drop_untimed(frame, user_col=user_col, item_col=item_col, rating_col=rating_col,
                                               time_col=time_col, name=name)
        notes.append(note)
        shown.append(note)
    validate_frame(frame, user_col=user_col, item_col=item_col, rating_col=rating_col, time_col=time_col,
                   name=name)
    if time_col is not None:
        odd = implausible_times(frame[time_col], time_unit=time_unit, name=name)
        if odd is not None:
            warnings.warn(odd, DataQualityWarning, stacklevel=3)
            notes.append(odd)
            shown.append(odd)
    frame, report = check_duplicates(frame, user_col=user_col, item_col=item_col, policy=duplicates, name=name)
    if n_untimed:
        report = replace(report, rows_read=report.rows_read + n_untimed)
    if event_col is not None:
        frame = frame.with_columns(pl.col(event_col).cast(pl.String))
    if session_col is not None and not frame.schema[session_col].is_integer():
        # Non-integer session ids (e.g. "s17") are numbered 0, 1, ... by first appearance.
        frame = frame.with_columns(_first_appearance_codes(frame[session_col]).alias(session_col))

    users_tbl = items_tbl = None
    if users is not None:
        users_tbl, src = _table(users, name=f"{name} (users)")
        users_tbl, n = clean_attribute_table(users_tbl, key=user_key or user_col, name=src)
        notes += n
    if items is not None:
        items_tbl, src = _table(items, name=f"{name} (items)")
        items_tbl, n = clean_attribute_table(items_tbl, key=item_key or item_col, name=src)
        notes += n
    vocab = None
    if full_catalogue and items_tbl is not None:
        seen = frame[item_col].unique(maintain_order=True)
        keys = items_tbl[item_key or item_col]
        if keys.dtype != seen.dtype:
            keys = keys.cast(seen.dtype, strict=False).drop_nulls()
        vocab = pl.concat([seen, keys.filter(~keys.is_in(seen.implode()))]).alias(f"{item_col}_id")
    data = InteractionData.from_frame(
        frame, user_col=user_col, item_col=item_col, rating_col=rating_col, time_col=time_col,
        event_col=event_col, session_col=session_col, users=users_tbl, items=items_tbl,
        user_key=user_key, item_key=item_key, item_vocabulary=vocab, name=name, time_type=time_type,
    )
    report = replace(report, n_users=data.n_users, n_items=data.n_items, time_conversion=conversion,
                     notes=tuple(notes), shown_notes=tuple(shown))
    return data, report


def _drop_untimed(frame: pl.DataFrame, *, user_col: str, item_col: str, rating_col: str | None, time_col: str,
                  name: str) -> tuple[pl.DataFrame, int, str]:
    """Drop the rows whose time is missing (null, NaN, empty or a null token such as ``NULL``), with a
    `DataQualityWarning` naming the file, the column, the count and the first row; ids and ratings are
    checked first so that row numbers in their errors are the file's.

    Raises:
        DataValidationError: every time is missing, or a bad id / rating (see `validate_frame`).
    """
    validate_frame(frame, user_col=user_col, item_col=item_col, rating_col=rating_col, name=name)
    missing = frame[time_col].is_null()
    n = int(missing.sum())
    row = int(missing.arg_true()[0]) + 1
    if n == frame.height:
        raise DataValidationError(
            "every time value is missing (null, empty, or a token such as NULL, NA, NaN)", source=name,
            column=time_col, hint="load the log without times: --time-col none (in a config: data.time_col: none)",
        )
    note = (f"{name}: column {time_col!r}: {n:,} of {frame.height:,} row(s) have no time (null, empty, or a "
            f"token such as NULL, NA, NaN), first at row {row}; those rows were dropped")
    warnings.warn(note, DataQualityWarning, stacklevel=4)
    return frame.filter(~missing), n, note


def _first_appearance_codes(values: pl.Series) -> pl.Series:
    """Int64 codes 0, 1, ... in order of first appearance (nulls stay null)."""
    first_seen = values.drop_nulls().unique(maintain_order=True)
    mapping = pl.DataFrame({"_v": first_seen, "_code": pl.int_range(0, len(first_seen), dtype=pl.Int64,
                                                                     eager=True)})
    return pl.DataFrame({"_v": values}).join(mapping, on="_v", how="left", maintain_order="left")["_code"]


# ------------------------------------------------------------------------------------------ public readers


def _read_table(path: PathLike, **kw: Any) -> tuple[InteractionData, ValidationReport]:
    reader_kw = {k: kw.pop(k) for k in ("sep", "has_header", "column_names", "encoding") if k in kw}
    name = kw.pop("name", None) or str(path)
    frame = read_frame(path, **reader_kw)
    return build_interactions(frame, name=name, **kw)


def read_table(
    path: PathLike,
    *,
    user_col: str = USER,
    item_col: str = ITEM,
    rating_col: str | None = None,
    time_col: str | None = None,
    event_col: str | None = None,
    session_col: str | None = None,
    sep: str | None = None,
    has_header: bool = True,
    column_names: Sequence[str] | None = None,
    time_format: str | None = None,
    time_unit: TimeUnit = "s",
    duplicates: DuplicatePolicy = "drop",
    encoding: str | None = None,
    users: TableSource | None = None,
    items: TableSource | None = None,
    user_key: str | None = None,
    item_key: str | None = None,
    full_catalogue: bool = False,
    name: str | None = None,
) -> InteractionData:
    """Read an interaction log from a CSV/TSV/``.dat``/``.txt`` or Parquet file.

    Args:
        path: the file; Parquet by suffix (``.parquet``/``.pq``), delimited text otherwise.
        user_col, item_col: id columns (required). Numeric ids stay Int64, others stay strings.
        rating_col: optional rating column (numeric; stored as Float32).
        time_col: optional time column; converted to Int64 seconds since the epoch (UTC), see
            `synthrec.data.validation.to_epoch_seconds` for the accepted forms.
        event_col, session_col: optional event type (String) and session id columns.
        sep: separator; ``None`` sniffs ``\\t , ; | :: space`` and whitespace runs.
        has_header, column_names: header handling for header-less files (e.g. MovieLens ``u.data``).
        time_format: ``strftime`` pattern for string or YYYYMMDD-integer times (e.g. ``"%Y%m%d"``).
        time_unit: unit of epoch numbers, ``"s"`` (default), ``"ms"``, ``"us"`` or ``"ns"``. Values that
            look like milliseconds read as seconds, and integers that all look like YYYYMMDD dates, raise
            rather than being guessed. Rows without a time (empty, ``NULL``, ``NA``, ``NaN``, ...) are
            dropped with a warning; implausible times (before 1970, after 2100) are kept with a warning.
        duplicates: ``"drop"`` exact duplicate rows (default), ``"keep"`` them, or ``"error"``.
            Repeated (user, item) pairs on distinct rows are always kept (see `ValidationReport`).
        encoding: ``None`` = UTF-8, falling back to Latin-1; or any Python codec name.
        users, items: optional attribute tables (path or frame) keyed by ``user_key`` / ``item_key``
            (default: ``user_col`` / ``item_col``); blank text cells become null.
        full_catalogue: keep items of the ``items`` table that have no interactions in the vocabulary.
        name: label used in messages and ``data.name``; defaults to the file path.

    Returns:
        `InteractionData` (``interactions``: Int32 user/item, optional Int64 timestamp, Float32 rating,
        String event, Int64 session), in file order minus dropped duplicates. The `ValidationReport` is
        logged and, when duplicates or repeated pairs exist, emitted as a `DataQualityWarning`; use
        `load_with_report` to get it as a value.

    Raises:
        DataValidationError: missing file, empty file (0 bytes or header only), undetectable separator,
            missing columns, missing/empty ids, non-numeric ratings, millisecond or ambiguous YYYYMMDD
            times, duplicates under ``"error"``; each message names the file, column and row.
    """
    data, report = _read_table(
        path, user_col=user_col, item_col=item_col, rating_col=rating_col, time_col=time_col,
        event_col=event_col, session_col=session_col, sep=sep, has_header=has_header,
        column_names=column_names, time_format=time_format, time_unit=time_unit, duplicates=duplicates,
        encoding=encoding, users=users, items=items, user_key=user_key, item_key=item_key,
        full_catalogue=full_catalogue, name=name,
    )
    emit_report(report)
    return data


def from_polars(
    df: pl.DataFrame,
    *,
    user_col: str = USER,
    item_col: str = ITEM,
    rating_col: str | None = None,
    time_col: str | None = None,
    event_col: str | None = None,
    session_col: str | None = None,
    time_format: str | None = None,
    time_unit: TimeUnit = "s",
    duplicates: DuplicatePolicy = "drop",
    users: TableSource | None = None,
    items: TableSource | None = None,
    user_key: str | None = None,
    item_key: str | None = None,
    full_catalogue: bool = False,
    name: str = "<polars DataFrame>",
) -> InteractionData:
    """Build `InteractionData` from a polars DataFrame; arguments and errors as in `read_table`.

    Time columns may be ``Datetime`` (any unit; tz-aware converted to UTC), ``Date``, epoch integers or
    strings. Row numbers in errors are 1-based positions in ``df``.
    """
    data, report = build_interactions(
        df, user_col=user_col, item_col=item_col, rating_col=rating_col, time_col=time_col,
        event_col=event_col, session_col=session_col, time_format=time_format, time_unit=time_unit,
        duplicates=duplicates, users=users, items=items, user_key=user_key, item_key=item_key,
        full_catalogue=full_catalogue, name=name,
    )
    emit_report(report)
    return data


def from_pandas(
    df: pd.DataFrame,
    *,
    user_col: str = USER,
    item_col: str = ITEM,
    rating_col: str | None = None,
    time_col: str | None = None,
    event_col: str | None = None,
    session_col: str | None = None,
    time_format: str | None = None,
    time_unit: TimeUnit = "s",
    duplicates: DuplicatePolicy = "drop",
    users: TableSource | None = None,
    items: TableSource | None = None,
    user_key: str | None = None,
    item_key: str | None = None,
    full_catalogue: bool = False,
    name: str = "<pandas DataFrame>",
) -> InteractionData:
    """Build `InteractionData` from a pandas DataFrame; arguments and errors as in `read_table`.

    The index is ignored (``reset_index()`` first to use it). ``datetime64`` columns of any unit,
    tz-aware columns (converted to UTC) and object columns of ``datetime.date`` are accepted as time.
    """
    data, report = build_interactions(
        polars_from_pandas(df, name=name), user_col=user_col, item_col=item_col, rating_col=rating_col, time_col=time_col,
        event_col=event_col, session_col=session_col, time_format=time_format, time_unit=time_unit,
        duplicates=duplicates, users=users, items=items, user_key=user_key, item_key=item_key,
        full_catalogue=full_catalogue, name=name,
    )
    emit_report(report)
    return data


def load_with_report(source: TableSource, **kwargs: Any) -> tuple[InteractionData, ValidationReport]:
    """Like `read_table` / `from_polars` / `from_pandas`, but return ``(data, report)``.

    Args:
        source: a file path, a polars DataFrame or a pandas DataFrame.
        **kwargs: the keyword arguments of `read_table` (file) or `from_polars` (frame).

    Returns:
        The data and its `ValidationReport`. The report is logged (INFO) but no warning is emitted:
        the caller holds it.
    """
    if isinstance(source, (str, os.PathLike)):
        data, report = _read_table(source, **kwargs)
    else:
        kwargs.setdefault("name", "<polars DataFrame>" if isinstance(source, pl.DataFrame)
                          else "<pandas DataFrame>")
        frame, _ = _table(source, name=kwargs["name"])
        data, report = build_interactions(frame, **kwargs)
    emit_report(report, warn=False)
    return data, report


__all__ = [
    "build_interactions", "from_pandas", "from_polars", "load_with_report", "read_frame", "read_table",
    "sniff_separator",
]
