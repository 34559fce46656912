"""The `synthrec` command: the app, its version option, the warning hook and the registration of every
command, each written in its own module under `synthrec.commands` (one ``register(app)`` per module)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's ALS/BPR are slow with threaded BLAS

import typer
from rich.markup import escape

from synthrec import __version__
from synthrec.commands._console import console, err_console

app = typer.Typer(
    name="synthrec",
    help="Synthetic data for recommender systems in data-scarce domains: fit a generator to a small or "
    "private log, generate synthetic users, augment or pretrain, and measure on held-out real data.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)


def _version(value: bool) -> None:
    if value:
        console.print(f"synthrec {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """synthrec command line."""


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(str(message))}")


def _register_commands() -> None:
    """Add every command, in the order `synthrec --help` lists them; each module adds its own commands.
    The modules import their heavy dependencies inside the commands, so building the app stays cheap."""
    from synthrec.commands import bench, datasets, generate, init_config, model, report, run, simulate

    # run, demo | init-config | datasets, inspect | fit, sample | generate | report | bench | simulate, scenario
    for module in (run, init_config, datasets, model, generate, report, bench, simulate):
        module.register(app)


_register_commands()


def main() -> None:
    """Console entry point."""
    import warnings

    warnings.showwarning = _show_warning
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        err_console.print("interrupted")
        sys.exit(130)
