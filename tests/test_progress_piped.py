"""Progress when output is not a terminal (CI logs, `| tee`, CliRunner): plain lines on stderr at a bounded
rate, never carriage-return bar redraws; on a terminal a one-step task is a spinner, not a "0/1" bar."""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl
import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from synthrec.cli import app
from synthrec.progress import LineLog, step_progress

LINE = re.compile(r"^\[ *\d+\.\d s\] \S")


def _piped() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=False, width=140), buf


def test_piped_progress_writes_plain_lines() -> None:
    console, buf = _piped()
    with step_progress(3, "run", console=console) as bar:
        for i in range(3):
            bar.describe(f"seed {i}: ease on real-only")
            bar.advance()
    text = buf.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert lines[0].endswith("] run 0/3")
    assert lines[1].endswith("] run 0/3: seed 0: ease on real-only")
    assert lines[-1].endswith("] run 3/3: done")


def test_piped_progress_is_rate_bounded() -> None:
    buf = io.StringIO()
    log = LineLog(1000, "run", buf, interval=3600.0)
    log.start()
    for i in range(1000):
        log.describe(f"step {i}")
        log.advance()
    log.finish()
    lines = buf.getvalue().splitlines()
    # the start, the first step at once, then nothing for an hour, then the end
    assert len(lines) == 3
    assert lines[1].endswith("] run 0/1000: step 0") and lines[2].endswith("] run 1000/1000: done")


def test_piped_progress_does_not_repeat_a_line() -> None:
    """A one-step task counted done says nothing new until it finishes: no second identical line."""
    buf = io.StringIO()
    log = LineLog(1, "sampling 50 users", buf, interval=0.0, counts=True)
    log.start()
    log.advance()
    log.finish()
    bodies = [line.split("] ", 1)[1] for line in buf.getvalue().splitlines()]
    assert bodies == ["sampling 50 users", "sampling 50 users: done"]


def test_piped_progress_says_when_it_stopped() -> None:
    console, buf = _piped()
    try:
        with step_progress(2, "run", console=console) as bar:
            bar.describe("seed 0")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert buf.getvalue().splitlines()[-1].endswith("] run 0/2: stopped")


def test_disabled_progress_prints_nothing() -> None:
    console, buf = _piped()
    with step_progress(2, "run", enabled=False, console=console) as bar:
        bar.describe("x")
        bar.advance(2)
    assert buf.getvalue() == ""


def test_one_step_on_a_terminal_is_no_useless_bar() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    with step_progress(1, "fitting latent-factor on 1,000 interactions", console=console) as bar:
        bar.advance()
    text = buf.getvalue()
    assert "fitting latent-factor on 1,000 interactions" in text
    assert "1/1" not in text and "0/1" not in text and "eta" not in text


def _log(shared_data: Path, path: Path, n_users: int = 80) -> None:
    raw = pl.read_csv(shared_data / "ml-100k" / "u.data", separator="\t", has_header=False,
                      new_columns=["user", "item", "rating", "timestamp"])
    raw.filter(pl.col("user") <= n_users).write_csv(path)


def test_fit_logs_progress_lines_on_stderr_when_piped(tmp_path: Path, shared_data: Path) -> None:
    _log(shared_data, tmp_path / "log.csv")
    res = CliRunner().invoke(app, ["fit", str(tmp_path / "log.csv"), "--out", str(tmp_path / "g.pkl"),
                                   "--param", "n_factors=4", "--rating-col", "rating"])
    assert res.exit_code == 0, res.output
    err = res.stderr
    assert "\r" not in err and "\x1b" not in err and "\r" not in res.stdout
    lines = [line for line in err.splitlines() if LINE.match(line)]
    assert [line.split("] ", 1)[1] for line in lines] == [
        f"fitting latent-factor on {lines[0].split(' on ')[1]}",
        f"fitting latent-factor on {lines[0].split(' on ')[1]}: done"]
    assert "1/1" not in err
    quiet = CliRunner().invoke(app, ["fit", str(tmp_path / "log.csv"), "--out", str(tmp_path / "g2.pkl"),
                                     "--param", "n_factors=4", "--quiet"])
    assert quiet.exit_code == 0 and not any(LINE.match(line) for line in quiet.stderr.splitlines())


