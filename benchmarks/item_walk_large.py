"""item-walk on large catalogues: sampling speed of the dense and the sparse (top-k neighbours) walk.

Issue 15, item 3. For each catalogue size (items of the simulated shop), the script

1. writes the ``ecommerce`` preset with ``items.count`` set to that size and simulates a log
   (``synthrec simulate --scenario ... --users N``) under ``--out`` (default /work/runs/i15w, outside the
   repository), unless the log is already there;
2. fits `ItemWalkGenerator` once, dense (``neighbours=None``, ``max_items`` modelled items, no calibration:
   the calibration walks would time the dense walk many times over), and records the fit's CPU seconds;
3. builds from the same fitted W the dense `WalkModel` and sparse ones keeping k ∈ ``--neighbours`` per row
   (`top_neighbours`; same bias and scale), and times `synthrec.generators._walk.walk` on the same
   activities (``--walk-users`` users, lengths drawn from the fitted activity distribution, as `sample`
   does) — CPU seconds by `time.process_time`, one BLAS thread; rows per CPU-second = drawn items / CPU-s.
   Each sparse model is timed with the touched-set sampler forced (``sampler="sparse"``).
   The dense walk is timed on fewer users when the catalogue is large (its cost is Σ n_u · m).
4. fits the default generator (sparse, calibrated; its walks use ``sampler="auto"``) and times `fit` and
   `sample` of ``--walk-users`` users end to end (ratings and times included).

Run (venv active, from the project root):

    OPENBLAS_NUM_THREADS=1 python benchmarks/item_walk_large.py --items 2000 20000 100000

Prints one markdown table (and writes it to ``--out``/speed.md, with JSON lines in speed.jsonl).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from synthrec.data.interactions import InteractionData
from synthrec.generators._walk import WalkModel, walk
from synthrec.generators.item_walk import ItemWalkGenerator, top_neighbours

PRESET = Path(__file__).resolve().parent.parent / "src" / "synthrec" / "generators" / "simulator" / "presets" / "ecommerce.yaml"
#: users simulated per catalogue size (enough that most of the catalogue is used)
USERS = {2000: 3000, 20000: 20000, 100000: 60000}


def catalogue(items: int, out: Path) -> Path:
    """Simulate (once) the ecommerce preset with ``items`` products; returns the folder."""
    folder = out / f"cat{items}"
    if (folder / "interactions.parquet").exists():
        return folder
    text = PRESET.read_text()
    text, n = re.subn(r"(\nitems:\n  count: )\d+", rf"\g<1>{items}", text)
    assert n == 1, "the preset's items.count was not found"
    scenario = out / f"ecommerce-{items}.yaml"
    scenario.write_text(text)
    users = USERS.get(items, max(3000, items // 2))
    subprocess.run(["synthrec", "simulate", str(scenario), "--users", str(users), "--out", str(folder), "-q"],
                   check=True)
    return folder


def load(folder: Path) -> InteractionData:
    frame = pl.read_parquet(folder / "interactions.parquet").select("user", "item", "timestamp")
    return InteractionData.from_frame(frame, time_col="timestamp", name=folder.name)


def cpu(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """``fn(*args, **kwargs)`` and the CPU seconds it took (every thread of the process)."""
    t0 = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--items", type=int, nargs="+", default=[2000, 20000, 100000])
    p.add_argument("--max-items", type=int, default=3000)
    p.add_argument("--neighbours", type=int, nargs="+", default=[50, 100, 200])
    p.add_argument("--walk-users", type=int, default=2000)
    p.add_argument("--dense-cells", type=float, default=4e9, help="dense walk users capped at this / (n̄ m)")
    p.add_argument("--out", type=Path, default=Path("/work/runs/i15w"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    records = []
    for items in args.items:
        data = load(catalogue(items, args.out))
        m = data.n_items
        gen, fit_s = cpu(ItemWalkGenerator(neighbours=None, max_items=args.max_items, calibration_rounds=0,
                                           seed=args.seed).fit, data)
        dense: WalkModel = gen.walk_
        rng = np.random.default_rng(args.seed)
        pct = rng.random(args.walk_users)
        lengths = np.clip(np.rint(gen.trait_quantiles_["log_activity"].ppf(pct)), 1, m).astype(np.int64)
        base = {"items": m, "log_users": data.n_users, "log_rows": data.n_interactions,
                "modelled": len(dense.modelled), "mean_length": float(lengths.mean()), "fit_dense_cpu_s": fit_s}
        print(f"catalogue {m:,} items, {data.n_users:,} users; fit {fit_s:.1f} CPU-s", file=sys.stderr)
        models = [("dense", dense)]
        for k in args.neighbours:
            indptr, indices, vals = top_neighbours(dense.weights, dense.modelled, k)
            models.append((f"k={k}", replace(dense, weights=None, indptr=indptr, indices=indices, data=vals)))
        with threadpool_limits(limits=1, user_api="blas"):
            for name, model in models:
                n = len(lengths)
                if name == "dense":
                    n = int(min(n, max(50, args.dense_cells // max(lengths.mean() * m, 1))))
                how = "dense" if name == "dense" else "sparse"
                (rows, _, _), s = cpu(walk, model, lengths[:n], np.random.default_rng(1), sampler=how)
                rec = {**base, "walk": name, "users": n, "rows": len(rows), "cpu_s": s, "rows_per_cpu_s": len(rows) / s}
                print(json.dumps(rec), file=sys.stderr)
                records.append(rec)
            full, fs = cpu(ItemWalkGenerator(max_items=args.max_items, seed=args.seed).fit, data)
            syn, ss = cpu(full.sample, args.walk_users, seed=2)
            rec = {**base, "walk": f"default generator (k={full.neighbours}) fit + sample", "users": args.walk_users,
                   "rows": syn.n_interactions, "cpu_s": ss, "rows_per_cpu_s": syn.n_interactions / ss,
                   "fit_cpu_s": fs}
            print(json.dumps(rec), file=sys.stderr)
            records.append(rec)
    lines = ["| catalogue items | modelled | mean items / user | walk | users timed | rows | CPU-s | rows / CPU-s |",
             "|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in records:
        lines.append(f"| {r['items']:,} | {r['modelled']:,} | {r['mean_length']:.1f} | {r['walk']} | {r['users']:,} | "
                     f"{r['rows']:,} | {r['cpu_s']:.2f} | {r['rows_per_cpu_s']:,.0f} |")
    table = "\n".join(lines)
    print(table)
    (args.out / "speed.md").write_text(table + "\n")
    with (args.out / "speed.jsonl").open("a") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
