"""Closed-loop simulation: a recommender shows slates, simulated users respond, the log feeds back.

Each round r = 0 … R − 1 (Chaney, Stewart & Engelhardt 2018, "How algorithmic confounding in
recommendation systems increases homogeneity and decreases utility", RecSys — the repeated-training
loop of their sec. 3):

1. the recommender is refit on the whole log so far (warm start + rounds < r), every ``refit_every``
   rounds;
2. every user active at their impression time (arrived, not churned) gets one slate of ``slate_size``
   items, ``recommend(histories, k)`` on their histories so far;
3. the scenario's choice model answers (`engine.respond`: position bias, multinomial logit against an
   outside option, funnel, rating) with popularity **feedback**: the conformity term uses the observed
   choice counts so far, log((n_i + 1) / mean(n + 1)) (`log_popularity_from_counts`), instead of the
   base popularity;
4. chosen items are appended to the log (one row per funnel stage reached, as in the open loop).

Timeline. The scenario window [S, E) is cut into a warm-start period [S, S + W) and R equal rounds after
it. User u's impression in round r happens at a uniform second of the round. The warm start is either the
open-loop ("organic") log of the same users restricted to [S, S + W) (default W = (E − S) / (R + 1)), a
log you pass, or none (W = 0; round 0 then shows uniformly random slates of released items).

Metrics per round (`ClosedLoopResult.metrics`), all over the slates of the round:

* ``ctr`` = slates with a choice / slates (a choice = the first funnel stage);
* ``reach_<stage>`` = slates reaching that stage / slates; ``conversion`` = reach of the last stage;
* ``coverage`` = distinct items shown / catalogue size;
* ``gini_round`` / ``gini_cumulative`` = Gini of choices per item (whole catalogue, zeros included) in
  this round / in the warm start and rounds ≤ r (`synthrec.data.stats.gini`);
* ``utility_shown`` = mean over slates of the mean true utility V_ui(t) of the released items shown;
  ``utility_best`` = the same for the oracle slate, the k highest V_ui(t) among released items not yet
  consumed (when ``exclude_seen``); ``regret`` = utility_best − utility_shown (≥ 0). Utilities use the
  round's popularity; the position term is not part of an item's utility.

Everything inside a round is vectorised over users; Python loops run over rounds and memory chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl
import scipy.sparse as sp

from synthrec.data.interactions import EVENT, ITEM, RATING, SESSION, TIMESTAMP, USER, InteractionData
from synthrec.data.stats import gini
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators.simulator.engine import SESSION_STRIDE, log_popularity_from_counts, utilities
from synthrec.generators.simulator.policies import NO_ITEM, gumbel_top_k

if TYPE_CHECKING:
    from synthrec.generators.simulator.generator import Simulator

#: name of the extra Int32 column of the closed-loop log: the round of each row (−1 = warm start)
ROUND = "round"
#: most rounds of one run (closed-loop sessions are numbered ``user · SESSION_STRIDE + OFFSET + round``)
MAX_ROUNDS = 100_000
_SESSION_OFFSET = SESSION_STRIDE // 2
_CELL_BUDGET = 1 << 22

WarmStart = Literal["organic", "none"] | InteractionData


@dataclass(frozen=True)
class ClosedLoopResult:
    """Outcome of `run_closed_loop`.

    Attributes:
        log: `InteractionData` of the whole run (users ``sim-<k>``, the catalogue's items); interactions
            have the open-loop columns (``timestamp``, ``event``, ``session``, ``rating`` when the scenario
            rates) plus Int32 ``round`` (−1 = warm start), rows grouped by user in time order.
        metrics: polars DataFrame, one row per round (module docstring): ``round``, ``start`` (epoch s),
            ``policy`` (``"recommender"`` or ``"random"``), ``active_users``, ``slates``, ``choices``,
            ``ctr``, ``reach_<stage>`` per stage, ``conversion``, ``coverage``, ``gini_round``,
            ``gini_cumulative``, ``utility_shown``, ``utility_best``, ``regret``.
        warm_start_gini: Gini of choices per item in the warm-start log (NaN without one).
    """

    log: InteractionData
    metrics: pl.DataFrame
    warm_start_gini: float

    def round_log(self, r: int) -> InteractionData:
        """The rows of round ``r`` (−1: the warm start), same vocabularies."""
        return self.log.with_interactions(self.log.interactions.filter(pl.col(ROUND) == r),
                                          name=f"{self.log.name}-round{r}")


def run_closed_loop(
    simulator: Simulator,
    recommender: Any,
    rounds: int,
    *,
    n_users: int,
    seed: int,
    slate_size: int = 10,
    warm_start: WarmStart = "organic",
    warm_days: float | None = None,
    refit_every: int = 1,
    exclude_seen: bool = True,
    popularity_feedback: bool = True,
    outside_utility: float | None = 0.0,
    on_round: Callable[[int, dict[str, Any]], None] | None = None,
) -> ClosedLoopResult:
    """Run ``rounds`` rounds of recommend → respond → refit (module docstring).

    Args:
        simulator: the scenario's `Simulator`; users are users ``0 … n_users − 1`` of its sample with
            ``seed`` (the same people as ``simulator.sample(n_users, seed=seed)``).
        recommender: any object with ``fit(InteractionData)`` and ``recommend(histories, k, *,
            exclude_seen)`` returning int ``(n, k)`` dense item ids (−1 = none), e.g. a `synthrec.models`
            model or a `policies.StochasticPopularity`. It is refit in place.
        rounds: number of rounds, 1 … `MAX_ROUNDS`.
        n_users: number of simulated users (>= 1); seed: seed of users, warm start and responses.
        slate_size: items per slate (k).
        warm_start: ``"organic"`` (open-loop log of [S, S + W)), ``"none"`` (round 0 is random), or an
            `InteractionData` over ``n_users`` users and the simulator's catalogue (its choices count as
            the initial popularity; W = 0).
        warm_days: W in days for ``"organic"`` (default: the window / (rounds + 1)).
        refit_every: refit the recommender every this many rounds (1 = every round).
        exclude_seen: passed to ``recommend``; also excludes consumed items from the oracle slate.
        popularity_feedback: use observed choice counts as the popularity of the utility (else the
            catalogue's base popularity throughout).
        outside_utility: utility of choosing nothing (None = a slate always yields a choice).
        on_round: called after each round with (round, that round's metrics dict), e.g. for progress.

    Returns:
        `ClosedLoopResult`.

    Raises:
        ConfigError: bad counts or sizes; the warm period leaves no time for the rounds.
        DataValidationError: a warm-start log over other users/items, or a recommender output of the
            wrong shape or with ids outside the catalogue (the message names the round).
    """
    scen = simulator.scenario
    cat = simulator.catalogue
    n_items = cat.n_items
    if not 1 <= rounds <= MAX_ROUNDS:
        raise ConfigError(f"rounds must be in [1, {MAX_ROUNDS}], got {rounds}")
    if n_users < 1 or slate_size < 1 or refit_every < 1:
        raise ConfigError("n_users, slate_size and refit_every must be >= 1, got "
                          f"{n_users}, {slate_size}, {refit_every}")
    for method in ("fit", "recommend"):
        if not callable(getattr(recommender, method, None)):
            raise ConfigError(f"the recommender {recommender!r} has no {method}() method; pass an object "
                              "following the synthrec Recommender protocol")
    start, end = scen.simulation.start_epoch, scen.simulation.end_epoch
    stages = scen.stage_names
    final_mode = scen.behaviour.funnel.mode == "final"

    # ---- warm start
    warm_seconds = 0
    if isinstance(warm_start, InteractionData):
        if warm_start.n_users != n_users or warm_start.n_items != n_items:
            raise DataValidationError(
                f"the warm-start log has {warm_start.n_users} users × {warm_start.n_items} items, the run "
                f"has {n_users} × {n_items}", source=warm_start.name,
                hint="build it over users 0 … n_users − 1 and the simulator's catalogue")
        warm = _with_round(warm_start.interactions, -1)
    elif warm_start == "organic":
        days = (end - start) / 86400 / (rounds + 1) if warm_days is None else float(warm_days)
        warm_seconds = round(days * 86400)
        if not 0 < warm_seconds < end - start:
            raise ConfigError(f"warm_days={days:g} must be > 0 and shorter than the scenario window "
                              f"({scen.simulation.days} days)")
        organic = simulator.sample(n_users, seed=seed).interactions
        warm = _with_round(organic.filter(pl.col(TIMESTAMP) < start + warm_seconds), -1)
    elif warm_start == "none":
        warm = None
    else:
        raise ConfigError(f"warm_start must be 'organic', 'none' or an InteractionData, got {warm_start!r}")
    round_seconds = (end - start - warm_seconds) / rounds
    if round_seconds < 1:
        raise ConfigError(f"{rounds} rounds do not fit in the scenario window; use fewer rounds or more days")

    user_ids = pl.select(pl.format("sim-{}", pl.int_range(0, n_users, dtype=pl.Int64))).to_series().alias("user_id")
    population = simulator.population(np.arange(n_users), seed=seed)
    users_table = population.table(simulator.world.segments, np.arange(n_users, dtype=np.int32))
    frames: list[pl.DataFrame] = []
    history = sp.csr_matrix((n_users, n_items), dtype=np.float32)
    choice_counts = np.zeros(n_items, dtype=np.int64)
    warm_gini = float("nan")
    if warm is not None:
        frames.append(warm)
        history = _binary_history(warm, n_users, n_items)
        choice_counts = _choice_counts(warm, stages, final_mode, n_items)
        warm_gini = gini(choice_counts)

    def log_data(name: str) -> InteractionData:
        inter = pl.concat(frames, how="diagonal_relaxed") if frames else _empty_frame(scen)
        return InteractionData(inter, user_ids, cat.item_ids, users_table, simulator.items_table, name=name)

    records: list[dict[str, Any]] = []
    fitted = False
    for r in range(rounds):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xC105ED, r)))
        t0 = start + warm_seconds + round(r * round_seconds)
        t1 = start + warm_seconds + round((r + 1) * round_seconds)
        t = t0 + np.floor(rng.random(n_users) * (t1 - t0)).astype(np.int64)
        active = np.flatnonzero((population.active_from <= t) & (t < population.active_until))
        lpop = log_popularity_from_counts(choice_counts) if popularity_feedback else None
        seen = history[active]
        if not frames:
            policy = "random"
            released = np.where(cat.release <= t0, 0.0, -np.inf)
            slates = gumbel_top_k(released, slate_size, rng, exclude=seen if exclude_seen else None,
                                  n_rows=active.size)
        else:
            policy = "recommender"
            if r % refit_every == 0 or not fitted:
                recommender.fit(log_data(f"{scen.name}-closed-loop-r{r}"))
                fitted = True
            slates = _check_slates(recommender.recommend(seen, slate_size, exclude_seen=exclude_seen),
                                   active.size, slate_size, n_items, r)
        resp = simulator.respond(population, active, slates, t[active], rng, log_popularity=lpop,
                                 outside_utility=outside_utility)
        rows = _response_rows(resp, active, t[active], r, stages, final_mode, scen.behaviour.ratings)
        frames.append(rows)
        chosen = resp.item >= 0
        new_counts = np.bincount(resp.item[chosen], minlength=n_items)
        shown, best = _slate_utilities(simulator, population, active, slates, t[active], lpop,
                                       seen if exclude_seen else None)
        choice_counts = choice_counts + new_counts
        history = _add_history(history, active[chosen], resp.item[chosen], n_users, n_items)
        rec = _round_metrics(r, t0, policy, active.size, slates, resp.reached, stages, n_items, new_counts,
                             choice_counts, shown, best)
        records.append(rec)
        if on_round is not None:
            on_round(r, rec)

    log = log_data(f"{scen.name}-closed-loop")
    log = log.with_interactions(log.interactions.sort([USER, TIMESTAMP], maintain_order=True))
    return ClosedLoopResult(log=log, metrics=pl.DataFrame(records), warm_start_gini=warm_gini)


# ---------------------------------------------------------------------------------------------- helpers


def _with_round(frame: pl.DataFrame, r: int) -> pl.DataFrame:
    return frame.with_columns(pl.lit(r, dtype=pl.Int32).alias(ROUND))


def _empty_frame(scen: Any) -> pl.DataFrame:
    cols = {USER: pl.Int32, ITEM: pl.Int32, TIMESTAMP: pl.Int64, EVENT: pl.String, SESSION: pl.Int64}
    if scen.behaviour.ratings is not None:
        cols[RATING] = pl.Float32
    cols[ROUND] = pl.Int32
    return pl.DataFrame(schema=cols)


def _binary_history(frame: pl.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    return _add_history(sp.csr_matrix((n_users, n_items), dtype=np.float32), frame[USER].to_numpy(),
                        frame[ITEM].to_numpy(), n_users, n_items)


def _add_history(history: sp.csr_matrix, users: np.ndarray, items: np.ndarray, n_users: int, n_items: int
                 ) -> sp.csr_matrix:
    new = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (np.asarray(users, np.int64),
                                                                  np.asarray(items, np.int64))),
                        shape=(n_users, n_items))
    out = (history + new).tocsr()
    out.data[:] = 1.0
    out.sort_indices()
    return out


def _choice_counts(frame: pl.DataFrame, stages: list[str], final_mode: bool, n_items: int) -> np.ndarray:
    """Choices per item: every row in ``final`` mode (or without events), first-stage rows otherwise."""
    if not final_mode and EVENT in frame.columns:
        frame = frame.filter(pl.col(EVENT) == stages[0])
    return np.bincount(frame[ITEM].to_numpy(), minlength=n_items).astype(np.int64)


def _check_slates(slates: Any, m: int, k: int, n_items: int, r: int) -> np.ndarray:
    arr = np.asarray(slates)
    if arr.shape != (m, k) or not np.issubdtype(arr.dtype, np.integer):
        raise DataValidationError(
            f"round {r}: recommend() returned an array of shape {arr.shape} and dtype {arr.dtype}; expected "
            f"integers of shape ({m}, {k})", source="recommender",
            hint="recommend(histories, k) must return dense item ids, one row per history row")
    bad = (arr < NO_ITEM) | (arr >= n_items)
    if bad.any():
        row = int(np.argwhere(bad)[0, 0])
        raise DataValidationError(f"round {r}: recommend() returned item id {int(arr[bad][0])} outside "
                                  f"[0, {n_items}) (−1 = no item)", source="recommender", row=row + 1)
    return arr.astype(np.int64)


def _response_rows(resp: Any, rows: np.ndarray, t: np.ndarray, r: int, stages: list[str], final_mode: bool,
                   ratings: Any) -> pl.DataFrame:
    """Log rows of one round: one per stage reached (cumulative) or one with the deepest stage (final)."""
    chosen = np.flatnonzero(resp.item >= 0)
    reached = resp.reached[chosen]
    if final_mode:
        choice = chosen
        stage = reached - 1
        offset = np.zeros(len(choice), dtype=np.int64)
    else:
        choice = np.repeat(chosen, reached)
        first = np.concatenate([[0], np.cumsum(reached)[:-1]]).astype(np.int64)
        stage = np.arange(len(choice)) - np.repeat(first, reached)
        offset = stage
    user = rows[choice]
    cols: dict[str, pl.Series] = {
        USER: pl.Series(USER, user, dtype=pl.Int32),
        ITEM: pl.Series(ITEM, resp.item[choice], dtype=pl.Int32),
        TIMESTAMP: pl.Series(TIMESTAMP, t[choice] + offset, dtype=pl.Int64),
        EVENT: pl.Series(stages, dtype=pl.String).gather(pl.Series(stage, dtype=pl.UInt32)).alias(EVENT),
        SESSION: pl.Series(SESSION, user.astype(np.int64) * SESSION_STRIDE + _SESSION_OFFSET + r, dtype=pl.Int64),
    }
    if ratings is not None:
        on = stage == stages.index(ratings.stage)
        cols[RATING] = pl.Series(RATING, np.where(on, resp.rating[choice], np.nan), dtype=pl.Float32,
                                 nan_to_null=True)
    cols[ROUND] = pl.Series(ROUND, np.full(len(choice), r), dtype=pl.Int32)
    return pl.DataFrame(cols)


def _slate_utilities(simulator: Simulator, population: Any, rows: np.ndarray, slates: np.ndarray, t: np.ndarray,
                     lpop: np.ndarray | None, seen: sp.csr_matrix | None) -> tuple[np.ndarray, np.ndarray]:
    """Per slate: mean true utility of the released items shown, and of the oracle top-k; float64 ``(m,)``
    each (NaN where nothing shown is released / nothing is eligible)."""
    n_items = simulator.catalogue.n_items
    m, k = slates.shape
    shown = np.full(m, np.nan)
    best = np.full(m, np.nan)
    kk = min(k, n_items)
    step = max(1, _CELL_BUDGET // max(n_items, 1))
    all_items = np.arange(n_items)
    for lo in range(0, m, step):
        hi = min(lo + step, m)
        v = utilities(simulator.world, population, rows[lo:hi], all_items, t[lo:hi],
                      log_popularity=lpop).astype(np.float64)
        sl = slates[lo:hi]
        got = np.where(sl >= 0, np.take_along_axis(v, np.maximum(sl, 0), axis=1), -np.inf)
        fin = np.isfinite(got)
        with np.errstate(invalid="ignore"):
            shown[lo:hi] = np.where(fin, got, 0.0).sum(axis=1) / fin.sum(axis=1)
        if seen is not None:
            sub = seen[lo:hi].tocoo()
            v[sub.row, sub.col] = -np.inf
        top = -np.partition(-v, kk - 1, axis=1)[:, :kk]
        fin = np.isfinite(top)
        with np.errstate(invalid="ignore"):
            best[lo:hi] = np.where(fin, top, 0.0).sum(axis=1) / fin.sum(axis=1)
    return shown, best


def _round_metrics(r: int, t0: int, policy: str, n_active: int, slates: np.ndarray, reached: np.ndarray,
                   stages: list[str], n_items: int, new_counts: np.ndarray, counts: np.ndarray,
                   shown: np.ndarray, best: np.ndarray) -> dict[str, Any]:
    n = max(n_active, 1)
    rec: dict[str, Any] = {"round": r, "start": t0, "policy": policy, "active_users": n_active,
                           "slates": n_active, "choices": int((reached > 0).sum())}
    rec["ctr"] = rec["choices"] / n
    for s, name in enumerate(stages):
        rec[f"reach_{name}"] = float((reached > s).sum()) / n
    rec["conversion"] = rec[f"reach_{stages[-1]}"]
    shown_items = slates[slates >= 0]
    rec["coverage"] = float(np.unique(shown_items).size) / n_items
    rec["gini_round"] = gini(new_counts)
    rec["gini_cumulative"] = gini(counts)
    ok = np.isfinite(shown) & np.isfinite(best)
    rec["utility_shown"] = float(shown[ok].mean()) if ok.any() else float("nan")
    rec["utility_best"] = float(best[ok].mean()) if ok.any() else float("nan")
    rec["regret"] = rec["utility_best"] - rec["utility_shown"]
    return rec
