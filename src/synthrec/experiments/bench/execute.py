"""Run the cells of a sweep: one task (cells sharing data preparation and a fitted generator) at a time,
in this process, a local process pool, or on a Dask cluster (`synthrec.scale.backends`).

**Per cell** (the experiment core `synthrec run` uses too: `synthrec.experiments.strategies`,
`synthrec.experiments.scoring`, `synthrec.experiments.pools`, `synthrec.experiments.auto`):

1. *Tuning.* Every strategy — real-only and ceiling included — gets the same search: the same
   `tuning.budget` grid points of its recommender (`trials`), each trained the strategy's way on the
   inner training part of a validation split carved from the level's real training data
   (`synthrec.data.splits.carve_validation`, same split kind) and scored by NDCG@10 on the validation
   targets. For validation, the ``self`` generator is refitted on the inner training part (validation
   items never leak into synthetic data); source pools do not depend on the target and are reused; a
   ``source-fill`` pool (`synthrec.experiments.fill`) is its base source's pool filled from the level's
   training data, and refilled from the inner training part for validation. The
   ``simulator`` and ``attributes`` sources (`synthrec.experiments.bench.sources`) are fitted on the
   target like ``self`` (refitted for validation too), their pools cached per (dataset, split, level,
   seed); where one cannot run (no item attributes) its cells are recorded as skipped. The test data is
   never looked at.
2. *Final fit* with the best grid point on the level's whole training data, then metrics on the fixed
   real test users per group (`synthrec.experiments.bench.breakdowns`).
3. ``auto`` picks, per (recommender, generator, source), the candidate (real-only or one of the task's
   synthetic strategies) with the best tuned validation NDCG@10, keeping real-only unless a synthetic
   one beats it by ``auto_min_gain`` (relative); its test metrics are those of the chosen candidate. A
   fill source (``source-fill``) is a source of its own here: its ``auto`` cell chooses among real-only
   and the fill's strategies, beside the base source's ``auto`` cell.

**Determinism.** Every random step takes a seed derived from the cell's seed and a purpose string
(`synthrec.experiments.strategies.derive_seed`): model seeds from (seed, recommender), generator seeds
from (seed, dataset, split, level, source). Nothing depends on which worker runs a cell or in what
order, so a resumed or parallel sweep gives the same table as a serial one. BLAS runs on one thread
everywhere (in this process too): with more threads, floating-point sums change in the last bits and
near-tied scores can swap places in a top-K list.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from synthrec.data.interactions import InteractionData
from synthrec.experiments.arms import Arm, auto_candidates
from synthrec.experiments.auto import choose_auto, validation_score
from synthrec.experiments.bench.breakdowns import evaluate_groups
from synthrec.experiments.bench.cells import OWN_GENERATOR_SOURCES, Cell, expand, group_tasks
from synthrec.experiments.bench.config import SPLIT_ALIASES, BenchConfig, RecommenderSpec, check_runnable
from synthrec.experiments.bench.frames import Frame, LevelData, Unavailable, get_frame, level_data
from synthrec.experiments.bench.store import ResultStore, write_part
from synthrec.experiments.fill import base_label, fill_pool, fill_purpose, is_fill
from synthrec.experiments.pools import cached_pool, fit_pool, max_ratio, pool_purpose
from synthrec.experiments.scoring import EvalSet
from synthrec.experiments.strategies import ArmInputs, SyntheticPool, derive_seed, model_factory, train_arm
from synthrec.models.base import Recommender
from synthrec.progress import step_progress
from synthrec.scale.backends import Backend, make_backend

if TYPE_CHECKING:
    from rich.console import Console

@dataclass(frozen=True)
class CellOutcome:
    """The rows one cell produced (see `synthrec.experiments.bench.store.SCHEMA`) and its status."""

    cell_id: str
    status: str
    rows: list[dict[str, Any]]


# ---------------------------------------------------------------------------------------------- tuning


def trials(spec: RecommenderSpec, budget: int, seed: int, dataset: str) -> list[dict[str, Any]]:
    """The grid points every strategy of (dataset, seed, recommender) tries: the whole grid (keys sorted,
    values in the order given) when it has at most ``budget`` points, else ``budget`` of them drawn
    without replacement with ``derive_seed(seed, "tuning", dataset, recommender)``, in grid order.
    An empty grid is one trial with the fixed parameters."""
    keys = sorted(spec.grid)
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(spec.grid[k] for k in keys))]
    if len(combos) <= budget:
        return combos or [{}]
    rng = np.random.default_rng(derive_seed(seed, "tuning", dataset, spec.display))
    picked = np.sort(rng.choice(len(combos), size=budget, replace=False))
    return [combos[i] for i in picked]


def _factory(spec: RecommenderSpec, seed: int, trial: dict[str, Any]) -> Callable[[], Recommender]:
    return model_factory(spec.name, {**spec.params, **trial}, seed, spec.display)


def tune(arm: Arm, spec: RecommenderSpec, seed: int, grid: list[dict[str, Any]],
         validation: tuple[ArmInputs, EvalSet] | None) -> tuple[dict[str, Any], float | None, str]:
    """Best grid point of ``arm`` on validation NDCG@10: ``(params, score, note)``. Without validation
    data, or when every trial fails, the fixed parameters (``{}``) with score None."""
    if validation is None:
        return {}, None, "no validation data: fixed parameters"
    inputs, es = validation
    best: tuple[dict[str, Any], float] | None = None
    errors = []
    for trial in grid:
        try:
            value = validation_score(arm, _factory(spec, seed, trial), inputs, es)
        except Exception as exc:  # a grid point that cannot be fitted is skipped, and said so
            errors.append(f"{trial}: {type(exc).__name__}: {exc}")
            continue
        if best is None or value > best[1]:
            best = (trial, value)
    if best is None:
        return {}, None, "every grid point failed on validation: " + "; ".join(errors)
    return best[0], best[1], ("; ".join(errors) if errors else "")


# ---------------------------------------------------------------------------------------------- tasks


def _row(cell: Cell, **values: Any) -> dict[str, Any]:
    return {**cell.coordinates(), **values}


def _status_rows(cell: Cell, status: str, note: str, n_train_users: int | None = None) -> list[dict[str, Any]]:
    return [_row(cell, status=status, note=note, n_train_users=n_train_users)]


def _metric_rows(cell: Cell, groups: dict[str, tuple[dict[str, float], int]], **extra: Any) -> list[dict[str, Any]]:
    return [_row(cell, metric=metric, group=group, value=float(value), n_users=n, status="ok", **extra)
            for group, (metrics, n) in groups.items() for metric, value in metrics.items()]


def _purpose(cell: Cell, *, fitted_on_target: bool, source: str | None = None) -> tuple[str, ...]:
    """The seeds' purpose of the pool of ``cell``'s task (`synthrec.experiments.pools.pool_purpose`), or of
    the pool of ``source`` when given (a fill cell's base source)."""
    return pool_purpose(cell.source if source is None else source, dataset=cell.dataset, split=cell.split,
                        level=cell.level.label, split_kind=SPLIT_ALIASES[cell.split], fitted_on_target=fitted_on_target)


def _fill_purpose(cell: Cell) -> tuple[str, ...]:
    """The purpose of a fill cell's seed (`synthrec.experiments.fill.fill_purpose`)."""
    return fill_purpose(cell.source, dataset=cell.dataset, split=cell.split, level=cell.level.label,
                        split_kind=SPLIT_ALIASES[cell.split])


def _cell_arm(cell: Cell) -> Arm:
    if cell.strategy in ("real-only", "ceiling"):
        return Arm(cell.strategy)
    return Arm(cell.strategy, cell.source, cell.ratio)


def run_task(cfg: BenchConfig, cells: Sequence[Cell], *, parts_dir: Path | None = None,
             cache_dir: Path | None = None, on_cell: Callable[[CellOutcome], None] | None = None
             ) -> list[CellOutcome]:
    """Run the cells of one task (same `Cell.task_key`); each finished cell's part is written to
    ``parts_dir`` at once (then ``on_cell`` is called), so a kill loses at most the cell in progress.

    Errors inside a cell (a generator that cannot fit 3 users, a model that fails) do not stop the sweep:
    the cell is recorded with status ``failed: <type>`` and the message in ``note``.
    """
    outcomes: list[CellOutcome] = []

    def emit(cell: Cell, rows: list[dict[str, Any]]) -> None:
        out = CellOutcome(cell.id, str(rows[0]["status"]) if rows else "ok", rows)
        if parts_dir is not None:
            write_part(parts_dir, cell.id, rows)
        outcomes.append(out)
        if on_cell is not None:
            on_cell(out)

    pending = []
    for c in cells:
        if c.skip_reason:
            emit(c, _status_rows(c, "skipped", c.skip_reason))
        else:
            pending.append(c)
    if not pending:
        return outcomes
    first = pending[0]
    ds = next(d for d in cfg.datasets if d.name == first.dataset)
    try:
        frame = get_frame(cfg, ds, first.split, first.seed)
        ld = level_data(cfg, frame, first.split, first.level, first.seed)
    except Unavailable as exc:
        for c in pending:
            emit(c, _status_rows(c, "skipped", str(exc)))
        return outcomes
    except Exception as exc:
        for c in pending:
            emit(c, _status_rows(c, f"failed: {type(exc).__name__}", f"data preparation: {exc}"))
        return outcomes
    if first.strategy in ("real-only", "ceiling"):
        _run_real(cfg, pending, frame, ld, emit)
    else:
        _run_synthetic(cfg, pending, frame, ld, cache_dir, emit)
    return outcomes


def _validation_inputs(ld: LevelData, source: InteractionData | None, pools: dict[str, SyntheticPool]
                       ) -> tuple[ArmInputs, EvalSet] | None:
    if ld.validation is None:
        return None
    inner_train, es = ld.validation
    return ArmInputs(inner_train, source, pools), es


def _final(cfg: BenchConfig, arm: Arm, spec: RecommenderSpec, seed: int, params: dict[str, Any],
           inputs: ArmInputs, ld: LevelData) -> dict[str, tuple[dict[str, float], int]]:
    model = train_arm(arm, _factory(spec, seed, params), inputs)
    recs = model.recommend(ld.eval.histories, max(cfg.ks), exclude_seen=True)
    return evaluate_groups(recs, ld.eval.targets, ld.groups, cfg.ks)


def _unusable_source_note(frame: Frame) -> str:
    return f"skipped: unavailable ({frame.source_problem})"


def _run_real(cfg: BenchConfig, cells: list[Cell], frame: Frame, ld: LevelData,
              emit: Callable[[Cell, list[dict[str, Any]]], None]) -> None:
    specs = {r.display: r for r in cfg.recommenders}
    inputs = ArmInputs(ld.train, frame.source, {})
    validation = _validation_inputs(ld, frame.source, {})
    for cell in cells:
        start = time.perf_counter()
        spec = specs[cell.recommender]
        arm = _cell_arm(cell)
        if arm.strategy == "ceiling" and frame.source is None:  # an external source with nothing mapped
            emit(cell, _status_rows(cell, "skipped", _unusable_source_note(frame), ld.n_train_users))
            continue
        try:
            grid = trials(spec, cfg.tuning.budget, cell.seed, cell.dataset)
            params, _, note = tune(arm, spec, cell.seed, grid, validation)
            groups = _final(cfg, arm, spec, cell.seed, params, inputs, ld)
            rows = _metric_rows(cell, groups, n_train_users=ld.n_train_users, params=json.dumps(params),
                                note="; ".join(x for x in (ld.validation_note, note) if x) or None,
                                seconds=time.perf_counter() - start)
        except Exception as exc:
            rows = _status_rows(cell, f"failed: {type(exc).__name__}", str(exc), ld.n_train_users)
        emit(cell, rows)


def _own_source_pools(cfg: BenchConfig, first: Cell, ld: LevelData, cache_dir: Path | None
                      ) -> tuple[SyntheticPool, SyntheticPool | None]:
    """Pools of a source with its own generator (`synthrec.experiments.bench.sources`): one fitted on the
    level's training data and one on the inner training part of its validation split (validation items
    never leak into synthetic data), each cached per (dataset, split, level, seed) in ``cache_dir``."""
    from synthrec.experiments.bench.sources import fit_source_pool

    ds = next(d for d in cfg.datasets if d.name == first.dataset)
    purpose = _purpose(first, fitted_on_target=True)
    options = cfg.simulator_source if first.source == "simulator" else cfg.attributes_source
    key = {"dataset": ds.model_dump_json(), "split": first.split, "level": first.level.label, "seed": first.seed,
           "source_fraction": cfg.source_fraction, "test_fraction": cfg.test_fraction,
           "head_share": cfg.breakdowns.head_share, "options": options.model_dump(mode="json"),
           "max_ratio": max_ratio(cfg), "purpose": purpose}
    pool = cached_pool(cache_dir, {**key, "part": "train"}, lambda: fit_source_pool(
        cfg, first.source, ld.train, seed=first.seed, purpose=purpose, max_ratio=max_ratio(cfg)))
    val_pool = None
    if ld.validation is not None:
        inner = ld.validation[0]
        val_pool = cached_pool(cache_dir, {**key, "part": "validation"}, lambda: fit_source_pool(
            cfg, first.source, inner, seed=first.seed, purpose=(*purpose, "validation"), max_ratio=max_ratio(cfg)))
    return pool, val_pool


def _run_synthetic(cfg: BenchConfig, cells: list[Cell], frame: Frame, ld: LevelData, cache_dir: Path | None,
                   emit: Callable[[Cell, list[dict[str, Any]]], None]) -> None:
    first = cells[0]
    seed, src = first.seed, first.source
    own = src in OWN_GENERATOR_SOURCES
    gspec = None if own else next(g for g in cfg.generators if g.display == first.generator)
    gen_label = first.generator if gspec is None else gspec.display
    if not own and src != "self" and frame.source is None:
        _run_without_source(cfg, cells, ld, emit, _unusable_source_note(frame))
        return
    start = time.perf_counter()
    try:
        if own:
            pool, val_pool = _own_source_pools(cfg, first, ld, cache_dir)
        elif src == "self":
            assert gspec is not None
            purpose = _purpose(first, fitted_on_target=True)
            pool = fit_pool(gspec, ld.train, seed=seed, purpose=purpose, max_ratio=max_ratio(cfg))
            val_pool = None
            if ld.validation is not None:
                val_pool = fit_pool(gspec, ld.validation[0], seed=seed, purpose=(*purpose, "validation"),
                                    max_ratio=max_ratio(cfg))
        else:
            assert gspec is not None
            # The source users do not depend on the level, nor on the split except under a global time
            # cut (the source then ends at the cut): one pool per (dataset, seed[, temporal split]). A fill
            # cell's base pool is its base source's: the same purpose and cache key, so the same pool (read
            # from the cache when the base source's task stored it), never a new fit.
            purpose = _purpose(first, fitted_on_target=False, source=base_label(src))
            key = {"dataset": next(d for d in cfg.datasets if d.name == first.dataset).model_dump_json(
                       exclude={"item_attributes"}),
                   "seed": seed, "source_fraction": cfg.source_fraction, "generator": gspec.model_dump(),
                   "epsilon": first.epsilon, "max_ratio": max_ratio(cfg), "purpose": purpose}
            assert frame.source is not None  # checked above
            pool = fit_pool(gspec, frame.source, epsilon=first.epsilon, seed=seed, purpose=purpose,
                            max_ratio=max_ratio(cfg), cache_dir=cache_dir, cache_key=key)
            val_pool = pool
            if is_fill(src):
                # the fill reads the level's training data; validation refills from the inner training part
                assert frame.mapped is not None  # fill cells run on datasets with an external source only
                fpurpose = _fill_purpose(first)
                val_pool = (None if ld.validation is None else
                            fill_pool(pool, ld.validation[0], frame.mapped, seed=seed,
                                      purpose=(*fpurpose, "validation")))
                pool = fill_pool(pool, ld.train, frame.mapped, seed=seed, purpose=fpurpose)
    except Unavailable as exc:
        for c in cells:
            emit(c, _status_rows(c, "skipped", str(exc), ld.n_train_users))
        return
    except Exception as exc:
        for c in cells:
            emit(c, _status_rows(c, f"failed: {type(exc).__name__}", f"generator {gen_label} on {src}: {exc}",
                                 ld.n_train_users))
        return
    gen_seconds = time.perf_counter() - start
    inputs = ArmInputs(ld.train, frame.source, {src: pool})
    validation = _validation_inputs(ld, frame.source, {src: val_pool} if val_pool is not None else {})
    specs = {r.display: r for r in cfg.recommenders}
    for rec in dict.fromkeys(c.recommender for c in cells):
        rcells = [c for c in cells if c.recommender == rec]
        spec = specs[rec]
        arms = _ArmRuns(cfg, spec, seed, trials(spec, cfg.tuning.budget, seed, first.dataset), validation, inputs, ld)
        candidates = auto_candidates(cfg.strategies, [src], synthetic_ratio=cfg.synthetic_ratio,
                                     augment_ratios=cfg.augment_ratios)
        for cell in rcells:
            try:
                if cell.strategy == "auto":
                    val = {a: arms.tuned(a)[1] for a in candidates}
                    chosen = choose_auto(val, cfg.auto_min_gain)
                    groups = arms.final(chosen)
                    chosen_label = chosen.label if chosen.strategy == "real-only" else f"{chosen.label} {gen_label}"
                    rows = _metric_rows(
                        cell, groups, n_train_users=ld.n_train_users, n_synthetic_users=pool.data.n_users,
                        chosen_arm=chosen_label, params=json.dumps(arms.tuned(chosen)[0]),
                        note=json.dumps({"validation": {a.label: v for a, v in val.items()}}),
                        seconds=sum(arms.seconds(a) for a in candidates), generator_seconds=gen_seconds)
                else:
                    arm = _cell_arm(cell)
                    groups = arms.final(arm)
                    notes = [ld.validation_note, arms.tuned(arm)[2]]
                    rows = _metric_rows(
                        cell, groups, n_train_users=ld.n_train_users, n_synthetic_users=pool.data.n_users,
                        params=json.dumps(arms.tuned(arm)[0]), note="; ".join(x for x in notes if x) or None,
                        seconds=arms.seconds(arm), generator_seconds=gen_seconds)
            except Exception as exc:
                rows = _status_rows(cell, f"failed: {type(exc).__name__}", str(exc), ld.n_train_users)
            emit(cell, rows)


def _run_without_source(cfg: BenchConfig, cells: list[Cell], ld: LevelData,
                        emit: Callable[[Cell, list[dict[str, Any]]], None], note: str) -> None:
    """The cells of a source task whose external source has no usable overlap: ``auto`` keeps real-only (its
    only candidate left; its metrics are real-only's, tuned the same way), every other cell is skipped with
    ``note``."""
    specs = {r.display: r for r in cfg.recommenders}
    inputs = ArmInputs(ld.train, None, {})
    validation = _validation_inputs(ld, None, {})
    real = Arm("real-only")
    for cell in cells:
        if cell.strategy != "auto":
            emit(cell, _status_rows(cell, "skipped", note, ld.n_train_users))
            continue
        spec = specs[cell.recommender]
        try:
            arms = _ArmRuns(cfg, spec, cell.seed, trials(spec, cfg.tuning.budget, cell.seed, cell.dataset), validation,
                            inputs, ld)
            val = {real: arms.tuned(real)[1]}
            groups = arms.final(real)
            rows = _metric_rows(cell, groups, n_train_users=ld.n_train_users, n_synthetic_users=0,
                                chosen_arm=real.label, params=json.dumps(arms.tuned(real)[0]),
                                note=json.dumps({"validation": {a.label: v for a, v in val.items()},
                                                 "source": note}),
                                seconds=arms.seconds(real), generator_seconds=0.0)
        except Exception as exc:
            rows = _status_rows(cell, f"failed: {type(exc).__name__}", str(exc), ld.n_train_users)
        emit(cell, rows)


class _ArmRuns:
    """Tuning and final results per arm for one (task, recommender), each computed once: ``auto`` reuses
    the tuning of the arms it chooses among and the final fit of the arm it picks."""

    def __init__(self, cfg: BenchConfig, spec: RecommenderSpec, seed: int, grid: list[dict[str, Any]],
                 validation: tuple[ArmInputs, EvalSet] | None, inputs: ArmInputs, ld: LevelData) -> None:
        self.cfg, self.spec, self.seed, self.grid = cfg, spec, seed, grid
        self.validation, self.inputs, self.ld = validation, inputs, ld
        self._tuned: dict[Arm, tuple[dict[str, Any], float | None, str]] = {}
        self._final: dict[Arm, dict[str, tuple[dict[str, float], int]]] = {}
        self._seconds: dict[Arm, float] = {}

    def tuned(self, arm: Arm) -> tuple[dict[str, Any], float | None, str]:
        """``(params, validation NDCG@10, note)`` of `tune`."""
        if arm not in self._tuned:
            t0 = time.perf_counter()
            self._tuned[arm] = tune(arm, self.spec, self.seed, self.grid, self.validation)
            self._seconds[arm] = self._seconds.get(arm, 0.0) + time.perf_counter() - t0
        return self._tuned[arm]

    def final(self, arm: Arm) -> dict[str, tuple[dict[str, float], int]]:
        """Per-group test metrics of the arm refitted with its tuned parameters."""
        if arm not in self._final:
            params = self.tuned(arm)[0]
            t0 = time.perf_counter()
            self._final[arm] = _final(self.cfg, arm, self.spec, self.seed, params, self.inputs, self.ld)
            self._seconds[arm] = self._seconds.get(arm, 0.0) + time.perf_counter() - t0
        return self._final[arm]

    def seconds(self, arm: Arm) -> float:
        return self._seconds.get(arm, 0.0)


# ---------------------------------------------------------------------------------------------- sweep


@dataclass(frozen=True)
class SweepSummary:
    """What `run_sweep` did: cell counts and the seconds it took."""

    n_cells: int
    n_already_done: int
    n_run: int
    n_ok: int
    n_skipped: int
    n_failed: int
    seconds: float
    #: ``(reason, number of cells)`` of this run's failed cells, most frequent first (reason: the
    #: cell's ``status`` and ``note``, e.g. ``failed: DataValidationError: data preparation: ...``)
    failures: tuple[tuple[str, int], ...] = ()
    #: ``(reason, number of cells)`` of every skipped cell of the sweep (this run's and those recorded by
    #: an earlier run into the same folder), most frequent first; reason: the cell's ``note``
    skips: tuple[tuple[str, int], ...] = ()
    #: skipped cells of the sweep, this run's and earlier ones (``n_skipped`` counts this run's only)
    n_skipped_total: int = 0

    @property
    def all_skipped(self) -> bool:
        """Every cell of the sweep is recorded as skipped: nothing was (or will be) measured."""
        return self.n_cells > 0 and self.n_skipped_total == self.n_cells


def run_task_shared(shared: tuple[BenchConfig, str, str], cells: list[Cell]) -> list[CellOutcome]:
    """`run_task` as a `synthrec.scale.backends.Backend` task: ``shared`` is ``(cfg, parts folder, cache
    folder)``, sent to each worker once."""
    cfg, parts_dir, cache_dir = shared
    return run_task(cfg, cells, parts_dir=Path(parts_dir), cache_dir=Path(cache_dir))


def _backend(workers: int, scheduler: str | None) -> Backend:
    """The backend of `run_sweep`'s options: a local pool of ``workers`` processes, a local Dask cluster
    of ``workers`` processes (``scheduler="local"``), or a running Dask scheduler. Their workers run with
    one BLAS thread (`synthrec.scale.backends`)."""
    if scheduler is None:
        return make_backend("processes", workers=workers)
    if scheduler == "local":
        return make_backend("dask", workers=max(1, workers))
    return make_backend("dask", scheduler=scheduler)


def run_sweep(cfg: BenchConfig, out_dir: str | os.PathLike[str], *, workers: int = 1, scheduler: str | None = None,
              progress: bool = True, on_cell: Callable[[CellOutcome], None] | None = None,
              console: Console | None = None) -> SweepSummary:
    """Run every unfinished cell of ``cfg`` and keep the tidy table in ``out_dir`` up to date.

    Args:
        cfg: the sweep.
        out_dir: output folder (`synthrec.experiments.bench.store` describes its layout). Cells whose
            part already exists there with status ok or skipped are not run again.
        workers: processes of a local pool (1: run in this process).
        scheduler: address of a Dask scheduler (``tcp://host:8786``), or ``"local"`` for a local Dask
            cluster of ``workers`` single-threaded processes; overrides the local pool. The workers must
            see ``out_dir`` (cells write their parts there) and have synthrec installed; generators and
            recommenders registered at runtime must be registered in the workers too (e.g. on import of
            a module the workers load).
        progress: show progress over cells on ``console``: a rich bar on a terminal, else plain lines
            (`synthrec.progress`), one when a task starts or cells finish, at most one every 2 s.
        on_cell: called with each finished cell's outcome, in the calling process.
        console: where progress is shown (default: stderr); the item-map coverage lines of datasets with an
            external source are printed there too (only when a console is given).

    Returns:
        Counts of the cells (this run only for ``n_ok``/``n_skipped``/``n_failed``) and the distinct
        failure reasons of this run. Cells whose part records a failure are run again (their old part is
        deleted first); ok and skipped cells are not.

    Raises:
        ConfigError: unregistered components, parameters that do not construct, or a missing dataset
            path (`synthrec.experiments.bench.config.check_runnable`).
        DataValidationError: ``out_dir`` is not a folder.
    """
    started = time.perf_counter()
    check_runnable(cfg)
    cells = expand(cfg)
    order = [c.id for c in cells]
    store = ResultStore(out_dir)
    store.discard(store.failed() & set(order))  # failed cells are not finished: they run again
    done = store.finished()
    store.rebuild_csv(order)  # repairs a CSV line cut by a kill; parts are the truth
    manifest: dict[str, Any] = {"config": json.loads(cfg.model_dump_json()),
                                "cells": [{**c.coordinates(), "skip_reason": c.skip_reason} for c in cells]}
    maps = item_maps(cfg, console)
    if maps:
        manifest["item_maps"] = maps
    store.write_manifest(manifest)
    pending = [c for c in cells if c.id not in done]
    counts = {"ok": 0, "skipped": 0, "failed": 0}
    reasons: Counter[str] = Counter()
    with step_progress(len(pending), f"bench {cfg.name}", enabled=progress, console=console,
                       log_counts=True) as bar:

        def record(out: CellOutcome, *, from_worker: bool = False) -> None:
            if from_worker:
                store.write_part(out.cell_id, out.rows)  # no-op when the worker wrote it
            store.append_csv(out.rows)
            kind = out.status.split(":")[0]
            counts[kind if kind in counts else "failed"] += 1
            if kind not in ("ok", "skipped"):
                note = out.rows[0].get("note") if out.rows else None
                reasons[f"{out.status}: {note}" if note else out.status] += 1
            bar.advance()
            if on_cell is not None:
                on_cell(out)

        tasks = group_tasks(pending)
        if scheduler is None and workers <= 1:
            # One BLAS thread here too: near-tied scores must rank the same as in a worker process.
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1):
                for task in tasks:
                    bar.describe(task_description(task[0]))
                    run_task(cfg, task, parts_dir=store.parts_dir, cache_dir=store.cache_dir, on_cell=record)
        elif tasks:
            shared = (cfg, str(store.parts_dir), str(store.cache_dir))
            with _backend(workers, scheduler) as backend:
                for _, outcomes in backend.map(run_task_shared, shared, tasks):
                    for out in outcomes:
                        record(out, from_worker=True)
    table = store.rebuild_csv(order)
    skips = skip_reasons(table)
    return SweepSummary(len(cells), len(done & set(order)), len(pending), counts["ok"], counts["skipped"],
                        counts["failed"], time.perf_counter() - started, tuple(reasons.most_common()),
                        skips, sum(n for _, n in skips))


