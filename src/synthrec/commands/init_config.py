"""`synthrec init-config`: write the commented example experiment config."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from synthrec.commands._console import console, fail
from synthrec.commands._output import require_writable


def init_config(
    path: Annotated[Path, typer.Argument(help="Where to write the commented example config.")] = Path("synthrec.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example experiment config to start from."""
    if path.exists() and not force:
        fail(FileExistsError(f"{path} exists; pass --force to overwrite"))
    require_writable(path, kind="file", option="PATH")
    text = resources.files("synthrec.configs").joinpath("example.yaml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``init-config`` command to ``app``."""
    app.command("init-config")(init_config)
