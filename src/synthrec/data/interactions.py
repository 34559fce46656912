"""`InteractionData`: the one data type that flows through synthrec.

Real logs, synthetic logs, splits and mixtures are all `InteractionData`, so every stage composes.

Schema of ``interactions`` (a polars DataFrame, one row per event, in the source's order):

=============  ==========  ============================================================
column         dtype       meaning
=============  ==========  ============================================================
``user``       Int32       dense user id in ``[0, n_users)``; ``user_ids[u]`` is external
``item``       Int32       dense item id in ``[0, n_items)``; ``item_ids[i]`` is external
``timestamp``  Int64       optional; event time in **seconds** since the Unix epoch (UTC)
``rating``     Float32     optional; explicit rating on the source's scale
``event``      String      optional; event type (``view``, ``click``, ``purchase``, ...)
``session``    Int64       optional; session id
=============  ==========  ============================================================

Row order is meaningful: it is the source's file order and breaks ties in time (see splits), so no
operation here reorders rows unless it says so. Without timestamps, row order stands for time order only
when the log says so (``row_order_is_time``).

``users`` and ``items`` are optional attribute tables keyed by the dense ``user`` / ``item`` column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import polars as pl
import scipy.sparse as sp

from synthrec.errors import DataValidationError, UnknownIdError

USER = "user"
ITEM = "item"
TIMESTAMP = "timestamp"
RATING = "rating"
EVENT = "event"
SESSION = "session"

OPTIONAL_COLUMNS: dict[str, pl.DataType] = {
    TIMESTAMP: pl.Int64(),
    RATING: pl.Float32(),
    EVENT: pl.String(),
    SESSION: pl.Int64(),
}
CORE_SCHEMA: dict[str, pl.DataType] = {USER: pl.Int32(), ITEM: pl.Int32()}

CsrValue = Literal["binary", "rating", "count"]


@dataclass(frozen=True)
class InteractionData:
    """An interaction log with its id vocabularies and optional attribute tables.

    Build one with `InteractionData.from_frame` (which validates and assigns dense ids) or with a reader
    in `synthrec.data.readers`; the constructor assumes ids are already dense and checks only the schema.

    Attributes:
        interactions: polars DataFrame, schema in the module docstring.
        user_ids: polars Series of length ``n_users``; ``user_ids[u]`` is the external id of dense user u.
        item_ids: polars Series of length ``n_items``; ``item_ids[i]`` is the external id of dense item i.
        users: optional DataFrame with an Int32 ``user`` column (dense ids) and attribute columns.
        items: optional DataFrame with an Int32 ``item`` column (dense ids) and attribute columns.
        name: a short label used in reports and errors (e.g. ``"ml-100k"``).
        row_order_is_time: without a ``timestamp`` column, whether each user's rows are listed in time
            order (True for sequence files such as ``amazon-seq``; set it when loading a log you know is
            ordered). Time-ordered splits refuse a log with neither (see `synthrec.data.splits`): many
            published logs list a user's events in no time order (MovieLens-1M's ``ratings.dat``, HetRec
            ``user_artists.dat`` sorted by artist id), and "the last row" is then a biased, not a recent,
            event.
        time_type: how the source wrote its times before they became seconds: ``"seconds"`` (epoch
            numbers), ``"date"`` or ``"datetime"``; ``None`` when unknown or without times. Writers can
            give synthetic times back in that type (`synthrec.data.writers.write_interactions`).

    Raises:
        DataValidationError: a required column is missing or has the wrong dtype, or a dense id is out of
            range of its vocabulary.
    """

    interactions: pl.DataFrame
    user_ids: pl.Series
    item_ids: pl.Series
    users: pl.DataFrame | None = None
    items: pl.DataFrame | None = None
    name: str = field(default="data")
    row_order_is_time: bool = False
    time_type: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        df = self.interactions
        for col, dtype in CORE_SCHEMA.items():
            if col not in df.columns:
                raise DataValidationError(
                    "required column is missing", source=self.name, column=col,
                    hint="use InteractionData.from_frame to build dense ids from external ids",
                )
            if df.schema[col] != dtype:
                raise DataValidationError(
                    f"dense id column must be {dtype}, got {df.schema[col]}", source=self.name, column=col
                )
        for col, dtype in OPTIONAL_COLUMNS.items():
            if col in df.columns and df.schema[col] != dtype:
                raise DataValidationError(
                    f"column must be {dtype}, got {df.schema[col]}", source=self.name, column=col
                )
        if df.height:
            for col, vocab in ((USER, self.user_ids), (ITEM, self.item_ids)):
                lo, hi = df[col].min(), df[col].max()
                if lo is None or lo < 0 or hi >= len(vocab):  # type: ignore[operator]
                    raise DataValidationError(
                        f"dense ids must lie in [0, {len(vocab)}), found [{lo!r}, {hi!r}]",
                        source=self.name, column=col,
                    )

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_frame(
        cls,
        frame: pl.DataFrame,
        *,
        user_col: str = USER,
        item_col: str = ITEM,
        rating_col: str | None = None,
        time_col: str | None = None,
        event_col: str | None = None,
        session_col: str | None = None,
        users: pl.DataFrame | None = None,
        items: pl.DataFrame | None = None,
        user_key: str | None = None,
        item_key: str | None = None,
        item_vocabulary: pl.Series | None = None,
        name: str = "<frame>",
        row_order_is_time: bool = False,
        time_type: str | None = None,
    ) -> InteractionData:
        """Build from a frame of external ids; validation lives in `synthrec.data.validation`.

        Dense ids are assigned in order of first appearance, so the same file always gives the same ids.

        Args:
            frame: polars DataFrame with at least the user and item columns. Time must already be
                integer seconds (readers convert other time types first).
            user_col, item_col, rating_col, time_col, event_col, session_col: source column names.
            users, items: optional attribute tables keyed by external ids in column ``user_key`` /
                ``item_key`` (default: ``user_col`` / ``item_col``).
            item_vocabulary: reuse this item vocabulary (e.g. the catalogue of another split) instead of
                building one; unknown items raise.
            name: the file or frame description used in error messages.
            row_order_is_time: the frame lists each user's events in time order (see the class
                attributes); ignored when ``time_col`` is given.
            time_type: how the source wrote its times (see the class attributes); kept only with a
                ``time_col``.

        Raises:
            DataValidationError: see `synthrec.data.validation.validate_frame`.
            UnknownIdError: an item is not in ``item_vocabulary``.
        """
        from synthrec.data.validation import validate_frame

        frame = validate_frame(
            frame, user_col=user_col, item_col=item_col, rating_col=rating_col, time_col=time_col,
            name=name,
        )
        user_codes, user_vocab = _encode(frame[user_col])
        if item_vocabulary is None:
            item_codes, item_vocab = _encode(frame[item_col])
        else:
            item_vocab = item_vocabulary
            item_codes = _lookup(frame[item_col], item_vocab, what="item", source=name)
        cols: dict[str, pl.Series] = {
            USER: user_codes.alias(USER),
            ITEM: item_codes.alias(ITEM),
        }
        for std, src in ((TIMESTAMP, time_col), (RATING, rating_col), (EVENT, event_col), (SESSION, session_col)):
            if src is not None:
                cols[std] = frame[src].cast(OPTIONAL_COLUMNS[std]).alias(std)
        inter = pl.DataFrame(cols)
        users_tbl = _attach_table(users, user_key or user_col, user_vocab, USER, name) if users is not None else None
        items_tbl = _attach_table(items, item_key or item_col, item_vocab, ITEM, name) if items is not None else None
        return cls(inter, user_vocab, item_vocab, users_tbl, items_tbl, name=name,
                   row_order_is_time=row_order_is_time, time_type=time_type if time_col is not None else None)

    # ------------------------------------------------------------------ basic facts

    @property
    def n_users(self) -> int:
        """Size of the user vocabulary (users without interactions included)."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Size of the item vocabulary (the catalogue)."""
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return self.interactions.height

    @property
    def has_timestamp(self) -> bool:
        return TIMESTAMP in self.interactions.columns

    @property
    def has_rating(self) -> bool:
        return RATING in self.interactions.columns

    def active_users(self) -> np.ndarray:
        """Sorted dense ids (int32) of users with at least one interaction."""
        return np.unique(self.interactions[USER].to_numpy())

    def __repr__(self) -> str:
        cols = ", ".join(self.interactions.columns)
        return (
            f"InteractionData(name={self.name!r}, users={self.n_users}, items={self.n_items}, "
            f"interactions={self.n_interactions}, columns=[{cols}])"
        )

    # ------------------------------------------------------------------ matrices

    def to_csr(self, value: CsrValue = "binary") -> sp.csr_matrix:
        """User × item matrix of shape ``(n_users, n_items)``, float32.

        Args:
            value: ``"binary"`` (1 where the user interacted, repeats collapse to 1), ``"count"`` (number
                of events per pair) or ``"rating"`` (the last rating given to the pair in row order).

        Raises:
            DataValidationError: ``value="rating"`` but the data has no rating column.
        """
        df = self.interactions
        shape = (self.n_users, self.n_items)
        rows = df[USER].to_numpy().astype(np.int64)
        cols = df[ITEM].to_numpy().astype(np.int64)
        if value == "rating":
            if not self.has_rating:
                raise DataValidationError("to_csr(value='rating') needs a rating column", source=self.name,
                                          column=RATING)
            last = df.select(USER, ITEM, RATING).with_row_index("_r").group_by(USER, ITEM).last()
            m = sp.csr_matrix(
                (last[RATING].to_numpy().astype(np.float32),
                 (last[USER].to_numpy().astype(np.int64), last[ITEM].to_numpy().astype(np.int64))),
                shape=shape, dtype=np.float32,
            )
        else:
            m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape, dtype=np.float32)
            m.sum_duplicates()
            if value == "binary":
                m.data[:] = 1.0
            elif value != "count":
                raise ValueError(f"value must be 'binary', 'rating' or 'count', got {value!r}")
        m.sort_indices()
        return m

    # ------------------------------------------------------------------ derived data

    def with_interactions(self, interactions: pl.DataFrame, *, name: str | None = None) -> InteractionData:
        """Same vocabularies and attribute tables, other interaction rows."""
        return replace(self, interactions=interactions, name=name or self.name)

    def filter_users(self, dense_users: np.ndarray | Sequence[int], *, name: str | None = None) -> InteractionData:
        """Keep the interactions of the given dense users; vocabularies are unchanged (rows stay aligned)."""
        keep = pl.Series(np.asarray(dense_users, dtype=np.int32))
        return self.with_interactions(self.interactions.filter(pl.col(USER).is_in(keep.implode())), name=name)

    def compact_users(self) -> InteractionData:
        """Drop users with no interactions and renumber users densely (order kept). Items are unchanged."""
        active = self.active_users()
        remap = np.full(self.n_users, -1, dtype=np.int32)
        remap[active] = np.arange(len(active), dtype=np.int32)
        inter = self.interactions.with_columns(
            pl.Series(USER, remap[self.interactions[USER].to_numpy()], dtype=pl.Int32)
        )
        users = None
        if self.users is not None:
            kept = self.users.filter(pl.col(USER).is_in(pl.Series(active).implode()))
            users = kept.with_columns(pl.Series(USER, remap[kept[USER].to_numpy()], dtype=pl.Int32))
        return replace(self, interactions=inter, user_ids=self.user_ids.gather(active), users=users)

    def external_items(self, dense: np.ndarray) -> list[list[object]]:
        """Translate an ``(n, k)`` array of dense item ids (``-1`` = no item) into lists of external ids."""
        vocab = self.item_ids.to_list()
        return [[vocab[i] for i in row if i >= 0] for row in np.asarray(dense)]

    def dense_items(self, external: Sequence[object], *, strict: bool = True) -> np.ndarray:
        """Dense ids (int32) of external item ids.

        Raises:
            UnknownIdError: an id is not in the catalogue and ``strict`` is true. With ``strict=False``
                unknown ids are dropped (the caller should warn).
        """
        return _lookup(pl.Series(list(external)), self.item_ids, what="item", source=self.name,
                       strict=strict).to_numpy()

    def dense_users(self, external: Sequence[object], *, strict: bool = True) -> np.ndarray:
        """Dense ids (int32) of external user ids; see `dense_items`."""
        return _lookup(pl.Series(list(external)), self.user_ids, what="user", source=self.name,
                       strict=strict).to_numpy()


