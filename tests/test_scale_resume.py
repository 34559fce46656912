"""Crash safety and resume of sharded generation: no lost, duplicated or half-written shard."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pyarrow.dataset as ds
import pytest
import typer
from typer.testing import CliRunner

import synthrec.scale.writer as writer
from scale_fixtures import small_generator
from synthrec.commands.generate import register
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.scale.manifest import Manifest, file_sha256
from synthrec.scale.shards import Shard
from synthrec.scale.writer import ShardOutcome, write_sharded

N_USERS, SHARD_USERS, SEED = 30, 5, 3  # 6 shards

# Runs a generation in a fresh interpreter and SIGKILLs it from inside the 4th shard's atomic write: the
# temporary file is fully written but not yet hashed nor renamed. Nothing gets to clean up.
KILL_SCRIPT = textwrap.dedent(f"""
    import os, signal, sys
    import synthrec.scale.writer as w
    from synthrec.generators.base import BaseGenerator

    model, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    real_sha256, calls = w.file_sha256, [0]

    def hash_or_die(path, **kw):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_sha256(path, **kw)

    w.file_sha256 = hash_or_die
    w.write_sharded(BaseGenerator.load(model), out, n_users={N_USERS}, shard_users={SHARD_USERS}, seed={SEED},
                    manifest_interval_s=0)
""")


@pytest.fixture(scope="module")
def gen() -> LatentFactorGenerator:
    return small_generator()


@pytest.fixture(scope="module")
def uninterrupted(gen: LatentFactorGenerator, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("uninterrupted")
    return out, write_sharded(gen, out, n_users=N_USERS, shard_users=SHARD_USERS, seed=SEED)


def _content(folder: Path) -> pl.DataFrame:
    return pl.read_parquet(sorted(folder.glob("part-*.parquet")))


def _assert_equals_uninterrupted(folder: Path, manifest: Manifest, ref: tuple[Path, Manifest]) -> None:
    ref_folder, ref_manifest = ref
    assert manifest.complete
    assert manifest.shards == ref_manifest.shards  # same files, rows, users, checksums
    on_disk = sorted(p.name for p in folder.iterdir() if p.name != "gen.pkl")
    assert on_disk == ["_manifest.json"] + [f"part-{i:06d}.parquet" for i in range(6)]  # nothing extra
    for rec in manifest.shards.values():
        assert file_sha256(folder / rec.file) == rec.sha256
    assert _content(folder).equals(_content(ref_folder))
    assert Manifest.read(folder) == manifest


def test_killed_run_leaves_only_complete_files_and_the_rerun_completes_it(
    gen: LatentFactorGenerator, uninterrupted: tuple[Path, Manifest], tmp_path: Path
) -> None:
    model = tmp_path / "gen.pkl"
    gen.save(model)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(model), str(out), "4"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr  # killed, not a clean exit

    # after the crash: shards 0-2 complete and recorded; shard 3 only under a hidden temporary name
    crashed = Manifest.read(out)
    assert crashed is not None and not crashed.complete and sorted(crashed.shards) == [0, 1, 2]
    assert sorted(p.name for p in out.glob("part-*")) == [f"part-{i:06d}.parquet" for i in range(3)]
    assert len(list(out.glob(".part-000003.parquet.*.tmp"))) == 1
    assert sorted(Path(f).name for f in ds.dataset(out, format="parquet").files) == [
        f"part-{i:06d}.parquet" for i in range(3)]  # readers do not see the temporary file

    outcomes: list[ShardOutcome] = []
    manifest = write_sharded(gen, out, n_users=N_USERS, shard_users=SHARD_USERS, seed=SEED,
                             on_shard=outcomes.append)
    assert {o.record.index: o.reused for o in outcomes} == {0: True, 1: True, 2: True, 3: False, 4: False,
                                                             5: False}
    _assert_equals_uninterrupted(out, manifest, uninterrupted)


def test_failure_after_k_shards_keeps_them_and_the_rerun_draws_only_the_rest(
    gen: LatentFactorGenerator, uninterrupted: tuple[Path, Manifest], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = writer.sample_shard

    def fail_on_shard_4(generator: LatentFactorGenerator, shard: Shard) -> object:
        if shard.index == 4:
            raise RuntimeError("worker lost")
        return real(generator, shard)

    monkeypatch.setattr(writer, "sample_shard", fail_on_shard_4)
    with pytest.raises(RuntimeError, match="worker lost"):
        write_sharded(gen, tmp_path, n_users=N_USERS, shard_users=SHARD_USERS, seed=SEED, manifest_interval_s=60)
    partial = Manifest.read(tmp_path)
    assert partial is not None and sorted(partial.shards) == [0, 1, 2, 3]  # written on the way out
    monkeypatch.setattr(writer, "sample_shard", real)

    outcomes: list[ShardOutcome] = []
    manifest = write_sharded(gen, tmp_path, n_users=N_USERS, shard_users=SHARD_USERS, seed=SEED,
                             on_shard=outcomes.append)
    assert sorted(o.record.index for o in outcomes if not o.reused) == [4, 5]
    _assert_equals_uninterrupted(tmp_path, manifest, uninterrupted)


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test app"""

    register(app)
    return app


def test_cli_rerun_redraws_missing_damaged_and_unrecorded_shards(
    gen: LatentFactorGenerator, uninterrupted: tuple[Path, Manifest], tmp_path: Path
) -> None:
    gen.save(tmp_path / "gen.pkl")
    args = ["generate", str(tmp_path / "gen.pkl"), "-n", str(N_USERS), "-o", str(tmp_path), "--seed", str(SEED),
            "--shard-users", str(SHARD_USERS), "-q"]
    assert CliRunner().invoke(_cli(), args).exit_code == 0
    (tmp_path / "part-000001.parquet").unlink()  # lost
    damaged = tmp_path / "part-000002.parquet"
    raw = bytearray(damaged.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    damaged.write_bytes(bytes(raw))  # same size, different bytes
    manifest = Manifest.read(tmp_path)
    assert manifest is not None
    del manifest.shards[4]  # finished after the last manifest write
    manifest.write(tmp_path)

    res = CliRunner().invoke(_cli(), args)
    assert res.exit_code == 0, res.output
    assert "3 reused from an earlier run" in res.output  # shards 0, 3, 5
    final = Manifest.read(tmp_path)
    assert final is not None
    _assert_equals_uninterrupted(tmp_path, final, uninterrupted)


def test_rerun_with_other_parameters_is_refused(gen: LatentFactorGenerator, tmp_path: Path) -> None:
    write_sharded(gen, tmp_path, n_users=10, shard_users=5, seed=1)
    with pytest.raises(ConfigError, match=r"different run \(seed: 1 in the folder vs 2 now\)"):
        write_sharded(gen, tmp_path, n_users=10, shard_users=5, seed=2)
    with pytest.raises(ConfigError, match="shard_users: 5 in the folder vs 4 now"):
        write_sharded(gen, tmp_path, n_users=10, shard_users=4, seed=1)
    with pytest.raises(ConfigError, match="unknown output format 'xlsx'"):
        write_sharded(gen, tmp_path / "x", n_users=10, fmt="xlsx")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataValidationError, match="is a file, not a folder"):
        write_sharded(gen, tmp_path / "file", n_users=10)
