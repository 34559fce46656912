"""Pass / warn / fail summary cards over the audits of a synthetic log.

Each audit (fidelity of popularity, activity, ratings, time gaps, co-occurrence; privacy by DCR, exact
copies, membership inference; and, when their results are passed in, the attack, bias, utility and DP
audits) becomes one `AuditCard`: a status, one headline figure, the thresholds in words and the figures
behind it. Every threshold lives in `THRESHOLDS`, with the reason for its values, so a reader can see
why a card is the colour it is and a maintainer changes a value in one place.

A threshold is a rule on the headline figure ``v``:

* lower is better: ``v ≤ pass_at`` → pass, ``v ≤ warn_at`` → warn, else fail;
* higher is better: ``v ≥ pass_at`` → pass, ``v ≥ warn_at`` → warn, else fail;
* two-sided (``"band"``, for ratios whose ideal is 1): ``pass_low ≤ v ≤ pass_at`` → pass,
  ``warn_low ≤ v ≤ warn_at`` → warn, else fail;
* ``v`` infinite and the rule names a ``when_infinite`` status → that status (the DP card: a generator
  fitted without differential privacy has ε = ∞, which is a warning, not a failure);
* ``v`` missing (``None``) or ``nan`` → not-applicable, with a note on why.

Optional audits (attacks, bias, utility, DP) are judged on their ``summary()`` dicts, named as in
`OPTIONAL_SUMMARIES`; one summary may feed several cards (the utility summary feeds the TSTR card and the
rank-agreement card).

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
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from synthrec.errors import ConfigError
from synthrec.privacy.guarantee import PrivacyGuarantee

Status = Literal["pass", "warn", "fail", "not-applicable"]
Direction = Literal["lower", "higher", "band"]

#: the statuses in order of severity (the order `worst_status` uses)
STATUSES: tuple[Status, ...] = ("pass", "not-applicable", "warn", "fail")


@dataclass(frozen=True)
class Threshold:
    """How one audit is judged.

    Attributes:
        audit: card key (for an optional audit without ``summary``, also the key of its summary dict).
        title: card title shown in reports.
        group: ``"fidelity"``, ``"privacy"`` or the name of an optional audit family.
        metric: key of the headline figure in the audit's figures (a derived key, see `derived_figures`,
            or a key of the audit's own summary dict).
        label: plain-language name of the headline figure.
        better: ``"lower"``, ``"higher"`` or ``"band"`` (two-sided, see the module docstring).
        pass_at, warn_at: the boundaries (inclusive), in the metric's unit; for a band, the upper ends.
        why: the reason for these values (shown in the report's threshold table).
        detail_keys: figures shown on the card besides the headline (missing keys are skipped). For an
            optional audit, empty means every other number of its summary.
        pass_low, warn_low: lower ends of a band (``None`` otherwise).
        summary: for optional audits, the name of the summary dict judged (default: ``audit``).
        when_infinite: status of an infinite headline figure instead of the rule (``None``: the rule).
        infinite_note: note shown on the card in that case.
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
    pass_low: float | None = None
    warn_low: float | None = None
    summary: str = ""
    when_infinite: Status | None = None
    infinite_note: str = ""

    def __post_init__(self) -> None:
        if self.better == "band":
            if self.pass_low is None or self.warn_low is None \
                    or not self.warn_low <= self.pass_low <= self.pass_at <= self.warn_at:
                raise ValueError(f"threshold {self.audit}: a band needs warn_low <= pass_low <= pass_at <= "
                                 f"warn_at, got {self.warn_low}, {self.pass_low}, {self.pass_at}, {self.warn_at}")
            return
        if self.pass_low is not None or self.warn_low is not None:
            raise ValueError(f"threshold {self.audit}: pass_low / warn_low are for better='band' only")
        ordered = self.pass_at <= self.warn_at if self.better == "lower" else self.pass_at >= self.warn_at
        if not ordered:
            raise ValueError(f"threshold {self.audit}: pass_at {self.pass_at} must be on the good side of "
                             f"warn_at {self.warn_at} for '{self.better} is better'")

    @property
    def source(self) -> str:
        """Name of the summary dict an optional audit's card reads (``summary`` or ``audit``)."""
        return self.summary or self.audit

    def status(self, value: float | None) -> Status:
        """Status of a headline figure (module docstring)."""
        if value is None or math.isnan(value):
            return "not-applicable"
        if math.isinf(value) and self.when_infinite is not None:
            return self.when_infinite
        v = round(float(value), 12)
        if self.better == "band":
            assert self.pass_low is not None and self.warn_low is not None  # checked in __post_init__
            return ("pass" if self.pass_low <= v <= self.pass_at
                    else "warn" if self.warn_low <= v <= self.warn_at else "fail")
        if self.better == "lower":
            return "pass" if v <= self.pass_at else "warn" if v <= self.warn_at else "fail"
        return "pass" if v >= self.pass_at else "warn" if v >= self.warn_at else "fail"

    def in_words(self) -> str:
        """E.g. ``"pass ≤ 0.05 · warn ≤ 0.1 · fail above"`` or
        ``"pass within [0.9, 1.1] · warn within [0.8, 1.25] · fail outside"``."""
        if self.better == "band":
            return (f"pass within [{self.pass_low:g}, {self.pass_at:g}] · "
                    f"warn within [{self.warn_low:g}, {self.warn_at:g}] · fail outside")
        op, beyond = ("≤", "above") if self.better == "lower" else ("≥", "below")
        words = f"pass {op} {self.pass_at:g} · warn {op} {self.warn_at:g} · fail {beyond}"
        if self.when_infinite is not None:
            words += f" · ∞: {self.when_infinite}"
        return words


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
        "share of synthetic users closer to train than to holdout, above the no-memorisation baseline "
        "(rescaled to a balanced split)",
        "lower", 0.10, 0.30,
        "A generator that does not memorise makes users no closer to its training users than to unseen "
        "real users (excess 0). The excess share − baseline is bounded by 1 − baseline, so it is rescaled "
        "to a balanced split: (share − baseline) / (1 − baseline) × 0.5, which is at most 0.5 whatever "
        "the members / holdout sizes (a verbatim copier scores 0.5 and fails even at a 0.742 baseline). "
        "With 100 synthetic users the excess varies by ±0.05 by chance, hence 0.10; an excess of 0.30 "
        "(80 % closer to train at a 0.5 baseline) means most synthetic users sit in the neighbourhood of "
        "particular training users.",
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
    # Optional audits, judged on a key of a ``summary()`` dict (named as in `OPTIONAL_SUMMARIES`): the
    # results in synthrec.evaluation (attacks.py, bias.py, utility.py), and the DP summary of `dp_summary`.
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
        "attribute_inference", "Attribute inference", "attack", "aia_advantage_max",
        "largest accuracy advantage of an attribute guesser trained on the synthetic users over the "
        "population baseline", "lower", 0.03, 0.08,
        "Advantage = accuracy of a classifier trained on the synthetic users minus the better of one "
        "trained on other real users and always guessing the commonest value (Stadler et al. 2022, "
        "Sec. 5.1): only the excess is leakage about the training users. Its standard error is about "
        "0.02 for 470 targets (√(a(1 − a)/n)), and releasing other real people measured 0.021 on "
        "ml-100k, so up to 0.03 is noise; above 0.08 the data reveals the attribute clearly.",
    ),
    Threshold(
        "popularity_bias", "Popularity bias", "bias", "popularity_head_share_ratio",
        "share of interactions on the real head items, synthetic / real (1 = same concentration)", "band",
        1.10, 1.25,
        "Head = the real top 20 % of items by users (Abdollahpouri et al. 2017 measure popularity bias by "
        "head/tail shares). Above 1 the generator amplifies popularity bias, so models trained on it "
        "over-recommend the head; below 1 it flattens it. Two real halves of ml-100k give 0.97–0.99 (the "
        "head is picked on one half, so the other looks slightly flatter) and the latent-factor generator "
        "0.99; 10 % either way is a visible shift; 1.25 (and its reciprocal 0.8) changes which items a "
        "popularity-sensitive model learns to push.",
        ("popularity_head_share_real", "popularity_head_share_synthetic", "popularity_gini_ratio"),
        pass_low=0.90, warn_low=0.80,
    ),
    Threshold(
        "representation", "Representation of groups", "bias", "tvd_max",
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
        "rank_agreement", "Model ranking (Kendall τ)", "utility", "tstr_kendall_tau",
        "Kendall τ-b between the models' NDCG@K trained on synthetic and trained on real", "higher", 0.60, 0.0,
        "Would comparing algorithms on the synthetic data pick the same order as on real data? With the "
        "4 default models τ moves in steps of 1/3: 0.67 is one of 6 pairs swapped, so ≥ 0.6 allows model "
        "selection on synthetic data; below 0 it reverses more pairs than it keeps. A coarse figure: "
        "read it with the per-model NDCGs on the utility card.",
        ("tstr_best_model_agrees",), summary="utility",
    ),
    Threshold(
        "dp", "Differential privacy", "dp", "epsilon",
        "user-level ε spent fitting the generator", "lower", 1.0, 10.0,
        "ε ≤ 1 is the strong-guarantee regime of the DP literature (Dwork & Roth 2014 treat ε as a small "
        "constant); deployed systems use up to about 10; beyond that the guarantee says little. A "
        "generator fitted without DP (ε = ∞) is a warning, not a failure: it may still pass every "
        "empirical audit, but nothing bounds what it reveals about one person.",
        ("delta",),
        when_infinite="warn",
        infinite_note="not DP: ε = ∞ — the generator was fitted without differential privacy, so no "
                      "formal bound limits what it reveals about one user; the empirical privacy audits "
                      "are the only evidence",
    ),
)}

