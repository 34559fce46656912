"""Genre item-kNN: a content-based item-kNN over an item attribute column (e.g. ``genres``).

Each item ``i`` gets a multi-hot attribute vector ``a_i`` built from columns of ``data.items``; a user is
scored by the cosine similarity of each item to the items in her history::

    score_ui = Σ_{j ∈ history(u)} cos(a_i, a_j)  +  pop_weight · c_i / max_k c_k

with ``cos(a, b) = a·b / (‖a‖ ‖b‖)`` (0 when either vector is zero) and ``c`` the users per item in
the training data (`BaseRecommender.item_counts_`). This is the classic content-based neighbourhood
recommender (Pazzani & Billsus 2007, "Content-Based Recommendation Systems", in *The Adaptive Web*,
LNCS 4321, §3–4; Lops, de Gemmis & Semeraro 2011, "Content-based Recommender Systems: State of the Art
and Trends", *Recommender Systems Handbook*, §3.1.2, item similarity by the cosine of attribute vectors).
It needs no interaction to know an item, which is why it is the baseline for cold and target-only items
(benchmarks/README.md §10: it beat attribute-conditioned synthetic users on ml-100k's cold items).

Differences from the collaborative models of `synthrec.models` (see `synthrec.models.base`):

* **Eligible items.** An item is recommended when it has a training interaction **or** at least one
  attribute value: a content-based model knows a cold item by its attributes. Items with neither are
  never recommended (``-inf``). An item with interactions but no attribute scores 0 (plus the
  popularity term).
* **Fine-tuning** changes only the popularity (blended by `blend_counts` with weight ``pretrain_weight``)
  and so the tie-break term, the cold-user fallback and the eligible items; the attribute vectors are the
  ones read at `fit` (a catalogue's attributes are fixed).

Attribute columns (``attributes``, one name or several):

* a **list** column (``genres``: ``List(String)``) → one feature per distinct element;
* a **string** column → split on ``separator`` when given (``"Action|Comedy"`` with ``separator="|"``),
  else the whole value is one category; surrounding blanks are stripped and empty pieces dropped;
* any other dtype (integer, boolean, categorical, …) → its value as a category (cast to string).

Nulls and empty lists mean "no attribute". With several columns the features are kept apart by column
(``genres=Drama`` and ``tags=Drama`` are two features), and the vector of an item is the concatenation.
Each feature is 0/1 (a repeated value counts once). Items without a row in the items table have no
attribute.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import scipy.sparse as sp

from synthrec.data.interactions import ITEM, InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.models.base import (
    BaseRecommender,
    check_non_negative,
    check_positive,
)

try:
    from typing import Self
except ImportError:  # pragma: no cover
    from typing_extensions import Self


def item_attribute_vectors(
    items: pl.DataFrame | None,
    n_items: int,
    attributes: str | Sequence[str] = "genres",
    *,
    separator: str | None = None,
    source: str = "items",
) -> tuple[sp.csr_matrix, list[str]]:
    """Multi-hot item attribute vectors (see the module docstring for how each column dtype is read).

    Args:
        items: an items table with an Int32 ``item`` column of dense ids (``InteractionData.items``).
        n_items: catalogue size; items without a row get an all-zero vector.
        attributes: one column name or several.
        separator: splits string columns (``"|"`` for ``"Action|Comedy"``); None keeps each value whole.
        source: name used in error messages.

    Returns:
        ``(A, names)``: ``A`` a float64 CSR matrix of shape ``(n_items, p)`` with 0/1 entries, and the
        ``p`` feature names (``"value"`` with one column, ``"column=value"`` with several), sorted within
        each column.

    Raises:
        DataValidationError: ``items`` is None, or lacks a named column (the message lists its columns).
        ConfigError: ``attributes`` is empty, or ``separator`` is an empty string.
    """
    cols = [attributes] if isinstance(attributes, str) else list(attributes)
    if not cols or not all(isinstance(c, str) and c for c in cols):
        raise ConfigError(f"attributes must be a column name or a non-empty list of names, "
                          f"got {attributes!r}")
    if separator is not None and (not isinstance(separator, str) or separator == ""):
        raise ConfigError(f"separator must be a non-empty string or None, got {separator!r}")
    if items is None:
        raise DataValidationError(
            "the log has no items table, so there are no item attributes for a content-based model",
            source=source,
            hint=f"load the item file too (e.g. ml-100k u.item) so that '{cols[0]}' is known, or pick "
            "a collaborative model (ease, als, ...)",
        )
    rows: list[np.ndarray] = []
    feats: list[np.ndarray] = []
    names: list[str] = []
    for name in cols:
        if name not in items.columns or name == ITEM:
            present = ", ".join(c for c in items.columns if c != ITEM)
            raise DataValidationError("item attribute column is missing from the items table", source=source,
                                      column=name, hint=f"columns: {present}")
        col = pl.col(name)
        dtype = items.schema[name]
        if isinstance(dtype, pl.List):
            expr = col.list.eval(pl.element().cast(pl.String))
        elif dtype == pl.String and separator is not None:
            expr = col.str.split(separator)
        else:
            expr = pl.concat_list(col.cast(pl.String))
        flat = (items.select(pl.col(ITEM).cast(pl.Int64), expr.alias("_v")).explode("_v")
                .with_columns(pl.col("_v").str.strip_chars())
                .filter(pl.col("_v").is_not_null() & (pl.col("_v") != "")))
        item = flat[ITEM].to_numpy()
        if item.size and (item.min() < 0 or item.max() >= n_items):
            raise DataValidationError(f"items table has dense ids outside [0, {n_items})", source=source,
                                      column=ITEM)
        labels, codes = np.unique(flat["_v"].to_numpy().astype(str), return_inverse=True)
        rows.append(item)
        feats.append(codes.astype(np.int64) + len(names))
        names.extend(labels.tolist() if len(cols) == 1 else [f"{name}={v}" for v in labels.tolist()])
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(feats) if feats else np.zeros(0, np.int64)
    a = sp.csr_matrix((np.ones(r.size), (r, c)), shape=(n_items, len(names)), dtype=np.float64)
    a.sum_duplicates()
    a.data[:] = 1.0  # a repeated value counts once
    return a, names


def unit_rows(a: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (zero rows stay zero): float64 CSR of the same shape."""
    norm = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel())
    scale = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
    return sp.csr_matrix(sp.diags(scale) @ a)


