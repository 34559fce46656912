"""What `synthrec bench` tells a user: skip reasons (printed, exit 1 when nothing was measured), skips
predicted by --dry-run, results.csv limited to the config's cells, the files listed, no progress line in
piped output; and the page's learning curves (one panel row per source, bands only with ≥ 3 seeds)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from bench_fixtures import bench_app, tiny_config, write_tiny_log
from synthrec.experiments.bench import ResultStore, expand, parse_bench_config
from synthrec.experiments.bench.execute import preview
from synthrec.experiments.bench.page import learning_curve_plot, render_page
from synthrec.experiments.bench.stats import summarise
from synthrec.experiments.bench.store import rows_frame


def _small(csv: Path, **overrides: Any) -> dict[str, Any]:
    raw = tiny_config(csv, seeds=[0], scarcity={"user_fractions": [1.0]}, recommenders=[{"name": "pop"}],
                      dp_epsilons=[], strategies=["real-only", "augment"])
    raw.update(overrides)
    return raw


def _untimed(tmp_path: Path) -> dict[str, Any]:
    csv = tmp_path / "untimed.csv"
    write_tiny_log(csv)
    pl.read_csv(csv).drop("timestamp").write_csv(csv)
    raw = _small(csv)
    del raw["datasets"][0]["data"]["time_col"]
    return raw


def _bench(tmp_path: Path, raw: dict[str, Any], *extra: str, name: str = "bench.yaml") -> Any:
    cfg_path = tmp_path / name
    cfg_path.write_text(yaml.safe_dump(raw))
    return CliRunner().invoke(bench_app(), ["bench", str(cfg_path), "--out", str(tmp_path / "o"), *extra])


def test_a_sweep_where_every_cell_is_skipped_says_why_and_exits_1(registered: None, tmp_path: Path) -> None:
    raw = _untimed(tmp_path)  # leave-last-out needs event order; the log has no timestamps
    res = _bench(tmp_path, raw, "--quiet")
    assert res.exit_code == 1, res.output
    assert "3 cell(s) recorded as skipped" in res.output
    assert "3 × skipped: unavailable (split 'leave-last-out' needs events in time order" in res.output
    assert "every cell of the sweep (3) was skipped" in res.output
    # a rerun runs nothing (skipped cells are finished) but still says why and still exits 1
    again = _bench(tmp_path, raw, "--quiet")
    assert again.exit_code == 1 and "3 × skipped: unavailable" in again.output


def test_some_skipped_cells_are_listed_with_their_reason_and_exit_0(registered: None, tmp_path: Path) -> None:
    raw = _small(write_tiny_log(tmp_path / "tiny.csv"), sources=["self", "attributes"])
    res = _bench(tmp_path, raw, "--quiet")
    assert res.exit_code == 0, res.output
    assert "1 cell(s) recorded as skipped" in res.output
    assert "1 × skipped: unavailable (source 'attributes' needs item attributes" in res.output
    assert "every cell" not in res.output
    for name in ("results.csv", "summary.csv", "versus_real.csv", "worth.csv", "auto.csv", "index.html"):
        assert f"wrote {tmp_path / 'o' / name}" in res.output


def test_dry_run_predicts_runtime_skips_and_writes_nothing(registered: None, tmp_path: Path) -> None:
    raw = _untimed(tmp_path)
    res = _bench(tmp_path, raw, "--dry-run")
    assert res.exit_code == 1, res.output
    assert "3 cells in 3 tasks (3 will be recorded as skipped)" in res.output
    assert "3 × skipped: unavailable (split 'leave-last-out' needs events in time order" in res.output
    assert "every cell of the sweep (3) would be skipped" in res.output
    assert not (tmp_path / "o").exists()

    raw["datasets"][0]["splits"] = ["leave-one-out"]
    raw["sources"] = ["source", "attributes"]
    raw["dp_epsilons"] = [1.0]  # the toy generator takes no epsilon: known from the config alone
    cfg = parse_bench_config(raw)
    pv = preview(cfg)
    assert pv.n_cells == len(expand(cfg)) == 4 and pv.unloadable == ()
    reasons = dict(pv.skips)
    assert sum(reasons.values()) == 2 and not pv.all_skipped
    assert any("needs item attributes" in r for r in reasons)
    assert any("takes no epsilon" in r for r in reasons)
    res = _bench(tmp_path, raw, "--dry-run")
    assert res.exit_code == 0, res.output
    assert "(2 will be recorded as skipped)" in res.output and "needs item attributes" in res.output
    # the prediction agrees with what the sweep records
    run = _bench(tmp_path, raw, "--quiet")
    assert run.exit_code == 0, run.output
    skipped = ResultStore(tmp_path / "o").table().filter(pl.col("status") == "skipped")
    assert skipped["cell_id"].n_unique() == 2
    assert set(skipped["note"].to_list()) == set(reasons)  # word for word: one reason per cause and dataset


def test_dry_run_reports_a_dataset_that_cannot_be_loaded(registered: None, tmp_path: Path) -> None:
    csv = write_tiny_log(tmp_path / "tiny.csv")
    pl.read_csv(csv).rename({"item": "thing"}).write_csv(csv)
    res = _bench(tmp_path, _small(csv), "--dry-run")
    assert res.exit_code == 1, res.output
    assert "dataset tiny cannot be loaded" in res.output and "3 cell(s) would fail" in res.output


def test_results_csv_holds_only_the_configs_cells(registered: None, tmp_path: Path) -> None:
    csv = write_tiny_log(tmp_path / "tiny.csv")
    first = _small(csv, recommenders=[{"name": "pop"}, {"name": "ease"}])
    assert _bench(tmp_path, first, "--quiet").exit_code == 0
    second = _small(csv)  # ease dropped from the config
    res = _bench(tmp_path, second, "--quiet")
    assert res.exit_code == 0, res.output
    out = tmp_path / "o"
    ids = {c.id for c in expand(parse_bench_config(second))}
    rows = pl.read_csv(out / "results.csv", infer_schema_length=None)
    assert set(rows["cell_id"]) == ids and set(rows["recommender"]) == {"pop"}
    summary = pl.read_csv(out / "summary.csv", infer_schema_length=None)
    assert set(summary["recommender"]) == {"pop"}
    # the first config's parts stay on disk, untouched
    assert len(list((out / "parts").glob("*.parquet"))) == len(expand(parse_bench_config(first)))


def test_piped_output_has_no_progress_line(registered: None, tmp_path: Path) -> None:
    raw = _small(write_tiny_log(tmp_path / "tiny.csv"))
    res = _bench(tmp_path, raw)  # no --quiet; CliRunner's stdout is not a terminal
    assert res.exit_code == 0, res.output
    assert res.stdout.lstrip().startswith("bench tiny"), res.stdout[:300]  # progress stays off stdout
    assert not re.search(r"\d+/\d+ +\d+:\d\d:\d\d +eta", res.output)  # a rich progress line
    # piped, progress is plain lines on stderr (tests/test_progress_piped.py), never bar redraws
    assert "\r" not in res.output and re.search(r"^\[ *\d+\.\d s\] bench tiny \d+/\d+", res.stderr, re.M)


def test_csvs_name_their_metric_and_the_page_explains_the_wilcoxon_columns(registered: None,
                                                                          tmp_path: Path) -> None:
    raw = _small(write_tiny_log(tmp_path / "tiny.csv"), seeds=[0, 1])
    assert _bench(tmp_path, raw, "--quiet").exit_code == 0
    out = tmp_path / "o"
    for name in ("versus_real.csv", "worth.csv"):
        frame = pl.read_csv(out / name, infer_schema_length=None)
        assert set(frame["metric"]) == {"NDCG@10"}, name
    html = (out / "index.html").read_text()
    assert "exact\nWilcoxon signed-rank test</b> over seeds: statistic" in html
    assert "min_p = 2/2<sup>n</sup> is the smallest p this test can give" in html
    assert "Files and their columns" in html


# ---------------------------------------------------------------------------------------------- page


def _curve_table(seeds: int, sources: tuple[str, ...] = ("self", "source", "source-dp(eps=1)")) -> pl.DataFrame:
    rows = []
    for level, users in ((0.1, 10), (1.0, 100)):
        for s in range(seeds):
            for rec in ("ease", "pop"):
                base = 0.01 + 0.02 * s * (1 if level < 1 else 2)  # near 0 with a wide spread: low CI < 0
                arms = [("real-only", "-", "real-only", base), ("ceiling", "-", "ceiling", base + 0.1)]
                for src in sources:
                    arms += [(st, src, f"{st} [{src}] g", base + 0.001 * i)
                             for i, st in enumerate(("synthetic-only", "augment", "pretrain-finetune"))]
                for strategy, src, arm, v in arms:
                    rows.append({"cell_id": f"{level}-{s}-{rec}-{arm}", "dataset": "d", "split": "leave-last-out",
                                 "level": f"users={level:g}", "level_kind": "users", "users_fraction": level,
                                 "seed": s, "strategy": strategy, "source": src, "generator": "g", "arm": arm,
                                 "recommender": rec, "metric": "NDCG@10", "group": "all", "value": v,
                                 "n_users": 50, "n_train_users": users, "status": "ok"})
    for s in range(seeds):  # a history-cap level: all users, not on the curves
        rows.append({"cell_id": f"cap-{s}", "dataset": "d", "split": "leave-last-out", "level": "cap=5",
                     "level_kind": "cap", "users_fraction": 1.0, "history_cap": 5, "seed": s,
                     "strategy": "real-only", "source": "-", "generator": "-", "arm": "real-only",
                     "recommender": "ease", "metric": "NDCG@10", "group": "all", "value": 0.05,
                     "n_users": 50, "n_train_users": 100, "status": "ok"})
    return rows_frame(rows)


def test_learning_curves_have_one_panel_row_per_source_with_the_references_in_each() -> None:
    fig = learning_curve_plot(summarise(_curve_table(3)), "d", "leave-last-out")
    assert fig is not None
    try:
        panels = [ax for ax in fig.axes if ax.get_lines()]
        assert len(panels) == 3 * 2  # 3 sources × 2 recommenders
        for ax in panels:
            labels = {ln.get_label() for ln in ax.get_lines()}
            src = ax.get_title().split("source: ")[1]
            assert labels == {"real-only", "ceiling"} | {f"{st} [{src}] g" for st in
                                                       ("synthetic-only", "augment", "pretrain-finetune")}
            # 3 seeds: a band per line, clipped at 0 although the t-interval of real-only goes below 0
            assert len(ax.collections) == 5
            lows = [float(np.asarray(p.vertices)[:, 1].min()) for c in ax.collections for p in c.get_paths()]
            assert min(lows) == pytest.approx(0.0)
    finally:
        plt.close(fig)


def test_learning_curves_draw_no_band_with_fewer_than_3_seeds() -> None:
    fig = learning_curve_plot(summarise(_curve_table(2, sources=("self",))), "d", "leave-last-out")
    assert fig is not None
    try:
        panels = [ax for ax in fig.axes if ax.get_lines()]
        assert len(panels) == 2
        assert all(len(ax.collections) == 0 for ax in panels)
        assert all(np.isfinite(ln.get_ydata()).all() for ax in panels for ln in ax.get_lines())
    finally:
        plt.close(fig)


def test_page_says_cap_levels_are_in_the_tables_not_on_the_curves() -> None:
    html = render_page(_curve_table(3, sources=("self",)), title="t")
    assert "History-cap levels (cap=5)" in html and "not on the curves" in html
    assert "drawn only where a point\nhas at least 3 seeds" in html
