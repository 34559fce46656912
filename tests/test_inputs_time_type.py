"""Synthetic output keeps the time type of the log the generator was fitted on (dates stay dates,
datetimes stay datetimes), or the one `--time-type` asks for (issue 12)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from synthrec.cli import app
from synthrec.data.readers import read_table
from synthrec.data.validation import source_time_type
from synthrec.data.writers import convert_times

runner = CliRunner()


def _log(path: Path, kind: str) -> Path:
    rows = []
    for u in range(40):
        for k in range(5):
            day = 1 + (u + k) % 27
            when = f"2021-03-{day:02d}" if kind == "date" else (
                f"2021-03-{day:02d}T10:{k:02d}:00" if kind == "datetime" else str(1_614_000_000 + 86_400 * day + k))
            rows.append(f"{u},{(u * 3 + k * 7) % 23},{when}")
    path.write_text("user,item,timestamp\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(("values", "fmt", "expected"), [
    (["2021-01-02", "2021-01-03"], None, "date"),
    (["2021-01-02T10:00:00", "2021-01-03 11:00"], None, "datetime"),
    (["1614000000", "NULL"], None, "seconds"),
    (["20210102"], "%Y%m%d", "date"),
    (["02/01/2021 10:00"], "%d/%m/%Y %H:%M", "datetime"),
])
def test_source_time_type(values: list[str], fmt: str | None, expected: str) -> None:
    assert source_time_type(pl.Series("t", values), time_format=fmt) == expected


def test_readers_record_the_time_type(tmp_path: Path) -> None:
    assert read_table(_log(tmp_path / "d.csv", "date"), time_col="timestamp").time_type == "date"
    assert read_table(_log(tmp_path / "s.csv", "seconds"), time_col="timestamp").time_type == "seconds"
    assert read_table(_log(tmp_path / "n.csv", "seconds")).time_type is None


def test_convert_times() -> None:
    frame = pl.DataFrame({"timestamp": pl.Series([86_400 * 3 + 5], dtype=pl.Int64)})
    assert str(convert_times(frame, "date")["timestamp"][0]) == "1970-01-04"
    assert str(convert_times(frame, "datetime")["timestamp"][0]) == "1970-01-04 00:00:05"
    assert convert_times(frame, "seconds").equals(frame)


@pytest.mark.parametrize(("kind", "dtype"), [("date", pl.Date), ("datetime", pl.Datetime("us")),
                                             ("seconds", pl.Int64)])
def test_sample_and_generate_write_the_input_time_type(tmp_path: Path, kind: str, dtype: pl.DataType) -> None:
    log = _log(tmp_path / "log.csv", kind)
    gen = tmp_path / "gen.pkl"
    res = runner.invoke(app, ["fit", str(log), "--out", str(gen), "--quiet", "--param", "n_factors=2"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "syn.parquet"
    res = runner.invoke(app, ["sample", str(gen), "--users", "5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert pl.read_parquet(out).schema["timestamp"] == dtype
    shards = tmp_path / "shards"
    res = runner.invoke(app, ["generate", str(gen), "--users", "5", "--out", str(shards), "--quiet"])
    assert res.exit_code == 0, res.output
    assert pl.read_parquet(next(shards.glob("part-*.parquet"))).schema["timestamp"] == dtype
    forced = tmp_path / "forced.csv"
    res = runner.invoke(app, ["sample", str(gen), "--users", "5", "--out", str(forced), "--time-type", "seconds"])
    assert res.exit_code == 0, res.output
    assert pl.read_csv(forced).schema["timestamp"] == pl.Int64


def test_unknown_time_type(tmp_path: Path) -> None:
    gen = tmp_path / "g.pkl"
    gen.write_bytes(b"x")
    res = runner.invoke(app, ["sample", str(gen), "--users", "2", "--out", str(tmp_path / "s.csv"),
                              "--time-type", "dates"])
    assert res.exit_code == 2 and "did you mean 'date'" in res.output


def test_a_resumed_generate_refuses_another_time_type(tmp_path: Path) -> None:
    """Shards already written in seconds must not be mixed with new ones written as dates."""
    import polars as pl

    from synthrec.data import InteractionData
    from synthrec.errors import ConfigError
    from synthrec.generators import LatentFactorGenerator
    from synthrec.scale.writer import write_sharded

    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{i}", 1_500_000_000 + 86_400 * k) for u in range(30)
            for k, i in enumerate(rng.choice(20, 5, replace=False))]
    data = InteractionData.from_frame(pl.DataFrame(rows, schema=["user", "item", "ts"], orient="row"),
                                      time_col="ts", name="log")
    gen = LatentFactorGenerator(n_factors=2, seed=0).fit(data)
    out = tmp_path / "shards"
    write_sharded(gen, out, n_users=20, shard_users=10, seed=0, time_type="seconds")
    with pytest.raises(ConfigError, match="time_type: 'seconds' in the folder vs 'date' now"):
        write_sharded(gen, out, n_users=20, shard_users=10, seed=0, time_type="date")
