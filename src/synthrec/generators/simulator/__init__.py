"""Scenario simulator: synthetic users, items and interaction logs from a domain description.

A `Scenario` (YAML, validated by pydantic) describes the catalogue, the user segments and their behaviour;
`Simulator(scenario).sample(n_users, seed=...)` returns an `InteractionData`. Presets for common domains:
`Simulator.from_preset("ecommerce" | "music" | "news" | "poi")`. `scenario_template()` returns a fully
commented scenario to start from. The engine's pieces (`utilities`, `respond`, `Population`) are public
for closed-loop simulation and evaluation against the ground truth.

`run_closed_loop(simulator, recommender, rounds, ...)` runs a closed loop (`closed_loop`), with exposure
policies in `policies`; `calibrate(target, scenario=...)` tunes a scenario to the statistics of a real log
(`calibrate`). Both are functions that take a `Simulator` or a scenario: `closed_loop` and `calibrate`
import `generator`, never the other way round.
"""

from synthrec.generators.simulator.calibrate import (
    CalibrationResult,
    CalibrationTarget,
    calibrate,
    scenario_for_log,
    scenario_to_yaml,
    target_statistics,
)
from synthrec.generators.simulator.catalogue import Catalogue, build_catalogue
from synthrec.generators.simulator.closed_loop import ClosedLoopResult, run_closed_loop
from synthrec.generators.simulator.engine import (
    Response,
    World,
    log_popularity_from_counts,
    respond,
    utilities,
)
from synthrec.generators.simulator.generator import Simulator
from synthrec.generators.simulator.policies import StochasticPopularity
from synthrec.generators.simulator.population import BLOCK_USERS, Population, SegmentTable, build_population
from synthrec.generators.simulator.presets import PRESETS, load_preset, preset_path
from synthrec.generators.simulator.scenario import (
    Scenario,
    load_scenario,
    parse_scenario,
    parse_scenario_text,
    scenario_template,
)

__all__ = [
    "BLOCK_USERS",
    "PRESETS",
    "CalibrationResult",
    "CalibrationTarget",
    "Catalogue",
    "ClosedLoopResult",
    "Population",
    "Response",
    "Scenario",
    "SegmentTable",
    "Simulator",
    "StochasticPopularity",
    "World",
    "build_catalogue",
    "build_population",
    "calibrate",
    "load_preset",
    "load_scenario",
    "log_popularity_from_counts",
    "parse_scenario",
    "parse_scenario_text",
    "preset_path",
    "respond",
    "run_closed_loop",
    "scenario_for_log",
    "scenario_template",
    "scenario_to_yaml",
    "target_statistics",
    "utilities",
]
