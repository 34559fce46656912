"""Pass / warn / fail summary cards over the audits of a synthetic log.

Each audit (fidelity of popularity, activity, ratings, time gaps, co-occurrence; privacy by DCR, exact
copies, membership inference; and, when their results are passed in, the attack, bias, utility and DP
audits) becomes one `AuditCard`: a status, one headline figure, the thresholds in words and the figures
behind it. Every threshold lives in `THRESHOLDS`, with the reason for its values, so a reader can see
why a card is the colour it is and a maintainer changes a value in one place.

A threshold is a rule on the headline figure ``v``:

* lower is better: ``v ≤ pass_at`` → pass, ``v ≤ warn_at`` → warn, else fail;
* higher is better: ``v ≥ pass_at`` → pass, ``v ≥ warn_at`` → warn, else fail;
* ``v`` missing (``None``) or ``nan`` → not-applicable, with a note on why.

``v`` is rounded to 12 decimals before the comparison, so a figure that equals a threshold up to float
rounding (e.g. a share of 0.55 minus a baseline of 0.5) gets the status of the threshold itself.

Thresholds are judgement calls, not statistical tests: on small logs (a few hundred users) sampling
noise alone moves KS statistics by about 0.1 and the membership AUC by about 0.04. The quality report
therefore shows, next to every fidelity figure, the same figure for two halves of the real data (the
noise floor).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pass", "warn", "fail", "not-applicable"]
Direction = Literal["lower", "higher"]

#: the statuses in order of severity (the order `worst_status` uses)
STATUSES: tuple[Status, ...] = ("pass", "not-applicable", "warn", "fail")


@dataclass(frozen=True)
class Threshold:
    """How one audit is judged.

    Attributes:
        audit: card key (also the key of an optional summary dict, e.g. ``"attack"``).
        title: card title shown in reports.
        group: ``"fidelity"``, ``"privacy"`` or the name of an optional audit family.
        metric: key of the headline figure in the audit's figures (a derived key, see `derived_figures`,
            or a key of the audit's own summary dict).
        label: plain-language name of the headline figure.
        better: ``"lower"`` or ``"higher"``.
        pass_at, warn_at: the boundaries (inclusive), in the metric's unit.
        why: the reason for these values (shown in the report's threshold table).
        detail_keys: figures shown on the card besides the headline (missing keys are skipped).
    """

    audit: str
    title: str
    group: str
    metric: str
    label: str
    better: Direction
    pass_at: float
    warn_at: float
    why: str
    detail_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        ordered = self.pass_at <= self.warn_at if self.better == "lower" else self.pass_at >= self.warn_at
        if not ordered:
            raise ValueError(f"threshold {self.audit}: pass_at {self.pass_at} must be on the good side of "
                             f"warn_at {self.warn_at} for '{self.better} is better'")

    def status(self, value: float | None) -> Status:
        """Status of a headline figure (module docstring)."""
        if value is None or math.isnan(value):
            return "not-applicable"
        v = round(float(value), 12)
        if self.better == "lower":
            return "pass" if v <= self.pass_at else "warn" if v <= self.warn_at else "fail"
        return "pass" if v >= self.pass_at else "warn" if v >= self.warn_at else "fail"

    def in_words(self) -> str:
        """E.g. ``"pass ≤ 0.05 · warn ≤ 0.1 · fail above"``."""
        op, beyond = ("≤", "above") if self.better == "lower" else ("≥", "below")
        return f"pass {op} {self.pass_at:g} · warn {op} {self.warn_at:g} · fail {beyond}"


# The one table of thresholds. "Two real halves" in `why`: MovieLens 100K split into 472 / 471 users
# (`split_users(ml100k, 0.5, seed=0)`), one half taken as the synthetic data of the other; "the
# generator": LatentFactorGenerator(n_factors=32, seed=0) fitted on the first half, 472 users drawn with
# seed 1. The independent-items baseline is from benchmarks/README.md, section 5.
THRESHOLDS: dict[str, Threshold] = {t.audit: t for t in (
    Threshold(
        "popularity", "Item popularity", "fidelity", "popularity_gini_abs_diff",
        "|Gini synthetic − Gini real| of item popularity", "lower", 0.05, 0.10,
        "Gini of item degrees is scale-free, so it compares logs of different sizes. Two real halves of "
        "ml-100k differ by 0.014; 0.05 is a visible shift of interactions towards (or away from) the "
        "head; 0.10 changes which items dominate, which is what popularity-biased models learn from.",
        ("popularity_gini_real", "popularity_gini_synthetic", "popularity_spearman", "popularity_ks"),
    ),
    Threshold(
        "long_tail", "Long-tail coverage", "fidelity", "long_tail_coverage",
        "share of real long-tail items the synthetic data uses", "higher", 0.50, 0.20,
        "A generator that collapses onto popular items is the classic failure, and long-tail "
        "augmentation is a main use of synthetic data. Two real halves reach 0.93 on ml-100k. The "
        "figure grows with the number of synthetic users: below 0.2 most of the tail is unreachable.",
        ("catalogue_coverage_real", "catalogue_coverage_synthetic"),
    ),
    Threshold(
        "activity", "User activity", "fidelity", "activity_ks",
        "KS statistic on items per user", "lower", 0.10, 0.20,
        "Two real halves of ml-100k give 0.056. 0.10 is about the 5 % critical value of the two-sample "
        "KS test for 500 users per side; 0.20 is a gap in activity that no sample size explains (it "
        "exceeds the 5 % critical value from about 100 users per side).",
        ("activity_mean_real", "activity_mean_synthetic", "activity_median_real", "activity_median_synthetic"),
    ),
    Threshold(
        "ratings", "Ratings", "fidelity", "rating_tvd",
        "total variation distance of the rating histograms", "lower", 0.05, 0.15,
        "TVD is the largest difference in probability the two histograms give any set of rating values. "
        "Two real halves of ml-100k give 0.02; 0.05 moves one rating in twenty to another value; 0.15 "
        "changes the shape of the histogram (e.g. the share of positives).",
        ("rating_mean_real", "rating_mean_synthetic", "rating_boundary_adherence"),
    ),
    Threshold(
        "time_gaps", "Time between events", "fidelity", "gap_ks",
        "KS statistic on within-user gaps between events", "lower", 0.10, 0.25,
        "Sequence and session models learn from these gaps. Two real halves of ml-100k give 0.014 "
        "(tens of thousands of gaps, so even 0.10 is a real difference); 0.25 means the typical rhythm "
        "of a user is wrong (e.g. bursts of ratings in the same second are missing).",
        ("gap_median_real", "gap_median_synthetic", "timestamp_boundary_adherence"),
    ),
    Threshold(
        "cooccurrence", "Item co-occurrence", "fidelity", "cooccurrence_cosine_corr",
        "correlation of item–item cosine similarities (top items)", "higher", 0.70, 0.50,
        "This is the structure item-based and matrix-factorisation models learn. Two real halves of "
        "ml-100k give 0.87 and the latent-factor generator 0.89; items drawn independently with the "
        "real popularity give 0.47, so below 0.5 the synthetic data carries popularity only.",
        ("cooccurrence_pmi_corr", "cooccurrence_pmi_pairs"),
    ),
    Threshold(
        "dcr", "Distance to closest record", "privacy", "dcr_share_excess",
        "share of synthetic users closer to train than to holdout, above the no-memorisation baseline",
        "lower", 0.10, 0.30,
        "A generator that does not memorise makes users no closer to its training users than to unseen "
        "real users (excess 0). With 100 synthetic users the excess varies by ±0.05 by chance, hence "
        "0.10; an excess of 0.30 (80 % closer to train at a 0.5 baseline) means most synthetic users "
        "sit in the neighbourhood of particular training users.",
        ("dcr_share_closer_to_train", "dcr_share_baseline", "dcr_train_median", "dcr_holdout_median",
         "nndr_median"),
    ),
    Threshold(
        "exact_copies", "Exact copies", "privacy", "exact_copy_excess",
        "share of synthetic users copying a training user's item set, above the real-vs-real rate",
        "lower", 0.01, 0.05,
        "A verbatim copy of a real history discloses that person. Short histories collide innocently, "
        "so the rate at which unseen real users copy a training user is subtracted. One copy per hundred "
        "synthetic users is already disclosure at scale; one in twenty is a failure.",
        ("exact_copy_share", "exact_copy_share_holdout"),
    ),
    Threshold(
        "membership", "Membership inference", "privacy", "mia_auc",
        "ROC AUC of a distance-based membership-inference attack (0.5 = no leak)", "lower", 0.60, 0.70,
        "Under no leak the AUC's standard error is about 0.04 with 100 members and 100 non-members "
        "(Hanley & McNeil 1982), so 0.60 is beyond chance for all but tiny audits; at 0.70 an attacker "
        "ranks a training user above an unseen one in 70 % of pairs. A copier scores ≥ 0.95 (P17).",
        ("n_train", "n_holdout", "n_synthetic"),
    ),
    # Optional audits, judged on a key of the ``summary()`` dict of their result in synthrec.evaluation
    # (attacks.py, bias.py, utility.py) or of the ε ledger (synthrec.privacy.ledger ``to_dict(delta)``).
    Threshold(
        "attack", "Shadow-model attack", "attack", "mia_shadow_auc",
        "ROC AUC of the shadow-model membership-inference attack", "lower", 0.60, 0.70,
        "Same scale and rule as the distance-based membership attack, so the two read alike: 0.5 is no "
        "leak, 0.60 is beyond chance for all but tiny audits (attacks.py suggests warn up to 0.75; 0.70 "
        "is kept here because an attacker right in 70 % of pairs already singles out training users).",
    ),
    Threshold(
        "canaries", "Canaries", "attack", "canary_auc",
        "ROC AUC separating planted canary users from controls by their closeness to the synthetic data",
        "lower", 0.60, 0.70,
        "A canary is a made-up user planted in the training data; if the synthetic data sits closer to "
        "canaries than to never-planted controls, single users are recoverable. Same scale as the "
        "membership AUC (and the pass value attacks.py suggests).",
    ),
    Threshold(
        "bias", "Representation of groups", "bias", "tvd_max",
        "largest total variation distance of user / item group shares, synthetic vs real", "lower", 0.05, 0.15,
        "A group whose share moves by 5 points is visibly over- or under-represented in group-level "
        "metrics; 15 points changes which groups a model trained on the data serves well (the values "
        "suggested in synthrec.evaluation.bias.representation).",
    ),
    Threshold(
        "utility", "Utility (TSTR)", "utility", "tstr_ratio_mean",
        "NDCG@K trained on synthetic / trained on real, tested on real (mean over models)", "higher", 0.90, 0.70,
        "Train-synthetic-test-real (Esteban et al. 2017, arXiv:1706.02633): at 0.9 the synthetic data "
        "stands in for the real data; below 0.7 a model learns too little from it to be worth its "
        "privacy cost.",
    ),
    Threshold(
        "dp", "Differential privacy", "dp", "epsilon",
        "user-level ε spent fitting the generator", "lower", 1.0, 10.0,
        "ε ≤ 1 is the strong-guarantee regime of the DP literature (Dwork & Roth 2014 treat ε as a small "
        "constant); deployed systems use up to about 10; beyond that the guarantee says little.",
    ),
)}

#: the cards of `fidelity_cards` and `privacy_cards`, in display order
FIDELITY_AUDITS: tuple[str, ...] = ("popularity", "long_tail", "activity", "ratings", "time_gaps", "cooccurrence")
PRIVACY_AUDITS: tuple[str, ...] = ("dcr", "exact_copies", "membership")


@dataclass(frozen=True)
class AuditCard:
    """The verdict on one audit.

    Attributes:
        audit: key in `THRESHOLDS` (or the name of an optional audit without one).
        title: human title.
        status: ``"pass"``, ``"warn"``, ``"fail"`` or ``"not-applicable"``.
        headline: the headline figure as a phrase, e.g. ``"KS statistic on items per user = 0.056"``.
        value: the headline figure (``None`` when not measured).
        thresholds: the rule in words, e.g. ``"pass ≤ 0.1 · warn ≤ 0.2 · fail above"``.
        details: the figures behind the card (floats or ``None``).
        note: why the card is not applicable, or a caveat.
        group: ``"fidelity"``, ``"privacy"``, or the optional audit's family.
    """

    audit: str
    title: str
    status: Status
    headline: str
    value: float | None
    thresholds: str
    details: dict[str, float | None] = field(default_factory=dict)
    note: str = ""
    group: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (NaN values become ``None``)."""
        out = asdict(self)
        out["value"] = _clean(self.value)
        out["details"] = {k: _clean(v) for k, v in self.details.items()}
        return out


def worst_status(cards: list[AuditCard]) -> Status:
    """The most severe status among ``cards`` (fail > warn > not-applicable > pass); ``"not-applicable"``
    for no card."""
    if not cards:
        return "not-applicable"
    return max((c.status for c in cards), key=STATUSES.index)


def derived_figures(figures: Mapping[str, Any]) -> dict[str, float | None]:
    """The headline figures that combine two report keys.

    * ``popularity_gini_abs_diff`` = |``popularity_gini_diff``|;
    * ``dcr_share_excess`` = ``dcr_share_closer_to_train`` − ``dcr_share_baseline``;
    * ``exact_copy_excess`` = ``exact_copy_share`` − ``exact_copy_share_holdout``.

    A key is ``None`` when an input is missing or ``None``.
    """
    def get(key: str) -> float | None:
        v = figures.get(key)
        return None if v is None else float(v)

    gini_diff = get("popularity_gini_diff")
    share, base = get("dcr_share_closer_to_train"), get("dcr_share_baseline")
    copies, copies_base = get("exact_copy_share"), get("exact_copy_share_holdout")
    return {
        "popularity_gini_abs_diff": None if gini_diff is None else abs(gini_diff),
        "dcr_share_excess": None if share is None or base is None else share - base,
        "exact_copy_excess": None if copies is None or copies_base is None else copies - copies_base,
    }


def card(threshold: Threshold, figures: Mapping[str, Any], *, missing_note: str = "") -> AuditCard:
    """Judge ``figures[threshold.metric]`` by ``threshold``.

    Args:
        threshold: the rule (an entry of `THRESHOLDS`).
        figures: flat dict holding the headline key and the detail keys (floats, ``None`` or ``nan``).
        missing_note: note used when the headline figure is missing or ``nan``.
    """
    raw = figures.get(threshold.metric)
    value = None if raw is None else float(raw)
    status = threshold.status(value)
    shown = "not measured" if value is None or math.isnan(value) else f"{value:.3f}"
    note = ""
    if status == "not-applicable":
        note = missing_note or f"'{threshold.metric}' was not measured for these data"
    details = {k: _float_or_none(figures[k]) for k in threshold.detail_keys if k in figures}
    return AuditCard(
        audit=threshold.audit, title=threshold.title, status=status, headline=f"{threshold.label} = {shown}",
        value=value, thresholds=threshold.in_words(), details=details, note=note, group=threshold.group,
    )


def fidelity_cards(fidelity: Mapping[str, Any]) -> list[AuditCard]:
    """One card per fidelity audit (`FIDELITY_AUDITS`) from a `synthrec.evaluation.fidelity.fidelity_report`
    dict (or the mean of several). Ratings and time gaps are not-applicable when a log lacks the column.
    """
    figures = {**fidelity, **derived_figures(fidelity)}
    notes = {
        "ratings": "the real or the synthetic log has no rating column",
        "time_gaps": "the real or the synthetic log has no timestamps (or no user with two events)",
        "long_tail": "the real log has no long tail (too few distinct items)",
        "cooccurrence": "too few items or item pairs to correlate",
    }
    return [card(THRESHOLDS[a], figures, missing_note=notes.get(a, "")) for a in FIDELITY_AUDITS]


def privacy_cards(privacy: Mapping[str, Any] | None, *, holdout_unseen: bool = True,
                  reason: str = "") -> list[AuditCard]:
    """One card per privacy audit (`PRIVACY_AUDITS`) from a `synthrec.evaluation.privacy.privacy_report`
    dict (or the mean of several).

    Args:
        privacy: the report; ``None`` when no audit could be run (every card not-applicable).
        holdout_unseen: whether the holdout users are known not to have been seen by the generator. If
            not, the DCR and membership cards are not-applicable (both compare train with holdout, and
            with two sets of training users they read "no leak" whatever the generator does); the
            exact-copy card still applies.
        reason: note for the not-applicable cards.
    """
    if privacy is None:
        note = reason or "no privacy audit was run (it needs real users the generator never saw)"
        return [card(THRESHOLDS[a], {}, missing_note=note) for a in PRIVACY_AUDITS]
    figures = {**privacy, **derived_figures(privacy)}
    cards = []
    for a in PRIVACY_AUDITS:
        if not holdout_unseen and a != "exact_copies":
            blank = {k: v for k, v in figures.items() if k != THRESHOLDS[a].metric}
            note = reason or ("the holdout may have been seen by the generator, so this comparison "
                              "cannot detect memorisation")
            cards.append(card(THRESHOLDS[a], blank, missing_note=note))
        else:
            cards.append(card(THRESHOLDS[a], figures))
    return cards


def optional_cards(summaries: Mapping[str, Mapping[str, Any]] | None) -> list[AuditCard]:
    """Cards for optional audits (attack, bias, utility, DP, ...), given as ``{name: summary()}``.

    A name with a `THRESHOLDS` entry is judged on its headline key; every other numeric entry of the
    summary becomes a detail. A name without an entry, or a summary without the headline key, gives a
    not-applicable card that still lists the figures (so new audits show up before they get a rule).
    """
    out: list[AuditCard] = []
    for name, summary in (summaries or {}).items():
        numeric = {k: _float_or_none(v) for k, v in summary.items() if _is_number(v)}
        t = THRESHOLDS.get(name)
        if t is None:
            out.append(AuditCard(audit=name, title=name, status="not-applicable", headline="no rule",
                                 value=None, thresholds="no threshold defined", details=numeric,
                                 note=f"no threshold is defined for audit '{name}' (add one to THRESHOLDS)",
                                 group=name))
            continue
        c = card(t, summary, missing_note=f"its summary has no '{t.metric}' figure "
                                          f"(keys: {', '.join(sorted(summary)) or 'none'})")
        out.append(AuditCard(**{**asdict(c), "details": {k: v for k, v in numeric.items() if k != t.metric}}))
    return out


def all_cards(fidelity: Mapping[str, Any], privacy: Mapping[str, Any] | None, *,
              holdout_unseen: bool = True, privacy_reason: str = "",
              summaries: Mapping[str, Mapping[str, Any]] | None = None) -> list[AuditCard]:
    """`fidelity_cards` + `privacy_cards` + `optional_cards`, in that order."""
    return (fidelity_cards(fidelity)
            + privacy_cards(privacy, holdout_unseen=holdout_unseen, reason=privacy_reason)
            + optional_cards(summaries))


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))


def _float_or_none(v: Any) -> float | None:
    return None if v is None else float(v)


def _clean(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else v