def test_run_logs_steps_on_stderr_when_piped(tmp_path: Path, shared_data: Path) -> None:
    _log(shared_data, tmp_path / "log.csv", 120)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("name: piped\ndata: {path: log.csv, rating_col: rating, time_col: timestamp}\n"
                   "generator: {name: latent-factor, params: {n_factors: 4}}\nmodels: [{name: pop}]\n"
                   "target: {source_fraction: 0.0}\nsources: [self]\nstrategies: [real-only, augment]\n"
                   "augment_ratios: [1]\nseeds: [0, 1]\n")
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "\r" not in res.stderr and "\r" not in res.stdout and "\x1b" not in res.stderr
    steps = [line.split("] ", 1)[1] for line in res.stderr.splitlines() if LINE.match(line)]
    assert steps[0] == "run 0/6" and steps[1] == "run 0/6: seed 0: fit generator on self"
    assert steps[-1] == "run 6/6: done"
    assert not any(LINE.match(line) for line in res.stdout.splitlines())  # progress stays off stdout


def test_piped_progress_can_log_counts() -> None:
    """``log_counts``: a line when steps are counted done too (for work whose description rarely changes),
    still at most one per interval; without it a count alone writes nothing."""
    buf = io.StringIO()
    log = LineLog(3, "bench", buf, interval=0.0, counts=True)
    log.start()
    log.describe("task a")
    log.advance()
    log.advance(text="task b")
    log.advance()
    log.finish()
    assert [line.split("] ", 1)[1] for line in buf.getvalue().splitlines()] == [
        "bench 0/3", "bench 0/3: task a", "bench 1/3: task a", "bench 2/3: task b", "bench 3/3: task b",
        "bench 3/3: done"]
    quiet = io.StringIO()
    log = LineLog(3, "bench", quiet, interval=0.0)
    log.start()
    log.advance(2)
    log.finish()
    assert len(quiet.getvalue().splitlines()) == 2
    bounded = io.StringIO()
    log = LineLog(1000, "bench", bounded, interval=3600.0, counts=True)
    log.start()
    for _ in range(1000):
        log.advance()
    log.finish()
    assert len(bounded.getvalue().splitlines()) == 3  # the start, the first count at once, the end


def _steps(text: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in text.splitlines() if LINE.match(line)]