#: the cards of `fidelity_cards` and `privacy_cards`, in display order
FIDELITY_AUDITS: tuple[str, ...] = ("popularity", "long_tail", "activity", "ratings", "time_gaps", "cooccurrence")
PRIVACY_AUDITS: tuple[str, ...] = ("dcr", "exact_copies", "membership")

#: names of the optional summaries `optional_cards` judges, in display order, and what produces each
OPTIONAL_SUMMARIES: dict[str, str] = {
    "popularity_bias": "synthrec.evaluation.bias.PopularityBias.summary()",
    "representation": "synthrec.evaluation.bias.RepresentationResult.summary()",
    "utility": "synthrec.evaluation.utility.TSTRResult.summary()",
    "attack": "synthrec.evaluation.attacks.ShadowMIAResult.summary()",
    "canaries": "synthrec.evaluation.attacks.CanaryExposure.summary()",
    "attribute_inference": "AttributeInferenceResult.summary() of each attribute, plus aia_advantage_max "
                           "(synthrec.experiments.audit_optional.attribute_inference_summary)",
    "dp": "synthrec.evaluation.cards.dp_summary(generator)",
}


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
        """Plain JSON-able dict (NaN and infinite values become ``None``; the headline keeps "∞")."""
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
    * ``dcr_share_excess`` = (``dcr_share_closer_to_train`` − ``dcr_share_baseline``) /
      (1 − ``dcr_share_baseline``) × 0.5: the excess over the no-memorisation baseline on the scale of a
      balanced split (members = holdout, baseline 0.5, where it equals share − 0.5), so that a copier
      (share 1) scores 0.5 at any baseline; ``None`` when the baseline is 1 (nothing to measure);
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
        "dcr_share_excess": _dcr_excess(share, base),
        "exact_copy_excess": None if copies is None or copies_base is None else copies - copies_base,
    }


