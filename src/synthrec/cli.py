"""The `synthrec` command."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's ALS/BPR are slow with threaded BLAS

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table

from synthrec import __version__
from synthrec.commands._console import console, err_console
from synthrec.commands._data_options import (
    ColumnsOpt,
    DataArg,
    FormatOpt,
    ItemCol,
    RatingCol,
    SepOpt,
    TimeCol,
    TimeFormat,
    TimeUnit,
    UserCol,
)
from synthrec.commands._data_options import (
    load_cli_data as _load_cli_data,  # shared with `scenario calibrate`
)
from synthrec.commands._output import require_writable
from synthrec.commands._trusted import TrustedOpt
from synthrec.errors import ConfigError, SynthrecError

if TYPE_CHECKING:
    from synthrec.data.interactions import InteractionData
    from synthrec.generators.base import BaseGenerator

app = typer.Typer(
    name="synthrec",
    help="Synthetic data for recommender systems in data-scarce domains: fit a generator to a small or "
    "private log, generate synthetic users, augment or pretrain, and measure on held-out real data.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if missing).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
TimeTypeOpt = Annotated[str, typer.Option(
    "--time-type", help="How to write times: auto (as the log the generator was fitted on wrote them: "
    "dates, datetimes or epoch seconds), seconds, date or datetime.")]
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


#: Generator attribute where `synthrec fit` records the share of sampled histories that copy a real one.
COPY_SHARE_ATTR = "copied_history_share_"
#: Sampled users `synthrec fit` draws to measure copying (cheap: one small sample, set lookups).
COPY_CHECK_USERS = 200
#: Share of copied histories above which `fit` and `sample` warn.
COPY_WARN_SHARE = 0.05
#: Jaccard distance to the nearest real history at or below which a synthetic history counts as a copy
#: (0 = identical item sets; 0.1 = at least 90 % of the two users' items shared).
NEAR_COPY_DISTANCE = 0.1


def copied_history_share(gen: object, data: object, *, seed: int = 0) -> float | None:
    """Share of a small sample of synthetic users (`COPY_CHECK_USERS`) whose item set copies a real user's
    in ``data``: identical, or nearly (Jaccard distance to the nearest real user at most
    `NEAR_COPY_DISTANCE`, measured as the privacy audit does: `synthrec.evaluation.privacy.jaccard_nearest`);
    ``None`` when the generator cannot sample (the check is skipped, never fatal)."""
    from synthrec.data.interactions import InteractionData
    from synthrec.evaluation.privacy import jaccard_nearest

    assert isinstance(data, InteractionData)
    try:
        syn = gen.sample(min(COPY_CHECK_USERS, max(data.n_users, 10)), seed=seed)  # type: ignore[attr-defined]
        if not isinstance(syn, InteractionData) or syn.n_interactions == 0:
            return None
        nearest, _ = jaccard_nearest(syn, data)
    except Exception:  # a generator that cannot sample here, or another catalogue: no check rather than no fit
        return None
    return float((nearest <= NEAR_COPY_DISTANCE).mean()) if nearest.size else None


def _warn_copies(share: float | None, command: str, n_users: int | None) -> None:
    """Warn on stderr when at least `COPY_WARN_SHARE` of sampled histories copy a real one."""
    if share is None or share < COPY_WARN_SHARE:
        return
    few = f" (it was fitted on {n_users:,} user(s), too few to generalise)" if n_users is not None and n_users < 50 else ""
    err_console.print(
        f"[yellow]warning:[/] {share:.0%} of synthetic histories drawn after the fit are identical or nearly "
        f"identical to a real user's history (Jaccard similarity >= {1 - NEAR_COPY_DISTANCE:.1f}){few}: the generator copies real users, so its samples disclose them. Fit it on more "
        "users, or use a private generator (e.g. --param epsilon=1.0); `synthrec report` audits privacy."
        if command == "fit" else
        f"[yellow]warning:[/] when it was fitted, {share:.0%} of this generator's synthetic histories were "
        "identical or nearly identical to a real user's history: these samples may disclose real users.")


def _check_time_type(value: str) -> str | None:
    """The --time-type to write (``None`` for auto); exits with code 2 on an unknown value."""
    from synthrec.commands._output import parse_time_type

    try:
        return parse_time_type(value)
    except ConfigError as exc:
        _fail(exc)
        return None


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
    require_writable(path, kind="file", option="PATH")
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


@app.command()
def inspect(
    data: DataArg,
    user_col: UserCol = "user",
    item_col: ItemCol = "item",
    rating_col: RatingCol = None,
    time_col: TimeCol = None,
    time_unit: TimeUnit = "s",
    time_format: TimeFormat = None,
    sep: SepOpt = None,
    columns: ColumnsOpt = None,
    fmt: FormatOpt = "auto",
) -> None:
    """Load and validate a log, then print its size, sparsity, activity and time range. Duplicate rows,
    repeated pairs and converted time units are reported as warnings."""
    from synthrec.data.interactions import InteractionData

    try:
        d = _load_cli_data(data, user_col, item_col, rating_col, time_col, time_unit, time_format, sep, columns,
                           fmt)
    except (SynthrecError, ValueError) as exc:
        _fail(exc)
        return
    assert isinstance(d, InteractionData)
    inter = d.interactions
    per_user = inter.group_by("user").len()["len"]
    per_item = inter.group_by("item").len()["len"]
    table = Table(title=escape(d.name), show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("users / items / interactions", f"{d.n_users:,} / {d.n_items:,} / {d.n_interactions:,}")
    table.add_row("density", f"{d.n_interactions / max(1, d.n_users * d.n_items):.4%}")
    table.add_row("interactions per user (min / median / max)",
                  f"{int(per_user.min())} / {float(per_user.median()):g} / {int(per_user.max())}")  # type: ignore[arg-type]
    table.add_row("users per item (min / median / max)",
                  f"{int(per_item.min())} / {float(per_item.median()):g} / {int(per_item.max())}")  # type: ignore[arg-type]
    if d.has_timestamp:
        ts = inter["timestamp"]
        lo, hi = (datetime.fromtimestamp(int(v), tz=timezone.utc) for v in (ts.min(), ts.max()))  # type: ignore[arg-type]
        table.add_row("time range (UTC)", f"{lo:%Y-%m-%d %H:%M} … {hi:%Y-%m-%d %H:%M}")
    if d.has_rating:
        hist = inter.group_by("rating").len().sort("rating")
        if hist.height <= 12:
            table.add_row("ratings", ", ".join(f"{r:g}: {n}" for r, n in hist.iter_rows()))
        else:  # a continuous value (play counts, dwell time): summarise
            r = inter["rating"]
            table.add_row("rating / value (min / median / max)",
                          f"{float(r.min()):g} / {float(r.median()):g} / {float(r.max()):g}")  # type: ignore[arg-type]
    for what, value in _split_facts(d):
        table.add_row(what, value)
    table.add_row("columns", ", ".join(inter.columns))
    console.print(table)
    if not d.has_timestamp and d.row_order_is_time:
        console.print("note: this log has no event times; its rows list each user's events in time order "
                      "(row_order_is_time), which time-ordered splits use.")
    elif not d.has_timestamp:
        console.print(escape(
            "note: this log has no event times, so leave-last-out and temporal splits (`synthrec run`'s "
            "default is leave-last-out) cannot use it as it is: in a config, use `split: {kind: leave-one-out}`, "
            "or set `data.row_order_is_time: true` if each user's rows are listed oldest first."))


def _split_facts(d: InteractionData) -> list[tuple[str, str]]:
    """What the splits will do with this log: its repeated (user, item) rows (held out with their item)
    and, where event order is known, the users whose last events tie in time (a seeded key decides)."""
    from synthrec.data.splits import leave_last_out, leave_one_out

    if d.n_interactions == 0:
        return []
    timed = d.has_timestamp or d.row_order_is_time
    stats = leave_last_out(d).stats if timed else leave_one_out(d, seed=0).stats
    repeats = stats.get("repeat_rows", 0)
    out = [("repeated (user, item) rows", f"{repeats:,}" + (" (a split holds out a pair's events together)"
                                                          if repeats else ""))]
    if timed:
        tied = stats.get("users_tied_at_split", 0)
        out.append(("users tied in time at the leave-last-out split", f"{tied:,}" + (
            " (a seeded key draws the held-out item)" if tied else "")))
    return out


#: The names of `synthrec.generators.registry.GENERATORS`, spelled out so that `synthrec --help` does not
#: import the generators (a test keeps the two equal).
GENERATOR_NAMES = ("latent-factor", "item-walk", "vae", "gan", "sequence", "profiled")


def _parse_params(pairs: list[str]) -> dict[str, object]:
    """``--param KEY=VALUE`` options as a dict, each value read as a YAML scalar (``1.0``, ``16``, ``true``,
    ``null``, ``auto``); text that reads as a float (``1e6``, ``inf``) becomes one."""
    import yaml

    params: dict[str, object] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        key = key.strip()
        if not eq or not key.isidentifier():
            raise ConfigError(f"--param {pair!r}: expected KEY=VALUE, e.g. --param n_factors=16")
        if key in params:
            raise ConfigError(f"--param {key} is given twice")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--param {pair!r}: the value is not valid YAML ({exc})") from None
        if isinstance(value, (dict, list)):
            raise ConfigError(f"--param {pair!r}: give a single value (a number, a word, true/false or null); "
                              "lists and mappings belong in a config file's generator.params")
        params[key] = _number_if_numeric(value)
    return params


def _number_if_numeric(value: object) -> object:
    """YAML 1.1 reads ``1e6``, ``1e-2`` and ``inf`` as text (it wants ``1.0e+6``, ``.inf``); a user typing
    them means numbers. Other words (``auto``, ``pairs``) stay text."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _make_cli_generator(name: str, pairs: list[str], seed: int) -> BaseGenerator:
    """The unfitted generator that `fit --generator NAME --param ...` asks for.

    Raises:
        ConfigError: unknown name (listing the registered ones), a malformed --param, a parameter the
            generator's constructor does not take (listing those it takes), or a value it rejects.
    """
    import inspect as _inspect

    from synthrec._suggest import did_you_mean as _did_you_mean
    from synthrec._suggest import did_you_mean_each
    from synthrec.generators.registry import GENERATORS, make_generator

    if name not in GENERATORS:
        raise ConfigError(f"--generator: unknown generator {name!r}; {_did_you_mean(name, GENERATORS)}valid names: "
                          f"{', '.join(sorted(GENERATORS))}")
    params = _parse_params(pairs)
    if "seed" in params:
        raise ConfigError("--param seed: give the seed with --seed")
    sig = _inspect.signature(GENERATORS[name])
    if not any(p.kind is _inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
        accepted = [p for p, v in sig.parameters.items()
                    if v.kind in (_inspect.Parameter.KEYWORD_ONLY, _inspect.Parameter.POSITIONAL_OR_KEYWORD)
                    and p != "seed"]
        unknown = [k for k in params if k not in accepted]
        if unknown:
            raise ConfigError(f"--param {', '.join(unknown)}: not a parameter of generator {name!r}; "
                              f"{did_you_mean_each(unknown, accepted)}its parameters: {', '.join(accepted)}")
    return make_generator(name, seed=seed, **params)


@app.command()
def fit(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to save the fitted generator, e.g. "
                                      "generator.synthrec: a synthrec model file, which runs no code when "
                                      "loaded (any suffix works).")],
    generator: Annotated[str, typer.Option(
        "--generator", "-g", help=f"Generator name: one of {', '.join(GENERATOR_NAMES)}.")] = "latent-factor",
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="A constructor parameter of the generator as KEY=VALUE, the value read as a YAML "
        "scalar (repeatable), e.g. --param epsilon=1.0 --param n_factors=16.")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the fit.")] = 0,
    user_col: UserCol = "user",
    item_col: ItemCol = "item",
    rating_col: RatingCol = None,
    time_col: TimeCol = None,
    time_unit: TimeUnit = "s",
    time_format: TimeFormat = None,
    sep: SepOpt = None,
    columns: ColumnsOpt = None,
    fmt: FormatOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Fit a generator on a real log and save it: the fitted generator, not the raw data, is what may
    cross to another team. Sample from it with `synthrec sample`."""
    from synthrec.data.interactions import InteractionData
    from synthrec.data.writers import INPUT_TIME_TYPE_ATTR
    from synthrec.progress import step_progress

    if out.is_dir():
        _fail(ValueError(f"--out {out} is a folder; give a file name such as {out / 'generator.synthrec'}"))
    require_writable(out, kind="file")
    try:
        gen = _make_cli_generator(generator, param or [], seed)  # checked before the data is loaded
        d = _load_cli_data(data, user_col, item_col, rating_col, time_col, time_unit, time_format, sep, columns,
                           fmt)
        assert isinstance(d, InteractionData)
        with step_progress(1, f"fitting {generator} on {d.n_interactions:,} interactions", enabled=not quiet,
                           console=err_console) as bar:
            gen.fit(d)
            bar.advance()
        out.parent.mkdir(parents=True, exist_ok=True)
        setattr(gen, INPUT_TIME_TYPE_ATTR, d.time_type)  # `sample` / `generate` write times back in this type
        share = copied_history_share(gen, d, seed=seed)
        setattr(gen, COPY_SHARE_ATTR, share)
        gen.save(out)
    except (SynthrecError, ValueError) as exc:
        _fail(exc)
        return
    _warn_copies(share, "fit", d.n_users)
    console.print(f"fitted {generator} on {escape(d.name)} ({d.n_users:,} users, {d.n_items:,} items); saved to {out}")


@app.command()
def sample(
    generator: Annotated[Path, typer.Argument(help="A generator saved by `synthrec fit`.")],
    users: Annotated[int, typer.Option("--users", "-n", min=1, help="Number of synthetic users.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .parquet, .csv or .tsv.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Same seed, same output.")] = 0,
    batch_users: Annotated[int, typer.Option("--batch-users", min=1, help="Users generated per batch "
                                             "(the output depends on the seed and on this size).")] = 10_000,
    time_type: TimeTypeOpt = "auto",
    trusted: TrustedOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Draw new synthetic users with histories from a fitted generator and write them with external
    item ids (synthetic user ids are `syn-N`)."""
    from synthrec.data.interactions import concat_users
    from synthrec.data.writers import SUFFIXES, recorded_time_type, write_interactions
    from synthrec.generators.base import BaseGenerator
    from synthrec.progress import step_progress

    # Check every argument before loading the generator and drawing users.
    written_type = _check_time_type(time_type)
    if out.is_dir():
        _fail(ValueError(f"--out {out} is a folder; give a file name such as {out / 'synthetic.parquet'}"))
    if out.suffix.lower() not in SUFFIXES:
        _fail(ValueError(f"--out {out}: cannot tell the output format from the suffix {out.suffix!r}; end the "
                         f"name with one of {', '.join(SUFFIXES)}"))
    if not generator.is_file():
        _fail(ValueError(f"GENERATOR {generator}: no such file (save one with `synthrec fit`)"))
    require_writable(out, kind="file")
    try:
        gen = BaseGenerator.load(generator, trusted=trusted)
        parts = []
        n_batches = -(-users // batch_users)
        with step_progress(n_batches, f"sampling {users:,} users", console=err_console, enabled=not quiet,
                           log_counts=True) as bar:
            for part in gen.sample_batches(users, batch_users=batch_users, seed=seed):
                parts.append(part)
                bar.advance()
        synthetic = parts[0] if len(parts) == 1 else concat_users(parts, name="synthetic")
        _warn_copies(getattr(gen, COPY_SHARE_ATTR, None), "sample", None)
        write_interactions(synthetic, out, time_type=written_type or recorded_time_type(gen))
    except (SynthrecError, ValueError, OSError) as exc:
        _fail(exc)
        return
    console.print(f"wrote {synthetic.n_interactions:,} interactions of {users:,} synthetic users to {out}")


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(str(message))}")


def _register_subcommands() -> None:
    """Commands that live in their own modules under `synthrec.commands`, each adding itself via `register`."""
    from synthrec.commands import bench, generate, report, simulate

    for module in (generate, report, bench, simulate):
        module.register(app)


_register_subcommands()


def main() -> None:
    """Console entry point."""
    import warnings

    warnings.showwarning = _show_warning
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        err_console.print("interrupted")
        sys.exit(130)
