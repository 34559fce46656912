"""Calibration: tune a scenario's knobs so that its samples reproduce target statistics of a real log.

Targets (`CalibrationTarget`, every field optional) are numbers you give, or are measured on a small real
log with `target_statistics`:

=====================  ==========================================================================
statistic              definition (on a log; the same function measures real and simulated data)
=====================  ==========================================================================
``popularity_gini``    Gini of rows per item over the whole catalogue, zeros included
``activity_mean``      rows per user, over users with at least one row
``activity_cv``        coefficient of variation (sd / mean) of rows per user
``session_length``     choices per session (needs a ``session`` column)
``funnel``             share of choices reaching each stage (needs an ``event`` column)
``rating_histogram``   share of rated rows per rating value
=====================  ==========================================================================

A *choice* is a row of the first funnel stage (cumulative funnels) or any row (``final`` funnels and
logs without events).

Search. Each knob is a positive factor applied to a group of scenario keys and is monotone in one
statistic, so it is found by a 1-D root search on the log-factor: a proportional first step, bracket
expansion, then the Illinois variant of regula falsi (Dowell & Jarratt 1971, "A modified regula falsi
method for computing the root of an equation", BIT 11) until the relative error is at most
``tolerance``. Every evaluation samples the same ``n_users`` users with the same ``seed`` — common
random numbers (Glasserman & Yao 1992, "Some guidelines and guarantees for common random numbers",
Management Science 38(6)), so the objective is a deterministic function of the knobs, differences
between knob values are not drowned in sampling noise, and the search is reproducible. Knobs, in the order they are solved (the sequence is repeated for up to ``sweeps`` sweeps,
since activity changes the sampling noise in the Gini):

1. ``funnel``: segment rates of stage s scaled by target / measured (linear; fixed-point iteration);
2. ``session_length``: factor on every segment's ``session_length`` (↑ choices per session);
3. ``activity_mean``: factor on every segment's ``activity.sessions_per_week`` (↑ rows per user);
4. ``activity_cv``: factor x on ``activity.dispersion`` (and σ / √x for log-normal segments; ↓ CV:
   the CV of a gamma rate is 1/√k, about σ for a log-normal one);
5. ``popularity_gini``: factor on item heterogeneity — ``items.popularity.sigma``,
   ``items.quality_sd`` and ``items.brands.quality_sd`` (↑ Gini);
6. ``rating_histogram``: ratings do not feed back into choices, so the true utilities V of the rated
   rows of one sample are computed once and the ordered-probit cut points ``behaviour.ratings.thresholds``
   are solved so that the expected histogram equals the target exactly:
   P(rating = v_j) = mean_i [Φ((τ_j − μ − w V_i)/σ) − Φ((τ_{j−1} − μ − w V_i)/σ)] (`rating_probabilities`,
   `ordered_probit_thresholds`). μ, w, σ are kept, so ratings keep their link to the true utility.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy import optimize, special

from synthrec.data.atomic import atomic_write_text
from synthrec.data.interactions import EVENT, ITEM, RATING, SESSION, TIMESTAMP, USER, InteractionData
from synthrec.data.stats import gini
from synthrec.errors import ConfigError
from synthrec.generators.simulator.engine import utilities
from synthrec.generators.simulator.generator import Simulator
from synthrec.generators.simulator.scenario import Scenario, load_scenario, parse_scenario

#: bounds of a knob factor relative to the starting scenario (log-space search)
FACTOR_BOUNDS = (1e-3, 1e3)


class CalibrationTarget(BaseModel):
    """Target statistics (module docstring); leave a field out to leave its knob alone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    popularity_gini: float | None = Field(None, gt=0, lt=1)
    activity_mean: float | None = Field(None, gt=0, description="rows per active user")
    activity_cv: float | None = Field(None, gt=0, description="sd / mean of rows per user")
    session_length: float | None = Field(None, ge=1, description="choices per session")
    funnel: dict[str, float] | None = Field(None, description="stage -> share of choices reaching it")
    rating_histogram: dict[float, float] | None = Field(None, description="rating value -> share of rated rows")

    def flat(self) -> dict[str, float]:
        """The targets as ``{statistic: value}`` (``funnel_<stage>``, ``rating_<value>``), given ones only."""
        out: dict[str, float] = {}
        for key in ("popularity_gini", "activity_mean", "activity_cv", "session_length"):
            value = getattr(self, key)
            if value is not None:
                out[key] = float(value)
        for stage, rate in (self.funnel or {}).items():
            out[f"funnel_{stage}"] = float(rate)
        for value, share in sorted((self.rating_histogram or {}).items()):
            out[f"rating_{value:g}"] = float(share)
        return out


