"""Atomic file output: write to a temporary name beside the target, then rename.

A failed or interrupted write never leaves a file that looks complete, and never half-overwrites an
earlier complete one. Used by every writer in synthrec.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from synthrec.errors import DataValidationError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and rename ``tmp_path`` to ``path`` when it returns.

    The file gets the usual permissions (0666 less the umask), not mkstemp's private 0600.

    Raises:
        DataValidationError: ``path`` is an existing folder.
    """
    path = Path(path)
    if path.is_dir():
        raise DataValidationError("the output path is a folder", source=str(path),
                                  hint="give a file name, e.g. out/generator.synthrec")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically (see `atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
