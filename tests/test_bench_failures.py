"""`synthrec bench` when cells fail: reasons printed, exit code 1, failed cells retried on a rerun; the
config check (also `--dry-run`) catches missing data paths and parameters that do not construct."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from bench_fixtures import bench_app, tiny_config, write_tiny_log
from synthrec.errors import ConfigError
from synthrec.experiments.bench import ResultStore, expand, parse_bench_config, run_sweep
from synthrec.experiments.bench.config import check_runnable


def _small(csv: Path, **overrides: Any) -> dict[str, Any]:
    """1 level × 1 seed × pop: 2 real cells + 3 sources × 4 synthetic arms = 14 cells (4 DP ones skipped)."""
    raw = tiny_config(csv, seeds=[0], scarcity={"user_fractions": [1.0]}, recommenders=[{"name": "pop"}])
    raw.update(overrides)
    return raw


def _write_config(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


def _break_item_column(csv: Path) -> None:
    """The file exists but lacks the configured item column: every cell's data preparation fails."""
    pl.read_csv(csv).rename({"item": "thing"}).write_csv(csv)


def test_failed_cells_exit_1_with_reason_and_rerun_retries_them(registered: None, tmp_path: Path) -> None:
    csv = write_tiny_log(tmp_path / "tiny.csv")
    good = pl.read_csv(csv)
    _break_item_column(csv)
    cfg_path = _write_config(tmp_path / "bench.yaml", _small(csv))
    out = tmp_path / "o"
    runner = CliRunner()
    res = runner.invoke(bench_app(), ["bench", str(cfg_path), "--out", str(out), "--quiet"])
    assert res.exit_code == 1, res.output
    # the 10 runnable cells share one reason (printed once, with its count); the 4 DP cells are skipped
    assert "10 cell(s) failed" in res.output
    assert "10 × failed: DataValidationError" in res.output and "data preparation" in res.output
    assert "item" in res.output
    store = ResultStore(out)
    assert len(store.failed()) == 10 and len(store.finished()) == 4

    good.write_csv(csv)  # fix the cause and rerun: the failed cells run, the skipped ones stay done
    cfg = parse_bench_config(_small(csv))
    summary = run_sweep(cfg, out, progress=False)
    assert (summary.n_already_done, summary.n_run, summary.n_ok, summary.n_failed) == (4, 10, 10, 0)
    assert summary.failures == ()
    table = store.table()
    assert not table["status"].str.starts_with("failed").any()  # the old error rows are gone
    assert table["cell_id"].n_unique() == len(expand(cfg)) == 14
    assert (table.filter(pl.col("status") == "skipped")["source"] == "source-dp(eps=1)").all()
    csv_rows = pl.read_csv(out / "results.csv", infer_schema_length=None)
    assert csv_rows.height == table.height and not csv_rows["status"].str.starts_with("failed").any()

    again = runner.invoke(bench_app(), ["bench", str(cfg_path), "--out", str(out), "--quiet"])
    assert again.exit_code == 0, again.output
    assert "DataValidationError" not in (out / "index.html").read_text()  # the page lost the old error
    assert ResultStore(out).failed() == set()


def test_failure_reasons_are_counted_most_frequent_first(registered: None, tmp_path: Path) -> None:
    csv = write_tiny_log(tmp_path / "tiny.csv")
    _break_item_column(csv)
    summary = run_sweep(parse_bench_config(_small(csv)), tmp_path / "o", progress=False)
    assert summary.n_failed == 10 and summary.n_skipped == 4
    assert len(summary.failures) == 1
    reason, count = summary.failures[0]
    assert count == 10 and reason.startswith("failed: DataValidationError: data preparation:")


def test_missing_data_path_is_a_config_error_before_anything_runs(registered: None, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    raw = _small(missing)
    with pytest.raises(ConfigError, match=r"datasets\[0\] \(tiny\)\.data\.path: .*nope\.csv does not exist"):
        check_runnable(parse_bench_config(raw))
    with pytest.raises(ConfigError, match="does not exist"):
        run_sweep(parse_bench_config(raw), tmp_path / "o", progress=False)
    assert not (tmp_path / "o" / "parts").exists() or not any((tmp_path / "o" / "parts").iterdir())
    cfg_path = _write_config(tmp_path / "bench.yaml", raw)
    runner = CliRunner()
    for extra in (["--dry-run"], []):
        res = runner.invoke(bench_app(), ["bench", str(cfg_path), "--out", str(tmp_path / "o2"), "--quiet", *extra])
        assert res.exit_code == 2, res.output
        assert "error:" in res.output and "data.path" in res.output and "does not exist" in res.output


def test_dry_run_catches_parameters_that_do_not_construct(tmp_path: Path) -> None:
    csv = write_tiny_log(tmp_path / "tiny.csv")
    raw = _small(csv, generators=[{"name": "latent-factor", "params": {"n_factors": -8}}], dp_epsilons=[])
    cfg_path = _write_config(tmp_path / "bench.yaml", raw)
    res = CliRunner().invoke(bench_app(), ["bench", str(cfg_path), "--out", str(tmp_path / "o"), "--dry-run"])
    assert res.exit_code == 2, res.output
    assert "generators[0] (latent-factor).params" in res.output and "n_factors" in res.output
    assert not (tmp_path / "o").exists()  # a dry run writes nothing

    bad_grid = _small(csv, generators=[{"name": "latent-factor"}], dp_epsilons=[],
                      recommenders=[{"name": "ease", "grid": {"l2": [10.0, -1.0]}}])
    with pytest.raises(ConfigError, match=r"recommenders\[0\] \(ease\)\.grid\.l2 = -1\.0: l2 must be"):
        check_runnable(parse_bench_config(bad_grid))
    fine = _small(csv, generators=[{"name": "latent-factor", "params": {"n_factors": 4}}], dp_epsilons=[])
    check_runnable(parse_bench_config(fine))  # a valid config passes
    ok = CliRunner().invoke(bench_app(), ["bench", str(_write_config(tmp_path / "ok.yaml", fine)), "--out",
                                     str(tmp_path / "o"), "--dry-run"])
    assert ok.exit_code == 0, ok.output
    assert "10 cells in" in ok.output  # 2 real + 2 sources × 4 synthetic arms
