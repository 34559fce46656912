"""`synthrec simulate` (scenario simulator → files) and `synthrec scenario init|validate|presets|calibrate`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import polars as pl
import typer
from rich.markup import escape
from rich.table import Table

from synthrec.commands._console import console as _console
from synthrec.commands._console import err_console as _err_console
from synthrec.commands._console import fail
from synthrec.commands._data_options import (
    ColumnsOpt,
    DataArg,
    ItemCol,
    RatingCol,
    SepOpt,
    TimeCol,
    TimeFormat,
    TimeUnit,
    UserCol,
    load_cli_data,
)
from synthrec.commands._output import require_writable
from synthrec.errors import ConfigError, SynthrecError
from synthrec.progress import step_progress

if TYPE_CHECKING:
    from synthrec.data.interactions import InteractionData
    from synthrec.generators.simulator import Simulator


FORMATS = ("parquet", "csv", "recbole")
#: largest ground-truth export, in (user, item) cells
MAX_TRUTH_CELLS = 20_000_000
#: users simulated per progress step (a multiple of the simulator's seeding block)
_BATCH_USERS = 8192

ScenarioArg = Annotated[Path | None, typer.Argument(help="Scenario YAML file (see `synthrec scenario init`).")]
PresetOpt = Annotated[str | None, typer.Option("--preset", "-p", help="A shipped scenario instead of a file "
                                               "(see `synthrec scenario presets`).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def _simulator(scenario: Path | None, preset: str | None) -> Simulator:
    from synthrec.generators.simulator import Simulator

    if (scenario is None) == (preset is None):
        raise ConfigError("give a scenario file or --preset NAME (one of them)")
    return Simulator.from_preset(preset) if preset is not None else Simulator(scenario)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- simulate


def simulate(
    scenario: ScenarioArg = None,
    users: Annotated[int, typer.Option("--users", "-n", min=1, help="Number of simulated users.")] = 1000,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created; files in it are replaced).")
                   ] = Path("simulated"),
    seed: Annotated[int, typer.Option("--seed", min=0, help="Same scenario and seed, byte-identical files.")] = 0,
    preset: PresetOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="parquet (zstd), csv, or recbole atomic files.")
                   ] = "parquet",
    truth: Annotated[bool, typer.Option("--truth", help="Also write truth.parquet (truth.csv with --format "
                                        "csv): the true utility of every item for the first --truth-users "
                                        "users, at the window's end.")] = False,
    truth_users: Annotated[int, typer.Option("--truth-users", min=1, help="Users in the ground-truth export.")
                           ] = 100,
    quiet: QuietOpt = False,
) -> None:
    """Simulate users, items and an interaction log from a scenario and write them to files.

    Writes interactions, users and items tables with external ids (users sim-N, the catalogue's item
    ids) — interactions, users and items .parquet or .csv (by --format), or NAME.inter/.user/.item for
    recbole — and scenario.yaml, the validated scenario. Every file is written under a temporary name and
    renamed when all are complete, so a failed run leaves no partial output.
    """
    require_writable(out, kind="folder")
    try:
        if fmt not in FORMATS:
            from synthrec.config import did_you_mean

            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}{did_you_mean(fmt, list(FORMATS))}")
        sim = _simulator(scenario, preset)
        if truth and truth_users * sim.catalogue.n_items > MAX_TRUTH_CELLS:
            raise ConfigError(f"--truth-users {truth_users} × {sim.catalogue.n_items} items exceeds "
                              f"{MAX_TRUTH_CELLS:,} cells; give fewer --truth-users")
        n_steps = -(-users // _BATCH_USERS) + (1 if truth else 0)
        with step_progress(n_steps, f"simulating {users:,} users of {sim.scenario.name}", enabled=not quiet,
                           console=_err_console) as bar:
            parts = []
            for part in sim.sample_batches(users, batch_users=_BATCH_USERS, seed=seed):
                parts.append(part)
                bar.advance()
            data = stack_batches(parts)
            truth_frame = None
            if truth:
                bar.describe("ground-truth utilities")
                truth_frame = truth_table(sim, min(truth_users, users), seed=seed)
                bar.advance()
        written = write_simulation(data, out, fmt, sim, truth_frame)
    except (SynthrecError, ValueError, OSError) as exc:
        fail(exc)
    _console.print(f"wrote {data.n_interactions:,} interactions of {data.n_users:,} users and "
                   f"{data.n_items:,} items to {escape(str(out))} ({', '.join(p.name for p in written)})")


def stack_batches(parts: list[InteractionData]) -> InteractionData:
    """Concatenate consecutive `Simulator.sample_batches` parts into one `InteractionData` (dense user ids
    shifted, users tables stacked) — equal to one ``sample`` call."""
    from synthrec.data.interactions import USER, InteractionData

    if len(parts) == 1:
        return parts[0]
    offsets = np.concatenate([[0], np.cumsum([p.n_users for p in parts])[:-1]])
    inter = pl.concat([p.interactions.with_columns((pl.col(USER) + int(o)).cast(pl.Int32))
                       for p, o in zip(parts, offsets, strict=True)])
    users = None
    if all(p.users is not None for p in parts):
        users = pl.concat([p.users.with_columns((pl.col(USER) + int(o)).cast(pl.Int32))  # type: ignore[union-attr]
                           for p, o in zip(parts, offsets, strict=True)])
    return InteractionData(inter, pl.concat([p.user_ids for p in parts]), parts[0].item_ids, users,
                           parts[0].items, name=parts[0].name)


def truth_table(sim: Simulator, n_users: int, *, seed: int) -> pl.DataFrame:
    """True utilities of users ``0 … n_users − 1`` × every item at the window's end (base popularity).

    Returns:
        DataFrame ``user`` (String, external id ``sim-N``), ``item`` (the catalogue's external id),
        ``utility`` (Float32; −inf = unavailable), user-major.
    """
    v = sim.true_utilities(np.arange(n_users), seed=seed)
    n_items = v.shape[1]
    users = pl.select(pl.format("sim-{}", pl.int_range(0, n_users, dtype=pl.Int64))).to_series()
    return pl.DataFrame({
        "user": users.gather(pl.Series(np.repeat(np.arange(n_users), n_items), dtype=pl.UInt32)),
        "item": sim.catalogue.item_ids.gather(pl.Series(np.tile(np.arange(n_items), n_users), dtype=pl.UInt32)),
        "utility": pl.Series(v.ravel(), dtype=pl.Float32),
    })


def _external_table(table: pl.DataFrame, column: str, vocab: pl.Series) -> pl.DataFrame:
    return table.with_columns(vocab.gather(table[column].cast(pl.UInt32)).alias(column))


#: table names `write_simulation` writes (as <name>.parquet or <name>.csv)
_OUTPUT_TABLES = ("interactions", "users", "items", "truth")
#: suffixes of the RecBole atomic files it writes (<scenario name>.inter/.user/.item)
_RECBOLE_SUFFIXES = (".inter", ".user", ".item")


def _remove_stale_outputs(out: Path) -> None:
    """Delete files an earlier `simulate` run left in ``out`` (another seed's truth table, parquet files
    beside new csv ones), so the folder holds one run. Only the simulator's own output names are touched."""
    for f in out.iterdir():
        ours = (f.stem in _OUTPUT_TABLES and f.suffix in (".parquet", ".csv")) or f.suffix in _RECBOLE_SUFFIXES
        if ours and f.is_file() and not f.is_symlink():
            f.unlink()


def write_simulation(data: InteractionData, out: Path, fmt: str, sim: Simulator,
                     truth: pl.DataFrame | None = None) -> list[Path]:
    """Write a simulated log to folder ``out`` (see `simulate`); returns the files written.

    Files go to a hidden temporary folder beside ``out`` first and are moved in only when all are written;
    just before the move, outputs of an earlier run in ``out`` (`_remove_stale_outputs`) are deleted so
    that no stale file sits beside the new ones. Other files in ``out`` are left alone.

    Raises:
        ConfigError: ``out`` is an existing file.
    """
    from synthrec.data.interactions import ITEM, USER
    from synthrec.data.recbole import write_recbole
    from synthrec.data.writers import external_frame
    from synthrec.generators.simulator import scenario_to_yaml

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        ext = "csv" if fmt == "csv" else "parquet"

        def table(frame: pl.DataFrame, name: str) -> None:
            if ext == "csv":
                frame.write_csv(tmp / f"{name}.csv")
            else:
                frame.write_parquet(tmp / f"{name}.parquet", compression="zstd")

        if fmt == "recbole":
            write_recbole(data, tmp, sim.scenario.name)
        else:
            table(external_frame(data), "interactions")
            if data.users is not None:
                table(_external_table(data.users, USER, data.user_ids), "users")
            if data.items is not None:
                table(_external_table(data.items, ITEM, data.item_ids), "items")
        if truth is not None:
            table(truth, "truth")
        (tmp / "scenario.yaml").write_text(scenario_to_yaml(sim.scenario), encoding="utf-8")
        out.mkdir(exist_ok=True)
        _remove_stale_outputs(out)
        written = []
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
            written.append(out / f.name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- scenario


scenario_app = typer.Typer(name="scenario", no_args_is_help=True, add_completion=False,
                           help="Write, check and calibrate simulator scenarios (YAML).")


@scenario_app.command("init")
def scenario_init(
    path: Annotated[Path, typer.Argument(help="File to write.")] = Path("scenario.yaml"),
    preset: Annotated[str | None, typer.Option("--preset", "-p", help="Start from a shipped preset instead "
                                               "of the commented template.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a fully commented scenario (every key with its meaning) to edit for your domain."""
    from synthrec.data.atomic import atomic_write_text
    from synthrec.generators.simulator import scenario_template
    from synthrec.generators.simulator.presets import preset_text

    if not (path.exists() and not force):
        require_writable(path, kind="file", option="PATH")
    try:
        if path.exists() and not force:
            raise ConfigError(f"{path} exists; pass --force to overwrite it")
        atomic_write_text(path, preset_text(preset) if preset is not None else scenario_template())
    except (SynthrecError, ValueError, OSError) as exc:
        fail(exc)
    _console.print(f"wrote {escape(str(path))}; check it with `synthrec scenario validate {escape(str(path))}`")


@scenario_app.command("validate")
def scenario_validate(path: Annotated[Path, typer.Argument(help="Scenario YAML file.")]) -> None:
    """Check a scenario file (types, ranges, unknown keys, shares, funnel) and build its catalogue."""
    from synthrec.generators.simulator import Simulator

    try:
        sim = Simulator(path)
        cat = sim.catalogue
    except (SynthrecError, ValueError, OSError) as exc:
        fail(exc)
    scen = sim.scenario
    _console.print(f"{escape(str(path))}: valid scenario {scen.name!r} — {cat.n_items:,} items in "
                   f"{cat.n_categories} categories, {len(scen.users.segments)} segments, funnel "
                   f"{' → '.join(scen.stage_names)}, {scen.simulation.days} days from {scen.simulation.start}")


@scenario_app.command("presets")
def scenario_presets() -> None:
    """List the shipped preset scenarios (use with `synthrec simulate --preset NAME`)."""
    from synthrec.generators.simulator import PRESETS, load_preset

    table = Table(title="scenario presets")
    table.add_column("name")
    table.add_column("description")
    for name in PRESETS:
        table.add_row(name, load_preset(name).description)
    _console.print(table)


@scenario_app.command("calibrate")
def scenario_calibrate(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Calibrated scenario YAML to write.")
                   ] = Path("calibrated.yaml"),
    scenario: Annotated[Path | None, typer.Option("--scenario", "-s", help="Scenario to start from (default: "
                                                  "a plain one shaped like the log).")] = None,
    preset: PresetOpt = None,
    users: Annotated[int | None, typer.Option("--users", "-n", min=1, help="Users per evaluation sample "
                                              "(default: the log's users).")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of every evaluation sample.")] = 0,
    max_iter: Annotated[int, typer.Option("--max-iter", min=1, help="Samples per knob search.")] = 12,
    user_col: UserCol = "user",
    item_col: ItemCol = "item",
    rating_col: RatingCol = None,
    time_col: TimeCol = None,
    time_unit: TimeUnit = "s",
    time_format: TimeFormat = None,
    sep: SepOpt = None,
    columns: ColumnsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Tune a scenario so its samples match the real log's popularity Gini, activity, sessions, funnel
    and rating histogram; write it with the achieved-vs-target report in its header.

    DATA is read like `synthrec inspect` reads it: name the columns of a header-less file with --columns,
    and columns named exactly `rating` / `timestamp` are used unless --rating-col / --time-col say otherwise.
    """
    from synthrec.data.interactions import InteractionData
    from synthrec.generators.simulator import calibrate

    require_writable(out, kind="file")
    try:
        if scenario is not None and preset is not None:
            raise ConfigError("give --scenario or --preset, not both")
        real = load_cli_data(data, user_col, item_col, rating_col, time_col, time_unit, time_format, sep,
                             columns)
        assert isinstance(real, InteractionData)
        with step_progress(1, "calibrating", enabled=not quiet, console=_err_console) as bar:
            def on_eval(knob: str, factor: float, value: float) -> None:
                bar.describe(f"calibrating {knob}: factor {factor:.3g} → {value:.4g}")

            result = calibrate(real, scenario=scenario, preset=preset, n_users=users, seed=seed,
                               max_iter=max_iter, on_evaluation=on_eval)
            bar.advance()
        result.save(out)
    except (SynthrecError, ValueError, OSError) as exc:
        fail(exc)
    table = Table(title=f"calibration to {escape(str(data))} ({result.evaluations} samples)")
    for col in ("statistic", "target", "achieved", "relative error"):
        table.add_column(col, justify="left" if col == "statistic" else "right")
    for row in result.report.iter_rows(named=True):
        table.add_row(row["statistic"], f"{row['target']:.4g}", f"{row['achieved']:.4g}",
                      f"{row['relative_error']:.2%}")
    _console.print(table)
    _console.print(f"wrote {escape(str(out))}")


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and the ``scenario`` command group to ``app``."""
    app.command("simulate")(simulate)
    app.add_typer(scenario_app, name="scenario")
