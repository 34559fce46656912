"""`synthrec generate`: sharded, resumable generation of many synthetic users, locally or on Dask."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from synthrec.commands._console import console as _console
from synthrec.commands._console import err_console as _err_console
from synthrec.commands._console import fail
from synthrec.commands._output import parse_time_type, require_writable
from synthrec.commands._trusted import TrustedOpt
from synthrec.errors import ConfigError, SynthrecError
from synthrec.progress import step_progress
from synthrec.scale.backends import BACKENDS


class RowsPerSecondColumn(ProgressColumn):
    """Rows written so far and the rate of newly generated rows (shards reused on resume excluded)."""

    def render(self, task: Task) -> Text:
        rows = int(task.fields.get("rows", 0))
        new_rows = int(task.fields.get("new_rows", 0))
        elapsed = task.elapsed or 0.0
        rate = new_rows / elapsed if elapsed > 0 else 0.0
        return Text(f"{rows:,} rows · {rate:,.0f} rows/s", style="progress.data.speed")


def choose_backend(backend: str | None, workers: int | None, scheduler: str | None) -> tuple[str, int]:
    """The backend name and worker count the options ask for.

    Without ``--backend``: ``dask`` when ``--scheduler`` is given, ``processes`` when ``--workers`` > 1,
    else ``inprocess``.

    Raises:
        ConfigError: ``--workers`` and ``--scheduler`` together, or ``--workers`` < 1.
    """
    if workers is not None and scheduler is not None:
        raise ConfigError("give --workers (a local pool or cluster) or --scheduler (an existing Dask "
                          "cluster), not both")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if backend is None:
        backend = "dask" if scheduler else ("processes" if (workers or 1) > 1 else "inprocess")
    if backend not in BACKENDS:
        from synthrec.config import did_you_mean

        raise ConfigError(f"unknown backend {backend!r}{did_you_mean(backend, list(BACKENDS))}; choose one of "
                          f"{', '.join(BACKENDS)}")
    return backend, workers or 1


def generate(
    model_path: Annotated[Path, typer.Argument(help="A fitted generator saved by `synthrec fit` "
                                               "(or Generator.save).")],
    users: Annotated[int, typer.Option("--users", "-n", min=1, help="Number of synthetic users.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: one file per shard plus "
                                      "_manifest.json. Rerunning into the same folder resumes.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Same seed and --shard-users, same output, "
                                      "whatever the workers.")] = 0,
    shard_users: Annotated[int, typer.Option("--shard-users", min=1, help="Users per shard (one file each); "
                                             "memory per worker grows with it, not with --users.")] = 10_000,
    workers: Annotated[int | None, typer.Option("--workers", "-w", help="Worker processes (local pool, or "
                                                "local Dask cluster with --backend dask).")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of a running Dask scheduler, "
                                                  "e.g. tcp://10.0.0.5:8786 (its workers must see --out).")] = None,
    backend: Annotated[str | None, typer.Option("--backend", help="inprocess, processes or dask (default: "
                                                "dask with --scheduler, processes with --workers > 1, else "
                                                "inprocess).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet (zstd), csv or recbole (.inter per shard).")
                   ] = "parquet",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    time_type: Annotated[str, typer.Option("--time-type", help="How to write times: auto (as the log the "
                                           "generator was fitted on wrote them), seconds, date or datetime "
                                           "(recbole keeps seconds).")] = "auto",
    trusted: TrustedOpt = False,
) -> None:
    """Generate many synthetic users in shards, in parallel, resumably.

    Users are cut into shards of --shard-users. Shard number s is drawn with child s of
    SeedSequence(seed).spawn(n_shards), written with external ids (users syn-N, the generator's item ids)
    to part-NNNNNN.ext via a temporary name, and recorded with its SHA-256 in _manifest.json. The output
    is identical for any number of workers and any backend, and equals `synthrec sample` with
    --batch-users of the same size.

    If the run stops, rerun the same command: finished shards whose checksum matches the manifest are
    kept, the others are drawn again.
    """
    from synthrec.generators.base import BaseGenerator
    from synthrec.scale.backends import make_backend
    from synthrec.scale.manifest import file_sha256
    from synthrec.scale.shards import ShardPlan
    from synthrec.scale.writer import FORMATS, ShardOutcome, write_sharded

    started = time.perf_counter()
    require_writable(out, kind="folder")
    try:
        if fmt not in FORMATS:
            from synthrec.config import did_you_mean

            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}{did_you_mean(fmt, list(FORMATS))}")
        written_type = parse_time_type(time_type)
        name, n_workers = choose_backend(backend, workers, scheduler)
        plan = ShardPlan(users, shard_users, seed)
        gen = BaseGenerator.load(model_path, trusted=trusted)
        checksum = file_sha256(model_path)
        columns = (SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
                   MofNCompleteColumn(), RowsPerSecondColumn(), TimeElapsedColumn(), TextColumn("eta"),
                   TimeRemainingColumn())
        reused = rows = new_rows = 0
        with make_backend(name, workers=n_workers, scheduler=scheduler) as runner, ExitStack() as stack:
            label = f"{users:,} users → {len(plan)} shards on {runner.describe()}"
            if quiet or _err_console.is_terminal:  # a rich bar (none with --quiet)
                progress = stack.enter_context(Progress(*columns, console=_err_console, disable=quiet,
                                                        transient=False))
                task = progress.add_task(label, total=len(plan), rows=0, new_rows=0)
                bar = None
            else:  # piped: plain rate-bounded lines on stderr (`synthrec.progress`)
                bar = stack.enter_context(step_progress(len(plan), label, console=_err_console, log_counts=True))
                bar_started = time.perf_counter()

            def on_shard(outcome: ShardOutcome) -> None:
                nonlocal reused, rows, new_rows
                reused += outcome.reused
                rows += outcome.record.rows
                new_rows += 0 if outcome.reused else outcome.record.rows
                if bar is None:
                    progress.update(task, advance=1, rows=rows, new_rows=new_rows)
                    return
                elapsed = time.perf_counter() - bar_started
                if not new_rows:  # resuming: every shard so far was already written, no rate to speak of
                    bar.advance(text=f"{rows:,} rows, reused")
                    return
                bar.advance(text=f"{rows:,} rows · {new_rows / elapsed if elapsed > 0 else 0.0:,.0f} rows/s")

            manifest = write_sharded(gen, out, n_users=users, seed=seed, shard_users=shard_users, fmt=fmt,
                                     backend=runner, model_sha256=checksum, on_shard=on_shard,
                                     time_type=written_type)
    except KeyboardInterrupt:
        _err_console.print(f"interrupted; finished shards are recorded in {escape(str(out))}/_manifest.json — "
                           "rerun the same command to resume")
        raise typer.Exit(code=130) from None
    except (SynthrecError, ValueError, OSError) as exc:
        fail(exc)
    seconds = time.perf_counter() - started
    note = f", {reused} reused from an earlier run" if reused else ""
    _console.print(f"wrote {manifest.rows:,} interactions of {users:,} synthetic users in {manifest.n_shards} "
                   f"{fmt} shards{note} to {escape(str(out))} ({seconds:.1f} s)")


def register(app: typer.Typer) -> None:
    """Add the ``generate`` command to ``app``."""
    app.command("generate")(generate)
