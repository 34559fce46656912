"""Readers for the MovieLens file formats (GroupLens; F. M. Harper and J. A. Konstan, "The MovieLens
Datasets: History and Context", ACM TiiS 5(4), 2015).

Each reader takes the *unpacked* folder and returns `InteractionData` with

* ``interactions``: user, item (dense Int32), rating (Float32) and timestamp (Int64 epoch seconds) where
  the files have one, in file order;
* ``items``: ``title`` (String), ``year`` (Int32, from the ``(YYYY)`` at the end of the title, null when
  absent), ``genres`` (List(String); an empty list for "no genres"), plus format-specific columns;
* ``users`` where the format has a user file.

Text is decoded as UTF-8 when valid, else Latin-1 (the original ML-100K/ML-1M encoding), so
"Café Noir (1995)" keeps its "é" either way. The item vocabulary holds rated items (in order of first
appearance) unless ``full_catalogue=True``, which appends unrated catalogue items so they keep their
attributes (cold items).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synthrec.data.interactions import InteractionData
from synthrec.data.readers import PathLike, build_interactions, read_frame
from synthrec.data.validation import DuplicatePolicy, ValidationReport, emit_report
from synthrec.errors import DataValidationError

#: The 19 genre flags of ML-100K ``u.item``, in file order (also listed in ``u.genre``).
ML100K_GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)

#: ML-1M ``users.dat`` occupation codes (from the ML-1M README).
ML1M_OCCUPATIONS: tuple[str, ...] = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student", "customer service",
    "doctor/health care", "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
    "programmer", "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer",
    "tradesman/craftsman", "unemployed", "writer",
)

_RATING_COLS = ["user", "item", "rating", "timestamp"]


def _folder(folder: PathLike) -> Path:
    p = Path(folder)
    if not p.is_dir():
        raise DataValidationError("MovieLens folder not found", source=str(p),
                                  hint="pass the unpacked folder (e.g. .../ml-100k)")
    return p


def _need(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DataValidationError(f"{what} file is missing", source=str(path),
                                  hint="pass the unpacked MovieLens folder holding it")
    return path


def _year_from_title(title: pl.Expr) -> pl.Expr:
    return title.str.extract(r"\((\d{4})\)\s*$", 1).cast(pl.Int32).alias("year")


def _split_genres(col: str = "genres", *, none_label: str | None = None) -> pl.Expr:
    """``"A|B"`` -> ["A", "B"]; null, "" or ``none_label`` -> []."""
    s = pl.col(col).cast(pl.String).str.strip_chars()
    if none_label is not None:
        s = pl.when(s == none_label).then(pl.lit("")).otherwise(s)
    return (s.fill_null("").str.split("|").list.eval(pl.element().filter(pl.element() != ""))
            .alias(col))


# ------------------------------------------------------------------------------------------ ML-100K


def read_movielens_100k_with_report(
    folder: PathLike, *, duplicates: DuplicatePolicy = "drop", full_catalogue: bool = False
) -> tuple[InteractionData, ValidationReport]:
    """`read_movielens_100k`, returning ``(data, report)`` (no warning; the report is logged)."""
    out = _ml100k(folder, duplicates=duplicates, full_catalogue=full_catalogue)
    emit_report(out[1], warn=False)
    return out


def read_movielens_100k(
    folder: PathLike, *, duplicates: DuplicatePolicy = "drop", full_catalogue: bool = False
) -> InteractionData:
    """Read MovieLens 100K (``u.data``, ``u.item``, ``u.user``).

    ``u.data`` is tab-separated ``user item rating timestamp`` (epoch seconds); ``u.item`` is
    ``|``-separated ``item|title|release date|video release date|IMDb URL|19 genre flags``; ``u.user`` is
    ``user|age|gender|occupation|zip``.

    Returns:
        `InteractionData` (943 users, 1,682 items, 100,000 ratings for the official release) with
        ``items``: title, year, release_date (Date), imdb_url, genres (List(String), from the flags in
        `ML100K_GENRES` order); ``users``: age (Int64), gender, occupation, zip_code (String). User and
        item ids are the files' integers.

    Raises:
        DataValidationError: the folder or ``u.data`` is missing or malformed (names the file/row).
    """
    data, report = _ml100k(folder, duplicates=duplicates, full_catalogue=full_catalogue)
    emit_report(report)
    return data


def _ml100k(folder: PathLike, *, duplicates: DuplicatePolicy, full_catalogue: bool
            ) -> tuple[InteractionData, ValidationReport]:
    root = _folder(folder)
    ratings_path = _need(root / "u.data", "ratings (u.data)")
    ratings = read_frame(ratings_path, sep="\t", has_header=False, column_names=_RATING_COLS)
    items = users = None
    if (root / "u.item").is_file():
        genres = ML100K_GENRES
        names = ["item", "title", "release_date", "video_release_date", "imdb_url", *(f"_g{i}" for i in
                                                                                        range(len(genres)))]
        raw = read_frame(root / "u.item", sep="|", has_header=False, column_names=names, quote_char=None)
        flags = [pl.when(pl.col(f"_g{i}") == 1).then(pl.lit(g)) for i, g in enumerate(genres)]
        items = raw.select(
            "item",
            pl.col("title").cast(pl.String),
            _year_from_title(pl.col("title").cast(pl.String)),
            pl.col("release_date").cast(pl.String).str.strptime(pl.Date, "%d-%b-%Y", strict=False),
            pl.col("imdb_url").cast(pl.String),
            pl.concat_list(flags).list.drop_nulls().alias("genres"),
        )
    if (root / "u.user").is_file():
        users = read_frame(root / "u.user", sep="|", has_header=False, quote_char=None,
                           column_names=["user", "age", "gender", "occupation", "zip_code"])
        users = users.with_columns(pl.col("zip_code").cast(pl.String))
    return build_interactions(
        ratings, rating_col="rating", time_col="timestamp", duplicates=duplicates,
        users=users, items=items, full_catalogue=full_catalogue, name=str(ratings_path),
    )


# ------------------------------------------------------------------------------------------ ML-1M


def read_movielens_1m_with_report(
    folder: PathLike, *, duplicates: DuplicatePolicy = "drop", full_catalogue: bool = False
) -> tuple[InteractionData, ValidationReport]:
    """`read_movielens_1m`, returning ``(data, report)`` (no warning; the report is logged)."""
    out = _ml1m(folder, duplicates=duplicates, full_catalogue=full_catalogue)
    emit_report(out[1], warn=False)
    return out


def read_movielens_1m(
    folder: PathLike, *, duplicates: DuplicatePolicy = "drop", full_catalogue: bool = False
) -> InteractionData:
    """Read MovieLens 1M (``::``-separated ``ratings.dat``, ``movies.dat``, ``users.dat``).

    Ratings come from ``ratings.dat`` (``user::item::rating::timestamp``, epoch seconds) when present;
    otherwise from a single ``ratings*.csv`` (comma-separated ``user,item,rating[,timestamp]``, with or
    without a header), as in the 3,000-user subset in ``../shared/data/ml-1m-subset``, which has no
    time column.

    Returns:
        `InteractionData` with ``items``: title, year, genres (List(String), split on ``|``);
        ``users``: gender, age (Int64 age-bucket code: 1, 18, 25, 35, 45, 50, 56), occupation (String
        label from `ML1M_OCCUPATIONS`), occupation_code (Int64), zip_code (String).

    Raises:
        DataValidationError: no ratings file, several ``ratings*.csv`` candidates, or malformed files.
    """
    data, report = _ml1m(folder, duplicates=duplicates, full_catalogue=full_catalogue)
    emit_report(report)
    return data


def _ml1m_ratings(root: Path) -> tuple[pl.DataFrame, Path]:
    dat = root / "ratings.dat"
    if dat.is_file():
        return read_frame(dat, sep="::", has_header=False, column_names=_RATING_COLS), dat
    csvs = sorted(root.glob("ratings*.csv"))
    if len(csvs) != 1:
        raise DataValidationError(
            "no ratings.dat and " + ("no ratings*.csv" if not csvs else
                                     f"several ratings*.csv ({', '.join(p.name for p in csvs)})"),
            source=str(root), hint="keep one ratings file in the folder, or use read_table",
        )
    path = csvs[0]
    with path.open("rb") as fh:
        first = fh.readline().decode("latin-1").strip()
    fields = [f.strip() for f in first.split(",")]
    has_header = not fields[0].lstrip("-").isdigit()
    if len(fields) not in (3, 4):
        raise DataValidationError(
            f"expected 3 or 4 comma-separated fields (user,item,rating[,timestamp]), line 1 has {len(fields)}",
            source=str(path), row=1,
        )
    frame = read_frame(path, sep=",", has_header=has_header, column_names=_RATING_COLS[: len(fields)])
    return frame, path


def _ml1m(folder: PathLike, *, duplicates: DuplicatePolicy, full_catalogue: bool
          ) -> tuple[InteractionData, ValidationReport]:
    root = _folder(folder)
    ratings, path = _ml1m_ratings(root)
    items = users = None
    if (root / "movies.dat").is_file():
        raw = read_frame(root / "movies.dat", sep="::", has_header=False, column_names=["item", "title", "genres"])
        items = raw.select("item", pl.col("title").cast(pl.String), _year_from_title(pl.col("title").cast(pl.String)),
                           _split_genres())
    if (root / "users.dat").is_file():
        raw = read_frame(root / "users.dat", sep="::", has_header=False,
                         column_names=["user", "gender", "age", "occupation_code", "zip_code"])
        labels = pl.Series(ML1M_OCCUPATIONS)
        users = raw.select(
            "user", pl.col("gender").cast(pl.String), "age",
            pl.col("occupation_code").replace_strict(
                pl.Series(range(len(labels))), labels, default=None, return_dtype=pl.String
            ).alias("occupation"),
            "occupation_code", pl.col("zip_code").cast(pl.String),
        )
    has_time = "timestamp" in ratings.columns
    return build_interactions(
        ratings, rating_col="rating", time_col="timestamp" if has_time else None,
        duplicates=duplicates, users=users, items=items,
        full_catalogue=full_catalogue, name=str(path),
    )


# ------------------------------------------------------------------------------------------ ML latest


def read_movielens_latest_with_report(
    folder: PathLike, *, duplicates: DuplicatePolicy = "drop", full_catalogue: bool = False
) -> tuple[InteractionData, ValidationReport]:
    """`read_movielens_latest`, returning ``(data, report)`` (no warning; the report is logged)."""
    out = _mllatest(folder, duplicates=duplicates, full_catalogue=full_catalogue)
    emit_report(out[1], warn=False)
    return out


def read_movielens_latest(
    folder: PathLike, *, duplicates: DuplicatePolicy = "drop", full_catalogue: bool = False
) -> InteractionData:
    """Read MovieLens "latest" / "latest-small" / 20M / 25M (``ratings.csv``, ``movies.csv``).

    ``ratings.csv`` has a header ``userId,movieId,rating,timestamp`` (epoch seconds, ratings 0.5–5);
    ``movies.csv`` has ``movieId,title,genres`` (``|``-separated; ``(no genres listed)`` becomes []).

    Returns:
        `InteractionData` (610 users, 100,836 ratings and 9,724 rated of 9,742 movies for latest-small)
        with ``items``: title, year, genres (List(String)).

    Raises:
        DataValidationError: the folder or ``ratings.csv`` is missing or malformed.
    """
    data, report = _mllatest(folder, duplicates=duplicates, full_catalogue=full_catalogue)
    emit_report(report)
    return data


def _mllatest(folder: PathLike, *, duplicates: DuplicatePolicy, full_catalogue: bool
              ) -> tuple[InteractionData, ValidationReport]:
    root = _folder(folder)
    path = _need(root / "ratings.csv", "ratings (ratings.csv)")
    ratings = read_frame(path, sep=",")
    items = None
    if (root / "movies.csv").is_file():
        raw = read_frame(root / "movies.csv", sep=",")
        items = raw.select(pl.col("movieId"), pl.col("title").cast(pl.String),
                           _year_from_title(pl.col("title").cast(pl.String)),
                           _split_genres(none_label="(no genres listed)"))
    return build_interactions(
        ratings, user_col="userId", item_col="movieId", rating_col="rating", time_col="timestamp",
        duplicates=duplicates, items=items, full_catalogue=full_catalogue, name=str(path),
    )


# ------------------------------------------------------------------------------------------ any format


def read_movielens(
    folder: PathLike, *, duplicates: DuplicatePolicy = "drop", full_catalogue: bool = False
) -> InteractionData:
    """Read an unpacked MovieLens folder of any supported format, chosen by the files present:
    ``u.data`` -> `read_movielens_100k`; ``ratings.dat`` or ``movies.dat`` -> `read_movielens_1m`;
    ``ratings.csv`` -> `read_movielens_latest`.

    Raises:
        DataValidationError: the folder holds none of those files.
    """
    root = _folder(folder)
    if (root / "u.data").is_file():
        return read_movielens_100k(root, duplicates=duplicates, full_catalogue=full_catalogue)
    if (root / "ratings.dat").is_file() or (root / "movies.dat").is_file():
        return read_movielens_1m(root, duplicates=duplicates, full_catalogue=full_catalogue)
    if (root / "ratings.csv").is_file():
        return read_movielens_latest(root, duplicates=duplicates, full_catalogue=full_catalogue)
    raise DataValidationError(
        "not a MovieLens folder: found none of u.data, ratings.dat, movies.dat, ratings.csv",
        source=str(root), hint="pass the unpacked folder, or use read_table for other layouts",
    )


__all__ = [
    "ML1M_OCCUPATIONS", "ML100K_GENRES", "read_movielens", "read_movielens_1m", "read_movielens_1m_with_report",
    "read_movielens_100k", "read_movielens_100k_with_report", "read_movielens_latest",
    "read_movielens_latest_with_report",
]
