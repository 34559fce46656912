"""Sharded, resumable generation: every shard is one file, written atomically and recorded in the manifest.

`write_sharded` draws the shards of a `ShardPlan` on a backend. Each worker draws its shard
(`sample_shard`), writes it with **external ids** (users ``syn-<n>``, the generator's item ids) to a
hidden temporary name in the output folder, hashes it (SHA-256) and renames it to ``part-<s>.<ext>``.
The driver records each finished shard in ``_manifest.json`` (rewritten atomically, at most every
``manifest_interval_s`` seconds and at the end, also when the run fails or is interrupted).

Guarantees:

* **No half-written file looks complete.** Temporary names start with a dot (readers such as
  ``pyarrow.dataset`` skip them) and are removed by the next run; a final name only ever holds a whole
  shard.
* **Resume.** Rerunning with the same parameters skips every shard that is listed in the manifest AND
  whose file still has the recorded SHA-256; the others (missing, damaged, or finished after the last
  manifest write) are drawn again. Shards are deterministic, so a resumed run equals an uninterrupted one,
  with no lost or duplicated shard.
* **Same output on any backend**, since a shard depends only on (generator, seed, shard_users, index).

Formats: ``parquet`` (zstd, default), ``csv`` (comma-separated with header), ``recbole`` (each shard a
RecBole atomic ``.inter`` file with its own header: ``user_id:token``, ``item_id:token``,
``timestamp:float``, ``rating:float``). Columns: ``user``, ``item`` [, ``timestamp`` (s), ``rating``].

One run per output folder at a time: a second concurrent run in the same folder would delete the first
one's temporary files.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from synthrec.data.atomic import atomic_write
from synthrec.data.interactions import InteractionData
from synthrec.data.recbole import write_recbole
from synthrec.data.writers import external_frame, recorded_time_type
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators.base import BaseGenerator
from synthrec.scale.backends import Backend, InProcessBackend
from synthrec.scale.manifest import (
    Manifest,
    ShardRecord,
    file_sha256,
    generator_description,
    model_checksum,
)
from synthrec.scale.shards import DEFAULT_SHARD_USERS, Shard, ShardPlan, sample_shard

#: output format -> file suffix
FORMATS: dict[str, str] = {"parquet": ".parquet", "csv": ".csv", "recbole": ".inter"}


@dataclass(frozen=True)
class ShardTask:
    """What a worker needs besides the generator: the shard, where to write, and the earlier record."""

    shard: Shard
    folder: str
    format: str
    previous: ShardRecord | None = None
    time_type: str | None = None  # "auto" (None): the generator's recorded input time type


@dataclass(frozen=True)
class ShardOutcome:
    """A worker's report on one shard.

    Attributes:
        record: the manifest record of the file now in place.
        reused: True when the earlier file was kept (its checksum matched), False when drawn now.
        seconds: wall time the worker spent on the shard (drawing + writing + hashing).
        peak_rss_bytes: the worker process's peak resident memory so far (0 where unavailable).
    """

    record: ShardRecord
    reused: bool
    seconds: float
    peak_rss_bytes: int


def shard_file_name(shard: Shard, fmt: str) -> str:
    """``part-<index, 6 digits>.<ext>``, e.g. ``part-000003.parquet``."""
    return shard.file_stem() + FORMATS[fmt]


def write_shard(generator: BaseGenerator, task: ShardTask) -> ShardOutcome:
    """Draw and write one shard (runs on a worker); keep the earlier file if its checksum still matches.

    Raises:
        NotFittedError / ConfigError: from the generator.
        OSError: the folder is not writable.
    """
    start = time.perf_counter()
    name = shard_file_name(task.shard, task.format)
    path = Path(task.folder) / name
    prev = task.previous
    if prev is not None and prev.file == name and path.is_file() and file_sha256(path) == prev.sha256:
        return ShardOutcome(prev, True, time.perf_counter() - start, _peak_rss_bytes())
    data = sample_shard(generator, task.shard)
    time_type = task.time_type or recorded_time_type(generator)
    sha = _write_atomically(data, path, task.format, time_type)
    record = ShardRecord(index=task.shard.index, file=name, rows=data.n_interactions,
                         users=task.shard.n_users, sha256=sha, format=task.format)
    return ShardOutcome(record, False, time.perf_counter() - start, _peak_rss_bytes())


def write_sharded(
    generator: BaseGenerator,
    out: str | Path,
    *,
    n_users: int,
    seed: int = 0,
    shard_users: int = DEFAULT_SHARD_USERS,
    fmt: str = "parquet",
    backend: Backend | None = None,
    model_sha256: str | None = None,
    on_shard: Callable[[ShardOutcome], None] | None = None,
    manifest_interval_s: float = 2.0,
    time_type: str | None = None,
) -> Manifest:
    """Generate ``n_users`` synthetic users as shard files in ``out``, resuming an earlier run there.

    Args:
        generator: a fitted `BaseGenerator` (shipped once to each worker of ``backend``).
        out: output folder (created if missing).
        n_users: synthetic users in total (≥ 1).
        seed: integer seed (≥ 0); with ``shard_users`` it fixes the whole output.
        shard_users: users per shard (≥ 1). Memory per worker grows with it (about ``shard_users ×``
            mean activity rows), not with ``n_users``.
        fmt: ``parquet``, ``csv`` or ``recbole``.
        time_type: write times as ``"seconds"``, ``"date"`` or ``"datetime"``
            (`synthrec.data.writers.convert_times`); ``None``: the type `synthrec fit` recorded on the
            generator (`synthrec.data.writers.recorded_time_type`), else seconds. RecBole keeps seconds.
        backend: where shards run (default: in this process). The caller closes it.
        model_sha256: checksum recorded for the generator (default `model_checksum`; the CLI passes the
            saved file's SHA-256).
        on_shard: called in this process with each `ShardOutcome` as shards finish (progress bars).
        manifest_interval_s: least seconds between manifest rewrites during the run (0 = after every
            shard); a shard finished after the last rewrite is drawn again on resume.

    Returns:
        The final `Manifest` (``complete`` True), also written to ``out/_manifest.json``.

    Raises:
        ConfigError: bad ``fmt``/sizes, or ``out`` holds a manifest of a different run (names the
            differing parameters).
        DataValidationError: ``out`` is an existing file, or its manifest is unreadable.
        NotFittedError: the generator is not fitted.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not isinstance(generator, BaseGenerator):
        raise ConfigError(f"sharded generation needs a synthrec BaseGenerator, got {type(generator).__name__}")
    generator._require_fitted()
    plan = ShardPlan(n_users, shard_users, seed)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise DataValidationError("the output path is a file, not a folder", source=str(folder),
                                  hint="give a folder for the shard files, e.g. --out runs/synthetic")
    folder.mkdir(parents=True, exist_ok=True)
    written_type = "seconds" if fmt == "recbole" else (time_type or recorded_time_type(generator) or "seconds")
    manifest = Manifest(generator=generator_description(generator),
                        model_sha256=model_sha256 or model_checksum(generator), seed=seed, n_users=n_users,
                        shard_users=shard_users, n_shards=plan.n_shards, format=fmt, time_type=written_type)
    earlier = Manifest.read(folder)
    if earlier is not None:
        manifest.check_same_run(earlier, folder)
        manifest.shards = dict(earlier.shards)
    remove_temporary_files(folder)
    manifest.write(folder)
    tasks = [ShardTask(s, str(folder), fmt, manifest.shards.get(s.index), written_type) for s in plan]
    runner = backend or InProcessBackend()
    last_write = time.monotonic()
    try:
        for _, outcome in runner.map(write_shard, generator, tasks):
            manifest.shards[outcome.record.index] = outcome.record
            if on_shard is not None:
                on_shard(outcome)
            if time.monotonic() - last_write >= manifest_interval_s:
                manifest.write(folder)
                last_write = time.monotonic()
    finally:
        manifest.write(folder)  # also on failure or Ctrl-C: the shards finished so far are kept
    return manifest


def remove_temporary_files(folder: Path) -> list[Path]:
    """Delete the hidden temporary files (``.part-*.tmp``) and folders an interrupted run left behind."""
    removed = []
    for p in folder.glob(".part-*.tmp"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    for p in folder.glob("._manifest.json.*.tmp"):
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def _write_atomically(data: InteractionData, path: Path, fmt: str, time_type: str | None = None) -> str:
    """Write ``data`` with external ids to a temporary name, hash it, rename it to ``path``; return the hash.
    Times are written as ``time_type`` (`synthrec.data.writers.convert_times`; RecBole keeps seconds)."""
    if fmt == "recbole":
        return _write_recbole_shard(data, path)
    frame = external_frame(data, time_type=time_type)
    digest: list[str] = []

    def write(tmp: Path) -> None:
        if fmt == "parquet":
            frame.write_parquet(tmp, compression="zstd")
        else:
            frame.write_csv(tmp)
        digest.append(file_sha256(tmp))

    atomic_write(path, write)  # temporary name `.part-….<random>.tmp`, renamed when complete
    return digest[0]


def _write_recbole_shard(data: InteractionData, path: Path) -> str:
    """RecBole's writer into a hidden temporary folder, then move the ``.inter`` file into place."""
    interactions_only = InteractionData(data.interactions, data.user_ids, data.item_ids, None, None,
                                        name=path.stem)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        written = write_recbole(interactions_only, tmp_dir, path.stem)
        digest = file_sha256(written)
        os.replace(written, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return digest


def _peak_rss_bytes() -> int:
    """Peak resident set size of this process in bytes (0 where unavailable).

    Linux: ``VmHWM`` of /proc/self/status, the high-water mark of this process's own memory map.
    (``ru_maxrss`` would not do for spawned workers: Linux carries it over fork and exec, so a worker
    would report at least the driver's size at the time it was started.) Elsewhere ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux
