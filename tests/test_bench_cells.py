"""Cell ids of `synthrec bench` stay put when a sweep grows, so a rerun into the same --out only runs the
new cells (a longer split list, an optional dataset key left at its default)."""

from __future__ import annotations

from pathlib import Path

from bench_fixtures import tiny_config, write_tiny_log
from synthrec.experiments.bench import expand, parse_bench_config


def _ids(raw: dict[str, object]) -> dict[tuple[object, ...], str]:
    return {(c.dataset, c.split, c.level.label, c.seed, c.arm, c.recommender): c.id
            for c in expand(parse_bench_config(raw))}


def test_adding_a_split_to_a_dataset_keeps_the_ids_of_its_other_cells(registered: None, tmp_path: Path) -> None:
    csv = write_tiny_log(tmp_path / "tiny.csv")
    before = _ids(tiny_config(csv, seeds=[0]))
    grown_raw = tiny_config(csv, seeds=[0])
    grown_raw["datasets"][0]["splits"] = ["leave-last-out", "strong-generalisation"]
    grown = _ids(grown_raw)
    assert len(grown) == 2 * len(before)
    assert all(grown[k] == v for k, v in before.items())


def test_a_default_valued_dataset_key_does_not_change_ids(registered: None, tmp_path: Path) -> None:
    csv = write_tiny_log(tmp_path / "tiny.csv")
    before = _ids(tiny_config(csv, seeds=[0]))
    same_raw = tiny_config(csv, seeds=[0])
    same_raw["datasets"][0]["min_item_interactions"] = 1  # the default, now written out
    same_raw["datasets"][0]["data"]["row_order_is_time"] = False
    assert _ids(same_raw) == before
    other_raw = tiny_config(csv, seeds=[0])
    other_raw["datasets"][0]["max_items"] = 5  # a real change of the data: new ids
    assert set(_ids(other_raw).values()).isdisjoint(before.values())


def test_a_global_time_cut_ends_the_source_where_the_targets_training_ends(registered: None, tmp_path: Path) -> None:
    from synthrec.experiments.bench.frames import build_frame

    csv = write_tiny_log(tmp_path / "tiny.csv")  # times increase with the row: users live in sequence
    cfg = parse_bench_config(tiny_config(csv, seeds=[0], dp_epsilons=[]))
    from synthrec.experiments.bench.datasets import load_bench_dataset

    data = load_bench_dataset(cfg.datasets[0])
    frame = build_frame(data, "temporal", 0, source_fraction=0.5, test_fraction=0.2)
    cut = int(frame.split.test.interactions["timestamp"].min())  # type: ignore[arg-type]
    assert int(frame.source.interactions["timestamp"].max()) < cut  # type: ignore[arg-type]
    loo = build_frame(data, "leave-last-out", 0, source_fraction=0.5, test_fraction=0.2)
    assert int(loo.source.interactions["timestamp"].max()) > cut  # type: ignore[arg-type]
