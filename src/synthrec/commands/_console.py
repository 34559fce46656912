"""The consoles every `synthrec` command prints to (one place, so width and colour rules stay the same)."""

import sys

from rich.console import Console

# Piped output (CI logs, `make demo | tee`) would otherwise wrap tables at 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=140)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=140)
