"""`synthrec run` and `synthrec bench` with an external source that has its own catalogue (issue 16): the
config, the translated source, the mapped-items / target-only-items groups, and a source with no overlap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from threadpoolctl import threadpool_limits

from bench_fixtures import film_titles, write_movielens_latest
from synthrec.config import parse_config
from synthrec.errors import ConfigError
from synthrec.experiments.bench import ResultStore, parse_bench_config, run_sweep
from synthrec.experiments.data_source import load_data
from synthrec.experiments.external import ITEM_MAP_GROUPS, prepare_external_source
from synthrec.experiments.pipeline import run_experiment
from synthrec.experiments.results import group_summary_frame, results_dict
from synthrec.experiments.runner import execute

# the fixtures' target-only items are the target's most popular ones: the fill's cap warning is expected
pytestmark = pytest.mark.filterwarnings("ignore:target-only fill:UserWarning")

GENERATOR = {"name": "latent-factor", "params": {"n_factors": 4, "calibration_iters": 1}}
RECOMMENDER = {"name": "ease", "params": {"l2": 10.0}}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("catalogues")
    return {
        # target: Film 0..29 in the 1990s; source: Film 10..49 twenty years later (items 10..29 shared)
        "target": write_movielens_latest(root / "target", film_titles(0, 30), n_users=60, seed=0),
        "source": write_movielens_latest(root / "source", film_titles(10, 50), n_users=80, seed=1, first_id=500,
                                         first_time=2_000_000_000),
        "disjoint": write_movielens_latest(root / "disjoint", film_titles(0, 30, word="Other"), n_users=40, seed=2,
                                           first_id=900),
    }


def _run_cfg(folders: dict[str, Path], source: str = "source", **over: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "data": {"path": str(folders["target"])},
        "source": {"data": {"path": str(folders[source])}, "map": {"by": "title"}},
        "generator": GENERATOR,
        "sources": ["source"],
        "strategies": ["real-only", "augment", "auto", "ceiling"],
        "augment_ratios": [1.0],
        "auto_min_gain": 0.0,
        "models": [RECOMMENDER],
        "ks": [10],
        "seeds": [0],
    }
    cfg.update(over)
    return cfg


# ------------------------------------------------------------------------------------------------ config


def test_config_external_source_makes_every_user_a_target(folders: dict[str, Path]) -> None:
    cfg = parse_config({"data": {"path": "t.csv"}, "source": {"data": {"loader": "ml-latest-small"}}})
    assert cfg.target.source_fraction == 0.0
    assert cfg.sources == ["self", "source"] and "ceiling" in cfg.strategies  # the source defaults stay
    assert cfg.source is not None and cfg.source.map.by == "title" and cfg.source.map.use_year
    # a dumped config reads back the same (the bench re-reads its datasets from JSON)
    assert parse_config(json.loads(cfg.model_dump_json())) == cfg


def test_config_source_fraction_with_external_source_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"source_fraction.*external source"):
        parse_config({"data": {"path": "t.csv"}, "source": {"data": {"path": "s.csv"}},
                      "target": {"source_fraction": 0.5}})
    cfg = parse_config({"data": {"path": "t.csv"}, "source": {"data": {"path": "s.csv"}},
                        "target": {"source_fraction": 0.0, "keep_fraction": 0.5}})
    assert cfg.target.keep_fraction == 0.5


@pytest.mark.parametrize(("item_map", "message"), [
    ({"by": "column"}, "needs map.column"),
    ({"by": "file"}, "needs map.path"),
    ({"by": "title", "column": "imdb_id"}, "does not read map.column"),
    ({"by": "file", "path": "m.csv", "use_year": False}, "does not read map.use_year"),
    ({"by": "isbn"}, "by"),
])
def test_config_map_kinds(item_map: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"data": {"path": "t.csv"}, "source": {"data": {"path": "s.csv"}, "map": item_map}})


def test_config_map_by_column_and_file() -> None:
    cfg = parse_config({"data": {"path": "t.csv"}, "source": {"data": {"path": "s.csv"},
                                                                "map": {"by": "column", "column": "imdb_id"}}})
    assert cfg.source is not None and cfg.source.map.column == "imdb_id"
    cfg = parse_config({"data": {"path": "t.csv"}, "source": {"data": {"path": "s.csv"},
                                                                "map": {"by": "file", "path": "map.csv"}}})
    assert cfg.source is not None and cfg.source.map.path == Path("map.csv")


# ------------------------------------------------------------------------------------------------ run


def test_translated_source_holds_only_mapped_target_items(folders: dict[str, Path]) -> None:
    cfg = parse_config(_run_cfg(folders))
    target = load_data(cfg.data)
    assert cfg.source is not None
    ext = prepare_external_source(cfg.source, target)
    assert ext.usable and ext.data is not None and ext.problem is None
    # the target's catalogue, and only items the map reaches: no unmapped source id reaches a model
    assert ext.data.item_ids.equals(target.item_ids)
    used = np.unique(ext.data.interactions["item"].to_numpy())
    assert ext.mapped[used].all()
    mapped_titles = set(target.items.filter(pl.Series(ext.mapped))["title"].to_list())  # type: ignore[union-attr]
    assert mapped_titles == set(film_titles(10, 30))
    assert ext.summary()["target_items_mapped"] == 20 and ext.lines


def test_run_with_external_source_reports_item_groups(folders: dict[str, Path], tmp_path: Path) -> None:
    cfg = parse_config(_run_cfg(folders, split={"kind": "temporal-global", "test_fraction": 0.2}))
    lines: list[str] = []
    with threadpool_limits(limits=1):
        out = execute(cfg, tmp_path / "run", progress=False, log=lines.append)
    assert any("mapped" in line for line in lines)
    result = out.result
    arms = {r["arm"] for r in result.records}
    assert arms == {"real-only", "augment x1 [source]", "ceiling", "auto"}
    # the temporal guard is not applied to an external source (its events are years after the target's)
    info = result.seeds_info[0]
    assert info["source_users"] == 80
    # no holdout privacy audit across two populations (closeness would measure their gap, not memorisation)
    assert "mia_auc" not in info["synthetic_quality"]["source"]
    groups = {(r["arm"], r["group"]) for r in result.group_records}
    assert groups == {(a, g) for a in arms for g in ITEM_MAP_GROUPS}
    # the groups split the test users' targets: each group's users are at most all evaluated users
    n_eval = next(r["value"] for r in result.records if r["metric"] == "n_users_evaluated")
    for r in result.group_records:
        assert 0 < r["n_users"] <= n_eval
        assert r["metric"] in ("NDCG@10", "Recall@10")
    payload = json.loads(out.results_json.read_text())
    assert payload["external_source"]["usable"] and payload["external_source"]["coverage"]["n_mapped"] == 20
    assert {r["group"] for r in payload["group_summary"]} == set(ITEM_MAP_GROUPS)
    summary = pl.read_csv(tmp_path / "run" / "group_summary.csv")
    assert summary.height == group_summary_frame(result).height == 4 * 2 * 2
    html = out.report_html.read_text()
    assert 'id="item-groups"' in html and "target-only-items" in html


def test_run_without_external_source_has_no_item_groups(folders: dict[str, Path], tmp_path: Path) -> None:
    cfg = parse_config({**_run_cfg(folders), "source": None, "target": {"source_fraction": 0.5}})
    with threadpool_limits(limits=1):
        out = execute(cfg, tmp_path / "run", progress=False)
    assert out.result.group_records == [] and out.result.external_source is None
    payload = results_dict(out.result)
    assert "group_summary" not in payload and "external_source" not in payload
    assert not (tmp_path / "run" / "group_summary.csv").exists()
    assert 'id="item-groups"' not in out.report_html.read_text()


def test_disjoint_catalogue_skips_source_arms_and_auto_keeps_real_only(folders: dict[str, Path]) -> None:
    cfg = parse_config(_run_cfg(folders, source="disjoint", seeds=[0, 1]))
    lines: list[str] = []
    with threadpool_limits(limits=1):
        result = run_experiment(cfg, load_data(cfg.data), progress=False, log=lines.append)
    assert result.external_source is not None and not result.external_source["usable"]
    problem = result.external_source["problem"]
    assert "no usable overlap" in problem and "auto" in problem
    assert problem in lines
    assert {r["arm"] for r in result.records} == {"real-only", "auto"}
    assert all(c["chosen"] == "real-only" for c in result.auto_choices)
    by = {(r["seed"], r["arm"], r["metric"]): r["value"] for r in result.records}
    for (seed, arm, metric), value in by.items():
        if arm == "auto":
            assert value == by[seed, "real-only", metric]
    # nothing maps: every held-out target is a target-only item
    assert {r["group"] for r in result.group_records} == {"target-only-items"}


# ------------------------------------------------------------------------------------------------ bench


def _bench_cfg(folders: dict[str, Path], source: str = "source", **over: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "name": "cross",
        "datasets": [{"name": "target", "data": {"path": str(folders["target"])},
                      "source": {"data": {"path": str(folders[source])}, "map": {"by": "title"}}}],
        "scarcity": {"user_fractions": [1.0], "history_caps": []},
        "sources": ["source"],
        "generators": [GENERATOR],
        "strategies": ["real-only", "augment", "auto", "ceiling"],
        "augment_ratios": [1.0],
        "auto_min_gain": 0.0,
        "recommenders": [RECOMMENDER],
        "splits": ["leave-last-out"],
        "ks": [10],
        "seeds": [0],
    }
    cfg.update(over)
    return cfg


def test_bench_external_source_adds_item_map_groups(folders: dict[str, Path], tmp_path: Path) -> None:
    summary = run_sweep(parse_bench_config(_bench_cfg(folders)), tmp_path / "bench", progress=False)
    assert summary.n_ok == summary.n_cells == 4
    table = ResultStore(tmp_path / "bench").table()
    assert set(ITEM_MAP_GROUPS) <= set(table["group"].to_list())
    manifest = json.loads((tmp_path / "bench" / "manifest.json").read_text())
    assert manifest["item_maps"]["target"]["coverage"]["n_mapped"] == 20
    from synthrec.experiments.bench.page import render_page

    assert "<th>target-only-items</th>" in render_page(table, title="cross")


def test_bench_disjoint_source_skips_its_cells_and_auto_keeps_real_only(folders: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    summary = run_sweep(parse_bench_config(_bench_cfg(folders, source="disjoint")), tmp_path / "bench",
                        progress=False)
    table = ResultStore(tmp_path / "bench").table()
    status = dict(table.select("strategy", "status").unique().iter_rows())
    assert status == {"real-only": "ok", "auto": "ok", "augment": "skipped", "ceiling": "skipped"}
    assert summary.n_skipped == 2
    notes = table.filter(pl.col("status") == "skipped")["note"].to_list()
    assert all("no usable overlap" in n for n in notes)
    ok = table.filter((pl.col("status") == "ok") & (pl.col("group") == "all"))
    auto = ok.filter(pl.col("strategy") == "auto")
    assert set(auto["chosen_arm"].to_list()) == {"real-only"}
    real = dict(ok.filter(pl.col("strategy") == "real-only").select("metric", "value").iter_rows())
    assert dict(auto.select("metric", "value").iter_rows()) == real


def test_bench_checks_external_source_paths(folders: dict[str, Path], tmp_path: Path) -> None:
    cfg = _bench_cfg(folders)
    cfg["datasets"][0]["source"]["data"]["path"] = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match=r"source\.data\.path"):
        run_sweep(parse_bench_config(cfg), tmp_path / "bench", progress=False)


# ------------------------------------------------------------------------------------------------ source-fill


def test_fill_labels() -> None:
    from synthrec.experiments.fill import base_label, fill_label, is_fill

    assert fill_label("source") == "source-fill" and base_label("source-fill") == "source"
    assert fill_label("source-dp(eps=4)") == "source-dp-fill(eps=4)"
    assert base_label("source-dp-fill(eps=4)") == "source-dp(eps=4)"
    assert is_fill("source-fill") and is_fill("source-dp-fill(eps=1)")
    assert not any(is_fill(s) for s in ("self", "source", "source-dp(eps=4)", "simulator", "attributes"))
    assert base_label("self") == "self"
    with pytest.raises(ValueError, match="no fill variant"):
        fill_label("self")


def _translated(folders: dict[str, Path]) -> tuple[Any, Any]:
    cfg = parse_config(_run_cfg(folders))
    target = load_data(cfg.data)
    assert cfg.source is not None
    return target, prepare_external_source(cfg.source, target)


def test_fill_pool_adds_target_only_items_only(folders: dict[str, Path]) -> None:
    from synthrec.experiments.bench.config import GeneratorSpec
    from synthrec.experiments.fill import fill_pool
    from synthrec.experiments.pools import fit_pool

    target, ext = _translated(folders)
    assert ext.data is not None
    pool = fit_pool(GeneratorSpec(**GENERATOR), ext.data, seed=0, purpose=("target", "source"), max_ratio=2.0)
    purpose = ("target", "leave-last-out", "users=1", "source-fill")
    filled = fill_pool(pool, target, ext.mapped, seed=0, purpose=purpose)
    before, after = pool.data.interactions, filled.data.interactions
    # the pool's rows are kept as they are, first; its users and base size too (nested prefixes hold)
    assert after.head(before.height).equals(before)
    assert filled.base_users == pool.base_users and filled.data.user_ids.equals(pool.data.user_ids)
    # the target's catalogue: no unmapped source id ever reaches a model
    assert filled.data.item_ids.equals(target.item_ids)
    added = after.slice(before.height)
    assert added.height > 0
    # only target-only items are added, and never a repeated (user, item) pair
    assert not ext.mapped[added["item"].to_numpy()].any()
    assert not after.select("user", "item").is_duplicated().any()
    # (the source's own pool may hold a few target-only items too: the generator samples the whole
    # catalogue, items without a source event included; the fill keeps them and adds more)
    assert (~ext.mapped[after["item"].to_numpy()]).sum() > (~ext.mapped[before["item"].to_numpy()]).sum()
    # same seed and purpose: the same pool; another purpose (e.g. validation): another draw
    again = fill_pool(pool, target, ext.mapped, seed=0, purpose=purpose)
    assert again.data.interactions.equals(after)
    other = fill_pool(pool, target, ext.mapped, seed=0, purpose=(*purpose, "validation"))
    assert not other.data.interactions.equals(after)


def test_config_source_fill_needs_an_external_source() -> None:
    with pytest.raises(ConfigError, match=r"source-fill.*external source"):
        parse_config({"data": {"path": "t.csv"}, "target": {"source_fraction": 0.5},
                      "sources": ["self", "source", "source-fill"]})
    with pytest.raises(ConfigError, match=r"source-fill.*external source"):
        parse_config({"data": {"path": "t.csv"}, "sources": ["source-fill"]})
    cfg = parse_config({"data": {"path": "t.csv"}, "source": {"data": {"path": "s.csv"}},
                        "sources": ["self", "source", "source-fill"]})
    assert cfg.sources == ["self", "source", "source-fill"]


def test_bench_config_source_fill_needs_an_external_source(folders: dict[str, Path]) -> None:
    raw = _bench_cfg(folders, sources=["source", "source-fill"])
    raw["datasets"][0].pop("source")
    with pytest.raises(ConfigError, match=r"source-fill.*external source"):
        parse_bench_config(raw)


def test_run_source_fill_reuses_the_source_pool(folders: dict[str, Path]) -> None:
    """``source-fill`` adds arms over the ``source`` pool filled with target-only items; the ``source`` arms
    are those of a run without it (the pool is reused, not refitted), and auto chooses among both."""
    both = parse_config(_run_cfg(folders, sources=["source", "source-fill"]))
    alone = parse_config(_run_cfg(folders))
    data = load_data(both.data)
    with threadpool_limits(limits=1):
        r_both = run_experiment(both, data, progress=False)
        r_alone = run_experiment(alone, data, progress=False)
    arms = {r["arm"] for r in r_both.records}
    assert arms == {"real-only", "augment x1 [source]", "augment x1 [source-fill]", "ceiling", "auto"}
    by_both = {(r["arm"], r["metric"]): r["value"] for r in r_both.records}
    by_alone = {(r["arm"], r["metric"]): r["value"] for r in r_alone.records}
    for key, value in by_alone.items():
        if key[0] != "auto":
            assert by_both[key] == value, key
    info = r_both.seeds_info[0]
    assert info["synthetic_users_source-fill"] == info["synthetic_users_source"]
    fill = info["target_only_fill"]["source-fill"]
    assert fill["added_rows"] > 0 and 0 < fill["target_only_share"] < 1
    (choice,) = r_both.auto_choices
    assert set(choice["validation"]) == {"real-only", "augment x1 [source]", "augment x1 [source-fill]"}
    # fill groups exist for the new arm
    assert {r["group"] for r in r_both.group_records if r["arm"] == "augment x1 [source-fill]"} == set(ITEM_MAP_GROUPS)


def test_run_source_fill_validation_reads_the_inner_training_part(folders: dict[str, Path],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The validation pool of ``source-fill`` is filled from the inner training part (never the validation
    targets): the data the fill reads is a strict subset of the training data the test-time fill reads."""
    import synthrec.experiments.pipeline as pipeline

    calls: list[tuple[tuple[str, ...], Any]] = []
    real_fill = pipeline.fill_pool

    def spy(pool: Any, target_train: Any, mapped: Any, *, seed: int, purpose: tuple[str, ...]) -> Any:
        calls.append((purpose, target_train))
        return real_fill(pool, target_train, mapped, seed=seed, purpose=purpose)

    monkeypatch.setattr(pipeline, "fill_pool", spy)
    cfg = parse_config(_run_cfg(folders, sources=["source-fill"], strategies=["real-only", "augment", "auto"]))
    with threadpool_limits(limits=1):
        result = run_experiment(cfg, load_data(cfg.data), progress=False)
    assert len(calls) == 2
    (test_purpose, train), (val_purpose, inner) = sorted(calls, key=lambda c: c[0][-1] == "validation")
    assert val_purpose == (*test_purpose, "validation")
    assert test_purpose == ("target", "leave-last-out", "users=1", "source-fill")

    def pairs(d: Any) -> set[tuple[Any, Any]]:
        users = d.user_ids.gather(d.interactions["user"].cast(pl.UInt32)).to_list()
        return set(zip(users, d.interactions["item"].to_list(), strict=True))

    assert pairs(inner) < pairs(train)
    assert set(result.auto_choices[0]["validation"]) == {"real-only", "augment x1 [source-fill]"}


