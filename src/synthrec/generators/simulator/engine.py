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
  term is then common to the slate and cancels. The open loop samples the same law by sequential
  inversion of the softmax (`softmax_pick`: one uniform per slate instead of K Gumbels); `respond`, which
  also has an outside option, uses the Gumbel-max form. A closed loop passes recommender slates to
  `respond`.
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
stages, rejection rounds, slate positions and cache-sized chunks of slates (`_SLATE_CHUNK`).
Performance notes (benchmarks/simulator_throughput.py): slates are scored position-major ``(K, chunk)``
in float32, rows grouped by category so table look-ups stay in cache, and gathers use intp indices.
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
    rates = world.segments.funnel_rates
    segment = segment.astype(np.intp)
    reached = np.ones(len(u), dtype=np.int64)  # stage 0 always (its rate is 1)
    for s in range(1, rates.shape[1]):  # one pass per stage over (m,) beats a (m, G) table
        reached += u < rates[:, s][segment]
    return reached


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
    perm = np.argsort(s_user * (1 << 40) + start, kind="stable")  # = lexsort((start, s_user)), faster
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

    # --- funnel: one row per choice (mode "final") or per stage reached ("cumulative", rows expanded by
    # np.repeat, a sequential copy, rather than gathers through a row -> choice index)
    reached = funnel_reached(world, pop.segment[e_row], rng.random(len(e_row)))
    user, session = pop.user[e_row], session_id[e_new_sess]
    if rows_per_choice > 1:
        first = np.cumsum(reached) - reached  # first row of each choice
        stage = np.arange(int(first[-1] + reached[-1]) if len(reached) else 0) - np.repeat(first, reached)
        row_t = np.repeat(t, reached) + stage
        user, item, session = np.repeat(user, reached), np.repeat(item, reached), np.repeat(session, reached)
    else:
        stage, row_t = reached - 1, t
    rating = None
    spec = scen.behaviour.ratings
    if spec is not None:
        rating = np.full(len(stage), np.nan, dtype=np.float32)
        s_rated = scen.stage_names.index(spec.stage)
        if rows_per_choice > 1:
            c_on = np.flatnonzero(reached > s_rated)
            on = first[c_on] + s_rated
        else:
            c_on = on = np.flatnonzero(reached - 1 == s_rated)
        v = utilities(world, pop, e_row[c_on], item[on][:, None], t[c_on])[:, 0]
        rating[on] = ratings_for(world, v, rng)
    log = BlockLog(user=user, item=item, timestamp=row_t.astype(np.int64, copy=False),
                   stage=stage.astype(np.int8), session=session, rating=rating)
    return pop, log


