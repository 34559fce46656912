"""The optional audits of the quality report (`synthrec report`), each run on logs that share one catalogue
(run by `synthrec.experiments.audit.run_quality_audit`; `synthrec.report.quality` renders their results).

* `bias_audit` (always): popularity-bias amplification and representation of user / item groups.
* `attribute_inference_audit` (when the real members have user attributes): can the synthetic users
  teach a classifier the members' attributes better than the population does?
* `utility_audit` (``--utility``): TSTR NDCG@10 of pop / EASE / ALS / BPR and the Kendall τ of their
  order, on the split of `utility_split`.
* `shadow_attack_audit` (``--generator``): the shadow-model membership-inference attack, with shadows
  refitted from the given generator's class and parameters (`refit_factory`).
* `canary_audit` (``--generator`` with ``--canaries N``): canaries planted in the members, the
  generator class refitted on members + canaries, exposure of the canaries in its output.
* `dp_audit` (``--generator``): the ε the fitted generator reports (`synthrec.evaluation.cards.dp_summary`).

Every audit returns an `AuditOutcome`: summaries for the cards (names of
`synthrec.evaluation.cards.OPTIONAL_SUMMARIES`), the numbers of its figure, and a note saying precisely
what was measured (shown on the cards and in the page).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from synthrec.data.interactions import USER, InteractionData, concat_users
from synthrec.data.splits import Split, leave_last_out, split_users
from synthrec.errors import ConfigError
from synthrec.evaluation.bias import MAX_CATEGORIES, popularity_bias, representation
from synthrec.evaluation.cards import dp_summary
from synthrec.generators.base import BaseGenerator
from synthrec.generators.registry import generator_params as constructor_params
from synthrec.report.quality_figures import bias_data, utility_data

__all__ = [
    "AuditOutcome",
    "OptionalAudits",
    "attribute_inference_audit",
    "attribute_inference_summary",
    "bias_audit",
    "canary_audit",
    "dp_audit",
    "generator_params",
    "merge",
    "refit_factory",
    "shadow_attack_audit",
    "utility_audit",
    "utility_split",
]


@dataclass(frozen=True)
class AuditOutcome:
    """What one optional audit produced.

    Attributes:
        summaries: audit name → flat summary dict (floats), judged by `optional_cards`.
        plots: plot key of ``results["plots"]`` → the figure's numbers (e.g. ``"bias"``).
        notes: audit name → how it was measured, or why it was not (shown on its cards).
    """

    summaries: dict[str, dict[str, float]] = field(default_factory=dict)
    plots: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OptionalAudits:
    """Which audits `synthrec.experiments.audit.run_quality_audit` runs beside fidelity, privacy and bias.

    Attributes:
        utility: run `utility_audit` (trains 8 recommenders: seconds on ml-100k).
        generator: a fitted generator (e.g. loaded from `synthrec fit`'s file), or ``None``. Enables the DP
            card, and with ``n_shadows`` / ``n_canaries`` the attacks, which refit its class.
        n_shadows: shadow generators of the membership attack (0: no attack).
        n_canaries: canaries to plant (0: no canary audit).
        seed: seeds every random step of the optional audits.
    """

    utility: bool = False
    generator: object | None = None
    n_shadows: int = 4
    n_canaries: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_shadows", "n_canaries", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {v!r}")
        if self.n_canaries and self.generator is None:
            raise ConfigError("the canary audit refits the generator's class: give the generator too "
                              "(--generator MODEL_PATH with --canaries)")

    @property
    def steps(self) -> int:
        """Progress steps of the slow audits: utility, shadow attack, canaries (one each when run)."""
        with_gen = self.generator is not None
        return int(self.utility) + int(with_gen and self.n_shadows > 0) + int(with_gen and self.n_canaries > 0)


# ------------------------------------------------------------------------------------------------ bias


def bias_audit(members: InteractionData, synthetic: InteractionData) -> AuditOutcome:
    """Popularity-bias amplification and group representation of ``synthetic`` against ``members``.

    * ``popularity_bias``: `synthrec.evaluation.bias.popularity_bias` — head = the real top 20 % of the
      items the members used (by distinct users); the card is judged on the head-share ratio.
    * ``representation``: `synthrec.evaluation.bias.representation` with its default column choice: user
      attribute columns (when both logs have a users table) and item attribute columns of the members'
      items table with at most `MAX_CATEGORIES` values (list columns such as ml-100k genres exploded);
      without any item column, head / tail / unseen popularity groups. Plotted by ``bias_data``.

    Raises:
        DataValidationError: catalogues differ or a log is empty.
    """
    pb = popularity_bias(members, synthetic)
    rep = representation(members, synthetic)
    compared = ", ".join(f"{a.attribute} ({a.kind}s)" for a in rep.attributes)
    skipped = _skipped_in_words(rep.skipped)
    return AuditOutcome(
        summaries={"popularity_bias": pb.summary(), "representation": rep.summary()},
        plots={"bias": bias_data(rep)},
        notes={
            "popularity_bias": f"head = the {pb.n_head_items} most-used real items (top 20 % of the items "
                               "the members used); ratio = head share synthetic / head share real",
            "representation": f"compared: {compared}" + (f"; not compared: {skipped}" if skipped else ""),
        },
    )


def _skipped_in_words(skipped: Mapping[str, str]) -> str:
    """Skipped columns grouped by reason, e.g. ``"gender, occupation (the synthetic data has no users
    table with this column); age, title (more than 50 distinct values: pass bins or name it)"``."""
    by_reason: dict[str, list[str]] = {}
    for col, why in skipped.items():
        reason = (f"more than {MAX_CATEGORIES} distinct values" if "distinct values" in why else why)
        by_reason.setdefault(reason, []).append(col)
    return "; ".join(f"{', '.join(cols)} ({reason})" for reason, cols in by_reason.items())


