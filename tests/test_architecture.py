"""The import graph keeps the stated direction: no file or package circle, the layering rules hold
(`scripts/import_graph.py`), and the names moved to keep it so still import from their old homes."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "import_graph.py"


def _import_graph() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_import_graph_has_no_circle_and_keeps_the_layering_rules() -> None:
    graph = _import_graph()
    assert graph.problems() == []


def test_circles_finds_a_three_cycle_and_nothing_in_a_dag() -> None:
    circles = _import_graph().circles
    cycle = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(cycle) == [["a", "b", "c"]]
    dag = {"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}
    assert circles(dag) == []
    # a target missing from the keys (a leaf) is no circle either
    assert circles({"a": {"b"}}) == []


def test_moved_names_still_import_from_their_old_homes() -> None:
    from synthrec import _suggest, errors
    from synthrec.data import stats
    from synthrec.evaluation import fidelity, metrics, privacy
    from synthrec.experiments import results
    from synthrec.generators import _gmm, _latent_users
    from synthrec.generators import gini as generators_gini
    from synthrec.report import html, run_quality

    assert fidelity.gini is stats.gini and generators_gini is stats.gini
    assert privacy.jaccard_nearest is stats.jaccard_nearest
    assert results.headline_metrics is metrics.headline_metrics and results.metric_ks is metrics.metric_ks
    assert html.quality_cards is run_quality.quality_cards and html.quality_table is run_quality.quality_table
    assert _latent_users.conditional_mixture_sample is _gmm.conditional_mixture_sample
    assert _suggest.did_you_mean is errors.did_you_mean and _suggest.close_matches is errors.close_matches
