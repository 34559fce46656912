"""The quality report opens in a real browser, offline: headless Chromium loads it, every section is in the
DOM, every embedded figure decodes (naturalWidth > 0), and a full-page screenshot is drawn.

Skips when Chromium is absent (`make test` installs Debian's package) or ../shared/data is missing.
The screenshot stays in the test's tmp dir (pytest keeps the last runs) as an artefact to look at.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from synthrec.commands.report import register
from synthrec.data.readers import read_table
from synthrec.data.splits import split_users
from synthrec.data.writers import write_interactions
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.report.quality import SECTIONS

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
#: no network, no first-run work, no background services; the user-data dir is per test
OFFLINE_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND"]
FIGURES = ["fig-popularity", "fig-activity", "fig-ratings", "fig-gaps", "fig-dcr", "fig-bias", "fig-utility"]
STATUS_RGB = {"pass": (0x2F, 0x85, 0x5A), "warn": (0xB7, 0x79, 0x1F), "fail": (0xC5, 0x30, 0x30)}

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it: "
                                                           "apt-get install chromium)")


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    res = subprocess.run([CHROMIUM, *OFFLINE_FLAGS, f"--user-data-dir={profile}", *args],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res


@pytest.fixture(scope="module")
def report_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quality report of 75 synthetic users against a 150-user slice of ml-100k (members = a seeded half),
    with the utility audit, so every figure the page can hold is drawn."""
    work = tmp_path_factory.mktemp("quality-report")
    raw = pl.read_csv(shared_data / "ml-100k" / "u.data", separator="\t", has_header=False,
                      new_columns=["user", "item", "rating", "timestamp"])
    raw.filter(pl.col("user") <= 150).write_csv(work / "real.csv")
    real = read_table(work / "real.csv", rating_col="rating", time_col="timestamp")
    members, _ = split_users(real, 0.5, seed=0)  # the split `synthrec report --seed 0` makes
    gen = LatentFactorGenerator(8, calibration_users=300, gram_items=300, seed=0).fit(members.compact_users())
    write_interactions(gen.sample(75, seed=1), work / "syn.csv")
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test root."""

    res = CliRunner().invoke(app, ["report", "--real", str(work / "real.csv"), "--synthetic",
                                   str(work / "syn.csv"), "--out", str(work / "out"), "--seed", "0",
                                   "--fitted-on-members", "--utility", "--quiet"])
    assert res.exit_code == 0, res.output
    return work / "out"


def test_every_section_is_in_the_dom(report_dir: Path, tmp_path: Path) -> None:
    # The page needs no script to show its content (the one inline script only marks decoded figures);
    # headless Chromium's --dump-dom itself needs scripts enabled, so they stay on here.
    dom = _chromium(tmp_path / "profile", "--dump-dom", (report_dir / "report.html").as_uri()).stdout
    for section in SECTIONS:
        assert f'<section id="{section}">' in dom, section
    assert re.findall(r'<img id="([^"]+)" alt="[^"]+"', dom) == FIGURES
    payload = json.loads((report_dir / "results.json").read_text())
    for c in payload["cards"]:
        assert f'id="card-{c["audit"]}" data-status="{c["status"]}"' in dom
    assert "<script src" not in dom and "<link" not in dom  # nothing external to load


def test_every_figure_decodes_in_the_browser(report_dir: Path, tmp_path: Path) -> None:
    dom = _chromium(tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom",
                    (report_dir / "report.html").as_uri()).stdout
    assert f'data-images-loaded="{len(FIGURES)}/{len(FIGURES)}"' in dom
    marks = dict(re.findall(r'<img id="([^"]+)"[^>]*data-loaded="(yes|no)"', dom))
    assert marks == dict.fromkeys(FIGURES, "yes")


def test_screenshot_is_drawn(report_dir: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,4000", "--hide-scrollbars",
              (report_dir / "report.html").as_uri())
    raw = shot.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 50_000
    width, height = struct.unpack(">II", raw[16:24])  # IHDR
    assert (width, height) == (1280, 4000)
    import matplotlib.image as mpimg

    pixels = (mpimg.imread(shot)[..., :3] * 255).round().astype(np.int16)
    assert pixels.std() > 10  # not a blank page
    # the cards are coloured: each status on a card appears as its colour somewhere on the page
    payload = json.loads((report_dir / "results.json").read_text())
    for status in {c["status"] for c in payload["cards"]} & set(STATUS_RGB):
        near = np.abs(pixels - np.array(STATUS_RGB[status])).max(axis=-1) <= 6
        assert near.sum() > 200, status