def _dcr_excess(share: float | None, base: float | None) -> float | None:
    """(share − base) / (1 − base) × 0.5 (see `derived_figures`); ``None`` for a missing input or base ≥ 1."""
    if share is None or base is None or base >= 1.0:
        return None
    return (share - base) / (1.0 - base) * 0.5


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
    if value is None or math.isnan(value):
        shown = "not measured"
    elif math.isinf(value):
        shown = "∞" if value > 0 else "−∞"
    else:
        shown = f"{value:.3f}"
    note = ""
    if status == "not-applicable":
        note = missing_note or f"'{threshold.metric}' was not measured for these data"
    elif value is not None and math.isinf(value) and threshold.when_infinite is not None:
        note = threshold.infinite_note
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


def optional_cards(summaries: Mapping[str, Mapping[str, Any]] | None, *,
                   notes: Mapping[str, str] | None = None) -> list[AuditCard]:
    """Cards for optional audits (bias, utility, attacks, DP, ...), given as ``{name: summary()}``.

    Every `THRESHOLDS` entry whose `Threshold.source` is ``name`` gives one card, judged on its headline
    key; its details are its ``detail_keys`` or, when it has none, every other numeric entry of the
    summary. A name no entry reads, or a summary without the headline key, gives a not-applicable card
    that still lists the figures (so new audits show up before they get a rule).

    Args:
        summaries: audit name → flat summary dict (see `OPTIONAL_SUMMARIES`); ``None`` for none.
        notes: audit name → a note added to every card of that summary (e.g. how it was measured; after
            the reason of a not-applicable card).
    """
    out: list[AuditCard] = []
    for name, summary in (summaries or {}).items():
        numeric = {k: _float_or_none(v) for k, v in summary.items() if _is_number(v)}
        extra = (notes or {}).get(name, "")
        rules = [t for t in THRESHOLDS.values()
                 if t.source == name and t.audit not in (*FIDELITY_AUDITS, *PRIVACY_AUDITS)]
        if not rules:
            out.append(AuditCard(audit=name, title=name, status="not-applicable", headline="no rule",
                                 value=None, thresholds="no threshold defined", details=numeric,
                                 note=_join(f"no threshold is defined for audit '{name}' (add one to THRESHOLDS)",
                                            extra), group=name))
            continue
        for t in rules:
            absent = (f"its summary has no '{t.metric}' figure (keys: {', '.join(sorted(summary)) or 'none'})"
                      if t.metric not in summary else "")
            # present but nan: the audit's own note says why it could not be measured
            c = card(t, summary, missing_note=absent or extra)
            details = ({k: numeric[k] for k in t.detail_keys if k in numeric} if t.detail_keys
                       else {k: v for k, v in numeric.items() if k != t.metric})
            note = c.note if c.note == extra else _join(c.note, extra)
            out.append(replace(c, details=details, note=note))
    return out


