"""`synthrec report`: fidelity, privacy, bias and (on request) utility, attack and DP audits of a synthetic
log against the real one, as report.html + results.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, cast

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table

from synthrec.commands._console import console, err_console, fail
from synthrec.commands._output import require_writable
from synthrec.commands._trusted import TRUSTED_HELP
from synthrec.data.interactions import InteractionData
from synthrec.data.validation import TimeUnit
from synthrec.errors import ConfigError, DataValidationError, SynthrecError
from synthrec.experiments.data_source import STANDARD_RATING_COLUMN, pick_standard_columns

#: columns of a file written by `synthrec sample` (or `synthrec.data.writers.write_interactions`)

TIME_UNITS = ("s", "ms", "us", "ns")

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "not-applicable": "dim"}

HELP = """Audit a synthetic log against the real one: fidelity (popularity, long tail, activity, ratings,
time gaps, item co-occurrence), privacy (distance to closest record, exact copies, membership
inference) and bias (popularity-bias amplification; representation of user / item attribute groups —
e.g. ml-100k genres — or of popularity head / tail groups), each summarised as a pass / warn / fail card
with its threshold stated.

Writes **DIR/report.html** (self-contained: opens offline, figures embedded) and **DIR/results.json**
(every figure and the numbers behind every plot).

**Catalogue.** Synthetic items are matched to the real items by external id; an item the real log
lacks is an error. Holdout users may touch items the real log lacks (they are added to the catalogue).

**Holdout.** The privacy audit compares the synthetic users with the real users the generator was
fitted on (members) and with real users it never saw (holdout). Give those with `--holdout`. Without
it, the real log is split at random into members and holdout (`--holdout-fraction`, seeded by `--seed`,
as `synthrec.data.splits.split_users(real, 1 - fraction, seed=seed)`); the split halves show what two
real samples look like. If the generator was fitted on the whole real log, such a holdout is not unseen,
so the distance and membership cards are marked not-applicable unless you pass `--fitted-on-members`
(the generator was fitted on exactly the members part of that split).

**Utility** (`--utility`; trains 8 recommenders, seconds on ml-100k): pop, EASE, ALS and BPR are each
trained on the members and on the synthetic log and scored (NDCG@10) on the last event of every holdout
user given the user's earlier events (leave-last-out of the holdout: users no model saw). The cards:
the mean TSTR ratio (synthetic-trained / real-trained NDCG) and Kendall's τ between the two model
orders. If the holdout may have been seen by the generator, a leave-last-out split of all real users is
used instead and the ratio is optimistic (the card says so).

