"""Generators: fitted on a log, they sample new synthetic users (see `synthrec.generators.base`)."""

from synthrec.data.stats import gini  # re-exported: the measure the generator is checked on
from synthrec.generators.base import BaseGenerator, Generator
from synthrec.generators.item_walk import ItemWalkGenerator
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.generators.registry import GENERATORS, make_generator

__all__ = ["GENERATORS", "BaseGenerator", "Generator", "ItemWalkGenerator", "LatentFactorGenerator", "gini",
           "make_generator"]

# The deep and attribute generators import torch; they load on first use (PEP 562), not with the package.
_LAZY = {
    "MultVAEGenerator": "synthrec.generators.vae",
    "CFGANGenerator": "synthrec.generators.gan",
    "SequenceGenerator": "synthrec.generators.sequence",
    "ProfiledGenerator": "synthrec.generators.profiled",
    "ColdItemAugmenter": "synthrec.generators.cold_items",
    "GaussianCopulaSynthesizer": "synthrec.generators.attributes",
    "Simulator": "synthrec.generators.simulator",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'synthrec.generators' has no attribute {name!r}")
