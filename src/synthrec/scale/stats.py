"""Sufficient statistics of an interaction log stored as Parquet files, computed file by file.

The statistics a fidelity check or a generator fit needs, for a log larger than memory:

* item counts ``c_i`` — distinct users per item (a repeated (user, item) pair counts once);
* the item–item Gram matrix ``G = XᵀX`` of the binary user × item matrix X: ``G_ij`` = users who have
  both i and j, ``G_ii = c_i`` (the co-occurrence moment of `LatentFactorGenerator`, step 5);
* the activity histogram ``h[n]`` = users with exactly ``n`` distinct items.

Each file is read as `pyarrow.dataset` record batches of the two id columns only and reduced on a worker
to partial sums (``c``, ``G``, ``h`` of its users), which are added up here; the partial results are
integers, so the totals are exactly those of the in-memory computation (`interaction_stats`), on any
backend. Memory per worker: one file's id columns plus one Gram matrix.

**Users must not span files**: X is built per file, so a user whose rows are in two files would count as
two users. Output of `synthrec generate` satisfies this (a shard holds whole users). With
``check_users=True`` (default) the 64-bit hashes of every file's users are compared (8 bytes per user
here) and a user found in two files raises an error instead of giving wrong statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.errors import DataValidationError
from synthrec.scale.backends import Backend, InProcessBackend
from synthrec.scale.manifest import Manifest

#: the log file of a `synthrec simulate` output folder (beside users.parquet and items.parquet)
SIMULATED_LOG = "interactions.parquet"
#: catalogues up to this many items get a dense (m × m) int64 Gram matrix (2,048² × 8 B = 32 MiB)
DENSE_MAX_ITEMS = 2048
_HASH_SEED = 0  # fixed, so every worker hashes a user id alike


@dataclass(frozen=True)
class SufficientStats:
    """Counts of a binary user × item log over a fixed item vocabulary.

    Attributes:
        item_ids: external item ids, length m; position = dense item id used by the arrays.
        item_counts: int64 ``(m,)``, distinct users per item.
        gram: int64 ``(m, m)`` ``XᵀX``: a numpy array when m ≤ ``dense_max_items``, else scipy CSR.
        activity_hist: int64 ``(max activity + 1,)``, users per number of distinct items.
        n_users: users with at least one row.
        n_pairs: distinct (user, item) pairs (= ``item_counts.sum()``).
        n_rows: rows read (repeated pairs included).
    """

    item_ids: pl.Series
    item_counts: np.ndarray
    gram: np.ndarray | sp.csr_matrix
    activity_hist: np.ndarray
    n_users: int
    n_pairs: int
    n_rows: int


@dataclass(frozen=True)
class _FileTask:
    path: str
    user_col: str
    item_col: str
    batch_rows: int
    dense: bool
    check_users: bool


@dataclass(frozen=True)
class _Partial:
    counts: np.ndarray
    gram: np.ndarray | sp.csr_matrix
    activity: np.ndarray
    n_users: int
    n_rows: int
    user_hashes: np.ndarray


def parquet_files(source: str | Path | Sequence[str | Path]) -> list[str]:
    """The Parquet files of ``source``, in a stable order.

    ``source`` is a folder written by `synthrec generate` (its manifest lists the shards, in shard
    order), a folder written by `synthrec simulate` (its ``interactions.parquet``, not the users and items
    tables), any other folder (every ``*.parquet`` file under it, in sorted order, names starting with
    ``.`` or ``_`` and files of other suffixes skipped), one file, or a list of files.

    Raises:
        DataValidationError: nothing Parquet is found, a file is not Parquet (its first bytes say so), the
            manifest's run is incomplete or not Parquet.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            manifest = Manifest.read(path)
            if manifest is not None:
                if manifest.format != "parquet":
                    raise DataValidationError(f"the shards are {manifest.format}, not parquet", source=str(path),
                                              hint="generate with --format parquet to compute statistics")
                if not manifest.complete:
                    raise DataValidationError(
                        f"the run is incomplete ({len(manifest.shards)} of {manifest.n_shards} shards)",
                        source=str(path), hint="rerun `synthrec generate` with the same options to finish it")
                return [str(path / manifest.shards[i].file) for i in sorted(manifest.shards)]
            if (path / SIMULATED_LOG).is_file():  # `synthrec simulate` output: the log, not its tables
                return [str(path / SIMULATED_LOG)]
            # only *.parquet: a folder may also hold a README, a CSV export or a --cache-dir of .npz files;
            # hidden names skipped as pyarrow.dataset does
            files = sorted(str(f) for f in path.rglob("*") if f.is_file() and f.suffix.lower() == ".parquet"
                           and not any(part.startswith((".", "_")) for part in f.relative_to(path).parts))
        elif path.is_file():
            files = [str(path)]
        else:
            raise DataValidationError("no such file or folder", source=str(path))
    else:
        files = [str(p) for p in source]
    if not files:
        raise DataValidationError("no Parquet files found", source=str(source),
                                  hint="point at a folder of .parquet files or the --out of `synthrec generate`")
    for f in files:
        _require_parquet(f)
    return files


