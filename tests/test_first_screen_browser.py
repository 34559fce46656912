"""The run report's first screen in a real browser: at 1280 × 900 the verdict, the auto/ceiling table and the
failed audits end above the fold, and nothing there spills out of its box (also at 560 px wide).

Skips when Chromium is absent (`make test` installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from synthrec.experiments.findings import verdicts
from synthrec.experiments.results import results_dict, summary_frame
from synthrec.report.html import write_run_report

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
OFFLINE_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


def _dom(page: Path, tmp_path: Path, width: int) -> str:
    assert CHROMIUM is not None
    res = subprocess.run([CHROMIUM, *OFFLINE_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          f"--window-size={width},900", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


@pytest.mark.parametrize("width", [1280, 560])
def test_first_screen_is_above_the_fold_and_inside_its_boxes(tmp_path: Path, width: int) -> None:
    from test_first_screen import _run

    result = _run({"real-only": [0.10, 0.20, 0.30], "augment x1 [source]": [0.05, 0.10, 0.20],
                   "auto": [0.12, 0.23, 0.33], "ceiling": [0.2, 0.3, 0.4]},
                  ["augment x1 [source]", "augment x1 [source]", "pretrain-finetune x1 [source]"])
    page = tmp_path / "report.html"
    write_run_report(results_dict(result), summary_frame(result), verdicts(result), page)
    dom = _dom(page, tmp_path, width)
    bottom = re.search(r'data-first-screen-bottom="(\d+)"', dom)
    assert bottom is not None, "the page's load script did not run"
    if width == 1280:
        assert int(bottom.group(1)) <= 900
    assert re.search(r'data-overflowing="([^"]*)"', dom).group(1) == "none"  # type: ignore[union-attr]
