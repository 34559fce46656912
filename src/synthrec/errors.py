"""Exception types raised by synthrec.

Every error caused by the user's input names *where* the problem is (file, column, row) and *what to do*,
so that a message can be acted on without reading our source.
"""

from __future__ import annotations


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