# --------------------------------------------------------------------------------- attribute inference


def attribute_inference_summary(results: Sequence[Any]) -> dict[str, float]:
    """One summary for several `synthrec.evaluation.attacks.AttributeInferenceResult`: every result's
    ``summary()`` merged, plus ``aia_advantage_max`` = the largest ``advantage`` among the applicable
    results (nan when none applies), the headline of the attribute-inference card."""
    out: dict[str, float] = {}
    for r in results:
        out.update(r.summary())
    advantages = [r.advantage for r in results if r.applicable and np.isfinite(r.advantage)]
    out["aia_advantage_max"] = float(max(advantages)) if advantages else float("nan")
    return out


def _attribute_columns(users: pl.DataFrame | None) -> list[str]:
    """Categorical-looking user columns: at most `MAX_CATEGORIES` distinct values, not lists."""
    if users is None:
        return []
    return [c for c in users.columns if c != USER and not isinstance(users.schema[c], (pl.List, pl.Array, pl.Struct))
            and users[c].n_unique() <= MAX_CATEGORIES]


def attribute_inference_audit(synthetic: InteractionData, members: InteractionData,
                              holdout: InteractionData | None) -> AuditOutcome | None:
    """`synthrec.evaluation.attacks.attribute_inference` for each user attribute of the members with at
    most `MAX_CATEGORIES` values: targets = the members, population baseline = the holdout.

    Returns:
        ``None`` when the members have no such attribute (the question does not arise); otherwise an
        outcome whose ``attribute_inference`` summary is `attribute_inference_summary` — not applicable
        (nan headline, with the reason in the note) when the synthetic data carries no users table with
        the attribute, or no holdout with it is at hand.
    """
    from synthrec.evaluation.attacks import attribute_inference

    columns = _attribute_columns(members.users)
    if not columns:
        return None
    nan_summary = {"aia_advantage_max": float("nan")}
    if synthetic.users is None or not set(columns) & set(synthetic.users.columns):
        return AuditOutcome({"attribute_inference": nan_summary}, notes={"attribute_inference": (
            f"the synthetic data has no user attributes ({', '.join(columns)}) to learn from, so nothing "
            "about the members' attributes can be inferred from it")})
    usable = [c for c in columns if c in synthetic.users.columns]
    if holdout is None or holdout.users is None or not set(usable) <= set(holdout.users.columns):
        return AuditOutcome({"attribute_inference": nan_summary}, notes={"attribute_inference": (
            "no holdout users with the same attributes: the population baseline cannot be measured")})
    results = [attribute_inference(synthetic, members, holdout, c) for c in usable]
    return AuditOutcome({"attribute_inference": attribute_inference_summary(results)}, notes={
        "attribute_inference": f"attributes {', '.join(usable)}; targets = the members, baseline trained on the "
                               "holdout; advantage = accuracy − max(baseline accuracy, majority rate)"})


# --------------------------------------------------------------------------------------------- utility


