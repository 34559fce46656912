"""RecBole atomic files: ``<name>.inter`` (+ optional ``<name>.user``, ``<name>.item``).

Format (RecBole documentation, "Atomic Files"; W. X. Zhao et al., "RecBole: Towards a Unified,
Comprehensive and Efficient Framework for Recommendation Algorithms", CIKM 2021): tab-separated text,
line 1 is a header of ``field:type`` tokens with type one of

=============  ============================================  =========================================
type           value                                          read as (polars)
=============  ============================================  =========================================
``token``      one discrete value (an id, a category)         Int64 when every value is a plain
                                                              integer without leading zeros, else String
``token_seq``  space-separated discrete values               List(String)
``float``      one number                                     Float64
``float_seq``  space-separated numbers                        List(Float64)
=============  ============================================  =========================================

Standard fields (RecBole's defaults): ``user_id``, ``item_id``, ``rating``, ``timestamp`` (seconds;
floored to Int64). Empty ``token``/``float`` cells are null; an empty ``*_seq`` cell is the empty list
(so a null list is written as, and read back as, []). A file separated by spaces or commas where tabs are expected is
detected from its header and read, with a warning, unless it has ``*_seq`` fields (then it is ambiguous
and raises).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Collection
from pathlib import Path

import polars as pl

from synthrec.data.interactions import EVENT, ITEM, RATING, SESSION, TIMESTAMP, USER, InteractionData
from synthrec.data.readers import PathLike, build_interactions
from synthrec.data.validation import DataQualityWarning, DuplicatePolicy, ValidationReport, emit_report
from synthrec.errors import DataValidationError

RECBOLE_TYPES = ("token", "token_seq", "float", "float_seq")
_SUFFIXES = (".inter", ".user", ".item")


# ------------------------------------------------------------------------------------------ reading


def _resolve(path_or_prefix: PathLike) -> Path:
    """The ``.inter`` file for a folder, a ``.inter``/``.user``/``.item`` path, or a path prefix."""
    p = Path(path_or_prefix)
    if p.is_dir():
        inters = sorted(p.glob("*.inter"))
        if len(inters) != 1:
            raise DataValidationError(
                "no .inter file in the folder" if not inters else
                f"several .inter files in the folder ({', '.join(i.name for i in inters)})",
                source=str(p), hint="pass the .inter file itself or the prefix <folder>/<dataset>",
            )
        return inters[0]
    if p.suffix in _SUFFIXES:
        p = p.with_suffix(".inter")
    else:
        p = p.with_name(p.name + ".inter")
    if not p.is_file():
        raise DataValidationError("RecBole .inter file not found", source=str(p),
                                  hint="pass a folder, a .inter file, or the prefix <folder>/<dataset>")
    return p


def _parse_header(line: str, path: Path) -> tuple[str, list[tuple[str, str]]]:
    """Detect the separator from the header line and return it with ``(field, type)`` pairs."""
    line = line.rstrip("\r\n").lstrip("\ufeff")
    if "\t" in line or ":" not in line:
        sep = "\t"
    else:
        # No tab: try the separators people use by mistake. Each token must be `name:type`.
        sep = next((s for s in (" ", ",", ";") if s in line), "\t")
    tokens = line.split(sep) if sep == "\t" else [t for t in line.split(sep) if t != ""]
    fields: list[tuple[str, str]] = []
    for tok in tokens:
        name, colon, ftype = tok.strip().rpartition(":")
        if not colon or not name:
            raise DataValidationError(
                f"line 1: header token {tok!r} has no ':type' suffix; each header token must be "
                f"'name:type' with type in {', '.join(RECBOLE_TYPES)}, separated by tabs",
                source=str(path), hint="e.g. 'user_id:token<TAB>item_id:token<TAB>rating:float'",
            )
        if ftype not in RECBOLE_TYPES:
            raise DataValidationError(
                f"line 1: header token {tok!r} has unknown type {ftype!r} (expected one of "
                f"{', '.join(RECBOLE_TYPES)})", source=str(path),
            )
        fields.append((name, ftype))
    if sep != "\t":
        if len(fields) < 2:
            raise DataValidationError(
                f"line 1: expected a tab-separated header of 'name:type' tokens, found {line[:80]!r}",
                source=str(path), hint="RecBole atomic files are separated by tabs (\\t)",
            )
        if any(t.endswith("_seq") for _, t in fields) and sep == " ":
            raise DataValidationError(
                "line 1: the file is separated by spaces where tabs (\\t) are expected, and it has *_seq "
                "fields whose values are space-separated too, so the columns cannot be recovered",
                source=str(path), hint="rewrite the file with tabs between fields",
            )
        warnings.warn(
            f"{path}: line 1 is separated by {sep!r} where RecBole expects tabs (\\t); reading with {sep!r}",
            DataQualityWarning, stacklevel=5,
        )
    if len({n for n, _ in fields}) != len(fields):
        raise DataValidationError(f"line 1: a field name repeats ({[n for n, _ in fields]})", source=str(path))
    return sep, fields


def read_atomic(path: PathLike) -> pl.DataFrame:
    """Read one RecBole atomic file into a typed polars DataFrame (columns named without ``:type``).

    Returns:
        Columns typed as in the module table; rows in file order.

    Raises:
        DataValidationError: missing/empty file, a header token without ``:type`` or with an unknown type
            (naming the token, line 1), a wrong separator that cannot be recovered, a line with the wrong
            number of fields, or a ``float`` cell that is not a number (naming column and row).
    """
    p = Path(path)
    if not p.is_file():
        raise DataValidationError("file not found", source=str(p))
    raw = p.read_bytes()
    if not raw.strip():
        raise DataValidationError("the file is empty (0 bytes)" if not raw else "the file holds only blanks",
                                  source=str(p))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    header, _, body = text.partition("\n")
    sep, fields = _parse_header(header, p)
    names = [n for n, _ in fields]
    if sep == " ":
        body = re.sub(r" +", " ", re.sub(r"(?m)^ +| +(?=\r?$)", "", body))
    if not body.strip():
        raise DataValidationError("the file has a header but no data rows", source=str(p))
    try:
        frame = pl.read_csv(
            body.encode("utf-8"), separator=sep, has_header=False, new_columns=names, quote_char=None,
            infer_schema=False,
        )
    except Exception as exc:
        raise DataValidationError(
            f"could not parse the data lines with separator {sep!r} ({str(exc).splitlines()[0]})",
            source=str(p), hint=f"every line needs {len(fields)} fields separated by tabs",
        ) from None
    if frame.width != len(names):
        raise DataValidationError(f"expected {len(names)} fields per line, found {frame.width}", source=str(p))
    cleaned = frame.select(
        pl.when(pl.col(n).str.strip_chars() == "").then(None).otherwise(pl.col(n).str.strip_chars()).alias(n)
        for n in names
    )
    return pl.DataFrame([_typed(cleaned[n], ftype, p) for n, ftype in fields])


def _typed(col: pl.Series, ftype: str, path: Path) -> pl.Series:
    if ftype == "token":
        nonnull = col.drop_nulls()
        if nonnull.len() and bool(nonnull.str.contains(r"^(0|-?[1-9]\d{0,17})$").all()):
            return col.cast(pl.Int64)
        return col
    if ftype == "float":
        as_num = col.cast(pl.Float64, strict=False)
        bad = as_num.is_null() & col.is_not_null()
        if bad.any():
            row = int(bad.arg_true()[0]) + 1
            raise DataValidationError(f"non-numeric value {col[row - 1]!r} in a float field", source=str(path),
                                      column=col.name, row=row)
        return as_num
    # An empty sequence cell is the empty sequence (a null sequence is written the same way).
    parts = col.fill_null("").str.split(" ").list.eval(pl.element().filter(pl.element() != ""))
    if ftype == "token_seq":
        return parts
    nums = parts.list.eval(pl.element().cast(pl.Float64, strict=False))
    bad = (nums.list.eval(pl.element().is_null()).list.any()).fill_null(False)
    if bad.any():
        row = int(bad.arg_true()[0]) + 1
        raise DataValidationError(f"non-numeric value {col[row - 1]!r} in a float_seq field",
                                  source=str(path), column=col.name, row=row)
    return nums


def read_recbole_with_report(
    path_or_prefix: PathLike,
    *,
    user_field: str = "user_id",
    item_field: str = "item_id",
    rating_field: str | None = "rating",
    time_field: str | None = "timestamp",
    event_field: str | None = None,
    session_field: str | None = None,
    duplicates: DuplicatePolicy = "drop",
    explicit: Collection[str] = (),
) -> tuple[InteractionData, ValidationReport]:
    """`read_recbole`, returning ``(data, report)`` (no warning; the report is logged)."""
    out = _read_recbole(path_or_prefix, user_field=user_field, item_field=item_field, rating_field=rating_field,
                        time_field=time_field, event_field=event_field, session_field=session_field,
                        duplicates=duplicates, explicit=explicit)
    emit_report(out[1], warn=False)
    return out


def read_recbole(
    path_or_prefix: PathLike,
    *,
    user_field: str = "user_id",
    item_field: str = "item_id",
    rating_field: str | None = "rating",
    time_field: str | None = "timestamp",
    event_field: str | None = None,
    session_field: str | None = None,
    duplicates: DuplicatePolicy = "drop",
    explicit: Collection[str] = (),
) -> InteractionData:
    """Read a RecBole dataset: ``<prefix>.inter`` plus ``<prefix>.user`` / ``<prefix>.item`` if present.

    Args:
        path_or_prefix: a folder holding exactly one ``.inter`` file, a ``.inter``/``.user``/``.item``
            path, or the prefix ``<folder>/<dataset>``.
        user_field, item_field: id fields (required).
        rating_field, time_field: used when present in the header (``None`` = ignore). Timestamps are
            seconds (RecBole's ``float``), floored to Int64. A rating field with empty cells (an event
            log where only some events carry a rating, e.g. `synthrec simulate` output) is left out, with
            a `DataQualityWarning`: the log is read as implicit feedback.
        event_field, session_field: optional event-type and session fields.
        duplicates: duplicate policy, see `synthrec.data.validation.ValidationReport`.
        explicit: the roles (``"rating"``, ``"time"``) whose field the user named explicitly: such a field
            (not ``None``) must be in the header, and empty ratings are an error instead of leaving the
            rating field out.

    Returns:
        `InteractionData` named after the ``.inter`` path; ``users``/``items`` hold the other fields of
        the ``.user``/``.item`` files (keyed by ``user_field``/``item_field``).

    Raises:
        DataValidationError: see `read_atomic`; a required field is missing from the header (naming the
            fields found); a missing explicit rating/time field, or empty cells in an explicit rating field.
    """
    data, report = _read_recbole(path_or_prefix, user_field=user_field, item_field=item_field,
                                 rating_field=rating_field, time_field=time_field, event_field=event_field,
                                 session_field=session_field, duplicates=duplicates, explicit=explicit)
    emit_report(report)
    return data


def _read_recbole(
    path_or_prefix: PathLike, *, user_field: str, item_field: str, rating_field: str | None,
    time_field: str | None, event_field: str | None, session_field: str | None, duplicates: DuplicatePolicy,
    explicit: Collection[str] = (),
) -> tuple[InteractionData, ValidationReport]:
    inter_path = _resolve(path_or_prefix)
    frame = read_atomic(inter_path)
    user_path, item_path = inter_path.with_suffix(".user"), inter_path.with_suffix(".item")
    users = read_atomic(user_path) if user_path.is_file() else None
    items = read_atomic(item_path) if item_path.is_file() else None
    rating_col = rating_field if "rating" in explicit or rating_field in frame.columns else None
    time_col = time_field if "time" in explicit or time_field in frame.columns else None
    if rating_col is not None and "rating" not in explicit:
        values = frame[rating_col]
        empty = int(values.is_null().sum()) + (int(values.is_nan().sum()) if values.dtype.is_float() else 0)
        if empty:
            warnings.warn(
                f"{inter_path}: field {rating_col!r} has {empty:,} empty value(s) of {frame.height:,}, so it is "
                "not used as ratings (the log is read as implicit feedback); filter the rated events first to "
                "use them, or pass --rating-col none (in a config: data.rating_col: none) to skip this note",
                DataQualityWarning, stacklevel=4,
            )
            rating_col = None
    return build_interactions(
        frame, user_col=user_field, item_col=item_field, rating_col=rating_col, time_col=time_col,
        event_col=event_field, session_col=session_field,
        duplicates=duplicates, users=users, items=items, name=str(inter_path),
    )


# ------------------------------------------------------------------------------------------ writing


def _field_type(name: str, dtype: pl.DataType, source: str) -> str:
    if isinstance(dtype, pl.List):
        inner = dtype.inner
        if inner is not None and inner.is_numeric() and not inner.is_integer():
            return "float_seq"
        return "token_seq"
    if dtype.is_float():
        return "float"
    if (dtype.is_integer() or dtype == pl.String or dtype == pl.Categorical or dtype == pl.Boolean
            or dtype == pl.Date or isinstance(dtype, (pl.Datetime, pl.Enum))):
        return "token"
    raise DataValidationError(f"cannot write dtype {dtype} to a RecBole atomic file", source=source, column=name,
                              hint="convert it to a string, number or list first")


def _to_text(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """Each column as text: tokens as strings, sequences space-joined; nulls as empty cells."""
    cols = []
    for name, dtype in frame.schema.items():
        s = frame[name]
        if isinstance(dtype, pl.List):
            elems = s.list.eval(pl.element().cast(pl.String))
            if bool(elems.list.eval(pl.element().str.contains(r"\s")).list.any().fill_null(False).any()):
                raise DataValidationError("a sequence element contains whitespace, which RecBole uses to "
                                          "separate elements", source=source, column=name,
                                          hint="replace the blanks inside those values first")
            s = elems.list.join(" ")
        else:
            s = s.cast(pl.String)
            if bool(s.str.contains(r"[\t\r\n]").fill_null(False).any()):
                raise DataValidationError("a value contains a tab or a line break", source=source, column=name,
                                          hint="RecBole atomic files cannot hold them; clean the values first")
        cols.append(s.alias(name))
    return pl.DataFrame(cols)


def _write_atomic(frame: pl.DataFrame, types: list[str], path: Path, source: str) -> None:
    text = _to_text(frame, source)
    header = "\t".join(f"{c}:{t}" for c, t in zip(frame.columns, types, strict=True))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(header + "\n")
            text.write_csv(fh, separator="\t", include_header=False, quote_style="never", null_value="")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_recbole(data: InteractionData, folder: PathLike, dataset_name: str) -> Path:
    """Write ``data`` as RecBole atomic files ``<folder>/<dataset_name>.inter`` (+ ``.user``, ``.item``).

    ``.inter`` fields: ``user_id:token``, ``item_id:token`` (external ids), then ``timestamp:float``
    (integer seconds), ``rating:float``, ``event:token``, ``session:token`` when present, in the column
    order of ``data.interactions``. Attribute tables are written with external ids as
    ``user_id``/``item_id`` and their columns typed by dtype (integers, strings, dates -> token; floats ->
    float; lists -> token_seq / float_seq). Each file is written to a temporary name and renamed, so a
    failure leaves no half-written file. `read_recbole` reads the result back to equal data (ids that
    are integers come back as Int64).

    Returns:
        Path of the ``.inter`` file.

    Raises:
        DataValidationError: a value holds a tab or line break, a sequence element holds a blank, or a
            column has a dtype RecBole cannot hold.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    source = str(out / dataset_name)
    names = {USER: "user_id", ITEM: "item_id", TIMESTAMP: "timestamp", RATING: "rating", EVENT: "event",
             SESSION: "session"}
    inter = data.interactions
    frame = inter.with_columns(
        data.user_ids.gather(inter[USER]).alias(USER), data.item_ids.gather(inter[ITEM]).alias(ITEM),
    ).rename({c: names.get(c, c) for c in inter.columns})
    types = [_field_type(c, d, source) for c, d in frame.schema.items()]
    types = ["float" if c in ("timestamp", "rating") else t for c, t in zip(frame.columns, types, strict=True)]
    inter_path = out / f"{dataset_name}.inter"
    _write_atomic(frame, types, inter_path, source)
    for table, dense, vocab, key, suffix in ((data.users, USER, data.user_ids, "user_id", ".user"),
                                            (data.items, ITEM, data.item_ids, "item_id", ".item")):
        if table is None:
            continue
        tbl = table.with_columns(vocab.gather(table[dense]).alias(dense)).rename({dense: key})
        tbl = tbl.select([key, *[c for c in tbl.columns if c != key]])
        ttypes = [_field_type(c, d, source) for c, d in tbl.schema.items()]
        _write_atomic(tbl, ttypes, out / f"{dataset_name}{suffix}", source)
    return inter_path


__all__ = ["RECBOLE_TYPES", "read_atomic", "read_recbole", "read_recbole_with_report", "write_recbole"]
