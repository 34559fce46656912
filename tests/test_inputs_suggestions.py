"""Unknown config keys and option values name the closest valid one ("did you mean"), issue 12."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthrec.cli import app
from synthrec.config import parse_config
from synthrec.errors import ConfigError
from synthrec.experiments.bench.config import parse_bench_config

runner = CliRunner()


def test_unknown_config_key_suggests_the_closest_and_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"data": {"loader": "movielens-small", "ussr_col": "u"}, "seedz": [0]})
    text = str(info.value)
    assert "data.ussr_col: unknown key (did you mean 'user_col'?)" in text
    assert "valid keys: loader, path" in text
    assert "seedz: unknown key (did you mean 'seeds'?)" in text


def test_nested_list_keys_and_choices() -> None:
    with pytest.raises(ConfigError, match=r"models\.0\.parms: unknown key \(did you mean 'params'\?\)"):
        parse_config({"data": {"loader": "movielens-small"}, "models": [{"name": "ease", "parms": {}}]})
    with pytest.raises(ConfigError, match=r"split\.kind: .*\(did you mean 'leave-last-out'\?\)"):
        parse_config({"data": {"loader": "movielens-small"}, "split": {"kind": "leave-lastout"}})


def test_bench_config_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"datasets\.0\.min_user_interaction: unknown key \(did you mean "
                                          r"'min_user_interactions'\?\)"):
        parse_bench_config({"datasets": [{"name": "d", "data": {"path": "x.csv"}, "min_user_interaction": 3}]})


def test_cli_choices(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item\n1,2\n")
    res = runner.invoke(app, ["inspect", str(path), "--time-unit", "msec"])
    assert res.exit_code == 2 and "did you mean 'ms'" in res.output
    res = runner.invoke(app, ["inspect", str(path), "--format", "tabel"])
    assert res.exit_code == 2 and "did you mean 'table'" in res.output
    gen = tmp_path / "g.pkl"
    gen.write_bytes(b"x")
    res = runner.invoke(app, ["generate", str(gen), "--users", "2", "--out", str(tmp_path / "o"), "--format", "parquett"])
    assert res.exit_code == 2 and "did you mean 'parquet'" in res.output


def test_a_missing_id_column_suggests_the_close_one_and_no_unused_column_warning(tmp_path: Path) -> None:
    log = tmp_path / "ratings.csv"
    log.write_text("userId,movieId,rating,timestamp\n1,10,4,1500000000\n2,11,3,1500000100\n")
    res = runner.invoke(app, ["inspect", str(log)], env={"COLUMNS": "250"})
    assert res.exit_code == 2
    assert "did you mean 'userId'? pass the right name with --user-col" in " ".join(res.output.split())
    assert "are not used" not in res.output  # the unused-column warning pointed at --rating-col / --time-col
