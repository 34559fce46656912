"""Utility of synthetic data for training recommenders: TSTR ratios and algorithm-ranking agreement.

**TSTR** (train on synthetic, test on real; Esteban, Hyland & Rätsch 2017, "Real-valued (medical) time
series generation with recurrent conditional GANs", arXiv:1706.02633, Sec. 3.2): each recommender is fitted
once on the synthetic log and once on the real training log, and both are scored on the same held-out
real users, by their histories (strong generalisation where the split is user-holdout; see
`synthrec.data.splits.Split.evaluation_inputs`). The **TSTR ratio** is NDCG@K(synthetic-trained) /
NDCG@K(real-trained): 1 = the synthetic data is as useful as the real data for this model.

**Ranking agreement**: would a practitioner who compares algorithms on the synthetic data pick the same
order as on real data? Kendall's τ-b between the models' synthetic-trained and real-trained NDCG@K
(Kendall 1945, "The treatment of ties in ranking problems", Biometrika 33; `scipy.stats.kendalltau`).
This is the "model selection" use of synthetic benchmarks (e.g. Jordon et al. 2022, "Synthetic Data – what,
why and how?", Sec. 4).

Suggested report thresholds: TSTR ratio (per model and mean) pass ≥ 0.9, warn ≥ 0.7, fail below;
Kendall τ pass ≥ 0.6 (with 4 models: at most one of the 6 pairs swapped), warn ≥ 0, fail below (the
synthetic data reverses the ranking).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from synthrec.data.interactions import InteractionData
from synthrec.data.splits import Split
from synthrec.data.stats import check_same_catalogue
from synthrec.errors import ConfigError, DataValidationError
from synthrec.evaluation.metrics import ndcg_at_k
from synthrec.models.base import Recommender
from synthrec.models.registry import make_model

__all__ = ["DEFAULT_MODELS", "DEFAULT_MODEL_PARAMS", "TSTRResult", "rank_agreement", "tstr"]

#: models compared by default (names of `synthrec.models.registry.MODELS`)
DEFAULT_MODELS: tuple[str, ...] = ("pop", "ease", "als", "bpr")

#: small settings so the whole comparison (8 fits) takes about 4 s on ml-100k on one idle core
DEFAULT_MODEL_PARAMS: Mapping[str, Mapping[str, Any]] = {
    "als": {"factors": 32, "iterations": 10},
    "bpr": {"factors": 32, "iterations": 50},
}

ModelSpec = Sequence[str] | Mapping[str, Callable[[], Recommender]]


def rank_agreement(scores_a: npt.ArrayLike, scores_b: npt.ArrayLike) -> float:
    """Kendall's τ-b between two score vectors over the same models (ties handled as in τ-b).

    τ-b = (P − Q) / √((P + Q + T_a)(P + Q + T_b)), P/Q = concordant/discordant pairs, T_a/T_b = pairs tied
    only in a / only in b (Kendall 1945; `scipy.stats.kendalltau`, variant "b"). In [−1, 1]: 1 = same
    order, −1 = reversed. E.g. a = (0.1, 0.2, 0.3, 0.4), b = (0.15, 0.3, 0.25, 0.5): one of 6 pairs
    discordant → τ = (5 − 1)/6 = 2/3.

    Args:
        scores_a, scores_b: array-likes ``(n_models,)`` of finite scores.

    Returns:
        float; ``nan`` with fewer than 2 models or when one side is constant.

    Raises:
        DataValidationError: lengths differ or a score is not finite.
    """
    a = np.asarray(scores_a, dtype=np.float64).ravel()
    b = np.asarray(scores_b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise DataValidationError(f"rank_agreement needs one score per model on both sides, got {a.size} and {b.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise DataValidationError("rank_agreement: scores must be finite")
    if a.size < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(stats.kendalltau(a, b, variant="b").statistic)


@dataclass(frozen=True)
class TSTRResult:
    """Outcome of `tstr`.

    Attributes:
        ndcg_synthetic: model name → NDCG@K of the model trained on the synthetic data.
        ndcg_real: model name → NDCG@K of the model trained on the real training data.
        k: the cut-off.
        n_users: real test users scored.

    Suggested thresholds: see the module docstring.
    """

    ndcg_synthetic: Mapping[str, float]
    ndcg_real: Mapping[str, float]
    k: int
    n_users: int

    def ratio(self, model: str) -> float:
        """TSTR ratio of ``model``: synthetic-trained / real-trained NDCG@K (nan when the latter is 0)."""
        real = self.ndcg_real[model]
        return float(self.ndcg_synthetic[model] / real) if real > 0 else float("nan")

    @property
    def kendall_tau(self) -> float:
        """`rank_agreement` of the models' synthetic-trained and real-trained NDCG@K."""
        names = list(self.ndcg_real)
        return rank_agreement([self.ndcg_synthetic[m] for m in names], [self.ndcg_real[m] for m in names])

    @property
    def best_model_agrees(self) -> bool:
        """True when the best model (highest NDCG@K; ties: first listed) is the same on both sides."""
        names = list(self.ndcg_real)
        return max(names, key=self.ndcg_synthetic.__getitem__) == max(names, key=self.ndcg_real.__getitem__)

    def summary(self) -> dict[str, float]:
        """``tstr_ndcg_synthetic_<m>``, ``tstr_ndcg_real_<m>``, ``tstr_ratio_<m>`` per model, then
        ``tstr_ratio_mean`` (mean of the finite ratios), ``tstr_kendall_tau``, ``tstr_best_model_agrees``
        (1/0), ``tstr_k``, ``tstr_n_users``."""
        out: dict[str, float] = {}
        for m in self.ndcg_real:
            out[f"tstr_ndcg_synthetic_{m}"] = float(self.ndcg_synthetic[m])
            out[f"tstr_ndcg_real_{m}"] = float(self.ndcg_real[m])
            out[f"tstr_ratio_{m}"] = self.ratio(m)
        ratios = np.array([self.ratio(m) for m in self.ndcg_real])
        finite = ratios[np.isfinite(ratios)]
        out["tstr_ratio_mean"] = float(finite.mean()) if finite.size else float("nan")
        out["tstr_kendall_tau"] = self.kendall_tau
        out["tstr_best_model_agrees"] = float(self.best_model_agrees)
        out["tstr_k"] = float(self.k)
        out["tstr_n_users"] = float(self.n_users)
        return out


