"""Recommend with external ids: histories and exclusions in the publisher's ids, results likewise.

Models work on dense ids ``[0, n_items)``; `recommend_external` translates through the vocabularies of
an `InteractionData` that shares the model's catalogue (item ids such as ``7``, ``12``, ``1000003`` and
``"x9"``, user ids of any type). Policies, each visible in the result rather than silent:

* **Unknown ids** in a history or in ``exclude`` (not in the catalogue) are dropped with a
  `UserWarning` naming them, and listed in the result; they never raise ``IndexError``.
* **Cold users** — a history that is empty or holds only unknown ids — get the **popularity fallback**:
  the catalogue ranked by users per item as the model learned it (``item_counts_`` of a
  `synthrec.models.base.BaseRecommender`, else counted from ``data``), minus excluded items. They are
  flagged in ``ExternalRecommendations.cold``.
* **Items never seen in training** (catalogue items without a training interaction) are never
  recommended — by the collaborative models nor by the fallback — and their number is reported as
  ``n_untrained_items``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.models.base import NO_ITEM, Recommender, item_counts, top_k

_MAX_NAMED = 10  # ids named in one warning


@dataclass(frozen=True)
class ExternalRecommendations:
    """Recommendations in external ids.

    Attributes:
        users: external user ids, one per row (the keys of the ``histories`` mapping, in order).
        items: for each user, up to ``k`` external item ids, best first (fewer when fewer are eligible).
        cold: bool array ``(n_users,)``; True where the popularity fallback was used.
        unknown_history_items: user → the ids of their history that are not in the catalogue (dropped).
        unknown_exclude: ids in ``exclude`` that are not in the catalogue (ignored).
        n_untrained_items: catalogue items without a training interaction (never recommended).
    """

    users: list[Any]
    items: list[list[Any]]
    cold: np.ndarray
    unknown_history_items: dict[Any, list[Any]] = field(default_factory=dict)
    unknown_exclude: list[Any] = field(default_factory=list)
    n_untrained_items: int = 0

    @property
    def n_cold(self) -> int:
        """Number of users served by the popularity fallback."""
        return int(self.cold.sum())

    def as_dict(self) -> dict[Any, list[Any]]:
        """user → list of recommended external item ids."""
        return dict(zip(self.users, self.items, strict=True))


def _dense_codes(values: Sequence[Any], vocab: pl.Series) -> np.ndarray:
    """Positions of ``values`` in ``vocab`` as int64, ``-1`` where a value is not in it (order kept)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    ids = pl.Series("ext", list(values), strict=False)
    if ids.dtype != vocab.dtype:
        try:
            ids = ids.cast(vocab.dtype, strict=True)
        except Exception:  # e.g. "x9" against an integer vocabulary, or mixed types: compare as text
            ids = ids.cast(pl.String)
            vocab = vocab.cast(pl.String)
    table = pl.DataFrame({"ext": vocab, "code": pl.arange(0, len(vocab), dtype=pl.Int64, eager=True)})
    joined = pl.DataFrame({"ext": ids}).join(table, on="ext", how="left", maintain_order="left")
    return joined["code"].fill_null(-1).to_numpy().astype(np.int64)


def _named(ids: Sequence[Any]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_MAX_NAMED])
    return shown + (f" and {len(ids) - _MAX_NAMED} more" if len(ids) > _MAX_NAMED else "")


def _drop_excluded(recs: np.ndarray, excluded: np.ndarray, k: int) -> np.ndarray:
    """Remove ``excluded`` ids from each row of ``recs`` keeping order; first ``k`` columns, NO_ITEM-padded."""
    gone = np.isin(recs, excluded) | (recs == NO_ITEM)
    order = np.argsort(gone, axis=1, kind="stable")  # kept entries first, in their order
    out = np.take_along_axis(recs, order, axis=1)[:, :k]
    out[np.take_along_axis(gone, order, axis=1)[:, :k]] = NO_ITEM
    if out.shape[1] < k:
        out = np.hstack([out, np.full((out.shape[0], k - out.shape[1]), NO_ITEM, dtype=np.int64)])
    return out


