"""Rich progress bars that switch off cleanly (tests, --quiet, non-interactive CI logs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class StepProgress:
    """A counter of finished steps with a description of the current one; no-op when disabled."""

    def __init__(self, progress: Progress | None, total: int, description: str) -> None:
        self._progress = progress
        self._task = progress.add_task(description, total=total) if progress is not None else None

    def describe(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)

    def advance(self, steps: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, steps)


@contextmanager
def step_progress(total: int, description: str, *, enabled: bool = True,
                  console: Console | None = None) -> Iterator[StepProgress]:
    """Context manager yielding a `StepProgress` shown as a rich progress bar when ``enabled``."""
    if not enabled:
        yield StepProgress(None, total, description)
        return
    columns = (
        SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield StepProgress(progress, total, description)