# ---------------------------------------------------------------------------------------------- statistics


def log_statistics(data: InteractionData, *, stages: list[str] | None = None, final_mode: bool = True
                   ) -> dict[str, Any]:
    """The calibration statistics of a log (module docstring), as `CalibrationTarget` fields.

    Args:
        data: any log. stages / final_mode: the funnel the ``event`` column follows (a scenario's
            ``stage_names`` and ``behaviour.funnel.mode``); without stages or events no funnel is measured.

    Returns:
        dict with ``popularity_gini``, ``activity_mean``, ``activity_cv`` always (NaN on an empty log),
        ``session_length`` when there is a ``session`` column, ``funnel`` when the events are the stages,
        ``rating_histogram`` when there are ratings.
    """
    it = data.interactions
    out: dict[str, Any] = {}
    item_counts = np.bincount(it[ITEM].to_numpy(), minlength=data.n_items)
    per_user = np.bincount(it[USER].to_numpy(), minlength=data.n_users)
    per_user = per_user[per_user > 0]
    out["popularity_gini"] = gini(item_counts)
    out["activity_mean"] = float(per_user.mean()) if per_user.size else float("nan")
    out["activity_cv"] = float(per_user.std() / per_user.mean()) if per_user.size else float("nan")
    events_are_stages = (stages is not None and EVENT in it.columns and it.height > 0
                         and set(it[EVENT].unique().drop_nulls().to_list()) <= set(stages))
    if events_are_stages and not final_mode:
        assert stages is not None
        choices = it.filter(pl.col(EVENT) == stages[0])
    else:
        choices = it
    if SESSION in it.columns and choices.height:
        out["session_length"] = choices.height / choices[SESSION].n_unique()
    if events_are_stages and choices.height:
        assert stages is not None
        counts = {s: int(n) for s, n in it.group_by(EVENT).len().iter_rows()}
        funnel = {}
        for k, stage in enumerate(stages):
            reached = sum(counts.get(s, 0) for s in stages[k:]) if final_mode else counts.get(stage, 0)
            funnel[stage] = reached / choices.height
        out["funnel"] = funnel
    if RATING in it.columns:
        rated = it[RATING].drop_nulls().drop_nans()
        if rated.len():
            vc = rated.value_counts(normalize=True, name="share").sort(RATING)
            out["rating_histogram"] = {float(v): float(s) for v, s in vc.iter_rows()}
    return out


def target_statistics(data: InteractionData, *, scenario: Scenario | None = None) -> CalibrationTarget:
    """`CalibrationTarget` measured on a real log (see `log_statistics`; the funnel only when its events
    are the stages of ``scenario``).

    Raises:
        ConfigError: the log has no interactions.
    """
    if data.n_interactions == 0:
        raise ConfigError(f"cannot calibrate to {data.name}: the log has no interactions")
    stages = scenario.stage_names if scenario is not None else None
    final_mode = scenario is None or scenario.behaviour.funnel.mode == "final"
    return CalibrationTarget(**log_statistics(data, stages=stages, final_mode=final_mode))