def dp_summary(generator: object) -> dict[str, float]:
    """The DP summary of a fitted generator: ``{"epsilon", "delta", "dp"}`` (``dp`` = 1.0 for a finite ε).

    Read from the generator's ``privacy`` property, a `synthrec.privacy.PrivacyGuarantee` (every
    `synthrec.generators.base.BaseGenerator` has one). An object without it was not fitted with
    differential privacy: ε = ∞, δ = 0 (the DP card then warns, see `THRESHOLDS`).

    Raises:
        ConfigError: ``privacy`` is not a `PrivacyGuarantee`.
        NotFittedError: from the generator, when it is not fitted.
    """
    privacy = getattr(generator, "privacy", None)
    if privacy is None:
        privacy = PrivacyGuarantee.none()
    if not isinstance(privacy, PrivacyGuarantee):
        raise ConfigError(f"{type(generator).__name__}.privacy must be a synthrec.privacy.PrivacyGuarantee, "
                          f"got {type(privacy).__name__}")
    return {"epsilon": privacy.epsilon, "delta": privacy.delta, "dp": float(privacy.is_dp)}


def all_cards(fidelity: Mapping[str, Any], privacy: Mapping[str, Any] | None, *,
              holdout_unseen: bool = True, privacy_reason: str = "",
              summaries: Mapping[str, Mapping[str, Any]] | None = None,
              notes: Mapping[str, str] | None = None) -> list[AuditCard]:
    """`fidelity_cards` + `privacy_cards` + `optional_cards` (with ``notes``), in that order."""
    return (fidelity_cards(fidelity)
            + privacy_cards(privacy, holdout_unseen=holdout_unseen, reason=privacy_reason)
            + optional_cards(summaries, notes=notes))


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))


def _float_or_none(v: Any) -> float | None:
    return None if v is None else float(v)


def _clean(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else v


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
