"""RecBole atomic files: round trip, separators and headers (P5)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from synthrec.data.interactions import InteractionData
from synthrec.data.readers import from_polars
from synthrec.data.recbole import read_atomic, read_recbole, read_recbole_with_report, write_recbole
from synthrec.data.validation import DataQualityWarning
from synthrec.errors import DataValidationError


def _small() -> InteractionData:
    frame = pl.DataFrame({
        "u": ["ann", "ann", "bob", "cy", "bob"],
        "i": [7, 12, 7, 1_000_003, 12],
        "r": [4.0, 3.5, 5.0, 1.0, 2.0],
        "t": [100, 200, 150, 300, 400],
    })
    users = pl.DataFrame({"u": ["bob", "ann", "cy"], "age": [31, 25, None], "country": ["fr", "de", "fr"]})
    items = pl.DataFrame({
        "i": [7, 12, 1_000_003],
        "title": ["Café Noir (1995)", "Heat", None],
        "price": [9.5, 12.0, 3.25],
        "tags": [["noir", "drama"], [], ["x9"]],
        "emb": [[0.5, 1.5], [2.0], [0.0, -1.0]],
    })
    return from_polars(frame, user_col="u", item_col="i", rating_col="r", time_col="t", users=users, items=items,
                       name="small")


def _assert_same(a: InteractionData, b: InteractionData) -> None:
    assert a.interactions.equals(b.interactions)
    assert a.user_ids.to_list() == b.user_ids.to_list()
    assert a.item_ids.to_list() == b.item_ids.to_list()
    for ta, tb in ((a.users, b.users), (a.items, b.items)):
        assert (ta is None) == (tb is None)
        if ta is not None and tb is not None:
            assert ta.equals(tb), (ta, tb)


def test_round_trip_write_read_equals(tmp_path: Path) -> None:
    data = _small()
    inter = write_recbole(data, tmp_path / "out", "small")
    assert inter == tmp_path / "out" / "small.inter"
    lines = inter.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "user_id:token\titem_id:token\ttimestamp:float\trating:float"
    assert lines[1] == "ann\t7\t100\t4.0"
    item_lines = (tmp_path / "out" / "small.item").read_text(encoding="utf-8").splitlines()
    assert item_lines[0] == "item_id:token\ttitle:token\tprice:float\ttags:token_seq\temb:float_seq"
    assert item_lines[1] == "7\tCafé Noir (1995)\t9.5\tnoir drama\t0.5 1.5"
    back = read_recbole(tmp_path / "out" / "small")
    _assert_same(back, data)
    assert back.name == str(inter)
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_read_by_folder_and_by_file(tmp_path: Path) -> None:
    write_recbole(_small(), tmp_path, "small")
    _assert_same(read_recbole(tmp_path), read_recbole(tmp_path / "small.item"))


def test_p5_space_separated_inter_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "d.inter"
    path.write_text("user_id:token item_id:token rating:float timestamp:float\n1 10 4 100\n2  11 5 200\n")
    with pytest.warns(DataQualityWarning, match=r"d\.inter: line 1 is separated by ' ' where RecBole expects tabs"):
        data, report = read_recbole_with_report(path)
    assert data.user_ids.to_list() == [1, 2] and data.item_ids.to_list() == [10, 11]
    assert data.interactions["timestamp"].to_list() == [100, 200]
    assert data.interactions["rating"].to_list() == [4.0, 5.0]
    assert report.rows_read == 2


def test_p5_space_separated_with_sequences_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "d.item"
    path.write_text("item_id:token tags:token_seq\n1 a b\n")
    with pytest.raises(DataValidationError, match=r"d\.item: line 1: the file is separated by spaces where tabs \(\\t\) are expected"):
        read_atomic(path)


def test_p5_header_token_without_type_is_named(tmp_path: Path) -> None:
    path = tmp_path / "d.inter"
    path.write_text("user_id:token\titem_id\trating:float\n1\t2\t3\n")
    with pytest.raises(DataValidationError, match=r"d\.inter: line 1: header token 'item_id' has no ':type' suffix.*tabs"):
        read_recbole(path)


def test_unknown_header_type(tmp_path: Path) -> None:
    path = tmp_path / "d.inter"
    path.write_text("user_id:token\titem_id:int\n1\t2\n")
    with pytest.raises(DataValidationError, match=r"header token 'item_id:int' has unknown type 'int'"):
        read_recbole(path)


def test_header_without_any_separator(tmp_path: Path) -> None:
    path = tmp_path / "d.inter"
    path.write_text("user_id item_id\n1 2\n")
    with pytest.raises(DataValidationError, match=r"line 1: header token 'user_id item_id' has no ':type'"):
        read_recbole(path)


def test_bad_float_cell_names_row(tmp_path: Path) -> None:
    path = tmp_path / "d.inter"
    path.write_text("user_id:token\titem_id:token\trating:float\n1\t2\t3\n1\t3\tgood\n")
    with pytest.raises(DataValidationError, match=r"column 'rating', row 2: non-numeric value 'good'"):
        read_recbole(path)


def test_tokens_with_leading_zeros_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "d.inter"
    path.write_text("user_id:token\titem_id:token\n007\t1\n010\t2\n")
    data = read_recbole(path)
    assert data.user_ids.to_list() == ["007", "010"] and data.item_ids.to_list() == [1, 2]


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "e.inter").write_text("")
    with pytest.raises(DataValidationError, match=r"e\.inter: the file is empty \(0 bytes\)"):
        read_recbole(tmp_path / "e.inter")
    (tmp_path / "h.inter").write_text("user_id:token\titem_id:token\n")
    with pytest.raises(DataValidationError, match=r"h\.inter: the file has a header but no data rows"):
        read_recbole(tmp_path / "h.inter")
    with pytest.raises(DataValidationError, match=r"RecBole \.inter file not found"):
        read_recbole(tmp_path / "nothing")


def test_write_refuses_tabs_in_values(tmp_path: Path) -> None:
    data = from_polars(pl.DataFrame({"user": ["a\tb"], "item": [1]}))
    with pytest.raises(DataValidationError, match="contains a tab or a line break"):
        write_recbole(data, tmp_path, "bad")
    assert not list(tmp_path.iterdir())


def test_real_ml100k_round_trip(shared_data: Path, tmp_path: Path) -> None:
    from synthrec.data.movielens import read_movielens_100k

    data = read_movielens_100k(shared_data / "ml-100k")
    back = read_recbole(write_recbole(data, tmp_path, "ml-100k"))
    assert back.interactions.equals(data.interactions)
    assert back.item_ids.to_list() == data.item_ids.to_list()
    assert back.items is not None and data.items is not None
    assert back.items["genres"].equals(data.items["genres"])
    assert back.users is not None and data.users is not None
    assert back.users.select("user", "gender", "occupation", "zip_code").equals(
        data.users.select("user", "gender", "occupation", "zip_code"))
