"""Run summaries, findings and config validation on hand-computed cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthrec.config import ExperimentConfig, load_config, parse_config
from synthrec.errors import ConfigError
from synthrec.experiments.arms import Arm, candidate_arms, max_ratio, plan_arms
from synthrec.experiments.findings import verdicts
from synthrec.experiments.pipeline import RunResult
from synthrec.experiments.results import summary_frame, write_json_atomic

MINIMAL = {"data": {"loader": "movielens-small"}}


def _result(values: dict[str, list[float]]) -> RunResult:
    cfg = parse_config(MINIMAL)
    res = RunResult(cfg, {"name": "toy"})
    for arm, vals in values.items():
        strategy = arm.split(" ")[0]
        for seed, v in enumerate(vals):
            res.records.append({"seed": seed, "arm": arm, "strategy": strategy, "source": "-", "ratio": None,
                                "model": "ease", "metric": "NDCG@10", "value": v})
    return res


def test_summary_mean_std_delta_and_ceiling() -> None:
    res = _result({
        "real-only": [0.10, 0.20],
        "augment x1 [source]": [0.12, 0.22],
        "ceiling": [0.20, 0.30],
    })
    s = {r["arm"]: r for r in summary_frame(res).to_dicts()}
    assert s["real-only"]["mean"] == pytest.approx(0.15)
    assert s["real-only"]["std"] == pytest.approx(0.0707107, abs=1e-6)  # ddof=1
    # relative difference of the means: (0.17 - 0.15) / 0.15
    assert s["augment x1 [source]"]["delta_vs_real"] == pytest.approx(2 / 15)
    # (0.17 - 0.15) / (0.25 - 0.15) = 0.2
    assert s["augment x1 [source]"]["ceiling_recovered"] == pytest.approx(0.2)
    assert s["ceiling"]["ceiling_recovered"] == pytest.approx(1.0)
    assert [r["arm"] for r in summary_frame(res).to_dicts()] == ["real-only", "augment x1 [source]", "ceiling"]


def test_ceiling_recovery_undefined_when_ceiling_does_not_help() -> None:
    res = _result({"real-only": [0.2, 0.2], "augment x1 [self]": [0.25, 0.25], "ceiling": [0.1, 0.1]})
    s = {r["arm"]: r for r in summary_frame(res).to_dicts()}
    assert s["augment x1 [self]"]["ceiling_recovered"] is None


def test_verdicts_state_losses_and_noise() -> None:
    res = _result({
        "real-only": [0.10, 0.20, 0.30],
        "augment x1 [self]": [0.09, 0.19, 0.29],      # loses every seed
        "augment x2 [self]": [0.11, 0.19, 0.31],      # mixed signs
        "augment x4 [source]": [0.12, 0.22, 0.33],    # wins every seed
    })
    text = "\n".join(verdicts(res))
    assert "augment x1 [self]: NDCG@10 0.1900 vs real-only 0.2000 (-5.0%): hurts" in text
    assert "augment x2 [self]" in text and "within noise" in text
    assert "synthetic data helps consistently in augment x4 [source]" in text
    assert "synthetic data hurts in augment x1 [self]" in text


def test_verdicts_say_when_nothing_helps() -> None:
    res = _result({"real-only": [0.1, 0.2, 0.3], "synthetic-only [self]": [0.05, 0.1, 0.2]})
    assert any("no synthetic-data arm beats real-only on average: train on the real data" in v
               for v in verdicts(res))
    noisy = _result({"real-only": [0.1, 0.2, 0.3], "augment x1 [source]": [0.15, 0.25, 0.29]})
    assert any("beats real-only in every seed; the mean gains above are within" in v for v in verdicts(noisy))


def test_verdicts_with_one_seed_report_the_difference_without_calling_it_noise() -> None:
    res = _result({"real-only": [0.05], "augment x1 [source]": [0.20], "augment x2 [self]": [0.04]})
    lines = verdicts(res)
    text = "\n".join(lines)
    assert "noise" not in text
    assert "Only 1 seed: consistency across seeds is not testable" in text
    # (0.20 - 0.05) / 0.05 = +300%
    assert ("ease, augment x1 [source]: NDCG@10 0.2000 vs real-only 0.0500 (+300.0%): higher in the one seed "
            "(consistency not testable).") in lines
    assert "ease, augment x2 [self]: NDCG@10 0.0400 vs real-only 0.0500 (-20.0%): lower in the one seed" in text
    assert ("ease: augment x1 [source] beats real-only by +300.0% in the one seed run; whether that holds "
            "across seeds is not testable with one seed.") in lines


def test_a_tie_is_never_a_loss_or_a_gain() -> None:
    res = _result({
        "real-only": [0.10, 0.20, 0.30],
        "augment x1 [self]": [0.10, 0.20, 0.30],              # exactly equal
        "augment x2 [self]": [0.09999, 0.19999, 0.29999],    # below in every seed, but -0.005%
    })
    lines = verdicts(res)
    assert "ease, augment x1 [self]: NDCG@10 0.2000 vs real-only 0.2000 (+0.0%): ties real-only." in lines
    assert "ease, augment x2 [self]: NDCG@10 0.2000 vs real-only 0.2000 (-0.0%): ties real-only." in lines
    assert not any("hurts" in v or "helps" in v for v in lines)


def test_plan_arms_and_candidates() -> None:
    cfg = parse_config({**MINIMAL, "augment_ratios": [1, 2]})
    labels = [a.label for a in plan_arms(cfg)]
    assert labels == [
        "real-only", "synthetic-only x1 [self]", "augment x1 [self]", "augment x2 [self]",
        "pretrain-finetune x1 [self]", "synthetic-only x1 [source]", "augment x1 [source]",
        "augment x2 [source]", "pretrain-finetune x1 [source]", "ceiling",
    ]
    assert Arm("ceiling") not in candidate_arms(cfg)
    assert max_ratio(cfg) == 2


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {loader: movielens-small}\nsplit: {kind: sideways}\nmodles: []\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    msg = str(info.value)
    assert "bad.yaml" in msg and "split.kind" in msg and "modles" in msg

    with pytest.raises(ConfigError, match=r"exactly one of data.loader or data.path"):
        parse_config({"data": {}})
    with pytest.raises(ConfigError, match="source_fraction is 0"):
        parse_config({**MINIMAL, "target": {"source_fraction": 0}, "sources": ["self", "source"]})
    with pytest.raises(ConfigError, match="'ceiling' needs source users"):
        parse_config({**MINIMAL, "target": {"source_fraction": 0}, "sources": ["self"],
                      "strategies": ["real-only", "ceiling"]})
    # without a source, the defaults drop what needs one
    no_source = parse_config({**MINIMAL, "target": {"source_fraction": 0}})
    assert no_source.sources == ["self"] and "ceiling" not in no_source.strategies
    notyaml = tmp_path / "x.yaml"
    notyaml.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(notyaml)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_packaged_configs_are_valid() -> None:
    from importlib import resources

    import yaml

    for name in ("demo.yaml", "example.yaml"):
        raw = yaml.safe_load(resources.files("synthrec.configs").joinpath(name).read_text())
        assert isinstance(parse_config(raw, source=name), ExperimentConfig)


def test_write_json_atomic_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    write_json_atomic({"a": 1}, target)
    with pytest.raises(TypeError):
        write_json_atomic({"a": object.__new__(type("Unjsonable", (), {"__str__": None}))}, target)
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
