"""Generators by name, for configs and the CLI: ``make_generator("latent-factor", n_factors=32)``."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from importlib import import_module
from typing import Any

from synthrec.errors import ConfigError
from synthrec.generators.base import BaseGenerator


class LazyRegistry(MutableMapping[str, type[BaseGenerator]]):
    """Name -> generator class, importing a class's module only when the name is first looked up.

    The deep generators import torch (seconds of start-up); a CLI call or worker that only needs the
    latent-factor model should not pay for it. Entries are classes or ``"module:Class"`` strings.
    """

    def __init__(self, entries: dict[str, type[BaseGenerator] | str]) -> None:
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> type[BaseGenerator]:
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            entry = getattr(import_module(module), attr)
            self._entries[name] = entry
        return entry

    def __setitem__(self, name: str, cls: type[BaseGenerator]) -> None:
        self._entries[name] = cls

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


#: name -> generator class; every class takes its hyper-parameters as keyword arguments.
GENERATORS: LazyRegistry = LazyRegistry({
    "latent-factor": "synthrec.generators.latent_factor:LatentFactorGenerator",
    "vae": "synthrec.generators.vae:MultVAEGenerator",
    "gan": "synthrec.generators.gan:CFGANGenerator",
    "sequence": "synthrec.generators.sequence:SequenceGenerator",
    "profiled": "synthrec.generators.profiled:ProfiledGenerator",
})


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
