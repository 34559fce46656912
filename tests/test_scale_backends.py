"""Backends of `synthrec.scale`: same output on any of them, shared object shipped once, clean shutdown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from scale_fixtures import small_generator
from scale_tasks import UnpickleCounter, fail_on_three, report_shared
from synthrec.commands.generate import choose_backend, register
from synthrec.data.interactions import concat_users
from synthrec.errors import ConfigError
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.scale.backends import DaskBackend, InProcessBackend, ProcessPoolBackend, make_backend
from synthrec.scale.manifest import Manifest
from synthrec.scale.writer import write_sharded

N_USERS, SHARD_USERS, SEED = 47, 8, 11  # 6 shards, the last one short


@pytest.fixture(scope="module")
def gen() -> LatentFactorGenerator:
    return small_generator()


@pytest.fixture(scope="module")
def reference(gen: LatentFactorGenerator, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("inprocess")
    return out, write_sharded(gen, out, n_users=N_USERS, shard_users=SHARD_USERS, seed=SEED)


def _rows(folder: Path) -> pl.DataFrame:
    return pl.read_parquet(sorted(folder.glob("part-*.parquet")))


def _assert_same_run(folder: Path, manifest: Manifest, ref: tuple[Path, Manifest]) -> None:
    ref_folder, ref_manifest = ref
    assert manifest.complete and manifest.n_shards == 6
    assert {i: r.sha256 for i, r in manifest.shards.items()} == {i: r.sha256 for i, r in ref_manifest.shards.items()}
    got, want = _rows(folder), _rows(ref_folder)
    assert got.equals(want)  # row for row
    assert got.height == manifest.rows


def test_reference_output_is_the_plain_sample_with_external_ids(
    gen: LatentFactorGenerator, reference: tuple[Path, Manifest]
) -> None:
    folder, manifest = reference
    got = _rows(folder)
    parts = list(gen.sample_batches(N_USERS, batch_users=SHARD_USERS, seed=SEED))
    want = pl.concat([p.interactions.with_columns(p.user_ids.gather(p.interactions["user"]).alias("user"),
                                                  p.item_ids.gather(p.interactions["item"]).alias("item"))
                      for p in parts])
    assert got.equals(want)
    assert got["user"].unique().len() == N_USERS
    assert [manifest.shards[i].users for i in range(6)] == [8, 8, 8, 8, 8, 7]


def test_process_pool_of_3_workers_gives_the_parquet_of_1_worker_row_for_row(
    gen: LatentFactorGenerator, reference: tuple[Path, Manifest], tmp_path: Path
) -> None:
    # `reference` ran on 1 worker (this process); spawned pool processes are slow to start, so one pool
    with ProcessPoolBackend(3) as backend:
        manifest = write_sharded(gen, tmp_path, n_users=N_USERS, shard_users=SHARD_USERS, seed=SEED,
                                 backend=backend)
    _assert_same_run(tmp_path, manifest, reference)


def test_dask_local_cluster_gives_identical_parquet_and_shuts_down(
    gen: LatentFactorGenerator, reference: tuple[Path, Manifest], tmp_path: Path
) -> None:
    backend = DaskBackend(2, processes=False)
    with backend:
        manifest = write_sharded(gen, tmp_path, n_users=N_USERS, shard_users=SHARD_USERS, seed=SEED,
                                 backend=backend)
        assert backend.workers == 2
    _assert_same_run(tmp_path, manifest, reference)
    assert backend.client.status == "closed"
    assert backend._cluster.status.name == "closed"


def test_process_pool_ships_the_shared_object_once_per_worker() -> None:
    with ProcessPoolBackend(2) as backend:
        results = dict(backend.map(report_shared, UnpickleCounter(5), list(range(12))))
    assert sorted(results) == list(range(12))
    assert all(r[0] == pos for pos, r in results.items())
    # every task in a worker sees exactly one unpickling in that process, and the same object
    assert {r[2] for r in results.values()} == {1}
    by_pid: dict[int, set[int]] = {}
    for _, pid, _, obj in results.values():
        by_pid.setdefault(pid, set()).add(obj)
    assert 1 <= len(by_pid) <= 2 and all(len(objs) == 1 for objs in by_pid.values())


def test_dask_ships_the_shared_object_once() -> None:
    with DaskBackend(2, processes=False) as backend:
        results = dict(backend.map(report_shared, UnpickleCounter(5), list(range(10))))
    assert sorted(results) == list(range(10))
    assert len({r[3] for r in results.values()}) == 1  # one object, scattered once, used by every task


@pytest.mark.parametrize("make", [InProcessBackend, lambda: DaskBackend(2, processes=False)])
def test_a_failing_task_raises_in_the_caller(make: object) -> None:
    with make() as backend, pytest.raises(ValueError, match="task 3 failed on purpose"):  # type: ignore[operator]
        list(backend.map(fail_on_three, None, list(range(8))))


def test_backends_module_does_not_import_generators_or_models() -> None:
    # workers that run statistics or light tasks should not pay for torch & co.
    code = ("import sys, synthrec.scale.backends, synthrec.scale; "
            "print(sorted(m for m in sys.modules if m.startswith(('synthrec.generators', 'synthrec.models'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
    import synthrec.scale as scale

    assert sorted(scale.__all__) == sorted(scale._MODULE_OF)
    assert all(getattr(scale, name) is not None for name in scale.__all__)


def test_make_backend_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match="unknown backend 'gpu'"):
        make_backend("gpu")
    with pytest.raises(ConfigError, match="--scheduler needs the dask backend"):
        make_backend("processes", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ConfigError, match="workers must be an integer >= 1"):
        make_backend("processes", workers=0)
    with pytest.raises(ConfigError, match="inprocess backend runs 1 worker"):
        make_backend("inprocess", workers=2)
    assert isinstance(make_backend("inprocess"), InProcessBackend)
    assert make_backend("processes", workers=3).describe() == "processes (3 workers)"


def test_cli_backend_choice() -> None:
    assert choose_backend(None, None, None) == ("inprocess", 1)
    assert choose_backend(None, 3, None) == ("processes", 3)
    assert choose_backend(None, None, "tcp://h:8786") == ("dask", 1)
    assert choose_backend("dask", 2, None) == ("dask", 2)
    with pytest.raises(ConfigError, match="not both"):
        choose_backend(None, 2, "tcp://h:8786")


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test app"""

    register(app)
    return app


