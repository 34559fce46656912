"""Exception types raised by synthrec.

Every error caused by the user's input names *where* the problem is (file, column, row) and *what to do*,
so that a message can be acted on without reading our source. The "did you mean" helpers for unknown
names (generators, models, their parameters, columns) live here too, from `difflib`, so that every layer
(``data/`` included) can build such a message without importing anything else of ours.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SynthrecError(Exception):
    """Base class of every error synthrec raises on purpose."""


class DataValidationError(SynthrecError, ValueError):
    """Input data is malformed: missing columns, NaN ids, wrong units, empty input, ...

    Attributes:
        source: file path or description of the frame (e.g. ``"<pandas DataFrame>"``).
        column: the offending column, if any.
        row: 1-based row number in the source (data rows, header excluded), if any.
        hint: what the user should do about it.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        column: str | None = None,
        row: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.column = column
        self.row = row
        self.hint = hint
        where = []
        if source:
            where.append(f"file {source}")
        if column:
            where.append(f"column '{column}'")
        if row is not None:
            where.append(f"row {row}")
        msg = problem if not where else f"{', '.join(where)}: {problem}"
        if hint:
            msg = f"{msg}. {hint}"
        super().__init__(msg)


class ConfigError(SynthrecError, ValueError):
    """A configuration (YAML file or constructor arguments) is invalid or inconsistent."""


class NotFittedError(SynthrecError, RuntimeError):
    """A model or generator was used before ``fit`` was called."""


class UnknownIdError(SynthrecError, KeyError):
    """An external user or item id is not in the vocabulary of the fitted data."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


# "Did you mean" hints ------------------------------------------------------------------------------


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The ``choices`` closest to ``word`` (best first, at most ``n``), ignoring case, ``-`` and ``_``:
    ``close_matches("latent-factr", ["latent-factor", "vae"])`` → ``["latent-factor"]``."""
    if not isinstance(word, str):
        return []
    options = [str(c) for c in choices]
    folded = {_fold(c): c for c in options}
    hits = difflib.get_close_matches(_fold(word), list(folded), n=n, cutoff=0.6)
    return [folded[h] for h in hits]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the closest of ``choices``, or ``""`` when none is close: meant to sit
    between an error's first clause and its list of valid names."""
    hits = close_matches(word, choices, n=1)
    return f"did you mean {hits[0]!r}? " if hits else ""


def did_you_mean_each(words: Iterable[str], choices: Iterable[str]) -> str:
    """`did_you_mean` for several unknown words: ``"did you mean 'n_factors' (for n_fctors)? "`` per word
    with a close match; a single word gets the plain form."""
    words = list(words)
    options = list(choices)
    if len(words) == 1:
        return did_you_mean(words[0], options)
    parts = []
    for w in words:
        hits = close_matches(w, options, n=1)
        if hits:
            parts.append(f"{hits[0]!r} for {w}")
    return f"did you mean {', '.join(parts)}? " if parts else ""


def _fold(name: str) -> str:
    return name.lower().replace("_", "-")
