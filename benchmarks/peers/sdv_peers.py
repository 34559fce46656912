"""SDV's GaussianCopula and CTGAN synthesizers on the ml-100k interaction table (peer benchmark, issue 6).

Runs ONLY inside the peer venv ``benchmarks/.venv-peers`` (SDV, ctgan, rdt and copulas are under the
Business Source License: they are never a dependency of synthrec; see README.md beside this file). It
imports nothing from synthrec, so it needs only pandas and SDV.

What a user following SDV's documentation would do:

* read ``u.data`` with pandas, naming the columns as ml-100k's README does (user id, item id, rating,
  timestamp → ``user_id``, ``item_id``, ``rating``, ``timestamp``);
* detect the metadata with ``Metadata.detect_from_dataframes`` and use it as detected. With SDV 2.0 it
  gives ``user_id``/``item_id`` sdtype ``id`` (not a key: SDV models such columns with its categorical
  transformer, so sampled ids are ids seen in the data), ``rating`` ordinal, ``timestamp`` numerical;
  the detected metadata is written to the JSON;
* fit with default settings, then sample.

Measured, wall (`time.perf_counter`) and CPU seconds of this process (`time.process_time`, all threads):

* GaussianCopula: ``fit``; ``sample`` of ``--gc-rows`` rows (default 10 million) in calls of
  ``--chunk-rows`` rows, stopping early after ``--max-sample-s`` wall seconds (compare.py then
  extrapolates linearly and says so).
* CTGAN: ONE epoch only (``epochs=1``), timed in parts: ``preprocess`` (SDV's transformers), then
  ``fit_processed_data`` (ctgan's own data transformer + sampler set-up + the epoch); the set-up is timed
  again on its own (ctgan's ``DataTransformer`` fit/transform and ``DataSampler``) and subtracted to get
  the time of one epoch. The fit at the default 300 epochs is a PROJECTION:
  preprocess + set-up + 300 × epoch. Sampling throughput: ``--ctgan-rows`` rows from the 1-epoch model
  (sampling cost does not depend on the number of epochs; the sample's fidelity is that of a 1-epoch
  model).

Writes ``<out>/gaussian-copula/{sample.csv,timings.json}`` and ``<out>/ctgan/{sample.csv,timings.json}``
(the first ``--fidelity-rows`` rows sampled; CSV because the peer venv has no pyarrow).

Run from the project root (one thread, like synthrec's side):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        benchmarks/.venv-peers/bin/python benchmarks/peers/sdv_peers.py [--only gaussian-copula|ctgan]
"""

from __future__ import annotations

import os

