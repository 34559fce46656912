"""InteractionData: dense ids, vocabularies, matrices, stacking and compaction."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from synthrec.data import InteractionData, concat_users
from synthrec.data.filters import compact_items, filter_min_counts, keep_min_rating
from synthrec.errors import DataValidationError, UnknownIdError


def _frame() -> pl.DataFrame:
    return pl.DataFrame({
        "u": ["a", "b", "a", "c", "a"],
        "i": [7, 12, 1000003, 7, 7],
        "r": [1.0, 2.0, 3.0, 4.0, 5.0],
        "t": [5, 6, 7, 8, 9],
    })


def _data() -> InteractionData:
    return InteractionData.from_frame(_frame(), user_col="u", item_col="i", rating_col="r", time_col="t",
                                      name="toy.csv")


def test_dense_ids_follow_first_appearance() -> None:
    d = _data()
    assert d.user_ids.to_list() == ["a", "b", "c"]
    assert d.item_ids.to_list() == [7, 12, 1000003]
    assert d.interactions["user"].to_list() == [0, 1, 0, 2, 0]
    assert d.interactions["item"].to_list() == [0, 1, 2, 0, 0]
    assert d.interactions.schema["user"] == pl.Int32
    assert d.interactions.schema["timestamp"] == pl.Int64
    assert d.interactions.schema["rating"] == pl.Float32


def test_to_csr_values() -> None:
    d = _data()
    binary = d.to_csr("binary").toarray()
    count = d.to_csr("count").toarray()
    rating = d.to_csr("rating").toarray()
    assert binary.tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 0]]
    assert count.tolist() == [[2, 0, 1], [0, 1, 0], [1, 0, 0]]
    # the last rating of the repeated pair (a, 7) in row order is 5.0
    assert rating.tolist() == [[5, 0, 3], [0, 2, 0], [4, 0, 0]]


def test_to_csr_rating_needs_ratings() -> None:
    d = InteractionData.from_frame(_frame().drop("r"), user_col="u", item_col="i", name="toy.csv")
    with pytest.raises(DataValidationError, match=r"toy.csv.*rating"):
        d.to_csr("rating")


def test_lookup_unknown_ids() -> None:
    d = _data()
    assert d.dense_items([1000003, 7]).tolist() == [2, 0]
    with pytest.raises(UnknownIdError, match="'x9'"):
        d.dense_items(["x9"])
    assert d.dense_items([555, 12], strict=False).tolist() == [1]


def test_concat_users_keeps_people_apart() -> None:
    d = _data()
    both = concat_users([d, d])
    assert both.n_users == 6
    assert both.n_interactions == 10
    assert both.user_ids.to_list()[:3] == ["0:a", "0:b", "0:c"]
    assert both.to_csr().sum() == 8


def test_concat_users_requires_same_catalogue() -> None:
    d = _data()
    other = InteractionData.from_frame(pl.DataFrame({"u": ["z"], "i": [99]}), user_col="u", item_col="i")
    with pytest.raises(DataValidationError, match="catalogues differ"):
        concat_users([d, other])


def test_compact_users_and_items() -> None:
    d = _data()
    only_c = d.filter_users([2])
    assert only_c.n_users == 3  # vocabulary kept: rows stay aligned
    c = only_c.compact_users()
    assert c.n_users == 1 and c.user_ids.to_list() == ["c"]
    ci = compact_items(c)
    assert ci.item_ids.to_list() == [7]
    assert ci.interactions["item"].to_list() == [0]


def test_filters() -> None:
    d = _data()
    high = keep_min_rating(d, 3.0)
    assert high.interactions["rating"].to_list() == [3.0, 4.0, 5.0]
    f = filter_min_counts(d, min_item=2)
    # item 7 is used by users a and c; 12 and 1000003 by one user each
    assert f.item_ids.to_list() == [7]
    assert f.user_ids.to_list() == ["a", "c"]
    with pytest.raises(DataValidationError, match="no interaction is left"):
        filter_min_counts(d, min_item=10)


def test_constructor_checks_ranges() -> None:
    inter = pl.DataFrame({"user": np.array([0, 5], dtype=np.int32), "item": np.array([0, 0], dtype=np.int32)})
    with pytest.raises(DataValidationError, match=r"\[0, 2\)"):
        InteractionData(inter, pl.Series(["a", "b"]), pl.Series([1]))
