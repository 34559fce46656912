"""The `synthrec` command."""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's ALS/BPR are slow with threaded BLAS

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from synthrec import __version__
from synthrec.errors import SynthrecError

app = typer.Typer(
    name="synthrec",
    help="Synthetic data for recommender systems in data-scarce domains: fit a generator to a small or "
    "private log, generate synthetic users, augment or pretrain, and measure on held-out real data.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
# Piped output (CI logs, `make demo | tee`) would otherwise wrap the result table at 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=140)
err_console = Console(stderr=True)

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if missing).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
SeedsOpt = Annotated[
    str | None, typer.Option("--seeds", help="Comma-separated seeds overriding the config, e.g. 0,1,2.")
]


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


def _fail(exc: Exception) -> None:
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
    raise typer.Exit(code=2)


def _parse_seeds(seeds: str | None) -> list[int] | None:
    if seeds is None:
        return None
    try:
        return [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(f"seeds must be comma-separated integers, got {seeds!r}") from None


def _print_outputs(outputs: object) -> None:
    from synthrec.experiments.runner import RunOutputs

    assert isinstance(outputs, RunOutputs)
    table = Table(title="held-out real test users: mean ± std over seeds", show_lines=False)
    for col in ("model", "strategy", "NDCG@10", "Recall@20", "Δ NDCG vs real-only", "ceiling recovered"):
        table.add_column(col, justify="left" if col in ("model", "strategy") else "right")
    summary = outputs.summary
    recall_metric = "Recall@20" if "Recall@20" in summary["metric"].to_list() else None
    for row in summary.filter(pl.col("metric") == "NDCG@10").iter_rows(named=True):
        rec = ""
        if recall_metric:
            match = summary.filter((pl.col("metric") == recall_metric) & (pl.col("arm") == row["arm"])
                                   & (pl.col("model") == row["model"]))
            if match.height:
                rec = f"{match['mean'][0]:.4f} ± {match['std'][0]:.4f}"
        delta = "" if row["arm"] == "real-only" or row["delta_vs_real"] is None else f"{100 * row['delta_vs_real']:+.1f}%"
        ceil = ""
        if row["ceiling_recovered"] is not None and row["arm"] not in ("real-only", "ceiling"):
            ceil = f"{100 * row['ceiling_recovered']:.0f}%" if row["ceiling_recovered"] >= 0 else "below real-only"
        table.add_row(escape(row["model"]), escape(row["arm"]), f"{row['mean']:.4f} ± {row['std']:.4f}", rec, delta, ceil)
    console.print(table)
    from synthrec.experiments.findings import headlines

    console.print("[bold]Findings[/] (every arm is discussed in the report)")
    for line in headlines(outputs.verdicts):
        console.print(f" • {escape(line)}")
    console.print(f"\nresults: {outputs.results_json}\nsummary: {outputs.summary_csv}\nreport:  {outputs.report_html}")


def _execute(cfg_path: Path | None, cfg_obj: object, out: Path, quiet: bool, seeds: list[int] | None) -> None:
    from synthrec.config import ExperimentConfig
    from synthrec.experiments.runner import execute

    assert isinstance(cfg_obj, ExperimentConfig)
    if seeds is not None:
        cfg_obj = cfg_obj.model_copy(update={"seeds": seeds})
    assert isinstance(cfg_obj, ExperimentConfig)
    try:
        outputs = execute(cfg_obj, out, base_dir=cfg_path.parent if cfg_path else None, progress=not quiet)
    except SynthrecError as exc:
        _fail(exc)
        return
    _print_outputs(outputs)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="YAML experiment config (see `synthrec init-config`).")],
    out: OutOpt = Path("runs/run"),
    seeds: SeedsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Run an experiment config: split, fit generators, train every model on every strategy, and
    score on held-out real users. Writes results.json, summary.csv and report.html into --out."""
    from synthrec.config import load_config

    try:
        cfg = load_config(config)
    except SynthrecError as exc:
        _fail(exc)
        return
    _execute(config, cfg, out, quiet, _parse_seeds(seeds))


@app.command()
def demo(
    out: OutOpt = Path("runs/demo"),
    seeds: SeedsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The main job on the embedded default data (MovieLens latest-small, 100,004 ratings, offline):
    90% of users form a private source, 10% the scarce target; leave-last-out; generators fitted on the
    target itself and on the source; 3 seeds."""
    import yaml

    from synthrec.config import parse_config

    raw = yaml.safe_load(resources.files("synthrec.configs").joinpath("demo.yaml").read_text(encoding="utf-8"))
    _execute(None, parse_config(raw, source="demo.yaml"), out, quiet, _parse_seeds(seeds))


@app.command("init-config")
def init_config(
    path: Annotated[Path, typer.Argument(help="Where to write the commented example config.")] = Path("synthrec.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example experiment config to start from."""
    if path.exists() and not force:
        _fail(FileExistsError(f"{path} exists; pass --force to overwrite"))
    text = resources.files("synthrec.configs").joinpath("example.yaml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    console.print(f"wrote {path}")


@app.command()
def datasets() -> None:
    """List the registered dataset loaders (use them as `data.loader` in a config)."""
    from synthrec.data.loaders import list_datasets

    table = Table(title="datasets")
    table.add_column("name")
    table.add_column("description")
    for name, desc in list_datasets().items():
        table.add_row(name, desc)
    console.print(table)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        err_console.print("interrupted")
        sys.exit(130)