**Generator** (`--generator MODEL_PATH`, a file written by `synthrec fit`; only load files you trust):
adds the DP card (ε the generator reports; a generator fitted without DP is "not DP: ε = ∞", a
warning) and the shadow-model membership attack: `--shadows` generators of the same class and
parameters are fitted on half of a random half of the holdout (the attacker's data); the other half of
the holdout is attacked beside the members. `--canaries N` plants N made-up users of rare items among
the members, refits the generator class on members + canaries and measures how findable they are in its
output: this audits the generator *class* with these parameters, not the given fitted file (which never
saw the canaries). Each refit costs one fit of the generator (about 15 s for the default latent-factor
generator on half of ml-100k).

**Columns.** `--user-col`, `--item-col`, `--rating-col`, `--time-col`, `--sep` and the time options
name the columns of --real and --holdout; `--columns` names the columns of those files only when they
are text files without a header line (never of a Parquet file, which carries its own names; a header
that differs from `--columns` is an error). Columns named exactly `rating` and `timestamp` are used
without being named. The synthetic file is read by its own header: laid out as `synthrec sample` writes
it (`user`, `item` and optional `timestamp` in seconds, `rating`), or else with the columns named by
`--user-col` etc.; a synthetic text file without a header line needs `--synthetic-columns`.

A `--generator` must have been fitted on the item catalogue of --real (same external item ids); any
other generator is an error."""


@dataclass(frozen=True)
class ColumnSpec:
    """How to read a table file (the column options of the command)."""

    user_col: str = "user"
    item_col: str = "item"
    rating_col: str | None = None
    time_col: str | None = None
    sep: str | None = None
    columns: list[str] | None = None
    time_unit: str = "s"
    time_format: str | None = None


#: every column `synthrec sample` may write (`synthrec.data.writers.external_frame`)
SAMPLE_COLUMNS = frozenset({"user", "item", "timestamp", "rating", "event", "session"})


def load_log(path: Path, spec: ColumnSpec, *, synthetic: bool = False,
             synthetic_columns: list[str] | None = None) -> InteractionData:
    """Read one log: a MovieLens folder, a RecBole ``.inter`` file or (real and holdout logs) a ``user item
    item ...`` sequence file by auto-detection, any other file as a table.

    The real and holdout files (``synthetic=False``) are read with ``spec``; ``spec.columns`` names the
    columns of a header-less text file only: never of a Parquet file (which carries its own names), and a
    text file whose line 1 is a header equal to ``spec.columns`` is read by that header.

    The synthetic file is read with its own header (``spec.columns`` and ``spec.sep`` never apply to it),
    or with ``synthetic_columns`` when it is a header-less text file. A synthetic table laid out as
    `synthrec sample` writes it (columns among `SAMPLE_COLUMNS`, with ``user`` and ``item``) is read with
    those names (times in seconds); any other synthetic table must hold the columns ``spec`` names.

    Raises:
        DataValidationError: missing file, unreadable table, missing columns, a header that differs from
            ``spec.columns``, or names given for a Parquet synthetic file (naming the file).
        ConfigError: an unknown ``spec.time_unit``.
    """
    from synthrec.config import DataConfig
    from synthrec.data.amazon_seq import looks_like_sequence_file
    from synthrec.data.readers import PARQUET_SUFFIXES, build_interactions
    from synthrec.data.validation import emit_report
    from synthrec.experiments.data_source import read_path

    if not path.exists():
        raise DataValidationError("no such file or folder", source=str(path), hint="check the path")
    if path.is_dir() or path.suffix == ".inter" or (not synthetic and looks_like_sequence_file(path)):
        return read_path(DataConfig(path=path))  # detected as `fit` detects it (a `user item item ...` file too)
    if spec.time_unit not in TIME_UNITS:
        raise ConfigError(f"--time-unit must be one of {', '.join(TIME_UNITS)}, got {spec.time_unit!r}")
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    if synthetic:
        if synthetic_columns is not None and parquet:
            raise DataValidationError(
                "--synthetic-columns names the columns of a header-less text file, but this is Parquet, "
                "which carries its own column names", source=str(path), hint="drop --synthetic-columns")
        frame = _read_table(path, None, synthetic_columns, flag="--synthetic-columns")
    else:
        frame = _read_table(path, spec.sep, None if parquet else spec.columns, flag="--columns")
    cols = set(frame.columns)
    user_col, item_col, rating_col, time_col = spec.user_col, spec.item_col, spec.rating_col, spec.time_col
    time_unit, time_format = spec.time_unit, spec.time_format
    if synthetic and {"user", "item"} <= cols <= SAMPLE_COLUMNS:  # synthrec's own layout, times in seconds
        user_col, item_col, rating_col, time_col, time_unit, time_format = "user", "item", None, None, "s", None
    elif synthetic and not {user_col, item_col} <= cols:
        raise DataValidationError(
            f"the synthetic file has columns {', '.join(frame.columns)}: neither the layout of `synthrec "
            f"sample` (user, item, timestamp, rating) nor the --user-col / --item-col names "
            f"({user_col}, {item_col})", source=str(path),
            hint="give --synthetic-columns for a synthetic text file without a header line")
    if synthetic:  # optional columns: the named one when the synthetic file has it, else the standard name
        rating_col = rating_col if rating_col in cols else None
        time_col = time_col if time_col in cols else None
    # the one rule of every entry point: `rating`, and `timestamp` / `ts` / `time`, when not named
    pick = pick_standard_columns(
        frame.columns, user_col=user_col, item_col=item_col, rating_col=rating_col, time_col=time_col,
        rating_nulls=lambda: int(frame[STANDARD_RATING_COLUMN].null_count()))
    rating_col, time_col = pick.rating_col, pick.time_col
    if pick.empty_ratings:
        err_console.print(f"note: {escape(pick.empty_rating_note(str(path), frame.height))}")
    data, report = build_interactions(
        frame, user_col=user_col, item_col=item_col, rating_col=rating_col, time_col=time_col,
        time_unit=cast(TimeUnit, time_unit), time_format=time_format, name=str(path),
    )
    emit_report(report)
    return data


def _read_table(path: Path, sep: str | None, names: list[str] | None, *, flag: str) -> pl.DataFrame:
    """Read a table file; ``names`` (from option ``flag``) name the columns of a header-less text file.

    A file whose line 1 holds one of ``names`` has a header: it is read by that header when the header
    equals ``names`` and is an error otherwise (never a silent rename by position).
    """
    from synthrec.data.readers import read_frame

    if names is None:
        return read_frame(path, sep=sep)
    frame = read_frame(path, sep=sep, has_header=False, column_names=names)
    first = {str(v).strip() for v in frame.row(0)} if frame.height else set()
    if not first & set(names):
        return frame
    header = read_frame(path, sep=sep)
    if header.columns != names:
        raise DataValidationError(
            f"line 1 is a header ({', '.join(header.columns)}) that differs from {flag} "
            f"({', '.join(names)})", source=str(path),
            hint=f"{flag} is for files without a header line: drop it and name the columns of this file "
                 "with --user-col, --item-col, --rating-col, --time-col")
    return header


def _names(option: str | None) -> list[str] | None:
    """A comma-separated column list option as names (``None`` when not given)."""
    return [c.strip() for c in option.split(",")] if option else None


def _check_fraction(fraction: float) -> float:
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"--holdout-fraction must be between 0 and 1 (exclusive), got {fraction:g}")
    return fraction


def report(
    real: Annotated[Path, typer.Option("--real", help="The real log (CSV/TSV/Parquet file, MovieLens "
                                       "folder, RecBole .inter file or a `user item item ...` .txt sequence "
                                       "file): the users the generator learned from.")],
    synthetic: Annotated[Path, typer.Option("--synthetic", help="The synthetic log to audit, e.g. the "
                                            "output of `synthrec sample`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for report.html and results.json "
                                      "(created if missing).")],
    holdout: Annotated[Path | None, typer.Option("--holdout", help="Real users the generator never saw "
                                                 "(same format as --real). Default: split --real.")] = None,
    holdout_fraction: Annotated[float, typer.Option("--holdout-fraction", help="Without --holdout: share "
                                                    "of the real users held out.")] = 0.5,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the members/holdout split and of the "
                                      "optional audits (utility models, shadows, canaries).")] = 0,
    fitted_on_members: Annotated[bool, typer.Option(
        "--fitted-on-members", help="Without --holdout: the generator was fitted only on the members part "
        "of the seeded split, so its holdout is unseen and every privacy card applies.")] = False,
    user_col: Annotated[str, typer.Option("--user-col", help="User id column of table files.")] = "user",
    item_col: Annotated[str, typer.Option("--item-col", help="Item id column of table files.")] = "item",
    rating_col: Annotated[str | None, typer.Option("--rating-col", help="Rating column (default: a "
                                                   "column named `rating`, if any).")] = None,
    time_col: Annotated[str | None, typer.Option("--time-col", help="Time column (default: a column named "
                                                 "`timestamp`, if any).")] = None,
    time_unit: Annotated[str, typer.Option("--time-unit", help="Unit of integer times: s, ms, us or ns.")] = "s",
    time_format: Annotated[str | None, typer.Option("--time-format", help="strftime format of dates, "
                                                    "e.g. %Y%m%d.")] = None,
    sep: Annotated[str | None, typer.Option("--sep", help="Field separator (default: detected).")] = None,
    columns: Annotated[str | None, typer.Option("--columns", help="Comma-separated names for files WITHOUT "
                                                "a header line, e.g. user,item,rating,timestamp: --real "
                                                "and --holdout text files only, never the synthetic "
                                                "file.")] = None,
    synthetic_columns: Annotated[str | None, typer.Option(
        "--synthetic-columns", help="Comma-separated names for a synthetic text file WITHOUT a header "
        "line, e.g. user,item,timestamp,rating (a file of `synthrec sample` has one).")] = None,
    top_items: Annotated[int, typer.Option("--top-items", min=2, help="Most popular items used in the "
                                           "co-occurrence figures.")] = 500,
    utility: Annotated[bool, typer.Option("--utility", help="Also train pop, EASE, ALS and BPR on real and "
                                          "on synthetic data and compare them on held-out real users (TSTR).")] = False,
    generator: Annotated[Path | None, typer.Option("--generator", help="The fitted generator (a file of "
                                                   "`synthrec fit`) behind the synthetic log: adds the DP "
                                                   "card and the shadow-model attack.")] = None,
    shadows: Annotated[int, typer.Option("--shadows", min=0, help="With --generator: shadow generators "
                                         "of the membership attack (0 = no attack).")] = 4,
    canaries: Annotated[int, typer.Option("--canaries", min=0, help="With --generator: plant this many "
                                          "canaries and refit the generator class on members + canaries "
                                          "(0 = no canary audit).")] = 0,
    trusted: Annotated[bool, typer.Option("--trusted", help=f"With --generator: {TRUSTED_HELP}")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    from synthrec.experiments.audit import (
        OptionalAudits,
        audit_steps,
        prepare_audit_inputs,
        run_quality_audit,
    )
    from synthrec.generators.base import BaseGenerator
    from synthrec.progress import step_progress
    from synthrec.report.quality import write_quality_report

    require_writable(out, kind="folder")  # before any data is read: a long audit must not fail at the end
    spec = ColumnSpec(user_col, item_col, rating_col, time_col, sep,
                      _names(columns), time_unit, time_format)
    syn_names = _names(synthetic_columns)
    try:
        if holdout is None:
            _check_fraction(holdout_fraction)
        if canaries and generator is None:
            raise ConfigError("--canaries refits the generator's class: give --generator MODEL_PATH too")
        fitted = BaseGenerator.load(generator, trusted=trusted) if generator is not None else None
        optional = OptionalAudits(utility=utility, generator=fitted, n_shadows=shadows, n_canaries=canaries,
                                  seed=seed)
        with step_progress(4 + audit_steps(optional), "report", enabled=not quiet, console=err_console) as bar:
            bar.describe("loading the real log")
            real_data = load_log(real, spec)
            bar.advance()
            bar.describe("loading the synthetic log")
            syn_data = load_log(synthetic, spec, synthetic=True, synthetic_columns=syn_names)
            bar.advance()
            bar.describe("loading the holdout" if holdout is not None else "splitting members / holdout")
            inputs = prepare_audit_inputs(
                real_data, syn_data, load_log(holdout, spec) if holdout is not None else None,
                holdout_fraction=holdout_fraction, seed=seed, fitted_on_members=fitted_on_members,
                generator=fitted, real_source=str(real), holdout_source=str(holdout),
                generator_source=str(generator))
            bar.advance()
            payload = run_quality_audit(
                inputs.members, inputs.synthetic, inputs.holdout, holdout_unseen=inputs.holdout_unseen,
                holdout_note=inputs.holdout_note, top_items=top_items, optional=optional,
                inputs={"real_path": str(real), "synthetic_path": str(synthetic),
                        "holdout_path": str(holdout) if holdout is not None else None, "split": inputs.split,
                        "seed": seed, "generator_path": str(generator) if generator is not None else None,
                        "generator": repr(fitted) if fitted is not None else None},
                bar=bar,
            )
            bar.describe("writing report.html and results.json")
            results_json, report_html = write_quality_report(payload, out)
            bar.advance()
    except (SynthrecError, ValueError, OSError) as exc:
        fail(exc)
    _print_cards(payload)
    console.print(f"\nresults: {results_json}\nreport:  {report_html}")


def _print_cards(payload: dict[str, object]) -> None:
    table = Table(title="audits of the synthetic data")
    for col in ("audit", "status", "headline", "rule"):
        table.add_column(col)
    cards = payload["cards"]
    assert isinstance(cards, list)
    for c in cards:
        style = STATUS_STYLE.get(c["status"], "")
        table.add_row(escape(c["title"]), f"[{style}]{c['status']}[/]", escape(c["headline"]),
                      escape(c["thresholds"]))
    console.print(table)
    previous = ""
    for c in cards:  # what a card's figure means here, or why it is not applicable
        if c["note"] and c["note"] != previous:
            console.print(f"[dim]· {escape(c['title'])}: {escape(c['note'])}[/]")
        previous = c["note"]
    overall = str(payload["overall"])
    console.print(f"overall: [{STATUS_STYLE.get(overall, '')}]{overall}[/]")


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""
    app.command("report", help=HELP)(report)