def test_bench_logs_cells_on_stderr_when_piped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import synthrec.progress
    from bench_fixtures import tiny_config, write_tiny_log

    log = write_tiny_log(tmp_path / "tiny.csv")
    cfg = tiny_config(log, scarcity={"user_fractions": [1.0]}, sources=["self"], dp_epsilons=[],
                      generators=[{"name": "latent-factor", "params": {"n_factors": 4, "calibration_iters": 0}}],
                      strategies=["real-only", "augment"], recommenders=[{"name": "pop"}], seeds=[0, 1])
    (tmp_path / "bench.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setattr(synthrec.progress, "LOG_INTERVAL_S", 0.0)  # every change logged, to see them all
    res = CliRunner().invoke(app, ["bench", str(tmp_path / "bench.yaml"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "\r" not in res.stderr and "\x1b" not in res.stderr and "\r" not in res.stdout
    steps = _steps(res.stderr)
    assert steps[0] == "bench tiny 0/4"
    assert steps[1] == "bench tiny 0/4: tiny leave-last-out users=1 seed 0: real-only / ceiling"
    assert "bench tiny 1/4: tiny leave-last-out users=1 seed 0: real-only / ceiling" in steps
    assert "bench tiny 1/4: tiny leave-last-out users=1 seed 0: latent-factor [self]" in steps
    assert "bench tiny 3/4: tiny leave-last-out users=1 seed 1: latent-factor [self]" in steps
    assert steps[-1] == "bench tiny 4/4: done"
    assert not _steps(res.stdout)  # progress stays off stdout
    quiet = CliRunner().invoke(app, ["bench", str(tmp_path / "bench.yaml"), "--out", str(tmp_path / "q"), "-q"])
    assert quiet.exit_code == 0 and not _steps(quiet.stderr)


def test_bench_lines_are_rate_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import synthrec.progress
    from bench_fixtures import tiny_config, write_tiny_log

    log = write_tiny_log(tmp_path / "tiny.csv")
    cfg = tiny_config(log, scarcity={"user_fractions": [1.0]}, sources=["self"], dp_epsilons=[],
                      generators=[{"name": "latent-factor", "params": {"n_factors": 4, "calibration_iters": 0}}],
                      strategies=["real-only", "augment"], recommenders=[{"name": "pop"}], seeds=[0, 1])
    (tmp_path / "bench.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setattr(synthrec.progress, "LOG_INTERVAL_S", 3600.0)  # a sweep far shorter than the interval
    res = CliRunner().invoke(app, ["bench", str(tmp_path / "bench.yaml"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert _steps(res.stderr) == ["bench tiny 0/4",
                                  "bench tiny 0/4: tiny leave-last-out users=1 seed 0: real-only / ceiling",
                                  "bench tiny 4/4: done"]


def test_generate_logs_shards_on_stderr_when_piped(tmp_path: Path, shared_data: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import synthrec.progress

    _log(shared_data, tmp_path / "log.csv")
    fit = CliRunner().invoke(app, ["fit", str(tmp_path / "log.csv"), "--out", str(tmp_path / "g.pkl"),
                                   "--param", "n_factors=4", "--quiet"])
    assert fit.exit_code == 0, fit.output
    monkeypatch.setattr(synthrec.progress, "LOG_INTERVAL_S", 0.0)
    res = CliRunner().invoke(app, ["generate", str(tmp_path / "g.pkl"), "--users", "40", "--shard-users", "10",
                                   "--out", str(tmp_path / "shards")])
    assert res.exit_code == 0, res.output
    assert "\r" not in res.stderr and "\x1b" not in res.stderr and "\r" not in res.stdout
    steps = _steps(res.stderr)
    label = "40 users → 4 shards on "
    assert steps[0].startswith(label) and steps[0].endswith(" 0/4")
    counted = [s for s in steps if re.search(r" [1-4]/4: [\d,]+ rows · [\d,]+ rows/s$", s)]
    assert [s.split(": ", 1)[0][-3:] for s in counted] == ["1/4", "2/4", "3/4", "4/4"], steps
    assert steps[-1].startswith(label) and steps[-1].endswith(" 4/4: done")
    assert not _steps(res.stdout) and "wrote" in res.stdout
    quiet = CliRunner().invoke(app, ["generate", str(tmp_path / "g.pkl"), "--users", "40", "--shard-users", "10",
                                     "--out", str(tmp_path / "q"), "--quiet"])
    assert quiet.exit_code == 0 and not _steps(quiet.stderr)
    # resuming a finished run: every shard is reused, so the lines say so instead of "0 rows/s"
    again = CliRunner().invoke(app, ["generate", str(tmp_path / "g.pkl"), "--users", "40", "--shard-users", "10",
                                     "--out", str(tmp_path / "shards")])
    assert again.exit_code == 0, again.output
    resumed = [s for s in _steps(again.stderr) if re.search(r" [1-4]/4: ", s) and not s.endswith("done")]
    assert resumed and all(re.search(r"[\d,]+ rows, reused$", s) for s in resumed), _steps(again.stderr)
    assert "rows/s" not in again.stderr
