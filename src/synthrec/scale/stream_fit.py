"""Fit a generator on a log too large for memory: passes over Parquet files, on any backend.

`fit_streaming` fits a `LatentFactorGenerator` (`synthrec.generators._latent_factor_stream`) or an
`ItemWalkGenerator` (`synthrec.generators._item_walk_stream`) from a
`synthrec.generators._pass_source.PassSource`: exact item-level sums of all users, and a hash-chosen sample
of users for the per-user parts. Peak memory per process is one chunk of rows
(``chunk_rows``, default 2²¹) plus m × (k + 10) numbers of the factor basis (or the M × M Gram block of
item-walk), plus the user sample in the driver — it does not grow with the number of rows.

**Passes.** (1) *survey*, per file: a SHA-256 of the file's bytes (the cache key), its distinct items and
users; (2) *scan*, per file, in chunks of whole users: each user's distinct items at their first occurrence
(time, then file order: as `synthrec.generators._logs.first_pairs`), item counts, the order model's sums,
the sampled users' rows, and the chunk's binary user × item matrix, saved to the cache; then passes over
the cached matrices: latent-factor, five *product* passes Xᵀ·q(X·B) for the subspace iteration (the first
also gives the Gram block of the most popular items); item-walk, one Gram pass over its modelled items;
DP latent-factor (``epsilon`` set), a scan that also cuts each user's items to ``max_items_per_user``
(`synthrec.privacy.bound_user_contributions_hashed`) and one pass for the unit-norm Gram block of the items
its noisy counts select.

**Input.** A Parquet file, a folder of Parquet files (the ``--out`` of ``synthrec generate`` or any
folder: every ``*.parquet`` under it) or a list of files. A user's rows must be in one file and
contiguous in it (as ``synthrec generate`` and ``synthrec simulate`` write them); a user found twice is an
error naming the file, never a silent double count. Split one big file into several (by user) for
parallel work: files are the unit of parallelism.

**Determinism.** Every cross-user sum is exact (integers, or values rounded to a fixed grid before
summing), the user sample is chosen by a hash of the user id, and a pass's result does not depend on
the order in which files finish: the fitted generator is the same, bit for bit, for any backend, number
of workers, files or chunk size (tests/test_stream_fit.py), and equals `fit_in_passes` of the same log
held in memory.

**Cache and resume.** ``cache_dir`` holds each file's scan (keyed by the file's SHA-256 and the scan's
options) and each product pass (keyed by the files and the basis): a fit interrupted after some passes,
rerun with the same ``cache_dir``, reads what it has and goes on. With ``cache_dir=None`` a temporary
folder is used and removed. With a Dask cluster on several machines the cache must be a folder every
worker can read and write.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import scipy.sparse as sp

from synthrec.data.atomic import atomic_write
from synthrec.data.interactions import ITEM, RATING, TIMESTAMP, USER, InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators._pass_source import (
    ORDER_BITS,
    ORDER_SQUARE_BITS,
    SPREAD_BITS,
    TASTE_BITS,
    CappedSums,
    ScanSummary,
    normalised_bits,
    sample_threshold,
)
from synthrec.privacy import bound_user_contributions_hashed
from synthrec.scale.backends import Backend, InProcessBackend
from synthrec.scale.stats import _check_users_disjoint, parquet_files

#: users sampled for the per-user parts of the model (traits, time and rating models)
DEFAULT_SAMPLE_USERS = 50_000
#: rows per chunk of a file (a chunk ends at a user boundary, so it may hold one user's rows more)
DEFAULT_CHUNK_ROWS = 1 << 21
_HASH_SEED = 0  # fixed: every worker hashes a user id alike
_SCAN_VERSION = "3"  # part of every cache key: bump when the cached format or its meaning changes

#: called with (the stage, its steps done, its steps in all, a note such as the rows read so far)
ProgressFn = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class LogColumns:
    """Where the log's fields are, and how its times are written (see `synthrec.data.validation.to_epoch_seconds`)."""

    user: str = "user"
    item: str = "item"
    time: str | None = None
    rating: str | None = None
    time_unit: str = "s"
    time_format: str | None = None

    def names(self) -> list[str]:
        return [c for c in (self.user, self.item, self.time, self.rating) if c is not None]


# ---------------------------------------------------------------------------------------------- chunks


@dataclass(frozen=True)
class _ChunkScan:
    """The sums of one chunk of whole users (see `_scan_chunk`)."""

    indptr: np.ndarray  # int64 (users + 1,) of the chunk matrix (capped rows when a cap is set)
    indices: np.ndarray  # int32 (pairs,), ascending within each user
    sums: dict[str, np.ndarray]  # int64 sums over the chunk's users (see `_SUMS`)
    degrees: np.ndarray  # int64 (users,) distinct items per user (uncapped)
    hashes: np.ndarray  # uint64 (users,)
    sample: pl.DataFrame  # the sampled users' rows
    user_runs: int  # runs of equal users in row order: the number of users when each user's rows are contiguous


#: the sums `_scan_chunk` returns: always, and with a contribution cap (DP fits; see `CappedSums`)
_SUMS = ("counts", "q_sum", "q2_sum", "unit_taste")
_CAPPED_SUMS = ("capped_counts", "position_sums", "spread_q2", "spread_q", "spread_one")


