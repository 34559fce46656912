"""Shard plan, per-shard seeds and the manifest of `synthrec.scale`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from scale_fixtures import small_generator
from synthrec.errors import ConfigError, DataValidationError, NotFittedError
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.scale.manifest import (
    Manifest,
    ShardRecord,
    file_sha256,
    generator_description,
    model_checksum,
)
from synthrec.scale.shards import ShardPlan, sample_shard


@pytest.fixture(scope="module")
def gen() -> LatentFactorGenerator:
    return small_generator()


def test_plan_cuts_users_into_consecutive_shards() -> None:
    plan = ShardPlan(n_users=25, shard_users=10, seed=7)
    shards = list(plan)
    assert len(plan) == plan.n_shards == 3
    assert [(s.index, s.first_user, s.n_users) for s in shards] == [(0, 0, 10), (1, 10, 10), (2, 20, 5)]
    assert [s.file_stem() for s in shards] == ["part-000000", "part-000001", "part-000002"]
    assert ShardPlan(10, 10, 0).n_shards == 1 and ShardPlan(11, 10, 0).n_shards == 2
    with pytest.raises(IndexError):
        plan.shard(3)


@pytest.mark.parametrize("bad", [{"n_users": 0}, {"shard_users": 0}, {"seed": -1}, {"n_users": True},
                                 {"shard_users": 2.5}])
def test_plan_rejects_bad_sizes(bad: dict[str, object]) -> None:
    args: dict[str, object] = {"n_users": 10, "shard_users": 3, "seed": 0, **bad}
    with pytest.raises(ConfigError, match=next(iter(bad))):
        ShardPlan(**args)  # type: ignore[arg-type]


def test_shard_seed_is_the_spawned_child_whatever_the_number_of_siblings() -> None:
    plan = ShardPlan(n_users=50, shard_users=10, seed=123)
    for s in plan:
        for n_children in (s.index + 1, 5, 17):
            child = np.random.SeedSequence(123).spawn(n_children)[s.index]
            assert np.array_equal(s.seed_sequence().generate_state(8), child.generate_state(8))


def test_sample_shard_equals_the_batch_of_sample_batches(gen: LatentFactorGenerator) -> None:
    plan = ShardPlan(n_users=23, shard_users=5, seed=4)
    batches = list(gen.sample_batches(23, batch_users=5, seed=4))
    assert len(batches) == len(plan)
    # drawn out of order, as workers would
    for s in reversed(list(plan)):
        got, want = sample_shard(gen, s), batches[s.index]
        assert got.interactions.equals(want.interactions)
        assert got.user_ids.equals(want.user_ids)


def test_user_ids_are_globally_unique_and_numbered_by_shard(gen: LatentFactorGenerator) -> None:
    plan = ShardPlan(n_users=23, shard_users=5, seed=4)
    ids = pl.concat([sample_shard(gen, s).user_ids for s in plan]).to_list()
    assert ids == [f"syn-{i}" for i in range(23)]


def test_sample_shard_needs_a_fitted_base_generator() -> None:
    shard = ShardPlan(3, 3, 0).shard(0)
    with pytest.raises(NotFittedError):
        sample_shard(LatentFactorGenerator(), shard)
    with pytest.raises(ConfigError, match="BaseGenerator"):
        sample_shard(object(), shard)  # type: ignore[arg-type]


def _manifest() -> Manifest:
    m = Manifest(generator={"class": "x.Y", "params": {"k": 3}}, model_sha256="ab" * 32, seed=1, n_users=25,
                 shard_users=10, n_shards=3, format="parquet")
    m.shards[1] = ShardRecord(1, "part-000001.parquet", rows=40, users=10, sha256="cd" * 32, format="parquet")
    m.shards[0] = ShardRecord(0, "part-000000.parquet", rows=35, users=10, sha256="ef" * 32, format="parquet")
    return m


def test_manifest_round_trips_and_reports_progress(tmp_path: Path) -> None:
    m = _manifest()
    m.write(tmp_path)
    doc = json.loads((tmp_path / "_manifest.json").read_text())
    assert doc["complete"] is False and doc["rows"] == 75
    assert [s["index"] for s in doc["shards"]] == [0, 1]  # sorted by shard
    back = Manifest.read(tmp_path)
    assert back == m
    assert Manifest.read(tmp_path / "nowhere") is None
    m.shards[2] = ShardRecord(2, "part-000002.parquet", 10, 5, "00" * 32, "parquet")
    assert m.complete and m.rows == 85
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary name, nothing left


def test_manifest_of_another_run_is_refused_naming_the_difference(tmp_path: Path) -> None:
    m = _manifest()
    other = _manifest()
    other.seed = 2
    other.format = "csv"
    with pytest.raises(ConfigError, match=r"seed: 1 in the folder vs 2 now.*format: 'parquet'"):
        other.check_same_run(m, tmp_path)
    m.check_same_run(_manifest(), tmp_path)  # same run: no error


def test_damaged_manifest_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "_manifest.json").write_text('{"seed": 1}')
    with pytest.raises(DataValidationError, match=r"_manifest.json.*not a valid synthrec manifest"):
        Manifest.read(tmp_path)


def test_model_checksum_is_the_sha256_of_the_saved_file(gen: LatentFactorGenerator, tmp_path: Path) -> None:
    gen.save(tmp_path / "g.pkl")
    assert model_checksum(gen) == file_sha256(tmp_path / "g.pkl")
    assert model_checksum(LatentFactorGenerator.load(tmp_path / "g.pkl")) == model_checksum(gen)
    desc = generator_description(gen)
    assert desc["class"] == "synthrec.generators.latent_factor.LatentFactorGenerator"
    assert desc["params"]["n_factors"] == 3 and desc["params"]["affinity_scale"] == 4.0
    json.dumps(desc)  # JSON-safe


def test_file_sha256_matches_hashlib_in_small_chunks(tmp_path: Path) -> None:
    import hashlib

    data = bytes(range(256)) * 100
    (tmp_path / "f").write_bytes(data)
    assert file_sha256(tmp_path / "f", chunk=1000) == hashlib.sha256(data).hexdigest()
