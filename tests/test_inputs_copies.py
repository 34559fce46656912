"""`fit` and `sample` warn when the generator's synthetic users copy real ones (issue 12): a log of one
user cannot be generalised, and its samples are exact copies of that user."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from synthrec.cli import app
from synthrec.commands.model import COPY_SHARE_ATTR
from synthrec.generators.base import BaseGenerator

runner = CliRunner()


def test_one_user_log_warns_at_fit_and_sample(tmp_path: Path) -> None:
    log = tmp_path / "one.csv"
    log.write_text("user,item\n" + "\n".join(f"u1,i{k}" for k in range(6)) + "\n")
    gen = tmp_path / "gen.pkl"
    res = runner.invoke(app, ["fit", str(log), "--out", str(gen), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "100% of synthetic histories" in res.output and "identical to a real user" in res.output
    assert getattr(BaseGenerator.load(gen), COPY_SHARE_ATTR) == 1.0
    res = runner.invoke(app, ["sample", str(gen), "--users", "3", "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    assert "identical to a real user" in res.output


def test_a_generalising_fit_does_not_warn(tmp_path: Path) -> None:
    log = tmp_path / "many.csv"
    rng = np.random.default_rng(0)
    rows = [f"{u},{i}" for u in range(150) for i in rng.choice(60, size=10, replace=False)]
    log.write_text("user,item\n" + "\n".join(rows) + "\n")
    gen = tmp_path / "gen.pkl"
    res = runner.invoke(app, ["fit", str(log), "--out", str(gen), "--quiet", "--param", "n_factors=4"])
    assert res.exit_code == 0, res.output
    assert "identical to a real user" not in res.output
    share = getattr(BaseGenerator.load(gen), COPY_SHARE_ATTR)
    assert share is not None and share < 0.05


def test_near_copies_count_as_copies() -> None:
    """A generator that returns real users with one of their many items swapped copies them all the same."""
    import polars as pl

    from synthrec.commands.model import copied_history_share
    from synthrec.data import InteractionData

    rng = np.random.default_rng(1)
    rows = [(f"u{u}", f"i{i}") for u in range(6) for i in rng.choice(200, size=40, replace=False)]
    real = InteractionData.from_frame(pl.DataFrame(rows, schema=["user", "item"], orient="row"), name="real")

    class NearCopier:
        def sample(self, n: int, *, seed: int) -> InteractionData:
            df = real.interactions
            first = df.group_by("user").agg(pl.col("item").first().alias("drop"))
            kept = df.join(first, on="user").filter(pl.col("item") != pl.col("drop")).drop("drop")
            return real.with_interactions(kept)  # each user keeps 39 of 40 items: Jaccard 0.975

    assert copied_history_share(NearCopier(), real) == 1.0


def test_sample_has_quiet(tmp_path: Path) -> None:
    log = tmp_path / "many.csv"
    rng = np.random.default_rng(0)
    log.write_text("user,item\n" + "\n".join(f"{u},{i}" for u in range(40) for i in rng.choice(30, 6, replace=False)))
    gen = tmp_path / "gen.pkl"
    assert runner.invoke(app, ["fit", str(log), "--out", str(gen), "-q", "--param", "n_factors=2"]).exit_code == 0
    res = runner.invoke(app, ["sample", str(gen), "--users", "5", "--out", str(tmp_path / "s.csv"), "-q"])
    assert res.exit_code == 0, res.output
    assert "sampling" not in res.output  # no progress line
    loud = runner.invoke(app, ["sample", str(gen), "--users", "5", "--out", str(tmp_path / "t.csv")])
    assert "sampling 5 users" in loud.output


def test_a_dp_model_file_carries_no_copy_statistic(tmp_path: Path) -> None:
    """The copy share is a statistic of the raw log, outside the ε ledger: a DP fit shows it to whoever fits
    (a note, not advice to use DP), and its model file does not carry it, so `sample` has nothing to say."""
    log = tmp_path / "one.csv"
    log.write_text("user,item\n" + "\n".join(f"u1,i{k}" for k in "abc") + "\n")
    gen = tmp_path / "gen.synthrec"
    res = runner.invoke(app, ["fit", str(log), "-g", "item-walk", "--param", "epsilon=1.0", "--out", str(gen),
                              "--quiet"])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "identical to a real user's history" in flat and "differentially private" in flat
    assert "use a private generator" not in flat
    assert getattr(BaseGenerator.load(gen), COPY_SHARE_ATTR) is None
    res = runner.invoke(app, ["sample", str(gen), "--users", "3", "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    assert "identical" not in res.output