def utility_split(members: InteractionData, holdout: InteractionData | None, *,
                  holdout_unseen: bool) -> tuple[Split, str]:
    """The real split of the utility audit, and its description.

    * Holdout unseen by the generator: the models trained on real data are fitted on every event of the
      ``members``; the evaluated users are the holdout users with ≥ 2 events, each given all but its last
      event as history and scored on the last one (`synthrec.data.splits.leave_last_out` of the holdout;
      last in time, ties by file order). Neither model saw these users (strong generalisation), as in a
      ``user-holdout`` split.
    * Otherwise (no holdout, or one the generator may have seen): leave-last-out of members ∪ holdout —
      the real models train on every real event but each user's last. The generator saw those last
      events, so the synthetic-trained models had the test data in their training signal: the TSTR
      ratio is then an optimistic upper bound (the description says so).

    Raises:
        DataValidationError: no user has two events (nothing to hold out).
    """
    if holdout is not None and holdout_unseen:
        llo = leave_last_out(holdout)
        desc = (f"trained on the {len(members.active_users())} members (real) or on the synthetic log; scored "
                f"on the last event of each of {len(llo.test_users())} holdout users given their earlier "
                "events (leave-last-out of the holdout, strong generalisation)")
        return Split(members, llo.test, "user-holdout", desc, test_history=llo.train), desc
    real = members if holdout is None else concat_users([members, holdout], name=members.name)
    llo = leave_last_out(real)
    desc = (f"leave-last-out of the {len(real.active_users())} real users: real models train on all but each "
            "user's last event, scored on it. The generator saw those last events, so this TSTR ratio is "
            "optimistic (give a holdout the generator never saw for a clean measurement)")
    return Split(llo.train, llo.test, "leave-last-out", desc), desc


def utility_audit(members: InteractionData, synthetic: InteractionData, holdout: InteractionData | None, *,
                  holdout_unseen: bool, seed: int = 0, models: Sequence[str] | None = None,
                  k: int = 10) -> AuditOutcome:
    """`synthrec.evaluation.utility.tstr` (default models pop, EASE, ALS, BPR with
    `synthrec.evaluation.utility.DEFAULT_MODEL_PARAMS`) on `utility_split`; summary ``utility`` (judged by
    the TSTR and Kendall-τ cards), figure ``utility``.

    Raises:
        DataValidationError: catalogues differ, or the split has no test event.
        ConfigError: an unknown model.
    """
    from synthrec.evaluation.utility import DEFAULT_MODELS, tstr

    split, desc = utility_split(members, holdout, holdout_unseen=holdout_unseen)
    result = tstr(split, synthetic, models=tuple(models) if models is not None else DEFAULT_MODELS, k=k, seed=seed)
    return AuditOutcome({"utility": result.summary()}, {"utility": utility_data(result)}, {"utility": desc})


# ----------------------------------------------------------------------------------- refitting a generator


def generator_params(generator: object) -> dict[str, Any]:
    """The constructor arguments of a generator, read back from the object.

    The object's own ``get_params()`` when it has one (scikit-learn style); otherwise every keyword
    parameter of its class's constructor (`synthrec.generators.registry.generator_params`) read from the
    attribute of the same name (the convention every synthrec generator follows:
    ``LatentFactorGenerator(n_factors=8).n_factors == 8``).

    Raises:
        ConfigError: a constructor parameter is not stored on the object, or the constructor takes
            ``**kwargs`` (which cannot be read back), so the generator cannot be rebuilt faithfully.
    """
    get_params = getattr(generator, "get_params", None)
    if callable(get_params):
        return dict(get_params())
    names = constructor_params(type(generator))  # type: ignore[arg-type]  # any class with keyword parameters
    if names is None:
        raise ConfigError(f"{type(generator).__name__} takes **kwargs, so its constructor arguments cannot be "
                          "read back and its class cannot be refitted with the same settings")
    params: dict[str, Any] = {}
    for name in names:
        if not hasattr(generator, name):
            raise ConfigError(f"{type(generator).__name__} does not store its constructor argument {name!r}, "
                              "so its class cannot be refitted with the same settings")
        params[name] = getattr(generator, name)
    return params


def refit_factory(generator: object) -> Callable[[InteractionData, int], Any]:
    """``(data, seed) -> a new generator of the same class and parameters, fitted on data`` (the seed
    replaces the ``seed`` parameter when the class takes one), for `shadow_membership_inference` and the
    canary audit. The given generator itself is never modified.

    Raises:
        ConfigError: see `generator_params`.
    """
    cls: Any = type(generator)
    params = generator_params(generator)
    takes_seed = "seed" in params

    def build(data: InteractionData, seed: int) -> Any:
        return cls(**{**params, **({"seed": int(seed)} if takes_seed else {})}).fit(data)

    return build


