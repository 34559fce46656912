"""MovieLens readers: the P4 Latin-1 folder and the real copies in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from synthrec.data.movielens import (
    ML1M_OCCUPATIONS,
    read_movielens,
    read_movielens_1m,
    read_movielens_1m_with_report,
    read_movielens_100k,
    read_movielens_latest,
)
from synthrec.errors import DataValidationError


def _ml1m_folder(root: Path, *, ratings: bool = True) -> Path:
    root.mkdir()
    (root / "movies.dat").write_bytes(
        "1::Café Noir (1995)::Comedy|Drama\r\n2::Heat (1995)::Action|Crime|Thriller\r\n".encode("latin-1")
    )
    (root / "users.dat").write_bytes(b"1::F::1::10::48067\n2::M::56::16::70072\n")
    if ratings:
        (root / "ratings.dat").write_bytes(b"1::1::5::978300760\n2::2::3::978302109\n1::2::4::978301968\n")
    return root


def test_p4_latin1_movies_keep_accents_and_genres_split(tmp_path: Path) -> None:
    data = read_movielens_1m(_ml1m_folder(tmp_path / "ml"))
    assert (data.n_users, data.n_items, data.n_interactions) == (2, 2, 3)
    assert data.items is not None
    cafe = data.items.filter(pl.col("item") == int(data.dense_items([1])[0])).row(0, named=True)
    assert cafe["title"] == "Café Noir (1995)"
    assert cafe["year"] == 1995
    assert cafe["genres"] == ["Comedy", "Drama"]
    assert data.items.schema["genres"] == pl.List(pl.String)
    assert data.interactions["timestamp"].to_list() == [978300760, 978302109, 978301968]
    assert data.users is not None
    assert data.users.select("gender", "age", "occupation", "occupation_code", "zip_code").rows() == [
        ("F", 1, "K-12 student", 10, "48067"), ("M", 56, "self-employed", 16, "70072")]


def test_ml1m_ratings_csv_fallback_with_and_without_header(tmp_path: Path) -> None:
    root = _ml1m_folder(tmp_path / "a", ratings=False)
    (root / "ratings_small.csv").write_text("1,1,5\n2,2,3\n")
    data, report = read_movielens_1m_with_report(root)
    assert not data.has_timestamp and data.n_interactions == 2
    assert report.source.endswith("ratings_small.csv")
    root_b = _ml1m_folder(tmp_path / "b", ratings=False)
    (root_b / "ratings.csv").write_text("user,item,rating,timestamp\n1,1,5,978300760\n")
    assert read_movielens_1m(root_b).interactions["timestamp"].to_list() == [978300760]


def test_ml1m_without_any_ratings_file(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"no ratings\.dat and no ratings\*\.csv"):
        read_movielens_1m(_ml1m_folder(tmp_path / "c", ratings=False))


def test_not_a_movielens_folder(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="not a MovieLens folder"):
        read_movielens(tmp_path)
    with pytest.raises(DataValidationError, match="MovieLens folder not found"):
        read_movielens_100k(tmp_path / "missing")


def test_real_ml100k(shared_data: Path) -> None:
    data = read_movielens_100k(shared_data / "ml-100k")
    assert (data.n_users, data.n_items, data.n_interactions) == (943, 1682, 100_000)
    assert data.has_timestamp and data.has_rating
    items, users = data.items, data.users
    assert items is not None and users is not None
    assert items.height == 1682 and users.height == 943
    toy = items.filter(pl.col("item") == int(data.dense_items([1])[0])).row(0, named=True)
    assert toy["title"] == "Toy Story (1995)" and toy["year"] == 1995
    assert toy["genres"] == ["Animation", "Children's", "Comedy"]
    assert str(toy["release_date"]) == "1995-01-01"
    u1 = users.filter(pl.col("user") == int(data.dense_users([1])[0])).row(0, named=True)
    assert (u1["age"], u1["gender"], u1["occupation"], u1["zip_code"]) == (24, "M", "technician", "85711")
    assert users.schema["zip_code"] == pl.String
    # Genre flags: total flag count from an independent count over the raw file.
    raw = (shared_data / "ml-100k" / "u.item").read_text(encoding="latin-1").splitlines()
    n_flags = sum(int(f) for line in raw for f in line.split("|")[5:])
    assert int(items["genres"].list.len().sum()) == n_flags


def test_real_ml1m_subset(shared_data: Path) -> None:
    data = read_movielens(shared_data / "ml-1m-subset")
    assert (data.n_users, data.n_items, data.n_interactions) == (3000, 1462, 207_544)
    assert not data.has_timestamp
    assert data.users is not None and data.users.height == 3000
    assert data.items is not None and data.items.height == 1462
    assert set(data.users["occupation"].unique().to_list()) <= set(ML1M_OCCUPATIONS)
    jumanji = data.items.filter(pl.col("item") == int(data.dense_items([2])[0])).row(0, named=True)
    assert jumanji["title"] == "Jumanji (1995)" and jumanji["genres"] == ["Adventure", "Children's", "Fantasy"]


def test_real_ml_latest_small(shared_data: Path) -> None:
    data = read_movielens_latest(shared_data / "ml-latest-small")
    assert (data.n_users, data.n_interactions) == (610, 100_836)
    assert data.n_items == 9724  # rated movies
    full = read_movielens(shared_data / "ml-latest-small", full_catalogue=True)
    assert full.n_items == 9742 and full.items is not None and full.items.height == 9742
    assert full.to_csr().shape == (610, 9742)
    no_genre = full.items.filter(pl.col("genres").list.len() == 0).height
    raw = pl.read_csv(shared_data / "ml-latest-small" / "movies.csv")
    assert no_genre == raw.filter(pl.col("genres") == "(no genres listed)").height > 0
