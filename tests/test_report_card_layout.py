"""Audit cards hold their content in a real browser: long figure keys and long numbers wrap inside the card
instead of spilling over the next one (a new user's trial found `gap_median_*` values drawn over the
neighbouring card). The page's load script lists the overflowing cards in ``data-cards-overflowing``.

Skips when Chromium is absent or ../shared/data is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from synthrec.commands.report import register
from synthrec.data.readers import read_table
from synthrec.data.splits import split_users
from synthrec.data.writers import write_interactions
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.report.quality import render_quality_html

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
OFFLINE_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def payload(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The results.json of a quality report of 40 synthetic users against an 80-user slice of ml-100k."""
    work = tmp_path_factory.mktemp("card-layout")
    raw = pl.read_csv(shared_data / "ml-100k" / "u.data", separator="\t", has_header=False,
                      new_columns=["user", "item", "rating", "timestamp"])
    raw.filter(pl.col("user") <= 80).write_csv(work / "real.csv")
    real = read_table(work / "real.csv", rating_col="rating", time_col="timestamp")
    members, _ = split_users(real, 0.5, seed=0)
    gen = LatentFactorGenerator(4, calibration_users=100, gram_items=200, seed=0).fit(members.compact_users())
    write_interactions(gen.sample(40, seed=1), work / "syn.csv")
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test root."""

    res = CliRunner().invoke(app, ["report", "--real", str(work / "real.csv"), "--synthetic",
                                   str(work / "syn.csv"), "--out", str(work / "out"), "--seed", "0",
                                   "--fitted-on-members", "--quiet"])
    assert res.exit_code == 0, res.output
    return json.loads((work / "out" / "results.json").read_text())


def _overflowing_cards(html: str, tmp_path: Path, width: int) -> str:
    assert CHROMIUM is not None
    page = tmp_path / f"report-{width}.html"
    page.write_text(html, encoding="utf-8")
    res = subprocess.run([CHROMIUM, *OFFLINE_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          f"--window-size={width},2000", "--virtual-time-budget=10000", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    found = re.search(r'data-cards-overflowing="([^"]*)"', res.stdout)
    assert found is not None, "the page's load script did not run"
    return found.group(1)


@pytest.mark.parametrize("width", [1280, 560])
def test_long_card_details_stay_inside_their_card(payload: dict[str, Any], tmp_path: Path, width: int) -> None:
    cards = {c["audit"]: c for c in payload["cards"]}
    # the values of the trial's bug report, made longer: a median gap of years in seconds, an unrounded
    # share, and a long key with no place to break but its underscores
    cards["time_gaps"]["details"].update(gap_median_real=123_456_789.0, gap_median_synthetic=98_765.4321)
    cards["popularity_bias"]["details"]["popularity_head_share_real"] = 0.633712345678
    cards["popularity"]["details"]["a_very_long_figure_key_with_many_underscores_in_it"] = 0.5
    assert _overflowing_cards(render_quality_html(payload), tmp_path, width) == "none"


def test_the_overflow_check_sees_a_spilling_card(payload: dict[str, Any], tmp_path: Path) -> None:
    # the check itself: a card forced to keep an unbreakable line (as before the fix) is reported
    unbreakable = " .card td { white-space: nowrap; overflow-wrap: normal; }\n</style>"
    html = render_quality_html(payload).replace("</style>", unbreakable, 1)
    html = html.replace("<td>popularity_", "<td>popularity_" + "x" * 80, 1)
    assert "card-popularity" in _overflowing_cards(html, tmp_path, 1280).split()