def _fresh_choices(world: World, pop: Population, rows: np.ndarray, t: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Organic choices: category by drifted affinity, exposure slate, MNL with position bias.

    Args: population rows ``rows`` and epoch seconds ``t`` (int ``(m,)``) of the choices; ``rng`` the
    block's behaviour stream (consumed: category mixture and category uniforms, then the slates).

    Returns int32 ``(m,)`` item ids, −1 where the category has nothing released at t.
    """
    cat = world.catalogue
    m = len(rows)
    # category: inverse CDF on the user's start or end affinity (mixture weight λ(t) = drift)
    lam = pop.drift_mix(rows, t)
    which = rows + np.where(rng.random(m) < lam, len(pop), 0)
    cdf = np.cumsum(np.concatenate([pop.affinity_start, pop.affinity_end]), axis=1).astype(np.float32)
    cdf[:, -1] = 1.0  # so that u < 1 always falls inside
    u_cat = rng.random(m, dtype=np.float32)
    c = np.zeros(m, dtype=np.int32)
    for col in np.ascontiguousarray(cdf[:, :-1].T):  # c = #{j : cdf_j <= u}, one (m,) pass per category
        c += col[which] <= u_cat
    end = cat.available_end(c, t)
    live = np.flatnonzero(end > cat.cat_start[c])
    out = np.full(m, -1, dtype=np.int32)
    out[live] = _slate_choices(world, pop, rows[live], t[live], c[live], end[live], rng)
    return out


#: slates scored per chunk: the (K, chunk) temporaries stay in the L2 cache. Part of the determinism
#: contract (the random stream is consumed chunk by chunk).
_SLATE_CHUNK = 4096


def _slate_choices(world: World, pop: Population, rows: np.ndarray, t: np.ndarray, c: np.ndarray,
                   end: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Item chosen from one organic exposure slate per row (multinomial logit with position bias).

    Rows are processed grouped by (novelty ≠ 0, category), in chunks of `_SLATE_CHUNK`: within a chunk the
    slot and attribute look-ups stay inside one or two categories' runs of the catalogue tables (cache
    locality), and the novelty term is computed on one contiguous run of columns. Arrays are laid out
    ``(K, chunk)`` so that per-position work is a handful of contiguous passes.

    Args:
        world, pop: the scenario's world and the block's population (``rows`` index into it).
        rows, t, c, end: int ``(m,)`` population rows, epoch seconds, categories, and released ends
            (`Catalogue.available_end`, each above the category's start).
        rng: the block's behaviour stream.

    Returns:
        int32 ``(m,)`` dense item ids.
    """
    cat = world.catalogue
    beh = world.scenario.behaviour
    k = beh.slate_size
    m = len(rows)
    qw = np.float32(beh.quality_weight)
    decay = np.float32(-1.0 / (beh.freshness_days * DAY))
    log_theta = position_log_weights(k, beh.position_bias)[:, None] if beh.position_bias else None
    novel = pop.novelty[rows] != 0
    key = c.astype(np.int64) + novel * np.int64(cat.n_categories)
    if 2 * cat.n_categories <= np.iinfo(np.int16).max:
        key = key.astype(np.int16)  # a stable sort of 16-bit keys is a radix sort, ~5x faster
    order = np.argsort(key, kind="stable")
    n_plain = int(m - novel.sum())  # rows order[:n_plain] have novelty 0 (their term is exactly 0)
    best = np.empty(m, dtype=np.intp)
    for a in range(0, m, _SLATE_CHUNK):
        b = min(a + _SLATE_CHUNK, m)
        idx = order[a:b]
        r = rows[idx]
        pos = cat.draw_slate_positions(c[idx], end[idx], rng.random((k, b - a), dtype=np.float32))
        v = cat.pos_quality[pos]
        if qw != 1.0:
            v *= qw
        term = cat.pos_log_price[pos]
        term *= pop.price_sensitivity[r]
        v -= term
        np.take(cat.pos_log_popularity, pos, out=term)
        term *= pop.conformity[r]
        v += term
        j = max(n_plain - a, 0)  # columns j: of the chunk are the novelty seekers
        if j < b - a:
            age = (t[idx[j:]] - cat.release_sorted[pos[:, j:]]).astype(np.float32)
            age *= decay
            np.exp(age, out=age)
            age *= pop.novelty[r[j:]]
            v[:, j:] += age
        if log_theta is not None:
            v += log_theta
        pick = softmax_pick(v, rng.random(b - a, dtype=np.float32))
        best[idx] = pos.ravel()[pick * (b - a) + np.arange(b - a)]
    return cat.order[best]


def softmax_pick(v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index k of each column of ``v`` drawn with probability softmax(v[:, j])_k, by inverse CDF.

    The same law as Gumbel-max, argmax_k v_kj + G_kj (McFadden 1974), from one uniform per column
    instead of K Gumbel draws: with S_k = Σ_{i ≤ k} exp(v_ij − max_i v_ij), pick the smallest k with
    S_k > u_j · S_K (Devroye 1986, ch. III.2, sequential inversion).

    Args:
        v: float32 ``(K, n)`` finite utilities, one candidate per row (overwritten with the running sums).
        u: float ``(n,)`` uniforms in [0, 1).

    Returns:
        intp ``(n,)`` in ``[0, K)``.
    """
    k = v.shape[0]
    top = v.max(axis=0)
    v -= top
    np.exp(v, out=v)
    for i in range(1, k):
        v[i] += v[i - 1]
    target = u * v[k - 1]
    pick = np.zeros(v.shape[1], dtype=np.intp)
    for i in range(k - 1):
        pick += v[i] <= target
    return pick


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
    # (user, slot) keys of placed sessions, kept sorted: a round costs O(candidates · log S), not a re-sort
    taken = np.empty(0, dtype=np.int64)
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
        ok = np.flatnonzero((rng.random(m) < week_w[dow]) & (prop * HOUR + HOUR > lo[todo])
                            & (prop * HOUR < hi[todo]))
        # at most one session per (user, slot): placed sessions keep theirs, then the first claim wins
        cand = todo[ok]
        key = s_user[cand] * (1 << 40) + prop[ok]
        at = np.searchsorted(taken, key)
        free = np.flatnonzero(taken[np.minimum(at, taken.size - 1)] != key) if taken.size else np.arange(key.size)
        new_keys, first = np.unique(key[free], return_index=True)
        won = np.zeros(ok.size, dtype=bool)
        won[free[first]] = True
        taken = np.insert(taken, np.searchsorted(taken, new_keys), new_keys)
        slot[cand[won]] = prop[ok][won]
        fallback[cand[~won]] = prop[ok][~won]
        lost = np.ones(m, dtype=bool)
        lost[ok[won]] = False
        todo = todo[lost]
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
