"""`synthrec datasets` and `synthrec inspect`: the registered dataset loaders, and what a log holds."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from synthrec.commands._console import console, fail
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
    load_cli_data,
)
from synthrec.errors import ConfigError, SynthrecError

if TYPE_CHECKING:
    from synthrec.data.interactions import InteractionData
    from synthrec.data.item_map import ItemMap

SourceOpt = Annotated[str | None, typer.Option(
    "--source", help="A source log with its own catalogue (a registered dataset name, a MovieLens folder, a "
    "table file, ... read as DATA is, with the default column names): print how much of each side an item "
    "map covers (items and interactions), with ambiguous keys.")]
MapByOpt = Annotated[str | None, typer.Option(
    "--map-by", help="With --source: how its items are matched to DATA's items: title (the default; normalised "
    "title + year, from the "
    "items tables), column:NAME (a shared id column of the items tables; column:item = the item ids "
    "themselves) or file:PATH (a two-column mapping file with a header `source,target`).")]


def datasets() -> None:
    """List the registered dataset loaders (use them as `data.loader` in a config)."""
    from synthrec.data.loaders import list_datasets

    table = Table(title="datasets")
    table.add_column("name")
    table.add_column("description")
    for name, desc in list_datasets().items():
        table.add_row(name, desc)
    console.print(table)


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
    source: SourceOpt = None,
    map_by: MapByOpt = None,
) -> None:
    """Load and validate a log, then print its size, sparsity, activity and time range. Duplicate rows,
    repeated pairs and converted time units are reported as warnings. With --source, also print how much
    of each catalogue an item map from that source onto DATA covers (--map-by)."""
    from synthrec.data.interactions import InteractionData

    try:
        if source is None and map_by is not None:
            raise ConfigError("--map-by says how --source items are matched to DATA's items: give --source too")
        map_by = map_by or "title"
        if source is not None:
            _parse_map_by(map_by)
        d = load_cli_data(data, user_col, item_col, rating_col, time_col, time_unit, time_format, sep, columns,
                          fmt)
    except (SynthrecError, ValueError) as exc:
        fail(exc)
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
    if source is not None:
        _print_coverage(source, map_by, d)


def _parse_map_by(map_by: str) -> tuple[str, str]:
    """``(kind, argument)`` of --map-by: ``("title", "")``, ``("column", NAME)`` or ``("file", PATH)``."""
    kind, _, arg = map_by.partition(":")
    if (kind == "title" and not arg) or (kind in ("column", "file") and arg.strip()):
        return kind, arg.strip()
    raise ConfigError(f"--map-by {map_by!r} is not one of: title, column:NAME, file:PATH "
                      "(e.g. --map-by column:imdb_id, --map-by file:map.csv)")


def _item_map(map_by: str, source: InteractionData, target: InteractionData) -> ItemMap:
    """The item map --map-by names (title, column:NAME or file:PATH)."""
    from synthrec.data.item_map import map_items_by_key, map_items_by_title, read_item_map

    kind, arg = _parse_map_by(map_by)
    if kind == "column":
        return map_items_by_key(source, target, source_col=arg)
    if kind == "file":
        return read_item_map(arg, source, target)
    return map_items_by_title(source, target)


def _print_coverage(source_arg: str, map_by: str, target: InteractionData) -> None:
    """Load --source as DATA is loaded, map its items onto ``target``'s and print the coverage lines."""
    from synthrec.data.interactions import InteractionData

    try:
        src = load_cli_data(source_arg, "user", "item", None, None, "s", None, None, None, "auto")
        assert isinstance(src, InteractionData)
        item_map = _item_map(map_by, src, target)
    except (SynthrecError, ValueError) as exc:
        fail(exc, soft_wrap=True)
    cov = item_map.coverage(src, target)
    console.print(f"\n[bold]source → target items[/] ({escape(src.name)} → {escape(target.name)})")
    for line in cov.lines():
        console.print(escape(line), soft_wrap=True)
    if cov.n_mapped == 0:
        console.print("note: with no item in common the source cannot inform the target's models; map by "
                      "another key (--map-by column:NAME or file:PATH) or use the target alone.")


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


def register(app: typer.Typer) -> None:
    """Add the ``datasets`` and ``inspect`` commands to ``app``."""
    app.command("datasets")(datasets)
    app.command("inspect")(inspect)
