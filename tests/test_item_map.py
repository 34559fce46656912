"""Item maps across catalogues (issue 16): title normalisation, matching rules, coverage, mapping files,
and the translation of a source log onto the target's catalogue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synthrec.data.interactions import InteractionData, concat_users
from synthrec.data.item_map import (
    ItemMap,
    map_items_by_key,
    map_items_by_title,
    normalise_title,
    read_item_map,
    translate_source,
)
from synthrec.errors import DataValidationError

# ------------------------------------------------------------------------------------------ helpers


def _log(titles: dict[object, str | None], events: list[tuple[object, object]] | None = None, *,
         years: dict[object, int | None] | None = None, extra: dict[str, dict[object, object]] | None = None,
         name: str = "log", rating: bool = True) -> InteractionData:
    """A log whose catalogue is ``titles`` (external id -> title), each item rated at least once unless
    ``events`` is given; an items table with ``title`` (and ``year`` / extra columns when given)."""
    ids = list(titles)
    if events is None:
        events = [(f"u{k % 3}", i) for k, i in enumerate(ids)]
    frame = pl.DataFrame({"user": [u for u, _ in events], "item": [i for _, i in events]})
    if rating:
        frame = frame.with_columns(pl.Series("rating", [float(1 + k % 5) for k in range(len(events))]))
    cols: dict[str, object] = {"item": ids, "title": [titles[i] for i in ids]}
    if years is not None:
        cols["year"] = pl.Series([years.get(i) for i in ids], dtype=pl.Int32)
    for col, values in (extra or {}).items():
        cols[col] = [values.get(i) for i in ids]
    items = pl.DataFrame(cols, strict=False)
    return InteractionData.from_frame(frame, rating_col="rating" if rating else None, items=items,
                                      item_vocabulary=pl.Series("item_id", ids), name=name)


def _partition_ok(m: ItemMap, source: InteractionData, target: InteractionData) -> None:
    amb_s = {i for items in m.ambiguous.filter(pl.col("side") == "source")["items"].to_list() for i in items}
    mapped_s = {str(i) for i in m.source_items.to_list()}
    unmatched_s = {str(i) for i in m.unmatched_source.to_list()}
    assert not (mapped_s & amb_s) and not (mapped_s & unmatched_s) and not (amb_s & unmatched_s)
    assert mapped_s | amb_s | unmatched_s == {str(i) for i in source.item_ids.to_list()}
    mapped_t = set(m.target_items.to_list())
    assert not (mapped_t & set(m.unmatched_target.to_list()))
    assert mapped_t | set(m.unmatched_target.to_list()) == set(target.item_ids.to_list())
    assert m.source_items.dtype == source.item_ids.dtype and m.target_items.dtype == target.item_ids.dtype
    assert m.unmatched_source.dtype == source.item_ids.dtype and m.unmatched_target.dtype == target.item_ids.dtype


def _pairs(m: ItemMap) -> dict[object, object]:
    return dict(zip(m.source_items.to_list(), m.target_items.to_list(), strict=True))


def _amb(m: ItemMap, side: str) -> dict[str, list[str]]:
    rows = m.ambiguous.filter(pl.col("side") == side)
    return {k: sorted(v) for k, v in zip(rows["key"].to_list(), rows["items"].to_list(), strict=True)}


# ------------------------------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(("title", "expected"), [
    ("Matrix, The (1999)", ("the matrix", 1999)),
    ("The Matrix (1999)", ("the matrix", 1999)),
    ("Close Shave, A (1995)", ("a close shave", 1995)),
    ("Englishman Who Went Up a Hill, But Came Down a Mountain, The (1995)",
     ("the englishman who went up a hill but came down a mountain", 1995)),
    ("City of Lost Children, The (Cité des enfants perdus, La) (1995)", ("the city of lost children", 1995)),
    ("Postino, Il (1994)", ("il postino", 1994)),
    ("Appartement, L' (1996)", ("lappartement", 1996)),
    ("L'Appartement (1996)", ("lappartement", 1996)),
    ("Crow, The: Wicked Prayer (2005)", ("the crow wicked prayer", 2005)),
    ("Wallace & Gromit: A Close Shave (1995)", ("wallace and gromit a close shave", 1995)),
    ("Schindler's List (1993)", ("schindlers list", 1993)),
    ("L.A. Confidential (1997)", ("la confidential", 1997)),
    ("Café  Noir   (1995)", ("cafe noir", 1995)),
    ("CAFÉ NOIR (1995)", ("cafe noir", 1995)),
    ("Land Before Time III: The Time of the Great Giving (1995) (V)",
     ("land before time iii the time of the great giving", 1995)),
    ("Death Note: Desu nôto (2006–2007)", ("death note desu noto", 2006)),
    ("(500) Days of Summer (2009)", ("500 days of summer", 2009)),
    ("Babylon 5", ("babylon 5", None)),
    ("unknown", ("unknown", None)),
])
def test_normalise_title(title: str, expected: tuple[str, int | None]) -> None:
    assert normalise_title(title) == expected


# ------------------------------------------------------------------------------------------ by title


def _catalogues() -> tuple[InteractionData, InteractionData]:
    source = _log({
        1: "Matrix, The (1999)",                      # article            -> 10
        2: "Café Noir (1995)",                        # accents and case   -> 11
        3: "Schindler's List (1993)",                 # punctuation        -> 12
        4: "City of Lost Children, The (Cité des enfants perdus, La) (1995)",  # alternative title -> 13
        5: "Wallace & Gromit (1995)",                 # & -> and           -> 14
        6: "Emma (1996)",                             # other year: unmatched
        7: "Heat (1995)", 8: "Heat (1995)",           # ambiguous in the source
        9: "Fargo (1996)",                            # ambiguous in the target: unmatched here
        20: "Babylon 5",                              # no year, unique both sides -> 17
        21: "Cosmos",                                 # no year, two target candidates: ambiguous
        22: "Solo (2018)",                            # source-only
        23: None,                                     # no title: unmatched
    }, name="src")
    target = _log({
        10: "The Matrix (1999)", 11: "CAFE NOIR (1995)", 12: "Schindlers List (1993)",
        13: "City of Lost Children, The (1995)", 14: "Wallace and Gromit (1995)", 15: "Emma (2009)",
        16: "Heat (1995)", 18: "Fargo (1996)", 19: "Fargo (1996)", 17: "Babylon 5 (1994)",
        24: "Cosmos (1980)", 25: "Cosmos (2014)", 26: "Target Only (2001)",
    }, name="tgt")
    return source, target


def test_map_by_title_rules() -> None:
    source, target = _catalogues()
    m = map_items_by_title(source, target)
    assert m.key == "title+year"
    assert _pairs(m) == {1: 10, 2: 11, 3: 12, 4: 13, 5: 14, 20: 17}
    assert _amb(m, "source") == {"heat (1995)": ["7", "8"], "cosmos (no year)": ["21"]}
    assert _amb(m, "target") == {"fargo (1996)": ["18", "19"]}
    assert sorted(m.unmatched_source.to_list()) == [6, 9, 22, 23]
    assert sorted(m.unmatched_target.to_list()) == [15, 16, 18, 19, 24, 25, 26]
    _partition_ok(m, source, target)
    assert m.ambiguous.schema == pl.Schema({"side": pl.String, "key": pl.String, "items": pl.List(pl.String)})


def test_map_by_title_is_symmetric_and_order_free() -> None:
    source, target = _catalogues()
    forward = _pairs(map_items_by_title(source, target))
    backward = _pairs(map_items_by_title(target, source))
    assert {t: s for s, t in forward.items()} == backward
    perm = np.random.default_rng(0).permutation(source.n_items)
    shuffled = _log({source.item_ids[int(k)]: source.items["title"][int(k)] for k in perm}, name="src")
    assert _pairs(map_items_by_title(shuffled, target)) == forward


def test_year_column_wins_and_title_only_mode() -> None:
    source = _log({1: "Heat", 2: "Heat (1995)", 3: "Alien"}, years={1: 1986, 2: None, 3: 1979})
    target = _log({"a": "Heat (1986)", "b": "Heat (1995)", "c": "Alien (1979)"})
    m = map_items_by_title(source, target)
    assert _pairs(m) == {1: "a", 2: "b", 3: "c"}
    assert m.target_items.dtype == pl.String and m.source_items.dtype == pl.Int64
    loose = map_items_by_title(source, target, use_year=False)
    assert loose.key == "title"
    assert _pairs(loose) == {3: "c"}
    assert _amb(loose, "source") == {"heat": ["1", "2"]} and _amb(loose, "target") == {"heat": ["a", "b"]}
    _partition_ok(loose, source, target)


def test_year_missing_on_one_side_matches_only_unique_titles() -> None:
    source = _log({1: "Moonlight", 2: "Paterson", 3: "Paterson (2016)", 4: "Hyena Road"})
    target = _log({10: "Moonlight (2016)", 11: "Paterson (2016)", 12: "Hyena Road", 13: "Hyena Road (2015)"})
    m = map_items_by_title(source, target)
    assert _pairs(m) == {1: 10, 3: 11}
    # "Paterson" (no year) would be a second Paterson; "Hyena Road" has two target candidates.
    assert _amb(m, "source") == {"paterson (no year)": ["2"], "hyena road (no year)": ["4"]}
    assert _amb(m, "target") == {"hyena road (no year)": ["12"]}
    _partition_ok(m, source, target)


def test_alternative_titles_match_when_unique() -> None:
    source = _log({1: "Double vie de Véronique, La (Double Life of Veronique, The) (1991)",
                   2: "Alien 3 (1992)", 3: "Bride of Frankenstein (1935)"})
    target = _log({7: "Double Life of Veronique, The (Double Vie de Véronique, La) (1991)",
                   8: "Alien³ (a.k.a. Alien 3) (1992)", 9: "Bride of Frankenstein, The (Bride of Frankenstein) (1935)",
                   10: "Bride of Frankenstein (1936)"})
    assert _pairs(map_items_by_title(source, target)) == {1: 7, 2: 8, 3: 9}


def test_title_errors_name_the_log() -> None:
    source, target = _catalogues()
    bare = InteractionData.from_frame(pl.DataFrame({"user": [1], "item": [1]}), name="bare.csv")
    with pytest.raises(DataValidationError, match=r"bare\.csv.*no items table"):
        map_items_by_title(bare, target)
    with pytest.raises(DataValidationError, match=r"column 'name'.*no 'name' column"):
        map_items_by_title(source, target, title_col="name")


# ------------------------------------------------------------------------------------------ by key


def test_map_by_key_column_and_item_ids() -> None:
    source = _log({1: "a", 2: "b", 3: "c", 4: "d"}, extra={"imdb": {1: 111, 2: 222, 3: 333, 4: 333}})
    target = _log({"x": "a", "y": "b", "z": "c", "w": "q"},
                  extra={"imdb_id": {"x": "111", "y": " 222 ", "z": "333", "w": None}})
    m = map_items_by_key(source, target, source_col="imdb", target_col="imdb_id")
    assert _pairs(m) == {1: "x", 2: "y"}
    assert _amb(m, "source") == {"333": ["3", "4"]}
    assert m.key == "columns imdb / imdb_id"
    _partition_ok(m, source, target)

    same_ids = _log({2: "b", 5: "e"})
    by_id = map_items_by_key(source, same_ids, source_col="item")
    assert _pairs(by_id) == {2: 2} and by_id.key == "column item"
    with pytest.raises(DataValidationError, match=r"column 'tmdb'.*imdb_id"):
        map_items_by_key(source, target, source_col="imdb", target_col="tmdb")


def test_item_map_is_one_to_one() -> None:
    with pytest.raises(DataValidationError, match="one to one"):
        ItemMap(pl.Series([1, 2]), pl.Series([5, 5]), "hand", pl.DataFrame(), pl.Series([]), pl.Series([]))
    with pytest.raises(DataValidationError, match="as many"):
        ItemMap(pl.Series([1, 2]), pl.Series([5]), "hand", pl.DataFrame(), pl.Series([]), pl.Series([]))


# ------------------------------------------------------------------------------------------ coverage


def test_coverage_by_hand() -> None:
    # source: items 1..4 with 4, 3, 2, 1 events (10); target: items a, b, c with 1, 2, 5 events (8).
    source = _log({1: "One (2000)", 2: "Two (2000)", 3: "Three (2000)", 4: "Four (2000)"},
                  [("u1", 1)] * 4 + [("u2", 2)] * 3 + [("u3", 3)] * 2 + [("u4", 4)], name="S")
    target = _log({"a": "One (2000)", "b": "Three (2000)", "c": "Other (2000)"},
                  [("v1", "a"), ("v2", "b"), ("v3", "b")] + [("v4", "c")] * 5, name="T")
    m = map_items_by_title(source, target)
    cov = m.coverage(source, target)
    assert (cov.n_source_items, cov.n_target_items, cov.n_mapped) == (4, 3, 2)
    assert cov.source_item_share == pytest.approx(2 / 4) and cov.target_item_share == pytest.approx(2 / 3)
    assert cov.source_interaction_share == pytest.approx((4 + 2) / 10)
    assert cov.target_interaction_share == pytest.approx((1 + 2) / 8)
    assert (cov.n_ambiguous_source, cov.n_ambiguous_target) == (0, 0)
    text = "\n".join(cov.lines())
    assert "2 items mapped" in text and "60.0% of its 10 interactions" in text
    assert "37.5% of its 8 interactions" in text and "target-only items (no source counterpart): 1" in text


def test_coverage_lists_ambiguous_examples_and_no_overlap() -> None:
    source, target = _catalogues()
    cov = map_items_by_title(source, target).coverage(source, target)
    assert (cov.n_ambiguous_source, cov.n_ambiguous_target) == (2, 1)
    text = "\n".join(cov.lines())
    assert "'heat (1995)': items 7, 8 ('Heat (1995)')" in text and "'fargo (1996)': items 18, 19" in text

    many = _log({k: f"Same (19{k:02d})" for k in range(8)} | {100 + k: f"Same (19{k:02d})" for k in range(8)})
    cov_many = map_items_by_title(many, many).coverage(many, many)
    assert cov_many.n_ambiguous_source == 8 and len(cov_many.ambiguous_source_examples) == 5

    disjoint = _log({"p": "Nothing Alike (1950)"})
    none = map_items_by_title(source, disjoint)
    assert none.n_mapped == 0
    assert "no usable overlap: the source and target catalogues share no item by title+year" in \
        "\n".join(none.coverage(source, disjoint).lines())
    with pytest.raises(DataValidationError, match=r"share no item by title\+year.*mapping file"):
        none.require_overlap()
    assert map_items_by_title(source, target).require_overlap(6).n_mapped == 6
    with pytest.raises(DataValidationError, match="only 6 item"):
        map_items_by_title(source, target).require_overlap(7)


# ------------------------------------------------------------------------------------------ mapping files


def _map_file(tmp_path: Path, rows: list[tuple[str, str]], name: str = "map.csv", sep: str = ",",
              header: str = "source,target") -> Path:
    path = tmp_path / name
    path.write_text(header.replace(",", sep) + "\n" + "".join(f"{s}{sep}{t}\n" for s, t in rows))
    return path


def test_read_item_map_csv_tsv_parquet(tmp_path: Path) -> None:
    source, target = _catalogues()
    rows = [("1", "10"), ("7", "16"), ("22", "26")]
    for path in (_map_file(tmp_path, rows), _map_file(tmp_path, rows, "map.tsv", "\t")):
        m = read_item_map(path, source, target)
        assert _pairs(m) == {1: 10, 7: 16, 22: 26} and m.key == f"file {path.name}"
        assert m.ambiguous.height == 0
        _partition_ok(m, source, target)
    pq = tmp_path / "map.parquet"
    pl.DataFrame({"src": ["1", "2"], "tgt": [10, 11]}).write_parquet(pq)
    assert _pairs(read_item_map(pq, source, target, source_col="src", target_col="tgt")) == {1: 10, 2: 11}
    string_target = _log({"10": "x", "11": "y"})
    m = read_item_map(_map_file(tmp_path, [("1", "10")], "s.csv"), source, string_target)
    assert m.target_items.dtype == pl.String and _pairs(m) == {1: "10"}


@pytest.mark.parametrize(("rows", "column", "row", "words"), [
    ([("1", "10"), ("", "11")], "source", 2, "empty cell"),
    ([("1", "10"), ("2", "11"), ("3", "")], "target", 3, "empty cell"),
    ([("1", "10"), ("x9", "11")], "source", 2, "'x9' is not a valid source item id"),
    ([("1", "10"), ("999", "11")], "source", 2, "source item '999' is not in the source catalogue"),
    ([("1", "10"), ("2", "77")], "target", 2, "target item '77' is not in the target catalogue"),
    ([("1", "10"), ("2", "11"), ("1", "12")], "source", 3, "appears on more than one row (first on row 1)"),
    ([("1", "10"), ("2", "11"), ("3", "10")], "target", 3, "appears on more than one row (first on row 1)"),
])
def test_read_item_map_errors(tmp_path: Path, rows: list[tuple[str, str]], column: str, row: int,
                              words: str) -> None:
    source, target = _catalogues()
    path = _map_file(tmp_path, rows)
    with pytest.raises(DataValidationError) as info:
        read_item_map(path, source, target)
    msg = str(info.value)
    assert info.value.source == str(path) and info.value.column == column and info.value.row == row
    assert f"file {path}, column '{column}', row {row}: " in msg and words in msg
    assert info.value.hint


def test_read_item_map_missing_column(tmp_path: Path) -> None:
    source, target = _catalogues()
    path = _map_file(tmp_path, [("1", "10")], header="from,to")
    with pytest.raises(DataValidationError, match=r"column 'source'.*columns: from, to"):
        read_item_map(path, source, target)
    assert _pairs(read_item_map(path, source, target, source_col="from", target_col="to")) == {1: 10}


# ------------------------------------------------------------------------------------------ translation


def _timed(titles: dict[object, str], events: list[tuple[object, object, float, int]], name: str,
           users: bool = True) -> InteractionData:
    frame = pl.DataFrame({"user": [e[0] for e in events], "item": [e[1] for e in events],
                          "rating": [e[2] for e in events], "ts": [e[3] for e in events]})
    ids = list(titles)
    items = pl.DataFrame({"item": ids, "title": [titles[i] for i in ids]})
    user_tbl = None
    if users:
        names = list(dict.fromkeys(e[0] for e in events))
        user_tbl = pl.DataFrame({"user": names, "age": [20 + k for k in range(len(names))]})
    return InteractionData.from_frame(frame, rating_col="rating", time_col="ts", items=items, users=user_tbl,
                                      item_vocabulary=pl.Series("item_id", ids), name=name)


def test_translate_source_exact() -> None:
    source = _timed({1: "A (2000)", 2: "B (2000)", 3: "Only Here (2000)"},
                    [("ann", 1, 4.0, 100), ("ann", 3, 2.0, 101), ("bob", 3, 5.0, 102), ("cy", 2, 3.5, 103),
                     ("ann", 2, 1.0, 104)], "S")
    target = _timed({"t1": "A (2000)", "t2": "B (2000)", "t9": "New (2000)"},
                    [("zed", "t9", 3.0, 5), ("zed", "t1", 4.0, 6)], "T", users=False)
    m = map_items_by_title(source, target)
    out = translate_source(source, m, target)
    assert out.item_ids.equals(target.item_ids) and out.items is not None and out.items.equals(target.items)
    assert out.user_ids.to_list() == ["ann", "cy"]  # bob rated only a source-only item
    assert out.external_items(out.interactions["item"].to_numpy()[:, None]) == [["t1"], ["t2"], ["t2"]]
    assert out.interactions.select("user", "rating", "timestamp").rows() == [
        (0, 4.0, 100), (1, 3.5, 103), (0, 1.0, 104)]
    assert out.interactions.schema == source.interactions.schema
    assert out.users is not None and out.users.rows() == [(0, 20), (1, 22)]
    both = concat_users([target, out])
    assert both.n_users == 3 and both.n_interactions == 5 and both.item_ids.equals(target.item_ids)


def test_translate_rejects_a_map_for_other_data() -> None:
    source, target = _catalogues()
    m = map_items_by_title(source, target)
    other = _log({10: "x", 11: "y"})
    with pytest.raises(DataValidationError, match="not in the target catalogue"):
        translate_source(source, m, other)


def test_no_unmapped_source_item_reaches_the_output() -> None:
    rng = np.random.default_rng(7)
    words = ["heat", "alien", "emma", "fargo", "solo", "babe", "twister", "casper"]
    for trial in range(40):
        def catalogue(prefix: str, n: int) -> dict[object, str]:
            out: dict[object, str] = {}
            for k in range(n):
                year = int(rng.integers(1990, 1994))
                out[f"{prefix}{k}" if prefix == "t" else k] = f"{rng.choice(words)} ({year})"
            return out
        src_titles = catalogue("s", int(rng.integers(1, 12)))
        tgt_titles = catalogue("t", int(rng.integers(1, 12)))
        src_ids = list(src_titles)
        n_ev = int(rng.integers(1, 40))
        events = [(f"u{rng.integers(0, 6)}", src_ids[int(rng.integers(0, len(src_ids)))]) for _ in range(n_ev)]
        source = _log(src_titles, events + [("u0", i) for i in src_ids], name="S")
        target = _log(tgt_titles, name="T")
        m = map_items_by_title(source, target)
        _partition_ok(m, source, target)
        out = translate_source(source, m, target)
        assert out.item_ids.equals(target.item_ids)
        mapped_targets = set(m.target_items.to_list())
        reached = {target.item_ids[int(i)] for i in out.interactions["item"].unique().to_list()}
        assert reached <= mapped_targets, trial
        expected = sum(1 for _, i in events + [("u0", i) for i in src_ids] if i in set(m.source_items.to_list()))
        assert out.n_interactions == expected
        assert out.n_users == len(out.active_users())  # no user without an event
        if out.n_interactions:
            concat_users([target, out])


def test_translation_is_row_order_invariant_and_keeps_dtypes() -> None:
    source = _timed({k: f"film {k} (1990)" for k in range(10)},
                    [(f"u{k % 4}", k % 10, float(k % 5 + 1), 1000 + k) for k in range(40)], "S")
    target = _timed({f"t{k}": f"film {k} (1990)" for k in range(3, 14)},
                    [("v", "t3", 1.0, 1)], "T", users=False)
    m = map_items_by_title(source, target)
    out = translate_source(source, m, target)
    perm = np.random.default_rng(3).permutation(source.n_interactions)
    shuffled = source.with_interactions(source.interactions[perm])
    out2 = translate_source(shuffled, m, target)

    def external(d: InteractionData) -> pl.DataFrame:
        return pl.DataFrame({
            "user": d.user_ids.gather(d.interactions["user"]), "item": d.item_ids.gather(d.interactions["item"]),
            "rating": d.interactions["rating"], "timestamp": d.interactions["timestamp"],
        }).sort("timestamp")

    assert external(out).equals(external(out2))
    assert out.interactions.schema == source.interactions.schema
    assert out.user_ids.dtype == source.user_ids.dtype and out.item_ids.dtype == pl.String
    assert set(out.user_ids.to_list()) == set(out2.user_ids.to_list())


# ------------------------------------------------------------------------------------------ real data


def test_movielens_100k_and_latest_small(shared_data: Path) -> None:
    import warnings

    from synthrec.data.movielens import read_movielens_100k, read_movielens_latest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target = read_movielens_100k(shared_data / "ml-100k")
        source = read_movielens_latest(shared_data / "ml-latest-small")
    m = map_items_by_title(source, target)
    cov = m.coverage(source, target)
    assert cov.n_mapped >= 1150
    assert 0.85 <= cov.target_interaction_share <= 0.96  # the issue: 89 % of ml-100k's ratings
    assert 0.28 <= cov.source_interaction_share <= 0.38  # the issue: 32 % of ml-latest-small's
    amb = _amb(m, "target")
    assert amb["chasing amy (1997)"] == ["246", "268"]  # ML-100K lists some films twice
    _partition_ok(m, source, target)
    out = translate_source(source, m, target)
    assert out.n_interactions == round(cov.source_interaction_share * source.n_interactions)
    assert concat_users([target, out]).n_users == target.n_users + out.n_users


# ------------------------------------------------------------------------------------------ synthrec inspect


def _csv(path: Path, items: list[int], users: int = 3) -> Path:
    rows = [(u, i, 1 + (u + i) % 5) for u in range(users) for i in items]
    pl.DataFrame(rows, schema=["user", "item", "rating"], orient="row").write_csv(path)
    return path


def test_inspect_source_coverage(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthrec.cli import app

    runner = CliRunner()
    target = _csv(tmp_path / "target.csv", [1, 2, 3, 4])
    source = _csv(tmp_path / "source.csv", [3, 4, 5, 6, 7, 8])
    res = runner.invoke(app, ["inspect", str(target), "--source", str(source), "--map-by", "column:item"])
    assert res.exit_code == 0, res.output
    assert "item map by column item: 2 items mapped" in res.output
    assert "matched by their ids alone" in res.output  # ids of two catalogues coincide by chance
    assert "2 of 6 items mapped (33.3%)" in res.output and "2 of 4 items mapped (50.0%)" in res.output

    mapping = tmp_path / "map.csv"
    mapping.write_text("source,target\n5,1\n6,2\n7,3\n")
    res = runner.invoke(app, ["inspect", str(target), "--source", str(source), "--map-by", f"file:{mapping}"])
    assert res.exit_code == 0, res.output
    assert "item map by file map.csv: 3 items mapped" in res.output

    disjoint = _csv(tmp_path / "other.csv", [50, 51])
    res = runner.invoke(app, ["inspect", str(target), "--source", str(disjoint), "--map-by", "column:item"])
    assert res.exit_code == 0, res.output
    assert "no usable overlap: the source and target catalogues share no item by column item" in res.output

    mapping.write_text("source,target\n5,1\n6,1\n")
    res = runner.invoke(app, ["inspect", str(target), "--source", str(source), "--map-by", f"file:{mapping}"])
    assert res.exit_code == 2 and "map.csv, column 'target', row 2: target item '1' appears on more than one row" \
        in " ".join(res.output.split())
    res = runner.invoke(app, ["inspect", str(target), "--source", str(source)])  # title: CSVs have none
    assert res.exit_code == 2 and "no items table" in res.output
    res = runner.invoke(app, ["inspect", str(target), "--source", str(source), "--map-by", "imdb"])
    assert res.exit_code == 2 and "not one of: title, column:NAME, file:PATH" in res.output
    assert "users / items" not in res.output  # checked before loading anything


def test_inspect_source_movielens(shared_data: Path) -> None:
    from typer.testing import CliRunner

    from synthrec.cli import app

    res = CliRunner().invoke(app, ["inspect", str(shared_data / "ml-100k"), "--source",
                                   str(shared_data / "ml-latest-small")])
    assert res.exit_code == 0, res.output
    assert "item map by title+year:" in res.output and "ambiguous keys in the target: 19" in res.output
    assert "'chasing amy (1997)': items 246, 268" in res.output


def test_a_list_column_is_refused_as_a_key() -> None:
    """One key per item: a list column (genres) cannot map items; the error names the column."""
    src = InteractionData.from_frame(
        pl.DataFrame({"user": [1], "item": [1]}), items=pl.DataFrame({"item": [1], "genres": [["a", "b"]]}),
        name="s")
    tgt = InteractionData.from_frame(
        pl.DataFrame({"user": [1], "item": [1]}), items=pl.DataFrame({"item": [1], "genres": [["a"]]}), name="t")
    with pytest.raises(DataValidationError, match="'genres': it holds lists"):
        map_items_by_key(src, tgt, source_col="genres")


def test_inspect_map_by_needs_a_source(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthrec.cli import app

    target = _csv(tmp_path / "target.csv", [1, 2, 3])
    res = CliRunner().invoke(app, ["inspect", str(target), "--map-by", "title"])
    assert res.exit_code == 2 and "give --source too" in res.output