def _factories(models: ModelSpec, model_params: Mapping[str, Mapping[str, Any]] | None, seed: int
               ) -> dict[str, Callable[[], Recommender]]:
    if isinstance(models, Mapping):
        return dict(models)
    if isinstance(models, str) or not models:
        raise ConfigError(f"models must be a non-empty list of model names, got {models!r}")
    params = DEFAULT_MODEL_PARAMS if model_params is None else model_params
    out: dict[str, Callable[[], Recommender]] = {}
    for name in models:
        kwargs = dict(params.get(name, {}))
        make_model(name, seed=seed, **kwargs)  # fail fast on a bad name or parameter
        out[name] = functools.partial(make_model, name, seed=seed, **kwargs)
    return out


def tstr(
    split: Split,
    synthetic: InteractionData,
    *,
    models: ModelSpec = DEFAULT_MODELS,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    k: int = 10,
    seed: int = 0,
) -> TSTRResult:
    """Train-on-synthetic / test-on-real NDCG@K of several recommenders, next to train-on-real.

    For each model: ``fit(synthetic)`` and, separately, ``fit(split.train)``; both recommend ``k`` unseen
    items for the evaluated real users given their histories (``split.evaluation_inputs("binary")``:
    train rows, or the fold-in rows under user-holdout), scored by NDCG@K (`ndcg_at_k`, binary
    relevance; mean over users with a test event).

    Args:
        split: the real split (its ``train`` is the real training log the synthetic data stands in for).
        synthetic: synthetic log over the same item catalogue (normally sampled from a generator fitted on
            ``split.train``).
        models: model names of `synthrec.models.registry.MODELS`, or a mapping name → zero-argument
            factory of an unfitted recommender (e.g. tuned models).
        model_params: name → hyper-parameters for named models (default `DEFAULT_MODEL_PARAMS`; pass
            ``{}`` for each model's own defaults).
        k: the cut-off, ≥ 1.
        seed: passed to models with random steps.

    Returns:
        `TSTRResult`.

    Raises:
        DataValidationError: catalogues differ, the split has no test event, or a training log is empty.
        ConfigError: an unknown model or parameter, or a bad ``k``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be an integer >= 1, got {k!r}")
    check_same_catalogue(split.train, synthetic)
    for data, what in ((split.train, "real training log"), (synthetic, "synthetic log")):
        if data.n_interactions == 0:
            raise DataValidationError(f"the {what} has no interactions, so no model can be trained on it",
                                      source=data.name, hint="pass a non-empty log")
    users, histories, targets = split.evaluation_inputs("binary")
    if len(users) == 0:
        raise DataValidationError(f"the {split.kind} split holds no test events, so nothing can be measured",
                                  source=split.train.name, hint="use a split with held-out interactions")
    factories = _factories(models, model_params, seed)
    on_synthetic: dict[str, float] = {}
    on_real: dict[str, float] = {}
    for name, build in factories.items():
        for data, out in ((synthetic, on_synthetic), (split.train, on_real)):
            model = build().fit(data)
            out[name] = float(ndcg_at_k(model.recommend(histories, int(k), exclude_seen=True), targets, int(k)))
    return TSTRResult(on_synthetic, on_real, int(k), len(users))