def item_maps(cfg: BenchConfig, console: Console | None = None) -> dict[str, dict[str, Any]]:
    """Per dataset with an external source: its map's coverage (`synthrec.experiments.external.ExternalSource.
    summary`, kept in the sweep's manifest), printed on ``console`` when given. A source that cannot be read
    is recorded as ``{"error": ...}`` (its cells fail at data preparation and say why)."""
    from rich.markup import escape

    from synthrec.experiments.bench.frames import external_source

    out: dict[str, dict[str, Any]] = {}
    for ds in cfg.datasets:
        if ds.source is None:
            continue
        try:
            ext = external_source(ds)
        except Exception as exc:
            out[ds.name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        assert ext is not None
        out[ds.name] = ext.summary()
        if console is not None:
            console.print(f"[bold]{escape(ds.name)}[/]: external source {escape(ext.name)}")
            for line in (*ext.lines, *([ext.problem] if ext.problem else [])):
                console.print(f"  {escape(line)}", soft_wrap=True)
    return out


def task_description(cell: Cell) -> str:
    """What the task of ``cell`` runs, for progress: ``ml-100k leave-last-out users=0.1 seed 2`` then
    ``real-only / ceiling`` or the generator and source (``latent-factor [self]``)."""
    where = f"{cell.dataset} {cell.split} {cell.level.label} seed {cell.seed}"
    what = "real-only / ceiling" if cell.strategy in ("real-only", "ceiling") else f"{cell.generator} [{cell.source}]"
    return f"{where}: {what}"


def skip_reasons(table: pl.DataFrame) -> tuple[tuple[str, int], ...]:
    """``(note, number of cells)`` of the skipped cells of a tidy table, most frequent first (ties: by
    note)."""
    skipped = table.filter(pl.col("status") == "skipped").unique("cell_id", keep="first")
    if skipped.is_empty():
        return ()
    counted = Counter(str(n) if n is not None else "skipped" for n in skipped["note"].to_list())
    return tuple(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class SweepPreview:
    """What `preview` predicts of a sweep without running it."""

    n_cells: int
    n_tasks: int
    #: ``(reason, number of cells)`` of the cells that will be recorded as skipped, most frequent first
    skips: tuple[tuple[str, int], ...]
    #: ``(dataset, error, number of cells)`` of datasets that could not be loaded: their cells will fail
    unloadable: tuple[tuple[str, str, int], ...]

    @property
    def n_skipped(self) -> int:
        return sum(n for _, n in self.skips)

    @property
    def all_skipped(self) -> bool:
        return self.n_cells > 0 and self.n_skipped == self.n_cells


def predicted_skip(cell: Cell, data: InteractionData) -> str | None:
    """Why ``cell`` will be recorded as skipped on ``data`` (the dataset as loaded), or None when it will
    run: a generator without ``epsilon=`` for a DP source (`Cell.skip_reason`), a split that needs
    timestamps or time-ordered events the log lacks (`frames.split_unavailable`), or the ``attributes``
    source on a dataset without item attributes. Runtime-only reasons (none known) are not predicted."""
    from synthrec.experiments.bench.frames import split_unavailable
    from synthrec.experiments.bench.sources import attribute_columns, no_attributes_reason

    if cell.skip_reason:
        return cell.skip_reason
    reason = split_unavailable(data, cell.split)
    if reason is not None:
        return reason
    if cell.source == "attributes" and not attribute_columns(data):
        return no_attributes_reason(cell.dataset)
    return None


def preview(cfg: BenchConfig) -> SweepPreview:
    """Count the cells and tasks of ``cfg`` and predict which cells will be skipped, loading each dataset
    once (`load_bench_dataset`, as the sweep does; no split, no fit). A dataset that cannot be loaded is
    reported in ``unloadable`` (the sweep records its cells as failed) instead of raising.

    Raises:
        ConfigError: as `check_runnable` (called first).
    """
    from synthrec.experiments.bench.datasets import load_bench_dataset

    check_runnable(cfg)
    cells = expand(cfg)
    reasons: Counter[str] = Counter()
    unloadable: list[tuple[str, str, int]] = []
    for ds in cfg.datasets:
        ds_cells = [c for c in cells if c.dataset == ds.name]
        try:
            data = load_bench_dataset(ds)
        except Exception as exc:  # the sweep records these cells as failed (data preparation)
            unloadable.append((ds.name, f"{type(exc).__name__}: {exc}", len(ds_cells)))
            reasons.update(c.skip_reason for c in ds_cells if c.skip_reason)
            continue
        for c in ds_cells:
            reason = predicted_skip(c, data)
            if reason is not None:
                reasons[reason] += 1
    skips = tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return SweepPreview(len(cells), len(group_tasks(cells)), skips, tuple(unloadable))
