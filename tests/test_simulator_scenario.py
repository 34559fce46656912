"""Scenario validation: every invalid scenario raises ConfigError naming the key path, the file and line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml

from synthrec.errors import ConfigError
from synthrec.generators.simulator import (
    Simulator,
    load_scenario,
    parse_scenario,
    parse_scenario_text,
    scenario_template,
)
from synthrec.generators.simulator.scenario import format_loc, leaf_names


def base() -> dict[str, Any]:
    return {
        "items": {"count": 50, "categories": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]},
        "users": {"segments": [{"name": "x", "share": 0.4}, {"name": "y", "share": 0.6}]},
        "behaviour": {"funnel": {"stages": [{"name": "view"}, {"name": "click", "rate": 0.3},
                                            {"name": "purchase", "rate": 0.1}]}},
    }


def invalid(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_scenario(raw, source="s.yaml")
    return str(info.value)


def test_template_validates_and_samples() -> None:
    text = scenario_template()
    assert text.count("#") > 40  # fully commented
    scenario = parse_scenario_text(text)
    assert [g.name for g in scenario.users.segments] == ["enthusiasts", "casual"]
    data = Simulator(scenario).sample(50, seed=0)
    assert data.n_users == 50 and data.n_interactions > 0


def test_valid_base_and_defaults() -> None:
    s = parse_scenario(base())
    assert s.stage_names == ["view", "click", "purchase"]
    assert s.funnel_rates() == [[1.0, 0.3, 0.1], [1.0, 0.3, 0.1]]
    assert parse_scenario({}).users.segments[0].name == "everyone"


def test_negative_share_names_the_key_path() -> None:
    raw = base()
    raw["users"]["segments"][1]["share"] = -0.6
    assert "users.segments[1].share" in invalid(raw)


def test_shares_must_sum_to_one_within_tolerance() -> None:
    raw = base()
    raw["users"]["segments"][1]["share"] = 0.5
    msg = invalid(raw)
    assert "users.segments:" in msg and "sum to 0.9" in msg
    raw["users"]["segments"][1]["share"] = 0.6 + 5e-7  # inside 1e-6
    parse_scenario(raw)
    raw = base()
    raw["items"]["categories"][0]["share"] = 0.7
    assert "items.categories: shares must sum to 1" in invalid(raw)


def test_nested_category_shares_are_checked_per_parent() -> None:
    raw = base()
    raw["items"]["categories"][0]["children"] = [{"name": "c", "share": 0.3}, {"name": "d", "share": 0.3}]
    assert "items.categories[0].children: shares must sum to 1" in invalid(raw)


def test_unknown_key_is_an_error() -> None:
    raw = base()
    raw["users"]["segments"][0]["sessions"] = 3
    msg = invalid(raw)
    assert "users.segments[0].sessions" in msg and "unknown key" in msg
    raw = base()
    raw["colour"] = "red"
    assert "colour: unknown key" in invalid(raw)


def test_impossible_funnels() -> None:
    raw = base()
    raw["behaviour"]["funnel"]["stages"][2]["rate"] = 0.5  # purchase > click
    msg = invalid(raw)
    assert "behaviour.funnel.stages[2].rate" in msg and "purchase rate 0.5 exceeds click rate 0.3" in msg
    raw = base()
    raw["users"]["segments"][1]["funnel"] = {"purchase": 0.4}
    assert "users.segments[1].funnel.purchase" in invalid(raw)
    raw = base()
    raw["users"]["segments"][0]["funnel"] = {"click": 1.5}
    assert "users.segments[0].funnel.click: rate 1.5 is outside [0, 1]" in invalid(raw)
    raw = base()
    raw["behaviour"]["funnel"]["stages"][1]["rate"] = -0.1
    assert "behaviour.funnel.stages[1].rate" in invalid(raw)
    raw = base()
    raw["users"]["segments"][0]["funnel"] = {"cart": 0.1}
    assert "users.segments[0].funnel.cart: unknown stage" in invalid(raw)


def test_non_positive_item_count() -> None:
    for count in (0, -5):
        raw = base()
        raw["items"]["count"] = count
        assert "items.count" in invalid(raw)


def test_other_cross_key_checks() -> None:
    raw = base()
    raw["users"]["segments"][0]["affinity"] = {"weights": {"zzz": 2.0}}
    assert "users.segments[0].affinity.weights.zzz: unknown category" in invalid(raw)
    raw = base()
    raw["users"]["demographics"] = {"age": {"young": 0.5, "old": 0.4}}
    assert "users.demographics.age: shares must sum to 1" in invalid(raw)
    raw = base()
    raw["behaviour"]["ratings"] = {"stage": "cart"}
    assert "behaviour.ratings.stage: unknown stage" in invalid(raw)
    raw = base()
    raw["simulation"] = {"hourly_weights": [1.0] * 23}
    assert "simulation.hourly_weights: give exactly 24 weights" in invalid(raw)
    raw = base()
    raw["users"]["segments"][1]["name"] = "x"
    assert "users.segments[1].name: duplicate segment name" in invalid(raw)


def test_all_problems_are_listed_at_once() -> None:
    raw = base()
    raw["users"]["segments"][0]["share"] = 0.1
    raw["behaviour"]["funnel"]["stages"][2]["rate"] = 0.9
    msg = invalid(raw)
    assert "users.segments:" in msg and "stages[2].rate" in msg


def test_file_errors_name_file_and_line(tmp_path: Path) -> None:
    raw = base()
    raw["users"]["segments"][1]["share"] = -0.6
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    lines = path.read_text().splitlines()
    want = next(i for i, line in enumerate(lines, 1) if "share: -0.6" in line)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert str(path) in msg and f"users.segments[1].share (line {want})" in msg


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nitems:\n  count: 10\n  categories: [a, b\nusers: {}\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert str(path) in msg and "line 5" in msg and "not valid YAML" in msg


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_scenario(tmp_path / "nope.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_scenario(path)


def test_load_from_file_keeps_source(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(base()))
    s = load_scenario(path)
    assert s.source_file == path
    assert Simulator(path).scenario == s


def test_helpers() -> None:
    assert format_loc(("users", "segments", 1, "share")) == "users.segments[1].share"
    assert format_loc(()) == "(top level)"
    s = parse_scenario({"items": {"categories": [
        {"name": "e", "share": 0.5, "children": [{"name": "p", "share": 1.0}]}, {"name": "b", "share": 0.5}]}})
    assert leaf_names(s.items.categories) == ["e/p", "b"]


# ---------------------------------------------------------------------------------------------- import


def catalogue_file(tmp_path: Path, fmt: str = "csv") -> Path:
    frame = pl.DataFrame({
        "sku": ["s1", "s2", "s3", "s4", "s5", "s6"],
        "cat": ["tea", "tea", "coffee", "coffee", "coffee", "cups"],
        "eur": [3.5, 4.0, 8.0, 12.0, 9.5, 6.0],
        "maker": ["A", "B", "A", "C", "C", "B"],
        "title": ["t1", "t2", "t3", "t4", "t5", "t6"],
    })
    path = tmp_path / f"cat.{fmt}"
    frame.write_csv(path) if fmt == "csv" else frame.write_parquet(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_imported_catalogue(tmp_path: Path, fmt: str) -> None:
    path = catalogue_file(tmp_path, fmt)
    raw = base()
    raw["items"] = {"source": {"path": path.name, "id_column": "sku", "category_column": "cat",
                               "price_column": "eur", "brand_column": "maker", "attributes": ["title"]}}
    scen_path = tmp_path / "s.yaml"
    scen_path.write_text(yaml.safe_dump(raw))
    sim = Simulator(scen_path)  # relative catalogue path resolved against the scenario's folder
    items = sim.items_table
    assert sim.catalogue.item_ids.to_list() == ["s1", "s2", "s3", "s4", "s5", "s6"]
    assert items["category"].to_list() == ["tea", "tea", "coffee", "coffee", "coffee", "cups"]
    assert items["price"].to_list() == [3.5, 4.0, 8.0, 12.0, 9.5, 6.0]
    assert items["brand"].to_list() == ["A", "B", "A", "C", "C", "B"]
    assert items["title"].to_list() == ["t1", "t2", "t3", "t4", "t5", "t6"]
    data = sim.sample(30, seed=0)
    assert data.item_ids.to_list() == ["s1", "s2", "s3", "s4", "s5", "s6"]
    assert data.n_interactions > 0


def test_imported_catalogue_errors(tmp_path: Path) -> None:
    path = catalogue_file(tmp_path)
    raw = base()
    raw["items"] = {"source": {"path": str(path), "id_column": "sku", "category_column": "kind"}}
    with pytest.raises(ConfigError, match=r"items.source.category_column: file .*cat.csv has no column 'kind'"):
        Simulator(parse_scenario(raw)).catalogue  # noqa: B018
    dup = tmp_path / "dup.csv"
    dup.write_text("sku,cat\na,x\nb,x\na,y\n")
    raw["items"] = {"source": {"path": str(dup), "id_column": "sku", "category_column": "cat"}}
    with pytest.raises(ConfigError, match=r"row 3: duplicate item id 'a'"):
        Simulator(parse_scenario(raw)).catalogue  # noqa: B018
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,cat,eur\na,x,1.0\nb,x,0\n")
    raw["items"] = {"source": {"path": str(bad), "id_column": "sku", "category_column": "cat", "price_column": "eur"}}
    with pytest.raises(ConfigError, match=r"column 'eur', row 2: price must be > 0"):
        Simulator(parse_scenario(raw)).catalogue  # noqa: B018
    weights = copy.deepcopy(base())
    weights["items"] = {"source": {"path": str(path), "id_column": "sku", "category_column": "cat"}}
    weights["users"]["segments"][0]["affinity"] = {"weights": {"juice": 2.0}}
    with pytest.raises(ConfigError, match=r"users.segments\[0\].affinity.weights.juice: unknown category"):
        Simulator(parse_scenario(weights)).world  # noqa: B018


def test_catalogue_counts_follow_shares_exactly() -> None:
    raw = base()
    raw["items"] = {"count": 10, "categories": [{"name": "a", "share": 0.25}, {"name": "b", "share": 0.75}]}
    cat = Simulator(parse_scenario(raw)).catalogue
    # largest remainder: 2.5 -> 2 or 3, 7.5 -> 8 or 7; ties go to the lower index
    assert np.bincount(cat.category).tolist() == [3, 7]