def _fixed(values: np.ndarray, bits: int) -> np.ndarray:
    """round(values · 2^bits) as int64 (the grid every non-integer sum is taken on)."""
    return np.rint(np.ldexp(values, bits)).astype(np.int64)


def _item_sums(items: np.ndarray, values: np.ndarray, m: int) -> np.ndarray:
    """Σ of int64 ``values`` per item ``(m,)``, in integers (np.bincount would sum in float64)."""
    out = np.zeros(m, np.int64)
    if len(items):
        by_item = np.argsort(items, kind="stable")
        sorted_items = items[by_item]
        bounds = np.flatnonzero(np.r_[True, sorted_items[1:] != sorted_items[:-1]])
        out[sorted_items[bounds]] = np.add.reduceat(values[by_item], bounds)
    return out


def _positions(users: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-user item count d ``(n_users,)`` and relative position q ``(rows,)`` of rows grouped by user in
    time order: q = rank / (d − 1), ½ for a single item (`OrderModel`)."""
    deg = np.bincount(users, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(deg)])
    rank = np.arange(len(users)) - starts[users]
    return deg, np.where(deg[users] > 1, rank / np.maximum(deg[users] - 1, 1), 0.5)


def _scan_chunk(users: pl.Series, items: np.ndarray, times: np.ndarray | None, ratings: np.ndarray | None,
                rows: np.ndarray, file_index: int, m: int, tau: int, cap: int | None, cap_seed: int) -> _ChunkScan:
    """Sums of a chunk holding every row of its users.

    Args:
        users: external user ids, one per row. items: int64 dense items. times: int64 seconds or None.
        ratings: float64 or None. rows: int64 row positions in the file (the tie-break of equal times).
        file_index: position of the file among the inputs (orders the sampled rows across files).
        m: catalogue size. tau: the hash threshold of the user sample (`sample_threshold`).
        cap, cap_seed: with a cap L, each user's distinct items are cut to L
            (`bound_user_contributions_hashed`), the capped sums are added and the chunk matrix holds
            the capped rows only (what a DP fit may read).
    """
    encoded = pc.dictionary_encode(users.to_arrow())
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    n_users = len(encoded.dictionary)
    hashes = pl.Series(encoded.dictionary).hash(seed=_HASH_SEED).to_numpy()
    frame = pl.DataFrame({"u": codes, "i": items, "r": rows}
                         | ({"t": times} if times is not None else {}))
    keys = ["u", "t", "r"] if times is not None else ["u", "r"]
    first = frame.sort(keys).unique(subset=["u", "i"], keep="first", maintain_order=True)
    fu, fi = first["u"].to_numpy(), first["i"].to_numpy()
    deg, q = _positions(fu, n_users)
    sums = {"counts": np.bincount(fi, minlength=m).astype(np.int64),
            "q_sum": _item_sums(fi, _fixed(q, ORDER_BITS), m),
            "q2_sum": np.array([_fixed(q * q, ORDER_SQUARE_BITS).sum()], np.int64),
            "unit_taste": _item_sums(fi, _fixed(1.0 / np.sqrt(np.maximum(deg[fu], 1)), TASTE_BITS), m)}
    mu, mi = fu, fi
    if cap is not None:
        kept = bound_user_contributions_hashed(hashes[fu], fi, cap, seed=cap_seed)
        mu, mi = fu[kept], fi[kept]
        capped_deg, cq = _positions(mu, n_users)
        inv = 1.0 / np.maximum(capped_deg[mu], 1)
        sums |= {"capped_counts": np.bincount(mi, minlength=m).astype(np.int64),
                 "position_sums": _item_sums(mi, _fixed(cq, ORDER_BITS), m),
                 "spread_q2": np.array([_fixed(cq * cq * inv, SPREAD_BITS).sum()], np.int64),
                 "spread_q": _item_sums(mi, _fixed(cq * inv, SPREAD_BITS), m),
                 "spread_one": _item_sums(mi, _fixed(inv, SPREAD_BITS), m)}
    matrix_deg = np.bincount(mu, minlength=n_users)
    csr_order = np.lexsort((mi, mu))
    sampled = np.ones(n_users, bool) if tau >= 1 << 64 else hashes < np.uint64(tau)
    keep = sampled[codes]
    sample = pl.DataFrame({USER: users.filter(pl.Series(keep)), ITEM: items[keep],
                           "_file": np.full(int(keep.sum()), file_index, np.int64), "_row": rows[keep]}
                          | ({TIMESTAMP: times[keep]} if times is not None else {})
                          | ({RATING: ratings[keep]} if ratings is not None else {}))
    user_runs = int(np.count_nonzero(codes[1:] != codes[:-1])) + 1 if len(codes) else 0
    return _ChunkScan(np.concatenate([[0], np.cumsum(matrix_deg)]).astype(np.int64),
                      mi[csr_order].astype(np.int32), sums, deg.astype(np.int64), hashes, sample, user_runs)


def _chunk_matrix(indptr: np.ndarray, indices: np.ndarray, m: int) -> sp.csr_matrix:
    """The binary int64 user × item CSR of a scanned chunk (indices ascending per row)."""
    x = sp.csr_matrix((np.ones(len(indices), np.int64), indices.astype(np.int32), indptr), shape=(len(indptr) - 1, m))
    x.has_sorted_indices = True
    return x


def _chunk_gram(x: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
    """The int64 Gram block of ``items`` for one chunk (integers: exact in any grouping)."""
    xt = x[:, items]
    return (xt.T @ xt).toarray().astype(np.int64)


def _chunk_normalised(x: sp.csr_matrix, items: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Σ_u round(2^bits / k_u) x_u x_uᵀ and Σ_u round(2^bits / √k_u) x_u over ``items`` (int64), k_u the
    user's items among them: the unit-norm Gram and taste sums of `PassSource.normalised` on a grid."""
    xs = sp.csr_matrix(x[:, items], dtype=np.int64)
    k = np.diff(xs.indptr)
    safe = np.maximum(k, 1).astype(np.float64)
    gram_w = np.where(k > 0, _fixed(1.0 / safe, bits), 0)
    taste_w = np.where(k > 0, _fixed(1.0 / np.sqrt(safe), bits), 0)
    weighted = sp.csr_matrix((xs.data * np.repeat(gram_w, k), xs.indices, xs.indptr), shape=xs.shape)
    gram = np.asarray((xs.T @ weighted).toarray(), dtype=np.int64)  # int64 all through: exact sums
    taste = np.asarray(xs.T @ taste_w, dtype=np.int64).ravel()
    return gram, taste


def _chunk_pair_gram(x: sp.csr_matrix, items: np.ndarray, bits: int) -> np.ndarray:
    """Σ_u round(2^bits · √(2 / (k_u (k_u − 1)))) x_u x_uᵀ over ``items`` (int64; 0 for k_u < 2)."""
    xs = sp.csr_matrix(x[:, items], dtype=np.int64)
    k = np.diff(xs.indptr).astype(np.float64)
    w = np.where(k > 1, _fixed(np.sqrt(2.0 / np.maximum(k * (k - 1.0), 1.0)), bits), 0)
    weighted = sp.csr_matrix((xs.data * np.repeat(w, np.diff(xs.indptr)), xs.indices, xs.indptr), shape=xs.shape)
    return np.asarray((xs.T @ weighted).toarray(), dtype=np.int64)


def _chunk_product(x: sp.csr_matrix, basis: np.ndarray, bits: int, top: np.ndarray | None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """Xᵀ·round(2^bits · X·basis) (int64) and the int64 Gram block of ``top`` for one chunk.

    X·basis is formed row by row over each row's items in ascending order (scipy's CSR product), so a
    user's projection is the same float64 in any chunk; rounding it to the grid 2^−bits before the
    integer product makes the sum over users exact.
    """
    projected = x.astype(np.float64) @ basis
    grid = np.rint(np.ldexp(projected, bits)).astype(np.int64)
    total = x.T @ grid
    return np.asarray(total, dtype=np.int64), (None if top is None else _chunk_gram(x, top))


# ---------------------------------------------------------------------------------------------- files


@dataclass(frozen=True)
class _Survey:
    sha256: str
    items: pa.Array
    n_users: int
    n_rows: int


@dataclass(frozen=True)
class _FileScan:
    """One file's scan: its sums (as `_ChunkScan`, added over chunks) and where its chunks are cached."""

    sums: dict[str, np.ndarray]
    activity: np.ndarray
    n_users: int
    n_rows: int
    hashes: np.ndarray
    sample: pl.DataFrame
    chunk_files: list[str]
    cached: bool = False


@dataclass(frozen=True)
class _ScanShared:
    vocab: pa.Array
    columns: LogColumns
    tau: int
    chunk_rows: int
    cache_dir: str
    cap: int | None = None
    cap_seed: int = 0


def _survey_file(columns: LogColumns, path: str) -> _Survey:
    """SHA-256 of the file's bytes, its distinct items and users, its rows (runs on a worker)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    items: list[pa.Array] = []
    users: list[pa.Array] = []
    n_rows = 0
    for batch in _scanner(path, [columns.user, columns.item], columns, 1 << 21).to_batches():
        items.append(pc.unique(batch.column(1)))
        users.append(pc.unique(batch.column(0)))
        n_rows += batch.num_rows
    distinct_users = len(pc.unique(pa.chunked_array(users))) if users else 0
    all_items = pc.unique(pa.chunked_array(items)) if items else pa.array([])
    return _Survey(digest.hexdigest(), all_items if isinstance(all_items, pa.Array) else all_items.combine_chunks(),
                   distinct_users, n_rows)


def _scanner(path: str, names: list[str], columns: LogColumns, batch_rows: int) -> ds.Scanner:
    dataset = ds.dataset(path, format="parquet")
    missing = [c for c in names if c not in dataset.schema.names]
    if missing:
        raise DataValidationError(
            f"column(s) {', '.join(missing)} missing (found {', '.join(dataset.schema.names)})", source=path,
            column=missing[0], hint="name the columns with --user-col/--item-col/--time-col/--rating-col")
    return dataset.scanner(columns=names, batch_size=batch_rows)


def _file_batches(path: str, columns: LogColumns, vocab: pa.Array, batch_rows: int
                  ) -> Iterator[tuple[pl.Series, np.ndarray, np.ndarray | None, np.ndarray | None, int]]:
    """Record batches of one file as (users, dense items, seconds, ratings, first row), checked."""
    from synthrec.data.validation import to_epoch_seconds

    offset = 0
    for batch in _scanner(path, columns.names(), columns, batch_rows).to_batches():
        users = pl.Series(USER, batch.column(columns.user))
        item_col = batch.column(columns.item)
        dense = pc.index_in(item_col, value_set=vocab if vocab.type == item_col.type else vocab.cast(item_col.type))
        bad = np.asarray(pc.is_null(dense).to_numpy(zero_copy_only=False)) | users.is_null().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"missing user or item id, or an item outside the catalogue ({item_col[row].as_py()!r})",
                source=path, column=columns.item if users[row] is not None else columns.user, row=offset + row + 1,
                hint="drop rows without ids before fitting")
        items = dense.to_numpy(zero_copy_only=False).astype(np.int64)
        times = ratings = None
        if columns.time is not None:
            secs, _ = to_epoch_seconds(pl.Series(columns.time, batch.column(columns.time)),
                                       time_format=columns.time_format, time_unit=columns.time_unit,  # type: ignore[arg-type]
                                       name=path)
            _require_complete(secs, path, columns.time, offset)
            times = secs.to_numpy().astype(np.int64)
        if columns.rating is not None:
            rate = pl.Series(columns.rating, batch.column(columns.rating)).cast(pl.Float64, strict=False)
            _require_complete(rate, path, columns.rating, offset)
            ratings = rate.to_numpy()
        yield users, items, times, ratings, offset
        offset += batch.num_rows


def _require_complete(values: pl.Series, path: str, column: str, offset: int) -> None:
    bad = values.is_null()
    if values.dtype.is_float():
        bad = bad | ~values.is_finite().fill_null(False)
    if bad.any():
        raise DataValidationError(f"{int(bad.sum())} missing or non-finite value(s)", source=path, column=column,
                                  row=offset + int(bad.arg_true()[0]) + 1, hint="drop or fill those rows before fitting")


def _whole_user_chunks(path: str, columns: LogColumns, vocab: pa.Array, chunk_rows: int
                       ) -> Iterator[tuple[pl.Series, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]]:
    """Chunks of about ``chunk_rows`` rows, each ending at a user boundary: the rows of the last user of a
    batch wait for the next batch (a user's rows are contiguous in the file)."""
    held: list[tuple[pl.Series, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]] = []
    held_rows = 0
    for users, items, times, ratings, offset in _file_batches(path, columns, vocab, chunk_rows):
        rows = np.arange(offset, offset + len(items), dtype=np.int64)
        held.append((users, items, times, ratings, rows))
        held_rows += len(items)
        if held_rows < chunk_rows:
            continue
        merged = _concat(held)
        others = np.flatnonzero((merged[0] != merged[0][-1]).to_numpy())
        cut = int(others[-1]) + 1 if len(others) else 0  # where the last user's trailing rows begin
        if cut == 0:  # one user so far: keep reading
            held, held_rows = [merged], len(merged[1])
            continue
        yield tuple(_slice(part, 0, cut) for part in merged)  # type: ignore[misc]
        rest = tuple(_slice(part, cut, None) for part in merged)
        held, held_rows = [rest], len(rest[1])  # type: ignore[list-item]
    if held_rows:
        yield _concat(held)


def _slice(part: Any, lo: int, hi: int | None) -> Any:
    if part is None:
        return None
    return part[lo:hi] if not isinstance(part, pl.Series) else part.slice(lo, None if hi is None else hi - lo)


def _concat(parts: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    if len(parts) == 1:
        return parts[0]
    out: list[Any] = []
    for j in range(5):
        column = [p[j] for p in parts]
        if column[0] is None:
            out.append(None)
        elif isinstance(column[0], pl.Series):
            out.append(pl.concat(column))
        else:
            out.append(np.concatenate(column))
    return tuple(out)


def _scan_file(shared: _ScanShared, task: tuple[int, str, str]) -> _FileScan:
    """Scan one file in chunks of whole users, caching each chunk's matrix (runs on a worker)."""
    file_index, path, key = task
    folder = Path(shared.cache_dir) / "scans" / key
    done = folder / "scan.npz"
    if done.is_file():
        return _read_scan(folder, cached=True)
    folder.mkdir(parents=True, exist_ok=True)
    m = len(shared.vocab)
    sums: dict[str, np.ndarray] = {}
    n_rows = 0
    degrees: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    samples: list[pl.DataFrame] = []
    chunk_files: list[str] = []
    for c, (users, items, times, ratings, rows) in enumerate(
            _whole_user_chunks(path, shared.columns, shared.vocab, shared.chunk_rows)):
        scan = _scan_chunk(users, items, times, ratings, rows, file_index, m, shared.tau, shared.cap,
                           shared.cap_seed)
        if scan.user_runs != len(scan.hashes):  # within the chunk too: the rule must not depend on file size
            raise _not_contiguous(path)
        _add_sums(sums, scan.sums)
        n_rows += len(items)
        degrees.append(scan.degrees)
        hashes.append(scan.hashes)
        samples.append(scan.sample)
        chunk = folder / f"chunk-{c:06d}.npz"
        _save_npz(chunk, indptr=scan.indptr, indices=scan.indices)
        chunk_files.append(chunk.name)
    all_hashes = _check_contiguous(np.concatenate(hashes) if hashes else np.empty(0, np.uint64), path)
    deg = np.concatenate(degrees) if degrees else np.empty(0, np.int64)
    sample = pl.concat(samples) if samples else pl.DataFrame()
    sample.write_ipc(folder / "sample.arrow")  # not .parquet: a --cache-dir inside DATA must not read as data
    _save_npz(done, **{f"sum_{k}": v for k, v in sums.items()}, activity=np.bincount(deg),
              n_rows=np.array([n_rows], np.int64), hashes=all_hashes, chunks=np.array(chunk_files))
    return _read_scan(folder)


def _add_sums(total: dict[str, np.ndarray], part: dict[str, np.ndarray]) -> None:
    for k, v in part.items():
        if k in total:
            total[k] = total[k] + v
        else:
            total[k] = v.copy()


def _read_scan(folder: Path, *, cached: bool = False) -> _FileScan:
    with np.load(folder / "scan.npz", allow_pickle=False) as z:
        sums = {k[4:]: z[k] for k in z.files if k.startswith("sum_")}
        return _FileScan(sums, z["activity"], len(z["hashes"]), int(z["n_rows"][0]), z["hashes"],
                         pl.read_ipc((folder / "sample.arrow").read_bytes()), [str(folder / name) for name in z["chunks"]],
                         cached)


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write arrays to ``path`` atomically (a killed fit leaves no half-written cache entry)."""
    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
    atomic_write(path, write)


def _check_contiguous(hashes: np.ndarray, path: str) -> np.ndarray:
    """The file's user hashes sorted (what `_check_disjoint` needs), after checking each user's rows came in
    one run: a user seen in two chunks, or twice in one, has her hash twice."""
    hashes = np.sort(hashes)
    if len(hashes) and bool((hashes[1:] == hashes[:-1]).any()):
        raise _not_contiguous(path)
    return hashes


def _not_contiguous(path: str) -> DataValidationError:
    return DataValidationError(
        "a user's rows are not contiguous in the file (her rows appear in two places); a streaming fit "
        "reads users whole, in order", source=path,
        hint="sort the file by user first (e.g. pl.scan_parquet(f).sort('user').sink_parquet(out)), or write "
             "it with `synthrec generate` / `synthrec simulate`, which keep users together")


def _product_file(shared: tuple[np.ndarray, int, np.ndarray | None], chunk_files: list[str]
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """`_chunk_product` summed over one file's cached chunks (runs on a worker)."""
    basis, bits, top = shared
    m = basis.shape[0]
    total = np.zeros(basis.shape, np.int64)
    gram = None if top is None else np.zeros((len(top), len(top)), np.int64)
    for name in chunk_files:
        with np.load(name, allow_pickle=False) as z:
            x = _chunk_matrix(z["indptr"], z["indices"], m)
        part, g = _chunk_product(x, basis, bits, top)
        total += part
        if gram is not None and g is not None:
            gram += g
    return total, gram


def _gram_file(shared: tuple[np.ndarray, int], chunk_files: list[str]) -> np.ndarray:
    """`_chunk_gram` of the items ``shared[0]`` (of a catalogue of ``shared[1]``) summed over one file's
    cached chunks (runs on a worker)."""
    items, m = shared
    gram = np.zeros((len(items), len(items)), np.int64)
    for name in chunk_files:
        with np.load(name, allow_pickle=False) as z:
            gram += _chunk_gram(_chunk_matrix(z["indptr"], z["indices"], m), items)
    return gram


def _pair_gram_file(shared: tuple[np.ndarray, int, int], chunk_files: list[str]) -> np.ndarray:
    """`_chunk_pair_gram` summed over one file's cached chunks (runs on a worker)."""
    items, m, bits = shared
    gram = np.zeros((len(items), len(items)), np.int64)
    for name in chunk_files:
        with np.load(name, allow_pickle=False) as z:
            gram += _chunk_pair_gram(_chunk_matrix(z["indptr"], z["indices"], m), items, bits)
    return gram


def _normalised_file(shared: tuple[np.ndarray, int, int], chunk_files: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """`_chunk_normalised` summed over one file's cached chunks (runs on a worker)."""
    items, m, bits = shared
    gram = np.zeros((len(items), len(items)), np.int64)
    taste = np.zeros(len(items), np.int64)
    for name in chunk_files:
        with np.load(name, allow_pickle=False) as z:
            g, t = _chunk_normalised(_chunk_matrix(z["indptr"], z["indices"], m), items, bits)
        gram += g
        taste += t
    return gram, taste


# ---------------------------------------------------------------------------------------------- sources


def _summary(vocab: pl.Series, items: pl.DataFrame | None, name: str, scans: Sequence[_FileScan],
             columns: LogColumns, files: Sequence[str], cap: int | None, cap_seed: int) -> ScanSummary:
    """The `ScanSummary` of the scanned files (sums added, users checked disjoint, sample assembled)."""
    m = len(vocab)
    sums: dict[str, np.ndarray] = {}
    activity = np.zeros(max((len(s.activity) for s in scans), default=1), np.int64)
    for s in scans:
        _add_sums(sums, s.sums)
        activity[: len(s.activity)] += s.activity
    counts = sums.get("counts", np.zeros(m, np.int64))
    capped = None
    if cap is not None:
        capped = CappedSums(cap, cap_seed, sums["capped_counts"], sums["position_sums"], int(sums["spread_q2"][0]),
                            sums["spread_q"], sums["spread_one"])
    _check_disjoint([s.hashes for s in scans], files)
    frames = [s.sample for s in scans if s.sample.height]
    if not frames:
        raise ConfigError("the user sample is empty: raise sample_users (about that many users fit the per-user "
                          "parts of the model)")
    sample_frame = pl.concat(frames).sort([USER, "_file", "_row"], maintain_order=True)
    has_time, has_rating = columns.time is not None, columns.rating is not None
    sample = InteractionData.from_frame(
        sample_frame.drop("_file", "_row"), user_col=USER, item_col=ITEM,
        time_col=TIMESTAMP if has_time else None, rating_col=RATING if has_rating else None,
        item_vocabulary=pl.Series(ITEM, np.arange(m, dtype=np.int64)), name=f"{name} (user sample)")
    sample = InteractionData(sample.interactions, sample.user_ids, vocab, name=sample.name)
    return ScanSummary(item_ids=vocab, items=items, name=name, counts=counts, n_users=sum(s.n_users for s in scans),
                       n_pairs=int(counts.sum()), n_rows=sum(s.n_rows for s in scans),
                       order_q_sum=sums.get("q_sum", np.zeros(m, np.int64)),
                       order_q2_sum=int(sums.get("q2_sum", np.zeros(1, np.int64))[0]), activity=activity,
                       sample=sample, has_time=has_time, has_rating=has_rating, capped=capped,
                       unit_taste=sums.get("unit_taste"))


def _check_disjoint(hashes: list[np.ndarray], files: Sequence[str]) -> None:
    """`synthrec.scale.stats._check_users_disjoint` over the files' sorted user hashes."""
    _check_users_disjoint(hashes, list(files), hint="partition the log by user first (e.g. write each user's rows "
                                                    "to the part hash(user) mod P)")


class InMemoryPassSource:
    """A `PassSource` over an `InteractionData` held in memory: one chunk, the same sums as the files'.

    `fit_in_passes` uses it; its fit is the reference a streaming fit equals bit for bit.
    """

    def __init__(self, data: InteractionData, *, sample_users: int = DEFAULT_SAMPLE_USERS, cap: int | None = None,
                 cap_seed: int = 0) -> None:
        from synthrec.generators._logs import require_log

        require_log(data)
        inter = data.interactions
        users = data.user_ids.gather(inter[USER].to_numpy()).alias(USER)
        n_users = inter[USER].n_unique()
        tau = sample_threshold(n_users, sample_users)
        times = inter[TIMESTAMP].to_numpy().astype(np.int64) if data.has_timestamp else None
        ratings = inter[RATING].cast(pl.Float64).to_numpy() if data.has_rating else None
        for col, values in ((TIMESTAMP, times), (RATING, ratings)):
            if values is not None:
                _require_complete(pl.Series(col, values), data.name, col, 0)
        rows = np.arange(inter.height, dtype=np.int64)
        scan = _scan_chunk(users, inter[ITEM].to_numpy().astype(np.int64), times, ratings, rows, 0, data.n_items,
                           tau, cap, cap_seed)
        self._x = _chunk_matrix(scan.indptr, scan.indices, data.n_items)
        file_scan = _FileScan(scan.sums, np.bincount(scan.degrees), len(scan.hashes), inter.height, scan.hashes,
                              scan.sample, [])
        columns = LogColumns(time=TIMESTAMP if times is not None else None,
                             rating=RATING if ratings is not None else None)
        self._summary = _summary(data.item_ids, data.items, _display(data.name), [file_scan], columns, [data.name],
                                 cap, cap_seed)

    @property
    def summary(self) -> ScanSummary:
        return self._summary

    def xtx(self, basis: np.ndarray, bits: int, top: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        return _chunk_product(self._x, basis, bits, top)

    def gram(self, items: np.ndarray) -> np.ndarray:
        return _chunk_gram(self._x, items)

    def note(self, text: str) -> None:
        pass  # in memory: nothing to report

    def pair_gram(self, items: np.ndarray) -> np.ndarray:
        bits = normalised_bits(self._summary.n_users) - 1  # w_u ≤ √2
        return np.ldexp(_chunk_pair_gram(self._x, items, bits).astype(np.float64), -bits)

    def normalised(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bits = normalised_bits(self._summary.n_users)
        gram, taste = _chunk_normalised(self._x, items, bits)
        return np.ldexp(gram.astype(np.float64), -bits), np.ldexp(taste.astype(np.float64), -bits)


class ParquetPassSource:
    """A `PassSource` over Parquet files: the survey and scan passes run at construction, `xtx` is one
    product pass over the cached chunk matrices (see the module docstring)."""

    def __init__(self, files: Sequence[str], columns: LogColumns, *, backend: Backend, cache_dir: Path,
                 sample_users: int, chunk_rows: int, item_ids: pl.Series | None, items: pl.DataFrame | None,
                 name: str, progress: ProgressFn | None, cap: int | None = None, cap_seed: int = 0) -> None:
        self.files = list(files)
        self.backend = backend
        self.cache_dir = cache_dir
        self.progress: ProgressFn = progress or (lambda *_: None)
        self._passes = 0
        n = len(self.files)
        self.progress(f"surveying {n} file(s)", 0, n, "")
        surveys: list[_Survey | None] = [None] * n
        for done, (i, survey) in enumerate(backend.map(_survey_file, columns, self.files), 1):
            surveys[i] = survey
            self.progress(f"surveying {n} file(s)", done, n, "")
        assert all(s is not None for s in surveys)
        if item_ids is None:
            parts = [s.items for s in surveys if s is not None and len(s.items)]
            if not parts:
                raise DataValidationError("the files hold no rows", source=self.files[0])
            vocab = pl.Series("item_id", pa.chunked_array(parts)).unique().sort()
        else:
            vocab = item_ids
        n_users = sum(s.n_users for s in surveys if s is not None)
        tau = sample_threshold(n_users, sample_users)
        vocab_key = hashlib.sha256(pl.DataFrame({"v": vocab}).write_ipc(None).getvalue()).hexdigest()
        options = f"{_SCAN_VERSION}|{columns}|{tau}|{chunk_rows}|{vocab_key}|{cap}|{cap_seed}"
        self.keys = [hashlib.sha256(f"{s.sha256}|{options}".encode()).hexdigest()[:32] for s in surveys if s]
        shared = _ScanShared(vocab.to_arrow(), columns, tau, chunk_rows, str(cache_dir), cap, cap_seed)
        scans: list[_FileScan | None] = [None] * n
        tasks = [(i, f, k) for i, (f, k) in enumerate(zip(self.files, self.keys, strict=True))]
        self.progress("reading users and items", 0, n, "")
        rows_read = 0
        for done, (i, scan) in enumerate(backend.map(_scan_file, shared, tasks), 1):
            scans[i] = scan
            rows_read += scan.n_rows
            self.progress("reading users and items", done, n, f"{rows_read:,} rows read")
        self.chunks = [s.chunk_files for s in scans if s is not None]
        self.cached_scans = sum(s.cached for s in scans if s is not None)
        self.cached_passes = 0
        self._summary = _summary(vocab, items, name, [s for s in scans if s is not None], columns, self.files, cap,
                                 cap_seed)

    @property
    def summary(self) -> ScanSummary:
        return self._summary

    def _pass(self, label: str, tag: str, keyed: Sequence[np.ndarray], fn: Callable[..., Any], shared: Any,
              totals: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One pass of ``fn`` over every file's cached chunks, its int64 outputs summed into ``totals``
        (zeros, in the order ``fn`` returns them, a None output skipped; integers, so exact in any order),
        or the pass read back from the cache, keyed by the files, ``tag`` and the bytes of ``keyed``."""
        self._passes += 1
        digest = hashlib.sha256(("|".join(self.keys) + tag).encode())
        for array in keyed:
            digest.update(np.ascontiguousarray(array).tobytes())
        cached = self.cache_dir / "passes" / f"{digest.hexdigest()[:32]}.npz"
        label = f"{label} {self._passes}"
        n = len(self.chunks)
        if cached.is_file():
            with np.load(cached, allow_pickle=False) as z:
                self.progress(f"{label} (cached)", n, n, "")
                self.cached_passes += 1
                return {name: z[name] for name in totals}
        self.progress(label, 0, n, "")
        for done, (_, out) in enumerate(self.backend.map(fn, shared, self.chunks), 1):
            parts = [part for part in (out if isinstance(out, tuple) else (out,)) if part is not None]
            for name, part in zip(totals, parts, strict=True):
                totals[name] += part
            self.progress(label, done, n, "")
        cached.parent.mkdir(parents=True, exist_ok=True)
        _save_npz(cached, **totals)
        return totals

    def note(self, text: str) -> None:
        self.progress(text, 0, 0, "")

    def gram(self, items: np.ndarray) -> np.ndarray:
        k = len(items)
        return self._pass("co-occurrence pass", "|gram|", [np.asarray(items, np.int64)], _gram_file,
                          (items, len(self._summary.item_ids)), {"gram": np.zeros((k, k), np.int64)})["gram"]

    def pair_gram(self, items: np.ndarray) -> np.ndarray:
        bits = normalised_bits(self._summary.n_users) - 1  # w_u ≤ √2
        k = len(items)
        out = self._pass("co-occurrence pass", f"|pairs|{bits}|", [np.asarray(items, np.int64)], _pair_gram_file,
                         (items, len(self._summary.item_ids), bits), {"gram": np.zeros((k, k), np.int64)})
        return np.ldexp(out["gram"].astype(np.float64), -bits)

    def normalised(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bits = normalised_bits(self._summary.n_users)
        k = len(items)
        out = self._pass("co-occurrence pass", f"|normalised|{bits}|", [np.asarray(items, np.int64)],
                         _normalised_file, (items, len(self._summary.item_ids), bits),
                         {"gram": np.zeros((k, k), np.int64), "taste": np.zeros(k, np.int64)})
        return np.ldexp(out["gram"].astype(np.float64), -bits), np.ldexp(out["taste"].astype(np.float64), -bits)

    def xtx(self, basis: np.ndarray, bits: int, top: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        totals = {"total": np.zeros(basis.shape, np.int64)}
        if top is not None:
            totals["gram"] = np.zeros((len(top), len(top)), np.int64)
        keyed = [basis] if top is None else [basis, np.asarray(top, np.int64)]
        out = self._pass("factor pass", f"|xtx|{bits}|{top is not None}|", keyed, _product_file, (basis, bits, top),
                         totals)
        return out["total"], out.get("gram")


# ---------------------------------------------------------------------------------------------- entry points


def fit_streaming(
    generator: Any,
    source: str | Path | Sequence[str | Path],
    *,
    columns: LogColumns | None = None,
    backend: Backend | None = None,
    cache_dir: str | Path | None = None,
    sample_users: int = DEFAULT_SAMPLE_USERS,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    item_ids: pl.Series | Sequence[Any] | None = None,
    progress: ProgressFn | None = None,
    resumed: dict[str, int] | None = None,
) -> Any:
    """Fit ``generator`` on the Parquet log ``source`` in passes (see the module docstring); returns it.

    Args:
        generator: a `LatentFactorGenerator` or an `ItemWalkGenerator`, exact or user-level DP (refitted
            if fitted).
        source: a Parquet file, a folder of them, or a list of files (`synthrec.scale.stats.parquet_files`).
        columns: the log's column names and time unit (default: ``user``, ``item``, no time, no rating).
        backend: where files are processed (default: this process). The same generator on every backend.
        cache_dir: where scans and passes are kept for a resumed fit (default: a temporary folder).
        sample_users: about this many users (chosen by a hash of their id) fit the per-user parts.
        chunk_rows: rows per chunk of a file (memory per worker; the result does not depend on it).
        item_ids: the catalogue, fixing the item order (default: the sorted distinct items of the files).
        progress: called as ``progress(stage, done, total, note)`` as passes go (``note``: e.g. rows read).
        resumed: if given, filled with ``cached_scans`` and ``cached_passes``, how many file scans and
            passes were read back from ``cache_dir`` (kept off the generator, whose saved bytes must not
            depend on whether the fit resumed).

    Raises:
        DataValidationError: no Parquet file, a missing column, a null id or time or rating, an item
            outside ``item_ids``, a user whose rows span two files or are not contiguous in one.
        ConfigError: a generator without a streaming fit; a bad ``sample_users``/``chunk_rows``.
    """
    fit_from_source, cap = _streaming_fit_of(generator)
    for label, value in (("sample_users", sample_users), ("chunk_rows", chunk_rows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{label} must be an integer >= 1, got {value!r}")
    files = parquet_files(source)
    columns = columns or LogColumns()
    vocab = None if item_ids is None else (item_ids if isinstance(item_ids, pl.Series)
                                           else pl.Series("item_id", list(item_ids)))
    name = _display(str(source)) if isinstance(source, (str, Path)) else _display(files[0])
    runner = backend or InProcessBackend()
    temporary = cache_dir is None
    folder = Path(tempfile.mkdtemp(prefix="synthrec-fit-")) if temporary else Path(cache_dir)  # type: ignore[arg-type]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        pass_source = ParquetPassSource(files, columns, backend=runner, cache_dir=folder, sample_users=sample_users,
                                        chunk_rows=chunk_rows, item_ids=vocab, items=None, name=name,
                                        progress=progress, cap=cap, cap_seed=generator.seed)
        fit_from_source(generator, pass_source)
        generator.fit_report_["streaming"]["files"] = len(files)  # type: ignore[attr-defined]
        if resumed is not None:  # not on the generator: the model file must not depend on how the run went
            resumed.update(cached_scans=pass_source.cached_scans, cached_passes=pass_source.cached_passes)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
    return generator


def fit_in_passes(generator: Any, data: InteractionData, *, sample_users: int = DEFAULT_SAMPLE_USERS) -> Any:
    """The same fit as `fit_streaming`, from a log in memory (the reference the streaming fit equals)."""
    fit_from_source, cap = _streaming_fit_of(generator)
    fit_from_source(generator, InMemoryPassSource(data, sample_users=sample_users, cap=cap,
                                                  cap_seed=generator.seed))
    return generator


#: the generators with a fit in passes (registry names, for messages)
STREAMING_GENERATORS = ("latent-factor", "item-walk")


def _streaming_fit_of(generator: Any) -> tuple[Callable[[Any, Any], None], int | None]:
    """The fit-from-passes function of ``generator``'s class, and the contribution cap its scan applies
    (a DP latent-factor fit reads each user's items cut to ``max_items_per_user``; None: no cap).

    Raises:
        ConfigError: a generator without one.
    """
    from synthrec.generators.item_walk import ItemWalkGenerator
    from synthrec.generators.latent_factor import LatentFactorGenerator

    if isinstance(generator, LatentFactorGenerator):
        from synthrec.generators._latent_factor_stream import fit_latent_factor_from_source

        private = generator.epsilon is not None and bool(np.isfinite(generator.epsilon))
        return fit_latent_factor_from_source, (generator.max_items_per_user if private else None)  # type: ignore[return-value]
    if isinstance(generator, ItemWalkGenerator):
        from synthrec.generators._item_walk_stream import fit_item_walk_from_source

        return fit_item_walk_from_source, None  # type: ignore[return-value]
    raise ConfigError(f"a streaming fit is available for {' and '.join(STREAMING_GENERATORS)} only, not "
                      f"{type(generator).__name__}; fit other generators in memory")


def _display(name: str) -> str:
    """A file or folder name without its path (as `BaseGenerator` keeps ``source_name_``)."""
    return Path(str(name).rstrip("/")).name or str(name)
