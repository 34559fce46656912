"""`synthrec bench`: run a benchmark sweep and write its tidy table, statistics and HTML page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from synthrec.commands._console import console, err_console, fail
from synthrec.commands._output import check_writable
from synthrec.errors import SynthrecError

_HELP = """Run a benchmark sweep: datasets × scarcity levels × sources × generators × strategies ×
recommenders × splits × seeds (see `synthrec/configs/bench-smoke.yaml` for every key).

Writes into --out: `parts/` (one Parquet file per finished cell), `results.csv` (the tidy table of the
config's cells: one row per cell × metric × group), `summary.csv` (mean and 95 % t-interval over seeds),
`versus_real.csv` (every arm against the best real-only model of its level, paired by seed),
`worth.csv` ("synthetic data is worth N real users"), `auto.csv` and `index.html` (learning curves,
win/loss tables, breakdowns). The tests and `worth` use NDCG@10 on all test users (column `metric`).

Columns of versus_real.csv: `mean_diff`, `wins`, `losses` over the `n` seeds; **paired t-test** (drives
`verdict`): `t_statistic`, `p_t`, `p_t_holm`; **exact Wilcoxon signed-rank test** (shown alongside,
`verdict_wilcoxon`): `statistic`, `p_value`, `p_holm`, and `min_p` = 2/2^n, the smallest p the Wilcoxon
test can reach with n seeds (0.0625 with 5 seeds: never significant at 0.05). `p_holm` and `p_t_holm`
are Holm-adjusted within each (dataset, split, level). In auto.csv `p_value` is Wilcoxon, `p_t` the t-test.

Rerunning with the same --out skips finished cells (ok or skipped) and retries failed ones: a sweep that
was stopped resumes where it stopped, and fixing the cause of a failure then rerunning replaces the error.

Before anything runs (and with --dry-run) the config is checked: dataset paths exist, generators and
recommenders construct with their params. --dry-run also loads each dataset once and says which cells
will be skipped and why (splits that need timestamps or time-ordered events, the attributes source
without item attributes, DP sources of generators without epsilon). Exit codes: 0 cells ran (or were
skipped) and none failed; 1 some cells failed, or every cell of the sweep was skipped (the distinct
reasons are printed; the rows are in results.csv, columns status and note); 2 bad config or input.
"""
#: distinct failure (and skip) reasons printed after a sweep (the rest are counted)
_MAX_REASONS = 5


def bench(
    config: Annotated[Path, typer.Argument(help="Bench config (YAML).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if missing; reused to resume).")],
    workers: Annotated[int, typer.Option("--workers", "-w", min=1,
                                         help="Local worker processes (1: run in this process).")] = 1,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Dask scheduler address (tcp://host:8786), or 'local' for a local Dask "
        "cluster of --workers processes.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check the config, count the cells, predict the skipped ones (loads each "
        "dataset once) and exit.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    try:
        if scheduler is not None and scheduler != "local" and workers != 1:
            raise typer.BadParameter("give --workers or --scheduler ADDR, not both (--workers goes with "
                                     "--scheduler local)")
        if not dry_run:
            check_writable(out, kind="folder")
        code = _run(config, out, workers, scheduler, dry_run, quiet, console, err_console)
    except (SynthrecError, OSError) as exc:
        fail(exc)
    if code:
        raise typer.Exit(code=code)


def _run(config: Path, out: Path, workers: int, scheduler: str | None, dry_run: bool, quiet: bool,
         console: Console, err: Console) -> int:
    """Run (or with ``dry_run`` only check, count and predict skips) the sweep; returns the exit code: 1
    when cells failed (or will: a dataset that cannot be loaded) or every cell was (will be) skipped."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's ALS/BPR are slow with threaded BLAS
    from synthrec.experiments.bench.config import load_bench_config

    cfg = load_bench_config(config)
    if dry_run:
        return _dry_run(cfg, console, err)
    from synthrec.experiments.bench.execute import run_sweep
    from synthrec.experiments.bench.outputs import write_outputs

    # Progress goes to stderr: a bar on a terminal, else plain rate-bounded lines (stdout stays clean).
    summary = run_sweep(cfg, out, workers=workers, scheduler=scheduler, progress=not quiet, console=err)
    paths = write_outputs(cfg, out, config_text=config.read_text(encoding="utf-8"))
    table = Table(title=f"bench {cfg.name}")
    for col in ("cells", "already done", "run now", "ok", "skipped", "failed", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(str(summary.n_cells), str(summary.n_already_done), str(summary.n_run), str(summary.n_ok),
                  str(summary.n_skipped), str(summary.n_failed), f"{summary.seconds:.1f}")
    console.print(table)
    for p in [out / "results.csv", *paths]:  # results.csv: kept up to date by the sweep
        console.print(f"wrote {escape(str(p))}")
    if summary.skips:
        _print_skips(summary.n_skipped_total, summary.skips, console, "recorded as skipped",
                     "not measured, not retried by a rerun; status 'skipped' in results.csv, reason in note")
    if summary.n_failed:
        _print_failures(summary.n_failed, summary.failures, err)
    if summary.all_skipped:
        err.print(f"[bold red]every cell of the sweep ({summary.n_cells}) was skipped[/]: nothing was measured; "
                  "change the config for the reasons above")
        return 1
    return 1 if summary.n_failed else 0


def _dry_run(cfg: object, console: Console, err: Console) -> int:
    """Check the config, count the cells and predict the skipped ones; exit code as `_run`'s."""
    from synthrec.experiments.bench.config import BenchConfig
    from synthrec.experiments.bench.execute import preview

    assert isinstance(cfg, BenchConfig)
    pv = preview(cfg)
    console.print(f"{pv.n_cells} cells in {pv.n_tasks} tasks ({pv.n_skipped} will be recorded as skipped)")
    if pv.skips:
        _print_skips(pv.n_skipped, pv.skips, console, "will be recorded as skipped")
    for name, error, n in pv.unloadable:
        err.print(f"[bold red]dataset {escape(name)} cannot be loaded[/] ({n} cell(s) would fail): {escape(error)}",
                  soft_wrap=True)
    if pv.all_skipped:
        err.print(f"[bold red]every cell of the sweep ({pv.n_cells}) would be skipped[/]: nothing would be "
                  "measured; change the config for the reasons above")
        return 1
    return 1 if pv.unloadable else 0


def _print_skips(n_skipped: int, skips: tuple[tuple[str, int], ...], console: Console, what: str,
                 extra: str = "") -> None:
    """The first `_MAX_REASONS` distinct skip reasons with their cell counts."""
    more = f"; {escape(extra)}" if extra else ""
    console.print(f"[bold yellow]{n_skipped} cell(s) {what}[/] ({len(skips)} distinct reason(s){more}):")
    for reason, count in skips[:_MAX_REASONS]:
        console.print(f"  {count} × {escape(reason)}", soft_wrap=True)
    if len(skips) > _MAX_REASONS:
        rest = sum(c for _, c in skips[_MAX_REASONS:])
        console.print(f"  … and {len(skips) - _MAX_REASONS} more reason(s) ({rest} cell(s))")


def _print_failures(n_failed: int, failures: tuple[tuple[str, int], ...], err: Console) -> None:
    """The first `_MAX_REASONS` distinct failure reasons with their cell counts, on stderr."""
    err.print(f"[bold red]{n_failed} cell(s) failed[/] ({len(failures)} distinct reason(s); rows with status "
              "'failed: ...' in results.csv; rerun after fixing the cause to retry them):")
    for reason, count in failures[:_MAX_REASONS]:
        err.print(f"  {count} × {escape(reason)}", soft_wrap=True)
    if len(failures) > _MAX_REASONS:
        rest = sum(c for _, c in failures[_MAX_REASONS:])
        err.print(f"  … and {len(failures) - _MAX_REASONS} more reason(s) ({rest} cell(s))")


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to ``app``."""
    app.command("bench", help=_HELP)(bench)
