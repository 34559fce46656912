"""Run a config end to end and write its outputs: results.json, summary.csv, report.html (and, with an
external source's item map, group_summary.csv: the per-item-group results)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from synthrec.config import ExperimentConfig
from synthrec.data.atomic import atomic_write
from synthrec.errors import DataValidationError
from synthrec.experiments.data_source import load_data
from synthrec.experiments.external import prepare_external_source
from synthrec.experiments.findings import verdicts
from synthrec.experiments.pipeline import RunResult, check_components, run_experiment
from synthrec.experiments.results import group_summary_frame, results_dict, summary_frame, write_json_atomic
from synthrec.report import write_run_report


@dataclass(frozen=True)
class RunOutputs:
    result: RunResult
    summary: pl.DataFrame
    verdicts: list[str]
    results_json: Path
    summary_csv: Path
    report_html: Path


def execute(cfg: ExperimentConfig, out_dir: Path, *, base_dir: Path | None = None, progress: bool = True,
            log: Callable[[str], None] | None = None) -> RunOutputs:
    """Load the data, run every seed, and write the three output files into ``out_dir``.

    With an external ``source:``, it is loaded and its item map built once here; the map's coverage lines
    (and, when nothing maps, why its arms are skipped) go to ``log``.

    Files are written to temporary names and renamed, so an interrupted run leaves no half-written
    output (earlier complete outputs in ``out_dir`` are replaced only when the new ones are complete).
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise DataValidationError("the output path exists and is not a folder", source=str(out_dir),
                                  hint="give a folder for --out")
    check_components(cfg)
    data = load_data(cfg.data, base_dir)
    source = None
    if cfg.source is not None:
        source = prepare_external_source(cfg.source, data, base_dir)
        for line in (*source.lines, *([source.problem] if source.problem else [])):
            if log is not None:
                log(line)
    result = run_experiment(cfg, data, progress=progress, source=source)
    summary = summary_frame(result)
    found = verdicts(result)
    payload = results_dict(result)
    payload["findings"] = found
    out_dir.mkdir(parents=True, exist_ok=True)
    results_json = out_dir / "results.json"
    summary_csv = out_dir / "summary.csv"
    report_html = out_dir / "report.html"
    write_json_atomic(payload, results_json)
    _write_csv_atomic(summary, summary_csv)
    if result.external_source is not None:
        _write_csv_atomic(group_summary_frame(result), out_dir / "group_summary.csv")
    write_run_report(payload, summary, found, report_html)
    return RunOutputs(result, summary, found, results_json, summary_csv, report_html)


def _write_csv_atomic(frame: pl.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.write_csv(tmp))
