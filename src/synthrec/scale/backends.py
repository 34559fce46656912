"""Where shard tasks run: in this process, in a local process pool, or on a Dask cluster.

Every backend runs ``func(shared, task)`` for each task and yields ``(task position, result)`` as tasks
finish (in any order). ``shared`` is the big read-only object every task needs (a fitted generator or
recommender); it is shipped to each worker **once** per `Backend.map` call, never once per task:

* `InProcessBackend`: calls ``func`` directly, in order (no copies at all).
* `ProcessPoolBackend`: a `concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start method
  (safe with threads and BLAS, same behaviour on every OS); the pickled object is handed to each worker
  process by the pool *initializer* and kept in a module global there.
* `DaskBackend`: ``client.scatter(shared, broadcast=True)`` puts one copy in every worker's memory, and
  each task receives a reference to it. With ``scheduler=None`` it starts a `dask.distributed.LocalCluster`
  of ``workers`` single-threaded worker processes (closed again by `close`); otherwise it connects to the
  running scheduler at that address (and leaves the cluster running).

**One BLAS thread per worker** (`single_thread_env`, `single_thread_blas`): worker processes are started
with ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``POLARS_MAX_THREADS`` set
to 1, and limit BLAS to one thread (`threadpoolctl`) before their first task: the backend provides the
parallelism, and with more BLAS threads floating-point sums change in the last bits, so near-tied scores
could rank differently from one worker count to another.

At most ``2 × workers`` tasks are in flight at once, so neither the workers nor this process hold more
than a few task results at a time: memory stays bounded by (shard size + shared object) per worker, not
by the number of tasks. ``func`` must be a module-level function (it is pickled by reference).
"""

from __future__ import annotations

import os
import pickle
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any, Literal, TypeVar

from synthrec.errors import ConfigError

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

BackendName = Literal["inprocess", "processes", "dask"]
BACKENDS: tuple[str, ...] = ("inprocess", "processes", "dask")

#: environment variables set to 1 while worker processes start (`single_thread_env`)
SINGLE_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS")

# Worker-process global holding the shared object of the current pool (set once by `_install_shared`).
_SHARED: Any = None
# Worker-process global keeping the BLAS thread limit alive (set once by `single_thread_blas`).
_BLAS_LIMITS: Any = None


@contextmanager
def single_thread_env() -> Iterator[None]:
    """Set `SINGLE_THREAD_VARS` to 1 in this process's environment (inherited by the worker processes
    started meanwhile); the old values come back on exit."""
    old = {k: os.environ.get(k) for k in SINGLE_THREAD_VARS}
    for k in SINGLE_THREAD_VARS:
        os.environ[k] = "1"
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def single_thread_blas() -> None:
    """Limit BLAS (and OpenMP) to one thread in this process, for good (once per worker process)."""
    global _BLAS_LIMITS
    if _BLAS_LIMITS is None:
        from threadpoolctl import threadpool_limits

        _BLAS_LIMITS = threadpool_limits(limits=1)


def _install_shared(payload: bytes) -> None:
    """Pool initializer: exit with the parent, one BLAS thread, then unpickle the shared object once per
    worker process."""
    global _SHARED
    _exit_with_parent()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    single_thread_blas()
    _SHARED = pickle.loads(payload)


#: seconds between a pool worker's checks that the process which started it is still alive
PARENT_CHECK_S = 1.0


def _exit_with_parent() -> None:
    """Start a daemon thread that ends this worker process when its parent is gone.

    A killed ``synthrec generate`` or ``fit --streaming`` (SIGTERM, SIGKILL, a closed terminal) cannot
    shut its pool down; its spawned workers would otherwise run their shard or pass to the end, orphaned,
    holding CPU and memory (seen: two such workers kept 50 % of this machine busy for half an hour).
    """
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_S)
            if os.getppid() != parent:  # re-parented: the pool's process died
                os._exit(1)

    threading.Thread(target=watch, name="synthrec-exit-with-parent", daemon=True).start()


def _call_with_shared(func: Callable[[Any, Any], Any], task: Any) -> Any:
    return func(_SHARED, task)


def _call_single_threaded(func: Callable[[Any, Any], Any], shared: Any, task: Any) -> Any:
    """A Dask task: one BLAS thread in the worker (set on its first task), then ``func(shared, task)``."""
    single_thread_blas()
    return func(shared, task)


