"""Plumbing shared by the torch models and generators: device choice, seeding, ordered sequences,
windows, negative sampling.

It sits at package level because both `synthrec.models` (SASRec, MF-BPR) and `synthrec.generators`
(SequenceGenerator, and through `synthrec.generators._torch` the VAE and the GAN) use it, and generators never import models (DESIGN.md). It imports only
`synthrec.data` and `synthrec.errors`; torch is imported inside the functions that need it, so importing
this module stays cheap. Everything is plain torch (no Lightning); models run on the CPU unless a
``device`` is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from synthrec.data.interactions import ITEM, TIMESTAMP, USER, InteractionData
from synthrec.errors import ConfigError, DataValidationError

if TYPE_CHECKING:  # torch is imported inside the functions: importing this module stays cheap
    import torch


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The torch device to train and sample on (the one implementation for models and generators).

    Args:
        device: ``None`` or ``"cpu"`` (the CPU), ``"auto"`` (CUDA when available, else the CPU), a CUDA
            spec such as ``"cuda"`` / ``"cuda:1"``, ``"mps"`` (Apple GPUs), or a ``torch.device``.

    Returns:
        a ``torch.device`` of type cpu, cuda or mps.

    Raises:
        ConfigError: the spec is not a device name, names another device type, or asks for CUDA / MPS on a
            machine without it (the message says to use ``device='cpu'`` or ``'auto'``).
    """
    import torch

    if device is None:
        return torch.device("cpu")
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = device if isinstance(device, torch.device) else torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device must be 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto', got {device!r} "
                          f"({exc})") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device must be 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto', got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but CUDA is not available here (torch sees no CUDA device); "
                          "use device='cpu' or 'auto'")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device={device!r} but MPS is not available here; use device='cpu' or 'auto'")
    return dev


def torch_generator(seed: int) -> Any:
    """A CPU ``torch.Generator`` seeded with ``seed`` (used for weight initialisation and dropout-free
    draws, so results do not depend on the global torch RNG)."""
    import torch

    g = torch.Generator(device="cpu")
    g.manual_seed(int(seed))
    return g


def ordered_events(data: InteractionData) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Events grouped by user, each user's events in time order.

    Time order is ``timestamp`` with ties broken by the source row order (stable, never by item id:
    PITFALLS P1); without a timestamp column, the row order is the time order (as in
    `synthrec.data.splits`).

    Returns:
        ``(users, items, times)``: int64 arrays of length ``n_interactions`` sorted by (user, time, row);
        ``times`` is int64 seconds, or None when the data has no timestamp column.

    Raises:
        DataValidationError: a timestamp is missing.
    """
    df = data.interactions
    users = df[USER].to_numpy().astype(np.int64)
    items = df[ITEM].to_numpy().astype(np.int64)
    rows = np.arange(len(users), dtype=np.int64)
    times: np.ndarray | None = None
    if data.has_timestamp:
        ts = df[TIMESTAMP]
        if ts.null_count():
            raise DataValidationError(
                f"{ts.null_count()} missing timestamp(s); sequence models need every event's time",
                source=data.name, column=TIMESTAMP, row=int(ts.is_null().arg_true()[0]) + 1,
                hint="drop those rows, or drop the timestamp column to use row order as time order",
            )
        times = ts.to_numpy().astype(np.int64)
        order = np.lexsort((rows, times, users))
        times = times[order]
    else:
        order = np.lexsort((rows, users))
    return users[order], items[order], times


def group_offsets(sorted_groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Start offsets ``(n_groups + 1,)`` of each group id in a non-decreasing int array."""
    return np.searchsorted(sorted_groups, np.arange(n_groups + 1))


