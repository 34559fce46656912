"""Name → recommender class, for configs and the CLI: ``make_model("als", factors=32, seed=3)``."""

from __future__ import annotations

from typing import Any

from synthrec._params import param_names
from synthrec._suggest import did_you_mean, did_you_mean_each
from synthrec.errors import ConfigError
from synthrec.models.als import ALS, BPR
from synthrec.models.attribute_knn import AttributeKNN
from synthrec.models.base import BaseRecommender
from synthrec.models.ease import EASE
from synthrec.models.mf_bpr import MFBPR
from synthrec.models.popularity import MostPopular
from synthrec.models.sasrec import SASRec

#: Registered models by config name; every class takes its hyper-parameters as keyword arguments.
MODELS: dict[str, type[BaseRecommender]] = {
    "pop": MostPopular, "ease": EASE, "als": ALS, "bpr": BPR, "mf-bpr": MFBPR, "sasrec": SASRec,
    "attribute-knn": AttributeKNN,  # genre item-kNN (content-based; needs an items table)
}


def make_model(name: str, *, seed: int | None = None, **params: Any) -> BaseRecommender:
    """Build the unfitted recommender registered as ``name`` with constructor arguments ``params``.

    Args:
        name: a key of `MODELS` (``"pop"``, ``"ease"``, ``"als"``, ``"bpr"``, ``"mf-bpr"``, ``"sasrec"``,
            ``"attribute-knn"``).
        seed: passed to models with random steps (ALS, BPR, MF-BPR, SASRec: ``seed=``); deterministic
            models (pop, EASE, attribute-knn) have no seed and ignore it, so one experiment seed can be
            handed to any model.
        params: the model's hyper-parameters.

    Raises:
        ConfigError: ``name`` is not registered (the message lists the valid names), or a parameter is
            unknown to that model (the message lists the valid ones) or out of range.
    """
    try:
        cls = MODELS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model {name!r}; {did_you_mean(name, MODELS)}valid names: "
                          f"{', '.join(sorted(MODELS))}") from None
    valid = param_names(cls)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {', '.join(unknown)} for model {name!r}; "
            f"{did_you_mean_each(unknown, valid)}valid parameters: {', '.join(valid)}"
        )
    if seed is not None and "seed" in valid:
        params["seed"] = seed
    return cls(**params)
