"""Validation: duplicate policy and report (P3), error messages, attribute blanks (P15), time (P13)."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from synthrec.data.readers import from_pandas, from_polars, load_with_report, read_table
from synthrec.data.validation import (
    DataQualityWarning,
    ValidationReport,
    check_duplicates,
    clean_attribute_table,
    to_epoch_seconds,
)
from synthrec.errors import DataValidationError

DAY = 86_400
JAN1_2020 = 1_577_836_800  # 2020-01-01T00:00:00Z


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# ------------------------------------------------------------------------------------------ P3 duplicates

P3_ROWS = (
    "user,item,rating,ts\n"
    "u1,i1,4,100\n"
    "u1,i2,3,110\n"
    "u1,i1,4,100\n"   # exact duplicate of row 1
    "u2,i1,5,120\n"
    "u1,i2,5,200\n"   # later repeat of (u1, i2) with another time and rating
    "u2,i3,2,130\n"
)


def test_p3_report_counts_one_duplicate_and_one_repeated_pair(tmp_path: Path) -> None:
    path = _write(tmp_path / "p3.csv", P3_ROWS)
    data, report = load_with_report(path, rating_col="rating", time_col="ts")
    assert isinstance(report, ValidationReport)
    assert (report.rows_read, report.exact_duplicates, report.repeated_pairs, report.repeated_events) == (6, 1, 1, 1)
    assert report.duplicate_policy == "drop"
    assert report.rows_kept == 5 and data.n_interactions == 5
    assert (report.n_users, report.n_items) == (2, 3)
    # The repeat stays as a separate event; the duplicate is gone; file order is kept.
    assert data.interactions["timestamp"].to_list() == [100, 110, 120, 200, 130]
    # to_csr("binary") collapses the repeat, "count" counts it.
    assert data.to_csr("binary").nnz == 4
    u1, i2 = 0, 1
    assert data.to_csr("count")[u1, i2] == 2.0
    assert data.to_csr("binary")[u1, i2] == 1.0
    assert "1 exact duplicate row(s) dropped" in report.summary()
    assert report.to_dict()["repeated_pairs"] == 1


def test_p3_read_table_is_never_silent(tmp_path: Path) -> None:
    path = _write(tmp_path / "p3.csv", P3_ROWS)
    with pytest.warns(DataQualityWarning, match=r"1 exact duplicate row\(s\) dropped.*1 repeated \(user, item\) pair"):
        data = read_table(path, rating_col="rating", time_col="ts")
    assert data.n_interactions == 5


def test_no_warning_without_findings(tmp_path: Path) -> None:
    path = _write(tmp_path / "ok.csv", "user,item\n1,2\n1,3\n2,2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        data = read_table(path)
    assert data.n_interactions == 3


def test_p3_keep_policy_keeps_the_duplicate(tmp_path: Path) -> None:
    path = _write(tmp_path / "p3.csv", P3_ROWS)
    data, report = load_with_report(path, rating_col="rating", time_col="ts", duplicates="keep")
    assert report.exact_duplicates == 1 and report.rows_kept == 6 and data.n_interactions == 6
    assert data.to_csr("count")[0, 0] == 2.0


def test_p3_error_policy_names_the_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "p3.csv", P3_ROWS)
    with pytest.raises(DataValidationError, match=r"p3\.csv.*row 3.*row 3 is an exact duplicate of row 1") as exc:
        read_table(path, rating_col="rating", time_col="ts", duplicates="error")
    assert exc.value.row == 3


def test_duplicates_are_judged_on_all_source_columns() -> None:
    # Same user/item/rating but a different unused column: not an exact duplicate, a repeated pair.
    frame = pl.DataFrame({"user": [1, 1], "item": [5, 5], "note": ["a", "b"]})
    out, report = check_duplicates(frame, user_col="user", item_col="item")
    assert report.exact_duplicates == 0 and report.repeated_pairs == 1 and out.height == 2


def test_repeated_pairs_count_pairs_and_events_separately() -> None:
    frame = pl.DataFrame({"user": [1, 1, 1, 2, 2], "item": [5, 5, 5, 6, 6], "t": [1, 2, 3, 4, 5]})
    _, report = check_duplicates(frame, user_col="user", item_col="item")
    assert (report.repeated_pairs, report.repeated_events) == (2, 3)


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(DataValidationError, match="unknown duplicates policy"):
        check_duplicates(pl.DataFrame({"u": [1], "i": [1]}), user_col="u", item_col="i", policy="nope")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ errors


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "userId,movieId\n1,2\n")
    with pytest.raises(DataValidationError, match=r"file .*log\.csv, column 'user': required user column is missing "
                                                  r"\(columns found: userId, movieId\).*--user-col") as exc:
        read_table(path)
    assert exc.value.column == "user"


def test_empty_id_names_row(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item\n1,2\n2,\n3,4\n")
    with pytest.raises(DataValidationError, match=r"log\.csv, column 'item', row 2: 1 missing or empty id") as exc:
        read_table(path)
    assert (exc.value.column, exc.value.row) == ("item", 2)


def test_blank_string_id_names_row(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item\na,x\n  ,y\n")
    with pytest.raises(DataValidationError, match=r"column 'user', row 2"):
        read_table(path)


def test_nan_id_in_pandas_names_row() -> None:
    df = pd.DataFrame({"user": [1.0, np.nan, 3.0], "item": [1, 2, 3]})
    with pytest.raises(DataValidationError, match=r"<pandas DataFrame>, column 'user', row 2"):
        from_pandas(df)


def test_non_numeric_rating_names_row_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item,rating\n1,2,4\n1,3,five\n")
    with pytest.raises(DataValidationError, match=r"log\.csv, column 'rating', row 2: non-numeric rating 'five'"):
        read_table(path, rating_col="rating")


def test_millisecond_timestamps_are_detected(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item,ts\n1,2,1600000000000\n1,3,1600000001000\n")
    with pytest.raises(DataValidationError, match=r"log\.csv, column 'ts': timestamps look like milliseconds.*time_unit='ms'"):
        read_table(path, time_col="ts")
    data = read_table(path, time_col="ts", time_unit="ms")
    assert data.interactions["timestamp"].to_list() == [1_600_000_000, 1_600_000_001]


def test_zero_byte_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.csv", "")
    with pytest.raises(DataValidationError, match=r"file .*empty\.csv: the file is empty \(0 bytes\)"):
        read_table(path)


def test_header_only_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "header.csv", "user,item,rating\n")
    with pytest.raises(DataValidationError, match=r"file .*header\.csv: the file has a header but no data rows"):
        read_table(path, rating_col="rating")


def test_empty_frame() -> None:
    with pytest.raises(DataValidationError, match=r"<polars DataFrame>: the input has no rows"):
        from_polars(pl.DataFrame({"user": [], "item": []}))


# ------------------------------------------------------------------------------------------ P15 attributes


def test_p15_blank_categories_become_one_missing_category() -> None:
    channel = ["web", "", "app", "tv", "  ", "web", None, "app", "", "tv"]
    table = pl.DataFrame({"item": list(range(10)), "channel": channel})
    clean, notes = clean_attribute_table(table, key="item", name="items.csv")
    assert clean.height == 10
    assert clean["channel"].null_count() == 4
    assert clean["channel"].n_unique() == 4  # web, app, tv and missing
    assert sorted(clean["channel"].drop_nulls().unique().to_list()) == ["app", "tv", "web"]
    assert notes == ["items.csv: column 'channel' has 3 blank cell(s), read as missing (null)"]


def test_p15_blanks_survive_reading_with_an_items_file(tmp_path: Path) -> None:
    inter = _write(tmp_path / "log.csv", "user,item\n" + "".join(f"u{k % 3},{k}\n" for k in range(10)))
    # Two cells are empty (",,") and two hold only blanks; all four are "missing".
    items = _write(tmp_path / "items.csv", "item,channel\n0,web\n1,\n2,app\n3,tv\n4, \n5,web\n6,\n7,app\n8,  \n9,tv\n")
    data, report = load_with_report(inter, items=items)
    assert data.items is not None and data.items.height == 10
    assert data.items["item"].dtype == pl.Int32 and data.items["item"].to_list() == list(range(10))
    assert data.items["channel"].null_count() == 4
    assert data.items["channel"].n_unique() == 4
    assert data.items["channel"].null_count() / data.items.height == pytest.approx(0.4)
    assert report.notes == (f"{items}: column 'channel' has 2 blank cell(s), read as missing (null)",)


def test_attribute_table_duplicate_key_names_row() -> None:
    table = pl.DataFrame({"user": ["a", "b", "a"], "age": [1, 2, 3]})
    with pytest.raises(DataValidationError, match=r"users\.csv, column 'user', row 3: key 'a' appears more than once"):
        clean_attribute_table(table, key="user", name="users.csv")


# ------------------------------------------------------------------------------------------ P13 time


P13_SECONDS = [JAN1_2020 + k * DAY for k in range(6)]
P13_DATES = [dt.date(2020, 1, 1) + dt.timedelta(days=k) for k in range(6)]


def _p13_frame(times: object) -> pd.DataFrame:
    return pd.DataFrame({"user": [1, 1, 1, 2, 2, 2], "item": [10, 11, 12, 10, 13, 14], "t": times})


@pytest.mark.parametrize(
    ("times", "kwargs"),
    [
        (pd.to_datetime(P13_DATES), {}),                                      # datetime64[ns]
        (pd.to_datetime(P13_DATES).astype("datetime64[ms]"), {}),             # other unit
        (pd.to_datetime(P13_DATES).tz_localize("UTC"), {}),                   # tz-aware UTC
        (P13_DATES, {}),                                                      # datetime.date objects
        (P13_SECONDS, {}),                                                    # epoch seconds
        ([s * 1000 for s in P13_SECONDS], {"time_unit": "ms"}),               # epoch milliseconds
        ([int(d.strftime("%Y%m%d")) for d in P13_DATES], {"time_format": "%Y%m%d"}),  # YYYYMMDD ints
        ([d.strftime("%Y%m%d") for d in P13_DATES], {"time_format": "%Y%m%d"}),       # YYYYMMDD strings
        ([d.isoformat() for d in P13_DATES], {}),                              # ISO strings
    ],
)
def test_p13_every_time_form_gives_the_same_seconds(times: object, kwargs: dict[str, str]) -> None:
    data = from_pandas(_p13_frame(times), time_col="t", **kwargs)  # type: ignore[arg-type]
    assert data.interactions["timestamp"].dtype == pl.Int64
    assert data.interactions["timestamp"].to_list() == P13_SECONDS


def test_p13_yyyymmdd_integers_without_format_are_ambiguous() -> None:
    df = _p13_frame([int(d.strftime("%Y%m%d")) for d in P13_DATES])
    with pytest.raises(DataValidationError, match=r"column 't': ambiguous time column.*YYYYMMDD.*time_format='%Y%m%d'"):
        from_pandas(df, time_col="t")


def test_p13_yyyymmdd_in_a_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.tsv", "user\titem\tday\n1\t2\t20200101\n1\t3\t20200102\n")
    with pytest.raises(DataValidationError, match=r"log\.tsv, column 'day': ambiguous"):
        read_table(path, time_col="day")
    data = read_table(path, time_col="day", time_format="%Y%m%d")
    assert data.interactions["timestamp"].to_list() == [JAN1_2020, JAN1_2020 + DAY]


def test_p13_genuine_1970_seconds_need_the_epoch_format() -> None:
    s, _ = to_epoch_seconds(pl.Series("t", [19700101, 19700102]), time_format="%s")
    assert s.to_list() == [19700101, 19700102]


def test_tz_aware_times_are_converted_to_utc() -> None:
    paris = pd.to_datetime(["2020-01-01 01:00:00"]).tz_localize("Europe/Paris")  # = 00:00 UTC
    s, note = to_epoch_seconds(pl.from_pandas(pd.DataFrame({"t": paris}))["t"])
    assert s.to_list() == [JAN1_2020]
    assert "Europe/Paris" in note


def test_polars_datetime_ns_and_date() -> None:
    ns = pl.Series("t", [dt.datetime(2020, 1, 1, 0, 0, 1)]).cast(pl.Datetime("ns"))
    assert to_epoch_seconds(ns)[0].to_list() == [JAN1_2020 + 1]
    assert to_epoch_seconds(pl.Series("t", [dt.date(2020, 1, 2)]))[0].to_list() == [JAN1_2020 + DAY]


def test_time_format_mismatch_names_row() -> None:
    with pytest.raises(DataValidationError, match=r"column 't', row 2: time value '2020/01/02'"):
        to_epoch_seconds(pl.Series("t", ["2020-01-01", "2020/01/02"]), time_format="%Y-%m-%d", name="f.csv")


def test_unreadable_time_strings_ask_for_a_format() -> None:
    with pytest.raises(DataValidationError, match=r"cannot tell how to read time strings such as '01/02/2020'"):
        to_epoch_seconds(pl.Series("t", ["01/02/2020"]))


def test_float_epochs_are_floored() -> None:
    s, _ = to_epoch_seconds(pl.Series("t", [1.6e9 + 0.75, 1.6e9 + 2.0]))
    assert s.to_list() == [1_600_000_000, 1_600_000_002]
