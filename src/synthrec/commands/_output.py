"""Check, before any work, that a command can write where it was told to (one helper for every command).

A fit that runs for minutes and then fails on a read-only folder, or a traceback naming a temporary file,
is replaced by one line naming the path and what to do, with exit code 2.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from synthrec.commands._console import fail
from synthrec.errors import SynthrecError


class OutputNotWritableError(SynthrecError, OSError):
    """The output file or folder of a command cannot be written."""


def _probe_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) when missing, create and delete a file in it, then remove the
    folders this made: the check leaves nothing behind."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".synthrec-write-check.", dir=folder)
        os.close(fd)
        os.unlink(name)
    finally:
        for made in missing:  # deepest first
            try:
                made.rmdir()
            except OSError:
                pass


def _blocking_file(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` that is a file rather than a folder, if any."""
    for parent in [path, *path.parents]:
        if parent.exists():
            return parent if not parent.is_dir() else None
    return None


def check_writable(path: Path, *, kind: Literal["file", "folder"], option: str = "--out") -> None:
    """Raise unless ``path`` can be written: a file (its folder must be writable; it must not be a folder)
    or a folder (it must not be a file). Missing folders are created to try, then removed again.

    Args:
        path: the output file or folder.
        kind: ``"file"`` or ``"folder"``.
        option: the option or argument that named it, for the message (e.g. ``--out``).

    Raises:
        OutputNotWritableError: one line naming the path, the reason and what to do.
    """
    path = Path(path)
    fix = f"give {option} a path in a folder you can write to"
    if kind == "file" and path.is_dir():
        raise OutputNotWritableError(f"cannot write {option} {path}: it is a folder; give a file name inside "
                                     "it, or another path")
    if kind == "folder" and path.exists() and not path.is_dir():
        raise OutputNotWritableError(f"cannot write {option} {path}: it is a file, not a folder; {fix}")
    folder = path.parent if kind == "file" else path
    blocker = _blocking_file(folder)
    if blocker is not None:
        raise OutputNotWritableError(f"cannot write {option} {path}: {blocker} is a file, so no folder can be "
                                     f"made under it; {fix}")
    try:
        _probe_folder(folder)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        where = f"{exc.filename}: " if exc.filename and str(exc.filename) != str(folder) else ""
        raise OutputNotWritableError(f"cannot write {option} {path}: folder {folder} cannot be made or written "
                                     f"({where}{reason}); {fix}") from None


def require_writable(path: Path, *, kind: Literal["file", "folder"], option: str = "--out") -> None:
    """`check_writable` for a command: on failure print the one-line error and exit with code 2."""
    try:
        check_writable(path, kind=kind, option=option)
    except OutputNotWritableError as exc:
        fail(exc, soft_wrap=True)


def parse_time_type(value: str) -> str | None:
    """The ``--time-type`` of `synthrec sample` and `synthrec generate`: ``None`` for ``auto`` (the time type
    the generator recorded at fit time), else one of `synthrec.data.validation.TIME_TYPES`.

    Raises:
        ConfigError: an unknown value (with the closest valid one).
    """
    from synthrec.config import did_you_mean
    from synthrec.data.validation import TIME_TYPES
    from synthrec.errors import ConfigError

    if value == "auto":
        return None
    if value not in TIME_TYPES:
        raise ConfigError(f"--time-type must be auto, {', '.join(TIME_TYPES)}; got {value!r}"
                          f"{did_you_mean(value, ['auto', *TIME_TYPES])}")
    return value
