"""Light task functions for backend tests: spawned workers import only this module and the backend.

Kept apart from `scale_fixtures` (which imports the generators) so that pool workers start quickly.
"""

from __future__ import annotations

import os


class UnpickleCounter:
    """A shared object that counts how often it was unpickled in the current process."""

    unpickled_in_process = 0

    def __init__(self, payload: int) -> None:
        self.payload = payload

    def __setstate__(self, state: dict[str, int]) -> None:
        type(self).unpickled_in_process += 1
        self.__dict__.update(state)


def report_shared(shared: UnpickleCounter, task: int) -> tuple[int, int, int, int]:
    """Task: (task, process id, unpickles so far in this process, id of the shared object)."""
    return task, os.getpid(), UnpickleCounter.unpickled_in_process, id(shared)


def fail_on_three(shared: object, task: int) -> int:
    """Task that raises a ValueError for task 3."""
    if task == 3:
        raise ValueError("task 3 failed on purpose")
    return task
