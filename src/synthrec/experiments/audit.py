"""The quality audit of a synthetic log: put the logs on one catalogue, run every audit, and return the
``results.json`` payload that `synthrec.report.quality` renders.

Flow (what `synthrec report` does, usable from Python as well):

1. `prepare_audit_inputs`: put the synthetic log (and a holdout log) onto the real log's item vocabulary by
   external id (`onto_catalogue`; a synthetic item the real log lacks is an error naming the file), check
   that a given generator was fitted on that catalogue, and take the members and holdout: the given
   holdout (no user in both), or a seeded random split of the real log.
2. `run_quality_audit`: fidelity of the synthetic log to the real *members* (the users the generator
   was fitted on), the same figures for the real holdout against the members (the noise floor: what two
   real samples look like), the distance-based privacy audit (DCR, NNDR, membership inference) against
   members and holdout, the bias audit (popularity amplification, group representation), and — as
   asked with `OptionalAudits` — attribute inference, utility (TSTR), the shadow-model attack, canaries
   and the DP card (`synthrec.experiments.audit_optional`); then the pass/warn/fail cards
   (`synthrec.evaluation.cards`) and the plotted numbers. It returns the ``results.json`` payload.
3. `synthrec.report.quality.write_quality_report`: ``results.json`` and a self-contained ``report.html``
   drawn from that payload alone.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from synthrec import __version__
from synthrec.data.interactions import ITEM, USER, InteractionData
from synthrec.data.splits import split_users
from synthrec.errors import ConfigError, DataValidationError
from synthrec.evaluation.cards import THRESHOLDS, all_cards, worst_status
from synthrec.evaluation.fidelity import fidelity_report
from synthrec.evaluation.privacy import REPORT_KEYS, DCRResult, dcr, membership_inference_auc, nndr
from synthrec.experiments.audit_optional import (
    AuditOutcome,
    OptionalAudits,
    attribute_inference_audit,
    bias_audit,
    canary_audit,
    dp_audit,
    merge,
    shadow_attack_audit,
    utility_audit,
)
from synthrec.progress import StepProgress
from synthrec.report.quality import json_clean
from synthrec.report.quality_figures import activity_data, dcr_data, gap_data, popularity_data, rating_data

__all__ = [
    "AuditInputs",
    "OptionalAudits",
    "audit_steps",
    "check_disjoint_users",
    "check_generator_catalogue",
    "data_summary",
    "generator_item_ids",
    "onto_catalogue",
    "prepare_audit_inputs",
    "privacy_figures",
    "run_quality_audit",
    "with_catalogue",
]


# -------------------------------------------------------------------------------------- catalogue


def onto_catalogue(data: InteractionData, catalogue: pl.Series, *, catalogue_source: str,
                   extend: bool = False) -> tuple[InteractionData, pl.Series]:
    """Re-encode the items of ``data`` onto ``catalogue`` (an external item vocabulary) by external id.

    Ids are compared with their own type when both vocabularies share it, as strings otherwise (so
    ``12`` read from a CSV matches ``"12"`` read from Parquet). Users, row order and every other column
    are unchanged; the item attribute table of ``data`` is dropped (the catalogue's owner holds it).

    Args:
        data: a log with its own item vocabulary (e.g. a synthetic file read on its own).
        catalogue: the target vocabulary (e.g. ``real.item_ids``); position = dense id.
        catalogue_source: where the catalogue comes from, for the error message (e.g. the real file).
        extend: append ids of ``data`` that the catalogue lacks (in order of first appearance) instead
            of raising; for a holdout log, whose users may touch items the members never did.

    Returns:
        ``(data on the catalogue, the catalogue)``; the catalogue is longer than given only with
        ``extend``, and cast to String when the id types differed and ids were appended.

    Raises:
        DataValidationError: without ``extend``, an item of ``data`` is not in the catalogue; the message
            names the file of ``data``, how many ids are unknown, and the first few.
    """
    ext, vocab = data.item_ids, catalogue
    if ext.dtype != vocab.dtype:
        ext, vocab = ext.cast(pl.String), vocab.cast(pl.String)
    table = pl.DataFrame({"ext": vocab, "code": pl.arange(0, len(vocab), dtype=pl.Int64, eager=True)})
    joined = pl.DataFrame({"ext": ext}).join(table, on="ext", how="left", maintain_order="left")
    missing = joined["code"].is_null().to_numpy()
    if missing.any():
        unknown = ext.filter(pl.Series(missing))
        if not extend:
            shown = ", ".join(repr(v) for v in unknown.head(5).to_list())
            raise DataValidationError(
                f"{int(missing.sum())} of its {len(ext)} item ids are not in the real catalogue "
                f"({len(vocab)} items of {catalogue_source}), e.g. {shown}",
                source=data.name, column=ITEM,
                hint="the synthetic data must come from a generator fitted on the real log given with "
                     "--real; check that both files use the same item ids (and the right --item-col)",
            )
        codes = joined["code"].to_numpy().copy()
        codes[missing] = len(vocab) + np.arange(int(missing.sum()))
        vocab = pl.concat([vocab, unknown]).alias(catalogue.name)
    else:
        codes, vocab = joined["code"].to_numpy(), catalogue  # nothing appended: keep the catalogue's own type
    remap = codes.astype(np.int32)
    items = pl.Series(ITEM, remap[data.interactions[ITEM].to_numpy()], dtype=pl.Int32)
    out = InteractionData(data.interactions.with_columns(items), data.user_ids, vocab, data.users, None,
                          name=data.name)
    return out, vocab


def check_disjoint_users(members: InteractionData, holdout: InteractionData) -> None:
    """Holdout users must be people the generator never saw: no external user id in both logs.

    Raises:
        DataValidationError: some ids appear in both (names the holdout file and the first few ids).
    """
    a, b = members.user_ids, holdout.user_ids
    if a.dtype != b.dtype:
        a, b = a.cast(pl.String), b.cast(pl.String)
    shared = b.filter(b.is_in(a.implode()))
    if shared.len():
        shown = ", ".join(repr(v) for v in shared.head(5).to_list())
        raise DataValidationError(
            f"{shared.len()} user id(s) of the holdout also appear in the real members log, e.g. {shown}",
            source=holdout.name, column=USER,
            hint="the holdout must hold real users the generator never saw; remove them, or leave out "
                 "--holdout to split the real log instead",
        )


def generator_item_ids(generator: object) -> pl.Series | None:
    """The external item vocabulary a fitted generator samples from, or ``None`` when it keeps none.

    Looks for ``item_ids_`` (set by `fit` of the latent-factor, preference and sequence generators), then
    a wrapped generator's (``generator_``, e.g. `ProfiledGenerator`), then a simulator's
    ``catalogue.item_ids``.
    """
    ids = getattr(generator, "item_ids_", None)
    if isinstance(ids, pl.Series):
        return ids
    inner = getattr(generator, "generator_", None)
    if inner is not None and inner is not generator:
        return generator_item_ids(inner)
    catalogue = getattr(generator, "catalogue", None)
    ids = getattr(catalogue, "item_ids", None)
    return ids if isinstance(ids, pl.Series) else None


def check_generator_catalogue(generator: object, catalogue: pl.Series, *, generator_source: str,
                              catalogue_source: str) -> None:
    """A generator given to the report must have been fitted on the real catalogue: the set of its external
    item ids (compared as strings, so ``12`` matches ``"12"``) must equal the set of ``catalogue``.

    A generator that keeps no vocabulary (`generator_item_ids` is ``None``) is not checked.

    Args:
        generator: the fitted generator (e.g. loaded by `BaseGenerator.load`).
        catalogue: the real log's external item ids, ``(n_items,)``.
        generator_source: the generator file, for the message.
        catalogue_source: the real file, for the message.

    Raises:
        DataValidationError: the vocabularies differ; names the generator file, the counts on each side
            and the first few ids missing from each.
    """
    ids = generator_item_ids(generator)
    if ids is None:
        return
    gen, real = ids.cast(pl.String), catalogue.cast(pl.String)
    only_gen, only_real = gen.filter(~gen.is_in(real.implode())), real.filter(~real.is_in(gen.implode()))
    if only_gen.len() == 0 and only_real.len() == 0:
        return

    def few(s: pl.Series) -> str:
        return ", ".join(repr(v) for v in s.head(5).to_list())

    parts = [f"{only_gen.len()} of its items are not in the real catalogue (e.g. {few(only_gen)})"
             if only_gen.len() else "",
             f"{only_real.len()} real items are not in its vocabulary (e.g. {few(only_real)})"
             if only_real.len() else ""]
    raise DataValidationError(
        f"the generator was fitted on another item catalogue ({gen.len()} items) than the real log "
        f"({real.len()} items of {catalogue_source}): " + "; ".join(p for p in parts if p),
        source=generator_source,
        hint="give the generator (`synthrec fit` output) fitted on the real log given with --real, read "
             "with the same column options",
    )


def with_catalogue(data: InteractionData, catalogue: pl.Series) -> InteractionData:
    """``data`` with its item vocabulary replaced by ``catalogue``, an extension of it (same ids first,
    possibly cast to String by `onto_catalogue`); dense ids are unchanged."""
    return replace(data, item_ids=catalogue)


# ------------------------------------------------------------------------------------- members / holdout


@dataclass(frozen=True)
class AuditInputs:
    """The logs of a quality audit, on one item catalogue, and how the holdout was obtained.

    Attributes:
        members: the real users the generator was fitted on (users compacted).
        synthetic: the synthetic log on the members' catalogue.
        holdout: real users the generator is taken not to have seen (users compacted).
        holdout_unseen: ``False`` when the holdout is a split of a log the generator may have been fitted
            on whole (see `run_quality_audit`).
        holdout_note: how the holdout was obtained, shown in the report.
        split: the seeded split in words when the real log was split, else ``None`` (recorded in
            ``results.json``).
    """

    members: InteractionData
    synthetic: InteractionData
    holdout: InteractionData
    holdout_unseen: bool
    holdout_note: str
    split: str | None


def prepare_audit_inputs(
    real: InteractionData,
    synthetic: InteractionData,
    holdout: InteractionData | None = None,
    *,
    holdout_fraction: float = 0.5,
    seed: int = 0,
    fitted_on_members: bool = False,
    generator: object | None = None,
    real_source: str | None = None,
    holdout_source: str | None = None,
    generator_source: str | None = None,
) -> AuditInputs:
    """Members, synthetic log and holdout of `run_quality_audit`, on the real log's item catalogue.

    The synthetic log is put on the catalogue of ``real`` (`onto_catalogue`: an unknown item is an error).
    With ``holdout``, its items extend the catalogue, its users must not appear in ``real``
    (`check_disjoint_users`) and it counts as unseen. Without it, ``real`` is split at random into members
    and holdout (``split_users(real, 1 - holdout_fraction, seed=seed)``); that holdout counts as unseen only
    with ``fitted_on_members`` (the generator was fitted on exactly the members part of that split).

    Args:
        real: the real log (the users the generator learned from).
        synthetic: the synthetic log, read on its own item vocabulary.
        holdout: real users the generator never saw, or ``None`` to split ``real``.
        holdout_fraction: without ``holdout``: share of the real users held out, in (0, 1).
        seed: seed of that split.
        fitted_on_members: without ``holdout``: the generator was fitted on the members part only.
        generator: the fitted generator behind ``synthetic``, or ``None``; when given, it must have been
            fitted on the catalogue of ``real`` (`check_generator_catalogue`).
        real_source: the real file, for messages and notes (default: ``real.name``).
        holdout_source: the holdout file, for the note (default: ``holdout.name``).
        generator_source: the generator file, for messages (default: its class name).

    Raises:
        DataValidationError: a synthetic item the real log lacks, a holdout user also in ``real``, or a
            generator fitted on another catalogue.
        ConfigError: ``holdout_fraction`` outside (0, 1) when ``real`` is split.
    """
    source = real_source if real_source is not None else real.name
    if generator is not None:
        check_generator_catalogue(generator, real.item_ids, catalogue_source=source,
                                  generator_source=generator_source or type(generator).__name__)
    syn_data, catalogue = onto_catalogue(synthetic, real.item_ids, catalogue_source=source)
    if holdout is not None:
        hold_data, catalogue = onto_catalogue(holdout, catalogue, catalogue_source=source, extend=True)
        members = with_catalogue(real, catalogue).compact_users()
        syn_data = with_catalogue(syn_data, catalogue)
        check_disjoint_users(members, hold_data)
        note = f"holdout: {holdout_source if holdout_source is not None else holdout.name}"
        return AuditInputs(members, syn_data, hold_data.compact_users(), True, note, None)
    if not 0.0 < holdout_fraction < 1.0:
        raise ConfigError(f"holdout_fraction must be between 0 and 1 (exclusive), got {holdout_fraction:g}")
    a, b = split_users(real, 1.0 - holdout_fraction, seed=seed)
    split = (f"a random {holdout_fraction:g} of the users of {source} (seed {seed}, "
             f"split_users(real, {1 - holdout_fraction:g}, seed={seed}))")
    note = (f"holdout = {split}; the generator was fitted on the members part only "
            "(--fitted-on-members)" if fitted_on_members else
            f"holdout = {split}. If the generator saw all of --real, these users are not unseen: "
            "the distance and membership cards are not applicable. Give --holdout with real "
            "users the generator never saw, or --fitted-on-members if it was fitted on the "
            "members part only")
    return AuditInputs(a.compact_users(), syn_data, b.compact_users(), fitted_on_members, note, split)


# ------------------------------------------------------------------------------------------ audit


def privacy_figures(synthetic: InteractionData, members: InteractionData, holdout: InteractionData, *,
                    block: int = 1024) -> tuple[dict[str, float], DCRResult]:
    """The figures of `synthrec.evaluation.privacy.privacy_report` (same keys, same order, same values)
    together with the `DCRResult` behind them, whose distances the report plots.

    Raises:
        DataValidationError: catalogues differ, a log has no active user, or members has fewer than two.
    """
    d = dcr(synthetic, members, holdout, block=block)
    nn = nndr(synthetic, members, block=block)
    out = {
        "n_synthetic": float(len(d.to_train)), "n_train": float(d.n_train), "n_holdout": float(d.n_holdout),
        **d.summary(), **nn.summary(),
        "mia_auc": membership_inference_auc(synthetic, members, holdout, block=block),
    }
    return {k: out[k] for k in REPORT_KEYS}, d


def data_summary(data: InteractionData) -> dict[str, Any]:
    """Name, vocabulary sizes, active users, interactions and optional columns of a log."""
    return {"name": data.name, "users": len(data.active_users()), "items": data.n_items,
            "interactions": data.n_interactions, "columns": data.interactions.columns}


def audit_steps(optional: OptionalAudits | None = None) -> int:
    """Progress steps `run_quality_audit` advances: 6, plus one per slow optional audit it runs."""
    return 6 + (optional.steps if optional is not None else 0)


def run_quality_audit(
    members: InteractionData,
    synthetic: InteractionData,
    holdout: InteractionData | None,
    *,
    holdout_unseen: bool = True,
    holdout_note: str = "",
    optional: OptionalAudits | None = None,
    summaries: Mapping[str, Mapping[str, Any]] | None = None,
    inputs: Mapping[str, Any] | None = None,
    top_items: int = 500,
    block: int = 1024,
    bar: StepProgress | None = None,
) -> dict[str, Any]:
    """Run every audit and return the ``results.json`` payload of the quality report.

    Args:
        members: the real users the generator was fitted on.
        synthetic: the synthetic log, on the same item catalogue as ``members``.
        holdout: real users from the same population the generator never saw (same catalogue), or
            ``None`` (no privacy audit and no real reference).
        holdout_unseen: ``False`` when the holdout may have been seen by the generator (e.g. a split of a
            log it was fitted on whole): the DCR and membership cards become not-applicable, the shadow
            attack is not run, and the utility audit uses a leave-last-out split of all real users
            (see `synthrec.report.quality_audits.utility_split`).
        holdout_note: how the holdout was obtained, shown in the report.
        optional: which optional audits to run (default: none besides bias and attribute inference).
        summaries: results of further audits computed elsewhere, ``{name: summary dict}`` (see
            `synthrec.evaluation.cards.optional_cards`); recorded and turned into cards (they win over
            an audit run here under the same name).
        inputs: extra description of the inputs (paths, split) recorded under ``inputs``.
        top_items: items in the co-occurrence figures (`fidelity_report`).
        block: tile size of the privacy distances (`synthrec.evaluation.privacy.jaccard_nearest`).
        bar: progress to advance, `audit_steps` (``optional``) steps.

    Returns:
        JSON-able dict: ``synthrec_version``, ``python``, ``inputs`` (sizes of each log plus ``inputs``),
        ``fidelity`` (`FIDELITY_KEYS`), ``fidelity_real_reference`` (holdout vs members, or ``None``),
        ``privacy`` (`REPORT_KEYS`, or ``None``), ``privacy_note``, ``cards`` (`AuditCard.to_dict`),
        ``overall`` (worst status), ``thresholds`` (the rules used), ``optional_audits`` (summary per
        audit name), ``audit_notes`` (how each optional audit was measured) and ``plots`` (the numbers
        of every figure, including ``bias`` and, with utility, ``utility``). Non-finite floats are
        ``None``.

    Raises:
        DataValidationError: the logs do not share one item catalogue.
        ConfigError: bad ``top_items`` or ``block``, or a generator whose class cannot be refitted.
    """
    opt = optional or OptionalAudits()
    step = bar or StepProgress(None, audit_steps(opt), "")
    step.describe("fidelity: synthetic vs real members")
    fidelity = fidelity_report(members, synthetic, top_items=top_items)
    step.advance()
    step.describe("fidelity: real holdout vs real members (noise floor)")
    reference = fidelity_report(members, holdout, top_items=top_items) if holdout is not None else None
    step.advance()
    step.describe("privacy: distances to closest record, membership inference")
    privacy: dict[str, float] | None = None
    dcr_result: DCRResult | None = None
    privacy_note = holdout_note
    if holdout is None:
        privacy_note = "no real holdout users: the privacy audit needs real users the generator never saw"
    elif len(members.active_users()) < 2 or len(holdout.active_users()) < 1 or len(synthetic.active_users()) < 1:
        privacy_note = "too few users for the privacy audit (it needs 2 members, 1 holdout and 1 synthetic user)"
    else:
        privacy, dcr_result = privacy_figures(synthetic, members, holdout, block=block)
    step.advance()
    extra = _optional_audits(members, synthetic, holdout, holdout_unseen, opt, step)
    step.describe("figures")
    plots = {
        "popularity": popularity_data(members, synthetic),
        "activity": activity_data(members, synthetic),
        "ratings": rating_data(members, synthetic),
        "gaps": gap_data(members, synthetic),
        "dcr": dcr_data(dcr_result) if dcr_result is not None else None,
        **extra.plots,
    }
    step.advance()
    step.describe("cards")
    optional_summaries = {**extra.summaries, **{k: dict(v) for k, v in (summaries or {}).items()}}
    cards = all_cards(fidelity, privacy, holdout_unseen=holdout_unseen,
                      privacy_reason=privacy_note if privacy is None or not holdout_unseen else "",
                      summaries=optional_summaries, notes=extra.notes)
    step.advance()
    payload = {
        "synthrec_version": __version__,
        "python": platform.python_version(),
        "inputs": {
            "members": data_summary(members), "synthetic": data_summary(synthetic),
            "holdout": data_summary(holdout) if holdout is not None else None,
            "holdout_unseen": holdout_unseen, **(inputs or {}),
        },
        "fidelity": fidelity,
        "fidelity_real_reference": reference,
        "privacy": privacy,
        "privacy_note": privacy_note,
        "cards": [c.to_dict() for c in cards],
        "overall": worst_status(cards),
        "thresholds": [
            {"audit": t.audit, "title": t.title, "metric": t.metric, "label": t.label, "better": t.better,
             "pass_at": t.pass_at, "warn_at": t.warn_at, "pass_low": t.pass_low, "warn_low": t.warn_low,
             "rule": t.in_words(), "why": t.why}
            for t in THRESHOLDS.values()
        ],
        "optional_audits": optional_summaries,
        "audit_notes": extra.notes,
        "plots": plots,
    }
    return json_clean(payload)


def _optional_audits(members: InteractionData, synthetic: InteractionData, holdout: InteractionData | None,
                     holdout_unseen: bool, opt: OptionalAudits, step: StepProgress) -> AuditOutcome:
    """Bias (+ attribute inference), then the optional audits ``opt`` asks for; advances one step for
    bias and one per slow audit (`OptionalAudits.steps`)."""
    step.describe("bias: popularity amplification, representation of groups")
    outcomes: list[AuditOutcome | None] = [bias_audit(members, synthetic),
                                           attribute_inference_audit(synthetic, members, holdout)]
    step.advance()
    gen = opt.generator
    if opt.utility:
        step.describe("utility: training pop, EASE, ALS, BPR on real and on synthetic data")
        outcomes.append(utility_audit(members, synthetic, holdout, holdout_unseen=holdout_unseen, seed=opt.seed))
        step.advance()
    if gen is not None and opt.n_shadows > 0:
        step.describe(f"attack: fitting {opt.n_shadows} shadow generators")
        outcomes.append(shadow_attack_audit(gen, synthetic, members, holdout, holdout_unseen=holdout_unseen,
                                            n_shadows=opt.n_shadows, seed=opt.seed))
        step.advance()
    if gen is not None and opt.n_canaries > 0:
        step.describe(f"canaries: refitting the generator class with {opt.n_canaries} canaries")
        outcomes.append(canary_audit(gen, synthetic, members, n_canaries=opt.n_canaries, seed=opt.seed))
        step.advance()
    if gen is not None:
        outcomes.append(dp_audit(gen))
    return merge(outcomes)
