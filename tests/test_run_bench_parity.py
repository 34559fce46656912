"""`synthrec run` and `synthrec bench` share one experiment core: for the same data, seed and cell (one
dataset, split, generator, ratio, recommender without a tuning grid, the full level), a run's seed and the
bench's cells give the same scores, arm by arm, and ``auto`` makes the same choice on the same
validation scores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from threadpoolctl import threadpool_limits

from bench_fixtures import write_tiny_log
from synthrec.config import parse_config
from synthrec.experiments.bench import ResultStore, parse_bench_config, run_sweep
from synthrec.experiments.bench.datasets import load_bench_dataset
from synthrec.experiments.pipeline import run_experiment

GENERATOR = {"name": "latent-factor", "params": {"n_factors": 4, "calibration_iters": 1}}
RECOMMENDER = {"name": "ease", "params": {"l2": 10.0}}


def _bench(csv: Path, source: str, seed: int) -> dict[str, Any]:
    return {
        "name": "parity",
        # the dataset's name is the run's `dataset_label`: the stem of its data path
        "datasets": [{"name": csv.stem, "data": {"path": str(csv), "user_col": "user", "item_col": "item",
                                                 "rating_col": "rating", "time_col": "timestamp"}}],
        "scarcity": {"user_fractions": [1.0], "history_caps": []},
        "source_fraction": 0.5,
        "sources": [source],
        "generators": [GENERATOR],
        "strategies": ["real-only", "augment", "auto"],
        "augment_ratios": [1.0],
        "auto_min_gain": 0.0,
        "recommenders": [RECOMMENDER],
        "splits": ["leave-last-out"],
        "ks": [10],
        "seeds": [seed],
    }


def _run(csv: Path, source: str, seed: int) -> dict[str, Any]:
    return {
        "data": {"path": str(csv), "user_col": "user", "item_col": "item", "rating_col": "rating",
                 "time_col": "timestamp"},
        "target": {"source_fraction": 0.5},
        "split": {"kind": "leave-last-out", "test_fraction": 0.2},
        "generator": GENERATOR,
        "sources": [source],
        "strategies": ["real-only", "augment", "auto"],
        "augment_ratios": [1.0],
        "auto_min_gain": 0.0,
        "models": [RECOMMENDER],
        "ks": [10],
        "seeds": [seed],
    }


@pytest.mark.parametrize(("source", "seed"), [("self", 0), ("source", 1)])
def test_run_scores_as_the_bench_cell(tmp_path: Path, source: str, seed: int) -> None:
    csv = write_tiny_log(tmp_path / "tiny.csv", n_users=60, n_items=30)
    bcfg = parse_bench_config(_bench(csv, source, seed))
    summary = run_sweep(bcfg, tmp_path / "bench", progress=False)
    assert summary.n_ok == summary.n_cells == 3
    table = ResultStore(tmp_path / "bench").table()
    bench = {(r["strategy"], r["metric"]): r for r in table.filter(table["group"] == "all").iter_rows(named=True)}

    data = load_bench_dataset(bcfg.datasets[0])
    with threadpool_limits(limits=1):  # as every bench cell
        result = run_experiment(parse_config(_run(csv, source, seed)), data, progress=False)
    run = {(r["arm"], r["metric"]): r["value"] for r in result.records}

    arms = {"real-only": "real-only", "augment": f"augment x1 [{source}]", "auto": "auto"}
    metrics = sorted({m for _, m in bench})
    assert "NDCG@10" in metrics and len(metrics) >= 4
    for strategy, label in arms.items():
        for metric in metrics:
            assert run[label, metric] == bench[strategy, metric]["value"], (strategy, metric)
    # auto: the same candidates, the same validation scores, the same choice
    (choice,) = result.auto_choices
    auto_row = bench["auto", "NDCG@10"]
    assert json.loads(auto_row["note"])["validation"] == choice["validation"]
    assert set(choice["validation"]) == {"real-only", f"augment x1 [{source}]"}
    chosen_bench = auto_row["chosen_arm"]
    assert chosen_bench == choice["chosen"] or chosen_bench == f"{choice['chosen']} {GENERATOR['name']}"
    # pools of the same size
    info = result.seeds_info[0]
    assert info[f"synthetic_users_{source}"] == bench["augment", "NDCG@10"]["n_synthetic_users"]


@pytest.mark.filterwarnings("ignore:target-only fill:UserWarning")  # the fixture's target-only items are its top
@pytest.mark.parametrize(("source", "seed"), [("source", 0), ("self", 1), ("source-fill", 2)])
def test_run_scores_as_the_bench_cell_with_an_external_source(tmp_path: Path, source: str, seed: int) -> None:
    """With an external source (its own catalogue, mapped by title), a run seed is still the bench cell: the
    same arms (ceiling included), the same auto choice, and the same mapped-items / target-only-items
    figures; ``source-fill`` (the source pool with target-only items filled in from the seed's training
    data, and from the inner training part for auto's validation) too."""
    from bench_fixtures import film_titles, write_movielens_latest

    target = write_movielens_latest(tmp_path / "target", film_titles(0, 30), n_users=60, seed=0)
    ext = write_movielens_latest(tmp_path / "ext", film_titles(10, 50), n_users=80, seed=1, first_id=500,
                                 first_time=2_000_000_000)
    external = {"data": {"path": str(ext)}, "map": {"by": "title"}}
    strategies = ["real-only", "augment", "auto", "ceiling"]
    bench_raw = _bench(target, source, seed)
    bench_raw["datasets"] = [{"name": "target", "data": {"path": str(target)}, "source": external}]
    bench_raw["strategies"] = strategies
    bcfg = parse_bench_config(bench_raw)
    summary = run_sweep(bcfg, tmp_path / "bench", progress=False)
    assert summary.n_ok == summary.n_cells == 4
    table = ResultStore(tmp_path / "bench").table()
    bench = {(r["strategy"], r["group"], r["metric"]): r for r in table.iter_rows(named=True)}

    run_raw = _run(target, source, seed)
    run_raw["data"] = {"path": str(target)}
    run_raw["source"] = external
    del run_raw["target"]
    run_raw["strategies"] = strategies
    data = load_bench_dataset(bcfg.datasets[0])
    with threadpool_limits(limits=1):
        result = run_experiment(parse_config(run_raw), data, progress=False)
    run = {(r["arm"], "all", r["metric"]): r["value"] for r in result.records}
    run.update({(r["arm"], r["group"], r["metric"]): r["value"] for r in result.group_records})

    arms = {"real-only": "real-only", "augment": f"augment x1 [{source}]", "auto": "auto", "ceiling": "ceiling"}
    compared = 0
    for strategy, label in arms.items():
        for group in ("all", "mapped-items", "target-only-items"):
            for metric in ("NDCG@10", "Recall@10", "HR@10", "MRR@10"):
                if (label, group, metric) not in run:
                    continue
                assert run[label, group, metric] == bench[strategy, group, metric]["value"], (strategy, group, metric)
                compared += 1
    assert compared >= 4 * (4 + 2 * 2)
    (choice,) = result.auto_choices
    assert json.loads(bench["auto", "all", "NDCG@10"]["note"])["validation"] == choice["validation"]
    assert set(choice["validation"]) == {"real-only", f"augment x1 [{source}]"}
    assert result.seeds_info[0]["source_users"] == 80
    assert result.seeds_info[0][f"synthetic_users_{source}"] == bench["augment", "all", "NDCG@10"]["n_synthetic_users"]
    if source == "source-fill":
        assert result.seeds_info[0]["target_only_fill"][source]["added_rows"] > 0
