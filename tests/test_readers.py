"""Generic readers: separator sniffing, encodings, Parquet, pandas/polars frames, column mapping."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from synthrec.data.readers import (
    from_pandas,
    from_polars,
    load_with_report,
    read_frame,
    read_table,
    sniff_separator,
)
from synthrec.errors import DataValidationError


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


ROWS = [("a", "x", 4.0, 100), ("a", "y", 3.0, 110), ("b", "x", 5.0, 120)]


def _expected_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {"user": [0, 0, 1], "item": [0, 1, 0], "timestamp": [100, 110, 120], "rating": [4.0, 3.0, 5.0]},
        schema={"user": pl.Int32, "item": pl.Int32, "timestamp": pl.Int64, "rating": pl.Float32},
    )


@pytest.mark.parametrize(
    ("sep", "suffix"),
    [(",", ".csv"), ("\t", ".tsv"), (";", ".txt"), ("|", ".dat"), ("::", ".dat"), (" ", ".txt")],
)
def test_sniffed_separators_give_the_same_data(tmp_path: Path, sep: str, suffix: str) -> None:
    text = sep.join(["uid", "iid", "stars", "when"]) + "\n"
    text += "".join(sep.join(map(str, r)) + "\n" for r in ROWS)
    path = _write(tmp_path / f"log{suffix}", text)
    data = read_table(path, user_col="uid", item_col="iid", rating_col="stars", time_col="when")
    assert data.interactions.equals(_expected_frame())
    assert data.user_ids.to_list() == ["a", "b"] and data.item_ids.to_list() == ["x", "y"]
    assert data.name == str(path)


def test_whitespace_runs_and_crlf(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.txt", "user   item\r\n  a  x\r\na\t y \r\nb x\r\n")
    data = read_table(path)
    assert data.user_ids.to_list() == ["a", "b"] and data.item_ids.to_list() == ["x", "y"]
    assert data.interactions["item"].to_list() == [0, 1, 0]


def test_sniffer_honours_quotes() -> None:
    lines = ['movieId,title,genres', '1,"American President, The (1995)",Comedy|Drama', '2,Heat (1995),Action']
    assert sniff_separator(lines) == ","
    assert sniff_separator(["1::Toy Story::Animation|Comedy", "2::Heat::Action"]) == "::"
    assert sniff_separator(["1\t2\t3", "4\t5\t6"]) == "\t"


def test_undetectable_separator_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "odd.txt", "a,b\nc;d\ne|f|g\n")
    with pytest.raises(DataValidationError, match=r"odd\.txt: could not detect the field separator.*line 1 is 'a,b'.*sep="):
        read_table(path)


def test_explicit_separator_overrides_sniffing(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user;item,x\n1;2,a\n3;4,b\n")
    data = read_table(path, item_col="item,x", sep=";")
    assert data.item_ids.to_list() == ["2,a", "4,b"]


def test_latin1_fallback_keeps_accents(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item\nJosé,Café Noir\nAna,Crème\n", encoding="latin-1")
    data = read_table(path)
    assert data.user_ids.to_list() == ["José", "Ana"]
    assert data.item_ids.to_list() == ["Café Noir", "Crème"]


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(b"\xef\xbb\xbfuser,item\n1,2\n")
    assert read_table(path).user_ids.to_list() == [1]


def test_numeric_ids_stay_integers_and_strings_stay_strings(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item\n7,x9\n1000003,12\n")
    data = read_table(path)
    assert data.user_ids.dtype == pl.Int64 and data.user_ids.to_list() == [7, 1_000_003]
    assert data.item_ids.dtype == pl.String and data.item_ids.to_list() == ["x9", "12"]


def test_headerless_file_with_column_names(tmp_path: Path) -> None:
    path = _write(tmp_path / "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    data = read_table(path, has_header=False, column_names=["user", "item", "rating", "ts"], rating_col="rating",
                      time_col="ts")
    assert data.user_ids.to_list() == [196, 186]
    assert data.interactions["timestamp"].to_list() == [881250949, 891717742]


def test_parquet_by_suffix(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pl.DataFrame({"u": ["a", "a", "b"], "i": ["x", "y", "x"], "r": [4, 3, 5], "t": [100, 110, 120]}).write_parquet(path)
    data = read_table(path, user_col="u", item_col="i", rating_col="r", time_col="t")
    assert data.interactions.equals(_expected_frame())


def test_pandas_polars_and_file_agree(tmp_path: Path) -> None:
    df = pd.DataFrame(ROWS, columns=["u", "i", "r", "t"])
    path = tmp_path / "log.csv"
    df.to_csv(path, index=False)
    kw = {"user_col": "u", "item_col": "i", "rating_col": "r", "time_col": "t"}
    a = from_pandas(df, **kw)  # type: ignore[arg-type]
    b = from_polars(pl.from_pandas(df), **kw)  # type: ignore[arg-type]
    c = read_table(path, **kw)  # type: ignore[arg-type]
    for d in (a, b, c):
        assert d.interactions.equals(_expected_frame())
    assert a.name == "<pandas DataFrame>" and b.name == "<polars DataFrame>"


def test_pandas_integral_float_ids_become_ints() -> None:
    df = pd.DataFrame({"user": [1.0, 2.0], "item": [3.0, 4.0]})
    data = from_pandas(df)
    assert data.user_ids.dtype == pl.Int64 and data.item_ids.to_list() == [3, 4]


def test_event_and_string_sessions(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item,kind,sess\n1,2,view,s9\n1,3,buy,s9\n2,2,view,s4\n")
    data = read_table(path, event_col="kind", session_col="sess")
    assert data.interactions["event"].to_list() == ["view", "buy", "view"]
    assert data.interactions["session"].dtype == pl.Int64
    assert data.interactions["session"].to_list() == [0, 0, 1]


def test_one_column_for_two_roles_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item\n1,2\n")
    with pytest.raises(DataValidationError, match="mapped to two roles"):
        read_table(path, item_col="user")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"nope\.csv: file not found"):
        read_table(tmp_path / "nope.csv")


def test_ragged_lines_name_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", "user,item\n1,2\n3,4,5,6\n")
    with pytest.raises(DataValidationError, match=r"bad\.csv: could not parse the file with separator ','"):
        read_table(path, sep=",")


def test_attribute_tables_and_full_catalogue(tmp_path: Path) -> None:
    log = _write(tmp_path / "log.csv", "user,item\nu1,10\nu2,11\nu1,11\n")
    items = pl.DataFrame({"item": [12, 11, 10], "color": ["red", "blue", "green"]})
    users = pd.DataFrame({"uid": ["u2", "u1", "u9"], "age": [30, 20, 50]})
    data = read_table(log, items=items, users=users, user_key="uid")
    assert data.item_ids.to_list() == [10, 11]
    assert data.items is not None and data.items.rows() == [(0, "green"), (1, "blue")]
    assert data.users is not None and data.users.rows() == [(0, 20), (1, 30)]
    full = read_table(log, items=items, full_catalogue=True)
    assert full.item_ids.to_list() == [10, 11, 12]
    assert full.items is not None and full.items.rows() == [(0, "green"), (1, "blue"), (2, "red")]
    assert full.to_csr().shape == (2, 3)


def test_load_with_report_accepts_frames() -> None:
    data, report = load_with_report(pl.DataFrame({"u": [1, 1, 1], "i": [2, 2, 3]}), user_col="u", item_col="i")
    assert report.exact_duplicates == 1 and data.n_interactions == 2
    assert report.source == "<polars DataFrame>"


def test_read_frame_keeps_mixed_zip_codes_as_strings(tmp_path: Path) -> None:
    lines = "".join(f"{k}|{10000 + k}\n" for k in range(300)) + "300|T8H1N\n"
    frame = read_frame(_write(tmp_path / "u.user", lines), sep="|", has_header=False, column_names=["user", "zip"])
    assert frame.schema["zip"] == pl.String and frame["zip"][-1] == "T8H1N"


def test_real_ml100k_u_data(shared_data: Path) -> None:
    data, report = load_with_report(shared_data / "ml-100k" / "u.data", has_header=False,
                                    column_names=["user", "item", "rating", "ts"], rating_col="rating", time_col="ts")
    assert (data.n_users, data.n_items, data.n_interactions) == (943, 1682, 100_000)
    assert report.exact_duplicates == 0 and report.repeated_pairs == 0
    assert data.interactions["rating"].sum() == pytest.approx(352_986.0)  # awk '{s+=$3} END {print s}' u.data
    first = data.interactions.row(0, named=True)
    assert (data.user_ids[first["user"]], data.item_ids[first["item"]], first["timestamp"]) == (196, 242, 881250949)


def test_real_lastfm_tab_file_with_header(shared_data: Path) -> None:
    data = read_table(shared_data / "hetrec2011-lastfm-2k" / "user_artists.dat", user_col="userID",
                      item_col="artistID", rating_col="weight")
    assert (data.n_users, data.n_items, data.n_interactions) == (1892, 17632, 92_834)
