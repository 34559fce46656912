"""`synthrec fit --streaming`: the same generator as the library's streaming fit, readable errors, progress."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from synthrec.cli import app
from synthrec.generators.base import BaseGenerator
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.scale.stream_fit import LogColumns, fit_streaming

runner = CliRunner()


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two Parquet files with the standard column names, users whole in one file each."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("parts")
    for p in range(2):
        users = np.repeat([f"p{p}u{u}" for u in range(60)], 8)
        frame = pl.DataFrame({"user": users, "item": rng.integers(0, 40, len(users)),
                              "timestamp": np.arange(len(users)) * 60 + 10**9,
                              "rating": rng.integers(1, 6, len(users)).astype(float)})
        frame.write_parquet(folder / f"part-{p}.parquet")
    return folder


PARAMS = ["--param", "n_factors=4", "--param", "calibration_users=200", "--param", "gram_items=20"]


def test_streaming_fit_saves_the_library_generator(parts: Path, tmp_path: Path) -> None:
    out = tmp_path / "lf.synthrec"
    res = runner.invoke(app, ["fit", str(parts), "--streaming", "-o", str(out), "--seed", "2", *PARAMS])
    assert res.exit_code == 0, res.output
    assert "in passes (120 users, 40 items, 960 rows" in res.output
    assert "--rating-col rating" in res.output and "--time-col timestamp" in res.output  # standard names picked
    assert not out.with_name(out.name + ".fitcache").exists()  # the default cache goes once the fit succeeds
    loaded = BaseGenerator.load(out)
    want = fit_streaming(LatentFactorGenerator(n_factors=4, calibration_users=200, gram_items=20, seed=2), parts,
                         columns=LogColumns(time="timestamp", rating="rating"))
    assert loaded.sample(30, seed=1).interactions.equals(want.sample(30, seed=1).interactions)
    assert loaded.source_name_ == parts.name


def test_item_walk_streams_too(parts: Path, tmp_path: Path) -> None:
    out = tmp_path / "walk.synthrec"
    res = runner.invoke(app, ["fit", str(parts), "--streaming", "-g", "item-walk", "-o", str(out),
                              "--param", "calibration_users=200"])
    assert res.exit_code == 0, res.output
    assert BaseGenerator.load(out).sample(20, seed=0).n_interactions > 0


def test_dp_latent_factor_streams_and_says_what_it_spent(parts: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["fit", str(parts), "--streaming", "-o", str(tmp_path / "dp.synthrec"), *PARAMS,
                              "--param", "epsilon=2"])
    assert res.exit_code == 0, res.output
    assert "user-level differential privacy: ε = 2 spent" in res.output
    assert "6/6: done" in res.output  # 2 files × (survey, scan, one co-occurrence pass)


def test_piped_progress_names_the_passes(parts: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["fit", str(parts), "--streaming", "-o", str(tmp_path / "m.synthrec"), *PARAMS])
    assert res.exit_code == 0, res.output
    assert "fitting latent-factor on 2 file(s) in passes" in res.output and "14/14: done" in res.output
    assert "calibrating on simulated users (reads no data)" in res.output  # the long step after the passes


def test_kept_cache_resumes(parts: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    args = ["fit", str(parts), "--streaming", "-o", str(tmp_path / "m.synthrec"), "--cache-dir", str(cache), *PARAMS]
    assert runner.invoke(app, args).exit_code == 0
    assert len(list((cache / "passes").glob("*.npz"))) == 5
    first = (tmp_path / "m.synthrec").read_bytes()
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    assert "2 of 2 file scan(s) and 5 of 5 pass(es) over the data read back" in " ".join(again.output.split())
    assert (tmp_path / "m.synthrec").read_bytes() == first  # how the run went is not in the model's bytes


def test_interrupt_says_how_to_resume(parts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthrec.scale import stream_fit

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(stream_fit, "fit_streaming", interrupted)
    cache = tmp_path / "cache"
    res = runner.invoke(app, ["fit", str(parts), "--streaming", "-o", str(tmp_path / "m.synthrec"),
                              "--cache-dir", str(cache), *PARAMS])
    assert res.exit_code == 130
    assert "interrupted" in res.output and "(same --cache-dir) to resume" in " ".join(res.output.split())


def test_data_folder_may_hold_other_files_and_the_cache(parts: Path, tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(parts, data)
    (data / "README.txt").write_text("two parts of the log\n")
    args = ["fit", str(data), "--streaming", "-o", str(tmp_path / "m.synthrec"), "--cache-dir", str(data / "cache"),
            *PARAMS]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)  # the cache's .npz files inside DATA are not read as data
    assert again.exit_code == 0, again.output
    assert "read back" in again.output


def test_contiguity_is_required_whatever_the_file_size(parts: Path, tmp_path: Path) -> None:
    shuffled = tmp_path / "shuffled.parquet"
    pl.read_parquet(parts / "part-0.parquet").sample(fraction=1.0, shuffle=True, seed=3).write_parquet(shuffled)
    out = tmp_path / "m.synthrec"
    res = runner.invoke(app, ["fit", str(shuffled), "--streaming", "-o", str(out), *PARAMS])  # one chunk
    assert res.exit_code == 2 and "not contiguous" in res.output and "sort the file by user" in res.output
    assert not out.exists() and not out.with_name(out.name + ".fitcache").exists()  # no clutter after a data error


def test_unusable_cache_dir_is_named_before_the_fit(parts: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("")
    res = runner.invoke(app, ["fit", str(parts), "--streaming", "-o", str(tmp_path / "m.synthrec"),
                              "--cache-dir", str(a_file), *PARAMS])
    assert res.exit_code == 2 and "--cache-dir" in res.output and "fitting" not in res.output


def test_streaming_errors_are_readable(parts: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "m.synthrec")
    res = runner.invoke(app, ["fit", str(parts), "-o", out, "--workers", "2"])
    assert res.exit_code == 2 and "only apply with --streaming" in res.output
    res = runner.invoke(app, ["fit", str(parts), "--streaming", "-o", out, "--generator", "vae"])
    assert res.exit_code == 2 and "latent-factor and item-walk only" in res.output
    res = runner.invoke(app, ["fit", str(parts), "--streaming", "-o", out, "--user-col", "who"])
    assert res.exit_code == 2 and "who" in res.output and "missing" in res.output
    csv = tmp_path / "log.csv"
    csv.write_text("user,item\n1,2\n")
    res = runner.invoke(app, ["fit", str(csv), "--streaming", "-o", out])
    assert res.exit_code == 2 and "not a Parquet file" in res.output and "log.csv" in res.output
    assert "without --streaming reads it" in " ".join(res.output.split())


def test_a_simulate_folder_streams_its_log_only(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    assert runner.invoke(app, ["simulate", "--preset", "poi", "--users", "150", "--out", str(sim), "-q"]).exit_code == 0
    res = runner.invoke(app, ["fit", str(sim), "--streaming", "-o", str(tmp_path / "m.synthrec"), *PARAMS])
    assert res.exit_code == 0, res.output
    assert "150 users" in res.output  # interactions.parquet only: the users and items tables are not logs
