"""The CLI reads back what synthrec itself writes, and its data messages point at the right option."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from synthrec.cli import app
from synthrec.data.validation import DataQualityWarning

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _event_inter(path: Path) -> Path:
    """A RecBole event log where only purchases carry a rating (as `synthrec simulate --format recbole`)."""
    rows = [f"u{k % 5}\ti{k % 11}\t{1_700_000_000 + k}\t{'purchase' if k % 3 == 0 else 'view'}\t"
            f"{'4' if k % 3 == 0 else ''}" for k in range(60)]
    path.write_text("user_id:token\titem_id:token\ttimestamp:float\tevent:token\trating:float\n"
                    + "\n".join(rows) + "\n")
    return path


def test_recbole_event_log_with_partly_empty_ratings_loads_as_implicit_feedback(tmp_path: Path) -> None:
    inter = _event_inter(tmp_path / "events.inter")
    with pytest.warns(DataQualityWarning, match="40 empty value.* implicit feedback"):
        res = runner.invoke(app, ["inspect", str(inter)])
    assert res.exit_code == 0, res.output
    assert "user, item, timestamp" in _flat(res.output) and "ratings" not in res.output
    explicit = runner.invoke(app, ["inspect", str(inter), "--rating-col", "rating"])
    assert explicit.exit_code == 2 and "40 missing or non-finite rating" in _flat(explicit.output)


def test_recbole_rating_and_time_options_are_honoured(tmp_path: Path) -> None:
    inter = _event_inter(tmp_path / "events.inter")
    none = runner.invoke(app, ["inspect", str(inter), "--rating-col", "none", "--time-col", "none"])
    assert none.exit_code == 0, none.output
    assert "time range" not in none.output and "ratings" not in none.output
    unknown = runner.invoke(app, ["inspect", str(inter), "--rating-col", "stars"])
    flat = _flat(unknown.output)
    assert unknown.exit_code == 2, unknown.output
    assert "'stars'" in flat and "columns found: user_id, item_id, timestamp, event, rating" in flat
    assert "--rating-col" in flat


def test_simulated_recbole_output_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "sr"
    res = runner.invoke(app, ["simulate", "--preset", "ecommerce", "--users", "20", "--out", str(out),
                              "--format", "recbole", "--quiet"])
    assert res.exit_code == 0, res.output
    with pytest.warns(DataQualityWarning, match="implicit feedback"):
        back = runner.invoke(app, ["inspect", str(out / "ecommerce.inter")])
    assert back.exit_code == 0, back.output


def test_rating_col_none_leaves_a_table_rating_column_out(tmp_path: Path) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text("user,item,rating\n" + "".join(f"u{k % 4},i{k % 7},{1 + k % 5}\n" for k in range(30)))
    res = runner.invoke(app, ["inspect", str(csv), "--rating-col", "none"])
    assert res.exit_code == 0, res.output
    assert "ratings" not in res.output and "not used" not in res.output


@pytest.mark.parametrize("name", ["ts", "time", "timestamp"])
def test_a_standard_time_column_is_picked_up(tmp_path: Path, name: str) -> None:
    raw = tmp_path / "raw.tsv"  # no header: names come from --columns
    raw.write_text("".join(f"u{k % 4}\ti{k % 7}\t{1 + k % 5}\t{1_000_000 + 60 * k}\n" for k in range(30)))
    res = runner.invoke(app, ["inspect", str(raw), "--columns", f"user,item,rating,{name}"])
    assert res.exit_code == 0, res.output
    assert f"--time-col {name}" in res.output and "not used" not in res.output
    assert "time range" in res.output


def _header_less(path: Path) -> Path:
    path.write_text("".join(f"{k % 6},{k % 6},{1 + k % 5}\n" for k in range(40)))  # user == item on line 1
    return path


def test_a_header_less_file_in_a_config_is_explained_with_the_config_key(tmp_path: Path) -> None:
    _header_less(tmp_path / "log.txt")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("data: {path: log.txt}\n")
    res = runner.invoke(app, ["run", str(cfg), "--quiet", "--out", str(tmp_path / "o")])
    flat = _flat(res.output)
    assert res.exit_code == 2, res.output
    assert "no header line" in flat and "--columns user,item,rating" in flat
    assert "data.column_names" in flat and "--user-col" not in flat


def test_a_missing_column_names_the_cli_option_and_the_config_key(tmp_path: Path) -> None:
    from synthrec.data.readers import read_table
    from synthrec.errors import DataValidationError

    csv = tmp_path / "r.csv"
    csv.write_text("customer,item\n" + "".join(f"u{k % 4},i{k % 7}\n" for k in range(20)))
    with pytest.raises(DataValidationError, match=r"columns found: customer, item\).*--user-col.*data\.user_col"):
        read_table(csv)
    with pytest.raises(DataValidationError, match=r"no header line.*--columns.*data\.column_names"):
        read_table(_header_less(tmp_path / "h.txt"))


def test_report_on_a_header_less_real_file_suggests_columns(tmp_path: Path) -> None:
    real = _header_less(tmp_path / "real.txt")
    syn = tmp_path / "syn.csv"
    syn.write_text("user,item\n" + "".join(f"syn-{k % 3},{k % 6}\n" for k in range(12)))
    res = runner.invoke(app, ["report", "--real", str(real), "--synthetic", str(syn), "--out", str(tmp_path / "o")])
    flat = _flat(res.output)
    assert res.exit_code == 2, res.output
    assert "no header line" in flat and "--columns" in flat


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A latent-factor generator fitted on a tiny log (seconds)."""
    folder = tmp_path_factory.mktemp("fitted")
    csv = folder / "log.csv"
    csv.write_text("user,item,rating,timestamp\n" + "".join(
        f"u{u},i{(u * 3 + k) % 25},{1 + (u + k) % 5},{1_000_000 + 60 * k}\n" for u in range(40) for k in range(6)))
    res = runner.invoke(app, ["fit", str(csv), "--out", str(folder / "g.pkl")])
    assert res.exit_code == 0, res.output
    return folder


