r"""Attack-based privacy audit of synthetic interaction data: what an adversary holding the synthetic log
can learn about the real people the generator was fitted on.

Three attacks, each returning a frozen dataclass with ``summary() -> dict[str, float]``:

1. `shadow_membership_inference` — a trained membership-inference attack with shadow generators
   (Shokri et al. 2017, "Membership inference attacks against machine learning models", S&P, Sec. IV;
   the recommender-system version of Zhang et al. 2021, "Membership Inference Attacks Against
   Recommender Systems", CCS, Sec. 3; for synthetic data, Stadler, Oprisanu & Troncoso 2022, "Synthetic
   Data – Anonymisation Groundhog Day", USENIX Security, Sec. 4). Stronger than the single-feature
   distance attack of `synthrec.evaluation.privacy.membership_inference_auc`, because it learns from
   shadow generators how *this* generator's output relates to its training users.
2. `attribute_inference` — can a classifier trained on the synthetic users (histories → a user
   attribute) predict the attribute of the real training users better than one trained on other real
   users (Stadler et al. 2022, Sec. 5, "attribute inference" with a population baseline)?
3. `plant_canaries` / `canary_exposure` — plant distinctive users before fitting, look for them in the
   output, calibrated by identical canaries that were never planted (Carlini et al. 2019, "The Secret
   Sharer", USENIX Security, Sec. 4, exposure).

Users are compared as item **sets** (repeats, ratings and times ignored), with the Jaccard similarity
``|A ∩ B| / |A ∪ B|`` (1 − the Jaccard distance of `synthrec.evaluation.privacy`). Pairwise work is done
in (query block × synthetic block) tiles of sparse products, as in `synthrec.data.stats.jaccard_nearest`,
so memory is bounded by ``block²`` floats; the only Python loops are over tiles, shadow models and classes.

The classifiers are a small L2-regularised multinomial logistic regression fitted with L-BFGS
(`fit_softmax_regression`); runtime dependencies stay numpy/scipy.

This module imports only `synthrec.data`, `synthrec.errors` and `synthrec.evaluation`; generators come in
through a factory argument, so it never imports `synthrec.generators` or `synthrec.models`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.optimize import minimize

from synthrec.data.interactions import (
    EVENT,
    ITEM,
    RATING,
    SESSION,
    TIMESTAMP,
    USER,
    InteractionData,
    concat_users,
)
from synthrec.data.stats import (
    active_rows,
    check_block,
    check_same_catalogue,
    item_degrees,
    jaccard_nearest,
    require_active_users,
)
from synthrec.errors import ConfigError, DataValidationError
from synthrec.evaluation.bias import attribute_labels
from synthrec.evaluation.privacy import rank_auc

__all__ = [
    "FEATURE_NAMES",
    "AttributeInferenceResult",
    "CanaryExposure",
    "CanarySet",
    "ShadowMIAResult",
    "SoftmaxRegression",
    "attribute_inference",
    "canary_exposure",
    "fit_softmax_regression",
    "membership_features",
    "plant_canaries",
    "shadow_membership_inference",
]


class _SamplingGenerator(Protocol):
    def sample(self, n_users: int, *, seed: int) -> InteractionData: ...


#: builds a generator fitted on the given data, with the given seed (e.g.
#: ``lambda data, seed: LatentFactorGenerator(n_factors=8, seed=seed).fit(data)``)
GeneratorFactory = Callable[[InteractionData, int], _SamplingGenerator]

#: columns of `membership_features`, in order
FEATURE_NAMES: tuple[str, ...] = ("top1_jaccard", "topk_mean_jaccard", "top1_rarity_overlap", "log_history_length")


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


# ------------------------------------------------------------------------------------------ classifier


@dataclass(frozen=True)
class SoftmaxRegression:
    """A fitted multinomial logistic regression ``P(y = c | x) = softmax(x W + b)_c``.

    Attributes:
        weights: float64 ``(n_features, n_classes)``.
        bias: float64 ``(n_classes,)``.
        mean, scale: float64 ``(n_features,)`` standardisation applied to x first (``(x − mean) / scale``;
            zeros and ones when the input was sparse, which is not centred).
    """

    weights: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def logits(self, x: np.ndarray | sp.spmatrix | sp.sparray) -> np.ndarray:
        """float64 ``(n, n_classes)`` logits of the rows of ``x`` (dense or sparse, ``(n, n_features)``)."""
        if sp.issparse(x):
            z = np.asarray(sp.csr_matrix(x) @ (self.weights / self.scale[:, None]))
            return z - (self.mean / self.scale) @ self.weights + self.bias
        xs = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return xs @ self.weights + self.bias

    def predict_proba(self, x: np.ndarray | sp.spmatrix | sp.sparray) -> np.ndarray:
        """float64 ``(n, n_classes)`` class probabilities (rows sum to 1)."""
        z = self.logits(x)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)


def fit_softmax_regression(
    x: np.ndarray | sp.spmatrix | sp.sparray,
    y: np.ndarray,
    n_classes: int,
    *,
    l2: float = 1.0,
    standardise: bool = True,
    max_iter: int = 500,
) -> SoftmaxRegression:
    r"""Fit an L2-regularised multinomial logistic regression by L-BFGS.

    Minimises ``J(W, b) = −Σ_n log softmax(x̃_n W + b)_{y_n} + (l2 / 2) ‖W‖²_F`` (the intercept b is not
    penalised; Bishop 2006, "Pattern Recognition and Machine Learning", eq. 4.108 plus a Gaussian prior on
    W), with gradient ``∇_W = X̃ᵀ(P − Y) + l2 W``, ``∇_b = Σ_n (P_n − Y_n)``, by
    ``scipy.optimize.minimize(method="L-BFGS-B")`` (Liu & Nocedal 1989). This is scikit-learn's
    multinomial ``LogisticRegression(C=1/l2)`` objective; with two classes the optimum has W_1 = −W_0, so
    it equals the sigmoid model with w = W_1 − W_0 and ``C = 2/l2``. x̃ = standardised x (dense input,
    when ``standardise``; constant columns get scale 1), else x itself.

    Args:
        x: features ``(n, d)``, dense float or scipy sparse (sparse is never centred).
        y: int class ids ``(n,)`` in ``[0, n_classes)``.
        n_classes: number of classes, ≥ 2 (classes absent from ``y`` get low probability, not an error).
        l2: penalty strength λ > 0.
        standardise: centre and scale dense features with their mean and standard deviation.
        max_iter: L-BFGS iterations.

    Returns:
        `SoftmaxRegression`.

    Raises:
        DataValidationError: shapes disagree, ``x`` holds NaN/inf, or a label is out of range.
        ConfigError: bad ``n_classes``, ``l2`` or ``max_iter``.
    """
    c = _check_int("n_classes", n_classes, 2)
    lam = _check_positive_float("l2", l2)
    _check_int("max_iter", max_iter, 1)
    labels = np.asarray(y).ravel()
    n = labels.size
    if x.shape[0] != n:
        raise DataValidationError(f"x has {x.shape[0]} rows but y has {n} labels")
    if n and (labels.min() < 0 or labels.max() >= c or not np.issubdtype(labels.dtype, np.integer)):
        raise DataValidationError(f"labels must be integers in [0, {c}), got {labels.min()!r}..{labels.max()!r}")
    d = x.shape[1]
    if sp.issparse(x):
        xm: np.ndarray | sp.csr_matrix = sp.csr_matrix(x, dtype=np.float64)
        values = xm.data
        mean, scale = np.zeros(d), np.ones(d)
    else:
        xd = np.asarray(x, dtype=np.float64)
        values = xd
        mean = xd.mean(axis=0) if standardise and n else np.zeros(d)
        sd = xd.std(axis=0) if standardise and n else np.ones(d)
        scale = np.where(sd > 0, sd, 1.0)
        xm = (xd - mean) / scale
    if not np.isfinite(values).all():
        raise DataValidationError("classifier features hold NaN or infinite values")
    onehot = np.zeros((n, c))
    onehot[np.arange(n), labels] = 1.0

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: d * c].reshape(d, c)
        b = theta[d * c:]
        z = np.asarray(xm @ w) + b
        zmax = z.max(axis=1, keepdims=True)
        log_norm = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
        loss = float(log_norm.sum() - (z * onehot).sum()) + 0.5 * lam * float((w * w).sum())
        p = np.exp(z - log_norm[:, None])
        resid = p - onehot
        grad_w = np.asarray(xm.T @ resid) + lam * w
        return loss, np.concatenate([grad_w.ravel(), resid.sum(axis=0)])

    res = minimize(objective, np.zeros(d * c + c), jac=True, method="L-BFGS-B",
                   options={"maxiter": int(max_iter)})
    return SoftmaxRegression(res.x[: d * c].reshape(d, c).copy(), res.x[d * c:].copy(), mean, scale)


# ---------------------------------------------------------------------------------- membership features


def membership_features(
    query: InteractionData, synthetic: InteractionData, *, k: int = 5, block: int = 1024
) -> np.ndarray:
    r"""Attack features of each active query user x against a synthetic log S (columns `FEATURE_NAMES`).

    With J(x, s) the Jaccard similarity of item sets and idf_i = ln((1 + |S|) / (1 + c_i)) + 1 the smoothed
    inverse document frequency of item i among the |S| active synthetic users (c_i of them hold i;
    Sparck Jones 1972, in the smoothed form of scikit-learn's ``TfidfTransformer``):

    0. ``top1_jaccard`` = max_s J(x, s);
    1. ``topk_mean_jaccard`` = mean of the k largest J(x, s) (k clamped to |S|) — a local density;
    2. ``top1_rarity_overlap`` = max_s Σ_{i∈x∩s} idf_i / Σ_{i∈x} idf_i, in [0, 1]: the share of x's
       rarity mass that one synthetic user reproduces (item-popularity-normalised overlap: copying rare
       items weighs more than sharing blockbusters);
    3. ``log_history_length`` = ln |x| (lets the classifier condition the similarities on history size).

    Args:
        query: the users to score (rows in increasing dense-id order of ``query.active_users()``).
        synthetic: the synthetic log, same item catalogue.
        k: neighbours averaged in feature 1, ≥ 1.
        block: users per tile (see `synthrec.data.stats.jaccard_nearest`).

    Returns:
        float64 array ``(n_query_active, 4)``.

    Raises:
        DataValidationError: catalogues differ, or the synthetic log has no active user.
        ConfigError: bad ``k`` or ``block``.
    """
    kk = _check_int("k", k, 1)
    b = check_block(block)
    check_same_catalogue(query, synthetic)
    _, xq, q_size = active_rows(query)
    _, xs, s_size = active_rows(synthetic)
    require_active_users(synthetic, xs.shape[0], "the synthetic data")
    kk = min(kk, xs.shape[0])
    df = np.asarray(xs.sum(axis=0), dtype=np.float64).ravel()
    idf = np.log((1.0 + xs.shape[0]) / (1.0 + df)) + 1.0
    xq_w = sp.csr_matrix(xq.multiply(idf[None, :]))
    q_mass = np.asarray(xq_w.sum(axis=1), dtype=np.float64).ravel()
    n_q = xq.shape[0]
    top = np.full((n_q, kk), -1.0)
    best_w = np.zeros(n_q)
    for q0 in range(0, n_q, b):
        q1 = min(q0 + b, n_q)
        run = top[q0:q1]
        for s0 in range(0, xs.shape[0], b):
            s1 = min(s0 + b, xs.shape[0])
            xs_t = xs[s0:s1].T
            inter = (xq[q0:q1] @ xs_t).toarray().astype(np.float64)
            sim = inter / (q_size[q0:q1, None] + s_size[None, s0:s1] - inter)
            both = np.concatenate([run, sim], axis=1)
            run = -np.partition(-both, kk - 1, axis=1)[:, :kk]
            w_inter = (xq_w[q0:q1] @ xs_t).toarray()
            best_w[q0:q1] = np.maximum(best_w[q0:q1], w_inter.max(axis=1))
        top[q0:q1] = -np.sort(-run, axis=1)
    return np.column_stack([top[:, 0], top.mean(axis=1), best_w / q_mass, np.log(q_size)])


# ------------------------------------------------------------------------------- shadow-model attack


@dataclass(frozen=True)
class ShadowMIAResult:
    """Outcome of `shadow_membership_inference`.

    Attributes:
        member_scores, non_member_scores: float64 attack scores (log-odds of "member") of the active
            members / non-members, in increasing dense-id order.
        auc: ROC AUC, members positive (`rank_auc`).
        shadow_auc: AUC of the attack classifier on its own shadow training data (in-sample; near 0.5
            means the shadows showed no membership signal to learn).
        coefficients: feature name → weight of "member" vs "non-member" on standardised features.
        n_shadows: shadow generators trained.

    Suggested thresholds (on ``auc``, as in `synthrec.evaluation.cards`): pass ≤ 0.6; warn ≤ 0.7; fail
    above (PITFALLS P17: a copier scores ≥ 0.95, an independent generator 0.4–0.6; the AUC's standard
    error under no leak is about 0.04 for 100 + 100 users). Also flag ``tpr_at_fpr_10`` well above 0.1.
    """

    member_scores: np.ndarray
    non_member_scores: np.ndarray
    auc: float
    shadow_auc: float
    coefficients: dict[str, float]
    n_shadows: int

    @property
    def tpr_at_fpr_10(self) -> float:
        """Share of members scored above the 90th percentile of the non-member scores (true-positive rate
        at a 10 % false-positive rate; Carlini et al. 2022, "Membership Inference Attacks From First
        Principles", S&P, Sec. III-A)."""
        cut = float(np.quantile(self.non_member_scores, 0.9))
        return float(np.mean(self.member_scores > cut))

    def summary(self) -> dict[str, float]:
        """``{"mia_shadow_auc", "mia_shadow_tpr_at_fpr_10", "mia_shadow_train_auc", "mia_shadow_n_shadows"}``."""
        return {
            "mia_shadow_auc": self.auc,
            "mia_shadow_tpr_at_fpr_10": self.tpr_at_fpr_10,
            "mia_shadow_train_auc": self.shadow_auc,
            "mia_shadow_n_shadows": float(self.n_shadows),
        }


def _external_active(data: InteractionData) -> set[str]:
    return set(data.user_ids.gather(data.active_users()).cast(pl.String).to_list())


def _check_disjoint(a: InteractionData, b: InteractionData, what: str) -> None:
    shared = _external_active(a) & _external_active(b)
    if shared:
        example = sorted(shared)[0]
        raise DataValidationError(
            f"{what} share {len(shared)} user(s) (e.g. {example!r}); the attack's populations must be disjoint",
            source=b.name, column=USER,
            hint="split the real users with synthrec.data.splits.split_users into disjoint parts",
        )


def shadow_membership_inference(
    synthetic: InteractionData,
    members: InteractionData,
    non_members: InteractionData,
    auxiliary: InteractionData,
    generator_factory: GeneratorFactory,
    *,
    n_shadows: int = 4,
    k: int = 5,
    l2: float = 1.0,
    seed: int,
    block: int = 1024,
) -> ShadowMIAResult:
    """Shadow-model membership-inference attack on a synthetic log; ROC AUC on real members vs non-members.

    Threat model: the attacker holds the synthetic log, knows the generator's algorithm (the factory) and
    the size of its training set, and has an **auxiliary** real population from the same distribution,
    disjoint from the people attacked. Protocol (Shokri et al. 2017, Sec. IV; Stadler et al. 2022,
    Sec. 4.1):

    1. For each of ``n_shadows`` shadows (seeds from ``numpy.random.SeedSequence(seed).spawn``): split the
       active auxiliary users uniformly into halves *in* / *out*; ``generator_factory(in, seed_s)`` fits a
       shadow generator on *in*, which samples ``round(|in| · n_syn / n_members)`` users (the target's
       synthetic-to-training ratio, at least 1).
    2. Features (`membership_features`) of every *in* user (label 1) and *out* user (label 0) against
       that shadow's synthetic log.
    3. A logistic regression (`fit_softmax_regression`, standardised features, penalty ``l2``) on all
       shadows' rows.
    4. Score every active member and non-member by its features against the **target** synthetic log;
       score = log-odds of "member"; AUC by `rank_auc` with members positive.

    Args:
        synthetic: the synthetic log under audit (sampled from a generator fitted on ``members``).
        members: the real users the generator was fitted on (positive class).
        non_members: real users from the same population it never saw (negative class).
        auxiliary: the attacker's real users, disjoint from members and non-members (checked by external
            user id), at least 4 active users.
        generator_factory: ``(data, seed) -> generator fitted on data``; its ``sample(n, seed=...)`` must
            return users over the same item catalogue.
        n_shadows: shadow generators, ≥ 1.
        k: neighbours for the density feature.
        l2: classifier penalty.
        seed: seeds the shadow splits and the seeds passed to the factory and to ``sample``.
        block: tile size.

    Returns:
        `ShadowMIAResult`.

    Raises:
        DataValidationError: catalogues differ, a log has no active user, ``auxiliary`` has fewer than 4,
            or the populations overlap.
        ConfigError: a bad parameter.
    """
    n_sh = _check_int("n_shadows", n_shadows, 1)
    s = _check_int("seed", seed, 0)
    for data in (members, non_members, auxiliary):
        check_same_catalogue(data, synthetic)
    require_active_users(members, len(members.active_users()), "members")
    require_active_users(non_members, len(non_members.active_users()), "non-members")
    aux_users = auxiliary.active_users()
    require_active_users(auxiliary, len(aux_users), "the auxiliary population", at_least=4)
    _check_disjoint(members, non_members, "members and non-members")
    _check_disjoint(members, auxiliary, "members and the auxiliary population")
    _check_disjoint(non_members, auxiliary, "non-members and the auxiliary population")
    ratio = len(synthetic.active_users()) / len(members.active_users())

    feats, labels = [], []
    for ss in np.random.SeedSequence(s).spawn(n_sh):
        rng = np.random.default_rng(ss)
        pick = np.zeros(aux_users.size, dtype=bool)
        pick[rng.choice(aux_users.size, size=aux_users.size // 2, replace=False)] = True
        shadow_in = auxiliary.filter_users(aux_users[pick], name=f"{auxiliary.name}/shadow-in")
        shadow_out = auxiliary.filter_users(aux_users[~pick], name=f"{auxiliary.name}/shadow-out")
        fit_seed, sample_seed = (int(v) for v in rng.integers(0, 2**31 - 1, size=2))
        generator = generator_factory(shadow_in, fit_seed)
        shadow_syn = generator.sample(max(1, round(ratio * int(pick.sum()))), seed=sample_seed)
        f_in = membership_features(shadow_in, shadow_syn, k=k, block=block)
        f_out = membership_features(shadow_out, shadow_syn, k=k, block=block)
        feats += [f_in, f_out]
        labels += [np.ones(len(f_in), dtype=np.int64), np.zeros(len(f_out), dtype=np.int64)]
    x, y = np.concatenate(feats), np.concatenate(labels)
    model = fit_softmax_regression(x, y, 2, l2=l2)

    def log_odds(f: np.ndarray) -> np.ndarray:
        z = model.logits(f)
        return z[:, 1] - z[:, 0]

    train_scores = log_odds(x)
    member_scores = log_odds(membership_features(members, synthetic, k=k, block=block))
    non_scores = log_odds(membership_features(non_members, synthetic, k=k, block=block))
    coef = model.weights[:, 1] - model.weights[:, 0]
    return ShadowMIAResult(
        member_scores=member_scores, non_member_scores=non_scores, auc=rank_auc(member_scores, non_scores),
        shadow_auc=rank_auc(train_scores[y == 1], train_scores[y == 0]),
        coefficients={name: float(v) for name, v in zip(FEATURE_NAMES, coef, strict=True)}, n_shadows=n_sh,
    )


# ---------------------------------------------------------------------------------- attribute inference


@dataclass(frozen=True)
class AttributeInferenceResult:
    """Outcome of `attribute_inference`. All rates are shares of the scored target users.

    Attributes:
        attribute: the attribute column.
        applicable: False when the synthetic data carries no such attribute (then every figure is nan).
        reason: why not applicable ('' otherwise).
        accuracy: accuracy of the attacker trained on synthetic users.
        auc: its macro one-vs-rest ROC AUC (the usual AUC for two classes; nan if undefined).
        baseline_accuracy, baseline_auc: the same for the baseline trained on real non-target users.
        majority_rate: share of the most frequent label among the targets (always guessing it).
        n_targets: scored target users (active, attribute known).

    Suggested thresholds (on ``advantage`` = accuracy − max(baseline_accuracy, majority_rate)): pass
    ≤ 0.03; warn ≤ 0.08; fail above — the synthetic data then reveals more about the training users'
    attribute than the population does. Sampling noise matters: the standard error of an accuracy is
    √(a(1 − a)/n_targets), about 0.02 for 470 targets (ml-100k: releasing *other* real people, private by
    construction, measured an advantage of 0.021).
    """

    attribute: str
    applicable: bool
    reason: str
    accuracy: float
    auc: float
    baseline_accuracy: float
    baseline_auc: float
    majority_rate: float
    n_targets: int

    @property
    def advantage(self) -> float:
        """``accuracy − max(baseline_accuracy, majority_rate)``."""
        return float(self.accuracy - max(self.baseline_accuracy, self.majority_rate))

    def summary(self) -> dict[str, float]:
        """Flat dict, keys prefixed ``aia_<attribute>_``: applicable (1/0), accuracy, auc,
        baseline_accuracy, baseline_auc, majority_rate, advantage_over_baseline, advantage_over_majority,
        advantage, n_targets."""
        p = f"aia_{self.attribute}_"
        return {
            p + "applicable": float(self.applicable),
            p + "accuracy": self.accuracy,
            p + "auc": self.auc,
            p + "baseline_accuracy": self.baseline_accuracy,
            p + "baseline_auc": self.baseline_auc,
            p + "majority_rate": self.majority_rate,
            p + "advantage_over_baseline": self.accuracy - self.baseline_accuracy,
            p + "advantage_over_majority": self.accuracy - self.majority_rate,
            p + "advantage": self.advantage,
            p + "n_targets": float(self.n_targets),
        }


def _labelled_histories(data: InteractionData, column: str, bins: Sequence[float] | None, what: str
                        ) -> tuple[sp.csr_matrix, np.ndarray]:
    """Row-L2-normalised binary histories of the active users whose attribute is known, and the labels."""
    if data.users is None or column not in data.users.columns:
        raise DataValidationError(f"{what} has no users table with an attribute column {column!r}",
                                  source=data.name, column=column,
                                  hint="load the data with its user file (e.g. ml-100k u.user)")
    active = pl.DataFrame({USER: data.active_users().astype(np.int32)})
    joined = active.join(data.users.select(USER, column), on=USER, how="left").filter(pl.col(column).is_not_null())
    users = joined[USER].to_numpy().astype(np.int64)
    labels = attribute_labels(joined[column], bins=bins, source=f"users.{column}").to_numpy()
    x = data.to_csr("binary")[users]
    norms = np.sqrt(np.asarray(x.sum(axis=1), dtype=np.float64).ravel())
    x = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1.0)) @ x)
    return x, labels.astype(str)


def _train_and_score(x_train: sp.csr_matrix, y_train: np.ndarray, x_test: sp.csr_matrix, y_test: np.ndarray,
                     l2: float) -> tuple[float, float]:
    classes = np.unique(y_train)
    if classes.size == 1:  # a single class: predict it with certainty
        proba = np.ones((x_test.shape[0], 1))
    else:
        model = fit_softmax_regression(x_train, np.searchsorted(classes, y_train), classes.size, l2=l2)
        proba = model.predict_proba(x_test)
    accuracy = float(np.mean(classes[np.argmax(proba, axis=1)] == y_test))
    aucs = []
    for c in np.unique(y_test):  # one-vs-rest per class present among the targets
        pos = y_test == c
        if pos.all():
            continue
        col = np.flatnonzero(classes == c)
        score = proba[:, col[0]] if col.size else np.zeros(y_test.size)
        aucs.append(rank_auc(score[pos], score[~pos]))
    return accuracy, float(np.mean(aucs)) if aucs else float("nan")


def attribute_inference(
    synthetic: InteractionData,
    targets: InteractionData,
    population: InteractionData,
    column: str,
    *,
    bins: Sequence[float] | None = None,
    l2: float = 1.0,
) -> AttributeInferenceResult:
    """Attribute-inference attack: predict a user attribute of the generator's training users from their
    histories, with a classifier trained on the synthetic users, against a population baseline.

    * **Attack**: multinomial logistic regression (`fit_softmax_regression`, penalty ``l2``) from a
      user's binary history, rows L2-normalised (x / √|x|), to the attribute label (`attribute_labels`
      with ``bins``), trained on the synthetic users (their ``users`` table must hold ``column``: it comes
      from a generator that synthesises attributes), scored on ``targets``.
    * **Baseline**: the same classifier trained on ``population`` — real users *not* in the generator's
      training set — scored on the same targets. What it achieves is inferable from the population in
      general; only the excess of the attack over it is leakage about the targets (Stadler et al. 2022,
      Sec. 5.1).
    * **Majority rate**: accuracy of always guessing the most frequent target label.

    Users without interactions or with a null attribute are left out on every side. Accuracy counts a
    target whose label the attacker never saw as wrong; AUC is macro one-vs-rest over the target labels
    (`rank_auc`, probability of the label as score; 0 for labels the model never saw).

    Args:
        synthetic: the synthetic log (with or without a users table).
        targets: the real users the generator was fitted on, with the attribute in ``users``.
        population: other real users (e.g. the holdout), with the attribute in ``users``.
        column: the attribute column (e.g. ``"gender"``, or ``"age"`` with ``bins``).
        bins: band edges for a numeric attribute (e.g. ``(18, 25, 35, 45, 56)``).
        l2: classifier penalty.

    Returns:
        `AttributeInferenceResult`; ``applicable=False`` with nan figures when the synthetic data has no
        ``users`` table holding ``column`` or no synthetic user with a known value.

    Raises:
        DataValidationError: catalogues differ; ``targets`` or ``population`` lack the attribute or have no
            user with a known value.
        ConfigError: bad ``bins`` or ``l2``.
    """
    check_same_catalogue(targets, synthetic)
    check_same_catalogue(population, synthetic)
    x_t, y_t = _labelled_histories(targets, column, bins, "targets")
    x_p, y_p = _labelled_histories(population, column, bins, "population")
    for x, what, data in ((x_t, "targets", targets), (x_p, "population", population)):
        require_active_users(data, x.shape[0], f"{what} (with a known '{column}')")
    majority = float(np.unique(y_t, return_counts=True)[1].max() / y_t.size)
    nan = float("nan")
    if synthetic.users is None or column not in synthetic.users.columns:
        return AttributeInferenceResult(column, False, f"the synthetic data has no users table with '{column}'",
                                        nan, nan, nan, nan, majority, int(y_t.size))
    x_s, y_s = _labelled_histories(synthetic, column, bins, "the synthetic data")
    if x_s.shape[0] == 0:
        return AttributeInferenceResult(column, False, f"no synthetic user has a known '{column}'",
                                        nan, nan, nan, nan, majority, int(y_t.size))
    acc, auc = _train_and_score(x_s, y_s, x_t, y_t, l2)
    base_acc, base_auc = _train_and_score(x_p, y_p, x_t, y_t, l2)
    return AttributeInferenceResult(column, True, "", acc, auc, base_acc, base_auc, majority, int(y_t.size))


# ------------------------------------------------------------------------------------------- canaries


@dataclass(frozen=True)
class CanarySet:
    """Canaries made by `plant_canaries`.

    Attributes:
        data: the input log with the planted canaries appended as extra users (fit the generator on this).
        canaries: the planted canary users alone (external ids ``canary-0`` …), same item catalogue.
        controls: canaries drawn the same way but **not** planted (``control-0`` …): the reference for
            how similar an unplanted canary looks to the synthetic data by chance.
        pool_size: number of rare items the canaries were drawn from.
    """

    data: InteractionData
    canaries: InteractionData
    controls: InteractionData
    pool_size: int


def _canary_log(item_sets: np.ndarray, prefix: str, data: InteractionData, rng: np.random.Generator
                ) -> InteractionData:
    """Canary users over ``data``'s catalogue with the same optional columns (so stacking keeps them)."""
    n, m = item_sets.shape
    user = np.repeat(np.arange(n), m)
    cols: dict[str, Any] = {USER: pl.Series(USER, user, dtype=pl.Int32), ITEM: pl.Series(ITEM, item_sets.ravel(),
                                                                                         dtype=pl.Int32)}
    inter = data.interactions
    if TIMESTAMP in inter.columns:
        t = inter[TIMESTAMP].drop_nulls()
        lo, hi = (int(t.min()), int(t.max())) if t.len() else (0, 0)  # type: ignore[arg-type]
        times = np.sort(rng.integers(lo, hi + 1, size=(n, m)), axis=1)
        cols[TIMESTAMP] = pl.Series(TIMESTAMP, times.ravel(), dtype=pl.Int64)
    if RATING in inter.columns:  # ratings drawn from the real rating histogram
        r = inter[RATING].drop_nulls().to_numpy()
        values = rng.choice(r, size=n * m) if r.size else np.full(n * m, np.nan)
        cols[RATING] = pl.Series(RATING, values, dtype=pl.Float32)
    if EVENT in inter.columns:
        mode = inter[EVENT].drop_nulls().mode()
        cols[EVENT] = pl.Series(EVENT, [mode[0] if mode.len() else None] * (n * m), dtype=pl.String)
    if SESSION in inter.columns:
        top = inter[SESSION].max()
        first = int(top) + 1 if top is not None else 0  # type: ignore[arg-type]
        cols[SESSION] = pl.Series(SESSION, first + user, dtype=pl.Int64)
    frame = pl.DataFrame(cols).select(inter.columns)
    ids = pl.Series("user_id", [f"{prefix}-{j}" for j in range(n)], dtype=pl.String)
    return InteractionData(frame, ids, data.item_ids, None, data.items, name=f"{data.name}/{prefix}s")


def plant_canaries(
    data: InteractionData,
    n_canaries: int,
    *,
    seed: int,
    items_per_canary: int = 10,
    pool_fraction: float = 0.5,
) -> CanarySet:
    """Create distinctive canary users from rare-item combinations and append them to ``data``.

    The pool P is the ⌈pool_fraction · m⌉ least popular items of the catalogue of m items (by degree in
    ``data``, ascending; ties: lower dense id first; never-used items included). Each canary and each
    control is ``items_per_canary`` distinct items drawn uniformly from P, independently per user
    (``numpy.random.default_rng(seed)``), so canaries and controls are exchangeable: only planting tells
    them apart. Canary events copy the log's optional columns so stacking keeps them: timestamps drawn
    uniformly in the log's time range (sorted within a canary), ratings from the log's rating histogram,
    the most frequent event type, one new session per canary.

    Args:
        data: the real log the generator will be fitted on.
        n_canaries: canaries to plant (and controls to draw), ≥ 1.
        seed: random seed.
        items_per_canary: items per canary, ≥ 2 and ≤ |P|.
        pool_fraction: share of the catalogue forming P, in (0, 1].

    Returns:
        `CanarySet`; ``data`` gains ``n_canaries`` users at the end (existing dense ids and the ``users``
        table unchanged; canaries have no attribute rows).

    Raises:
        ConfigError: a bad parameter, or ``items_per_canary`` larger than the pool.
        DataValidationError: ``data`` has no interaction.
    """
    n = _check_int("n_canaries", n_canaries, 1)
    s = _check_int("seed", seed, 0)
    m_c = _check_int("items_per_canary", items_per_canary, 2)
    if isinstance(pool_fraction, bool) or not isinstance(pool_fraction, (int, float)) \
            or not 0.0 < float(pool_fraction) <= 1.0:
        raise ConfigError(f"pool_fraction must be a number in (0, 1], got {pool_fraction!r}")
    if data.n_interactions == 0:
        raise DataValidationError("cannot plant canaries in an empty log", source=data.name, hint="pass the real log")
    degrees = item_degrees(data)
    pool_size = int(np.ceil(round(float(pool_fraction) * data.n_items, 9)))
    if m_c > pool_size:
        raise ConfigError(f"items_per_canary={m_c} exceeds the {pool_size} items of the rare-item pool "
                          f"(pool_fraction={pool_fraction:g} of {data.n_items} items); lower it or raise pool_fraction")
    pool = np.argsort(degrees, kind="stable")[:pool_size]
    rng = np.random.default_rng(s)
    # m_c distinct pool items per user: the m_c smallest of pool_size uniform keys (vectorised)
    keys = rng.random((2 * n, pool_size))
    picks = np.sort(pool[np.argpartition(keys, m_c - 1, axis=1)[:, :m_c]], axis=1)
    canaries = _canary_log(picks[:n], "canary", data, rng)
    controls = _canary_log(picks[n:], "control", data, rng)
    stacked = concat_users([data, canaries], name=f"{data.name}+canaries")
    return CanarySet(replace(stacked, users=data.users), canaries, controls, pool_size)


@dataclass(frozen=True)
class CanaryExposure:
    """Outcome of `canary_exposure`.

    Attributes:
        canary_similarity, control_similarity: float64 ``(n,)`` best Jaccard similarity of each canary /
            control to any synthetic user.
        exposure: float64 ``(n,)`` per canary, log2(n_controls + 1) − log2(rank) with rank = 1 + number of
            controls at least as similar (ties count against the canary): 0 when every control is at least
            as similar, log2(n_controls + 1) when the canary beats every control. Without memorisation the
            rank is uniform on {1, …, n_controls + 1}, so the mean exposure is about log2(e) ≈ 1.44 for many
            controls (less with ties).
        threshold: similarity at which a canary counts as found.

    Suggested thresholds: on ``canary_auc`` pass ≤ 0.6, warn ≤ 0.7, fail above (as in
    `synthrec.evaluation.cards`); plant at least 100 canaries, since with n canaries and n controls the
    AUC's standard error under no leak is about √((2n + 1)/(12 n²)) (0.065 for n = 40). Independently,
    fail when ``canary_found_share`` exceeds ``canary_control_found_share`` by 0.05 or more: whole
    canaries are reproduced.
    """

    canary_similarity: np.ndarray
    control_similarity: np.ndarray
    exposure: np.ndarray
    threshold: float

    def summary(self) -> dict[str, float]:
        """``canary_auc`` (canaries vs controls, `rank_auc`), ``canary_exposure_mean``,
        ``canary_exposure_max_possible``, ``canary_found_share``, ``canary_control_found_share``,
        ``canary_similarity_mean``, ``canary_control_similarity_mean``, ``canary_threshold``."""
        return {
            "canary_auc": rank_auc(self.canary_similarity, self.control_similarity),
            "canary_exposure_mean": float(self.exposure.mean()),
            "canary_exposure_max_possible": float(np.log2(self.control_similarity.size + 1)),
            "canary_found_share": float(np.mean(self.canary_similarity >= self.threshold)),
            "canary_control_found_share": float(np.mean(self.control_similarity >= self.threshold)),
            "canary_similarity_mean": float(self.canary_similarity.mean()),
            "canary_control_similarity_mean": float(self.control_similarity.mean()),
            "canary_threshold": self.threshold,
        }


def canary_exposure(
    synthetic: InteractionData, canaries: CanarySet, *, threshold: float = 0.5, block: int = 1024
) -> CanaryExposure:
    """Search a synthetic log for planted canaries, calibrated by the unplanted controls.

    For each canary and each control c: best similarity = max_s J(c, s) over the active synthetic users s
    (1 − `jaccard_nearest`). Exposure as in Carlini et al. 2019 (Sec. 4.1, exposure = log2|R| −
    log2 rank), with the controls as the reference set R plus the canary itself: a memorising generator
    reproduces canaries (similarity 1, maximal exposure), a private one makes them no more findable
    than controls (mean exposure near log2(e) ≈ 1.44, the value of a random rank; AUC near 0.5).

    Args:
        synthetic: sampled from a generator fitted on ``canaries.data``; same item catalogue.
        canaries: from `plant_canaries`.
        threshold: Jaccard similarity in (0, 1] at which a canary counts as found.
        block: tile size.

    Returns:
        `CanaryExposure`.

    Raises:
        DataValidationError: catalogues differ or the synthetic log is empty.
        ConfigError: bad ``threshold`` or ``block``.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 < float(threshold) <= 1.0:
        raise ConfigError(f"threshold must be a Jaccard similarity in (0, 1], got {threshold!r}")
    require_active_users(synthetic, len(synthetic.active_users()), "the synthetic data")
    sim_c = 1.0 - jaccard_nearest(canaries.canaries, synthetic, block=block)[0]
    sim_k = 1.0 - jaccard_nearest(canaries.controls, synthetic, block=block)[0]
    at_least = np.searchsorted(np.sort(sim_k), sim_c, side="left")  # controls strictly below each canary
    rank = 1 + sim_k.size - at_least
    exposure = np.log2(sim_k.size + 1) - np.log2(rank)
    return CanaryExposure(sim_c, sim_k, exposure.astype(np.float64), float(threshold))
