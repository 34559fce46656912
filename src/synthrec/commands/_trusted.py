"""The ``--trusted`` option of every command that loads a saved generator (`BaseGenerator.load`)."""

from __future__ import annotations

from typing import Annotated

import typer

#: help of ``--trusted``; kept here rather than in `synthrec.generators._model_file` so that building the
#: CLI does not import the generators package
TRUSTED_HELP = ("Also load a pickle (how synthrec saved generators before its model-file format). Loading a "
                "pickle can run any code its author put in it: pass this only for a file you or someone you "
                "trust wrote, and re-save it with `synthrec fit`.")

TrustedOpt = Annotated[bool, typer.Option("--trusted", help=TRUSTED_HELP)]
