"""Generators by name, for configs and the CLI: ``make_generator("latent-factor", n_factors=32)``."""

from __future__ import annotations

from typing import Any

from synthrec.errors import ConfigError
from synthrec.generators.base import BaseGenerator
from synthrec.generators.latent_factor import LatentFactorGenerator

#: name -> generator class; every class takes its hyper-parameters as keyword arguments.
GENERATORS: dict[str, type[BaseGenerator]] = {
    "latent-factor": LatentFactorGenerator,
}


def make_generator(name: str, **params: Any) -> BaseGenerator:
    """Build an unfitted generator from its registered name and keyword hyper-parameters.

    Raises:
        ConfigError: the name is not registered (the message lists the valid names), or a parameter is
            unknown to that generator or out of range.
    """
    try:
        cls = GENERATORS[name]
    except KeyError:
        raise ConfigError(
            f"unknown generator {name!r}; valid names: {', '.join(sorted(GENERATORS))}"
        ) from None
    try:
        return cls(**params)
    except TypeError as exc:  # unexpected keyword
        raise ConfigError(f"bad parameters for generator {name!r}: {exc}") from None
