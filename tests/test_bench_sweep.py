"""`synthrec bench` end to end on a tiny log: the table, resumability, the CLI."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from bench_fixtures import tiny_config, write_tiny_log
from synthrec.errors import ConfigError
from synthrec.experiments.bench import ResultStore, expand, parse_bench_config, run_sweep
from synthrec.experiments.bench.cells import group_tasks
from synthrec.experiments.bench.store import VOLATILE


@pytest.fixture()
def tiny_csv(tmp_path: Path) -> Path:
    return write_tiny_log(tmp_path / "tiny.csv")


def _comparable(table: pl.DataFrame) -> pl.DataFrame:
    return table.drop(*VOLATILE).sort("cell_id", "metric", "group", nulls_last=True)


def test_cells_have_stable_distinct_ids(registered: None, tiny_csv: Path) -> None:
    cfg = parse_bench_config(tiny_config(tiny_csv))
    a, b = expand(cfg), expand(cfg)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    # 1 dataset × 1 split × 3 levels × 2 seeds × 2 recommenders × (2 real arms + 3 sources × 4 arms)
    assert len(a) == 3 * 2 * 2 * (2 + 3 * 4)
    # a changed setting a cell depends on changes its id; one it does not depend on keeps it
    ids = {c.id for c in a}
    other = expand(parse_bench_config(tiny_config(tiny_csv, tuning={"budget": 3})))
    assert not ids & {c.id for c in other}
    renamed = expand(parse_bench_config(tiny_config(tiny_csv, name="another name")))
    assert {c.id for c in renamed} == ids


def test_smoke_sweep_table_and_rerun_does_no_work(registered: None, tiny_csv: Path, tmp_path: Path) -> None:
    cfg = parse_bench_config(tiny_config(tiny_csv))
    out = tmp_path / "out"
    first = run_sweep(cfg, out, progress=False)
    n_cells = len(expand(cfg))
    assert first.n_run == n_cells and first.n_failed == 0
    # the DP variant is declared but the toy generator takes no epsilon=: recorded as skipped
    assert first.n_skipped == 3 * 2 * 2 * 4
    table = ResultStore(out).table()
    assert table["cell_id"].n_unique() == n_cells
    skipped = table.filter(pl.col("status") == "skipped")
    assert skipped["source"].unique().to_list() == ["source-dp(eps=1)"]
    assert skipped["note"].str.contains("unavailable").all()
    ok = table.filter(pl.col("status") == "ok")
    # one row per cell × metric × group
    assert ok.group_by("cell_id", "metric", "group").len()["len"].max() == 1
    assert set(ok["group"].unique()) <= {"all", "cold-users", "warm-users", "head-items", "tail-items"}
    assert set(ok["metric"].unique()) >= {"NDCG@10", "Recall@10", "HR@10", "MRR@10"}
    # the same test users at every level: 'all' evaluates the same number of users everywhere
    assert ok.filter(pl.col("group") == "all", pl.col("level_kind") == "users")["n_users"].n_unique() <= 2  # 2 seeds
    # auto recorded what it chose
    auto = ok.filter(pl.col("strategy") == "auto")
    assert auto["chosen_arm"].null_count() == 0
    csv = pl.read_csv(out / "results.csv", infer_schema_length=None)
    assert csv.height == table.height
    again = run_sweep(cfg, out, progress=False)
    assert again.n_run == 0 and again.n_already_done == n_cells
    assert _comparable(ResultStore(out).table()).equals(_comparable(table))


class _Stop(Exception):
    pass


def test_interrupted_sweep_resumes_to_the_same_table(registered: None, tiny_csv: Path, tmp_path: Path) -> None:
    cfg = parse_bench_config(tiny_config(tiny_csv, seeds=[3], scarcity={"user_fractions": [0.5, 1.0]}))
    full = tmp_path / "full"
    run_sweep(cfg, full, progress=False)
    k = 7
    seen: list[str] = []

    def stop_after_k(outcome: object) -> None:
        seen.append("x")
        if len(seen) == k:
            raise _Stop

    part = tmp_path / "part"
    with pytest.raises(_Stop):
        run_sweep(cfg, part, progress=False, on_cell=stop_after_k)
    assert len(ResultStore(part).finished()) == k
    resumed = run_sweep(cfg, part, progress=False)
    assert resumed.n_already_done == k and resumed.n_run == len(expand(cfg)) - k
    assert _comparable(ResultStore(part).table()).equals(_comparable(ResultStore(full).table()))
    # the CSV was rebuilt from the parts: same rows as the table
    assert pl.read_csv(part / "results.csv", infer_schema_length=None).height == ResultStore(part).table().height


def test_tasks_share_preparation(registered: None, tiny_csv: Path) -> None:
    cells = expand(parse_bench_config(tiny_config(tiny_csv)))
    tasks = group_tasks(cells)
    # per (level, seed): one real task + one per source (self, source, dp)
    assert len(tasks) == 3 * 2 * (1 + 3)
    assert all(len({c.task_key for c in t}) == 1 for t in tasks)


def test_temporal_split_without_timestamps_is_skipped(registered: None, tmp_path: Path) -> None:
    csv = tmp_path / "untimed.csv"
    write_tiny_log(csv)
    pl.read_csv(csv).drop("timestamp").write_csv(csv)
    raw = tiny_config(csv, splits=["temporal"], dp_epsilons=[], seeds=[0], scarcity={"user_fractions": [1.0]},
                      recommenders=[{"name": "pop"}])
    del raw["datasets"][0]["data"]["time_col"]
    out = tmp_path / "out"
    res = run_sweep(parse_bench_config(raw), out, progress=False)
    assert res.n_skipped == res.n_cells
    assert ResultStore(out).table()["note"].str.contains("needs timestamps").all()


def test_untimed_log_refuses_row_order_splits_and_runs_leave_one_out(registered: None, tmp_path: Path) -> None:
    """Without timestamps or a declared row order, leave-last-out would hold out each user's last *row*
    (biased on logs such as MovieLens-1M): those cells are skipped with the reason, and a per-dataset
    ``splits: [leave-one-out]`` runs instead (history caps then keep a random c events)."""
    csv = tmp_path / "untimed.csv"
    write_tiny_log(csv)
    pl.read_csv(csv).drop("timestamp").write_csv(csv)
    raw = tiny_config(csv, dp_epsilons=[], seeds=[0], recommenders=[{"name": "pop"}],
                      scarcity={"user_fractions": [1.0], "history_caps": [3]})
    del raw["datasets"][0]["data"]["time_col"]
    res = run_sweep(parse_bench_config(raw), tmp_path / "llo", progress=False)
    assert res.n_skipped == res.n_cells
    assert ResultStore(tmp_path / "llo").table()["note"].str.contains("use leave-one-out").all()

    raw["datasets"][0]["splits"] = ["leave-one-out"]
    cfg = parse_bench_config(raw)
    assert {c.split for c in expand(cfg)} == {"leave-one-out"}
    res = run_sweep(cfg, tmp_path / "loo", progress=False)
    table = ResultStore(tmp_path / "loo").table()
    assert res.n_skipped == 0 and (table["status"] == "ok").all()


def test_config_errors_are_clear(registered: None, tiny_csv: Path) -> None:
    with pytest.raises(ConfigError, match="unknown recommender 'nope'"):
        parse_bench_config(tiny_config(tiny_csv, recommenders=[{"name": "nope"}]))
    with pytest.raises(ConfigError, match=r"scarcity\.user_fractions"):
        parse_bench_config(tiny_config(tiny_csv, scarcity={"user_fractions": [0.0]}))
    with pytest.raises(ConfigError, match="seedz: unknown key"):
        parse_bench_config(tiny_config(tiny_csv, seedz=[1]))


def test_cli_runs_a_sweep_and_writes_the_page(registered: None, tiny_csv: Path, tmp_path: Path) -> None:
    import yaml

    from synthrec.commands.bench import register

    app = typer.Typer()
    register(app)

    @app.callback()
    def _main() -> None:
        """test app"""

    cfg_path = tmp_path / "bench.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_config(tiny_csv, seeds=[0], scarcity={"user_fractions": [0.5, 1.0]})))
    runner = CliRunner()
    res = runner.invoke(app, ["bench", str(cfg_path), "--out", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "o" / "index.html").read_text()
    assert "Learning curves" in html and "data:image/png;base64," in html
    for name in ("summary.csv", "versus_real.csv", "worth.csv", "auto.csv", "results.csv"):
        assert (tmp_path / "o" / name).is_file()
    bad = runner.invoke(app, ["bench", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o2")])
    assert bad.exit_code == 2
    assert "error:" in bad.output and "does not exist" in bad.output


def test_parts_of_another_synthrec_version_are_refused(tmp_path: Path) -> None:
    from synthrec.errors import DataValidationError
    from synthrec.experiments.bench.store import rows_frame

    store = ResultStore(tmp_path / "out")
    store.parts_dir.mkdir(parents=True, exist_ok=True)
    # a part from an older layout (one column fewer) next to nothing else: never silently mixed
    rows_frame([]).drop(rows_frame([]).columns[-1]).write_parquet(store.parts_dir / "old.parquet")
    with pytest.raises(DataValidationError, match="another synthrec version"):
        store.table()


def test_workers_and_dask_give_the_serial_table(tmp_path: Path) -> None:
    # The sweep runs on `synthrec.scale.backends`: a process pool and a local Dask cluster (spawned
    # workers, registered generators only) record the same table as a serial run.
    csv = write_tiny_log(tmp_path / "tiny.csv", n_users=50, n_items=30)
    cfg = parse_bench_config(tiny_config(
        csv, scarcity={"user_fractions": [1.0], "history_caps": []}, dp_epsilons=[], seeds=[0],
        generators=[{"name": "latent-factor", "params": {"n_factors": 4, "calibration_iters": 1}}],
        recommenders=[{"name": "pop"}, {"name": "ease", "grid": {"l2": [1.0, 100.0]}}]))
    serial = run_sweep(cfg, tmp_path / "serial", progress=False)
    assert serial.n_failed == 0 and serial.n_ok == serial.n_cells
    reference = _comparable(ResultStore(tmp_path / "serial").table())
    pooled = run_sweep(cfg, tmp_path / "pool", workers=2, progress=False)
    assert pooled.n_ok == serial.n_ok
    assert _comparable(ResultStore(tmp_path / "pool").table()).equals(reference)
    dask = run_sweep(cfg, tmp_path / "dask", workers=2, scheduler="local", progress=False)
    assert dask.n_ok == serial.n_ok
    assert _comparable(ResultStore(tmp_path / "dask").table()).equals(reference)