@pytest.mark.parametrize("fmt", ["parquet", "csv", "recbole"])
def test_a_generate_output_folder_reads_back_in_shard_order(fitted: Path, tmp_path: Path, fmt: str) -> None:
    import polars as pl

    from synthrec.config import DataConfig
    from synthrec.experiments.data_source import read_path

    out = tmp_path / "gen"
    res = runner.invoke(app, ["generate", str(fitted / "g.pkl"), "--users", "25", "--shard-users", "10",
                              "--out", str(out), "--format", fmt, "--quiet"])
    assert res.exit_code == 0, res.output
    back = runner.invoke(app, ["inspect", str(out)])
    assert back.exit_code == 0, back.output
    assert "25 /" in back.output
    data = read_path(DataConfig(path=out))
    users = data.user_ids.to_list()
    assert users == [f"syn-{k}" for k in range(25)]  # shard order kept: syn-0 … syn-24
    sampled = tmp_path / "s.csv"
    assert runner.invoke(app, ["sample", str(fitted / "g.pkl"), "--users", "25", "--batch-users", "10",
                               "--out", str(sampled)]).exit_code == 0
    expected = pl.read_csv(sampled)
    assert data.n_interactions == expected.height


def test_an_incomplete_generate_folder_is_refused(fitted: Path, tmp_path: Path) -> None:
    import json

    out = tmp_path / "gen"
    assert runner.invoke(app, ["generate", str(fitted / "g.pkl"), "--users", "20", "--shard-users", "10",
                               "--out", str(out), "--quiet"]).exit_code == 0
    manifest = json.loads((out / "_manifest.json").read_text())
    (out / manifest["shards"][1]["file"]).unlink()
    res = runner.invoke(app, ["inspect", str(out)])
    assert res.exit_code == 2 and "incomplete" in res.output and "part-000001" in res.output