def _require_parquet(path: str) -> None:
    """Raise unless ``path`` starts with Parquet's magic bytes (a CSV given where Parquet is read)."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise DataValidationError(f"cannot read it ({(exc.strerror or str(exc)).lower()})", source=path) from None
    if magic != b"PAR1":
        raise DataValidationError(
            "not a Parquet file (streaming statistics and fits read Parquet only)", source=path,
            hint="convert it first, e.g. python -c \"import polars as pl; pl.read_csv('log.csv')"
                 ".write_parquet('log.parquet')\"; `synthrec fit` without --streaming reads it in memory")


def sufficient_stats(
    source: str | Path | Sequence[str | Path],
    *,
    user_col: str = "user",
    item_col: str = "item",
    item_ids: pl.Series | Sequence[Any] | None = None,
    backend: Backend | None = None,
    dense_max_items: int = DENSE_MAX_ITEMS,
    batch_rows: int = 1 << 20,
    check_users: bool = True,
) -> SufficientStats:
    """Item counts, Gram matrix and activity histogram of a Parquet log, one file per task.

    Args:
        source: see `parquet_files`.
        user_col, item_col: the id columns (any type; external ids).
        item_ids: the item vocabulary fixing the order of the arrays (e.g. the generator's
            ``item_ids_``); by default a first pass collects the distinct items of every file and sorts
            them. An item outside a given vocabulary raises.
        backend: where files are processed (default: this process).
        dense_max_items: largest catalogue with a dense Gram matrix.
        batch_rows: rows per record batch read.
        check_users: detect users spanning files (see the module docstring).

    Returns:
        `SufficientStats`, equal to `interaction_stats` of the same log held in memory.

    Raises:
        DataValidationError: a column is missing (names file and column), an item is not in
            ``item_ids``, a null id, or a user found in two files.
    """
    files = parquet_files(source)
    runner = backend or InProcessBackend()
    if item_ids is None:
        uniques = [u for _, u in runner.map(_distinct_items, item_col, files) if len(u)]
        if not uniques:
            raise DataValidationError("the files hold no rows", source=files[0])
        vocab = pl.Series(item_col, pa.chunked_array(uniques)).unique().sort()
    else:
        vocab = item_ids if isinstance(item_ids, pl.Series) else pl.Series(item_col, list(item_ids))
    vocab_arrow = vocab.to_arrow()
    m = len(vocab)
    dense = m <= dense_max_items
    tasks = [_FileTask(f, user_col, item_col, batch_rows, dense, check_users) for f in files]
    counts = np.zeros(m, np.int64)
    gram: np.ndarray | sp.csr_matrix = np.zeros((m, m), np.int64) if dense else sp.csr_matrix((m, m), dtype=np.int64)
    activity = np.zeros(1, np.int64)
    n_users = n_rows = 0
    hashes: list[np.ndarray] = []
    for _, part in runner.map(_file_stats, vocab_arrow, tasks):
        counts += part.counts
        if isinstance(gram, np.ndarray):
            gram += part.gram
        else:
            gram = gram + part.gram
        if len(part.activity) > len(activity):
            activity = np.pad(activity, (0, len(part.activity) - len(activity)))
        activity[: len(part.activity)] += part.activity
        n_users += part.n_users
        n_rows += part.n_rows
        hashes.append(part.user_hashes)
    if check_users:
        _check_users_disjoint(hashes, files)
    return SufficientStats(vocab.alias("item_id"), counts, gram if dense else sp.csr_matrix(gram), activity,
                           n_users, int(counts.sum()), n_rows)


def interaction_stats(data: InteractionData, *, dense_max_items: int = DENSE_MAX_ITEMS) -> SufficientStats:
    """The same statistics computed in memory from an `InteractionData` (the reference).

    Returns:
        `SufficientStats` over ``data.item_ids``; ``n_users`` counts users with at least one row.
    """
    x = data.to_csr("binary").astype(np.int64)
    return _stats_of_matrix(x, data.item_ids, data.n_interactions, dense_max_items)


def _stats_of_matrix(x: sp.csr_matrix, item_ids: pl.Series, n_rows: int, dense_max_items: int) -> SufficientStats:
    p = _partial_of_matrix(x, x.shape[1] <= dense_max_items, n_rows, np.empty(0, np.uint64))
    gram = p.gram if isinstance(p.gram, np.ndarray) else sp.csr_matrix(p.gram)
    return SufficientStats(item_ids.alias("item_id"), p.counts, gram, p.activity, p.n_users, int(p.counts.sum()),
                           n_rows)


def _partial_of_matrix(x: sp.csr_matrix, dense: bool, n_rows: int, user_hashes: np.ndarray) -> _Partial:
    """Partial sums of a binary int64 CSR (rows = users, only users with rows)."""
    counts = np.bincount(x.indices, minlength=x.shape[1]).astype(np.int64)
    gram = (x.T @ x).tocsr().astype(np.int64)
    activity_per_user = np.diff(x.indptr)
    active = activity_per_user > 0
    activity = np.bincount(activity_per_user[active]).astype(np.int64) if active.any() else np.zeros(1, np.int64)
    return _Partial(counts, gram.toarray() if dense else gram, activity, int(active.sum()), n_rows, user_hashes)


def _column_batches(path: str, columns: list[str], batch_rows: int) -> ds.Scanner:
    dataset = ds.dataset(path, format="parquet")
    missing = [c for c in columns if c not in dataset.schema.names]
    if missing:
        raise DataValidationError(f"column(s) {', '.join(missing)} missing (found {', '.join(dataset.schema.names)})",
                                  source=path, column=missing[0], hint="pass --user-col/--item-col (user_col=, item_col=)")
    return dataset.scanner(columns=columns, batch_size=batch_rows)


def _distinct_items(item_col: str, path: str) -> pa.Array:
    """Distinct values of ``item_col`` in one file (runs on a worker)."""
    parts = [pc.unique(b.column(0)) for b in _column_batches(path, [item_col], 1 << 20).to_batches()]
    if not parts:
        return pa.array([])
    return pc.unique(pa.concat_arrays(parts))


def _file_stats(vocab: pa.Array, task: _FileTask) -> _Partial:
    """Partial statistics of one file's users (runs on a worker)."""
    user_chunks: list[pa.Array] = []
    item_chunks: list[np.ndarray] = []
    offset = 0
    for batch in _column_batches(task.path, [task.user_col, task.item_col], task.batch_rows).to_batches():
        users, items = batch.column(0), batch.column(1)
        dense_items = pc.index_in(items, value_set=vocab)
        bad = pc.is_null(dense_items)
        if pc.any(bad).as_py() or users.null_count:
            row = offset + int(np.flatnonzero(np.asarray(pc.or_(bad, pc.is_null(users)).to_numpy(zero_copy_only=False)))[0])
            value = items[row - offset].as_py()
            raise DataValidationError(
                f"null id, or item {value!r} not in the item vocabulary", source=task.path,
                column=task.item_col, row=row + 1, hint="pass the vocabulary of the data (item_ids=) or none",
            )
        user_chunks.append(users)
        item_chunks.append(dense_items.to_numpy(zero_copy_only=False).astype(np.int64))
        offset += batch.num_rows
    m = len(vocab)
    if not user_chunks:
        empty = sp.csr_matrix((0, m), dtype=np.int64)
        return _partial_of_matrix(empty, task.dense, 0, np.empty(0, np.uint64))
    encoded = pc.dictionary_encode(pa.concat_arrays(user_chunks))
    rows = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    cols = np.concatenate(item_chunks)
    n_local = len(encoded.dictionary)
    x = sp.csr_matrix((np.ones(len(rows), np.int64), (rows, cols)), shape=(n_local, m))
    x.sum_duplicates()
    x.data[:] = 1  # binary: a repeated pair counts once
    hashes = (np.sort(pl.Series(encoded.dictionary).hash(seed=_HASH_SEED).to_numpy()) if task.check_users
              else np.empty(0, np.uint64))  # sorted: what `_check_users_disjoint` compares
    return _partial_of_matrix(x, task.dense, len(rows), hashes)


