"""Constructor parameters read back from an estimator: the one place that reads signatures.

The convention every synthrec generator and recommender follows (scikit-learn's): the constructor stores
each argument as an attribute of the same name, so ``LatentFactorGenerator(n_factors=8).n_factors == 8``
and ``type(g)(**g.get_params())`` builds an unfitted copy. `ParamsMixin` gives `BaseGenerator` and
`BaseRecommender` their ``get_params``; `param_names` and `takes_any_keyword` answer "which names may
a config pass to this class" (`synthrec.generators.registry.make_generator`, `synthrec.models.registry.make_model`).

Imports nothing of ours, so ``generators/`` and ``models/`` can both use it without a circle.
"""

from __future__ import annotations

from inspect import Parameter, signature
from typing import Any

import numpy as np

_NAMED = (Parameter.POSITIONAL_OR_KEYWORD, Parameter.KEYWORD_ONLY)


def param_names(cls: type) -> list[str]:
    """The constructor parameters of ``cls`` that can be passed by keyword, in their order (no ``self``,
    no ``*args`` / ``**kwargs``)."""
    return [n for n, p in signature(cls).parameters.items() if p.kind in _NAMED and n != "self"]


def takes_any_keyword(cls: type) -> bool:
    """Does the constructor of ``cls`` take ``**kwargs`` (then any keyword may be valid)?"""
    return any(p.kind is Parameter.VAR_KEYWORD for p in signature(cls).parameters.values())


def json_value(value: Any) -> Any:
    """``value`` as JSON can hold it: numpy scalars as Python numbers, tuples as lists, dict keys as
    strings, and anything else that is not plain data as its ``repr``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return repr(value)


def read_params(obj: object, *, as_json: bool = False) -> dict[str, Any]:
    """The constructor arguments of ``obj``, read back from its attributes of the same names (signature
    order; a parameter the object does not store is left out).

    Args:
        as_json: pass every value through `json_value` (for manifests and reports); otherwise the values
            are the stored objects themselves, so ``type(obj)(**read_params(obj))`` rebuilds it.
    """
    params = {name: getattr(obj, name) for name in param_names(type(obj)) if hasattr(obj, name)}
    return {k: json_value(v) for k, v in params.items()} if as_json else params


class ParamsMixin:
    """``get_params`` from the constructor signature (`read_params`), shared by generators and models."""

    def get_params(self, *, as_json: bool = False) -> dict[str, Any]:
        """Constructor arguments of this object, as currently set (see `synthrec._params.read_params`)."""
        return read_params(self, as_json=as_json)
