"""`synthrec run` with a config whose ``ks`` are not the default [10, 20]: the console table, the findings
and report.html lead with NDCG@10 (else NDCG at the smallest k) and Recall@20 (else at the largest k)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench_fixtures import write_tiny_log
from synthrec.cli import app
from synthrec.evaluation.metrics import headline_metrics, metric_ks


def test_headline_metrics_follow_the_configured_ks() -> None:
    assert headline_metrics([10, 20]) == ("NDCG@10", "Recall@20")
    assert headline_metrics([5]) == ("NDCG@5", "Recall@5")
    assert headline_metrics([10]) == ("NDCG@10", "Recall@10")
    assert headline_metrics([50, 5, 20]) == ("NDCG@5", "Recall@20")
    assert headline_metrics([5, 50]) == ("NDCG@5", "Recall@50")
    assert metric_ks(["NDCG@5", "Recall@50", "NDCG@20", "coverage@5"]) == [5, 20]
    with pytest.raises(ValueError):
        headline_metrics([])


def _run(tmp_path: Path, ks: str) -> tuple[str, str]:
    csv = write_tiny_log(tmp_path / "log.csv", n_users=60)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"""name: ks-test
data: {{path: log.csv, user_col: user, item_col: item, rating_col: rating, time_col: timestamp}}
target: {{source_fraction: 0.0}}
sources: [self]
generator: {{name: latent-factor, params: {{n_factors: 4}}}}
models: [{{name: pop}}]
strategies: [real-only, augment]
augment_ratios: [1]
ks: {ks}
seeds: [0]
""")
    assert csv.is_file()
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 0, res.output
    return res.output, (tmp_path / "o" / "report.html").read_text()


def _row(output: str, arm: str) -> str:
    return next(line for line in output.splitlines() if arm in line and "│" in line)


def test_run_with_ks_5_shows_ndcg_at_5(tmp_path: Path) -> None:
    out, report = _run(tmp_path, "[5]")
    assert "NDCG@5" in out and "Recall@5" in out and "NDCG@10" not in out and "Recall@20" not in out
    # one row per arm, both metrics filled in (mean ± std)
    for arm in ("real-only", "augment x1 [self]"):
        assert len(re.findall(r"\d\.\d{4} ± \d\.\d{4}", _row(out, arm))) == 2
    assert "no NDCG" not in out and "no NDCG" not in report
    assert "NDCG@5" in report and "best synthetic arm" in out
    results = report.split('id="table"')[1].split("</table>")[0]
    assert results.count("<tr>") == 1 + 2 * 2  # header + 2 arms × (NDCG@5, Recall@5)
    assert "NDCG@5" in results and "Recall@5" in results


def test_run_with_ks_10_fills_the_recall_column(tmp_path: Path) -> None:
    out, report = _run(tmp_path, "[10]")
    assert "Recall@10" in out and "Recall@20" not in out
    for arm in ("real-only", "augment x1 [self]"):
        assert len(re.findall(r"\d\.\d{4} ± \d\.\d{4}", _row(out, arm))) == 2
    results = report.split('id="table"')[1].split("</table>")[0]
    assert results.count("<tr>") == 1 + 2 * 2 and "Recall@10" in results