# one thread for numpy/torch unless the caller says otherwise, set before they load
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "ml-100k" / "u.data"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "synthrec-peers"
TABLE = "ratings"
DEFAULT_EPOCHS = 300  # CTGANSynthesizer's default


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; return (its result, wall seconds, CPU seconds of this process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def load(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", names=["user_id", "item_id", "rating", "timestamp"])


def as_table(sampled: Any) -> pd.DataFrame:
    """SDV 2 returns ``{table: frame}``; older releases a frame."""
    return sampled[TABLE] if isinstance(sampled, dict) else sampled


def sample_rows(synth: Any, rows: int, chunk_rows: int, max_wall_s: float,
                keep_rows: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """Sample in calls of ``chunk_rows`` until ``rows`` rows or ``max_wall_s``; timings and the first rows."""
    drawn, kept = 0, []
    w0, c0 = time.perf_counter(), time.process_time()
    while drawn < rows and time.perf_counter() - w0 <= max_wall_s:
        frame = as_table(synth.sample(num_rows=min(chunk_rows, rows - drawn)))
        if drawn < keep_rows:
            kept.append(frame)
        drawn += len(frame)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    head = pd.concat(kept, ignore_index=True).head(keep_rows)
    return {"sample_rows": drawn, "sample_wall_s": wall, "sample_cpu_s": cpu}, head


def write_result(out: Path, tool: str, timings: dict[str, Any], head: pd.DataFrame) -> None:
    folder = out / tool
    folder.mkdir(parents=True, exist_ok=True)
    head.rename(columns={"user_id": "user", "item_id": "item"}).to_csv(folder / "sample.csv", index=False)
    record = {"tool": tool, **timings, "load_average": os.getloadavg()}
    (folder / "timings.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    print(json.dumps(record, default=str), flush=True)


def run_gaussian_copula(df: pd.DataFrame, metadata: Any, args: argparse.Namespace) -> None:
    from sdv.single_table import GaussianCopulaSynthesizer

    synth = GaussianCopulaSynthesizer(metadata)
    _, fit_wall, fit_cpu = timed(lambda: synth.fit({TABLE: df}))
    timings, head = sample_rows(synth, args.gc_rows, args.chunk_rows, args.max_sample_s, args.fidelity_rows)
    timings.update(fit_wall_s=fit_wall, fit_cpu_s=fit_cpu, fit_projected=False,
                   settings="GaussianCopulaSynthesizer(metadata) defaults, auto-detected metadata",
                   metadata=metadata.to_dict())
    write_result(args.out, "gaussian-copula", timings, head)


def ctgan_setup_seconds(synth: Any, processed: pd.DataFrame) -> tuple[float, float]:
    """Wall and CPU seconds of ctgan's per-fit set-up (data transformer fit + transform, data sampler).

    Uses the discrete/continuous split the fitted model chose, so it repeats exactly the work that
    ``CTGAN.fit`` does before its first epoch.
    """
    from ctgan.data_sampler import DataSampler
    from ctgan.data_transformer import DataTransformer

    model = synth._model  # the wrapped ctgan.CTGAN; SDV exposes no public handle for this
    discrete = [info.column_name for info in model._transformer._column_transform_info_list
                if info.column_type == "discrete"]

    def setup() -> None:
        transformer = DataTransformer()
        transformer.fit(processed, discrete)
        data = transformer.transform(processed)
        DataSampler(data, transformer.output_info_list, model._log_frequency)

    _, wall, cpu = timed(setup)
    return wall, cpu


def run_ctgan(df: pd.DataFrame, metadata: Any, args: argparse.Namespace) -> None:
    import torch
    from joblib import parallel_config
    from sdv.single_table import CTGANSynthesizer

    torch.set_num_threads(args.threads)
    synth = CTGANSynthesizer(metadata, epochs=1, enable_gpu=False)
    # ctgan's DataTransformer.transform fans out with joblib's default (process-based) backend, whose
    # worker CPU time `process_time` cannot see: threads keep that work inside this process.
    with parallel_config(backend="threading"):
        processed, pre_wall, pre_cpu = timed(lambda: synth.preprocess({TABLE: df}))
        _, fp_wall, fp_cpu = timed(lambda: synth.fit_processed_data(processed))
        setup_wall, setup_cpu = ctgan_setup_seconds(synth, as_table(processed))
        epoch_wall, epoch_cpu = max(fp_wall - setup_wall, 0.0), max(fp_cpu - setup_cpu, 0.0)
        timings, head = sample_rows(synth, args.ctgan_rows, args.ctgan_rows, args.max_sample_s,
                                    args.fidelity_rows)
    timings.update(
        fit_projected=True,
        fit_wall_s=pre_wall + setup_wall + DEFAULT_EPOCHS * epoch_wall,
        fit_cpu_s=pre_cpu + setup_cpu + DEFAULT_EPOCHS * epoch_cpu,
        projection=f"preprocess + set-up + {DEFAULT_EPOCHS} x one measured epoch",
        measured={"preprocess_wall_s": pre_wall, "preprocess_cpu_s": pre_cpu,
                  "fit_processed_1_epoch_wall_s": fp_wall, "fit_processed_1_epoch_cpu_s": fp_cpu,
                  "setup_wall_s": setup_wall, "setup_cpu_s": setup_cpu,
                  "epoch_wall_s": epoch_wall, "epoch_cpu_s": epoch_cpu},
        settings=f"CTGANSynthesizer(metadata, epochs=1, enable_gpu=False), otherwise defaults "
                 f"(batch_size 500, pac 10); torch threads {args.threads}; joblib threading backend; "
                 "auto-detected metadata; "
                 "the sample comes from the 1-epoch model",
        torch_threads=torch.get_num_threads(),
    )
    write_result(args.out, "ctgan", timings, head)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", choices=("gaussian-copula", "ctgan"), default=None)
    ap.add_argument("--gc-rows", type=int, default=10_000_000, help="GaussianCopula rows to sample")
    ap.add_argument("--chunk-rows", type=int, default=1_000_000, help="rows per GaussianCopula sample call")
    ap.add_argument("--ctgan-rows", type=int, default=100_000, help="CTGAN rows to sample (throughput)")
    ap.add_argument("--fidelity-rows", type=int, default=100_000, help="rows written for compare.py")
    ap.add_argument("--max-sample-s", type=float, default=600.0,
                    help="stop sampling after this many wall seconds (compare.py extrapolates)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for CTGAN")
    args = ap.parse_args()

    from sdv.metadata import Metadata

    warnings.filterwarnings("ignore", category=FutureWarning)
    df = load(args.data)
    metadata = Metadata.detect_from_dataframes({TABLE: df})
    print(f"{len(df):,} rows; detected metadata {metadata.to_dict()}; load average {os.getloadavg()}",
          flush=True)
    if args.only in (None, "gaussian-copula"):
        run_gaussian_copula(df, metadata, args)
    if args.only in (None, "ctgan"):
        run_ctgan(df, metadata, args)


if __name__ == "__main__":
    main()
