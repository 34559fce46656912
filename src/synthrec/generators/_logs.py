"""The log a generator reads in `fit` (checks, first pairs, exact user traits) and the block it writes in
`_sample_block`, handled once for all generators (torch-free: the latent-factor and sequence generators
import it too)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import scipy.sparse as sp

from synthrec.data.interactions import ITEM, RATING, TIMESTAMP, USER, InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators._ratings import RatingModel
from synthrec.generators._sampling import EmpiricalQuantiles
from synthrec.generators._timestamps import TimeModel


def require_log(data: object) -> None:
    """Check that ``data`` is a non-empty `InteractionData` (the first step of `BaseGenerator.fit`).

    Raises:
        DataValidationError: not an `InteractionData`, or no interactions.
    """
    if not isinstance(data, InteractionData):
        raise DataValidationError(f"fit expects an InteractionData, got {type(data).__name__}",
                                  hint="build one with InteractionData.from_frame or a reader")
    if data.n_interactions == 0:
        raise DataValidationError("cannot fit a generator on a log with no interactions",
                                  source=data.name, hint="check the split or filter that produced it")


def first_pairs(data: InteractionData) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, bool, bool]:
    """Validate ``data`` and keep each (user, item) pair once, at its first occurrence in time (file
    order breaks ties).

    Returns:
        ``(frame, users, items, has_time, has_rating)``: the kept rows sorted by (user, time, file order)
        with columns user, item, ``_row`` (UInt32 position in the file) and, when present, timestamp and
        rating; dense users 0..n−1 of the active users, int64 ``(rows,)``; items int64 ``(rows,)``; whether
        the log has timestamps and ratings.

    Raises:
        DataValidationError: not an `InteractionData`, no interactions, or a null / non-finite rating or
            timestamp (the message names the column and the first bad row, 1-based).
    """
    require_log(data)
    has_time, has_rating = data.has_timestamp, data.has_rating
    cols = [USER, ITEM] + ([TIMESTAMP] if has_time else []) + ([RATING] if has_rating else [])
    frame = data.interactions.select(cols).with_row_index("_row")
    for col in cols[2:]:
        bad = frame[col].is_null()
        if frame.schema[col].is_float():
            bad = bad | ~frame[col].is_finite().fill_null(False)
        if bad.any():
            raise DataValidationError(
                f"{int(bad.sum())} missing or non-finite value(s)", source=data.name, column=col,
                row=int(bad.arg_true()[0]) + 1, hint="drop or fill those rows before fitting",
            )
    keys = [USER, TIMESTAMP, "_row"] if has_time else [USER, "_row"]
    frame = frame.sort(keys).unique(subset=[USER, ITEM], keep="first", maintain_order=True)
    _, users = np.unique(frame[USER].to_numpy(), return_inverse=True)
    return frame, users.astype(np.int64), frame[ITEM].to_numpy().astype(np.int64), has_time, has_rating


def user_traits(
    frame: pl.DataFrame, users: np.ndarray, x: sp.csr_matrix, has_time: bool, has_rating: bool
) -> tuple[list[np.ndarray], list[str], dict[str, EmpiricalQuantiles], TimeModel | None]:
    """The exact (non-private) user traits of `first_pairs`'s output: log n_u, [mean rating], [start
    time t₀ (s), tempo μ_u, log(1 + span T_u)] (`TimeModel.fit`).

    Args:
        frame, users, has_time, has_rating: as returned by `first_pairs`.
        x: the binary user × item CSR matrix of those pairs (``n`` rows); only its ``indptr`` is read.

    Returns:
        ``(traits, names, quantiles, time_model)``: float64 ``(n,)`` per trait, their names, each trait's
        smoothed empirical quantile map (≤ 201 knots) and the fitted `TimeModel` (None without time).
        The maps of activity and span are on the output scale (events, seconds): linear interpolation
        between knots there keeps the mean, where interpolating the logs would shrink the heavy tail.
    """
    deg = np.diff(x.indptr).astype(np.float64)
    n = len(deg)
    traits: list[np.ndarray] = [np.log(deg)]
    names = ["log_activity"]
    time_model = None
    if has_rating:
        ratings = frame[RATING].to_numpy().astype(np.float64)
        traits.append(np.bincount(users, weights=ratings, minlength=n) / deg)
        names.append("mean_rating")
    if has_time:
        time_model, start, tempo, log_span = TimeModel.fit(users, frame[TIMESTAMP].to_numpy())
        traits += [start, tempo, log_span]
        names += ["start_time", "tempo", "log_span"]
    natural = {"log_activity": deg, "log_span": np.expm1(traits[-1]) if has_time else None}
    quantiles = {
        nm: EmpiricalQuantiles.fit(t if natural.get(nm) is None else natural[nm], max_knots=201)
        for nm, t in zip(names, traits, strict=True)
    }
    return traits, names, quantiles, time_model


def rating_scale_param(value: object) -> tuple[float, ...] | None:
    """The ``rating_levels`` constructor parameter as a tuple of finite floats (None stays None).

    Raises:
        ConfigError: not a list of numbers (e.g. ``--param rating_levels=5``: `--param` takes single values,
            so the list belongs in a config file's ``generator.params``).
    """
    if value is None:
        return None
    hint = ("rating_levels must be a list of numbers, e.g. [1, 2, 3, 4, 5] — in a config file's "
            "generator.params (--param takes single values)")
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        raise ConfigError(f"{hint}; got {value!r}")
    try:
        levels = tuple(float(r) for r in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{hint}; got {value!r}") from None
    if not levels or not all(np.isfinite(levels)):
        raise ConfigError(f"{hint}; got {value!r}")
    return levels


def public_rating_levels(ratings: np.ndarray, given: Sequence[float] | None) -> np.ndarray:
    """The rating scale a DP fit treats as public: ``given`` (sorted, distinct) or the log's distinct
    ratings (at most 64; more would publish the data's own values). float64 ``(levels,)``.

    Raises:
        ConfigError: no ``given`` and more than 64 distinct ratings in the log.
    """
    if given is not None:
        return np.unique(np.asarray(given, dtype=np.float64))
    levels = np.unique(np.asarray(ratings, dtype=np.float64))
    if len(levels) > 64:
        raise ConfigError(f"the log has {len(levels)} distinct ratings; a DP fit needs the rating scale as "
                          "public knowledge: pass rating_levels=[...] (e.g. [1, 2, 3, 4, 5])")
    return levels


def event_columns(
    rows: np.ndarray, items: np.ndarray, length: np.ndarray, pct: dict[str, np.ndarray],
    quantiles: dict[str, EmpiricalQuantiles], time_model: TimeModel | None, rating_model: RatingModel | None,
    affinity: np.ndarray | None, rng: np.random.Generator,
) -> dict[str, pl.Series]:
    """The columns of sampled user-major events: user, item [, timestamp] [, rating].

    Args:
        rows, items: int ``(n,)`` events, rows ascending, each user's items in event order.
        length: int ``(N,)`` events per user. pct: each user's trait probabilities (``start_time``,
            ``tempo``, ``log_span``, ``mean_rating``) mapped by ``quantiles`` to values.
        affinity: float ``(n,)`` within-user affinity percentiles of the events (needed with ratings).

    Timestamps are drawn before ratings (the order of the random draws is part of the seed's contract).
    """
    cols: dict[str, pl.Series] = {USER: pl.Series(USER, rows, dtype=pl.Int32),
                                  ITEM: pl.Series(ITEM, items, dtype=pl.Int32)}
    if time_model is not None:
        start = quantiles["start_time"].ppf(pct["start_time"])
        tempo = quantiles["tempo"].ppf(pct["tempo"])
        span = quantiles["log_span"].ppf(pct["log_span"])
        cols[TIMESTAMP] = pl.Series(TIMESTAMP, time_model.generate(start, tempo, span, length, rng), dtype=pl.Int64)
    if rating_model is not None:
        assert affinity is not None
        cols[RATING] = pl.Series(RATING, rating_model.sample(pct["mean_rating"], rows, affinity, rng),
                                 dtype=pl.Float32)
    return cols


def synthetic_block(
    cols: dict[str, pl.Series], first_user: int, n_users: int, item_ids: pl.Series, items: pl.DataFrame | None,
    source_name: str, *, users: pl.DataFrame | None = None, name: str | None = None,
    row_order_is_time: bool = False,
) -> InteractionData:
    """A sampled block as an `InteractionData`: the interaction columns ``cols`` (dense users
    0..n_users−1), user ids ``syn-<first_user + u>``, the fitted catalogue, an optional users attribute
    table, named ``name`` or ``<source>-synthetic``. ``row_order_is_time``: the generator wrote each
    user's rows in event order (declared only when there is no timestamp column to say it)."""
    user_ids = pl.select(
        pl.format("syn-{}", pl.int_range(first_user, first_user + n_users, dtype=pl.Int64))
    ).to_series().alias("user_id")
    return InteractionData(pl.DataFrame(cols), user_ids, item_ids, users, items,
                           name=name or f"{source_name}-synthetic",
                           row_order_is_time=row_order_is_time and TIMESTAMP not in cols)