class AttributeKNN(BaseRecommender):
    """Genre item-kNN: ``score_ui = Σ_{j ∈ history(u)} cos(a_i, a_j) + pop_weight · c_i / max c``.

    Content-based item-kNN over item attributes (module docstring: formula, sources, how columns are
    read, eligible items). Scores are computed as ``(H U) Uᵀ`` with ``U`` the unit-normalised attribute
    vectors, so no ``n_items × n_items`` matrix is stored: memory O(nnz(U)), time per batch of ``b`` rows
    O(b · n_items · p). The sum runs over the whole history, so with ``exclude_seen=False`` a seen item
    with attributes gets its own cos = 1.

    Args:
        attributes: item attribute column(s) of ``data.items``. Default ``"genres"``.
        separator: splits string columns (``"|"``); None (default) keeps each string value whole.
        pop_weight: ``>= 0``, weight of the popularity term ``c_i / max_k c_k`` (in [0, 1]). Default 0
            (pure content). A small value (1e-3) only breaks ties among items of equal similarity in
            favour of popular ones; a value near the typical similarity mixes popularity in.
        pretrain_weight: ``>= 0``, weight of the previous counts when fine-tuning (`blend_counts`).
        batch_size: history rows scored at once in `recommend`.

    Fitted attributes:
        item_vectors_: float64 CSR ``(n_items, p)``, unit-norm attribute rows (zero rows: no attribute).
        attribute_names_: the ``p`` feature names.
        has_attributes_: bool ``(n_items,)``, items with at least one attribute value.

    Raises (at `fit`):
        DataValidationError: the data has no items table or it lacks a named column; no interactions.
        ConfigError: bad parameters (at construction).
    """

    name = "attribute-knn"

    def __init__(
        self,
        attributes: str | Sequence[str] = "genres",
        separator: str | None = None,
        pop_weight: float = 0.0,
        pretrain_weight: float = 1.0,
        batch_size: int = 2048,
    ) -> None:
        if isinstance(attributes, str):
            attrs: str | list[str] = attributes
        elif isinstance(attributes, Sequence) and attributes:
            attrs = list(attributes)
        else:
            raise ConfigError(f"attributes must be a column name or a non-empty list of names, "
                              f"got {attributes!r}")
        if not all(isinstance(a, str) and a for a in ([attrs] if isinstance(attrs, str) else attrs)):
            raise ConfigError(f"attributes must be non-empty column names, got {attributes!r}")
        if separator is not None and (not isinstance(separator, str) or separator == ""):
            raise ConfigError(f"separator must be a non-empty string or None, got {separator!r}")
        check_non_negative("pop_weight", pop_weight)
        check_non_negative("pretrain_weight", pretrain_weight)
        check_positive("batch_size", batch_size, integer=True)
        self.attributes = attrs
        self.separator = separator
        self.pop_weight = float(pop_weight)
        self.pretrain_weight = float(pretrain_weight)
        self.batch_size = batch_size
        self.item_vectors_: sp.csr_matrix | None = None
        self.attribute_names_: list[str] | None = None
        self.has_attributes_: np.ndarray | None = None

    def _pretrain_mass(self) -> float:
        return self.pretrain_weight

    def fit(self, data: InteractionData) -> Self:
        """Read the item attribute vectors of ``data.items`` and the popularity of ``data``.

        Raises:
            DataValidationError: ``data`` has no interactions, no items table, or the table lacks a
                named column.
        """
        # read the attributes first: a missing column fails before any fitted state is written
        a, names = item_attribute_vectors(data.items, data.n_items, self.attributes, separator=self.separator,
                                          source=data.name)
        self._start_fit(data)
        self.item_vectors_ = unit_rows(a)
        self.attribute_names_ = names
        self.has_attributes_ = np.diff(a.indptr) > 0
        return self

    def fine_tune(self, data: InteractionData) -> Self:
        """Blend the popularity with that of ``data`` (attribute vectors unchanged; module docstring).

        Raises:
            NotFittedError: before `fit`.
            DataValidationError: ``data`` has another catalogue size or no interactions.
        """
        self._start_fine_tune(data)
        return self

    def _score(self, histories: sp.csr_matrix) -> np.ndarray:
        assert self.item_vectors_ is not None and self.item_counts_ is not None
        u = self.item_vectors_
        profile = np.asarray((histories.astype(np.float64) @ u).toarray())  # (b, p): Σ_j unit(a_j)
        scores = np.asarray(u @ profile.T).T  # (b, n_items)
        if self.pop_weight > 0:
            top = float(self.item_counts_.max())
            if top > 0:
                scores = scores + self.pop_weight * (self.item_counts_ / top)
        return np.ascontiguousarray(scores)

    @property
    def eligible_items_(self) -> np.ndarray:
        """Boolean ``(n_items,)``: items with a training interaction or an attribute (those recommended)."""
        self._require_fitted("eligible_items_")
        assert self.item_counts_ is not None and self.has_attributes_ is not None
        return (self.item_counts_ > 0) | self.has_attributes_
