"""Every command that writes checks, before any work, that it can write its output: one line naming the
path and what to do, exit code 2 (issue 12). A path under a regular file cannot be written even by root."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthrec.cli import app
from synthrec.commands._output import OutputNotWritableError, check_writable

runner = CliRunner()


@pytest.fixture()
def blocked(tmp_path: Path) -> Path:
    """A path whose parent is a regular file."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    return afile / "out"


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    path.write_text("user,item\n" + "\n".join(f"{u},{(u * 7 + k) % 13}" for u in range(30) for k in range(4)) + "\n")
    return path


def _assert_one_line(res: object, blocked: Path) -> None:
    out = res.output  # type: ignore[attr-defined]
    assert res.exit_code == 2, out  # type: ignore[attr-defined]
    assert "Traceback" not in out
    assert "cannot write" in out and "afile" in out and "is a file" in out
    assert not (blocked.parent.is_dir())


def test_check_writable_refuses_paths_under_a_file(blocked: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputNotWritableError, match=r"afile is a file"):
        check_writable(blocked, kind="folder")
    with pytest.raises(OutputNotWritableError, match=r"afile is a file"):
        check_writable(blocked / "g.pkl", kind="file")
    with pytest.raises(OutputNotWritableError, match=r"it is a folder"):
        check_writable(tmp_path, kind="file")
    check_writable(tmp_path / "new" / "deeper", kind="folder")
    assert not (tmp_path / "new").exists()  # the check leaves nothing behind


def test_fit_checks_before_fitting(blocked: Path, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import synthrec.commands.model as model

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data was loaded before the output was checked")

    monkeypatch.setattr(model, "load_cli_data", no_load)
    _assert_one_line(runner.invoke(app, ["fit", str(log), "--out", str(blocked / "gen.pkl")]), blocked)


def test_report_checks_before_reading_any_data(blocked: Path, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import synthrec.commands.report as report

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("a log was read before the output was checked")

    monkeypatch.setattr(report, "load_log", no_load)
    res = runner.invoke(app, ["report", "--real", str(log), "--synthetic", str(log), "--out", str(blocked)])
    _assert_one_line(res, blocked)
    assert len(res.output.strip().splitlines()) == 1, res.output
    # an existing file given as the folder is refused the same way
    res = runner.invoke(app, ["report", "--real", str(log), "--synthetic", str(log), "--out", str(log)])
    assert res.exit_code == 2 and "cannot write --out" in res.output and "is a file, not a folder" in res.output


@pytest.mark.parametrize("args", [
    ["run", "CONFIG", "--out", "BLOCKED"],
    ["demo", "--out", "BLOCKED"],
    ["init-config", "BLOCKED/x.yaml"],
    ["sample", "GEN", "--users", "3", "--out", "BLOCKED/s.csv"],
    ["generate", "GEN", "--users", "3", "--out", "BLOCKED"],
    ["simulate", "--preset", "PRESET", "--users", "3", "--out", "BLOCKED"],
    ["scenario", "init", "BLOCKED/s.yaml"],
    ["scenario", "calibrate", "LOG", "--out", "BLOCKED/c.yaml"],
    ["bench", "BENCH", "--out", "BLOCKED"],
    ["report", "--real", "LOG", "--synthetic", "LOG", "--out", "BLOCKED"],
])
def test_every_writing_command_checks_first(args: list[str], blocked: Path, log: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{path: {log}}}\ntarget: {{source_fraction: 0.0}}\n")
    gen = tmp_path / "gen.pkl"
    gen.write_bytes(b"never read: the output is checked first")
    bench = tmp_path / "bench.yaml"
    bench.write_text(f"datasets: [{{name: d, data: {{path: {log}}}}}]\n")
    subst = {"CONFIG": str(config), "GEN": str(gen), "LOG": str(log), "BENCH": str(bench),
             "PRESET": "ecommerce"}
    argv = [str(blocked) + a[len("BLOCKED"):] if a.startswith("BLOCKED") else subst.get(a, a) for a in args]
    _assert_one_line(runner.invoke(app, argv), blocked)