class Backend(ABC):
    """Runs tasks; use as a context manager so worker pools and clusters are always shut down."""

    #: processes (or threads) that run tasks at once
    workers: int = 1
    name: str = "backend"

    @abstractmethod
    def map(self, func: Callable[[S, T], R], shared: S, tasks: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Run ``func(shared, task)`` for every task; yield ``(position in tasks, result)`` as they finish.

        An exception raised by a task is re-raised here (remaining tasks are cancelled).
        """

    def close(self) -> None:
        """Release workers (no-op for backends without any)."""
        return None

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        """Human-readable summary, e.g. ``processes (2 workers)``."""
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"


class InProcessBackend(Backend):
    """Runs every task in this process, in order. The reference for the others."""

    name = "inprocess"

    def map(self, func: Callable[[S, T], R], shared: S, tasks: Sequence[T]) -> Iterator[tuple[int, R]]:
        for pos, task in enumerate(tasks):
            yield pos, func(shared, task)


class ProcessPoolBackend(Backend):
    """A local pool of ``workers`` spawned processes (one pool per `map` call, shared object sent once)."""

    name = "processes"

    def __init__(self, workers: int) -> None:
        _check_workers(workers)
        self.workers = workers

    def map(self, func: Callable[[S, T], R], shared: S, tasks: Sequence[T]) -> Iterator[tuple[int, R]]:
        payload = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
        # Workers are spawned as tasks are submitted: they inherit the single-thread environment.
        with single_thread_env(), ProcessPoolExecutor(
                max_workers=self.workers, mp_context=get_context("spawn"), initializer=_install_shared,
                initargs=(payload,)) as pool:
            del payload
            yield from _windowed(lambda task: pool.submit(_call_with_shared, func, task), tasks,
                                 2 * self.workers, cancel=lambda f: f.cancel())


class DaskBackend(Backend):
    """Tasks on a Dask cluster: a new `LocalCluster` of ``workers`` processes, or an existing scheduler.

    Args:
        workers: worker processes of the local cluster (ignored with ``scheduler``).
        scheduler: address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``. Its workers must see the
            same file system paths as this process (they write and read shard files directly).
        processes: with a local cluster, False runs the workers as threads of this process (quick to
            start; used by tests).

    Raises:
        ConfigError: ``workers < 1``, or the scheduler cannot be reached (the message names the address).
    """

    name = "dask"

    def __init__(self, workers: int = 1, *, scheduler: str | None = None, processes: bool = True) -> None:
        from dask.distributed import Client, LocalCluster

        self._cluster: Any = None
        # worker processes get one BLAS thread; threads of this process (processes=False) are left alone
        self._single_thread = processes or scheduler is not None
        if scheduler is None:
            _check_workers(workers)
            with single_thread_env():  # the worker processes inherit it
                self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                             dashboard_address=None)
            self.client: Any = Client(self._cluster)
            self.client.wait_for_workers(workers)
        else:
            try:
                self.client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise ConfigError(
                    f"cannot reach the Dask scheduler at {scheduler!r} ({type(exc).__name__}: {exc}); check "
                    "the address (tcp://host:port) and that `dask scheduler` is running"
                ) from None
        self.workers = max(1, sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values()))

    def map(self, func: Callable[[S, T], R], shared: S, tasks: Sequence[T]) -> Iterator[tuple[int, R]]:
        from dask.distributed import wait as dask_wait

        shared_ref = self.client.scatter(shared, broadcast=True, hash=False)

        def submit(task: T) -> Any:
            if self._single_thread:
                return self.client.submit(_call_single_threaded, func, shared_ref, task, pure=False)
            return self.client.submit(func, shared_ref, task, pure=False)

        pending: dict[Any, int] = {}
        position = iter(enumerate(tasks))
        try:
            for pos, task in _take(position, 2 * self.workers):
                pending[submit(task)] = pos
            while pending:
                done = dask_wait(list(pending), return_when="FIRST_COMPLETED").done
                for fut in done:
                    pos = pending.pop(fut)
                    result = fut.result()  # re-raises a task's exception here
                    fut.release()
                    for nxt_pos, nxt in _take(position, 1):
                        pending[submit(nxt)] = nxt_pos
                    yield pos, result
        finally:
            for fut in pending:
                fut.cancel()
            self.client.cancel([shared_ref])

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_backend(name: str = "inprocess", *, workers: int = 1, scheduler: str | None = None) -> Backend:
    """Build a backend from CLI-style options.

    Args:
        name: ``inprocess``, ``processes`` or ``dask``.
        workers: processes for ``processes`` / a local Dask cluster (≥ 1).
        scheduler: Dask scheduler address (only with ``dask``).

    Raises:
        ConfigError: unknown name, ``workers < 1``, or a scheduler given for a non-Dask backend.
    """
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if scheduler is not None and name != "dask":
        raise ConfigError(f"--scheduler needs the dask backend, not {name!r} (pass --backend dask)")
    _check_workers(workers)
    if name == "inprocess":
        if workers != 1:
            raise ConfigError(f"the inprocess backend runs 1 worker, got workers={workers}; "
                              "use --backend processes or dask for more")
        return InProcessBackend()
    if name == "processes":
        return ProcessPoolBackend(workers)
    return DaskBackend(workers, scheduler=scheduler)


def _check_workers(workers: int) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an integer >= 1, got {workers!r}")


def _take(it: Iterator[tuple[int, T]], n: int) -> list[tuple[int, T]]:
    out = []
    for _ in range(n):
        nxt = next(it, None)
        if nxt is None:
            break
        out.append(nxt)
    return out


def _windowed(submit: Callable[[T], Future[R]], tasks: Sequence[T], window: int,
              cancel: Callable[[Future[R]], object]) -> Iterator[tuple[int, R]]:
    """Keep at most ``window`` futures in flight; yield results as they complete."""
    position = iter(enumerate(tasks))
    pending: dict[Future[R], int] = {submit(t): p for p, t in _take(position, window)}
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                pos = pending.pop(fut)
                result = fut.result()
                for nxt_pos, nxt in _take(position, 1):
                    pending[submit(nxt)] = nxt_pos
                yield pos, result
    finally:
        for fut in pending:
            cancel(fut)