def last_window(
    indptr: np.ndarray, values: np.ndarray, width: int, fill: int, *, dtype: Any = np.int64
) -> np.ndarray:
    """The last ``width`` values of each CSR-style segment, right-aligned, left-padded with ``fill``.

    Args:
        indptr: int ``(n + 1,)`` segment offsets into ``values``.
        values: ``(nnz,)`` values in segment order (e.g. items, most recent last).
        width: columns of the output, ``>= 1``.
        fill: value of the padding cells.

    Returns:
        array ``(n, width)`` of ``dtype``; row r ends with the last ``min(len_r, width)`` values of
        segment r, in order.
    """
    n = len(indptr) - 1
    out = np.full((n, width), fill, dtype=dtype)
    lengths = np.diff(indptr)
    take = np.minimum(lengths, width)
    total = int(take.sum())
    if total == 0:
        return out
    owner = np.repeat(np.arange(n), take)
    first_taken = np.cumsum(take) - take
    rank = np.arange(total) - first_taken[owner]  # 0 .. take-1 within the row
    src = indptr[1:][owner] - take[owner] + rank
    out[owner, width - take[owner] + rank] = values[src]
    return out


def pair_keys(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """int64 keys ``user * n_items + item`` identifying (user, item) pairs."""
    return np.asarray(users, np.int64) * np.int64(n_items) + np.asarray(items, np.int64)


def sample_negatives(
    users: np.ndarray,
    seen_keys: np.ndarray,
    n_items: int,
    rng: np.random.Generator,
    *,
    rounds: int = 10,
) -> np.ndarray:
    """One uniformly drawn item per entry of ``users`` that the user has not interacted with.

    Rejection sampling, vectorised: draw uniformly from ``[0, n_items)``, redraw the entries that hit a
    seen (user, item) pair, up to ``rounds`` times (a user who has seen a fraction f of the catalogue
    keeps a seen item with probability f**(rounds + 1); with f ≤ 0.5 and 10 rounds that is < 0.05 %).

    Args:
        users: int ``(n,)`` user of each draw.
        seen_keys: sorted int64 `pair_keys` of every seen (user, item) pair.
        n_items: catalogue size.
        rng: the random source.

    Returns:
        int64 ``(n,)`` item ids in ``[0, n_items)``.
    """
    users = np.asarray(users, np.int64)
    neg = rng.integers(0, n_items, size=len(users))
    todo = np.arange(len(users))
    for _ in range(rounds):
        if not todo.size or not seen_keys.size:
            break
        keys = pair_keys(users[todo], neg[todo], n_items)
        pos = np.minimum(np.searchsorted(seen_keys, keys), len(seen_keys) - 1)
        todo = todo[seen_keys[pos] == keys]
        neg[todo] = rng.integers(0, n_items, size=todo.size)
    return neg


def csr_sequences(histories: sp.csr_matrix, item_position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order each history row's items by a per-item typical position (ascending; ties by item id).

    Used when a sequence model is given only an unordered history matrix.

    Args:
        histories: binary CSR ``(n, n_items)`` with sorted indices.
        item_position: float ``(n_items,)``; smaller = typically earlier in a history.

    Returns:
        ``(indptr, items)``: CSR-style offsets ``(n + 1,)`` and int64 items, each row in the new order.
    """
    h = sp.csr_matrix(histories)
    rows = np.repeat(np.arange(h.shape[0]), np.diff(h.indptr))
    items = h.indices.astype(np.int64)
    order = np.lexsort((items, item_position[items], rows))
    return h.indptr.astype(np.int64), items[order]


def sequences_to_segments(sequences: Any, n_rows: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate explicit sequences (most recent last) and return CSR-style ``(indptr, items)``.

    Args:
        sequences: a list of 1-D int arrays (one per history row), or a 2-D int array ``(n_rows, L)``
            whose negative cells are padding (dropped wherever they are; the order of the rest is kept).
        n_rows: number of history rows they must match.
        n_items: catalogue size; every non-padding id must lie in ``[0, n_items)``.

    Raises:
        DataValidationError: wrong number of rows, non-integer values, or an id outside the catalogue.
    """
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
        arr = sequences
        if not np.issubdtype(arr.dtype, np.integer):
            raise DataValidationError(f"sequences must hold integer item ids, got dtype {arr.dtype}",
                                      source="sequences", hint="pass dense item ids, padding as -1")
        if arr.shape[0] != n_rows:
            raise DataValidationError(f"sequences have {arr.shape[0]} rows but histories have {n_rows}",
                                      source="sequences", hint="give one sequence per history row")
        keep = arr >= 0
        indptr = np.r_[0, np.cumsum(keep.sum(axis=1))].astype(np.int64)
        items = arr[keep].astype(np.int64)  # row-major: keeps each row's order
    else:
        seqs = list(sequences)
        if len(seqs) != n_rows:
            raise DataValidationError(f"sequences have {len(seqs)} rows but histories have {n_rows}",
                                      source="sequences", hint="give one sequence per history row")
        parts = [np.asarray(s).ravel() for s in seqs]  # one array per user, not per interaction
        for r, p in enumerate(parts):
            if p.size and not np.issubdtype(p.dtype, np.integer):
                raise DataValidationError(f"sequence holds non-integer values (dtype {p.dtype})",
                                          source="sequences", row=r + 1, hint="pass dense item ids")
        lengths = np.array([p.size for p in parts], dtype=np.int64)
        indptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        items = np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)
        keep = items >= 0
        if not keep.all():
            rows = np.repeat(np.arange(n_rows), lengths)[keep]
            items = items[keep]
            indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n_rows))].astype(np.int64)
    if items.size and items.max() >= n_items:
        bad = int(np.flatnonzero(items >= n_items)[0])
        row = int(np.searchsorted(indptr, bad, side="right")) - 1
        raise DataValidationError(f"item id {int(items[bad])} is outside the catalogue of {n_items} items",
                                  source="sequences", row=row + 1,
                                  hint="sequences hold dense item ids of the fitted catalogue")
    return indptr, items


