"""Open-loop sampling: sessions, choices, the event funnel and ratings, vectorised per block of users.

The model (all symbols per user u, item i, time t):

* **Utility** (ground truth, `utilities`)::

      V_ui(t) = log(C · a_u,c(i)(t)) + β_q · q_i − ps_u · ℓp_i + κ_u · log pop_i + ν_u · exp(−(t − r_i)/τ)

  with a_u(t) the drifted category affinity (C categories), q_i quality, ℓp_i the log price relative to the
  catalogue median, pop_i popularity (base popularity in open loop; observed counts in a closed loop),
  κ_u conformity, ν_u novelty seeking, r_i the release time and τ = ``freshness_days``. Items are
  unavailable (V = −∞) before their release.
* **Choice**: a multinomial logit over an exposure slate with Gumbel noise (McFadden 1974, "Conditional
  logit analysis of qualitative choice behavior"; sampled in its Gumbel-max form),
  with a position-bias term log θ_k, θ_k = k^−η (position-based examination model, Craswell et al. 2008,
  "An experimental comparison of click position-bias models", WSDM; η = ``position_bias``)::

      k* = argmax_k  V_u,s_k(t) + log θ_k + G_k,   G_k ~ Gumbel(0, 1) i.i.d.

  In open loop the slate is the platform's organic exposure: a category c ~ a_u(t) (a nested logit
  whose upper level is the affinity), then ``slate_size`` items of c drawn with replacement with
  probability ∝ pop_i^γ among released items (exposure bias γ = ``exposure_popularity``). The category
  term is then common to the slate and cancels. A closed loop passes recommender slates to `respond`.
* **Repeat consumption**: with probability ``repeat`` a choice (not a user's first) re-consumes the item
  of a uniformly chosen earlier choice of the same user.
* **Funnel**: one uniform U per choice; stage s is reached iff U < ρ_g,s (marginal rates, non-increasing,
  ρ_g,0 = 1), so P(reach s | reach s − 1) = ρ_s / ρ_{s−1} exactly. ``cumulative`` writes a row per stage
  reached (stage s at t + s seconds), ``final`` one row with the deepest stage.
* **Ratings**: on rows of the rating stage, clip(round_step(μ + w · V_ui(t) + σ · ε), low, high), or
  with ``thresholds`` τ the rating grid's value of index #{j : τ_j ≤ μ + w · V + σ · ε} (ordered probit).
* **Time**: 1 + Poisson(λ_u · active weeks) sessions (a negative binomial count with λ_u ~ Gamma); each
  session takes an hour slot (day, hour) with day-of-week and hour-of-day weights, at most one session
  per user and slot (rejection, in rounds), and lies inside its hour when shorter than an hour. A session
  has a geometric number of choices (mean ``session_length``), separated by exponential gaps (mean
  ``choice_gap_seconds``) plus one second per funnel stage, so every row of a user has a distinct,
  increasing timestamp; overlapping sessions of a user are shifted later.

Everything is vectorised over the users of a block; Python loops run only over blocks, categories,
stages and rejection rounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthrec.generators.simulator.catalogue import DAY, Catalogue
from synthrec.generators.simulator.population import (
    WEEK,
    Population,
    SegmentTable,
    block_seed,
    draw_block,
)
from synthrec.generators.simulator.scenario import Scenario

HOUR = 3600
#: session ids are ``user · SESSION_STRIDE + k`` (k = the session's rank within the user)
SESSION_STRIDE = 1 << 20
_MAX_SLOT_ROUNDS = 64


@dataclass(frozen=True)
class World:
    """Everything fixed for a scenario: the scenario, its catalogue and the compiled segments."""

    scenario: Scenario
    catalogue: Catalogue
    segments: SegmentTable

    @classmethod
    def build(cls, scenario: Scenario, catalogue: Catalogue) -> World:
        return cls(scenario, catalogue, SegmentTable.compile(scenario, catalogue))

    def population(self, users: np.ndarray, *, seed: int) -> Population:
        """Traits of global users ``users`` of the sample with ``seed`` (see `build_population`)."""
        from synthrec.generators.simulator.population import build_population

        return build_population(self.scenario, self.segments, users, seed=seed)


@dataclass(frozen=True)
class BlockLog:
    """Rows of one block, user-major and in time order within each user.

    Attributes:
        user: int64 global user index; item: int32 dense item id; timestamp: int64 epoch seconds;
        stage: int8 funnel stage index; session: int64 session id; rating: float32 (NaN = none) or None.
    """

    user: np.ndarray
    item: np.ndarray
    timestamp: np.ndarray
    stage: np.ndarray
    session: np.ndarray
    rating: np.ndarray | None

    def select(self, keep: np.ndarray) -> BlockLog:
        return BlockLog(self.user[keep], self.item[keep], self.timestamp[keep], self.stage[keep],
                        self.session[keep], None if self.rating is None else self.rating[keep])


@dataclass(frozen=True)
class Response:
    """What users did with the slates shown to them (`respond`); one entry per slate row.

    Attributes:
        position: int64 ``(m,)`` 0-based slate position chosen, −1 = nothing chosen (outside option).
        item: int32 ``(m,)`` chosen dense item id, −1 = none.
        reached: int64 ``(m,)`` number of funnel stages reached (0 when nothing was chosen).
        rating: float32 ``(m,)`` explicit rating when the rating stage was reached, else NaN.
    """

    position: np.ndarray
    item: np.ndarray
    reached: np.ndarray
    rating: np.ndarray


# ---------------------------------------------------------------------------------------------- utilities


def utilities(
    world: World,
    population: Population,
    rows: np.ndarray,
    items: np.ndarray,
    t: np.ndarray,
    *,
    log_popularity: np.ndarray | None = None,
    with_affinity: bool = True,
) -> np.ndarray:
    """Deterministic utility V_ui(t) (module docstring) of user rows × candidate items.

    Args:
        world: the scenario's world.
        population: users; ``rows`` index into it.
        rows: int ``(m,)`` population rows.
        items: int ``(m, K)`` dense item ids per row, or ``(K,)`` shared by all rows; −1 = padding.
        t: int64 ``(m,)`` (or scalar) epoch seconds at which to evaluate (drift, freshness, release).
        log_popularity: float ``(n_items,)`` log popularity (mean-1 scale, see `log_popularity_from_counts`);
            default the catalogue's base popularity.
        with_affinity: include the category term log(C · a_uc(t)) (drop it when all items share a category).

    Returns:
        float32 ``(m, K)``; −inf for padding, items not released at t, and zero-affinity categories.
    """
    cat = world.catalogue
    beh = world.scenario.behaviour
    rows = np.asarray(rows, dtype=np.int64)
    items = np.asarray(items)
    if items.ndim == 1:
        items = np.broadcast_to(items, (len(rows), len(items)))
    t = np.broadcast_to(np.asarray(t, dtype=np.int64), (len(rows),))
    pad = items < 0
    idx = np.where(pad, 0, items)
    lpop = cat.log_popularity if log_popularity is None else np.asarray(log_popularity, dtype=np.float32)
    v = (np.float32(beh.quality_weight) * cat.quality[idx]
         - population.price_sensitivity[rows, None] * cat.log_price[idx]
         + population.conformity[rows, None] * lpop[idx])
    nov = population.novelty[rows]
    if np.any(nov != 0):
        age = np.maximum(t[:, None] - cat.release[idx], 0).astype(np.float32)
        v += nov[:, None] * np.exp(age * np.float32(-1.0 / (beh.freshness_days * DAY)))
    if with_affinity:
        aff = population.affinity_at(rows, t)
        with np.errstate(divide="ignore"):
            v += np.log(cat.n_categories * np.take_along_axis(aff, cat.category[idx].astype(np.int64), axis=1)
                        ).astype(np.float32)
    v[pad | (cat.release[idx] > t[:, None])] = -np.inf
    return v.astype(np.float32, copy=False)


def log_popularity_from_counts(counts: np.ndarray, *, prior: float = 1.0) -> np.ndarray:
    """Observed popularity on the catalogue's mean-1 scale: log((n_i + prior) / mean(n + prior)).

    Use it to feed interaction counts of a closed loop to `utilities` / `respond` in place of the base
    popularity. float32 ``(n_items,)``.
    """
    x = np.asarray(counts, dtype=np.float64) + prior
    return np.log(x / x.mean()).astype(np.float32)


def position_log_weights(k: int, eta: float) -> np.ndarray:
    """log θ_j = −η · log(j) for positions j = 1..k; float32 ``(k,)``."""
    return (-eta * np.log(np.arange(1, k + 1, dtype=np.float64))).astype(np.float32)


def gumbel(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Standard Gumbel noise, float32: −log E with E ~ Exp(1) (E clipped away from 0)."""
    e = rng.standard_exponential(size=shape, dtype=np.float32)
    np.maximum(e, np.finfo(np.float32).tiny, out=e)
    return -np.log(e, out=e)


