"""Options and loader shared by every command that reads a real log from the command line.

`synthrec inspect`, `synthrec fit` and `synthrec scenario calibrate` take the same DATA argument and the
same column / separator / time options; they are declared once here so the commands cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.markup import escape

from synthrec.commands._console import err_console as _err_console
from synthrec.errors import DataValidationError, SynthrecError

DataArg = Annotated[str, typer.Argument(help="A registered dataset name (see `synthrec datasets`), or a "
                                          "CSV/TSV/Parquet file, MovieLens folder, RecBole .inter file, or "
                                          "a folder written by `synthrec generate` or `synthrec simulate`.")]
UserCol = Annotated[str, typer.Option("--user-col", help="User id column of a table file.")]
ItemCol = Annotated[str, typer.Option("--item-col", help="Item id column of a table file.")]
RatingCol = Annotated[str | None, typer.Option(
    "--rating-col", help="Rating column (default: one named `rating`; `none`: no ratings, implicit feedback).")]
TimeCol = Annotated[str | None, typer.Option(
    "--time-col", help="Time column (default: one named `timestamp`, `ts` or `time`; `none`: no times).")]
TimeUnit = Annotated[str, typer.Option("--time-unit", help="Unit of integer times: s, ms, us or ns.")]
TimeFormat = Annotated[str | None, typer.Option("--time-format",
                                                   help="strftime format of dates, e.g. %Y%m%d.")]


def _separator(value: str | None) -> str | None:
    from synthrec.data.readers import normalize_separator

    return normalize_separator(value)


SepOpt = Annotated[str | None, typer.Option(
    "--sep", callback=_separator,
    help="Field separator (default: detected); tab: --sep tab (or '\\t'), runs of blanks: --sep whitespace.")]
FormatOpt = Annotated[str, typer.Option(
    "--format", help="How to read DATA: auto (detected), table (CSV/TSV/Parquet), seq (one user per line: "
    "`user item item ...` in time order), recbole, movielens-100k, movielens-1m or movielens-latest.")]
ColumnsOpt = Annotated[str | None, typer.Option(
    "--columns", help="Comma-separated names for a file WITHOUT a header line, e.g. user,item,rating,ts.")]


def _head_lines(path: Path, n: int = 20) -> list[str]:
    """The first ``n`` lines of a text file (what separator sniffing and header checks look at)."""
    with path.open("rb") as fh:
        return [fh.readline().decode("utf-8", errors="replace").rstrip("\r\n") for _ in range(n)]


def _split_line(line: str, sep: str) -> list[str]:
    """One line of delimited text split on ``sep`` as the readers do (quotes honoured for 1-character ones)."""
    import csv

    if sep == "whitespace":
        return line.split()
    if len(sep) > 1:
        return [c.strip() for c in line.split(sep)]
    return [c.strip() for c in next(csv.reader([line], delimiter=sep))]


def file_head(data: str, sep: str | None, names: list[str] | None) -> tuple[list[str], list[str] | None] | None:
    """Column names of a single log file (from --columns or its header line) and its first data row (``None``
    when unknown), or None when the names are unknown (a folder, an Atomic .inter file, an unreadable file:
    the loader then reports the problem itself)."""
    from synthrec.data.readers import sniff_separator

    if names is not None:
        return names, None
    path = Path(data)
    if not path.is_file() or path.suffix == ".inter":
        return None
    try:
        if path.suffix in (".parquet", ".pq"):
            return list(pl.read_parquet_schema(path)), None
        lines = _head_lines(path)
        sep = sep or sniff_separator(lines, name=data)
        row = _split_line(lines[1], sep) if len(lines) > 1 and lines[1].strip() else None
        return _split_line(lines[0], sep), row
    except (OSError, SynthrecError, ValueError, StopIteration, IndexError):
        return None


def file_columns(data: str, sep: str | None, names: list[str] | None) -> list[str] | None:
    """Column names of a single log file (from --columns or its header line), or None when unknown
    (a folder, an Atomic .inter file, an unreadable file: the loader then reports the problem itself)."""
    head = file_head(data, sep, names)
    return None if head is None else head[0]


def _missing_count(data: str, sep: str | None, column: str) -> int:
    """Empty / null values in one column of a CSV/TSV/Parquet file with a header line (0 when unknown)."""
    from synthrec.data.readers import sniff_separator

    path = Path(data)
    try:
        if path.suffix in (".parquet", ".pq"):
            frame = pl.scan_parquet(path)
        else:
            sep = sep or sniff_separator(_head_lines(path), name=data)
            if len(sep) != 1:
                return 0
            frame = pl.scan_csv(path, separator=sep, infer_schema=False)
        return int(frame.select(pl.col(column).is_null().sum()).collect().item())
    except (OSError, SynthrecError, ValueError, pl.exceptions.PolarsError):
        return 0


def _reject_data_as_header(data: str, cols: list[str], row: list[str] | None, user_col: str,
                           item_col: str) -> None:
    """Raise when the first line, read as a header, looks like data (numbers, or ids and dates shaped like
    the next line's values: `synthrec.data.validation.header_looks_like_data`) and lacks the id columns:
    the file has no header line, and the loader's "column missing" message would send the user to
    --user-col instead."""
    from synthrec.data.validation import header_looks_like_data

    if (user_col in cols and item_col in cols) or not header_looks_like_data(cols, row):
        return
    example = ",".join(["user", "item", "rating", "ts"][:len(cols)] + [f"col{k}" for k in range(4, len(cols))])
    raise DataValidationError(
        f"the first line ({', '.join(cols)}) looks like data, not a header line", source=data,
        hint=f"name the columns of a header-less file with --columns, e.g. --columns {example} (in a config: "
        f"data.column_names: [{example.replace(',', ', ')}])",
    )


def standard_columns(data: str, user_col: str, item_col: str, rating_col: str | None, time_col: str | None,
                     sep: str | None, names: list[str] | None) -> tuple[str | None, str | None]:
    """Choose the rating and time columns of a file by the rule of every entry point
    (`synthrec.experiments.data_source.pick_standard_columns`: a column named exactly `rating`, one named
    `timestamp`, `ts` or `time`, when --rating-col / --time-col are not given), saying so on stderr; warn
    about other columns left unused.

    Returns:
        ``(rating_col, time_col)``; where the file's columns are known, a role without a column is
        ``"none"`` (decided here, so the loader does not decide again), else the values as given.

    Raises:
        DataValidationError: the file has no header line and ``names`` (--columns) was not given.
    """
    from synthrec.experiments.data_source import STANDARD_TIME_COLUMNS, is_no_column, pick_standard_columns

    head = file_head(data, sep, names)
    if head is None:
        return rating_col, time_col
    cols, row = head
    if names is None:
        _reject_data_as_header(data, cols, row, user_col, item_col)
    no_rating, no_time = is_no_column(rating_col), is_no_column(time_col)
    pick = pick_standard_columns(
        cols, user_col=user_col, item_col=item_col, rating_col=rating_col, time_col=time_col,
        rating_nulls=lambda: _missing_count(data, sep, "rating") if names is None else 0,
    )
    if pick.empty_ratings:  # an event log where only some events carry a rating (e.g. `synthrec simulate` output)
        _err_console.print(f"note: column rating has {pick.empty_ratings:,} empty value(s), so it is not used as "
                           "ratings (implicit feedback); filter the rated events first to use it.")
    picked = [f"--{role}-col {pick.rating_col if role == 'rating' else pick.time_col}" for role in pick.picked]
    if picked:
        _err_console.print(f"note: using the standard column name(s) as {' and '.join(picked)}.")
    unused = [c for c in cols if c not in (user_col, item_col, pick.rating_col, pick.time_col)
              and not (c == "rating" and no_rating) and not (c in STANDARD_TIME_COLUMNS and no_time)]
    if unused and {user_col, item_col} <= set(cols):  # else the missing id column is the error to read
        _err_console.print(f"[yellow]warning:[/] column(s) {escape(', '.join(unused))} are not used; "
                           "name them with --rating-col and/or --time-col to use them.")
    return pick.rating_col or "none", pick.time_col or "none"


def load_cli_data(data: str, user_col: str, item_col: str, rating_col: str | None, time_col: str | None,
                  time_unit: str, time_format: str | None, sep: str | None, columns: str | None,
                  fmt: str = "auto") -> object:
    """Load DATA as the command-line options describe it: a registered dataset name, or a file / folder read
    with the given column names, separator, time unit / format and --columns (names for a header-less file),
    in the format ``fmt`` (--format; ``auto`` detects it, see `synthrec.experiments.data_source.read_path`:
    a sequence file is read as ``seq``, whose columns need no options).

    Returns:
        The `InteractionData` of `synthrec.experiments.data_source.load_data` (typed ``object`` so that
        importing this module stays cheap).

    Raises:
        ConfigError: an option value is invalid (e.g. an unknown --time-unit).
        DataValidationError: the file is missing columns, has no header without --columns, or bad values.
    """
    from pydantic import ValidationError

    from synthrec.config import DataConfig, describe_errors
    from synthrec.data.loaders import list_datasets
    from synthrec.errors import ConfigError
    from synthrec.experiments.data_source import detect_format, load_data

    if data in list_datasets():
        dc = DataConfig(loader=data)
    else:
        names = [c.strip() for c in columns.split(",")] if columns else None
        path = Path(data)
        if fmt == "auto" and path.is_file() and detect_format(path) == "seq":
            fmt = "seq"
        if fmt in ("auto", "table"):
            rating_col, time_col = standard_columns(data, user_col, item_col, rating_col, time_col, sep, names)
        try:
            dc = DataConfig.model_validate({
                "path": data, "format": fmt, "user_col": user_col,
                "item_col": item_col, "rating_col": rating_col, "time_col": time_col, "time_unit": time_unit,
                "time_format": time_format, "sep": sep, "column_names": names,
            })
        except ValidationError as exc:
            options = {"format": "--format", "time_unit": "--time-unit"}
            lines = [line.split(":", 1) for line in describe_errors(exc, DataConfig)]
            msgs = "; ".join(f"{options[key]} ({key}):{msg}" if key in options else f"{key}:{msg}"
                             for key, msg in lines)
            raise ConfigError(f"invalid option: {msgs}") from None
    return load_data(dc)
