"""Load the real log an experiment config names, and apply its row filters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from synthrec.config import DataConfig
from synthrec.data.filters import filter_min_counts, keep_min_rating
from synthrec.data.interactions import InteractionData
from synthrec.errors import DataValidationError


def read_path(dc: DataConfig, base_dir: Path | None = None) -> InteractionData:
    """Read ``dc.path`` (relative paths are resolved against ``base_dir``, the config's folder).

    ``format: auto`` picks a MovieLens reader for a folder holding ``u.data`` (100K), ``ratings.dat`` or
    ``movies.dat`` (1M) or ``ratings.csv`` + ``movies.csv`` (latest), RecBole for ``.inter`` files, the
    sequence reader (``seq``: `synthrec.data.amazon_seq.read_sequence_file`, rows in time order) for a
    ``.txt`` file of ``user item item ...`` lines (`looks_like_sequence_file`), and the generic table
    reader otherwise.

    Raises:
        DataValidationError: the path does not exist or its format cannot be recognised.
    """
    from synthrec.data import movielens

    assert dc.path is not None
    path = dc.path if dc.path.is_absolute() or base_dir is None else base_dir / dc.path
    if not path.exists():
        raise DataValidationError("no such file or folder", source=str(path),
                                  hint="check the path (in a config, relative paths start at the config file's folder)")
    fmt: str = dc.format
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "movielens-100k":
        return movielens.read_movielens_100k(path)
    if fmt == "movielens-1m":
        return movielens.read_movielens_1m(path)
    if fmt == "movielens-latest":
        return movielens.read_movielens_latest(path)
    if fmt == "recbole":
        return _read_recbole(dc, path)
    if fmt == "seq":
        from synthrec.data.amazon_seq import read_sequence_file

        return read_sequence_file(path, name=str(path))
    if fmt == SHARDS_FORMAT:
        return _read_shards(dc, path)
    if fmt == SIMULATED_FORMAT:
        return _read_simulated(dc, path)
    return _read_table(dc, path)


def _read_table(dc: DataConfig, path: Path) -> InteractionData:
    """A CSV/TSV/Parquet table with the config's columns; unnamed rating / time columns are picked by
    `pick_standard_columns` (the rule of every entry point)."""
    import warnings

    from synthrec.data import readers
    from synthrec.data.validation import DataQualityWarning, emit_report

    frame = readers.read_frame(path, sep=dc.sep, has_header=dc.column_names is None,
                               column_names=dc.column_names)
    pick = pick_standard_columns(
        frame.columns, user_col=dc.user_col, item_col=dc.item_col, rating_col=dc.rating_col,
        time_col=dc.time_col, rating_nulls=lambda: int(frame[STANDARD_RATING_COLUMN].null_count()),
    )
    if pick.empty_ratings:
        warnings.warn(pick.empty_rating_note(str(path), frame.height), DataQualityWarning, stacklevel=4)
    data, report = readers.build_interactions(
        frame, user_col=dc.user_col, item_col=dc.item_col, rating_col=pick.rating_col, time_col=pick.time_col,
        time_format=dc.time_format, time_unit=dc.time_unit, name=str(path),
    )
    emit_report(report)
    return data


#: The column name taken as the rating column when none is named.
STANDARD_RATING_COLUMN = "rating"
#: Column names taken as the time column when none is named, in order of preference.
STANDARD_TIME_COLUMNS = ("timestamp", "ts", "time")


@dataclass(frozen=True)
class ColumnPick:
    """The rating and time columns a log is read with (`pick_standard_columns`).

    Attributes:
        rating_col, time_col: the column names, ``None`` for none.
        picked: the roles (``"rating"``, ``"time"``) filled from a standard name rather than named.
        empty_ratings: empty cells of a standard ``rating`` column that was therefore left out (0 when it
            was used or absent).
    """

    rating_col: str | None
    time_col: str | None
    picked: tuple[str, ...] = ()
    empty_ratings: int = 0

    def empty_rating_note(self, name: str, n_rows: int | None = None) -> str:
        """The warning for a standard rating column left out because some cells are empty."""
        of = f" of {n_rows:,}" if n_rows is not None else ""
        return (f"{name}: column 'rating' has {self.empty_ratings:,} empty value(s){of}, so it is not used as "
                "ratings (the log is read as implicit feedback); filter the rated events first to use them, or "
                "pass --rating-col none (in a config: data.rating_col: none) to skip this note")


def pick_standard_columns(
    columns: Sequence[str],
    *,
    user_col: str,
    item_col: str,
    rating_col: str | None,
    time_col: str | None,
    rating_nulls: Callable[[], int] = lambda: 0,
) -> ColumnPick:
    """The one rule every entry point (CLI data options, `synthrec run` configs, `synthrec bench` datasets,
    synthrec's own output folders) uses to choose the rating and time columns of a table.

    A named column is used as named; ``none`` (or an empty name) means no such column. An unnamed rating
    column is the column named exactly ``rating`` (`STANDARD_RATING_COLUMN`) unless some of its cells are
    empty (an event log where only some events carry a rating: it is then left out, and ``empty_ratings``
    says how many); an unnamed time column is the first of ``timestamp``, ``ts``, ``time``
    (`STANDARD_TIME_COLUMNS`) present. A column already used as user or item id is never picked.

    Args:
        columns: the table's column names.
        user_col, item_col: the id columns.
        rating_col, time_col: the names given (``None``: not given).
        rating_nulls: counts the empty cells of the ``rating`` column (called only when it would be picked).
    """
    ids = (user_col, item_col)
    picked: list[str] = []
    empty = 0
    rating = None if is_no_column(rating_col) else rating_col
    if rating_col is None and STANDARD_RATING_COLUMN in columns and STANDARD_RATING_COLUMN not in ids:
        empty = rating_nulls()
        if not empty:
            rating = STANDARD_RATING_COLUMN
            picked.append("rating")
    time = None if is_no_column(time_col) else time_col
    if time_col is None:
        time = next((c for c in STANDARD_TIME_COLUMNS if c in columns and c not in ids), None)
        if time is not None:
            picked.append("time")
    return ColumnPick(rating, time, tuple(picked), empty)


#: Values of ``rating_col`` / ``time_col`` (config or CLI) that mean "this log has no such column".
NO_COLUMN = ("", "none")


def is_no_column(name: str | None) -> bool:
    """Whether a ``rating_col`` / ``time_col`` value says explicitly "no such column" (``none`` or empty)."""
    return name is not None and name.strip().lower() in NO_COLUMN


def _column(name: str | None) -> str | None:
    return None if is_no_column(name) else name


def _read_recbole(dc: DataConfig, path: Path) -> InteractionData:
    """A RecBole dataset with the config's column names: ``user_col``/``item_col`` other than the defaults
    name the id fields (default ``user_id``/``item_id``); ``rating_col``/``time_col`` unset use ``rating`` /
    ``timestamp`` when present (a partly empty rating is left out, with a warning), ``none`` uses no
    field, and a name must be a field of the header."""
    from synthrec.data import recbole

    explicit = [role for role, col in (("rating", dc.rating_col), ("time", dc.time_col))
                if col is not None and not is_no_column(col)]
    return recbole.read_recbole(
        path,
        user_field="user_id" if dc.user_col == "user" else dc.user_col,
        item_field="item_id" if dc.item_col == "item" else dc.item_col,
        rating_field=None if is_no_column(dc.rating_col) else dc.rating_col or "rating",
        time_field=None if is_no_column(dc.time_col) else dc.time_col or "timestamp",
        explicit=explicit,
    )


def detect_format(path: Path) -> str:
    """The ``data.format`` that ``auto`` stands for at ``path`` (see `read_path`)."""
    if path.is_dir():
        if (path / "u.data").exists():
            return "movielens-100k"
        if (path / "ratings.dat").exists() or (path / "movies.dat").exists():
            return "movielens-1m"
        if (path / "ratings.csv").exists() and (path / "movies.csv").exists():
            return "movielens-latest"
        if (path / MANIFEST).is_file() or any(path.glob("part-*.*")):
            return SHARDS_FORMAT
        if any(path.glob("*.inter")):
            return "recbole"
        if any((path / f"interactions{ext}").is_file() for ext in _TABLE_EXTS):
            return SIMULATED_FORMAT
        raise DataValidationError(
            "cannot tell the format of this folder", source=str(path),
            hint="point at a MovieLens folder, a RecBole folder (one .inter file), a `synthrec generate` "
            "output folder (part-NNNNNN.* + _manifest.json), a `synthrec simulate` output folder "
            "(interactions.*), or at a file; in a config, data.format can also name the format",
        )
    if path.suffix == ".inter":
        return "recbole"
    from synthrec.data.amazon_seq import looks_like_sequence_file

    if looks_like_sequence_file(path):
        return "seq"
    return "table"


def load_data(dc: DataConfig, base_dir: Path | None = None) -> InteractionData:
    """The real log of a config, after ``min_rating`` and the minimum-count filters."""
    if dc.loader is not None:
        from synthrec.data.loaders import load_dataset

        data = load_dataset(dc.loader)
    else:
        data = read_path(dc, base_dir)
    if dc.row_order_is_time and not data.has_timestamp:
        data = replace(data, row_order_is_time=True)
    if dc.min_rating is not None:
        data = keep_min_rating(data, dc.min_rating)
    if dc.min_item_interactions > 1 or dc.min_user_interactions > 1:
        data = filter_min_counts(data, min_item=dc.min_item_interactions, min_user=dc.min_user_interactions)
    return data


# ------------------------------------------------------------------------------------------ synthrec's own folders

#: Formats told apart by `detect_format` only (``format: auto``): folders written by synthrec itself.
SHARDS_FORMAT = "synthrec-generate"
SIMULATED_FORMAT = "synthrec-simulate"
MANIFEST = "_manifest.json"
_TABLE_EXTS = (".parquet", ".csv", ".tsv")


def _shard_files(folder: Path) -> list[Path]:
    """The shard files of a `synthrec generate` folder, in shard order (the manifest's, when present)."""
    import json

    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
            shards = sorted(meta["shards"], key=lambda sh: int(sh["index"]))
            files = [folder / str(sh["file"]) for sh in shards]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataValidationError(f"unreadable manifest ({exc})", source=str(manifest),
                                      hint="rerun the `synthrec generate` command that wrote this folder") from None
        missing = [f.name for f in files if not f.is_file()]
        if not meta.get("complete", False) or missing or not files:
            raise DataValidationError(
                "this `synthrec generate` output is incomplete"
                + (f" (missing shard files: {', '.join(missing[:5])})" if missing else ""),
                source=str(folder), hint="rerun the same `synthrec generate` command: it resumes and finishes",
            )
        return files
    files = sorted(f for f in folder.glob("part-*.*") if not f.name.startswith("."))
    if not files:
        raise DataValidationError("no shard files (part-NNNNNN.*) in the folder", source=str(folder))
    return files


def _read_shards(dc: DataConfig, folder: Path) -> InteractionData:
    """A `synthrec generate` folder: its shards concatenated in shard order."""
    import polars as pl

    from synthrec.data.readers import PARQUET_SUFFIXES, read_frame
    from synthrec.data.recbole import read_atomic

    files = _shard_files(folder)
    kinds = {f.suffix.lower() for f in files}
    if len(kinds) != 1:
        raise DataValidationError(f"the shards mix file types ({', '.join(sorted(kinds))})", source=str(folder),
                                  hint="write every shard in one --format")
    kind = kinds.pop()
    try:
        if kind in PARQUET_SUFFIXES:
            frame = pl.scan_parquet(files).collect()
        elif kind == ".inter":
            frame = pl.concat([read_atomic(f) for f in files], how="vertical_relaxed")
            frame = frame.rename({k: v for k, v in (("user_id", "user"), ("item_id", "item")) if k in frame.columns})
        else:
            frame = pl.concat([read_frame(f, sep=dc.sep) for f in files], how="vertical_relaxed")
    except pl.exceptions.PolarsError as exc:
        raise DataValidationError(f"could not read the shards together ({str(exc).splitlines()[0]})",
                                  source=str(folder)) from None
    return _from_own_frame(dc, frame, name=str(folder))


def _read_simulated(dc: DataConfig, folder: Path) -> InteractionData:
    """A `synthrec simulate` folder: ``interactions.*``, with ``users.*`` / ``items.*`` attached when present."""
    from synthrec.data.readers import read_frame

    def table(stem: str) -> Path | None:
        return next((folder / f"{stem}{ext}" for ext in _TABLE_EXTS if (folder / f"{stem}{ext}").is_file()), None)

    inter = table("interactions")
    assert inter is not None  # detect_format saw it
    users, items = table("users"), table("items")
    return _from_own_frame(dc, read_frame(inter, sep=dc.sep), name=str(inter),
                           users=read_frame(users) if users is not None else None,
                           items=read_frame(items) if items is not None else None)


def _from_own_frame(dc: DataConfig, frame: object, *, name: str, users: object = None,
                    items: object = None) -> InteractionData:
    """`InteractionData` from a frame laid out as synthrec writes it (``user``, ``item``, ``timestamp`` in
    seconds, ``rating``, ``event``, ``session``); the config's column names win where they are set. A
    ``rating`` with empty cells is left out (implicit feedback) with a warning unless named explicitly."""
    import warnings

    import polars as pl

    from synthrec.data.readers import build_interactions
    from synthrec.data.validation import DataQualityWarning, emit_report

    assert isinstance(frame, pl.DataFrame)
    cols = frame.columns
    pick = pick_standard_columns(cols, user_col=dc.user_col, item_col=dc.item_col, rating_col=dc.rating_col,
                                 time_col=dc.time_col, rating_nulls=lambda: int(frame["rating"].null_count()))
    if pick.empty_ratings:
        warnings.warn(pick.empty_rating_note(name, frame.height), DataQualityWarning, stacklevel=4)
    data, report = build_interactions(
        frame, user_col=dc.user_col, item_col=dc.item_col, rating_col=pick.rating_col, time_col=pick.time_col,
        event_col="event" if "event" in cols else None, session_col="session" if "session" in cols else None,
        time_unit=dc.time_unit, time_format=dc.time_format,
        users=users, items=items,  # type: ignore[arg-type]
        user_key="user" if users is not None else None, item_key="item" if items is not None else None,
        name=name,
    )
    emit_report(report)
    return data
