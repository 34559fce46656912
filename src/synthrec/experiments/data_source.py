"""Load the real log an experiment config names, and apply its row filters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from synthrec.config import DataConfig
from synthrec.data.filters import filter_min_counts, keep_min_rating
from synthrec.data.interactions import InteractionData
from synthrec.errors import DataValidationError


def read_path(dc: DataConfig, base_dir: Path | None = None) -> InteractionData:
    """Read ``dc.path`` (relative paths are resolved against ``base_dir``, the config's folder).

    ``format: auto`` picks a MovieLens reader for a folder holding ``u.data`` (100K), ``ratings.dat`` or
    ``movies.dat`` (1M) or ``ratings.csv`` + ``movies.csv`` (latest), RecBole for ``.inter`` files, and
    the generic table reader otherwise.

    Raises:
        DataValidationError: the path does not exist or its format cannot be recognised.
    """
    from synthrec.data import movielens, readers, recbole

    assert dc.path is not None
    path = dc.path if dc.path.is_absolute() or base_dir is None else base_dir / dc.path
    if not path.exists():
        raise DataValidationError("no such file or folder", source=str(path),
                                  hint="check the path (in a config, relative paths start at the config file's folder)")
    fmt: str = dc.format
    if fmt == "auto":
        fmt = _detect_format(path)
    if fmt == "movielens-100k":
        return movielens.read_movielens_100k(path)
    if fmt == "movielens-1m":
        return movielens.read_movielens_1m(path)
    if fmt == "movielens-latest":
        return movielens.read_movielens_latest(path)
    if fmt == "recbole":
        return recbole.read_recbole(path)
    return readers.read_table(
        path, user_col=dc.user_col, item_col=dc.item_col, rating_col=dc.rating_col, time_col=dc.time_col,
        sep=dc.sep, time_format=dc.time_format, time_unit=dc.time_unit,
        has_header=dc.column_names is None, column_names=dc.column_names,
    )


def _detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "u.data").exists():
            return "movielens-100k"
        if (path / "ratings.dat").exists() or (path / "movies.dat").exists():
            return "movielens-1m"
        if (path / "ratings.csv").exists() and (path / "movies.csv").exists():
            return "movielens-latest"
        if any(path.glob("*.inter")):
            return "recbole"
        raise DataValidationError(
            "cannot tell the format of this folder", source=str(path),
            hint="set data.format (movielens-100k, movielens-1m, movielens-latest, recbole) or point "
            "data.path at a file",
        )
    if path.suffix == ".inter":
        return "recbole"
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
