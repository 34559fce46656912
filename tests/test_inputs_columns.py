"""One rule picks the standard `rating` and `timestamp` / `ts` / `time` columns, for the CLI data options,
a `synthrec run` config's data section and a `synthrec bench` dataset alike (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthrec.commands._data_options import load_cli_data
from synthrec.config import DataConfig
from synthrec.data.interactions import InteractionData
from synthrec.experiments.bench.config import BenchDataset
from synthrec.experiments.bench.datasets import load_bench_dataset
from synthrec.experiments.data_source import load_data, pick_standard_columns


def _columns(data: object) -> list[str]:
    assert isinstance(data, InteractionData)
    return data.interactions.columns


@pytest.mark.parametrize("time_name", ["timestamp", "ts", "time"])
def test_cli_run_and_bench_pick_the_same_columns(tmp_path: Path, time_name: str) -> None:
    path = tmp_path / f"log_{time_name}.csv"
    rows = [f"{u},{i},{(u + i) % 5 + 1},{1_600_000_000 + 60 * (u * 10 + i)}" for u in range(6) for i in range(4)]
    path.write_text(f"user,item,rating,{time_name}\n" + "\n".join(rows) + "\n")
    cli = load_cli_data(str(path), "user", "item", None, None, "s", None, None, None)
    run = load_data(DataConfig(path=path))
    bench = load_bench_dataset(BenchDataset(name=f"d-{time_name}", data=DataConfig(path=path),
                                            min_user_interactions=1))
    expected = ["user", "item", "timestamp", "rating"]
    assert _columns(cli) == _columns(run) == _columns(bench) == expected
    assert isinstance(cli, InteractionData)
    assert cli.interactions.equals(run.interactions)


def test_a_partly_empty_rating_is_left_out_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("user,item,rating,ts\n1,10,4,1600000000\n1,11,,1600000100\n2,10,,1600000200\n")
    cli = load_cli_data(str(path), "user", "item", None, None, "s", None, None, None)
    with pytest.warns(UserWarning, match=r"'rating' has 2 empty value"):
        run = load_data(DataConfig(path=path))
    assert _columns(cli) == _columns(run) == ["user", "item", "timestamp"]


def test_named_and_none_columns_win() -> None:
    cols = ["user", "item", "rating", "ts", "time"]
    pick = pick_standard_columns(cols, user_col="user", item_col="item", rating_col=None, time_col=None)
    assert (pick.rating_col, pick.time_col, pick.picked) == ("rating", "ts", ("rating", "time"))
    pick = pick_standard_columns(cols, user_col="user", item_col="item", rating_col="none", time_col="time")
    assert (pick.rating_col, pick.time_col, pick.picked) == (None, "time", ())
    pick = pick_standard_columns(["ts", "item", "x"], user_col="ts", item_col="item", rating_col=None,
                                 time_col=None)
    assert (pick.rating_col, pick.time_col) == (None, None)


def test_report_reads_standard_time_columns_like_every_entry_point(tmp_path: Path) -> None:
    """`synthrec report` once knew only `timestamp`: a `ts` column was silently ignored."""
    from synthrec.commands.report import ColumnSpec, load_log

    for name in ("timestamp", "ts", "time"):
        path = tmp_path / f"log_{name}.csv"
        path.write_text(f"customer_id,sku,{name}\nu1,a,1500000000\nu1,b,1500000100\nu2,a,1500000200\n")
        data = load_log(path, ColumnSpec(user_col="customer_id", item_col="sku"))
        assert data.has_timestamp, name
    plain = tmp_path / "no_time.csv"
    plain.write_text("customer_id,sku,when\nu1,a,1\nu2,b,2\n")
    assert not load_log(plain, ColumnSpec(user_col="customer_id", item_col="sku")).has_timestamp


def test_report_says_when_a_partly_empty_rating_column_is_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from synthrec.commands.report import ColumnSpec, load_log

    path = tmp_path / "log.csv"
    path.write_text("user,item,rating\nu1,a,4\nu1,b,\nu2,a,3\n")
    data = load_log(path, ColumnSpec())
    assert not data.has_rating
    assert "column 'rating' has 1 empty value(s)" in " ".join(capsys.readouterr().err.split())


def test_item_tie_order_takes_numpy_seeds() -> None:
    import numpy as np
    import polars as pl

    from synthrec.data.ordering import item_tie_order

    ids = pl.Series(["a", "b", "c"])
    assert item_tie_order(ids, np.int64(-5)).tolist() == item_tie_order(ids, -5).tolist()