def recommend_external(
    model: Recommender,
    data: InteractionData,
    histories: Mapping[Any, Sequence[Any]] | None = None,
    k: int = 10,
    exclude: Sequence[Any] | None = None,
    *,
    exclude_seen: bool = True,
) -> ExternalRecommendations:
    """Recommend ``k`` items per user with external ids in and out (policies in the module docstring).

    Args:
        model: a fitted recommender whose catalogue is ``data``'s item vocabulary.
        data: supplies the item vocabulary (and the users when ``histories`` is None).
        histories: external user id → list of external item ids the user interacted with. None: every
            user of ``data`` with their interactions in ``data``.
        k: items per user, ``>= 1``.
        exclude: external item ids never to recommend to anyone (e.g. out-of-stock items).
        exclude_seen: do not recommend items in the user's history.

    Returns:
        `ExternalRecommendations`.

    Raises:
        ConfigError: ``k < 1``.
        DataValidationError: the model was fitted on a catalogue of another size than ``data``'s.
        NotFittedError: the model is not fitted.

    Warns:
        UserWarning: ids in ``histories`` or ``exclude`` that are not in the catalogue (named).
    """
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    n_items = data.n_items
    fitted_items = getattr(model, "n_items_", n_items)
    if fitted_items is not None and fitted_items != n_items:
        raise DataValidationError(
            f"the model was fitted on {fitted_items} items but '{data.name}' has {n_items}",
            source=data.name, hint="pass the data the model was fitted on (or one sharing its item_ids)",
        )

    # --- histories -> dense CSR
    unknown_hist: dict[Any, list[Any]] = {}
    if histories is None:
        users = data.user_ids.to_list()
        h = data.to_csr("binary")
    else:
        users = list(histories.keys())
        lists = [list(histories[u]) for u in users]
        lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        flat = [i for x in lists for i in x]
        codes = _dense_codes(flat, data.item_ids)
        rows = np.repeat(np.arange(len(users), dtype=np.int64), lengths)
        bad = codes < 0
        if bad.any():
            bad_pos = np.flatnonzero(bad)
            for r, p in zip(rows[bad_pos].tolist(), bad_pos.tolist(), strict=True):
                unknown_hist.setdefault(users[r], []).append(flat[p])
            ids = list(dict.fromkeys(flat[p] for p in bad_pos.tolist()))
            warnings.warn(
                f"histories: {len(bad_pos)} entries of {len(unknown_hist)} user(s) hold item ids not in the "
                f"catalogue of '{data.name}' ({n_items} items): {_named(ids)}; they are ignored",
                UserWarning, stacklevel=2,
            )
        good = ~bad
        h = sp.csr_matrix(
            (np.ones(int(good.sum()), dtype=np.float32), (rows[good], codes[good])),
            shape=(len(users), n_items), dtype=np.float32,
        )
        h.sum_duplicates()
        h.data[:] = 1.0

    # --- global exclusions
    excl_ids = list(exclude) if exclude is not None else []
    excl_codes = _dense_codes(excl_ids, data.item_ids)
    unknown_excl = [excl_ids[p] for p in np.flatnonzero(excl_codes < 0).tolist()]
    if unknown_excl:
        warnings.warn(
            f"exclude: item id(s) {_named(unknown_excl)} not in the catalogue of '{data.name}' "
            f"({n_items} items); ignored",
            UserWarning, stacklevel=2,
        )
    excluded = np.unique(excl_codes[excl_codes >= 0])

    # --- model recommendations, then the popularity fallback for cold rows
    n = h.shape[0]
    cold = np.diff(h.indptr) == 0
    out = np.full((n, k), NO_ITEM, dtype=np.int64)
    counts = getattr(model, "item_counts_", None)
    if counts is None:
        counts = item_counts(data)
    counts = np.asarray(counts, dtype=np.float64)
    warm = np.flatnonzero(~cold)
    if warm.size:
        recs = model.recommend(h[warm], k + excluded.size, exclude_seen=exclude_seen)
        out[warm] = _drop_excluded(np.asarray(recs, dtype=np.int64), excluded, k)
    if cold.any():
        pop = counts.copy()
        pop[counts <= 0] = -np.inf
        pop[excluded] = -np.inf
        out[cold] = top_k(np.broadcast_to(pop, (int(cold.sum()), n_items)), k,
                          tie_order=getattr(model, "tie_order_", None))

    return ExternalRecommendations(
        users=users,
        items=data.external_items(out),
        cold=cold,
        unknown_history_items=unknown_hist,
        unknown_exclude=unknown_excl,
        n_untrained_items=int((counts <= 0).sum()),
    )