#: user hashes compared at once by `_check_users_disjoint` (32 MiB of uint64; bounds the check's extra memory)
_DISJOINT_BUCKET = 1 << 22


def _check_users_disjoint(hashes: list[np.ndarray], files: list[str], *,
                          hint: str = "partition the log by user first (or pass check_users=False if you accept "
                                      "the error)") -> None:
    """Raise if a user hash is in two files' ``hashes`` (each uint64 and sorted).

    Compared one range of hash values at a time (slices of the sorted arrays, `_DISJOINT_BUCKET` hashes
    per range on average), so the check needs no concatenated copy of every user: at 10⁸ users that copy
    and its sort would be ≈ 3 GB.

    Raises:
        DataValidationError: naming the two files, with ``hint``.
    """
    if len(hashes) < 2:
        return
    total = sum(len(h) for h in hashes)
    n_buckets = max(1, -(-total // _DISJOINT_BUCKET))
    edges = [(b << 64) // n_buckets for b in range(n_buckets)]
    bounds = [[int(np.searchsorted(h, np.uint64(e))) for e in edges] + [len(h)] for h in hashes]
    for b in range(n_buckets):
        parts = [h[bound[b]:bound[b + 1]] for h, bound in zip(hashes, bounds, strict=True)]
        owner = np.repeat(np.arange(len(parts)), [len(part) for part in parts])
        merged = np.concatenate(parts)
        order = np.argsort(merged, kind="stable")
        dup = np.flatnonzero(merged[order][1:] == merged[order][:-1])
        if dup.size:
            first, second = sorted((int(owner[order[dup[0]]]), int(owner[order[dup[0] + 1]])))
            raise DataValidationError(
                f"a user has rows in two files ({files[first]} and {files[second]}); statistics are computed per "
                "file and need each user's rows in one file", source=files[second], hint=hint)
