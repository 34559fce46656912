"""Reader of the sequential-recommendation text format: one user per line, ``user item item …``.

This is the format of the ``amazon-seq`` files (Beauty, Toys_and_Games, LastFM) prepared for SASRec-style
experiments: items are listed in time order, there is no timestamp. The reader keeps that order as the
row order of ``interactions`` (which synthrec treats as time order when there is no timestamp column:
see `synthrec.data.splits`).

`synthrec inspect`, `fit` and `run` read it with ``--format seq`` (``data.format: seq`` in a config), or
without it when `looks_like_sequence_file` recognises the file; `synthrec bench` reads it as a dataset's
``sequence_file``.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from synthrec.data.interactions import InteractionData
from synthrec.errors import DataValidationError


def read_sequence_file(path: str | Path, *, name: str | None = None, separator: str = " ") -> InteractionData:
    """Read a ``user item item …`` file (one user per line, items in time order) into `InteractionData`.

    Ids are kept as written (strings; integer-looking ids are read as Int64), dense ids are assigned in
    order of first appearance. Rows are user-major in the file's order, so a user's rows are her events in
    time order. No timestamp column is created. Repeated items inside a line are kept as events.

    Args:
        path: the text file.
        name: label for reports and errors; default the file name without extension.
        separator: the field separator (one character). Default a space.

    Returns:
        `InteractionData` with columns user, item.

    Raises:
        DataValidationError: the file is missing or empty, or a line has a user but no item (the message
            names the line).
    """
    path = Path(path)
    label = name or path.stem
    if not path.is_file():
        raise DataValidationError("no such file", source=str(path),
                                  hint="give the path of a 'user item item ...' text file")
    lines = pl.read_csv(path, has_header=False, separator="\x1f", new_columns=["line"], quote_char=None,
                        schema_overrides={"line": pl.String})["line"].str.strip_chars()
    lines = lines.filter(lines.str.len_chars() > 0) if lines.len() else lines
    if lines.len() == 0:
        raise DataValidationError("the file has no lines", source=str(path),
                                  hint="each line must be 'user item item ...'")
    fields = lines.str.split(separator).list.eval(pl.element().filter(pl.element() != ""))
    short = fields.list.len() < 2
    if short.any():
        row = int(short.arg_true()[0]) + 1
        raise DataValidationError("a line holds a user id but no item", source=str(path), row=row,
                                  hint="each line must be 'user item item ...' (drop users without items)")
    frame = pl.DataFrame({"user": fields.list.first(), "item": fields.list.slice(1)}).explode("item")
    for col in ("user", "item"):
        as_int = frame[col].cast(pl.Int64, strict=False)
        if as_int.null_count() == 0:
            frame = frame.with_columns(as_int.alias(col))
    return InteractionData.from_frame(frame, name=label, row_order_is_time=True)


#: Suffixes a sequence file is recognised by (`looks_like_sequence_file`).
SEQUENCE_SUFFIXES = (".txt", "")
_SEQ_LINE = re.compile(r"^\d+( \d+)+$")


def looks_like_sequence_file(path: str | Path, *, n_lines: int = 50) -> bool:
    """Whether ``path`` is unambiguously a ``user item item ...`` file.

    True for a ``.txt`` file (or one without a suffix) whose first ``n_lines`` non-blank lines are each at
    least two integers separated by single spaces, with varying numbers of fields (a table has the same
    number on every line). A table of integers (``user item rating`` on every line) is therefore never
    taken for a sequence file; name the format (``--format seq``) when the detection cannot tell.
    """
    path = Path(path)
    if not path.is_file() or path.suffix.lower() not in SEQUENCE_SUFFIXES:
        return False
    lines: list[str] = []
    try:
        with path.open("rb") as fh:
            for raw in fh:
                line = raw.decode("utf-8", errors="replace").strip()
                if line:
                    lines.append(line)
                if len(lines) >= n_lines:
                    break
    except OSError:
        return False
    if len(lines) < 2 or not all(_SEQ_LINE.match(line) for line in lines):
        return False
    return len({line.count(" ") for line in lines}) > 1
