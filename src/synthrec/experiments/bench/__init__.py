"""`synthrec bench`: a resumable sweep over datasets × scarcity levels × sources × generators ×
strategies × recommenders × splits × seeds, with the statistics to read it (t-intervals over seeds,
paired Wilcoxon tests, "synthetic data is worth N real users") and a self-contained HTML page.

Modules: `config` (YAML schema), `cells` (grid → cells with content-hash ids), `frames` (data protocol),
`breakdowns` (cold/warm users, head/tail items), `execute` (running cells, local pool or Dask), `store`
(tidy table on disk), `stats`, `page`.
"""

from synthrec.experiments.bench.cells import Cell, Level, expand
from synthrec.experiments.bench.config import BenchConfig, load_bench_config, parse_bench_config
from synthrec.experiments.bench.execute import SweepSummary, run_sweep
from synthrec.experiments.bench.store import ResultStore

__all__ = ["BenchConfig", "Cell", "Level", "ResultStore", "SweepSummary", "expand", "load_bench_config",
           "parse_bench_config", "run_sweep"]