def scenario_for_log(data: InteractionData, *, name: str | None = None) -> Scenario:
    """A plain starting scenario shaped like ``data``, for `calibrate` to tune.

    One segment, one category and a single-stage ``final`` funnel (``interact``); the catalogue has
    ``data.n_items`` items; the window spans the log's timestamps (else 90 days from 2024-01-01);
    ``sessions_per_week`` is set so that rows per user roughly match; ratings (when the log has them) use
    the log's scale (min, max) and grid step (smallest gap between distinct values) and its mean.

    Raises:
        ConfigError: the log has no interactions.
    """
    if data.n_interactions == 0:
        raise ConfigError(f"cannot build a scenario for {data.name}: the log has no interactions")
    it = data.interactions
    start, days = "2024-01-01", 90
    if TIMESTAMP in it.columns and it[TIMESTAMP].null_count() < it.height:
        lo, hi = int(it[TIMESTAMP].min()), int(it[TIMESTAMP].max())  # type: ignore[arg-type]
        start = str(np.datetime64(lo, "s").astype("datetime64[D]"))
        days = max(1, math.ceil((hi - (lo - lo % 86400)) / 86400))
    stats = log_statistics(data)
    session_length = 3.0
    weeks = days / 7
    sessions = max(stats["activity_mean"] / session_length - 1.0, 0.1)
    raw: dict[str, Any] = {
        "name": name or f"{_log_label(data)}-calibrated",
        "description": f"calibrated to {data.name}",
        "simulation": {"start": start, "days": days},
        "items": {"count": data.n_items},
        "users": {"segments": [{"name": "everyone", "share": 1.0, "session_length": session_length,
                                "activity": {"sessions_per_week": sessions / weeks}}]},
        "behaviour": {"funnel": {"mode": "final", "stages": [{"name": "interact"}]}},
    }
    hist = stats.get("rating_histogram")
    if hist:
        values = np.array(sorted(hist))
        gaps = np.diff(values)
        step = float(gaps[gaps > 0].min()) if (gaps > 0).any() else 1.0
        mean = float(sum(v * s for v, s in hist.items()))
        raw["behaviour"]["ratings"] = {"stage": "interact", "scale": [float(values[0]), float(values[-1])],
                                       "step": step, "mean": mean}
    return parse_scenario(raw, source=f"scenario for {data.name}")