# -------------------------------------------------------------------------------------------- attacks


def shadow_attack_audit(generator: object, synthetic: InteractionData, members: InteractionData,
                        holdout: InteractionData | None, *, holdout_unseen: bool, n_shadows: int,
                        seed: int) -> AuditOutcome:
    """`synthrec.evaluation.attacks.shadow_membership_inference` against ``synthetic``.

    Populations: the holdout is split at random in two (`split_users(holdout, 0.5, seed=seed)`): the
    first half are the non-members attacked next to the members, the second half the attacker's
    auxiliary data, on which the ``n_shadows`` shadow generators (class and parameters of
    ``generator``, `refit_factory`) are fitted. Not applicable (nan headline, reason in the note) without
    a holdout the generator never saw, or with fewer than 2 + 4 active holdout users.
    """
    from synthrec.evaluation.attacks import shadow_membership_inference

    n_hold = 0 if holdout is None else len(holdout.active_users())
    why = ("no holdout users the generator never saw: members and non-members cannot be told apart"
           if holdout is None or not holdout_unseen else
           f"the holdout has {n_hold} active users; the attack needs at least 6 (2 attacked, 4 auxiliary)"
           if n_hold < 6 else "")
    if holdout is None or why:
        return AuditOutcome({"attack": {"mia_shadow_auc": float("nan")}}, notes={"attack": why})
    non_members, auxiliary = split_users(holdout, 0.5, seed=seed)
    result = shadow_membership_inference(
        synthetic, members, non_members.compact_users(), auxiliary.compact_users(), refit_factory(generator),
        n_shadows=n_shadows, seed=seed)
    note = (f"{n_shadows} shadow {type(generator).__name__}s (the given generator's class and parameters) "
            f"fitted on halves of {len(auxiliary.active_users())} auxiliary holdout users; attacked: "
            f"{len(members.active_users())} members vs {len(non_members.active_users())} other holdout users")
    return AuditOutcome({"attack": result.summary()}, notes={"attack": note})


def canary_audit(generator: object, synthetic: InteractionData, members: InteractionData, *,
                 n_canaries: int, seed: int) -> AuditOutcome:
    """Canary exposure of the generator **class**: `plant_canaries` (``n_canaries`` users of 10 rare items
    each) into the members, refit a generator of the given class and parameters on members + canaries
    (`refit_factory`), sample as many users per training user as ``synthetic`` has per member, and measure
    `canary_exposure`. Canaries must be planted before fitting, so this audits what the class does with
    such users, not the given fitted artefact (which never saw them).
    """
    from synthrec.evaluation.attacks import canary_exposure, plant_canaries

    planted = plant_canaries(members, n_canaries, seed=seed)
    refit = refit_factory(generator)(planted.data, seed)
    ratio = len(synthetic.active_users()) / max(1, len(members.active_users()))
    sample = refit.sample(max(1, round(ratio * len(planted.data.active_users()))), seed=seed + 1)
    result = canary_exposure(sample, planted)
    note = (f"audits the generator class, not the given fitted file: {n_canaries} canaries (10 of the "
            f"{planted.pool_size} rarest items each) planted among the members, a new "
            f"{type(generator).__name__} with the same parameters fitted on them and sampled; "
            f"{n_canaries} identical but never-planted controls calibrate chance")
    return AuditOutcome({"canaries": result.summary()}, notes={"canaries": note})


def dp_audit(generator: object) -> AuditOutcome:
    """The DP card's summary (`synthrec.evaluation.cards.dp_summary`) of the given fitted generator."""
    summary = dp_summary(generator)
    note = ("ε and δ reported by the fitted generator (its privacy ledger)" if summary["dp"]
            else "" if isinstance(generator, BaseGenerator) else
            f"{type(generator).__name__} reports no privacy guarantee (not a synthrec generator)")
    return AuditOutcome({"dp": summary}, notes={"dp": note} if note else {})


def merge(outcomes: Sequence[AuditOutcome | None]) -> AuditOutcome:
    """One outcome holding the summaries, plots and notes of several (later ones win on a clash)."""
    out = AuditOutcome()
    for o in outcomes:
        if o is not None:
            out.summaries.update(o.summaries)
            out.plots.update(o.plots)
            out.notes.update(o.notes)
    return out

