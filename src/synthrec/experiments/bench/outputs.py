"""Write a sweep's derived files (statistics CSVs and the HTML page) from its tidy table."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synthrec.data.atomic import atomic_write
from synthrec.experiments.bench.cells import expand
from synthrec.experiments.bench.config import BenchConfig
from synthrec.experiments.bench.page import write_page
from synthrec.experiments.bench.stats import auto_report, summarise, versus_best_real, worth_table
from synthrec.experiments.bench.store import ResultStore


def _csv(frame: pl.DataFrame, path: Path) -> Path:
    return atomic_write(path, lambda tmp: frame.write_csv(tmp))


def write_outputs(cfg: BenchConfig, out_dir: str | Path, *, config_text: str = "") -> list[Path]:
    """Write summary.csv, versus_real.csv, worth.csv, auto.csv and index.html into ``out_dir`` (each
    atomically) from the cells of ``cfg`` finished there. Returns the paths written.

    versus_real.csv is `versus_best_real` (verdict from the Holm-adjusted paired t-test, the exact
    Wilcoxon test's columns and verdict_wilcoxon alongside), worth.csv `worth_table` (with worth_bound and
    bound), auto.csv the per-group half of `auto_report`, summary.csv `summarise`; the page is
    `synthrec.experiments.bench.page.write_page`. versus_real.csv and worth.csv end with a ``metric``
    column (NDCG@10). results.csv is not written here: `run_sweep` keeps it (the config's cells only)."""
    out = Path(out_dir)
    table = ResultStore(out).table([c.id for c in expand(cfg)])
    ids = {c.id for c in expand(cfg)}
    table = table.filter(pl.col("cell_id").is_in(list(ids)))  # parts of an older config are left out
    summary = summarise(table)
    _, auto = auto_report(table)
    paths = [
        _csv(summary, out / "summary.csv"),
        _csv(versus_best_real(table), out / "versus_real.csv"),
        _csv(worth_table(summary), out / "worth.csv"),
        _csv(auto, out / "auto.csv"),
        write_page(table, out / "index.html", title=f"synthrec bench: {cfg.name}", config_text=config_text),
    ]
    return paths