def test_report_audits_a_generate_folder(fitted: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    assert runner.invoke(app, ["generate", str(fitted / "g.pkl"), "--users", "20", "--shard-users", "10",
                               "--out", str(out), "--quiet"]).exit_code == 0
    res = runner.invoke(app, ["report", "--real", str(fitted / "log.csv"), "--synthetic", str(out),
                              "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "report.html").is_file()


def test_report_reads_a_sequence_file_as_fit_does(tmp_path: Path) -> None:
    """A `user item item ...` .txt log (amazon-seq) is detected by `report` as by `fit`: the log a generator
    was fitted on can be audited against its samples."""
    rng = np.random.default_rng(0)
    seq = tmp_path / "shop.txt"
    seq.write_text("".join(f"{u} " + " ".join(str(i) for i in rng.choice(30, int(rng.integers(2, 7)), replace=False))
                           + "\n" for u in range(1, 61)))
    gen = tmp_path / "g.synthrec"
    fit = runner.invoke(app, ["fit", str(seq), "-g", "item-walk", "--out", str(gen), "--quiet"])
    assert fit.exit_code == 0, fit.output
    syn = tmp_path / "syn.parquet"
    assert runner.invoke(app, ["sample", str(gen), "--users", "40", "--out", str(syn), "--quiet"]).exit_code == 0
    res = runner.invoke(app, ["report", "--real", str(seq), "--synthetic", str(syn), "--out", str(tmp_path / "rep"),
                              "--quiet"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "rep" / "results.json").read_text())


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_simulate_output_folder_reads_back(tmp_path: Path, fmt: str) -> None:
    from synthrec.config import DataConfig
    from synthrec.experiments.data_source import read_path

    out = tmp_path / "sim"
    res = runner.invoke(app, ["simulate", "--preset", "ecommerce", "--users", "15", "--out", str(out),
                              "--format", fmt, "--quiet"])
    assert res.exit_code == 0, res.output
    with pytest.warns(DataQualityWarning, match="implicit feedback"):
        back = runner.invoke(app, ["inspect", str(out)])
    assert back.exit_code == 0, back.output
    assert "15 /" in back.output and "event" in back.output
    with pytest.warns(DataQualityWarning):
        data = read_path(DataConfig(path=out))
    assert data.users is not None and data.users.height == 15 and "segment" in data.users.columns
    assert data.items is not None and data.items.height == data.n_items and "category" in data.items.columns


def test_sample_checks_its_arguments_before_sampling(fitted: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["sample", str(fitted / "g.pkl"), "--users", "10", "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 2 and "--out" in res.output and ".parquet" in res.output
    assert "sampling" not in res.output and not (tmp_path / "s.json").exists()
    res = runner.invoke(app, ["sample", str(fitted / "g.pkl"), "--users", "10", "--out", str(tmp_path / "s.csv"),
                              "--seed", "-1"])
    assert res.exit_code == 2 and "--seed" in res.output and "sampling" not in res.output
    res = runner.invoke(app, ["sample", str(tmp_path / "none.pkl"), "--users", "10", "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 2 and "none.pkl" in res.output


def test_fit_help_lists_every_registered_generator() -> None:
    from synthrec.commands.model import GENERATOR_NAMES
    from synthrec.generators.registry import GENERATORS

    assert sorted(GENERATOR_NAMES) == sorted(GENERATORS)
    res = runner.invoke(app, ["fit", "--help"])
    assert all(name in _flat(res.output) for name in GENERATOR_NAMES) and "--param" in res.output
    assert "--quiet" in res.output


@pytest.mark.parametrize(("args", "expected"), [
    (["-g", "nope"], "unknown generator 'nope'; valid names: gan, item-walk, latent-factor"),
    (["--param", "colour=red"], "not a parameter of generator 'latent-factor'; its parameters: n_factors"),
    (["--param", "n_factors"], "expected KEY=VALUE"),
    (["--param", "epsilon="], "--param epsilon= has no value: give one (null for none)"),
    (["--param", "epsilon=  "], "--param epsilon= has no value"),
    (["--param", "n_factors=[1, 2]"], "give a single value"),
    (["--param", "seed=3"], "--seed"),
    (["--param", "n_factors=0"], "n_factors"),
])
def test_fit_rejects_a_bad_generator_before_loading_the_data(tmp_path: Path, args: list[str], expected: str) -> None:
    res = runner.invoke(app, ["fit", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "g.pkl"), *args])
    assert res.exit_code == 2, res.output
    flat = _flat(res.output)
    assert expected in flat and "missing.csv" not in flat  # the data was not looked at


def test_fit_passes_params_to_the_generator_quietly(fitted: Path, tmp_path: Path) -> None:
    from synthrec.generators.base import BaseGenerator

    res = runner.invoke(app, ["fit", str(fitted / "log.csv"), "--out", str(tmp_path / "g.pkl"), "--quiet",
                              "--param", "n_factors=3", "--param", "affinity_scale=auto", "--param", "epsilon=null"])
    assert res.exit_code == 0, res.output
    assert "fitting" not in res.output
    gen = BaseGenerator.load(tmp_path / "g.pkl")
    assert gen.n_factors == 3  # type: ignore[attr-defined]


def test_inspect_says_when_splits_need_event_times(tmp_path: Path) -> None:
    csv = tmp_path / "untimed.csv"
    csv.write_text("user,item\n" + "".join(f"u{k % 4},i{k % 7}\n" for k in range(20)))
    res = runner.invoke(app, ["inspect", str(csv)])
    flat = _flat(res.output)
    assert res.exit_code == 0 and "no event times" in flat and "leave-one-out" in flat and "row_order_is_time" in flat
    timed = tmp_path / "timed.csv"
    timed.write_text("user,item,ts\n" + "".join(f"u{k % 4},i{k % 7},{1_000_000 + k}\n" for k in range(20)))
    assert "no event times" not in runner.invoke(app, ["inspect", str(timed)]).output


def test_param_values_like_1e6_and_inf_are_numbers() -> None:
    from synthrec.commands.model import _parse_params

    params = _parse_params(["affinity_scale=1e6", "epsilon=inf", "delta=1e-6", "dp_gram=pairs", "n=16"])
    assert params == {"affinity_scale": 1e6, "epsilon": float("inf"), "delta": 1e-6, "dp_gram": "pairs", "n": 16}
    assert isinstance(params["n"], int)
