"""`synthrec fit` and `synthrec sample`: fit a generator on a real log and save it; draw synthetic users
from a saved one. `fit` also measures how often the fitted generator copies a real history."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from synthrec._suggest import did_you_mean_each
from synthrec.commands._console import console, err_console, fail
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
from synthrec.commands._options import QuietOpt
from synthrec.commands._output import require_writable
from synthrec.commands._trusted import TrustedOpt
from synthrec.errors import ConfigError, SynthrecError
from synthrec.generators.registry import GENERATORS, generator_params, make_generator

if TYPE_CHECKING:
    from synthrec.generators.base import BaseGenerator

TimeTypeOpt = Annotated[str, typer.Option(
    "--time-type", help="How to write times: auto (as the log the generator was fitted on wrote them: "
    "dates, datetimes or epoch seconds), seconds, date or datetime.")]


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


def _warn_copies(share: float | None, command: str, n_users: int | None, *, private: bool = False) -> None:
    """Warn on stderr when at least `COPY_WARN_SHARE` of sampled histories copy a real one."""
    if share is None or share < COPY_WARN_SHARE:
        return
    few = f" (it was fitted on {n_users:,} user(s), too few to generalise)" if n_users is not None and n_users < 50 else ""
    if private:  # advice to fit with DP would be circular: say what the matches mean under DP
        err_console.print(
            f"[yellow]note:[/] {share:.0%} of synthetic histories drawn after the fit are identical or nearly "
            f"identical to a real user's history (Jaccard similarity >= {1 - NEAR_COPY_DISTANCE:.1f}){few}. The fit is "
            "differentially private, so this bounds what they reveal about any one user; with few users or short "
            "histories such matches also arise by chance (popular items). `synthrec report` audits privacy.")
        return
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
        fail(exc)


#: The names of `synthrec.generators.registry.GENERATORS`, for the help of ``fit --generator`` (the lazy
#: registry knows them without importing the generator classes, so torch is not loaded for ``--help``).
GENERATOR_NAMES = tuple(GENERATORS)


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
        if not raw.strip():  # e.g. `--param epsilon=$EPS` with EPS unset: never silently "no DP"
            raise ConfigError(f"--param {key}= has no value: give one (null for none), e.g. --param {key}=1.0")
        try:
            value = yaml.safe_load(raw)
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
    if name not in GENERATORS:
        try:
            make_generator(name)  # the registry's message: "unknown generator ...; did you mean ...? valid names: ..."
        except ConfigError as exc:
            raise ConfigError(f"--generator: {exc}") from None
    params = _parse_params(pairs)
    if "seed" in params:
        raise ConfigError("--param seed: give the seed with --seed")
    accepted = generator_params(GENERATORS[name])
    if accepted is not None:  # None: the constructor takes **kwargs, so make_generator judges the names
        accepted = [p for p in accepted if p != "seed"]  # given with --seed
        unknown = [k for k in params if k not in accepted]
        if unknown:
            raise ConfigError(f"--param {', '.join(unknown)}: not a parameter of generator {name!r}; "
                              f"{did_you_mean_each(unknown, accepted)}its parameters: {', '.join(accepted)}")
    return make_generator(name, seed=seed, **params)


def fit(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to save the fitted generator, e.g. "
                                      "generator.synthrec: a synthrec model file, which runs no code when "
                                      "loaded (any suffix works).")],
    generator: Annotated[str, typer.Option(
        "--generator", "-g", help=f"Generator name: one of {', '.join(GENERATOR_NAMES)}.")] = "latent-factor",
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="A constructor parameter of the generator as KEY=VALUE, the value read as a YAML "
        "scalar (repeatable), e.g. --param epsilon=1.0 --param n_factors=16; an unknown KEY is an error that "
        "lists the generator's parameters.")] = None,
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
    streaming: Annotated[bool, typer.Option(
        "--streaming", help="Read DATA (Parquet: a file, a folder of files, e.g. the --out of `synthrec "
        "generate`) in passes instead of loading it: memory does not grow with the rows. latent-factor and "
        "item-walk, also with --param epsilon (user-level DP).")] = False,
    workers: Annotated[int | None, typer.Option(
        "--workers", "-w", help="With --streaming: worker processes (local pool, or local Dask cluster with "
        "--backend dask); files are the unit of work.")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="With --streaming: address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
        "(its workers must see DATA and --cache-dir).")] = None,
    backend: Annotated[str | None, typer.Option(
        "--backend", help="With --streaming: inprocess, processes or dask (default: dask with --scheduler, "
        "processes with --workers > 1, else inprocess).")] = None,
    cache_dir: Annotated[Path | None, typer.Option(
        "--cache-dir", help="With --streaming: where passes are kept, so an interrupted fit rerun with the "
        "same folder resumes (default: OUT.fitcache, removed when the fit succeeds).")] = None,
    sample_users: Annotated[int, typer.Option(
        "--sample-users", min=1, help="With --streaming: about this many users (chosen by a hash of their id) "
        "fit the per-user parts (traits, times, ratings); item statistics use every user.")] = 50_000,
    quiet: QuietOpt = False,
) -> None:
    """Fit a generator on a real log and save it: the fitted generator, not the raw data, is what may
    cross to another team. Sample from it with `synthrec sample`."""
    from synthrec.data.interactions import InteractionData
    from synthrec.data.writers import INPUT_TIME_TYPE_ATTR
    from synthrec.progress import step_progress

    if out.is_dir():
        fail(ValueError(f"--out {out} is a folder; give a file name such as {out / 'generator.synthrec'}"))
    require_writable(out, kind="file")
    if streaming:
        import shutil

        from synthrec.commands._stream_fit import fit_streaming_cli, streaming_summary

        cache = cache_dir if cache_dir is not None else out.with_name(out.name + ".fitcache")
        if cache_dir is not None:
            require_writable(cache_dir, kind="folder", option="--cache-dir")
        cache_existed = cache.exists()
        try:
            gen = _make_cli_generator(generator, param or [], seed)
            read_back = fit_streaming_cli(gen, generator, data, user_col=user_col, item_col=item_col, rating_col=rating_col,
                                          time_col=time_col, time_unit=time_unit, time_format=time_format,
                                          workers=workers, scheduler=scheduler, backend=backend, cache=cache,
                                          sample_users=sample_users, quiet=quiet)
            setattr(gen, COPY_SHARE_ATTR, None)  # the copy check needs the log in memory
            out.parent.mkdir(parents=True, exist_ok=True)
            gen.save(out)
        except KeyboardInterrupt:
            err_console.print(f"interrupted; what was read is kept in {escape(str(cache))} — rerun the same command"
                              f"{'' if cache_dir is None else ' (same --cache-dir)'} to resume")
            raise typer.Exit(130) from None
        except (SynthrecError, ValueError, OSError) as exc:
            if cache_dir is None and not cache_existed:  # a data error is not fixed by resuming: no clutter
                shutil.rmtree(cache, ignore_errors=True)
            fail(exc)
        if cache_dir is None:  # the default cache has done its job once the model is saved
            shutil.rmtree(cache, ignore_errors=True)
        console.print(streaming_summary(gen, generator, cache, out, read_back))
        _print_guarantee(gen)
        return
    stream_only = [name for name, value in (("--workers", workers), ("--scheduler", scheduler),
                                            ("--backend", backend), ("--cache-dir", cache_dir)) if value is not None]
    if stream_only:
        fail(ValueError(f"{', '.join(stream_only)} only apply with --streaming (a fit in memory runs in one process)"))
    try:
        gen = _make_cli_generator(generator, param or [], seed)  # checked before the data is loaded
        d = load_cli_data(data, user_col, item_col, rating_col, time_col, time_unit, time_format, sep, columns,
                          fmt)
        assert isinstance(d, InteractionData)
        with step_progress(1, f"fitting {generator} on {d.n_interactions:,} interactions", enabled=not quiet,
                           console=err_console) as bar:
            gen.fit(d)
            bar.advance()
        out.parent.mkdir(parents=True, exist_ok=True)
        setattr(gen, INPUT_TIME_TYPE_ATTR, d.time_type)  # `sample` / `generate` write times back in this type
        share = copied_history_share(gen, d, seed=seed)
        # a statistic of the raw log: shown to whoever fits (who holds the log), but kept out of a DP model
        # file, which may carry nothing that the ε ledger does not account for
        setattr(gen, COPY_SHARE_ATTR, None if gen.privacy.is_dp else share)
        gen.save(out)
    except (SynthrecError, ValueError) as exc:
        fail(exc)
    _warn_copies(share, "fit", d.n_users, private=gen.privacy.is_dp)
    console.print(f"fitted {generator} on {escape(d.name)} ({d.n_users:,} users, {d.n_items:,} items); saved to {out}")
    _print_guarantee(gen)


def _print_guarantee(gen: BaseGenerator) -> None:
    """The DP guarantee a fit spent, when it is DP: the figure a partner receiving the file will ask for first."""
    guarantee = gen.privacy
    if guarantee.is_dp:
        console.print(f"user-level differential privacy: ε = {guarantee.epsilon:.3g} spent, δ = {guarantee.delta:.1e} "
                      "(recorded in the model file's header; item ids and the rating scale are treated as public)")
    report = getattr(gen, "fit_report_", None)
    if guarantee.is_dp and isinstance(report, dict) and "pairs_above_noise" in report:
        # what the noise left of the co-occurrence: the figure that decides whether the DP synthetic users
        # carry the source beyond popularity (item-walk; docs/transfer.md, "DP scaling")
        above, chance = report["pairs_above_noise"], report["pairs_above_noise_by_chance"]
        console.print(f"co-occurrence through the noise: {above:,} item pairs above 3 noise sd, about {chance:,.0f} "
                      f"of them by chance, among {report['modelled_items']:,} modelled items; the fewer above "
                      "chance, the less the synthetic users carry beyond popularity (docs/transfer.md, DP scaling)")


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
        fail(ValueError(f"--out {out} is a folder; give a file name such as {out / 'synthetic.parquet'}"))
    if out.suffix.lower() not in SUFFIXES:
        fail(ValueError(f"--out {out}: cannot tell the output format from the suffix {out.suffix!r}; end the "
                         f"name with one of {', '.join(SUFFIXES)}"))
    if generator.is_dir():
        fail(ValueError(f"GENERATOR {generator} is a folder: give the model file `synthrec fit` saved (e.g. "
                        "generator.synthrec)"))
    if not generator.is_file():
        fail(ValueError(f"GENERATOR {generator}: no such file (save one with `synthrec fit`)"))
    require_writable(out, kind="file")
    try:
        gen = BaseGenerator.load(generator, trusted=trusted)
        parts = []
        n_batches = -(-users // batch_users)
        with step_progress(n_batches, f"sampling {users:,} users", console=err_console, enabled=not quiet,
                           log_counts=True) as bar:
            # a file whose arrays do not fit together is refused by `load` (a trial draw), for every command
            for part in gen.sample_batches(users, batch_users=batch_users, seed=seed):
                parts.append(part)
                bar.advance()
        synthetic = parts[0] if len(parts) == 1 else concat_users(parts, name="synthetic")
        _warn_copies(getattr(gen, COPY_SHARE_ATTR, None), "sample", None)
        write_interactions(synthetic, out, time_type=written_type or recorded_time_type(gen))
    except (SynthrecError, ValueError, OSError) as exc:
        fail(exc)
    console.print(f"wrote {synthetic.n_interactions:,} interactions of {users:,} synthetic users to {out}")


def register(app: typer.Typer) -> None:
    """Add the ``fit`` and ``sample`` commands to ``app``."""
    app.command("fit")(fit)
    app.command("sample")(sample)
