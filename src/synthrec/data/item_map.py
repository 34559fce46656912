"""Item maps: which source item is which target item, when a source and its target have different catalogues.

A data-rich *source* rarely lists the same items as the scarce *target* it should help: an older platform,
another country's assortment, a partner's SKUs. An `ItemMap` says, one to one, which source item (external
id) is which target item, built from a key the user names, and keeps what could not be mapped:

* `map_items_by_title`: a normalised title, with the year (the rules below);
* `map_items_by_key`: a shared id column of the two items tables (e.g. ``imdb_id``), or the external item
  id itself (column ``"item"``);
* `read_item_map`: a two-column mapping file (CSV, TSV or Parquet).

`ItemMap.coverage` measures how much of each side the map covers (items and interactions) for reports and
``synthrec inspect --source``; `translate_source` re-expresses the source's users over the *target's*
catalogue, so that ``concat_users([target_part, translate_source(source, item_map, target)])`` works. The
map is public information (two catalogues), so it changes no privacy guarantee of what is built on it.

Title normalisation (`normalise_title`), in this order:

1. the year is the trailing ``(YYYY)`` (a range ``(2006–2007)`` gives its first year); parenthesised groups
   after it (``(V)``) are dropped. When the items table has a year column, its value is used where not
   null, else the year parsed from the title;
2. alternative titles in parentheses at the end are dropped: ``"City of Lost Children, The (Cité des
   enfants perdus, La) (1995)"`` → ``"City of Lost Children, The"`` (a title that *is* a parenthesis is
   kept);
3. a trailing article moved after a comma is put back in front, also before a subtitle:
   ``"Matrix, The"`` → ``"The Matrix"``, ``"Crow, The: Wicked Prayer"`` → ``"The Crow: Wicked Prayer"``,
   ``"Appartement, L'"`` → ``"L'Appartement"``; the articles are `ARTICLES` (English, and the foreign
   ones MovieLens uses: Les, La, Le, L', Il, Das, Der, Die, El, Los, ...);
4. Unicode NFKD with accents stripped, then casefold: ``"Café"`` → ``"cafe"``, ``"Straße"`` →
   ``"strasse"``;
5. ``&`` → ``and``; apostrophes and full stops are deleted (``"Schindler's"`` → ``"schindlers"``,
   ``"L.A."`` → ``"la"``), every other punctuation mark becomes a space; whitespace is collapsed.

So ``"Matrix, The (1999)"`` and ``"The Matrix (1999)"`` both give ``("the matrix", 1999)``, and
``"Wallace & Gromit: A Close Shave (1995)"`` gives ``("wallace and gromit a close shave", 1995)``.

Matching by title (`map_items_by_title`):

* with ``use_year=True`` (default) the key is title + year where an item has a year: ``"Emma (1996)"``
  matches ``"Emma (1996)"`` but not ``"Emma (2009)"`` (no tolerance: a year off by one is a different key);
* an item whose year is missing (on either side) matches by title alone, and only when that title key is
  held by exactly one item on *each* side (whatever their years); otherwise it is listed as ambiguous
  (key ``"<title> (no year)"``) when the other side has candidates, else it is unmatched;
* a key held by more than one item on one side (``"Chasing Amy (1997)"`` twice in ML-100K) is
  **ambiguous**: none of those items is mapped (never one picked by order), and they are listed in
  `ItemMap.ambiguous` with their side and key;
* last, an item still unmatched may match through an alternative title (a parenthesised title before
  the year, ``a.k.a.`` dropped), with the same year: ``"Double vie de Véronique, La (Double Life of
  Veronique, The) (1991)"`` matches ``"Double Life of Veronique, The (Double Vie de Véronique, La)
  (1991)"``, ``"Alien 3 (1992)"`` matches ``"Alien³ (a.k.a. Alien 3) (1992)"``; only when that title is
  held by one item on each side and each of the two items has no other such candidate;
* an item without a title (no items-table row, a null or empty title) is unmatched.

The same holds for `map_items_by_key` (value of a column instead of a title; no year) and a mapping file
must itself be one to one (`read_item_map` raises on any duplicate).

Partition of each catalogue: every source item is in exactly one of `ItemMap.source_items`, the source
rows of `ItemMap.ambiguous` and `ItemMap.unmatched_source`; every target item is in exactly one of
`ItemMap.target_items` and `ItemMap.unmatched_target` (the *target-only* items, target-side ambiguous ones
included), and may also be listed in the target rows of `ItemMap.ambiguous`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from synthrec.data.interactions import ITEM, InteractionData
from synthrec.data.readers import PathLike, read_frame
from synthrec.errors import DataValidationError

#: Articles that MovieLens-style titles move behind a comma (``"Matrix, The"``), matched case-insensitively.
ARTICLES: tuple[str, ...] = (
    "the", "a", "an",
    "les", "la", "le", "l'", "un", "une",          # French
    "il", "lo", "gli",                             # Italian
    "das", "der", "die", "ein", "eine",            # German
    "el", "los", "las",                            # Spanish
    "det", "den",                                  # Scandinavian
)

_AMBIGUOUS_SCHEMA = pl.Schema({"side": pl.String(), "key": pl.String(), "items": pl.List(pl.String())})
_YEAR_GROUP = re.compile(r"^\(\s*(\d{4})(?:\s*[-–—]\s*(?:\d{4})?)?\s*\)$")
_ARTICLE_RE = re.compile(
    r"^(?P<head>.+?),\s*(?P<art>" + "|".join(re.escape(a) for a in sorted(ARTICLES, key=len, reverse=True))
    + r")(?P<tail>\s*:.*)?$",
    re.IGNORECASE,
)
_AKA = re.compile(r"^\s*(?:a\.?k\.?a\.?|also known as)\s+", re.IGNORECASE)
_DELETED = re.compile(r"['’‘`´.]")
_NON_WORD = re.compile(r"[\W_]+")


# ------------------------------------------------------------------------------------------ the map


@dataclass(frozen=True)
class MapCoverage:
    """How much of each side an `ItemMap` covers (for ``synthrec inspect --source`` and reports).

    Attributes:
        n_source_items, n_target_items: catalogue sizes.
        n_mapped: mapped pairs.
        source_item_share, target_item_share: ``n_mapped`` over each catalogue, in [0, 1].
        source_interaction_share, target_interaction_share: share of each side's interactions that fall
            on mapped items, in [0, 1] (0 for an empty log).
        n_ambiguous_source, n_ambiguous_target: ambiguous *keys* per side (rows of `ItemMap.ambiguous`).
        key: how the map was built (`ItemMap.key`).
        source_name, target_name: labels of the two logs.
        n_source_interactions, n_target_interactions: log sizes.
        n_ambiguous_source_items, n_ambiguous_target_items: items listed under those keys.
        ambiguous_source_examples, ambiguous_target_examples: up to 5 readable examples per side.
    """

    n_source_items: int
    n_target_items: int
    n_mapped: int
    source_item_share: float
    target_item_share: float
    source_interaction_share: float
    target_interaction_share: float
    n_ambiguous_source: int
    n_ambiguous_target: int
    key: str = ""
    source_name: str = "source"
    target_name: str = "target"
    n_source_interactions: int = 0
    n_target_interactions: int = 0
    n_ambiguous_source_items: int = 0
    n_ambiguous_target_items: int = 0
    ambiguous_source_examples: tuple[str, ...] = ()
    ambiguous_target_examples: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """Human-readable summary: mapped count, items and interactions on each side, ambiguous keys with up
        to 5 examples per side, and a clear message when there is no usable overlap."""
        out = [f"item map by {self.key}: {self.n_mapped:,} item{'s' if self.n_mapped != 1 else ''} mapped one to one"]
        if self.n_mapped == 0:
            out.append(f"no usable overlap: {_no_overlap(self.key)}")
        elif self.key == f"column {ITEM}":
            out.append("note: items were matched by their ids alone; catalogues that number their items "
                       "independently (1, 2, 3, ...) match by chance, so compare a few mapped titles, or map by "
                       "title, a shared id column or a mapping file")
        for side, name, n_items, share, inter_share, n_inter in (
            ("source", self.source_name, self.n_source_items, self.source_item_share,
             self.source_interaction_share, self.n_source_interactions),
            ("target", self.target_name, self.n_target_items, self.target_item_share,
             self.target_interaction_share, self.n_target_interactions),
        ):
            out.append(f"{side} {name}: {self.n_mapped:,} of {n_items:,} items mapped ({share:.1%}), "
                       f"holding {inter_share:.1%} of its {n_inter:,} interactions")
        out.append(f"target-only items (no source counterpart): {self.n_target_items - self.n_mapped:,}")
        for side, n_keys, n_items, examples in (
            ("source", self.n_ambiguous_source, self.n_ambiguous_source_items, self.ambiguous_source_examples),
            ("target", self.n_ambiguous_target, self.n_ambiguous_target_items, self.ambiguous_target_examples),
        ):
            if not n_keys:
                out.append(f"ambiguous keys in the {side}: none")
                continue
            out.append(f"ambiguous keys in the {side}: {n_keys:,} ({n_items:,} items, not mapped), e.g.")
            out.extend(f"  {e}" for e in examples)
        return out


@dataclass(frozen=True)
class ItemMap:
    """One-to-one map from source items to target items (external ids), with what could not be mapped.

    Attributes:
        source_items: external ids of mapped source items (the source catalogue's dtype).
        target_items: their target counterparts, same length and order (the target catalogue's dtype).
        key: how it was built, e.g. ``"title+year"``, ``"column imdb_id"``, ``"file map.csv"``.
        ambiguous: columns ``side`` (``"source"`` / ``"target"``), ``key`` (normalised) and ``items``
            (List(String) of external ids on that side): items not mapped because their key does not
            identify one item.
        unmatched_source: source items with no counterpart (the ambiguous ones not included).
        unmatched_target: target items with no counterpart: the *target-only* items (target-side
            ambiguous ones included, so ``target_items`` and ``unmatched_target`` partition the catalogue).

    Raises:
        DataValidationError: the two id lists differ in length, or an id appears twice on one side.
    """

    source_items: pl.Series
    target_items: pl.Series
    key: str
    ambiguous: pl.DataFrame
    unmatched_source: pl.Series
    unmatched_target: pl.Series

    def __post_init__(self) -> None:
        if len(self.source_items) != len(self.target_items):
            raise DataValidationError(
                f"an item map needs as many source items as target items, got {len(self.source_items)} and "
                f"{len(self.target_items)}", source=f"item map by {self.key}")
        for side, ids in (("source", self.source_items), ("target", self.target_items)):
            if ids.null_count() or ids.is_duplicated().any():
                raise DataValidationError(
                    f"{side} item {_first_dup(ids)!r} appears more than once (or is null): a map is one to one",
                    source=f"item map by {self.key}")

    @property
    def n_mapped(self) -> int:
        return len(self.source_items)

    def as_frame(self) -> pl.DataFrame:
        """The pairs as a two-column frame ``source``, ``target``."""
        return pl.DataFrame({"source": self.source_items, "target": self.target_items})

    def require_overlap(self, min_items: int = 1) -> ItemMap:
        """Return self when at least ``min_items`` items are mapped.

        Raises:
            DataValidationError: fewer are mapped ("the source and target catalogues share no item by
                title+year; ...").
        """
        if self.n_mapped >= min_items:
            return self
        if self.n_mapped == 0:
            problem = _no_overlap(self.key)
        else:
            problem = (f"the source and target catalogues share only {self.n_mapped} item(s) by {self.key}, "
                       f"fewer than the {min_items} needed")
        raise DataValidationError(problem, hint=_OVERLAP_HINT)

    def coverage(self, source: InteractionData, target: InteractionData) -> MapCoverage:
        """Figures of how much of each side this map covers (items and interactions)."""
        s_dense = _dense_known(source, self.source_items)
        t_dense = _dense_known(target, self.target_items)
        amb = self.ambiguous
        n_amb = {side: amb.filter(pl.col("side") == side) for side in ("source", "target")}
        return MapCoverage(
            n_source_items=source.n_items,
            n_target_items=target.n_items,
            n_mapped=self.n_mapped,
            source_item_share=_share(self.n_mapped, source.n_items),
            target_item_share=_share(self.n_mapped, target.n_items),
            source_interaction_share=_interaction_share(source, s_dense),
            target_interaction_share=_interaction_share(target, t_dense),
            n_ambiguous_source=n_amb["source"].height,
            n_ambiguous_target=n_amb["target"].height,
            key=self.key,
            source_name=source.name,
            target_name=target.name,
            n_source_interactions=source.n_interactions,
            n_target_interactions=target.n_interactions,
            n_ambiguous_source_items=int(n_amb["source"]["items"].list.len().sum() or 0),
            n_ambiguous_target_items=int(n_amb["target"]["items"].list.len().sum() or 0),
            ambiguous_source_examples=_examples(n_amb["source"], source),
            ambiguous_target_examples=_examples(n_amb["target"], target),
        )


_OVERLAP_HINT = ("check that both items tables describe the same kind of items, map by another key "
                 "(a shared id column, or a two-column mapping file), or use the target's data alone")


def _no_overlap(key: str) -> str:
    return f"the source and target catalogues share no item by {key}"


# ------------------------------------------------------------------------------------------ titles


def normalise_title(title: str) -> tuple[str, int | None]:
    """The matching key and the year of a title (rules in the module docstring).

    ``normalise_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)")`` →
    ``("the city of lost children", 1995)``; ``normalise_title("Babylon 5")`` → ``("babylon 5", None)``.
    """
    key, year, _ = _parse_title(title)
    return key, year


def _parse_title(title: str) -> tuple[str, int | None, list[str]]:
    """(key, year, keys of the alternative titles in parentheses)."""
    text = " ".join(str(title).split())
    text, groups = _trailing_groups(text)
    year: int | None = None
    alternatives = groups
    for k in range(len(groups) - 1, -1, -1):
        m = _YEAR_GROUP.match(groups[k])
        if m:
            year = int(m.group(1))
            alternatives = groups[:k]
            break
    alt_keys = [_key(_AKA.sub("", g[1:-1])) for g in alternatives]
    return _key(text), year, [a for a in alt_keys if a]


def _key(text: str) -> str:
    """Steps 3-5 of the normalisation (article, accents and case, punctuation) of a title without year."""
    text = text.strip()
    m = _ARTICLE_RE.match(text)
    if m:
        art = m.group("art")
        sep = "" if art.endswith("'") else " "
        text = f"{art}{sep}{m.group('head')}{m.group('tail') or ''}"
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ")
    text = _DELETED.sub("", text)
    text = _NON_WORD.sub(" ", text)
    return " ".join(text.split())


def _trailing_groups(text: str) -> tuple[str, list[str]]:
    """Split ``"Title (alt) (1995)"`` into ``("Title", ["(alt)", "(1995)"])``: balanced parenthesised groups
    at the end, as long as some text stays before them."""
    groups: list[str] = []
    while text.endswith(")"):
        depth = 0
        start = -1
        for i in range(len(text) - 1, -1, -1):
            if text[i] == ")":
                depth += 1
            elif text[i] == "(":
                depth -= 1
                if depth == 0:
                    start = i
                    break
        if start <= 0:
            break
        head = text[:start].rstrip()
        if not head:
            break
        groups.insert(0, text[start:])
        text = head
    return text, groups


def map_items_by_title(
    source: InteractionData,
    target: InteractionData,
    *,
    title_col: str = "title",
    year_col: str = "year",
    use_year: bool = True,
) -> ItemMap:
    """Map source items to target items by normalised title (and year); see the module docstring.

    Args:
        source, target: logs whose ``items`` tables hold ``title_col`` (and optionally ``year_col``).
        title_col: the title column.
        year_col: an integer year column, used where not null (else the year in the title); ignored
            when absent.
        use_year: key on title + year (default); ``False`` keys on the title alone.

    Raises:
        DataValidationError: a side has no items table or no ``title_col``.
    """
    src = _title_entries(source, title_col, year_col, "source")
    tgt = _title_entries(target, title_col, year_col, "target")
    m = _Matcher(source, target)
    if not use_year:
        m.match_unique({d: e.key for d, e in src.items()}, {d: e.key for d, e in tgt.items()},
                       label=lambda k: k)
        _match_alternatives(m, src, tgt, use_year=False)
        return m.build("title")
    m.match_unique({d: (e.key, e.year) for d, e in src.items() if e.year is not None},
                   {d: (e.key, e.year) for d, e in tgt.items() if e.year is not None},
                   label=lambda k: f"{k[0]} ({k[1]})")
    # Items without a year: by title alone, only when the title is held by one item on each side.
    s_by_title = _holders({d: e.key for d, e in src.items()})
    t_by_title = _holders({d: e.key for d, e in tgt.items()})
    for side, entries, own, other in (("source", src, s_by_title, t_by_title),
                                      ("target", tgt, t_by_title, s_by_title)):
        stuck: dict[str, list[int]] = defaultdict(list)
        for d, e in entries.items():
            if e.year is not None or m.done(side, d):
                continue
            n_other = len(other.get(e.key, ()))
            if len(own[e.key]) == 1 and n_other == 1:
                o = other[e.key][0]
                m.pair(*((d, o) if side == "source" else (o, d)))
            elif n_other >= 1:
                stuck[e.key].append(d)
        for t, items in stuck.items():
            m.ambiguous_items(side, f"{t} (no year)", items)
    _match_alternatives(m, src, tgt, use_year=True)
    return m.build("title+year")


class _Title(NamedTuple):
    key: str
    year: int | None
    alternatives: tuple[str, ...]


def _match_alternatives(m: _Matcher, src: dict[int, _Title], tgt: dict[int, _Title], *, use_year: bool) -> None:
    """Pair items left over through their alternative titles: a title (main or alternative, with the year
    when ``use_year``) held by one item on each side, where each of the two items has no other candidate."""
    def variants(entries: dict[int, _Title]) -> dict[int, set[object]]:
        out: dict[int, set[object]] = {}
        for d, e in entries.items():
            if use_year and e.year is None:
                continue
            names = {e.key, *e.alternatives}
            out[d] = {(k, e.year) for k in names} if use_year else set(names)
        return out

    s_var, t_var = variants(src), variants(tgt)
    s_hold: dict[object, list[int]] = defaultdict(list)
    t_hold: dict[object, list[int]] = defaultdict(list)
    for d, vs in s_var.items():
        for v in vs:
            s_hold[v].append(d)
    for d, vs in t_var.items():
        for v in vs:
            t_hold[v].append(d)
    s_cand: dict[int, set[int]] = defaultdict(set)
    t_cand: dict[int, set[int]] = defaultdict(set)
    for v, ss in s_hold.items():
        ts = t_hold.get(v)
        if ts is None or len(ss) != 1 or len(ts) != 1:
            continue
        s, t = ss[0], ts[0]
        if not m.done("source", s) and not m.done("target", t):
            s_cand[s].add(t)
            t_cand[t].add(s)
    for s_item, t_items in s_cand.items():
        if len(t_items) == 1:
            t_item = next(iter(t_items))
            if t_cand[t_item] == {s_item}:
                m.pair(s_item, t_item)


def _title_entries(data: InteractionData, title_col: str, year_col: str, side: str) -> dict[int, _Title]:
    """dense item -> its parsed title, for every catalogue item with a non-empty title key."""
    items = data.items
    if items is None or title_col not in items.columns:
        what = "no items table" if items is None else f"no '{title_col}' column in its items table"
        raise DataValidationError(
            f"cannot map items by title: the {side} log has {what}", source=data.name, column=title_col,
            hint="load it with its item attributes (e.g. a MovieLens folder), or map by a shared id column "
                 "or a mapping file",
        )
    cols = [ITEM, title_col] + ([year_col] if year_col in items.columns else [])
    out: dict[int, _Title] = {}
    cache: dict[str, tuple[str, int | None, list[str]]] = {}
    for row in items.select(cols).iter_rows():
        d, title = int(row[0]), row[1]
        if title is None or not 0 <= d < data.n_items:
            continue
        title = str(title)
        if title not in cache:
            cache[title] = _parse_title(title)
        key, year, alts = cache[title]
        if len(row) > 2 and row[2] is not None:
            year = int(row[2])
        if key:
            out[d] = _Title(key, year, tuple(alts))
    return out


# ------------------------------------------------------------------------------------------ id columns


def map_items_by_key(
    source: InteractionData,
    target: InteractionData,
    *,
    source_col: str,
    target_col: str | None = None,
) -> ItemMap:
    """Map items by a shared id column of the two items tables (e.g. ``imdb_id``); the column ``"item"``
    means the external item ids themselves. Values are compared exactly (as text when the two columns
    have different types; an integral float column counts as integers); a value held by several items on
    one side is ambiguous; null or empty values are unmatched.

    Raises:
        DataValidationError: a side has no such column (or no items table).
    """
    target_col = target_col or source_col
    s_vals = _key_values(source, source_col, "source")
    t_vals = _key_values(target, target_col, "target")
    m = _Matcher(source, target)
    m.match_unique(s_vals, t_vals, label=lambda k: k)
    key = f"column {source_col}" if target_col == source_col else f"columns {source_col} / {target_col}"
    return m.build(key)


def _key_values(data: InteractionData, col: str, side: str) -> dict[int, str]:
    """dense item -> key value as text (items without a value left out)."""
    if col == ITEM:
        values = data.item_ids
        dense = np.arange(data.n_items)
    else:
        if data.items is None or col not in data.items.columns:
            have = "no items table" if data.items is None else (
                "items columns: " + ", ".join(c for c in data.items.columns if c != ITEM))
            raise DataValidationError(
                f"cannot map items by column '{col}': the {side} log has no such column ({have})",
                source=data.name, column=col,
                hint="name a column both items tables hold, 'item' for the item ids themselves, or use a "
                     "mapping file",
            )
        values = data.items[col]
        dense = data.items[ITEM].to_numpy()
        if values.dtype.is_nested():
            raise DataValidationError(
                f"cannot map items by column '{col}': it holds lists ({values.dtype}), not one key per item",
                source=data.name, column=col,
                hint="name a column with one id per item (e.g. an EAN or IMDb id), map by title, or give a "
                     "mapping file",
            )
    values = _integral(values).cast(pl.String).str.strip_chars()
    return {int(d): v for d, v in zip(dense, values.to_list(), strict=True) if v and 0 <= d < data.n_items}


def _integral(values: pl.Series) -> pl.Series:
    """A float column whose values are all whole numbers as Int64 (so 12.0 matches 12)."""
    if values.dtype.is_float():
        v = values.drop_nulls()
        if v.len() == 0 or bool(((v % 1) == 0).all()):
            return values.cast(pl.Int64, strict=False)
    return values


# ------------------------------------------------------------------------------------------ mapping files


def read_item_map(
    path: PathLike,
    source: InteractionData,
    target: InteractionData,
    *,
    source_col: str = "source",
    target_col: str = "target",
) -> ItemMap:
    """Read a two-column mapping file (CSV, TSV or Parquet with a header line): one row per pair, the
    source item's external id in ``source_col``, the target's in ``target_col``. Ids are converted to each
    catalogue's id type.

    Raises:
        DataValidationError: naming the file, the column and the row (1-based, header excluded) of the
            first problem: a missing column, an empty cell, an id that does not parse as the catalogue's
            id type, an id unknown to that catalogue, a source or target id on two rows. A file whose
            pairs are all valid but few is not an error (see `ItemMap.require_overlap`).
    """
    p = Path(path)
    name = str(p)
    frame = read_frame(p)
    missing = [c for c in (source_col, target_col) if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"the mapping file has no column '{missing[0]}' (columns: {', '.join(frame.columns)})",
            source=name, column=missing[0],
            hint=f"a mapping file has a header line naming a source column '{source_col}' and a target "
                 f"column '{target_col}' (one pair per row)",
        )
    problems: list[tuple[int, str, str, str]] = []  # (row, column, problem, hint)
    converted: dict[str, pl.Series] = {}
    for col, data, side in ((source_col, source, "source"), (target_col, target, "target")):
        raw = frame[col]
        text = _integral(raw).cast(pl.String).str.strip_chars()
        empty = text.is_null() | (text == "")
        ids = _to_dtype(text, data.item_ids.dtype)
        unparsed = ids.is_null() & ~empty
        known = ids.is_in(data.item_ids.implode()) | ids.is_null()
        dup = ids.is_duplicated() & ids.is_not_null() & ~ids.is_first_distinct()
        converted[col] = ids
        for mask, what, hint in (
            (empty, "empty cell", "every row needs both ids; remove the row or fill it in"),
            (unparsed, f"{{v!r}} is not a valid {side} item id ({data.item_ids.dtype})",
             f"write the {side} catalogue's item ids as they appear in its log"),
            (~known, f"{side} item {{v!r}} is not in the {side} catalogue ({data.n_items:,} items)",
             "remove the row, or check that the file maps these two data sets (a log's catalogue holds the "
             "items its events touch: rows for items nobody rated must go)"),
            (dup, f"{side} item {{v!r}} appears on more than one row (first on row {{first}})",
             "a map is one to one: keep one row per item"),
        ):
            hits = mask.arg_true()
            if len(hits):
                r = int(hits[0])
                v = text[r]
                first = int((ids == ids[r]).arg_true()[0]) + 1 if ids[r] is not None else r + 1
                problems.append((r + 1, col, what.format(v=v, first=first), hint))
                problems[-1] = (*problems[-1][:3], f"{hint}; {int(mask.sum())} such row(s) in this column")
    if problems:
        row, col, problem, hint = min(problems, key=lambda x: x[0])
        raise DataValidationError(problem, source=name, column=col, row=row, hint=hint)
    pairs = pl.DataFrame({"s": converted[source_col], "t": converted[target_col]})
    m = _Matcher(source, target)
    s_dense = _dense_known(source, pairs["s"])
    t_dense = _dense_known(target, pairs["t"])
    for s, t in zip(s_dense.tolist(), t_dense.tolist(), strict=True):
        m.pair(int(s), int(t))
    return m.build(f"file {p.name}")


def _to_dtype(text: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Text ids in ``dtype``; values that do not parse become null."""
    if dtype == pl.String:
        return text
    return text.cast(dtype, strict=False)


# ------------------------------------------------------------------------------------------ translation


def translate_source(source: InteractionData, item_map: ItemMap, target: InteractionData) -> InteractionData:
    """The source's users, restricted to mapped items and re-expressed over the target's catalogue.

    The result has the target's ``item_ids`` and ``items`` table, so ``concat_users([target_part,
    translated])`` accepts it. Events on unmapped source items are dropped (source-only items are
    *dropped*, not redistributed); users left with no event are dropped (the others keep their order,
    external ids and ``users`` row); ratings, timestamps and the other event columns are kept as they are,
    in the source's row order.

    Raises:
        DataValidationError: the map names an item that is not in the source or target catalogue (it was
            built for other data).
    """
    s_dense = _dense_known(source, item_map.source_items, strict=True, side="source")
    t_dense = _dense_known(target, item_map.target_items, strict=True, side="target")
    remap = np.full(source.n_items, -1, dtype=np.int32)
    remap[s_dense] = t_dense
    inter = source.interactions
    new_item = remap[inter[ITEM].to_numpy()]
    keep = new_item >= 0
    out = inter.with_columns(pl.Series(ITEM, new_item, dtype=pl.Int32)).filter(pl.Series(keep))
    translated = InteractionData(
        out, source.user_ids, target.item_ids, source.users, target.items,
        name=f"{source.name} (mapped to {target.name} by {item_map.key})",
        row_order_is_time=source.row_order_is_time, time_type=source.time_type,
    )
    return translated.compact_users()


# ------------------------------------------------------------------------------------------ internals


class _Matcher:
    """Collects pairs and ambiguous keys (by dense id) and builds the `ItemMap`."""

    def __init__(self, source: InteractionData, target: InteractionData) -> None:
        self.source, self.target = source, target
        self.pairs: dict[int, int] = {}
        self.t_used: set[int] = set()
        self.amb: dict[str, set[int]] = {"source": set(), "target": set()}
        self.amb_rows: list[tuple[str, str, list[int]]] = []

    def done(self, side: str, d: int) -> bool:
        used = self.pairs if side == "source" else self.t_used
        return d in used or d in self.amb[side]

    def pair(self, s: int, t: int) -> None:
        self.pairs[s] = t
        self.t_used.add(t)

    def ambiguous_items(self, side: str, key: str, items: list[int]) -> None:
        self.amb_rows.append((side, key, sorted(items)))
        self.amb[side].update(items)

    def match_unique(self, src: Mapping[int, Hashable], tgt: Mapping[int, Hashable], *,
                     label: Callable[[Any], str]) -> None:
        """Pair items whose key is held by one item on each side; list keys held by several on a side."""
        by_s = _holders(src)
        by_t = _holders(tgt)
        for side, holders in (("source", by_s), ("target", by_t)):
            for k, items in holders.items():
                if len(items) > 1:
                    self.ambiguous_items(side, label(k), items)
        for k, items in by_s.items():
            other = by_t.get(k)
            if len(items) == 1 and other is not None and len(other) == 1:
                self.pair(items[0], other[0])

    def build(self, key: str) -> ItemMap:
        s_ids, t_ids = self.source.item_ids, self.target.item_ids
        s_dense = np.fromiter(self.pairs.keys(), dtype=np.int64, count=len(self.pairs))
        t_dense = np.fromiter(self.pairs.values(), dtype=np.int64, count=len(self.pairs))
        s_rest = np.setdiff1d(np.arange(self.source.n_items),
                              np.concatenate([s_dense, np.fromiter(self.amb["source"], dtype=np.int64)]))
        t_rest = np.setdiff1d(np.arange(self.target.n_items), t_dense)
        rows = sorted(self.amb_rows, key=lambda r: (r[0] != "source", r[1]))
        ambiguous = pl.DataFrame(
            {"side": [r[0] for r in rows], "key": [r[1] for r in rows],
             "items": [[str(v) for v in (s_ids if r[0] == "source" else t_ids).gather(r[2]).to_list()]
                       for r in rows]},
            schema=_AMBIGUOUS_SCHEMA,
        )
        return ItemMap(
            source_items=s_ids.gather(s_dense).alias("source_item"),
            target_items=t_ids.gather(t_dense).alias("target_item"),
            key=key,
            ambiguous=ambiguous,
            unmatched_source=s_ids.gather(s_rest).alias("source_item"),
            unmatched_target=t_ids.gather(t_rest).alias("target_item"),
        )


def _holders(keys: Mapping[int, Hashable]) -> dict[Any, list[int]]:
    out: dict[Any, list[int]] = defaultdict(list)
    for d, k in keys.items():
        out[k].append(d)
    return out


def _dense_known(data: InteractionData, ids: pl.Series, *, strict: bool = False, side: str = "") -> np.ndarray:
    """Dense ids (int64) of external ids in ``data``'s catalogue, same order; unknown ids dropped, or an
    error with ``strict``."""
    vocab = data.item_ids
    ext = ids
    if ext.dtype != vocab.dtype:
        ext = ext.cast(pl.String)
        vocab = vocab.cast(pl.String)
    table = pl.DataFrame({"ext": vocab, "dense": pl.arange(0, len(vocab), dtype=pl.Int64, eager=True)})
    joined = pl.DataFrame({"ext": ext}).join(table, on="ext", how="left", maintain_order="left")
    missing = joined["dense"].is_null()
    if strict and missing.any():
        bad = joined["ext"][int(missing.arg_true()[0])]
        raise DataValidationError(
            f"the item map names {side} item {bad!r}, which is not in the {side} catalogue "
            f"({int(missing.sum())} such item(s))", source=data.name,
            hint="build the map from these two logs (map_items_by_title, map_items_by_key or read_item_map)",
        )
    return joined["dense"].drop_nulls().to_numpy().astype(np.int64)


def _share(part: int, whole: int) -> float:
    return float(part) / whole if whole else 0.0


def _interaction_share(data: InteractionData, dense: np.ndarray) -> float:
    if data.n_interactions == 0:
        return 0.0
    mask = np.zeros(data.n_items, dtype=bool)
    mask[dense] = True
    return float(mask[data.interactions[ITEM].to_numpy()].mean())


def _examples(rows: pl.DataFrame, data: InteractionData, n: int = 5) -> tuple[str, ...]:
    """Readable examples of ambiguous keys: the key, the items' ids and (where known) the first title."""
    titles: dict[str, str] = {}
    if data.items is not None and "title" in data.items.columns:
        ext = data.item_ids.cast(pl.String).to_list()
        for d, t in data.items.select(ITEM, pl.col("title").cast(pl.String)).iter_rows():
            if t is not None and 0 <= d < len(ext):
                titles[ext[d]] = t
    out = []
    for key, items in rows.head(n).select("key", "items").iter_rows():
        shown = ", ".join(items[:6]) + (", ..." if len(items) > 6 else "")
        title = next((titles[i] for i in items if i in titles), None)
        out.append(f"'{key}': items {shown}" + (f" ({title!r})" if title else ""))
    return tuple(out)


def _first_dup(ids: pl.Series) -> object:
    if ids.null_count():
        return None
    return ids.filter(ids.is_duplicated())[0]


__all__ = [
    "ARTICLES", "ItemMap", "MapCoverage", "map_items_by_key", "map_items_by_title", "normalise_title",
    "read_item_map", "translate_source",
]
