"""Progress that suits where it is shown: a rich bar on a terminal, plain log lines when piped (CI logs,
``make demo | tee``), nothing when disabled (tests, ``--quiet``).

On a terminal, a task of one step (``fit``, ``calibrate``) is a spinner with the elapsed time, not a
"0/1" bar. Piped, a line is written to stderr when the work starts, when the current step changes (at
most one line every `LOG_INTERVAL_S` seconds, so a fast loop cannot flood a log) and when it ends::

    [    0.0 s] run 0/40: seed 0: fit generator on self
    [    4.1 s] run 2/40: seed 0: ease on real-only
    ...
    [   81.7 s] run 40/40: done

Work whose description changes rarely or never (a `bench` sweep, shards of ``generate``) passes
``log_counts=True``: a line is then also written when steps are counted done, at the same bounded rate::

    [   12.0 s] bench ml-100k 340/18720: ml-100k leave-last-out users=0.1 seed 2: latent-factor [self]

Plain lines never hold carriage returns or terminal control codes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: the least time between two plain progress lines (the first and the last line are always written)
LOG_INTERVAL_S = 2.0


class LineLog:
    """Plain-text progress for logs: one line per change of step (with ``counts``, also per step counted
    done), at most one per ``interval`` seconds (default `LOG_INTERVAL_S`)."""

    def __init__(self, total: int, description: str, stream: IO[str], *, interval: float | None = None,
                 counts: bool = False) -> None:
        self.total = total
        self.counts = counts
        self.label = description
        self.text = description
        self.done = 0
        self._stream = stream
        self._interval = LOG_INTERVAL_S if interval is None else interval
        self._started = time.monotonic()
        self._last: float | None = None
        self._last_body: str | None = None
        self._pending = False

    def start(self) -> None:
        self._emit()
        self._last = None  # the first step's description follows at once

    def describe(self, text: str, *, now: bool = False) -> None:
        """Set the step's text; ``now`` writes it at once (a long step follows, so it must not wait for
        the next change)."""
        self._set_text(text)
        if now and self._pending:
            self._emit()
        else:
            self._maybe_emit()

    def advance(self, steps: int = 1, *, text: str | None = None) -> None:
        if text is not None:
            self._set_text(text)
        self.done += steps
        if self.counts and steps:  # the count is news when the description says little
            self._pending = True
        self._maybe_emit()

    def _set_text(self, text: str) -> None:
        if text != self.text:
            self.text = text
            self._pending = True

    def finish(self, ok: bool = True) -> None:
        self.text = "done" if ok else "stopped"
        self._emit()

    def _maybe_emit(self) -> None:
        if self._pending and (self._last is None or time.monotonic() - self._last >= self._interval):
            self._emit()

    def _emit(self) -> None:
        now = time.monotonic()
        head = self.label if self.total <= 1 else f"{self.label} {min(self.done, self.total)}/{self.total}"
        body = head if self.text == self.label else f"{head}: {self.text}"
        if body == self._last_body:  # e.g. a one-step count: the same words again are no news
            self._pending = False
            return
        self._last_body = body
        line = f"[{now - self._started:9.1f} s] {body}".replace("\r", " ").replace("\n", " ")
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # a closed pipe must not fail the work itself
            pass
        self._last = now
        self._pending = False


class StepProgress:
    """A counter of finished steps with a description of the current one; no-op when disabled."""

    def __init__(self, progress: Progress | None, total: int, description: str, *,
                 log: LineLog | None = None) -> None:
        self._progress = progress
        self._task = progress.add_task(description, total=total) if progress is not None else None
        self._log = log

    def describe(self, text: str, *, now: bool = False) -> None:
        """Set the description; ``now``: in plain-line mode, write it without waiting (`LineLog.describe`)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)
        if self._log is not None:
            self._log.describe(text, now=now)

    def advance(self, steps: int = 1, *, text: str | None = None) -> None:
        """Count ``steps`` done; ``text``, if given, replaces the description in the same update (one
        plain line at most, with the count and the text that go together)."""
        if self._progress is not None and self._task is not None:
            if text is not None:
                self._progress.update(self._task, description=text)
            self._progress.advance(self._task, steps)
        if self._log is not None:
            self._log.advance(steps, text=text)


@contextmanager
def step_progress(total: int, description: str, *, enabled: bool = True, console: Console | None = None,
                  log_counts: bool = False) -> Iterator[StepProgress]:
    """Context manager yielding a `StepProgress`.

    Args:
        total: number of steps; with 1 (or 0) steps a terminal shows a spinner and the elapsed time.
        description: what is being done (the first step's description until `StepProgress.describe`).
        enabled: False shows nothing at all (``--quiet``, library use).
        console: where to show it; by default stderr. When it is not a terminal, plain lines
            (`LineLog`) are written to its stream instead of a bar.
        log_counts: plain lines also when steps are counted done, not only when the description changes
            (rate-bounded all the same): for work whose description changes rarely or never.
    """
    if not enabled:
        yield StepProgress(None, total, description)
        return
    console = console if console is not None else Console(stderr=True)
    if not console.is_terminal:
        log = LineLog(total, description, console.file, counts=log_counts)
        log.start()
        ok = False
        try:
            yield StepProgress(None, total, description, log=log)
            ok = True
        finally:
            log.finish(ok)
        return
    columns: tuple[ProgressColumn, ...]
    if total <= 1:  # one step: a 0/1 bar says nothing; the spinner and elapsed time say it is working
        columns = (SpinnerColumn(), TextColumn("[progress.description]{task.description}"), TimeElapsedColumn())
    else:
        columns = (
            SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
        )
    with Progress(*columns, console=console, transient=False) as progress:
        yield StepProgress(progress, total, description)
