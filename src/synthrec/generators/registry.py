"""Generators by name, for configs and the CLI: ``make_generator("latent-factor", n_factors=32)``."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from importlib import import_module
from typing import Any

from synthrec._params import param_names, takes_any_keyword
from synthrec._suggest import did_you_mean, did_you_mean_each
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
    "item-walk": "synthrec.generators.item_walk:ItemWalkGenerator",
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
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown generator {name!r}; {did_you_mean(name, GENERATORS)}valid names: {', '.join(sorted(GENERATORS))}"
        ) from None
    valid = generator_params(cls)
    if valid is not None:
        unknown = [p for p in params if p not in valid]
        if unknown:
            raise ConfigError(
                f"bad parameters for generator {name!r}: unknown parameter(s) {', '.join(unknown)}; "
                f"{did_you_mean_each(unknown, valid)}valid parameters: {', '.join(valid)}"
            )
    try:
        return cls(**params)
    except TypeError as exc:  # e.g. a positional-only or missing argument
        raise ConfigError(f"bad parameters for generator {name!r}: {exc}") from None


def generator_params(cls: type[BaseGenerator]) -> list[str] | None:
    """The keyword parameters of a generator class's constructor (``seed`` included), in their order, or
    None when it takes ``**kwargs`` (then any name may be valid)."""
    return None if takes_any_keyword(cls) else param_names(cls)
