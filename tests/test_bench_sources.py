"""The ``simulator`` and ``attributes`` sources of `synthrec bench` (issue 7), on a tiny log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from bench_fixtures import tiny_config, write_tiny_item_attributes, write_tiny_log
from synthrec.data.interactions import ITEM, USER
from synthrec.errors import ConfigError, DataValidationError
from synthrec.experiments.bench import ResultStore, expand, parse_bench_config, run_sweep
from synthrec.experiments.bench.breakdowns import head_items
from synthrec.experiments.bench.config import (
    AttributesSourceConfig,
    BenchDataset,
    ItemAttributesFile,
    SimulatorSourceConfig,
    check_runnable,
    load_bench_config,
)
from synthrec.experiments.bench.datasets import attach_item_attributes, load_bench_dataset
from synthrec.experiments.bench.frames import Unavailable
from synthrec.experiments.bench.sources import (
    attribute_columns,
    attributes_pool,
    calibration_target,
    primary_category,
    simulator_pool,
)
from synthrec.experiments.bench.store import VOLATILE


@pytest.fixture()
def tiny_csv(tmp_path: Path) -> Path:
    return write_tiny_log(tmp_path / "tiny.csv")


def _dataset(csv: Path, attrs: Path | None = None, name: str = "tiny") -> dict[str, Any]:
    ds: dict[str, Any] = {"name": name, "data": {"path": str(csv), "user_col": "user", "item_col": "item",
                                                 "rating_col": "rating", "time_col": "timestamp"}}
    if attrs is not None:
        ds["item_attributes"] = {"path": str(attrs), "format": "item2attributes-json"}
    return ds


def _tiny_data(csv: Path, attrs: Path | None = None) -> Any:
    return load_bench_dataset(BenchDataset.model_validate(_dataset(csv, attrs)))


# ---------------------------------------------------------------------------------------------- the sweep


def test_sweep_with_simulator_and_attributes_sources(registered: None, tiny_csv: Path, tmp_path: Path) -> None:
    attrs = write_tiny_item_attributes(tmp_path / "attrs.json")
    raw = tiny_config(tiny_csv, datasets=[_dataset(tiny_csv), _dataset(tiny_csv, attrs, "tiny-attrs")],
                      sources=["simulator", "attributes"], dp_epsilons=[], generators=[],
                      scarcity={"user_fractions": [0.5], "history_caps": [5]}, seeds=[0],
                      simulator_source={"calibration_users": 40, "max_iter": 3},
                      attributes_source={"n_factors": 4})
    cfg = parse_bench_config(raw)
    cells = expand(cfg)
    # 2 datasets × 2 levels × 1 seed × 2 recommenders × (2 real arms + 2 sources × 4 arms)
    assert len(cells) == 2 * 2 * 2 * (2 + 2 * 4)
    assert {(c.source, c.generator) for c in cells} == {("-", "-"), ("simulator", "simulator"),
                                                        ("attributes", "cold-items")}
    summary = run_sweep(cfg, tmp_path / "a", progress=False)
    assert summary.n_failed == 0, summary.failures
    table = ResultStore(tmp_path / "a").table()
    status = {(r["dataset"], r["source"]): r["status"] for r in
              table.group_by("dataset", "source").agg(pl.col("status").unique().sort().str.join(",")).iter_rows(named=True)}
    # no item attributes: the attributes cells are skipped with the reason; everything else runs
    assert status == {("tiny", "-"): "ok", ("tiny", "simulator"): "ok", ("tiny", "attributes"): "skipped",
                      ("tiny-attrs", "-"): "ok", ("tiny-attrs", "simulator"): "ok",
                      ("tiny-attrs", "attributes"): "ok"}
    skipped = table.filter(pl.col("status") == "skipped")
    assert skipped["note"].str.contains("needs item attributes").all()
    assert summary.n_skipped == skipped.height == 2 * 2 * 4
    ok = table.filter(pl.col("status") == "ok", pl.col("source").is_in(["simulator", "attributes"]))
    assert ok["n_synthetic_users"].min() >= 1
    auto = ok.filter(pl.col("strategy") == "auto")
    assert auto.height and auto["chosen_arm"].null_count() == 0
    assert set(auto["chosen_arm"].unique()) <= {"real-only"} | {
        f"{s} [{src}] {g}" for s in ("synthetic-only x1", "augment x1", "pretrain-finetune x1")
        for src, g in (("simulator", "simulator"), ("attributes", "cold-items"))}
    # same seed, same table (a fresh output folder: nothing reused)
    run_sweep(cfg, tmp_path / "b", progress=False)
    again = ResultStore(tmp_path / "b").table()

    def comparable(t: pl.DataFrame) -> pl.DataFrame:
        return t.drop(*VOLATILE).sort("cell_id", "metric", "group", nulls_last=True)

    assert comparable(again).equals(comparable(table))


def test_new_sources_leave_the_ids_of_other_cells_alone(registered: None, tiny_csv: Path, tmp_path: Path) -> None:
    attrs = write_tiny_item_attributes(tmp_path / "attrs.json")
    plain = {c.id for c in expand(parse_bench_config(tiny_config(tiny_csv)))}
    both = expand(parse_bench_config(tiny_config(tiny_csv, sources=["self", "source", "simulator", "attributes"])))
    assert plain <= {c.id for c in both}
    assert len({c.id for c in both}) == len(both)
    new = {c.id for c in both if c.source in ("simulator", "attributes")}
    assert new and not new & plain
    # item attributes and the sources' settings change only the cells that use them
    with_attrs = expand(parse_bench_config(tiny_config(
        tiny_csv, datasets=[_dataset(tiny_csv, attrs)], sources=["self", "source", "simulator", "attributes"])))
    kept = {c.id for c in with_attrs} & {c.id for c in both}
    assert kept == {c.id for c in both} - new
    tuned = expand(parse_bench_config(tiny_config(
        tiny_csv, sources=["self", "source", "simulator", "attributes"], simulator_source={"max_iter": 2})))
    changed = {c.id for c in both} - {c.id for c in tuned}
    assert changed == {c.id for c in both if c.source == "simulator"}


def test_config_of_the_new_sources(registered: None, tiny_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"simulator_source\.max_iters"):
        parse_bench_config(tiny_config(tiny_csv, simulator_source={"max_iters": 3}))
    with pytest.raises(ConfigError, match="sources"):
        parse_bench_config(tiny_config(tiny_csv, sources=["self", "simulator", "simulator"]))
    # generators are not needed when only sources with their own generator are asked for
    assert parse_bench_config(tiny_config(tiny_csv, sources=["simulator"], dp_epsilons=[], generators=[]))
    with pytest.raises(ConfigError, match="need at least one generator"):
        parse_bench_config(tiny_config(tiny_csv, dp_epsilons=[], generators=[]))
    missing = parse_bench_config(tiny_config(tiny_csv, datasets=[_dataset(tiny_csv, tmp_path / "nope.json")]))
    with pytest.raises(ConfigError, match=r"item_attributes.path: .*nope.json does not exist"):
        check_runnable(missing)
    bad = parse_bench_config(tiny_config(tiny_csv, sources=["attributes"], dp_epsilons=[],
                                         attributes_source={"generator_params": {"no_such_knob": 1}}))
    with pytest.raises(ConfigError, match="attributes_source"):
        check_runnable(bad)
    # relative item attribute paths are read from the config file's folder
    write_tiny_item_attributes(tmp_path / "attrs.json")
    raw = tiny_config(tiny_csv, datasets=[{**_dataset(tiny_csv), "item_attributes": {
        "path": "attrs.json", "format": "item2attributes-json"}}])
    (tmp_path / "bench.yaml").write_text(json.dumps(raw), encoding="utf-8")
    cfg = load_bench_config(tmp_path / "bench.yaml")
    assert cfg.datasets[0].item_attributes is not None
    assert cfg.datasets[0].item_attributes.path == (tmp_path / "attrs.json").resolve()


# ---------------------------------------------------------------------------------------------- attributes


def test_item_attribute_files_attach_by_external_id(tiny_csv: Path, tmp_path: Path) -> None:
    data = _tiny_data(tiny_csv)
    assert data.items is None and attribute_columns(data) == []
    with_json = _tiny_data(tiny_csv, write_tiny_item_attributes(tmp_path / "attrs.json"))
    items = with_json.items
    assert items is not None and items.height == with_json.n_items
    ext = with_json.item_ids.to_list()
    got = dict(zip(items[ITEM].to_list(), items["attributes"].to_list(), strict=True))
    assert all(got[i] == [f"g{int(ext[i]) % 4}", f"t{int(ext[i]) % 3}"] for i in range(with_json.n_items))
    assert attribute_columns(with_json) == ["attributes"]
    # MovieLens-1M movies.dat: latin-1, '::'-separated, genres split on '|'; missing items get []
    dat = tmp_path / "movies.dat"
    dat.write_bytes("0::Café (1995)::Comedy|Drama\n1::B (1990)::Horror\n".encode("latin-1"))
    ml = attach_item_attributes(data, ItemAttributesFile(path=dat, format="movielens-dat"))
    assert ml.items is not None
    rows = {ext: (t, g) for ext, t, g in zip(ml.item_ids.to_list(), ml.items["title"].to_list(),
                                             ml.items["genres"].to_list(), strict=True)}
    assert rows[0] == ("Café (1995)", ["Comedy", "Drama"]) and rows[1] == ("B (1990)", ["Horror"])
    assert rows[5] == (None, [])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"x": ["a"]}), encoding="utf-8")
    with pytest.raises(DataValidationError, match="none of the log's 40 items"):
        attach_item_attributes(data, ItemAttributesFile(path=other, format="item2attributes-json"))


def test_primary_category_is_the_rarest_frequent_attribute(tiny_csv: Path) -> None:
    data = _tiny_data(tiny_csv)
    assert primary_category(data, []).unique().to_list() == ["all"]
    items = pl.DataFrame({ITEM: pl.Series(np.arange(data.n_items, dtype=np.int32)),
                          "genres": [["Drama", "Noir"] if i % 2 else ["Drama"] if i % 3 else [] for i in
                                     range(data.n_items)]})
    cats = primary_category(data.__class__(data.interactions, data.user_ids, data.item_ids, None, items),
                            ["genres"], max_categories=5).to_list()
    for i, c in enumerate(cats):
        assert c == ("Noir" if i % 2 else "Drama" if i % 3 else "(other)")
    # with one candidate category only the most frequent value is kept
    only = primary_category(data.__class__(data.interactions, data.user_ids, data.item_ids, None, items),
                            ["genres"], max_categories=1).to_list()
    assert set(only) == {"Drama", "(other)"}


# ---------------------------------------------------------------------------------------------- pools


def test_simulator_pool_speaks_the_target_catalogue(tiny_csv: Path) -> None:
    data = _tiny_data(tiny_csv)
    opts = SimulatorSourceConfig(calibration_users=50, max_iter=3)
    pool = simulator_pool(data, opts, seed=0, purpose=("t",), max_ratio=2.0)
    assert pool.base_users == len(data.active_users())
    assert pool.data.n_users == 2 * pool.base_users
    assert pool.data.item_ids.equals(data.item_ids)
    it = pool.data.interactions
    assert set(it.columns) == set(data.interactions.columns)
    assert not it.select(USER, ITEM).is_duplicated().any()  # the log repeats no pair, nor does the pool
    # distinct items per user are corrected towards the log's (about 10)
    per_user = it.group_by(USER).len()["len"].mean()
    real = data.interactions.group_by(USER).len()["len"].mean()
    assert abs(per_user / real - 1.0) < 0.35
    # popular training items stay popular: item popularity comes from the training counts
    sim_counts = np.bincount(it[ITEM].to_numpy(), minlength=data.n_items)
    real_counts = np.bincount(data.interactions[ITEM].to_numpy(), minlength=data.n_items)
    assert np.corrcoef(np.log1p(sim_counts), np.log1p(real_counts))[0, 1] > 0.3
    again = simulator_pool(data, opts, seed=0, purpose=("t",), max_ratio=2.0)
    assert again.data.interactions.equals(it)
    other = simulator_pool(data, opts, seed=1, purpose=("t",), max_ratio=2.0)
    assert not other.data.interactions.equals(it)


def test_calibration_target_leaves_out_impossible_statistics(tiny_csv: Path) -> None:
    data = _tiny_data(tiny_csv)
    full = calibration_target(data)
    assert full.activity_cv is not None and full.popularity_gini is not None and full.rating_histogram
    capped = data.with_interactions(data.interactions.group_by(USER, maintain_order=True).head(5))
    target = calibration_target(capped)  # every user has 5 events: CV 0 cannot be a target
    assert target.activity_cv is None and target.activity_mean == pytest.approx(5.0)


def test_attributes_pool_covers_cold_items_and_the_tail(tiny_csv: Path, tmp_path: Path) -> None:
    data = _tiny_data(tiny_csv, write_tiny_item_attributes(tmp_path / "attrs.json"))
    counts = np.bincount(data.interactions[ITEM].to_numpy(), minlength=data.n_items)
    # make 5 items cold: drop their events (the catalogue keeps them with their attributes)
    cold = np.argsort(counts)[:5]
    train = data.with_interactions(data.interactions.filter(~pl.col(ITEM).is_in(cold.tolist())))
    opts = AttributesSourceConfig(n_factors=4, focus_share=0.6)
    pool = attributes_pool(train, opts, seed=0, purpose=("t",), max_ratio=3.0, head_share=0.2)
    assert pool.data.item_ids.equals(data.item_ids)
    assert pool.data.n_users == 3 * pool.base_users
    got = np.bincount(pool.data.interactions[ITEM].to_numpy(), minlength=data.n_items)
    assert got[cold].sum() > 0  # cold items are drawn, through their attributes
    tail = ~head_items(np.bincount(train.interactions[ITEM].to_numpy(), minlength=data.n_items), 0.2)
    assert got[tail].sum() / got.sum() == pytest.approx(0.6, abs=0.1)
    again = attributes_pool(train, opts, seed=0, purpose=("t",), max_ratio=3.0, head_share=0.2)
    assert again.data.interactions.equals(pool.data.interactions)
    with pytest.raises(Unavailable, match="needs item attributes"):
        attributes_pool(_tiny_data(tiny_csv), opts, seed=0, purpose=("t",), max_ratio=1.0, head_share=0.2)
