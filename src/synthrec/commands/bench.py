"""`synthrec bench`: run a benchmark sweep and write its tidy table, statistics and HTML page."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from synthrec.errors import SynthrecError

_HELP = """Run a benchmark sweep: datasets × scarcity levels × sources × generators × strategies ×
recommenders × splits × seeds (see `synthrec/configs/bench-smoke.yaml` for every key).

Writes into --out: `parts/` (one Parquet file per finished cell), `results.csv` (the tidy table: one row
per cell × metric × group), `summary.csv` (mean and 95 % t-interval over seeds), `versus_real.csv` (paired
t-test over seeds (the verdict) and exact Wilcoxon against the best real-only model, Holm within each level), `worth.csv` ("synthetic data is worth N real users"),
`auto.csv` and `index.html` (learning curves, win/loss tables, breakdowns).

Rerunning with the same --out skips finished cells (ok or skipped) and retries failed ones: a sweep that
was stopped resumes where it stopped, and fixing the cause of a failure then rerunning replaces the error.

Before anything runs (and with --dry-run) the config is checked: dataset paths exist, generators and
recommenders construct with their params. Exit codes: 0 every cell ok or skipped; 1 some cells failed
(the distinct reasons are printed; the rows are in results.csv, columns status and note); 2 bad config
or input.
"""
#: distinct failure reasons printed after a sweep (the rest are counted)
_MAX_REASONS = 5


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to ``app``."""

    @app.command("bench", help=_HELP)
    def bench(
        config: Annotated[Path, typer.Argument(help="Bench config (YAML).", show_default=False)],
        out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if missing; reused to resume).")],
        workers: Annotated[int, typer.Option("--workers", "-w", min=1,
                                             help="Local worker processes (1: run in this process).")] = 1,
        scheduler: Annotated[str | None, typer.Option(
            "--scheduler", help="Dask scheduler address (tcp://host:8786), or 'local' for a local Dask "
            "cluster of --workers processes.")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Count the cells and exit.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        console = Console() if sys.stdout.isatty() else Console(width=140)
        err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=140)
        try:
            if scheduler is not None and scheduler != "local" and workers != 1:
                raise typer.BadParameter("give --workers or --scheduler ADDR, not both (--workers goes with "
                                         "--scheduler local)")
            n_failed = _run(config, out, workers, scheduler, dry_run, quiet, console, err)
        except (SynthrecError, OSError) as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(code=2) from None
        if n_failed:
            raise typer.Exit(code=1)


def _run(config: Path, out: Path, workers: int, scheduler: str | None, dry_run: bool, quiet: bool,
         console: Console, err: Console) -> int:
    """Run (or with ``dry_run`` only check and count) the sweep; returns the number of failed cells."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's ALS/BPR are slow with threaded BLAS
    from synthrec.experiments.bench.cells import expand, group_tasks
    from synthrec.experiments.bench.config import check_runnable, load_bench_config

    cfg = load_bench_config(config)
    if dry_run:
        check_runnable(cfg)  # run_sweep does the same before running anything
        cells = expand(cfg)
        skipped = sum(c.skip_reason is not None for c in cells)
        console.print(f"{len(cells)} cells in {len(group_tasks(cells))} tasks ({skipped} will be recorded as "
                      "skipped: unavailable)")
        return 0
    from synthrec.experiments.bench.execute import run_sweep
    from synthrec.experiments.bench.outputs import write_outputs

    summary = run_sweep(cfg, out, workers=workers, scheduler=scheduler, progress=not quiet)
    paths = write_outputs(cfg, out, config_text=config.read_text(encoding="utf-8"))
    table = Table(title=f"bench {cfg.name}")
    for col in ("cells", "already done", "run now", "ok", "skipped", "failed", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(str(summary.n_cells), str(summary.n_already_done), str(summary.n_run), str(summary.n_ok),
                  str(summary.n_skipped), str(summary.n_failed), f"{summary.seconds:.1f}")
    console.print(table)
    for p in paths:
        console.print(f"wrote {escape(str(p))}")
    if summary.n_failed:
        _print_failures(summary.n_failed, summary.failures, err)
    return summary.n_failed


def _print_failures(n_failed: int, failures: tuple[tuple[str, int], ...], err: Console) -> None:
    """The first `_MAX_REASONS` distinct failure reasons with their cell counts, on stderr."""
    err.print(f"[bold red]{n_failed} cell(s) failed[/] ({len(failures)} distinct reason(s); rows with status "
              "'failed: ...' in results.csv; rerun after fixing the cause to retry them):")
    for reason, count in failures[:_MAX_REASONS]:
        err.print(f"  {count} × {escape(reason)}", soft_wrap=True)
    if len(failures) > _MAX_REASONS:
        rest = sum(c for _, c in failures[_MAX_REASONS:])
        err.print(f"  … and {len(failures) - _MAX_REASONS} more reason(s) ({rest} cell(s))")
