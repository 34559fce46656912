"""Generators: fitted on a log, they sample new synthetic users (see `synthrec.generators.base`)."""

from synthrec.evaluation.fidelity import gini  # re-exported: the measure the generator is checked on
from synthrec.generators.base import BaseGenerator, Generator
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.generators.registry import GENERATORS, make_generator

__all__ = ["GENERATORS", "BaseGenerator", "Generator", "LatentFactorGenerator", "gini", "make_generator"]
