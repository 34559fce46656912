"""Simulated users: segments (personas), demographics and the latent traits that drive behaviour.

User k of a sample with seed s is a pure function of (scenario, catalogue, s, k): users are drawn in
fixed blocks of `BLOCK_USERS`, block b from ``SeedSequence(s, spawn_key=(b,))`` (the b-th child of
``SeedSequence(s).spawn``), so the population of any subset of users can be rebuilt exactly, e.g. to
score a recommender against a user's true utilities without storing them.

Per user u in segment g (all draws independent given g):

* demographics: each attribute ~ Categorical(segment override, else ``users.demographics``);
* arrival: with probability ``users.new_share`` uniform over the window (a cold user), else at its start;
* churn: lifetime ~ Exponential(rate ``churn_per_week``); active until min(arrival + lifetime, end);
* session rate λ_u per week ~ Gamma(k, m/k) (``negative_binomial``) or LogNormal(log m − σ²/2, σ);
* category affinity a_u ~ Dirichlet(κ_g · m_g) with m_g,c ∝ share_c · weight_g,c (0 for empty
  categories); a second draw a'_u is where the affinity drifts to (preference drift);
* price sensitivity, conformity (weight of log popularity) and novelty seeking ~ N(mean_g, sd_g²).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from synthrec.errors import ConfigError
from synthrec.generators.simulator.catalogue import Catalogue
from synthrec.generators.simulator.scenario import Scenario

#: users per seeding block; part of the determinism contract (changing it changes every sample)
BLOCK_USERS = 1024
WEEK = 7 * 86400


def block_seed(seed: int, block: int) -> np.random.SeedSequence:
    """Seed of user block ``block``: equal to ``SeedSequence(seed).spawn(n)[block]`` for any n > block."""
    return np.random.SeedSequence(seed, spawn_key=(block,))


@dataclass(frozen=True)
class SegmentTable:
    """Per-segment parameters as arrays (S segments, C categories, G funnel stages).

    Build with `SegmentTable.compile`; attribute names follow the scenario keys.
    """

    names: list[str]
    shares: np.ndarray  # (S,)
    alpha: np.ndarray  # (S, C) Dirichlet parameters
    lognormal: np.ndarray  # (S,) bool, activity distribution
    sessions_per_week: np.ndarray
    dispersion: np.ndarray
    sigma: np.ndarray
    max_sessions: np.ndarray  # (S,) int64
    session_length: np.ndarray
    churn_per_week: np.ndarray
    trait_mean: np.ndarray  # (S, 3): price sensitivity, conformity, novelty
    trait_sd: np.ndarray  # (S, 3)
    repeat: np.ndarray
    drift_per_second: np.ndarray
    funnel_rates: np.ndarray  # (S, G), non-increasing, column 0 = 1
    demographics: dict[str, tuple[list[str], np.ndarray]]  # attribute -> (values, probs (S, V))

    @classmethod
    def compile(cls, scenario: Scenario, catalogue: Catalogue) -> SegmentTable:
        """Arrays of the scenario's segments for ``catalogue``'s categories.

        Raises:
            ConfigError: an affinity weight names a category the catalogue does not have (imported
                catalogues), or a segment gives zero weight to every non-empty category.
        """
        segs = scenario.users.segments
        names = catalogue.category_names
        n_cat = len(names)
        size = np.diff(catalogue.cat_start).astype(np.float64)
        share = size / max(size.sum(), 1.0)
        alpha = np.zeros((len(segs), n_cat))
        for g, seg in enumerate(segs):
            w = np.ones(n_cat)
            for cname, weight in seg.affinity.weights.items():
                hit = np.array([n == cname or n.startswith(cname + "/") for n in names])
                if not hit.any():
                    raise ConfigError(
                        f"users.segments[{g}].affinity.weights.{cname}: unknown category; the catalogue "
                        f"has {', '.join(names[:20])}{' ...' if n_cat > 20 else ''}")
                w[hit] = weight
            m = share * w
            if m.sum() <= 0:
                raise ConfigError(f"users.segments[{g}].affinity.weights: every non-empty category has weight 0")
            alpha[g] = seg.affinity.concentration * m / m.sum()
        demo: dict[str, tuple[list[str], np.ndarray]] = {}
        attrs = list(scenario.users.demographics)
        for seg in segs:
            attrs += [a for a in seg.demographics if a not in attrs]
        for attr in attrs:
            values: list[str] = []
            for dist in [scenario.users.demographics.get(attr, {})] + [s.demographics.get(attr, {}) for s in segs]:
                values += [v for v in dist if v not in values]
            probs = np.zeros((len(segs), len(values)))
            for g, seg in enumerate(segs):
                seg_dist = seg.demographics.get(attr, scenario.users.demographics.get(attr))
                if seg_dist is None:
                    raise ConfigError(f"users.segments[{g}].demographics.{attr}: other segments define "
                                      f"{attr!r}; give it here too or in users.demographics")
                for v, p in seg_dist.items():
                    probs[g, values.index(v)] = p
            demo[attr] = (values, probs)

        def arr(get: object) -> np.ndarray:
            return np.array([get(s) for s in segs], dtype=np.float64)  # type: ignore[operator]

        traits = ("price_sensitivity", "conformity", "novelty")
        return cls(
            names=[s.name for s in segs],
            shares=arr(lambda s: s.share),
            alpha=alpha,
            lognormal=np.array([s.activity.distribution == "lognormal" for s in segs]),
            sessions_per_week=arr(lambda s: s.activity.sessions_per_week),
            dispersion=arr(lambda s: s.activity.dispersion),
            sigma=arr(lambda s: s.activity.sigma),
            max_sessions=np.array([s.activity.max_sessions for s in segs], dtype=np.int64),
            session_length=arr(lambda s: s.session_length),
            churn_per_week=arr(lambda s: s.churn_per_week),
            trait_mean=np.array([[getattr(s, t).mean for t in traits] for s in segs]),
            trait_sd=np.array([[getattr(s, t).sd for t in traits] for s in segs]),
            repeat=arr(lambda s: s.repeat),
            drift_per_second=arr(lambda s: s.drift_per_30_days / (30 * 86400)),
            funnel_rates=np.array(scenario.funnel_rates(), dtype=np.float64),
            demographics=demo,
        )


@dataclass(frozen=True)
class Population:
    """Latent and observed traits of simulated users; row r describes global user ``user[r]``.

    Attributes:
        user: int64 ``(n,)`` global user index (dense id within a full sample).
        segment: int16 ``(n,)`` segment index.
        affinity_start, affinity_end: float64 ``(n, C)`` category affinities at arrival / after full
            drift; rows sum to 1.
        drift_per_second: float64 ``(n,)``; the affinity at time t is
            (1 − λ) a + λ a' with λ = 1 − exp(−drift · (t − active_from)).
        price_sensitivity, conformity, novelty: float32 ``(n,)`` utility coefficients.
        session_rate: float64 ``(n,)`` expected sessions per week while active.
        session_length: float64 ``(n,)`` mean choices per session.
        repeat: float64 ``(n,)`` probability that a choice re-consumes an earlier item.
        max_sessions: int64 ``(n,)``.
        active_from, active_until: int64 ``(n,)`` epoch seconds; arrival and churn (or window end).
        demographics: attribute -> int16 ``(n,)`` codes into `SegmentTable.demographics`.
    """

    user: np.ndarray
    segment: np.ndarray
    affinity_start: np.ndarray
    affinity_end: np.ndarray
    drift_per_second: np.ndarray
    price_sensitivity: np.ndarray
    conformity: np.ndarray
    novelty: np.ndarray
    session_rate: np.ndarray
    session_length: np.ndarray
    repeat: np.ndarray
    max_sessions: np.ndarray
    active_from: np.ndarray
    active_until: np.ndarray
    demographics: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.user)

    def take(self, rows: np.ndarray) -> Population:
        """The sub-population at row positions ``rows`` (int array)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = {k: a[rows] for k, a in v.items()} if isinstance(v, dict) else v[rows]
        return Population(**out)  # type: ignore[arg-type]

    def affinity_at(self, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Affinities ``(m, C)`` float64 of rows ``rows`` at epoch seconds ``t`` (``(m,)``), after drift."""
        lam = self.drift_mix(rows, t)[:, None]
        return (1.0 - lam) * self.affinity_start[rows] + lam * self.affinity_end[rows]

    def drift_mix(self, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        """λ ∈ [0, 1) ``(m,)``: how far the affinity of each row has drifted at time ``t``."""
        age = np.maximum(np.asarray(t, dtype=np.float64) - self.active_from[rows], 0.0)
        return -np.expm1(-self.drift_per_second[rows] * age)

    def table(self, segments: SegmentTable, dense_user: np.ndarray) -> pl.DataFrame:
        """Users attribute table: ``user`` Int32 (``dense_user``), ``segment`` String, one String column per
        demographic attribute, ``first_seen`` Int64 (arrival, epoch seconds)."""
        cols: dict[str, pl.Series] = {
            "user": pl.Series("user", dense_user, dtype=pl.Int32),
            "segment": pl.Series(segments.names, dtype=pl.String).gather(self.segment),
        }
        for attr, (values, _) in segments.demographics.items():
            cols[attr] = pl.Series(values, dtype=pl.String).gather(self.demographics[attr])
        cols["first_seen"] = pl.Series("first_seen", self.active_from, dtype=pl.Int64)
        return pl.DataFrame(cols)


def build_population(
    scenario: Scenario, segments: SegmentTable, users: np.ndarray, *, seed: int
) -> Population:
    """Traits of the global users ``users`` (int array, any order, duplicates allowed) of a sample with
    ``seed``; identical to the users of ``Simulator.sample(n, seed=seed)`` with the same indices.

    Loops over the blocks the users fall in (each block is drawn whole, then the rows are taken).
    """
    users = np.asarray(users, dtype=np.int64)
    if users.size and users.min() < 0:
        raise ValueError("user indices must be >= 0")
    blocks, inverse = np.unique(users // BLOCK_USERS, return_inverse=True)
    parts = [draw_block(scenario, segments, int(b), seed=seed) for b in blocks]
    if not parts:
        return draw_block(scenario, segments, 0, seed=seed).take(np.empty(0, np.int64))
    rows = np.concatenate([[0], np.cumsum([len(p) for p in parts])])[inverse] + users % BLOCK_USERS
    if len(parts) == 1:
        return parts[0].take(rows)
    whole = {}
    for f in fields(Population):
        vals = [getattr(p, f.name) for p in parts]
        whole[f.name] = ({k: np.concatenate([v[k] for v in vals]) for k in vals[0]} if isinstance(vals[0], dict)
                         else np.concatenate(vals))
    return Population(**whole).take(rows)  # type: ignore[arg-type]


def draw_block(scenario: Scenario, segments: SegmentTable, block: int, *, seed: int) -> Population:
    """All `BLOCK_USERS` users of block ``block`` (global users ``block·B … block·B + B − 1``)."""
    rng = np.random.default_rng(block_seed(seed, block).spawn(2)[0])
    n = BLOCK_USERS
    sim = scenario.simulation
    seg = _categorical(segments.shares[None, :].repeat(n, 0), rng.random(n)).astype(np.int16)
    demo = {attr: _categorical(probs[seg], rng.random(n)).astype(np.int16)
            for attr, (_, probs) in segments.demographics.items()}
    start, end = sim.start_epoch, sim.end_epoch
    is_new = rng.random(n) < scenario.users.new_share
    arrival = np.where(is_new, start + np.floor(rng.random(n) * (end - start)), start).astype(np.int64)
    churn = segments.churn_per_week[seg]
    life = rng.standard_exponential(n) * WEEK / np.where(churn > 0, churn, 1.0)
    until = np.where(churn > 0, np.minimum(arrival + np.ceil(life), end), end).astype(np.int64)
    until = np.maximum(until, arrival + 1)
    mean = segments.sessions_per_week[seg]
    k = segments.dispersion[seg]
    sig = segments.sigma[seg]
    gamma = rng.standard_gamma(k) * mean / k
    logn = mean * np.exp(sig * rng.standard_normal(n) - sig**2 / 2)
    rate = np.where(segments.lognormal[seg], logn, gamma)
    aff = [_dirichlet(segments.alpha[seg], rng) for _ in range(2)]
    traits = segments.trait_mean[seg] + segments.trait_sd[seg] * rng.standard_normal((n, 3))
    traits = traits.astype(np.float32)
    return Population(
        user=np.arange(block * n, (block + 1) * n, dtype=np.int64), segment=seg,
        affinity_start=aff[0], affinity_end=aff[1], drift_per_second=segments.drift_per_second[seg],
        price_sensitivity=traits[:, 0], conformity=traits[:, 1], novelty=traits[:, 2],
        session_rate=rate, session_length=segments.session_length[seg], repeat=segments.repeat[seg],
        max_sessions=segments.max_sessions[seg], active_from=arrival, active_until=until,
        demographics=demo,
    )


def _categorical(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index j with cdf[j-1] ≤ u < cdf[j] per row of ``probs`` ``(n, V)``; int64 ``(n,)``."""
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), probs.shape[1] - 1)


def _dirichlet(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows ~ Dirichlet(alpha[r]) via normalised gammas; a row whose gammas all underflow (tiny α) gets a
    one-hot draw from alpha / Σ alpha — the Dirichlet's limit as the concentration goes to 0."""
    g = rng.standard_gamma(alpha)
    total = g.sum(axis=1, keepdims=True)
    dead = total[:, 0] <= 0
    if dead.any():
        pick = _categorical(alpha[dead], rng.random(int(dead.sum())))
        g[dead] = 0.0
        g[np.flatnonzero(dead), pick] = 1.0
        total[dead] = 1.0
    return g / total