def concat_users(parts: Sequence[InteractionData], *, name: str = "concat") -> InteractionData:
    """Stack the users of several logs that share one item catalogue (e.g. real + synthetic).

    User vocabularies are appended in order; external user ids are prefixed with the part's position
    (``"0:"``, ``"1:"``, ...) when two parts share an id, so real and synthetic people never merge.

    Raises:
        DataValidationError: the parts do not share the same item vocabulary.
    """
    if not parts:
        raise ValueError("concat_users needs at least one part")
    base = parts[0]
    for p in parts[1:]:
        if p.n_items != base.n_items or not p.item_ids.equals(base.item_ids):
            raise DataValidationError(
                f"cannot stack users of '{p.name}' onto '{base.name}': their item catalogues differ",
                hint="build both from the same catalogue (InteractionData.from_frame(item_vocabulary=...))",
            )
    common = set.intersection(*(set(p.interactions.columns) for p in parts))
    cols = [c for c in parts[0].interactions.columns if c in common]
    offset = 0
    frames = []
    vocab_parts = []
    ext = [p.user_ids.cast(pl.String) for p in parts]
    clash = len(set().union(*(set(e.to_list()) for e in ext))) < sum(len(e) for e in ext)
    for k, p in enumerate(parts):
        frames.append(p.interactions.select(cols).with_columns((pl.col(USER) + offset).cast(pl.Int32)))
        vocab_parts.append((f"{k}:" + ext[k]) if clash else ext[k])
        offset += p.n_users
    if all(p.user_ids.dtype == base.user_ids.dtype for p in parts) and not clash:
        user_ids = pl.concat([p.user_ids for p in parts])
    else:
        user_ids = pl.concat(vocab_parts)
    return InteractionData(pl.concat(frames), user_ids.alias("user_id"), base.item_ids, None, base.items,
                           name=name, row_order_is_time=all(p.row_order_is_time for p in parts))


