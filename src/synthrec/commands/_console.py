"""The consoles every `synthrec` command prints to (one place, so width and colour rules stay the same), and
`fail`, the one way a command stops on a bad input."""

import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

# Piped output (CI logs, `make demo | tee`) would otherwise wrap tables at 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=140)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=140)


def fail(exc: BaseException, *, soft_wrap: bool = False) -> NoReturn:
    """Print ``error: <exc>`` on stderr and exit with code 2 (bad config, input or output path);
    ``soft_wrap`` keeps the message on one line however long."""
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=soft_wrap)
    raise typer.Exit(code=2) from None