def test_auto_can_choose_source_fill(folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path) -> None:
    """When the fill's strategy scores best on validation, auto (run and bench) picks it and reports its test
    figures."""
    import synthrec.experiments.auto as auto_mod
    import synthrec.experiments.bench.execute as execute_mod
    import synthrec.experiments.pipeline as pipeline

    real_score = auto_mod.validation_score

    def favour_fill(arm: Any, make_model: Any, inputs: Any, es: Any) -> float:
        value = real_score(arm, make_model, inputs, es)
        return value + 1.0 if arm.source == "source-fill" else value

    monkeypatch.setattr(pipeline, "validation_score", favour_fill)
    monkeypatch.setattr(execute_mod, "validation_score", favour_fill)
    cfg = parse_config(_run_cfg(folders, sources=["source", "source-fill"]))
    with threadpool_limits(limits=1):
        result = run_experiment(cfg, load_data(cfg.data), progress=False)
    (choice,) = result.auto_choices
    assert choice["chosen"] == "augment x1 [source-fill]"
    by = {(r["arm"], r["metric"]): r["value"] for r in result.records}
    for (arm, metric), value in by.items():
        if arm == "auto":
            assert value == by["augment x1 [source-fill]", metric]

    summary = run_sweep(parse_bench_config(_bench_cfg(folders, sources=["source", "source-fill"])),
                        tmp_path / "bench", progress=False)
    assert summary.n_failed == 0
    table = ResultStore(tmp_path / "bench").table()
    auto = table.filter((pl.col("strategy") == "auto") & (pl.col("group") == "all"))
    chosen = dict(auto.select("source", "chosen_arm").unique().iter_rows())
    assert chosen["source-fill"] == f"augment x1 [source-fill] {GENERATOR['name']}"