@contextmanager
def seeded(seed: int, device: str | torch.device | None) -> Iterator[None]:
    """Run a block with torch's global RNG seeded to ``seed`` (and deterministic kernels on CUDA),
    restoring the caller's random state and flags afterwards.

    Weight initialisation and dropout draw from torch's global generator; `torch.random.fork_rng` saves
    it (and the CUDA generator of ``device``) and restores it on exit, so a model's training is a
    function of its own ``seed`` without disturbing the caller. On CUDA, ``torch.use_deterministic_algorithms``
    (warn-only) and cuDNN's deterministic flags are turned on inside the block and restored on exit; on
    the CPU the kernels used here are deterministic already, and turning the flag on imports torch's
    compiler stack (~7 s), so it is left alone. On the CPU, the same seed and the same number of threads
    give bit-identical weights.

    Args:
        seed: int >= 0.
        device: where the block runs (anything `resolve_device` accepts).
    """
    import torch

    dev = resolve_device(device)
    cuda = dev.type == "cuda"
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn_det, cudnn_bench = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    with torch.random.fork_rng(devices=[dev] if cuda else [], device_type="cuda" if cuda else "cpu"):
        torch.manual_seed(int(seed))
        if cuda:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn_det, cudnn_bench


#: the name the sequence models use for `seeded` (one implementation, two names)
seeded_torch = seeded


def item_positions(indptr: np.ndarray, items: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum of relative positions and counts per item over ordered histories.

    The relative position of the j-th of n events of a history is ``j / (n − 1)`` (0 = first, 1 = last;
    0.5 for a single event). ``sums / counts`` is an item's typical position, used to order unordered
    histories (`csr_sequences`).

    Returns:
        ``(sums, counts)``, float64 ``(n_items,)`` each.
    """
    lengths = np.diff(indptr)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    rank = np.arange(len(items)) - indptr[:-1][owner]
    span = np.maximum(lengths[owner] - 1, 1)
    q = np.where(lengths[owner] > 1, rank / span, 0.5)
    return (np.bincount(items, weights=q, minlength=n_items).astype(np.float64),
            np.bincount(items, minlength=n_items).astype(np.float64))