def funnel_reached(world: World, segment: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Stages reached (≥ 1) for choices of users in ``segment`` given uniforms ``u``; int64 ``(m,)``."""
    rates = world.segments.funnel_rates[segment]
    return (u[:, None] < rates).sum(axis=1).astype(np.int64).clip(min=1)


def ratings_for(world: World, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Explicit ratings for true utilities ``v`` (float ``(m,)``); float32 ``(m,)``."""
    spec = world.scenario.behaviour.ratings
    assert spec is not None
    raw = spec.mean + spec.utility_weight * np.nan_to_num(v, neginf=-10.0) + spec.noise_sd * rng.standard_normal(len(v))
    if spec.thresholds is not None:  # ordered probit: the value above the last cut point passed
        grid = np.asarray(spec.grid(), dtype=np.float64)
        return grid[np.searchsorted(np.asarray(spec.thresholds), raw, side="right")].astype(np.float32)
    lo, hi = spec.scale
    stepped = lo + np.round((raw - lo) / spec.step) * spec.step
    return np.clip(stepped, lo, hi).astype(np.float32)


def respond(
    world: World,
    population: Population,
    rows: np.ndarray,
    slates: np.ndarray,
    t: np.ndarray,
    rng: np.random.Generator,
    *,
    log_popularity: np.ndarray | None = None,
    outside_utility: float | None = 0.0,
) -> Response:
    """Users' reaction to recommender slates: position bias, multinomial logit choice, funnel, rating.

    P(choose slate position k) ∝ exp(V_u,s_k(t) + log θ_k) against an outside option of utility
    ``outside_utility`` (None = always choose an item), sampled with Gumbel-max (module docstring).

    Args:
        world, population: the scenario's world and the users (``rows`` index into ``population``).
        rows: int ``(m,)``; slates: int ``(m, K)`` dense item ids in display order (−1 = empty position).
        t: int64 ``(m,)`` or scalar epoch seconds of the impression.
        rng: the random source; log_popularity: as in `utilities`.

    Returns:
        `Response`. Vectorised over rows; loops over nothing else.
    """
    rows = np.asarray(rows, dtype=np.int64)
    m, k = np.shape(slates)
    v = utilities(world, population, rows, slates, t, log_popularity=log_popularity)
    v_all = v + position_log_weights(k, world.scenario.behaviour.position_bias)[None, :] + gumbel((m, k), rng)
    pos = np.argmax(v_all, axis=1)
    best = v_all[np.arange(m), pos]
    chosen = np.isfinite(best)
    if outside_utility is not None:
        chosen &= best > outside_utility + gumbel((m,), rng)
    pos = np.where(chosen, pos, -1)
    item = np.where(chosen, np.asarray(slates)[np.arange(m), np.maximum(pos, 0)], -1).astype(np.int32)
    reached = np.where(chosen, funnel_reached(world, population.segment[rows], rng.random(size=(m,))), 0)
    rating = np.full(m, np.nan, dtype=np.float32)
    spec = world.scenario.behaviour.ratings
    if spec is not None:
        got = reached > world.scenario.stage_names.index(spec.stage)
        rating[got] = ratings_for(world, v[np.arange(m), np.maximum(pos, 0)][got], rng)
    return Response(position=pos, item=item, reached=reached, rating=rating)


# ---------------------------------------------------------------------------------------------- open loop


def simulate_block(world: World, block: int, *, seed: int) -> tuple[Population, BlockLog]:
    """Population and rows of all `BLOCK_USERS` users of ``block`` in the sample with ``seed``.

    Deterministic in (scenario, items.seed, seed, block): the behaviour stream is the second child of
    `block_seed` (the population uses the first).
    """
    pop = draw_block(world.scenario, world.segments, block, seed=seed)
    rng = np.random.default_rng(block_seed(seed, block).spawn(2)[1])
    scen = world.scenario
    n = len(pop)
    n_stages = len(scen.stage_names)
    rows_per_choice = n_stages if scen.behaviour.funnel.mode == "cumulative" else 1

    # --- sessions and their lengths
    weeks = (pop.active_until - pop.active_from) / WEEK
    n_sess = np.minimum(1 + rng.poisson(pop.session_rate * weeks), pop.max_sessions)
    s_user = np.repeat(np.arange(n), n_sess)
    n_s = len(s_user)
    length = rng.geometric(1.0 / pop.session_length[s_user])
    # --- choice offsets inside sessions (seconds), >= rows_per_choice apart
    n_e = int(length.sum())
    gap = rows_per_choice + np.floor(rng.standard_exponential(n_e) * scen.simulation.choice_gap_seconds)
    sess_first = np.concatenate([[0], np.cumsum(length)[:-1]])
    gap[sess_first] = 0
    cs = np.cumsum(gap).astype(np.int64)
    e_sess = np.repeat(np.arange(n_s), length)
    offset = cs - cs[sess_first][e_sess]
    duration = offset[sess_first + length - 1] + rows_per_choice - 1
    # --- session starts: hour slots under the daily/weekly cycles, then order and de-overlap
    start = _session_starts(world, pop, s_user, duration, rng)
    perm = np.lexsort((start, s_user))
    start, duration = start[perm], duration[perm]
    start = _no_overlap(start, duration, s_user)  # s_user is sorted, unchanged by perm
    rank = np.arange(n_s) - np.searchsorted(s_user, s_user)
    session_id = pop.user[s_user] * SESSION_STRIDE + rank
    # events in the new session order
    new_len = length[perm]
    new_first = np.concatenate([[0], np.cumsum(new_len)[:-1]])
    e_new_sess = np.repeat(np.arange(n_s), new_len)
    ev = np.repeat(sess_first[perm], new_len) + (np.arange(n_e) - new_first[e_new_sess])
    t = start[e_new_sess] + offset[ev]
    e_row = s_user[e_new_sess]  # population row of each choice

    # --- choices: repeats and fresh choices
    user_first = np.searchsorted(e_row, np.arange(n))
    k_in_user = np.arange(n_e) - user_first[e_row]
    u_rep = rng.random(n_e)
    is_repeat = (k_in_user > 0) & (u_rep < pop.repeat[e_row])
    fresh = np.flatnonzero(~is_repeat)
    item = np.full(n_e, -1, dtype=np.int32)
    item[fresh] = _fresh_choices(world, pop, e_row[fresh], t[fresh], rng)
    src = np.arange(n_e)
    rep = np.flatnonzero(is_repeat)
    src[rep] = user_first[e_row[rep]] + np.floor(rng.random(rep.size) * k_in_user[rep]).astype(np.int64)
    while True:  # pointer jumping: a repeat of a repeat goes back to the original choice
        nxt = src[src]
        if np.array_equal(nxt, src):
            break
        src = nxt
    item = item[src]
    ok = item >= 0  # a choice in a category with nothing released yet is dropped
    if not ok.all():
        e_row, t, item, e_new_sess = e_row[ok], t[ok], item[ok], e_new_sess[ok]

    # --- funnel
    reached = funnel_reached(world, pop.segment[e_row], rng.random(len(e_row)))
    if rows_per_choice > 1:
        choice = np.repeat(np.arange(len(e_row)), reached)
        first = np.concatenate([[0], np.cumsum(reached)[:-1]])
        stage = np.arange(len(choice)) - first[choice]
    else:
        choice = np.arange(len(e_row))
        stage = reached - 1
    row_t = t[choice] + (stage if rows_per_choice > 1 else 0)
    rating = None
    spec = scen.behaviour.ratings
    if spec is not None:
        rating = np.full(len(choice), np.nan, dtype=np.float32)
        on = np.flatnonzero(stage == scen.stage_names.index(spec.stage))
        c_on = choice[on]
        v = utilities(world, pop, e_row[c_on], item[c_on][:, None], t[c_on])[:, 0]
        rating[on] = ratings_for(world, v, rng)
    log = BlockLog(
        user=pop.user[e_row[choice]], item=item[choice], timestamp=row_t.astype(np.int64),
        stage=stage.astype(np.int8), session=session_id[e_new_sess[choice]], rating=rating,
    )
    return pop, log


def _fresh_choices(world: World, pop: Population, rows: np.ndarray, t: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Organic choices: category by drifted affinity, exposure slate, MNL with position bias.

    Returns int32 ``(m,)`` item ids, −1 where the category has nothing released at t.
    """
    cat = world.catalogue
    beh = world.scenario.behaviour
    m, n_cat = len(rows), cat.n_categories
    # category: inverse CDF on the user's start or end affinity (mixture weight λ(t) = drift)
    lam = pop.drift_mix(rows, t)
    which = rows + np.where(rng.random(m) < lam, len(pop), 0)
    cdf = np.cumsum(np.concatenate([pop.affinity_start, pop.affinity_end]), axis=1).astype(np.float32)
    cdf[:, -1] = 1.0  # so that u < 1 always falls inside
    c = (cdf[which] <= rng.random(m, dtype=np.float32)[:, None]).sum(axis=1, dtype=np.int32)
    c = np.minimum(c, n_cat - 1)
    end = cat.available_end(c, t)
    live = np.flatnonzero(end > cat.cat_start[c])
    out = np.full(m, -1, dtype=np.int32)
    k = beh.slate_size
    pos = cat.draw_positions(c[live], end[live], rng.random((live.size, k), dtype=np.float32))
    r = rows[live]
    v = cat.pos_quality[pos]
    if beh.quality_weight != 1.0:
        v *= np.float32(beh.quality_weight)
    v -= pop.price_sensitivity[r, None] * cat.pos_log_price[pos]
    v += pop.conformity[r, None] * cat.pos_log_popularity[pos]
    nov = pop.novelty[r]
    if np.any(nov != 0):
        age = (t[live, None] - cat.release_sorted[pos]).astype(np.float32)
        v += nov[:, None] * np.exp(age * np.float32(-1.0 / (beh.freshness_days * DAY)))
    if beh.position_bias:
        v += position_log_weights(k, beh.position_bias)[None, :]
    e = rng.standard_exponential(size=v.shape, dtype=np.float32)  # Gumbel = −log E
    np.maximum(e, np.finfo(np.float32).tiny, out=e)
    v -= np.log(e, out=e)
    best = np.take_along_axis(pos, np.argmax(v, axis=1)[:, None], axis=1)[:, 0]
    out[live] = cat.order[best]
    return out


def _session_starts(world: World, pop: Population, s_user: np.ndarray, duration: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Start second of each session: an hour slot drawn under the cycles, placed to fit in its hour.

    Day d ~ Uniform over the user's active days, accepted with probability w_dow(d) / max w; hour ~ the
    hourly weights; a slot is rejected if outside the user's active window or already taken by another
    session of the same user. Rejected sessions redraw, in rounds; after `_MAX_SLOT_ROUNDS` rounds a
    session keeps its last draw that respected the cycles and window but collided (else its last draw);
    the overlap pass then shifts it. int64 ``(S,)``.
    """
    sim = world.scenario.simulation
    week_w = np.asarray(sim.weekly_weights) / max(sim.weekly_weights)
    hour_cdf = np.cumsum(sim.hourly_weights) / sum(sim.hourly_weights)
    hour_cdf[-1] = 1.0
    lo = pop.active_from[s_user]
    hi = pop.active_until[s_user]
    d_lo = lo // DAY
    d_n = (hi - 1) // DAY - d_lo + 1
    n_s = len(s_user)
    slot = np.full(n_s, -1, dtype=np.int64)  # hour index since the epoch
    fallback = np.full(n_s, -1, dtype=np.int64)  # last draw that only failed the one-per-slot rule
    todo = np.arange(n_s)
    for round_ in range(_MAX_SLOT_ROUNDS + 1):
        if not todo.size:
            break
        m = todo.size
        day = d_lo[todo] + np.floor(rng.random(m) * d_n[todo]).astype(np.int64)
        hour = np.searchsorted(hour_cdf, rng.random(m), side="right").clip(max=23)
        prop = day * 24 + hour
        if round_ == _MAX_SLOT_ROUNDS:
            slot[todo] = np.where(fallback[todo] >= 0, fallback[todo], prop)
            break
        dow = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        ok = (rng.random(m) < week_w[dow]) & (prop * HOUR + HOUR > lo[todo]) & (prop * HOUR < hi[todo])
        # at most one session per (user, slot): keep the first claim, placed sessions first
        placed = np.flatnonzero(slot >= 0)
        cand = todo[ok]
        keys = np.concatenate([s_user[placed] * (1 << 40) + slot[placed], s_user[cand] * (1 << 40) + prop[ok]])
        _, first = np.unique(keys, return_index=True)
        win = np.zeros(len(keys), dtype=bool)
        win[first] = True
        won = win[placed.size:]
        slot[cand[won]] = prop[ok][won]
        fallback[cand[~won]] = prop[ok][~won]
        todo = np.setdiff1d(todo, cand[won], assume_unique=True)
    room = np.maximum(HOUR - duration, 1)  # a session spans [start, start + duration]
    start = slot * HOUR + np.floor(rng.random(n_s) * room).astype(np.int64)
    return np.maximum(start, lo)


def _no_overlap(start: np.ndarray, duration: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Shift sessions (sorted by group, then start) so each starts after the previous one of its group
    ends: s'_k = C_k + max_{j ≤ k} (s_j − C_j), C_k = Σ_{j<k} (duration_j + 1) within the group."""
    if not len(start):
        return start
    need = duration + 1
    cum = np.cumsum(need) - need
    grp_first = np.searchsorted(group, group)
    c = cum - cum[grp_first]
    shifted = np.maximum.accumulate(start - c + group.astype(np.int64) * (1 << 42)) - group.astype(np.int64) * (1 << 42)
    return shifted + c