def test_bench_source_fill_cells(folders: dict[str, Path], tmp_path: Path) -> None:
    """The bench lists source-fill (and source-dp-fill per ε) after the existing sources; the existing cells
    keep their ids; fill cells reuse the source's cached pool; the fill adds target-only users' rows only."""
    from synthrec.experiments.bench.cells import expand

    base = parse_bench_config(_bench_cfg(folders, dp_epsilons=[4.0]))
    with_fill = parse_bench_config(_bench_cfg(folders, sources=["source", "source-fill"], dp_epsilons=[4.0]))
    old, new = expand(base), expand(with_fill)
    assert {c.id for c in old} < {c.id for c in new}
    assert list(dict.fromkeys(c.source for c in new if c.source != "-")) == [
        "source", "source-fill", "source-dp(eps=4)", "source-dp-fill(eps=4)"]
    # a second dataset without an external source: its fill cells are recorded as skipped
    raw = _bench_cfg(folders, sources=["source", "source-fill"])
    raw["datasets"].append({"name": "plain", "data": {"path": str(folders["target"])}})
    cells = expand(parse_bench_config(raw))
    plain_fill = [c for c in cells if c.dataset == "plain" and c.source == "source-fill"]
    assert plain_fill and all(c.skip_reason and "has no source:" in c.skip_reason for c in plain_fill)
    assert not any(c.skip_reason for c in cells if c.dataset == "target")

    summary = run_sweep(parse_bench_config(_bench_cfg(folders, sources=["source", "source-fill"])),
                        tmp_path / "bench", progress=False)
    assert summary.n_ok == summary.n_cells == 2 + 2 * 2
    # one pool fitted and cached: the fill cells reused the source's pool
    assert len(list((tmp_path / "bench" / "cache").glob("pool-*.pkl"))) == 1
    table = ResultStore(tmp_path / "bench").table().filter(pl.col("group") == "all")
    n_syn = dict(table.filter(pl.col("strategy") == "augment").select("source", "n_synthetic_users").unique()
                 .iter_rows())
    assert n_syn["source-fill"] == n_syn["source"] > 0
    assert set(ITEM_MAP_GROUPS) <= set(ResultStore(tmp_path / "bench").table()["group"].to_list())


def test_disjoint_catalogue_skips_source_fill_arms_too(folders: dict[str, Path]) -> None:
    cfg = parse_config(_run_cfg(folders, source="disjoint", sources=["source", "source-fill"]))
    with threadpool_limits(limits=1):
        result = run_experiment(cfg, load_data(cfg.data), progress=False)
    assert {r["arm"] for r in result.records} == {"real-only", "auto"}
    assert all(c["chosen"] == "real-only" for c in result.auto_choices)
