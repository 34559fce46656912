"""`user item item ...` sequence files (the amazon-seq format) are read by `inspect`, `fit` and `run`, with
`--format seq` / `data.format: seq` or by detection (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthrec.cli import app
from synthrec.commands._data_options import load_cli_data
from synthrec.config import DataConfig
from synthrec.data.amazon_seq import looks_like_sequence_file
from synthrec.data.interactions import InteractionData
from synthrec.experiments.data_source import load_data

runner = CliRunner()


def _seq_file(path: Path, n_users: int = 12) -> Path:
    lines = [" ".join(str(x) for x in [u] + [(u * 3 + k) % 9 + 1 for k in range(2 + u % 4)]) for u in range(1, n_users + 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_detection_is_unambiguous(tmp_path: Path) -> None:
    assert looks_like_sequence_file(_seq_file(tmp_path / "s.txt"))
    assert not looks_like_sequence_file(_seq_file(tmp_path / "s.csv"))  # a .csv is a table
    table = tmp_path / "t.txt"
    table.write_text("1 10 4\n2 11 5\n3 10 3\n")  # same number of fields on every line: a table
    assert not looks_like_sequence_file(table)
    words = tmp_path / "w.txt"
    words.write_text("a b c\nd e\n")
    assert not looks_like_sequence_file(words)


def test_inspect_reads_a_sequence_file(tmp_path: Path) -> None:
    path = _seq_file(tmp_path / "Beauty.txt")
    res = runner.invoke(app, ["inspect", str(path)])
    assert res.exit_code == 0, res.output
    assert "12 / " in res.output and "time order" in res.output
    assert "--sep" not in res.output


def test_format_seq_option_and_config_key(tmp_path: Path) -> None:
    path = _seq_file(tmp_path / "log.dat")  # not detected: named
    d = load_cli_data(str(path), "user", "item", None, None, "s", None, None, None, "seq")
    assert isinstance(d, InteractionData) and d.row_order_is_time and d.n_users == 12
    assert d.interactions.columns == ["user", "item"]
    cfg = load_data(DataConfig(path=path, format="seq"))
    assert cfg.row_order_is_time and cfg.interactions.equals(d.interactions)
    auto = load_data(DataConfig(path=_seq_file(tmp_path / "log.txt")))
    assert auto.row_order_is_time and auto.interactions.equals(d.interactions)


def test_fit_reads_a_sequence_file(tmp_path: Path) -> None:
    path = _seq_file(tmp_path / "seq.txt", n_users=30)
    out = tmp_path / "gen.pkl"
    res = runner.invoke(app, ["fit", str(path), "--out", str(out), "--format", "seq", "--quiet",
                              "--param", "n_factors=2"])
    assert res.exit_code == 0, res.output
    assert out.is_file()


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    res = runner.invoke(app, ["inspect", str(_seq_file(tmp_path / "s.txt")), "--format", "sequence"])
    assert res.exit_code == 2


@pytest.mark.parametrize("name", ["LastFM.txt"])
def test_real_amazon_seq_file(shared_data: Path, name: str) -> None:
    d = load_data(DataConfig(path=shared_data / "amazon-seq" / name))
    assert d.row_order_is_time and d.n_users == 1090


def test_an_undetected_separator_points_to_the_sequence_format(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthrec.cli import app

    path = tmp_path / "log.seq"
    path.write_text("1 2 3 4\n2 5 6\n3 7 8 9 10\n")
    res = CliRunner().invoke(app, ["inspect", str(path)], env={"COLUMNS": "300"})
    assert res.exit_code == 2
    assert "--format seq" in " ".join(res.output.split())
    ok = CliRunner().invoke(app, ["inspect", str(path), "--format", "seq"], env={"COLUMNS": "300"})
    assert ok.exit_code == 0, ok.output
