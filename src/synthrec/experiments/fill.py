"""The ``source-fill`` sources (issue 16, step 3), shared by `synthrec run` and `synthrec bench`: an
external source's pool with the target's *target-only* items filled in.

A generator fitted on an external source translated onto the target's catalogue
(`synthrec.experiments.external`) emits only the target's *mapped* items; the target-only items (those the
map does not reach, ``~ExternalSource.mapped``) get no synthetic interaction. A fill source takes the pool
of its *base* source — the same generator, the same fit, the same seeds: the pool is reused, never refitted
— and adds target-only items to its synthetic users with
`synthrec.generators.target_only.fill_target_only_items`, from the target's own training data of that
seed / cell (``target_train``): their share among its interactions (the default share), its item counts
and, when the target's items table has a ``genres`` column, the genres (else popularity-only draws,
``attribute=None``); β = `DEFAULT_SIMILARITY_WEIGHT`.

**Labels.** `fill_label` of a base source: ``source`` → ``source-fill``, ``source-dp(eps=E)`` →
``source-dp-fill(eps=E)``; `base_label` is the inverse. `synthrec run` lists ``source-fill`` in
``sources:`` (with an external ``source:`` only); the bench lists it in ``sources:`` and adds
``source-dp-fill(eps=E)`` for each ``dp_epsilons`` value. ``auto`` chooses among the strategies of every
listed source on validation, fill sources included: it decides per strategy whether the fill helps.

**Seeds.** The base pool keeps its own seeds (`synthrec.experiments.pools.pool_purpose` of the base label:
the same pool as the base source's arms). The fill reads the target's training data, so it is keyed like a
pool fitted on the target: ``derive_seed(seed, "fill", dataset, split, level, label)`` (`fill_purpose`),
plus ``"validation"`` for the validation pool; a run seed and the bench cell it equals draw the same fill.

**Validation without leaks.** For ``auto`` (and the bench's tuning) the base pool is reused as it is (it
does not depend on the target), and the fill is redone from the *inner* training part of the validation
split: the validation targets never inform the counts, the share or the draws.

**Privacy.** The fill reads the *target's* own training data (its item counts and share), never the
source's: it is post-processing of the base generator's output as far as the SOURCE users are concerned, so
a user-level ε-DP base generator keeps its guarantee with respect to the source users. The added rows are
not covered by that guarantee with respect to the target's users — who are the people whose data the
recommender trains on anyway (treat the filled pool like the target's training data).
"""

from __future__ import annotations

import numpy as np

from synthrec.data.interactions import InteractionData
from synthrec.experiments.pools import pool_purpose
from synthrec.experiments.strategies import SyntheticPool, derive_seed
from synthrec.generators.target_only import DEFAULT_SIMILARITY_WEIGHT, fill_target_only_items

#: the fill variant of the external ``source`` in `synthrec run` and the bench
SOURCE_FILL = "source-fill"
#: the item attribute the fill's genre term reads when the target's items table has it
FILL_ATTRIBUTE = "genres"
_BASE, _DP_BASE, _DP_FILL = "source", "source-dp", "source-dp-fill"

__all__ = ["DEFAULT_SIMILARITY_WEIGHT", "FILL_ATTRIBUTE", "SOURCE_FILL", "base_label", "fill_attribute",
           "fill_info", "fill_label", "fill_pool", "fill_purpose", "fill_settings", "is_fill"]


def is_fill(label: str) -> bool:
    """Whether ``label`` names a fill source (``source-fill``, ``source-dp-fill(eps=E)``)."""
    return label == SOURCE_FILL or label.startswith(_DP_FILL + "(")


def fill_label(base: str) -> str:
    """The fill variant of a base source label: ``source`` → ``source-fill``, ``source-dp(eps=E)`` →
    ``source-dp-fill(eps=E)``.

    Raises:
        ValueError: ``base`` is not an external-source label (``self`` and the bench's own-generator sources
            have no target-only items to fill: they are fitted on the target).
    """
    if base == _BASE:
        return SOURCE_FILL
    if base.startswith(_DP_BASE + "("):
        return _DP_FILL + base[len(_DP_BASE):]
    raise ValueError(f"source {base!r} has no fill variant (only 'source' and 'source-dp(eps=...)' do)")


def base_label(label: str) -> str:
    """The base source of a fill label (the inverse of `fill_label`); other labels are returned as they are."""
    if label == SOURCE_FILL:
        return _BASE
    if label.startswith(_DP_FILL + "("):
        return _DP_BASE + label[len(_DP_FILL):]
    return label


def fill_attribute(target_train: InteractionData) -> str | None:
    """``"genres"`` when the target's items table has a ``genres`` column, else None (popularity-only
    draws)."""
    items = target_train.items
    return FILL_ATTRIBUTE if items is not None and FILL_ATTRIBUTE in items.columns else None


def fill_settings() -> dict[str, object]:
    """The fill's fixed settings (part of the bench's fill cell ids, so a change gives new cells)."""
    return {"attribute": f"{FILL_ATTRIBUTE} when the target's items table has it, else none",
            "share": "the target's training share", "similarity_weight": DEFAULT_SIMILARITY_WEIGHT}


def fill_purpose(label: str, *, dataset: str, split: str, level: str, split_kind: str) -> tuple[str, ...]:
    """The purpose strings of a fill's seed: those of a pool fitted on the target
    (`synthrec.experiments.pools.pool_purpose` with ``fitted_on_target=True``): the fill reads the cell's
    training data."""
    return pool_purpose(label, dataset=dataset, split=split, level=level, split_kind=split_kind,
                        fitted_on_target=True)


def fill_pool(pool: SyntheticPool, target_train: InteractionData, mapped: np.ndarray, *, seed: int,
              purpose: tuple[str, ...]) -> SyntheticPool:
    """``pool`` (the base source's, over the target's catalogue) with target-only items added to its users
    (module docstring), seeded ``derive_seed(seed, "fill", *purpose)``.

    Args:
        pool: the base source's pool (not changed).
        target_train: the target's training data the fill reads (the level's, or the inner training part of
            a validation split for validation pools); never test data.
        mapped: bool ``(n_items,)``: the target items the map reaches (`ExternalSource.mapped`); the others
            are the target-only items.
        seed / purpose: the run or cell seed and `fill_purpose` (``"validation"`` appended for validation).

    Returns:
        A `SyntheticPool` with the same users and ``base_users`` (nested prefixes still hold).

    The fill reads the target's training data (``target_train``), never the source's: a DP base generator
    keeps its guarantee with respect to the source users; the added rows are the target's data.

    Raises:
        DataValidationError: the pool and ``target_train`` have different catalogues (from
            `fill_target_only_items`).
    """
    target_only = np.flatnonzero(~np.asarray(mapped, dtype=bool)).astype(np.int64)
    filled = fill_target_only_items(pool.data, target_train, target_only, attribute=fill_attribute(target_train),
                                    seed=derive_seed(seed, "fill", *purpose))
    return SyntheticPool(filled, pool.base_users)


def fill_info(filled: SyntheticPool, base: SyntheticPool, mapped: np.ndarray) -> dict[str, float | int]:
    """What a run reports about a fill (results.json, per seed): the rows it added and the share of the
    filled pool's rows on target-only items."""
    items = filled.data.interactions["item"].to_numpy()
    on_target_only = ~np.asarray(mapped, dtype=bool)[items]
    return {"added_rows": filled.data.n_interactions - base.data.n_interactions,
            "target_only_share": round(float(on_target_only.mean()), 4) if items.size else 0.0}
