"""`Simulator`: the scenario simulator as a `synthrec` generator.

Determinism contract. User k of ``sample(n, seed=s)`` depends only on (scenario, ``items.seed``, s, k):
users are simulated in fixed blocks of `BLOCK_USERS`, block b seeded by ``SeedSequence(s).spawn(·)[b]``
(= ``SeedSequence(s, spawn_key=(b,))``). Hence ``sample_batches(n, batch_users=B, seed=s)``, for any B,
concatenates to exactly ``sample(n, seed=s)``, the output does not depend on how many workers produce the
batches, and the population (and true utilities) of any user can be rebuilt later with `population`.
When ``batch_users`` is a multiple of `BLOCK_USERS` every batch draws exactly its own blocks; otherwise
the blocks a batch shares with its neighbours are simulated by both and trimmed (at most two extra blocks
of work per batch).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from synthrec.data.interactions import EVENT, ITEM, RATING, SESSION, TIMESTAMP, USER, InteractionData
from synthrec.errors import ConfigError
from synthrec.generators.base import BaseGenerator
from synthrec.generators.simulator.catalogue import Catalogue, build_catalogue
from synthrec.generators.simulator.engine import (
    BlockLog,
    Response,
    World,
    respond,
    simulate_block,
    utilities,
)
from synthrec.generators.simulator.population import BLOCK_USERS, Population
from synthrec.generators.simulator.scenario import Scenario, load_scenario, parse_scenario

try:  # Python >= 3.11
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self


class Simulator(BaseGenerator):
    """Probabilistic simulator of users, items and interaction logs from a `Scenario`.

    Args:
        scenario: a validated `Scenario`, or the path of a YAML scenario file.

    Raises:
        ConfigError: the scenario file is invalid (see `load_scenario`), or an imported catalogue is.

    Example::

        sim = Simulator.from_preset("ecommerce")
        data = sim.sample(10_000, seed=0)          # InteractionData with users/items tables
        v = sim.true_utilities([0, 1], seed=0)     # (2, n_items) ground-truth utilities

    A closed loop and a calibration are functions of a simulator, not methods:
    ``run_closed_loop(sim, recommender, rounds, n_users=..., seed=...)`` (`closed_loop`) and
    ``calibrate(target, scenario=sim.scenario)`` (`calibrate`); both modules import this one.
    """

    _fitted = True  # a scenario simulator is defined by its scenario, not by data

    def __init__(self, scenario: Scenario | str | Path) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)

    @property
    def emits_repeats(self) -> bool:
        """Always True: a user's events repeat items — one row per funnel stage a choice reaches, repeat
        consumption (``repeat`` of a segment), and fresh choices in later sessions, which may pick an item
        chosen before (even the one-stage, repeat-free ``news`` preset repeats pairs)."""
        return True

    @classmethod
    def from_preset(cls, name: str) -> Simulator:
        """A simulator of a shipped preset scenario (`synthrec.generators.simulator.presets.PRESETS`).

        Raises:
            ConfigError: unknown preset (the message lists the valid names).
        """
        from synthrec.generators.simulator.presets import load_preset

        return cls(load_preset(name))

    # ------------------------------------------------------------------ fixed parts

    @cached_property
    def world(self) -> World:
        """Scenario, catalogue and compiled segments (built once, shared by every sample)."""
        return World.build(self.scenario, build_catalogue(self.scenario))

    @property
    def catalogue(self) -> Catalogue:
        """The item catalogue (fixed per scenario and ``items.seed``)."""
        return self.world.catalogue

    @cached_property
    def items_table(self) -> pl.DataFrame:
        """Items attribute table (see `Catalogue.table`)."""
        return self.catalogue.table()

    def fit(self, data: InteractionData) -> Self:
        """Not supported: a scenario simulator is defined by its scenario, not fitted to a log.

        Raises:
            ConfigError: always; tune a scenario to a real log with the calibration helper
                (``synthrec.generators.simulator.calibrate``) and build a new `Simulator` from its result.
        """
        raise ConfigError(
            "Simulator is not fitted to data: its behaviour comes from its scenario. To match a real log, "
            "calibrate the scenario's parameters to it (synthrec.generators.simulator.calibrate) and build "
            "a new Simulator from the calibrated scenario"
        )

    # ------------------------------------------------------------------ sampling

    def sample_batches(self, n_users: int, *, batch_users: int, seed: int) -> Iterator[InteractionData]:
        """Users ``0 … n_users − 1`` of the sample with ``seed``, in batches of at most ``batch_users``.

        Batch b holds users ``b·batch_users …`` with dense ids starting at 0 and external ids
        ``sim-<global index>``; see the module docstring for the determinism contract.

        Raises:
            ValueError: ``n_users < 0`` or ``batch_users < 1``.
        """
        if n_users < 0 or batch_users < 1:
            raise ValueError("n_users must be >= 0 and batch_users >= 1")
        if n_users == 0:
            yield self.sample_range(0, 0, seed=seed)
            return
        for first in range(0, n_users, batch_users):
            yield self.sample_range(first, min(batch_users, n_users - first), seed=seed)

    def sample_range(self, first_user: int, n_users: int, *, seed: int) -> InteractionData:
        """Global users ``first_user … first_user + n_users − 1`` of the sample with ``seed``.

        Returns:
            `InteractionData` with interactions ``user`` (dense, 0-based within this range), ``item``,
            ``timestamp`` (Int64 epoch seconds), ``event`` (funnel stage name), ``session`` (Int64, globally
            unique: ``global_user · 2^20 + rank``) and ``rating`` (Float32, null off the rating stage) when
            the scenario has ratings; rows are grouped by user in time order. ``users`` holds ``segment``,
            the demographics and ``first_seen``; ``items`` the catalogue attributes.
        """
        if first_user < 0 or n_users < 0:
            raise ValueError("first_user and n_users must be >= 0")
        stop = first_user + n_users
        logs: list[BlockLog] = []
        pops: list[Population] = []
        for block in range(first_user // BLOCK_USERS, -(-stop // BLOCK_USERS)):
            pop, log = simulate_block(self.world, block, seed=seed)
            lo, hi = max(first_user - block * BLOCK_USERS, 0), min(stop - block * BLOCK_USERS, BLOCK_USERS)
            if lo > 0 or hi < BLOCK_USERS:
                log = log.select((log.user >= first_user) & (log.user < stop))
                pop = pop.take(np.arange(lo, hi))
            logs.append(log)
            pops.append(pop)
        return self._assemble(logs, pops, first_user, n_users)

    def _assemble(self, logs: list[BlockLog], pops: list[Population], first_user: int, n_users: int
                  ) -> InteractionData:
        scen = self.scenario

        def cat(name: str) -> np.ndarray:
            arrays = [getattr(lg, name) for lg in logs]
            return np.concatenate(arrays) if arrays else np.empty(0)

        stages = pl.Series(scen.stage_names, dtype=pl.String)
        cols: dict[str, pl.Series] = {
            USER: pl.Series(USER, cat("user") - first_user, dtype=pl.Int32),
            ITEM: pl.Series(ITEM, cat("item"), dtype=pl.Int32),
            TIMESTAMP: pl.Series(TIMESTAMP, cat("timestamp"), dtype=pl.Int64),
            EVENT: stages.gather(pl.Series(cat("stage"), dtype=pl.UInt32)).alias(EVENT),
            SESSION: pl.Series(SESSION, cat("session"), dtype=pl.Int64),
        }
        if scen.behaviour.ratings is not None:
            cols[RATING] = pl.Series(RATING, cat("rating"), dtype=pl.Float32, nan_to_null=True)
        user_ids = pl.select(
            pl.format("sim-{}", pl.int_range(first_user, first_user + n_users, dtype=pl.Int64))
        ).to_series().alias("user_id")
        users = None
        if pops:
            parts = [p.table(self.world.segments, (p.user - first_user).astype(np.int32)) for p in pops]
            users = pl.concat(parts)
        return InteractionData(pl.DataFrame(cols), user_ids, self.catalogue.item_ids, users, self.items_table,
                               name=f"{scen.name}-simulated")

    # ------------------------------------------------------------------ ground truth and closed-loop pieces

    def population(self, users: np.ndarray | list[int], *, seed: int) -> Population:
        """Traits of global users ``users`` (int array) of the sample with ``seed``, rebuilt exactly."""
        return self.world.population(np.asarray(users, dtype=np.int64), seed=seed)

    def true_utilities(
        self,
        users: np.ndarray | list[int],
        items: np.ndarray | list[int] | None = None,
        *,
        seed: int,
        at: int | np.ndarray | None = None,
        log_popularity: np.ndarray | None = None,
    ) -> np.ndarray:
        """Ground-truth utilities V_ui(t) of global ``users`` × ``items`` (see `engine.utilities`).

        Args:
            users: int ``(m,)`` global user indices of the sample with ``seed`` (dense ids of
                ``sample(n, seed)`` are global indices).
            items: int ``(K,)`` dense item ids shared by all users, or ``(m, K)`` per user; default all.
            at: epoch seconds (scalar or ``(m,)``); default the end of the simulation window.
            log_popularity: popularity to use (closed loop); default the base popularity.

        Returns:
            float32 ``(m, K)``; −inf for items not released at ``at``. Memory is m·K·4 bytes: pass candidate
            items (not the whole catalogue) for many users.
        """
        pop = self.population(users, seed=seed)
        m = len(pop)
        chosen = np.arange(self.catalogue.n_items) if items is None else np.asarray(items, dtype=np.int64)
        t = self.scenario.simulation.end_epoch - 1 if at is None else at
        return utilities(self.world, pop, np.arange(m), chosen, np.broadcast_to(np.asarray(t, np.int64), (m,)),
                         log_popularity=log_popularity)

    def respond(
        self,
        population: Population,
        rows: np.ndarray,
        slates: np.ndarray,
        t: np.ndarray | int,
        rng: np.random.Generator,
        *,
        log_popularity: np.ndarray | None = None,
        outside_utility: float | None = 0.0,
    ) -> Response:
        """Users' reaction to recommender slates (see `engine.respond`)."""
        return respond(self.world, population, rows, slates, np.asarray(t, dtype=np.int64), rng,
                       log_popularity=log_popularity, outside_utility=outside_utility)

    # ------------------------------------------------------------------ persistence

    def __getstate__(self) -> dict[str, Any]:
        """What `save` stores and pickle copies: the scenario as plain JSON (``model_dump(mode="json")``)
        and the name of the YAML file it came from. The world, catalogue and items table are rebuilt from
        the scenario when first used, not stored (an imported catalogue is read again from its path)."""
        source = self.scenario.source_file
        return {"scenario": self.scenario.model_dump(mode="json"),
                "scenario_file": None if source is None else str(source)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild the scenario by validating the stored JSON (`parse_scenario`: pydantic validation of a
        dict, which runs no code named by the file).

        Raises:
            ConfigError: the stored scenario is not a valid scenario.
        """
        scenario = state["scenario"]
        if not isinstance(scenario, Scenario):  # a pickle written before this method existed holds the object
            scenario = parse_scenario(scenario, source="the scenario of a saved Simulator")
        source = state.get("scenario_file")
        if isinstance(source, str):
            scenario._source_file = Path(source)
        self.scenario = scenario

    def __repr__(self) -> str:
        return f"Simulator(scenario={self.scenario.name!r})"
