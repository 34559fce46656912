"""Shipped preset scenarios (YAML files in ``presets/``), each commented with the statistics it produces."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from synthrec.errors import ConfigError
from synthrec.generators.simulator.scenario import Scenario, parse_scenario_text

#: preset names, in the order the CLI lists them
PRESETS: tuple[str, ...] = ("ecommerce", "music", "news", "poi")


def preset_path(name: str) -> Path:
    """Path of the YAML file of preset ``name``.

    Raises:
        ConfigError: unknown preset (the message lists the valid names).
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return Path(str(resources.files("synthrec.generators.simulator").joinpath("presets", f"{name}.yaml")))


def preset_text(name: str) -> str:
    """The commented YAML of preset ``name`` (e.g. to copy and edit)."""
    return preset_path(name).read_text(encoding="utf-8")


def load_preset(name: str) -> Scenario:
    """The validated scenario of preset ``name``.

    Raises:
        ConfigError: unknown preset.
    """
    path = preset_path(name)
    return parse_scenario_text(preset_text(name), source=f"preset {name} ({path})")
