"""Generators and recommenders registered at runtime join a `synthrec bench` sweep without code changes."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest

from bench_fixtures import BootstrapGenerator, tiny_config, write_tiny_log
from synthrec.data.interactions import InteractionData
from synthrec.experiments.bench import ResultStore, expand, parse_bench_config, run_sweep
from synthrec.experiments.bench.cells import accepts_epsilon
from synthrec.generators.registry import GENERATORS
from synthrec.models.popularity import MostPopular
from synthrec.models.registry import MODELS


class TwinPopular(MostPopular):
    """A 'new' recommender: most-popular under another name."""


class DPBootstrap(BootstrapGenerator):
    """A toy generator that declares user-level DP support (``supports_dp``, ``epsilon=``) and remembers what
    it got."""

    supports_dp: ClassVar[bool] = True

    fitted_epsilons: ClassVar[list[float | None]] = []

    def __init__(self, seed: int = 0, epsilon: float | None = None) -> None:
        super().__init__(seed)
        self.epsilon = epsilon

    def fit(self, data: InteractionData) -> DPBootstrap:
        DPBootstrap.fitted_epsilons.append(self.epsilon)
        super().fit(data)
        return self


def test_runtime_registrations_join_the_sweep(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(GENERATORS, "bootstrap", BootstrapGenerator)
    monkeypatch.setitem(GENERATORS, "dp-bootstrap", DPBootstrap)
    monkeypatch.setitem(MODELS, "pop-twin", TwinPopular)
    DPBootstrap.fitted_epsilons = []
    csv = write_tiny_log(tmp_path / "tiny.csv")
    raw = tiny_config(csv, generators=[{"name": "bootstrap"}, {"name": "dp-bootstrap"}],
                      recommenders=[{"name": "pop-twin"}], seeds=[0], dp_epsilons=[2.0],
                      scarcity={"user_fractions": [1.0]}, strategies=["real-only", "augment"])
    cfg = parse_bench_config(raw)
    cells = expand(cfg)
    assert {c.recommender for c in cells} == {"pop-twin"}
    assert {c.generator for c in cells} == {"-", "bootstrap", "dp-bootstrap"}
    # DP cells: skipped for the generator without epsilon=, run for the one with it
    dp = [c for c in cells if c.epsilon is not None]
    assert {c.generator: c.skip_reason is None for c in dp} == {"bootstrap": False, "dp-bootstrap": True}
    assert accepts_epsilon("dp-bootstrap") and not accepts_epsilon("bootstrap")

    out = tmp_path / "out"
    summary = run_sweep(cfg, out, progress=False)
    assert summary.n_failed == 0
    table = ResultStore(out).table()
    ok = table.filter(pl.col("status") == "ok")
    assert set(ok["recommender"].unique()) == {"pop-twin"}
    assert set(ok["generator"].unique()) == {"-", "bootstrap", "dp-bootstrap"}
    assert ok.filter(pl.col("source") == "source-dp(eps=2)")["generator"].unique().to_list() == ["dp-bootstrap"]
    assert 2.0 in DPBootstrap.fitted_epsilons  # the DP source's generator was built with epsilon=2
    skipped = table.filter(pl.col("status") == "skipped")
    assert skipped["generator"].unique().to_list() == ["bootstrap"]


def test_unregistered_names_are_rejected_with_the_valid_ones(tmp_path: Path) -> None:
    from synthrec.errors import ConfigError

    csv = write_tiny_log(tmp_path / "tiny.csv")
    with pytest.raises(ConfigError, match=r"unknown generator 'bootstrap'.*registered: .*latent-factor"):
        parse_bench_config(tiny_config(csv))
