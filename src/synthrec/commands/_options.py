"""Options shared by several `synthrec` commands (one declaration, so help texts stay the same)."""

from __future__ import annotations

from typing import Annotated

import typer

QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
