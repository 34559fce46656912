"""`synthrec fit --streaming`: fit a generator on a Parquet log in passes (`synthrec.scale.stream_fit`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from synthrec.commands._console import err_console

if TYPE_CHECKING:
    from synthrec.generators.base import BaseGenerator
    from synthrec.scale.stream_fit import LogColumns


def fit_streaming_cli(gen: BaseGenerator, generator: str, data: str, *, user_col: str, item_col: str,
                      rating_col: str | None, time_col: str | None, time_unit: str, time_format: str | None,
                      workers: int | None, scheduler: str | None, backend: str | None, cache: Path,
                      sample_users: int, quiet: bool) -> dict[str, int]:
    """Fit ``gen`` (named ``generator`` on the command line) on the Parquet log DATA in passes, with progress
    on stderr, and record how its times are written. Returns what was read back from ``cache``
    (`fit_streaming`'s ``resumed``).

    Raises:
        ValueError: a generator without a streaming fit. DataValidationError, ConfigError: see
            `synthrec.scale.stream_fit.fit_streaming`.
    """
    from synthrec.commands.generate import choose_backend
    from synthrec.data.writers import INPUT_TIME_TYPE_ATTR
    from synthrec.progress import step_progress
    from synthrec.scale.backends import make_backend
    from synthrec.scale.stats import parquet_files
    from synthrec.scale.stream_fit import STREAMING_GENERATORS, fit_streaming

    if generator not in STREAMING_GENERATORS:
        raise ValueError(f"--streaming fits {' and '.join(STREAMING_GENERATORS)} only, not {generator!r}: drop "
                         f"--streaming to fit {generator} in memory")
    files = parquet_files(data)
    columns, time_type = stream_columns(files, user_col, item_col, rating_col, time_col, time_unit, time_format)
    name, n_workers = choose_backend(backend, workers, scheduler)
    # survey, scan, then 5 factor passes (exact latent-factor) or one co-occurrence pass (the others)
    epsilon = getattr(gen, "epsilon", None)
    private = epsilon is not None and math.isfinite(epsilon)
    passes = 7 if generator == "latent-factor" and not private else 3
    with make_backend(name, workers=n_workers, scheduler=scheduler) as runner, step_progress(
            passes * len(files), f"fitting {generator} on {len(files)} file(s) in passes", enabled=not quiet,
            console=err_console, log_counts=True) as bar:
        seen: dict[str, int] = {}

        def report(stage: str, done: int, total: int, note: str) -> None:
            step = done - seen.get(stage, 0)
            seen[stage] = done
            text = f"{stage} ({note})" if note else stage
            if step > 0:
                bar.advance(step, text=text)
            else:
                bar.describe(text, now=total == 0)  # total 0: a note before a long step that reads no data

        resumed: dict[str, int] = {}
        fit_streaming(gen, data, columns=columns, backend=runner, cache_dir=cache, sample_users=sample_users,
                      progress=report, resumed=resumed)
    setattr(gen, INPUT_TIME_TYPE_ATTR, time_type)
    return resumed


def streaming_summary(gen: BaseGenerator, generator: str, cache: Path, out: Path, read_back: dict[str, int]) -> str:
    """The line `synthrec fit --streaming` ends with: what was fitted, on how much, what came from the cache."""
    info = gen.fit_report_["streaming"]  # type: ignore[attr-defined]
    resumed = ""
    if read_back.get("cached_scans") or read_back.get("cached_passes"):
        resumed = (f"; resumed from {cache}: {read_back['cached_scans']} of {info['files']} file scan(s) and "
                   f"{read_back['cached_passes']} of {info['passes']} pass(es) over the data read back")
    return (f"fitted {generator} on {escape(gen.source_name_)} in passes ({info['users']:,} users, "
            f"{len(gen.item_ids_):,} items, {info['rows']:,} rows; per-user parts from "  # type: ignore[attr-defined]
            f"{info['sample_users']:,} sampled users{escape(resumed)}); saved to {out}")


def stream_columns(files: list[str], user_col: str, item_col: str, rating_col: str | None, time_col: str | None,
                   time_unit: str, time_format: str | None) -> tuple[LogColumns, str | None]:
    """The `LogColumns` of Parquet ``files`` by the rule of every entry point (`pick_standard_columns`) and
    the type the times are written in (``datetime``, ``date``, ``seconds`` or None), saying what was picked.

    Raises:
        DataValidationError: the first file has no user or item column.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from synthrec.errors import DataValidationError
    from synthrec.experiments.data_source import pick_standard_columns
    from synthrec.scale.stream_fit import LogColumns

    schema = pq.read_schema(files[0])
    missing = [c for c in (user_col, item_col) if c not in schema.names]
    if missing:
        raise DataValidationError(f"column(s) {', '.join(missing)} missing (found {', '.join(schema.names)})",
                                  source=files[0], column=missing[0], hint="name them with --user-col/--item-col")

    def rating_nulls() -> int:
        table = ds.dataset(files, format="parquet")
        return int(table.count_rows(filter=pc.field("rating").is_null()))

    pick = pick_standard_columns(schema.names, user_col=user_col, item_col=item_col, rating_col=rating_col,
                                 time_col=time_col, rating_nulls=rating_nulls)
    if pick.empty_ratings:
        err_console.print(f"note: column rating has {pick.empty_ratings:,} empty value(s), so it is not used as "
                          "ratings (implicit feedback)")
    if pick.picked:
        roles = [f"--{r}-col {pick.rating_col if r == 'rating' else pick.time_col}" for r in pick.picked]
        err_console.print(f"note: using the standard column name(s) as {' and '.join(roles)}.")
    time_type = None
    if pick.time_col is not None:
        kind = schema.field(pick.time_col).type
        time_type = ("datetime" if pa.types.is_timestamp(kind) else "date" if pa.types.is_date(kind) else "seconds")
    return LogColumns(user=user_col, item=item_col, time=pick.time_col, rating=pick.rating_col, time_unit=time_unit,
                      time_format=time_format), time_type
