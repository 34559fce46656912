"""CPU-seconds and peak memory per process of `synthrec fit --streaming` as the log grows (issue 15).

Runs the command line as a user would, in a subprocess, and polls the RSS of every process of its tree
(the driver and each worker) every 0.2 s; CPU-seconds are the user + system time of the whole tree.
Each run starts from an empty cache (``--cache-dir`` in a fresh temporary folder), so it reads and
writes everything. Prints one markdown table row per run.

    OPENBLAS_NUM_THREADS=1 python benchmarks/stream_fit_scale.py \\
        --source 1e6=/work/runs/i15/src1e6 --source 1e7=/work/runs/i15/src1e7 --source 1e8=/work/runs/i15/src1e8 \\
        --generator latent-factor --generator item-walk --workers 1 --workers 2

The sources used in benchmarks/README.md are simulated with the product (`benchmarks/README.md` §20 has
the commands): the ecommerce preset with a 100,000-item catalogue.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil


def _tree_rss(proc: psutil.Process) -> dict[int, int]:
    """RSS in bytes of ``proc`` and each of its descendants, by pid."""
    out: dict[int, int] = {}
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return out
    for p in procs:
        try:
            out[p.pid] = p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return out


def run(cmd: list[str]) -> tuple[float, float, int, int, int]:
    """Run ``cmd``; returns (wall s, CPU s of the tree, driver peak RSS, largest worker peak RSS, rc)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ps = psutil.Process(proc.pid)
    peaks: dict[int, int] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            for pid, rss in _tree_rss(ps).items():
                peaks[pid] = max(peaks.get(pid, 0), rss)
            stop.wait(0.2)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    output, _ = proc.communicate()
    stop.set()
    watcher.join()
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode:
        print(output[-3000:], file=sys.stderr)
    driver = peaks.pop(proc.pid, 0)
    return wall, cpu, driver, max(peaks.values(), default=0), proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", action="append", required=True, help="LABEL=PATH of a Parquet log (repeatable)")
    ap.add_argument("--generator", action="append", default=None, help="latent-factor and/or item-walk")
    ap.add_argument("--workers", action="append", type=int, default=None, help="worker processes (repeatable)")
    ap.add_argument("--param", action="append", default=[], help="passed on as --param (e.g. max_items=4000)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the model files here (to compare bytes)")
    ap.add_argument("--backend", default=None, help="inprocess, processes or dask (default: as synthrec picks)")
    ap.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    ap.add_argument("--no-header", action="store_true", help="print rows only (to append to a table)")
    ap.add_argument("--label", default="", help="a note for the table's generator column (e.g. 'ε = 4')")
    args = ap.parse_args()
    generators = args.generator or ["latent-factor"]
    workers = args.workers or [1]
    exe = shutil.which("synthrec") or "synthrec"
    if not args.no_header:
        print("| generator (backend) | rows | files | workers | CPU-s | wall-s | driver peak RSS | worker peak RSS | "
              "model SHA-256 |")
        print("|---|---|---|---|---|---|---|---|---|")
    for spec in args.source:
        label, _, path = spec.partition("=")
        from synthrec.scale.stats import parquet_files

        files = parquet_files(path)
        for gen in generators:
            for w in workers:
                with tempfile.TemporaryDirectory(prefix="stream-fit-bench-") as tmp:
                    out = Path(tmp) / "model.synthrec"
                    cmd = [exe, "fit", path, "--streaming", "-g", gen, "-o", str(out), "-q",
                           "--cache-dir", str(Path(tmp) / "cache")]
                    if w > 1 and args.scheduler is None:
                        cmd += ["--workers", str(w)]
                    if args.backend:
                        cmd += ["--backend", args.backend]
                    if args.scheduler:
                        cmd += ["--scheduler", args.scheduler]
                    for p in args.param:
                        cmd += ["--param", p]
                    where = ("external Dask" if args.scheduler else args.backend
                             or ("processes" if w > 1 else "inprocess"))
                    wall, cpu, driver, worker, rc = run(cmd)
                    digest = hashlib.sha256(out.read_bytes()).hexdigest()[:12] if out.is_file() else "failed"
                    if args.keep is not None and out.is_file():
                        args.keep.mkdir(parents=True, exist_ok=True)
                        tag = "".join(ch for ch in args.label if ch.isalnum())
                        shutil.copy(out, args.keep / f"{gen}{tag}-{label}-w{w}-{where.replace(' ', '')}.synthrec")
                    mib = 1 << 20
                    print(f"| {gen}{' ' + args.label if args.label else ''} ({where}) | {label} | {len(files)} | {w} | {cpu:,.0f} | {wall:,.0f} | {driver / mib:,.0f} MiB"
                          f" | {worker / mib:,.0f} MiB | {digest}{'' if rc == 0 else ' (rc ' + str(rc) + ')'} |",
                          flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
