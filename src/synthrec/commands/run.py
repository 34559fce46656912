"""`synthrec run` and `synthrec demo`: run an experiment config (or the embedded demo config) and print
the headline table and findings."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table

from synthrec.commands._console import console, fail
from synthrec.commands._options import QuietOpt
from synthrec.commands._output import require_writable
from synthrec.errors import SynthrecError

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if missing).")]
SeedsOpt = Annotated[
    str | None, typer.Option("--seeds", help="Comma-separated seeds overriding the config, e.g. 0,1,2.")
]


def _parse_seeds(seeds: str | None) -> list[int] | None:
    if seeds is None:
        return None
    try:
        parsed = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(f"seeds must be comma-separated integers, got {seeds!r}") from None
    if not parsed:
        raise typer.BadParameter(f"give at least one seed, got {seeds!r}")
    if len(set(parsed)) != len(parsed):
        # A repeated seed would be counted twice as independent evidence ("helps consistently").
        raise typer.BadParameter(f"give distinct seeds, got {','.join(map(str, parsed))}")
    return parsed


def _print_outputs(outputs: object) -> None:
    from synthrec.experiments.results import headline_metrics
    from synthrec.experiments.runner import RunOutputs

    assert isinstance(outputs, RunOutputs)
    # headline metrics from the config's ks: NDCG@10 (else the smallest k), Recall@20 (else the largest k)
    ndcg, recall = headline_metrics(outputs.result.config.ks)
    table = Table(title="held-out real test users: mean ± std over seeds", show_lines=False)
    for col in ("model", "strategy", ndcg, recall, "Δ NDCG vs real-only", "ceiling recovered"):
        table.add_column(col, justify="left" if col in ("model", "strategy") else "right")
    summary = outputs.summary
    recall_metric = recall if recall in summary["metric"].to_list() else None
    for row in summary.filter(pl.col("metric") == ndcg).iter_rows(named=True):
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
    require_writable(out, kind="folder")
    if seeds is not None:
        cfg_obj = cfg_obj.model_copy(update={"seeds": seeds})
    assert isinstance(cfg_obj, ExperimentConfig)
    try:
        outputs = execute(cfg_obj, out, base_dir=cfg_path.parent if cfg_path else None, progress=not quiet,
                          log=lambda line: console.print(escape(line)))
    except SynthrecError as exc:
        fail(exc)
    _print_outputs(outputs)


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
        fail(exc)
    _execute(config, cfg, out, quiet, _parse_seeds(seeds))


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


def register(app: typer.Typer) -> None:
    """Add the ``run`` and ``demo`` commands to ``app``."""
    app.command("run")(run)
    app.command("demo")(demo)
