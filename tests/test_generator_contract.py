"""The generator contract, checked on every registered generator and on the scenario `Simulator`.

Like scikit-learn's ``check_estimator`` and LensKit's component tests: a new generator in
`synthrec.generators.registry.GENERATORS` is checked here without writing a test for it. What every
generator promises (``generators/base.py``):

* `sample` before `fit` raises `NotFittedError` (a simulator is defined by its scenario and needs no fit);
* `fit` (the `BaseGenerator.fit` template) refuses what is not a log, and stamps the catalogue, the
  source's name and the synthrec version;
* same seed, same bytes; another seed, another sample;
* ``sample(n, seed)`` equals the concatenation of ``sample_batches(n, batch_users=n, seed=seed)``, and
  ``sample_batches`` yields ``n`` users in order, deterministically for a given ``batch_users``;
* the catalogue it was fitted on is kept (same external item ids, same order);
* no (user, item) pair repeats unless the generator declares ``emits_repeats``;
* ``supports_dp`` is declared exactly by the classes whose constructor takes ``epsilon``;
* a save/load round trip samples the same bytes;
* a DP generator reports a spent ε no larger than its target.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import synthrec
from synthrec._params import param_names
from synthrec.data.interactions import InteractionData, concat_users
from synthrec.errors import DataValidationError, NotFittedError
from synthrec.generators.base import BaseGenerator
from synthrec.generators.registry import GENERATORS, make_generator
from synthrec.privacy import PrivacyGuarantee

# Tiny settings so that every generator fits in about a second on the contract log.
FAST: dict[str, dict[str, Any]] = {
    "latent-factor": {"n_factors": 4, "calibration_users": 200, "gram_items": 30},
    "item-walk": {"calibration_users": 200},
    "vae": {"hidden": 16, "latent": 4, "max_epochs": 2, "batch_size": 32},
    "gan": {"noise_dim": 4, "hidden": 16, "critic_hidden": 16, "max_epochs": 2, "batch_size": 32,
            "valid_samples": 20, "collapse_users": 20},
    "sequence": {"dim": 8, "hidden": 8, "epochs": 1, "batch_size": 32},
    "profiled": {"n_factors": 3, "n_taste": 1,
                 "generator_params": {"calibration_users": 200, "gram_items": 30}},
}
# DP variants: (name, params) with a target ε; the spent ε must not exceed it.
DP_CASES: list[tuple[str, dict[str, Any]]] = [
    ("latent-factor", {**FAST["latent-factor"], "epsilon": 2.0, "delta": 1e-5}),
    ("item-walk", {**FAST["item-walk"], "epsilon": 2.0, "delta": 1e-5}),
    ("vae", {**FAST["vae"], "epsilon": 2.0, "delta": 1e-5, "dp_epochs": 1}),
    ("gan", {**FAST["gan"], "epsilon": 2.0, "delta": 1e-5, "dp_epochs": 1, "gradient_penalty": 0.0,
             "clip_value": 0.01}),
]
N_SAMPLE = 30


def _contract_log(n_users: int = 120, n_items: int = 40, seed: int = 0) -> InteractionData:
    """Two taste groups over 40 items, 5-9 distinct timed events per user, with user attributes."""
    rng = np.random.default_rng(seed)
    rows = []
    group = rng.integers(0, 2, n_users)
    for u in range(n_users):  # building a fixture, not library code
        pool = np.arange(20) if group[u] == 0 else np.arange(20, n_items)
        items = rng.choice(pool, int(rng.integers(5, 10)), replace=False)
        rows += [(f"u{u}", f"i{i:02d}", 1_000_000 + 3600 * u + 60 * j, float(rng.integers(1, 6)))
                 for j, i in enumerate(items)]
    frame = pl.DataFrame(rows, schema=["user", "item", "ts", "rating"], orient="row")
    users = pl.DataFrame({"user": [f"u{u}" for u in range(n_users)],
                          "segment": np.where(group == 0, "a", "b"), "age": rng.integers(18, 70, n_users)})
    return InteractionData.from_frame(frame, time_col="ts", rating_col="rating", users=users, name="contract")


@pytest.fixture(scope="module")
def log() -> InteractionData:
    return _contract_log()


def _fitted(name: str, log: InteractionData, **extra: Any) -> BaseGenerator:
    params = {**FAST.get(name, {}), "seed": 0, **extra}
    return make_generator(name, **params).fit(log)


@pytest.fixture(scope="module", params=sorted(GENERATORS))
def fitted(request: pytest.FixtureRequest, log: InteractionData) -> tuple[str, BaseGenerator]:
    return request.param, _fitted(request.param, log)


@pytest.fixture(scope="module")
def simulator() -> BaseGenerator:
    from synthrec.generators.simulator.generator import Simulator

    return Simulator.from_preset("ecommerce")


def _same(a: InteractionData, b: InteractionData) -> bool:
    return (a.interactions.equals(b.interactions) and a.item_ids.equals(b.item_ids)
            and a.user_ids.equals(b.user_ids))


def test_registry_is_covered() -> None:
    """A generator added to the registry must get fast settings here (the contract runs on it)."""
    assert set(FAST) == set(GENERATORS)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_get_params_reads_back_every_constructor_argument(name: str) -> None:
    """``get_params`` holds every constructor parameter, and ``cls(**get_params())`` is the same generator."""
    cls = GENERATORS[name]
    gen = make_generator(name, **FAST[name], seed=3)
    params = gen.get_params()
    assert list(params) == param_names(cls)
    assert {k: params[k] for k in FAST[name]} == FAST[name] and params["seed"] == 3
    assert cls(**params).get_params() == params
    assert json.loads(json.dumps(gen.get_params(as_json=True)))  # JSON-able as it stands


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_fit_checks_its_input_and_stays_unfitted_when_it_fails(name: str) -> None:
    gen = make_generator(name, **FAST[name])
    with pytest.raises(DataValidationError, match="fit expects an InteractionData"):
        gen.fit("ratings.csv")  # type: ignore[arg-type]
    with pytest.raises(NotFittedError):
        gen.sample(3, seed=0)


def test_fit_stamps_the_catalogue_source_and_version(fitted: tuple[str, BaseGenerator], log: InteractionData) -> None:
    _, gen = fitted
    assert gen.item_ids_.equals(log.item_ids) and gen.source_name_ == log.name
    assert gen.synthrec_version_ == synthrec.__version__


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_sample_before_fit_raises_not_fitted(name: str) -> None:
    with pytest.raises(NotFittedError):
        make_generator(name, **FAST[name]).sample(3, seed=0)


def test_same_seed_same_bytes_other_seed_other_sample(fitted: tuple[str, BaseGenerator]) -> None:
    _, gen = fitted
    a, b, c = gen.sample(N_SAMPLE, seed=5), gen.sample(N_SAMPLE, seed=5), gen.sample(N_SAMPLE, seed=6)
    assert _same(a, b)
    assert not a.interactions.equals(c.interactions)


def test_sample_is_the_concatenated_batches(fitted: tuple[str, BaseGenerator]) -> None:
    _, gen = fitted
    whole = gen.sample(N_SAMPLE, seed=3)
    (one,) = list(gen.sample_batches(N_SAMPLE, batch_users=N_SAMPLE, seed=3))
    assert _same(whole, one)
    parts = list(gen.sample_batches(N_SAMPLE, batch_users=7, seed=3))
    assert [p.n_users for p in parts] == [7, 7, 7, 7, 2]
    again = list(gen.sample_batches(N_SAMPLE, batch_users=7, seed=3))
    assert all(_same(p, q) for p, q in zip(parts, again, strict=True))


def test_catalogue_is_kept(fitted: tuple[str, BaseGenerator], log: InteractionData) -> None:
    _, gen = fitted
    out = gen.sample(N_SAMPLE, seed=1)
    assert out.item_ids.equals(log.item_ids)
    items = out.interactions["item"].to_numpy()
    assert items.min() >= 0 and items.max() < log.n_items
    assert out.n_users == N_SAMPLE


def test_no_repeated_pair_unless_declared(fitted: tuple[str, BaseGenerator]) -> None:
    _, gen = fitted
    out = gen.sample(N_SAMPLE, seed=2).interactions
    repeats = out.height - out.select("user", "item").unique().height
    if not gen.emits_repeats:
        assert repeats == 0


def test_emits_repeats_follows_the_parameter_that_allows_them() -> None:
    assert not make_generator("sequence", **FAST["sequence"]).emits_repeats
    assert make_generator("sequence", **FAST["sequence"], allow_repeats=True).emits_repeats


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_supports_dp_is_declared_exactly_when_epsilon_is_accepted(name: str) -> None:
    cls = GENERATORS[name]
    assert isinstance(cls.supports_dp, bool)
    assert cls.supports_dp == ("epsilon" in param_names(cls))


def test_every_dp_generator_has_a_dp_case() -> None:
    assert {n for n, _ in DP_CASES} == {n for n in GENERATORS if GENERATORS[n].supports_dp}


def test_save_load_round_trip_samples_the_same_bytes(fitted: tuple[str, BaseGenerator], tmp_path: Path) -> None:
    _, gen = fitted
    path = tmp_path / "model.synthrec"
    gen.save(path)
    loaded = type(gen).load(path)
    assert _same(gen.sample(N_SAMPLE, seed=9), loaded.sample(N_SAMPLE, seed=9))


@pytest.mark.parametrize(("name", "params"), DP_CASES, ids=[n for n, _ in DP_CASES])
def test_dp_generator_spends_at_most_its_target(name: str, params: dict[str, Any], log: InteractionData) -> None:
    gen = make_generator(name, **params, seed=0).fit(log)
    assert type(gen).supports_dp
    privacy = gen.privacy
    assert isinstance(privacy, PrivacyGuarantee) and privacy.is_dp and privacy.ledger is not None
    assert 0 < privacy.epsilon <= params["epsilon"] * (1 + 1e-9)
    assert 0 < privacy.delta == params["delta"]


def test_a_fit_without_epsilon_is_not_dp(fitted: tuple[str, BaseGenerator]) -> None:
    _, gen = fitted
    assert gen.privacy == PrivacyGuarantee.none()


def test_simulator_keeps_the_contract(simulator: BaseGenerator, tmp_path: Path) -> None:
    assert simulator.emits_repeats and not simulator.supports_dp
    assert "epsilon" not in param_names(type(simulator))
    a, b = simulator.sample(N_SAMPLE, seed=4), simulator.sample(N_SAMPLE, seed=4)
    assert _same(a, b)
    assert not a.interactions.equals(simulator.sample(N_SAMPLE, seed=5).interactions)
    # the simulator's sample does not depend on the batch size (its documented, stronger contract)
    parts = list(simulator.sample_batches(N_SAMPLE, batch_users=7, seed=4))
    assert [p.n_users for p in parts] == [7, 7, 7, 7, 2]
    joined = concat_users(parts, name=a.name)
    assert joined.interactions.equals(a.interactions)
    assert all(p.item_ids.equals(a.item_ids) for p in parts)
    path = tmp_path / "simulator.synthrec"
    simulator.save(path)
    assert _same(type(simulator).load(path).sample(N_SAMPLE, seed=4), a)