def test_cli_generate_with_two_workers_matches_the_reference(
    gen: LatentFactorGenerator, reference: tuple[Path, Manifest], tmp_path: Path
) -> None:
    gen.save(tmp_path / "gen.pkl")
    out = tmp_path / "out"
    res = CliRunner().invoke(_cli(), ["generate", str(tmp_path / "gen.pkl"), "--users", str(N_USERS), "--out",
                                      str(out), "--seed", str(SEED), "--shard-users", str(SHARD_USERS),
                                      "--workers", "2", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "in 6 parquet shards" in res.output
    manifest = Manifest.read(out)
    assert manifest is not None
    _assert_same_run(out, manifest, reference)


def test_cli_generate_csv_and_recbole_formats(gen: LatentFactorGenerator, tmp_path: Path) -> None:
    gen.save(tmp_path / "gen.pkl")
    want = concat_users(list(gen.sample_batches(10, batch_users=4, seed=2)))
    for fmt, suffix in (("csv", ".csv"), ("recbole", ".inter")):
        out = tmp_path / fmt
        res = CliRunner().invoke(_cli(), ["generate", str(tmp_path / "gen.pkl"), "-n", "10", "-o", str(out),
                                          "--seed", "2", "--shard-users", "4", "--format", fmt, "-q"])
        assert res.exit_code == 0, res.output
        files = sorted(out.glob(f"part-*{suffix}"))
        assert [f.name for f in files] == [f"part-00000{i}{suffix}" for i in range(3)]
        if fmt == "csv":
            got = pl.read_csv(files)
        else:
            from synthrec.data.recbole import read_atomic

            got = pl.concat([read_atomic(f) for f in files]).rename({"user_id": "user", "item_id": "item"})
        assert got["user"].to_list() == want.user_ids.gather(want.interactions["user"]).to_list()
        assert got["item"].to_list() == want.item_ids.gather(want.interactions["item"]).to_list()


@pytest.mark.parametrize(("args", "message"), [
    (["--users", "5"], "no such file"),
    (["--users", "5", "--format", "xlsx"], "--format must be one of parquet, csv, recbole"),
    (["--users", "5", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
    (["--users", "5", "--backend", "threads"], "unknown backend 'threads'"),
])
def test_cli_generate_errors_are_readable(tmp_path: Path, args: list[str], message: str) -> None:
    res = CliRunner().invoke(_cli(), ["generate", str(tmp_path / "missing.pkl"), "--out", str(tmp_path / "o"),
                                      *args])
    assert res.exit_code == 2
    assert "error:" in res.output and message in res.output.replace("\n", " ")