def _encode(ids: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Dense Int32 codes in order of first appearance, and the vocabulary (code -> external id)."""
    vocab = ids.unique(maintain_order=True)
    codes = _lookup(ids, vocab, what=ids.name or "id", source="")
    return codes, vocab.alias(f"{ids.name}_id" if ids.name else "id")


def _lookup(ids: pl.Series, vocab: pl.Series, *, what: str, source: str, strict: bool = True) -> pl.Series:
    """Map external ids to positions in ``vocab``; unknown ids raise (strict) or are dropped."""
    if ids.dtype != vocab.dtype:
        try:
            ids = ids.cast(vocab.dtype, strict=True)
        except Exception:  # e.g. "x9" against an integer vocabulary: it cannot be in it
            ids = ids.cast(pl.String)
            vocab = vocab.cast(pl.String)
    table = pl.DataFrame({"ext": vocab, "code": pl.arange(0, len(vocab), dtype=pl.Int32, eager=True)})
    joined = pl.DataFrame({"ext": ids}).join(table, on="ext", how="left", maintain_order="left")
    missing = joined["code"].is_null()
    if missing.any():
        if strict:
            first = int(missing.arg_true()[0])
            bad = joined["ext"][first]
            raise UnknownIdError(
                f"{source + ': ' if source else ''}{what} id {bad!r} (position {first + 1}) is not in the "
                f"vocabulary of {len(vocab)} {what}s; {int(missing.sum())} unknown in all"
            )
        joined = joined.filter(~missing)
    return joined["code"]


def _attach_table(
    table: pl.DataFrame, key: str, vocab: pl.Series, dense_col: str, source: str
) -> pl.DataFrame:
    """Key an attribute table by dense id; rows for ids outside the vocabulary are dropped."""
    if key not in table.columns:
        raise DataValidationError("attribute table has no key column", source=source, column=key)
    keys = table[key]
    if keys.dtype != vocab.dtype:
        keys = keys.cast(vocab.dtype, strict=False)
    lookup = pl.DataFrame({"_k": vocab, dense_col: pl.arange(0, len(vocab), dtype=pl.Int32, eager=True)})
    # Drop the key (and any stale dense column) first: the key is often named like the dense column.
    stale = [c for c in (key, dense_col) if c in table.columns]
    out = table.with_columns(keys.alias("_k")).drop(stale).join(lookup, on="_k", how="inner",
                                                                maintain_order="left")
    attrs = [c for c in table.columns if c not in (key, dense_col)]
    return out.select([dense_col, *attrs]).sort(dense_col)
