"""benchmarks/bench_findings.py (one generator's arms of a multi-generator sweep, refusals) and
benchmarks/dp_scaling.py (records of several datasets in one folder, the ml-1m-subset options)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_findings as bf
import dp_scaling as dps

# one row per arm of a sweep with two generators (latent-factor, item-walk) and the own-generator sources
ARMS = [
    ("real-only", "-", "-"),
    ("ceiling", "-", "-"),
    ("augment x1 [self] latent-factor", "self", "latent-factor"),
    ("augment x1 [source] latent-factor", "source", "latent-factor"),
    ("augment x1 [source-dp(eps=1)] latent-factor", "source-dp(eps=1)", "latent-factor"),
    ("augment x1 [self] item-walk", "self", "item-walk"),
    ("augment x1 [source] item-walk", "source", "item-walk"),
    ("augment x1 [source-dp(eps=1)] item-walk", "source-dp(eps=1)", "item-walk"),
    ("augment x1 [simulator] simulator", "simulator", "simulator"),
    ("augment x1 [attributes] cold-items", "attributes", "cold-items"),
]


def _frame(with_generator: bool) -> pl.DataFrame:
    cols = {"arm": [a for a, _, _ in ARMS], "source": [s for _, s, _ in ARMS]}
    if with_generator:
        cols["generator"] = [g for _, _, g in ARMS]
    return pl.DataFrame(cols)


@pytest.mark.parametrize("with_generator", [True, False], ids=["generator column", "worth.csv: arm label only"])
def test_for_generator_keeps_that_generator_and_the_arms_no_generator_is_crossed_with(with_generator: bool) -> None:
    kept = bf.for_generator(_frame(with_generator), "item-walk")["arm"].to_list()
    assert kept == ["real-only", "ceiling", "augment x1 [self] item-walk", "augment x1 [source] item-walk",
                    "augment x1 [source-dp(eps=1)] item-walk", "augment x1 [simulator] simulator",
                    "augment x1 [attributes] cold-items"]
    assert bf.for_generator(_frame(with_generator), None).height == len(ARMS)


def test_fitted_generators_and_the_sources_in_table_order() -> None:
    summary = _frame(True)
    assert bf.fitted_generators(summary) == ["item-walk", "latent-factor"]
    versus = pl.DataFrame({"source": ["attributes", "source-dp(eps=1)", "self", "source", "source-dp(eps=8)", "-"],
                           "epsilon": [None, 1.0, None, None, 8.0, None]})
    assert bf.sources_present(versus) == ["source", "source-dp(eps=8)", "source-dp(eps=1)", "self", "attributes"]


def _run_dir(tmp_path: Path) -> Path:
    rows = [{"recommender": r, "level": "users=0.05", "generator": g, "arm": a, "source": s}
            for r in ("ease", "pop") for a, s, g in ARMS]
    pl.DataFrame(rows).write_csv(tmp_path / "summary.csv")
    return tmp_path


@pytest.mark.parametrize(("argv", "message"), [
    ([], "holds arms of 2 generators (item-walk, latent-factor)"),
    (["--generator", "item_walk"], "--generator 'item_walk' is not in this run; it has: item-walk, latent-factor"),
    (["--generator", "item-walk", "--breakdown-level", "users=0.5"], "'users=0.5' is not in this run"),
    (["--generator", "item-walk", "--recommender", "EASE"], "it has: ease, pop"),
    (["--compare-generators", "--generator", "item-walk"], "drop --generator / --copy-to"),
])
def test_bench_findings_refuses_what_would_print_a_wrong_or_empty_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str) -> None:
    monkeypatch.setattr(sys, "argv", ["bench_findings.py", str(_run_dir(tmp_path)), *argv])
    with pytest.raises(SystemExit) as exc:
        bf.main()
    assert message in str(exc.value)


def _records(out: Path, dataset: str, real: float, eps_inf: float) -> None:
    with (out / "records.jsonl").open("a", encoding="utf-8") as fh:
        for seed in (0, 1):
            for arm, value in (("real-only", real), ("ceiling", real + 0.02), ("item-walk@inf", eps_inf + seed / 1000)):
                fh.write(json.dumps({"dataset": dataset, "seed": seed, "kind": "real", "n_source": 1000,
                                     "arm": arm, "ndcg10": value}) + "\n")


def test_dp_scaling_summarizes_only_the_dataset_asked_for(tmp_path: Path) -> None:
    _records(tmp_path, "sports", real=0.02, eps_inf=0.03)
    _records(tmp_path, "ml-1m-subset", real=0.06, eps_inf=0.05)
    sports = dps.summarize(tmp_path, dps.parse_args(["--dataset", "sports"]))
    # the share table first (mean of 0.0100 / 0.02 and 0.0110 / 0.02), then the differences, sports' only
    assert sports.startswith("| source | N source users | seeds | ε = inf |\n|---|---|---|---|\n"
                             "| real | 1,000 | 2 | 0.52 ±")
    assert "| real | 1,000 | 2 | 0.0200 | +0.0200 ± 0.0000 | +0.0105 ±" in sports
    ml1m = dps.summarize(tmp_path, dps.parse_args(["--dataset", "ml-1m-subset"]))
    # ml-1m-subset: the NDCG differences first (its ceiling's gain is within noise), and its records only
    assert ml1m.startswith("| source | N source users | seeds | real-only | ceiling − real-only |")
    assert "| real | 1,000 | 2 | 0.0600 | +0.0200 ± 0.0000 | -0.0095 ±" in ml1m
    assert dps.summarize(tmp_path, dps.parse_args(["--dataset", "beauty"])) == (
        "no records of beauty yet (the folder holds ml-1m-subset, sports: pass --dataset)")


def test_dp_scaling_world_sizes_are_for_amazon_seq_only() -> None:
    assert dps.parse_args(["--dataset", "ml-1m-subset"]).world_sizes == []
    assert dps.parse_args([]).world_sizes == [100_000, 1_000_000]
    with pytest.raises(SystemExit, match="ml-1m-subset has real sizes only"):
        dps.parse_args(["--dataset", "ml-1m-subset", "--world-sizes", "5"])