# ---------------------------------------------------------------------------------------------- result


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of `calibrate`.

    Attributes:
        scenario: the calibrated `Scenario`.
        target: the targets.
        achieved: statistics of the calibrated scenario's sample (same users and seed as the search).
        report: polars DataFrame, one row per target statistic: ``statistic``, ``target``, ``achieved``,
            ``relative_error`` = |achieved − target| / |target|.
        rating_tv: total-variation distance ½ Σ_v |p_v − q_v| between achieved and target rating
            histograms (NaN without a rating target).
        evaluations: number of scenario samples drawn.
        history: polars DataFrame of every evaluation: ``knob``, ``factor`` (relative to the knob's value
            at the start of its solve) and the scalar statistics of that sample.
    """

    scenario: Scenario
    target: CalibrationTarget
    achieved: dict[str, float]
    report: pl.DataFrame
    rating_tv: float
    evaluations: int
    history: pl.DataFrame
    n_users: int = 0
    seed: int = 0
    tolerance: float = 0.02

    @property
    def max_relative_error(self) -> float:
        """Largest relative error in `report` (0 without targets)."""
        errors = self.report["relative_error"].to_numpy()
        return float(np.nanmax(errors)) if errors.size else 0.0

    def simulator(self) -> Simulator:
        """A `Simulator` of the calibrated scenario."""
        return Simulator(self.scenario)

    def to_yaml(self) -> str:
        """The calibrated scenario as YAML, headed by a comment with the report (reloads with `load_scenario`)."""
        lines = [f"# Calibrated by synthrec (synthrec.generators.simulator.calibrate): {self.n_users} users, "
                 f"seed {self.seed}, {self.evaluations} evaluations.",
                 "# statistic: target -> achieved (relative error)"]
        for row in self.report.iter_rows(named=True):
            lines.append(f"#   {row['statistic']}: {row['target']:.4g} -> {row['achieved']:.4g} "
                         f"({row['relative_error']:.2%})")
        if not math.isnan(self.rating_tv):
            lines.append(f"#   rating histogram total-variation distance: {self.rating_tv:.4f}")
        return "\n".join(lines) + "\n" + scenario_to_yaml(self.scenario)

    def save(self, path: str | Path) -> Path:
        """Write `to_yaml` to ``path`` atomically; returns the path."""
        return atomic_write_text(path, self.to_yaml())


def scenario_to_yaml(scenario: Scenario) -> str:
    """A scenario as YAML text that `parse_scenario_text` reads back to an equal scenario."""
    raw = scenario.model_dump(mode="json")
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=110)


# ---------------------------------------------------------------------------------------------- calibrate


def calibrate(
    target: CalibrationTarget | Mapping[str, Any] | InteractionData,
    *,
    scenario: Scenario | str | Path | None = None,
    preset: str | None = None,
    n_users: int | None = None,
    seed: int = 0,
    max_iter: int = 12,
    sweeps: int = 3,
    tolerance: float = 0.02,
    on_evaluation: Callable[[str, float, float], None] | None = None,
) -> CalibrationResult:
    """Tune ``scenario`` (or ``preset``) so that its samples match ``target`` (module docstring).

    Args:
        target: a `CalibrationTarget`, a dict of its fields, or a real `InteractionData` whose statistics
            are the targets (`target_statistics`).
        scenario: the starting scenario (object or YAML path); preset: or a preset name; with neither and
            a real log, `scenario_for_log` builds one.
        n_users: users per evaluation sample (default: the real log's active users, else 1000). Statistics
            such as the Gini depend on the sample size, so match the real log's size when you can.
        seed: seed of every evaluation sample (common random numbers).
        max_iter: evaluations per 1-D knob search; sweeps: passes over the knobs.
        tolerance: stop a knob's search at this relative error (and the sweeps once all are within it).
        on_evaluation: called with (knob, factor, value) after every sample (progress reporting).

    Returns:
        `CalibrationResult` with the calibrated scenario and the achieved-vs-target report.

    Raises:
        ConfigError: invalid target values; both or neither of scenario/preset without a real log; a
            funnel target naming an unknown stage; a rating target without ``behaviour.ratings`` in the
            scenario or with values off its rating grid.
    """
    if scenario is not None and preset is not None:
        raise ConfigError("give a scenario or a preset to calibrate, not both")
    real: InteractionData | None = target if isinstance(target, InteractionData) else None
    if preset is not None:
        from synthrec.generators.simulator.presets import load_preset

        start_scenario = load_preset(preset)
    elif scenario is not None:
        start_scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    elif real is not None:
        start_scenario = scenario_for_log(real)
    else:
        raise ConfigError("give the scenario (or preset) to calibrate")
    if real is not None:
        goal = target_statistics(real, scenario=start_scenario)
        users = n_users or len(real.active_users())
    else:
        try:
            goal = target if isinstance(target, CalibrationTarget) else CalibrationTarget.model_validate(target)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"invalid calibration target: {problems}") from None
        users = n_users or 1000
    if users < 1 or max_iter < 1 or sweeps < 1 or not tolerance > 0:
        raise ConfigError("n_users, max_iter and sweeps must be >= 1 and tolerance > 0")
    search = _Search(start_scenario, goal, users, seed, max_iter, tolerance, on_evaluation)
    return search.run(sweeps)


class _Search:
    """State of one calibration: the current scenario (as a dict), the targets and the evaluation log."""

    def __init__(self, scenario: Scenario, target: CalibrationTarget, n_users: int, seed: int, max_iter: int,
                 tolerance: float, on_evaluation: Callable[[str, float, float], None] | None) -> None:
        self.raw: dict[str, Any] = scenario.model_dump(mode="json")
        self.source = scenario.source_file
        self.target = target
        self.n_users, self.seed, self.max_iter, self.tol = n_users, seed, max_iter, tolerance
        self.on_evaluation = on_evaluation
        self.history: list[dict[str, Any]] = []
        self._cache: dict[str, dict[str, Any]] = {}
        self._check(scenario)

    # ------------------------------------------------------------------ checks

    def _check(self, scenario: Scenario) -> None:
        t = self.target
        stages = scenario.stage_names
        for stage, rate in (t.funnel or {}).items():
            if stage not in stages:
                raise ConfigError(f"funnel target names stage {stage!r}; the scenario's stages are "
                                  f"{', '.join(stages)}")
            if not 0 <= rate <= 1:
                raise ConfigError(f"funnel target for {stage!r} is {rate}, outside [0, 1]")
        if t.rating_histogram:
            spec = scenario.behaviour.ratings
            if spec is None:
                raise ConfigError("a rating_histogram target needs explicit ratings in the scenario: add "
                                  "behaviour.ratings (stage, scale, step)")
            grid = np.asarray(spec.grid())
            off = [v for v in t.rating_histogram if np.min(np.abs(grid - v)) > 1e-6 * spec.step]
            if off:
                raise ConfigError(f"rating_histogram value {off[0]:g} is not on the scenario's rating grid "
                                  f"{', '.join(f'{g:g}' for g in grid)}; set behaviour.ratings.scale and step")

    # ------------------------------------------------------------------ evaluation

    def scenario(self, raw: dict[str, Any] | None = None) -> Scenario:
        return parse_scenario(raw if raw is not None else self.raw, source="calibrated scenario",
                              base_dir=self.source.parent if self.source else None)

    def sample(self, raw: dict[str, Any]) -> tuple[Simulator, InteractionData]:
        sim = Simulator(self.scenario(raw))
        return sim, sim.sample(self.n_users, seed=self.seed)

    def statistics(self, raw: dict[str, Any], knob: str, factor: float) -> dict[str, Any]:
        key = json.dumps(raw, sort_keys=True)
        if key in self._cache:  # common random numbers: the same scenario gives the same sample
            return self._cache[key]
        sim, data = self.sample(raw)
        scen = sim.scenario
        stats = log_statistics(data, stages=scen.stage_names, final_mode=scen.behaviour.funnel.mode == "final")
        self.history.append({"knob": knob, "factor": factor, **{k: v for k, v in stats.items()
                                                                  if isinstance(v, float)}})
        self._cache[key] = stats
        return stats

    # ------------------------------------------------------------------ the sweeps

    def run(self, sweeps: int) -> CalibrationResult:
        t = self.target
        knobs: list[tuple[str, float | None, Callable[[dict[str, Any], float], None], float]] = [
            ("session_length", t.session_length, _scale_session_length, 1.0),
            ("activity_mean", t.activity_mean, _scale_sessions_per_week, 1.0),
            ("activity_cv", t.activity_cv, _scale_dispersion, -2.0),
            ("popularity_gini", t.popularity_gini, _scale_item_heterogeneity, 3.0),
        ]
        for _ in range(sweeps):
            if t.funnel:
                self.fit_funnel()
            for name, goal, apply, gain in knobs:
                if goal is not None:
                    self.solve(name, goal, apply, gain)
            errors = self.errors(self.statistics(self.raw, "check", 1.0), with_ratings=False)
            if all(e <= self.tol for e in errors.values()):
                break
        if t.rating_histogram:
            self.fit_ratings()
        return self.result()

    def errors(self, stats: dict[str, Any], *, with_ratings: bool) -> dict[str, float]:
        achieved = _flat(stats)
        out = {}
        for key, want in self.target.flat().items():
            if key.startswith("rating_") and not with_ratings:
                continue
            got = achieved.get(key, float("nan"))
            out[key] = abs(got - want) / abs(want) if want else abs(got - want)
        return out

    def solve(self, knob: str, goal: float, apply: Callable[[dict[str, Any], float], None], gain: float) -> None:
        """1-D search of log-factor x with stat(x) = goal: proportional step, bracketing, Illinois."""
        base = self.raw
        increasing = gain > 0

        def g(x: float) -> float:
            raw = _deep_copy(base)
            apply(raw, math.exp(x))
            value = float(self.statistics(raw, knob, math.exp(x))[knob])
            if self.on_evaluation is not None:
                self.on_evaluation(knob, math.exp(x), value)
            return (value - goal) if increasing else (goal - value)

        lo_b, hi_b = (math.log(b) for b in FACTOR_BOUNDS)
        x0, g0 = 0.0, g(0.0)
        best = (abs(g0), x0)
        evals = 1
        if abs(g0) > self.tol * abs(goal):
            value0 = g0 + goal if increasing else goal - g0
            step = float(np.clip(gain * math.log(goal / value0) if value0 > 0 else -np.sign(g0), -2.0, 2.0))
            if step == 0.0:
                step = -0.5 * float(np.sign(g0))
            a, ga = x0, g0
            b = float(np.clip(x0 + step, lo_b, hi_b))
            gb = g(b)
            evals += 1
            best = min(best, (abs(gb), b))
            # expand until the sign changes (or the bound is reached)
            while ga * gb > 0 and evals < self.max_iter and lo_b < b < hi_b:
                a, ga = b, gb
                step *= 2.0
                b = float(np.clip(b + step, lo_b, hi_b))
                gb = g(b)
                evals += 1
                best = min(best, (abs(gb), b))
            while ga * gb < 0 and best[0] > self.tol * abs(goal) and evals < self.max_iter:
                c = b - gb * (b - a) / (gb - ga)
                gc = g(c)
                evals += 1
                best = min(best, (abs(gc), c))
                if gc * gb < 0:  # the root lies between b and c
                    a, ga = b, gb
                else:  # between a and c: Illinois halves the retained end's value so it cannot stall
                    ga *= 0.5
                b, gb = c, gc
        apply(self.raw, math.exp(best[1]))

    def fit_funnel(self) -> None:
        """Scale each stage's segment rates by target / measured (rates are shares, so this is linear)."""
        assert self.target.funnel is not None
        for _ in range(3):
            stats = self.statistics(self.raw, "funnel", 1.0)
            measured = stats.get("funnel", {})
            scen = self.scenario()
            rates = np.array(scen.funnel_rates())
            stages = scen.stage_names
            for k, stage in enumerate(stages[1:], start=1):
                want = self.target.funnel.get(stage)
                got = measured.get(stage, 0.0)
                if want is None or got <= 0:
                    continue
                rates[:, k] *= want / got
            rates = np.minimum.accumulate(np.clip(rates, 0.0, 1.0), axis=1)
            beh = self.raw["behaviour"]["funnel"]["stages"]
            for k in range(1, len(stages)):
                beh[k]["rate"] = float(rates[:, k].mean()) if len(rates) else beh[k]["rate"]
            for g, seg in enumerate(self.raw["users"]["segments"]):
                seg["funnel"] = {stages[k]: float(rates[g, k]) for k in range(1, len(stages))}
            # the base rates must stay non-increasing too (they are only defaults now)
            base = [1.0] + [beh[k]["rate"] for k in range(1, len(stages))]
            for k in range(1, len(stages)):
                beh[k]["rate"] = float(min(base[1:k + 1]))

    def fit_ratings(self) -> None:
        """Ordered-probit cut points matching the target histogram (module docstring, knob 6)."""
        assert self.target.rating_histogram is not None
        sim, data = self.sample(self.raw)
        spec = sim.scenario.behaviour.ratings
        assert spec is not None
        it = data.interactions.filter(pl.col(RATING).is_not_null())
        if it.height == 0:
            return
        if it.height > 50_000:  # the fit needs the distribution of V, not every row
            it = it.sample(50_000, seed=self.seed)
        users = it[USER].to_numpy().astype(np.int64)  # dense ids of sample(n) are global indices
        pop = sim.population(np.arange(self.n_users), seed=self.seed)
        v = utilities(sim.world, pop, users, it[ITEM].to_numpy()[:, None], it[TIMESTAMP].to_numpy())[:, 0]
        grid = spec.grid()
        want = np.array([self.target.rating_histogram.get(float(g), 0.0) for g in grid])
        self.raw["behaviour"]["ratings"]["thresholds"] = ordered_probit_thresholds(
            v, want / want.sum(), mean=spec.mean, weight=spec.utility_weight, sd=spec.noise_sd)

    def result(self) -> CalibrationResult:
        stats = self.statistics(self.raw, "final", 1.0)
        achieved = _flat(stats)
        rows = []
        for key, want in self.target.flat().items():
            got = achieved.get(key, float("nan"))
            rows.append({"statistic": key, "target": want, "achieved": got,
                         "relative_error": abs(got - want) / abs(want) if want else abs(got - want)})
        report = pl.DataFrame(rows, schema={"statistic": pl.String, "target": pl.Float64, "achieved": pl.Float64,
                                            "relative_error": pl.Float64})
        tv = float("nan")
        if self.target.rating_histogram:
            hist = stats.get("rating_histogram", {})
            keys = set(hist) | set(self.target.rating_histogram)
            tv = 0.5 * sum(abs(hist.get(k, 0.0) - self.target.rating_histogram.get(k, 0.0)) for k in keys)
        history = pl.DataFrame(self.history)
        return CalibrationResult(scenario=self.scenario(), target=self.target, achieved=achieved, report=report,
                                 rating_tv=tv, evaluations=len(self.history), history=history,
                                 n_users=self.n_users, seed=self.seed, tolerance=self.tol)


# ---------------------------------------------------------------------------------------------- knobs


def _segments(raw: dict[str, Any]) -> list[dict[str, Any]]:
    segs: list[dict[str, Any]] = raw["users"]["segments"]
    return segs


def _scale_session_length(raw: dict[str, Any], f: float) -> None:
    for seg in _segments(raw):
        seg["session_length"] = max(1.0, seg["session_length"] * f)


def _scale_sessions_per_week(raw: dict[str, Any], f: float) -> None:
    for seg in _segments(raw):
        seg["activity"]["sessions_per_week"] *= f


def _scale_dispersion(raw: dict[str, Any], f: float) -> None:
    for seg in _segments(raw):
        seg["activity"]["dispersion"] *= f
        seg["activity"]["sigma"] /= math.sqrt(f)


def _scale_item_heterogeneity(raw: dict[str, Any], f: float) -> None:
    items = raw["items"]
    items["popularity"]["sigma"] *= f
    items["quality_sd"] *= f
    items["brands"]["quality_sd"] *= f


# ---------------------------------------------------------------------------------------------- helpers


def _latent_location(v: np.ndarray, mean: float, weight: float) -> np.ndarray:
    """μ + w · V with −inf utilities mapped to −10, as in `engine.ratings_for`; float64."""
    return mean + weight * np.nan_to_num(np.asarray(v, dtype=np.float64), neginf=-10.0)


def rating_probabilities(v: np.ndarray, cut_points: np.ndarray, *, mean: float, weight: float, sd: float
                         ) -> np.ndarray:
    """Expected share of each rating value for utilities ``v`` under the (ordered-probit) rating model.

    A rating is grid value j when τ_{j−1} ≤ μ + w·V + σ·ε < τ_j, ε ~ N(0, 1), so
    P(j) = mean_i [Φ((τ_j − μ − w V_i)/σ) − Φ((τ_{j−1} − μ − w V_i)/σ)] with τ_{−1} = −∞, τ_J = ∞. Rounding
    to the grid is the special case τ_j = grid_j + step/2.

    Args:
        v: float ``(n,)`` true utilities of rated rows; cut_points: increasing ``(J − 1,)`` for J values.

    Returns:
        float64 ``(J,)``, sums to 1.
    """
    edges = np.concatenate([[-np.inf], np.asarray(cut_points, dtype=np.float64), [np.inf]])
    z = (edges[None, :] - _latent_location(v, mean, weight)[:, None]) / max(sd, 1e-9)
    return np.diff(special.ndtr(z), axis=1).mean(axis=0)


def ordered_probit_thresholds(v: np.ndarray, shares: np.ndarray, *, mean: float, weight: float, sd: float
                              ) -> list[float]:
    """Cut points τ with `rating_probabilities` (v, τ) = ``shares`` exactly (up to root-finding precision).

    The cumulative share F(τ) = mean_i Φ((τ − μ − w V_i)/σ) is increasing in τ, so each τ_j solves
    F(τ_j) = Σ_{l ≤ j} shares_l by Brent's method (scipy.optimize.brentq); empty bins get cut points 10⁻⁶
    apart (strictly increasing, as the scenario requires). σ = 0 uses empirical quantiles of μ + w V.

    Args:
        v: float ``(n,)`` utilities (n ≥ 1); shares: ``(J,)`` non-negative, summing to 1.

    Returns:
        J − 1 cut points, increasing.
    """
    loc = _latent_location(v, mean, weight)
    cumulative = np.clip(np.cumsum(shares)[:-1], 1e-9, 1 - 1e-9)
    out: list[float] = []
    for c in cumulative:
        if sd <= 0:
            tau = float(np.quantile(loc, c))
        else:
            lo, hi = float(loc.min() - 40 * sd - 1), float(loc.max() + 40 * sd + 1)
            tau = float(optimize.brentq(lambda x, c=c: float(special.ndtr((x - loc) / sd).mean()) - c, lo, hi,
                                        xtol=1e-9))
        out.append(max(tau, out[-1] + 1e-6) if out else tau)
    return out


def _flat(stats: dict[str, Any]) -> dict[str, float]:
    out = {k: float(v) for k, v in stats.items() if isinstance(v, float | int)}
    for stage, rate in stats.get("funnel", {}).items():
        out[f"funnel_{stage}"] = float(rate)
    for value, share in stats.get("rating_histogram", {}).items():
        out[f"rating_{value:g}"] = float(share)
    return out


def _log_label(data: InteractionData) -> str:
    """``ml-100k`` for ``…/ml-100k/u.data``; the file stem for a file outside a folder; else the name."""
    path = Path(str(data.name))
    return (path.parent.name if path.suffix and path.parent.name else path.stem) or "log"


def _deep_copy(raw: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(raw)


__all__ = [
    "CalibrationResult",
    "CalibrationTarget",
    "calibrate",
    "log_statistics",
    "ordered_probit_thresholds",
    "rating_probabilities",
    "scenario_for_log",
    "scenario_to_yaml",
    "target_statistics",
]
