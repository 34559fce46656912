"""Inputs that mislead (issue 12): header-less files of ids and dates, a wrong separator, null tokens in
the time column, implausible timestamps and mixed-type pandas columns each get a clear message."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from synthrec.cli import app
from synthrec.config import DataConfig
from synthrec.data.readers import from_pandas, read_table
from synthrec.data.validation import DataQualityWarning, header_looks_like_data
from synthrec.errors import DataValidationError
from synthrec.experiments.data_source import load_data

runner = CliRunner()


# ------------------------------------------------------------------------------------------ 1. header-less / sep


@pytest.mark.parametrize("lines", [
    ["USER_894,ITEM_1,4", "USER_894,ITEM_2,5", "USER_12,ITEM_1,3"],
    ["u1,i1,2020-01-05", "u1,i2,2020-01-06", "u2,i1,2020-02-01"],
    ["2020-01-05,10,3", "2020-01-06,10,4", "2020-01-07,11,4"],
])
def test_headerless_ids_and_dates_get_the_columns_hint(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "log.csv"
    path.write_text("\n".join(lines) + "\n")
    res = runner.invoke(app, ["inspect", str(path)])
    assert res.exit_code == 2
    assert "--columns" in res.output and "--user-col" not in res.output
    with pytest.raises(DataValidationError, match=r"no header line") as info:
        load_data(DataConfig(path=path))
    assert "data.column_names" in str(info.value)


def test_real_headers_are_not_taken_for_data() -> None:
    assert not header_looks_like_data(["user", "item", "rating"], ["u1", "i1", "4"])
    assert not header_looks_like_data(["user_id", "item_id"], ["USER_1", "ITEM_2"])
    assert not header_looks_like_data(["col1", "col2"], ["u1", "i1"])
    assert header_looks_like_data(["1", "1_duplicated_0", "5"], None)
    assert header_looks_like_data(["USER_894", "ITEM_1", "4"], ["USER_12", "ITEM_99", "3.5"])
    assert header_looks_like_data(["A3SGXH7AUHU8GW", "B00004S5GQ"], ["A1B2C3D4E5F6G7", "B0000A1HV4"])


def test_wrong_separator_suggests_sep(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item,rating\n1,10,4\n2,10,5\n")
    res = runner.invoke(app, ["inspect", str(path), "--sep", ";"])
    assert res.exit_code == 2
    assert "--sep ','" in res.output and "--user-col" not in res.output
    with pytest.raises(DataValidationError, match=r"separator") as info:
        load_data(DataConfig(path=path, sep=";"))
    assert "data.sep" in str(info.value)


# ------------------------------------------------------------------------------------------ 2. null time tokens


@pytest.mark.parametrize("token", ["NULL", "null", "NA", "N/A", "NaN", "None", ""])
def test_null_tokens_in_the_time_column_drop_the_row_with_a_warning(tmp_path: Path, token: str) -> None:
    path = tmp_path / "log.csv"
    path.write_text(f"user,item,timestamp\n1,10,1600000000\n1,11,{token}\n2,10,1600000100\n2,12,1600000200\n")
    with pytest.warns(DataQualityWarning, match=r"log\.csv.*'timestamp'.*1 of 4 row.*first at row 2.*dropped"):
        data = read_table(path, time_col="timestamp")
    assert data.n_interactions == 3
    assert data.interactions["timestamp"].null_count() == 0


def test_every_time_missing_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item,timestamp\n1,10,NULL\n2,11,NA\n")
    with pytest.raises(DataValidationError, match=r"every time value is missing.*--time-col none"):
        read_table(path, time_col="timestamp")


def test_null_time_tokens_with_a_time_format(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item,day\n1,10,20200105\n1,11,NULL\n2,10,20200107\n")
    with pytest.warns(DataQualityWarning, match=r"first at row 2"):
        data = read_table(path, time_col="day", time_format="%Y%m%d")
    assert data.n_interactions == 2


# ------------------------------------------------------------------------------------------ 5. implausible times


def test_far_future_times_warn_with_count_range_and_unit(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item,ts\n1,10,1600000000\n1,11,100000000000\n2,10,1600000100\n2,11,1600000200\n")
    with pytest.warns(DataQualityWarning, match=r"1 of 4 time\(s\) are implausible.*5138-11-16.*--time-unit ms"):
        data = read_table(path, time_col="ts")
    assert data.n_interactions == 4


def test_negative_times_warn(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item,ts\n1,10,-5000\n1,11,1600000000\n")
    with pytest.warns(DataQualityWarning, match=r"1 of 2 time\(s\) are implausible.*1969-12-31"):
        read_table(path, time_col="ts")


def test_seconds_read_as_milliseconds_warn(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item,ts\n1,10,1600000000\n1,11,1600000100\n")
    with pytest.warns(DataQualityWarning, match=r"every time falls in 1970.*--time-unit s"):
        read_table(path, time_col="ts", time_unit="ms")


def test_plausible_times_do_not_warn(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item,ts\n1,10,1600000000\n2,11,1600000100\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_table(path, time_col="ts")


# ------------------------------------------------------------------------------------------ 6. pandas mixed types


def test_pandas_mixed_object_column_names_the_column_and_the_fix() -> None:
    df = pd.DataFrame({"user": [1, "a", 2], "item": [10, 11, 12]})
    with pytest.raises(DataValidationError, match=r"column 'user' mixes value types.*astype\(str\)"):
        from_pandas(df)
    df["user"] = df["user"].astype(str)
    assert from_pandas(df).n_users == 3


def test_a_dropped_untimed_row_is_warned_once_even_when_repeats_are_reported(tmp_path: Path) -> None:
    from synthrec.data.readers import read_table

    path = tmp_path / "log.csv"
    path.write_text("user,item,timestamp\n1,10,1500000000\n1,11,NULL\n2,10,1500000200\n2,10,1500000300\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_table(path, time_col="timestamp")
    texts = [str(w.message) for w in caught]
    assert sum("have no time" in t for t in texts) == 1, texts
    assert any("repeated (user, item) pair" in t for t in texts)  # the summary warning still comes


@pytest.mark.parametrize("typed", ["\\t", "tab", "\t"])
def test_a_tab_separator_as_typed_in_a_shell(tmp_path: Path, typed: str) -> None:
    from typer.testing import CliRunner

    from synthrec.cli import app

    path = tmp_path / "log.txt"
    path.write_text("user\titem\n1\t2\n3\t4\n")
    res = CliRunner().invoke(app, ["inspect", str(path), "--sep", typed], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "2 / 2 / 2" in res.output


def test_column_names_that_do_not_fit_line_1_get_a_clear_error(tmp_path: Path) -> None:
    from synthrec.data.readers import read_frame
    from synthrec.errors import DataValidationError

    path = tmp_path / "log.csv"
    path.write_text("1,10,4,1500000000\n2,11,3,1500000100\n")
    with pytest.raises(DataValidationError, match=r"3 column name\(s\) given .* line 1 has 4 field\(s\).*"
                                                  r"--columns user,item,rating,col4"):
        read_frame(path, sep=",", has_header=False, column_names=["user", "item", "rating"])
    with pytest.raises(DataValidationError, match=r"line 1 has 1 field\(s\) with separator ';'.*check --sep"):
        read_frame(path, sep=";", has_header=False, column_names=["user", "item", "rating", "ts"])
    assert read_frame(path, sep=",", has_header=False, column_names=["u", "i", "r", "t"]).height == 2
