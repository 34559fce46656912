"""DP scaling: how much of the ceiling the user-level DP `item-walk` generator carries, by source size and ε.

Users read off "how many source users do I need for ε = 1". Protocol (issue 13, item 3), per seed:

- Real sizes: the amazon-seq dataset (default Sports_and_Outdoors, top 2,000 items) is split as in
  benchmarks/transfer_share.py (90 % source users; the target is 20 % of the other 10 %, leave-last-out,
  a validation split carved from its training part). The source is then cut to N users (a seeded uniform
  draw) for each N in ``--sizes`` (the largest is the whole source).
- World sizes: a "world" stands in for sources larger than any public log: an exact `item-walk` generator
  fitted on the whole dataset (every user) at the likelihood-realistic scale `WORLD_SCALE`, and sampled. For each N in ``--world-sizes`` the source is N
  world users, and the target is drawn from the world the same way as the real target (as many pool users
  as the real protocol has; 20 % of them, leave-last-out), so its ceiling is measured on the world.
  A world is more regular than the log it was fitted on (the walk is more coherent than real users), so
  world rows show how the curve continues, not the value a real log of that size would give.
- ``--dataset ml-1m-subset`` (``../shared/data/ml-1m-subset``: 3,000 MovieLens-1M users, 69 ratings each
  on average over 1,462 films, every rating an interaction): the file has no event times and only 3,000 users,
  so the split is random leave-one-out and the target is the *whole* 10 % pool (300 users; 20 % of it would
  leave 60 test users), each user's training history cut to `ML1M_TARGET_CAP` random events (whole
  histories are not scarce). It adds a dense log's real sizes (1,000 and the whole 2,700-user source).
- Arms (EASE, λ tuned on validation over ``--ease-grid`` for every arm alike): real-only, the ceiling
  (target + the N raw source users), and augment (target + synthetic users from `item-walk` fitted on the
  N source users at each ε in ``--epsilons``; ``inf`` = the exact fit). Synthetic users: as many as the
  source holds, at most ``--max-synthetic``.
- Share of the ceiling = (augment − real-only) / (ceiling − real-only), NDCG@10, per seed; the table
  gives its mean ± 95 % t-interval half-width over seeds.

Run (from the project root, venv active; `runs/` is git-ignored):

    OPENBLAS_NUM_THREADS=1 python benchmarks/dp_scaling.py --seeds 0 1 2            # real sizes + world
    OPENBLAS_NUM_THREADS=1 python benchmarks/dp_scaling.py --summarize             # tables + figure

Outputs in ``--out`` (default runs/dp-scaling): records.jsonl (one line per seed, source kind, N, arm),
summary.md (the share table and each arm's NDCG@10 difference to real-only; the differences first on
ml-1m-subset) and dp-scaling.png (share against N, one line per ε). Resumable: finished
(seed, kind, N) blocks are skipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import transfer_share as ts

from synthrec.config import DataConfig
from synthrec.data.interactions import InteractionData
from synthrec.data.splits import cap_history, carve_validation, leave_last_out, leave_one_out, split_users
from synthrec.experiments.arms import Arm
from synthrec.experiments.bench.datasets import keep_top_items
from synthrec.experiments.data_source import load_data
from synthrec.experiments.scoring import eval_set
from synthrec.experiments.strategies import SyntheticPool, derive_seed
from synthrec.generators.registry import make_generator

EPSILONS = ("0.5", "1", "2", "4", "8", "inf")
#: relative scale of the world generator: where the held-out likelihood of real histories peaks (≈ 1 on
#: Beauty), so world users look like real ones; the default scale (32) makes users far more coherent than
#: real ones (EASE NDCG@10 ≈ 0.75 on such a world against ≈ 0.08 on the real log)
WORLD_SCALE = 1.0
KEY = ("dataset", "seed", "kind", "n_source")


ML1M_SUBSET = "ml-1m-subset"
#: events kept per target user on ml-1m-subset (random ones): its users rate 69 films on average, so a target
#: of whole histories is not scarce (real-only EASE 0.158 against a ceiling of 0.182 with 1,000 source users)
ML1M_TARGET_CAP = 10


def load(args: argparse.Namespace) -> InteractionData:
    """The dataset of ``--dataset``: an amazon-seq sequence file, or ml-1m-subset's ratings file."""
    if args.dataset != ML1M_SUBSET:
        return ts.load_dataset(Path(args.data_root), args.dataset)
    # the product's own reader, as bench-shared.yaml reads this file; ratings left out (every rating an
    # interaction, no rating model and so no rating releases under DP)
    config = DataConfig(path=Path(args.ml1m_path), column_names=["user", "item", "rating"], rating_col="none")
    return keep_top_items(load_data(config), ts.MAX_ITEMS).compact_users()


def real_block(data: InteractionData, seed: int, dataset: str) -> ts.Block:
    if dataset != ML1M_SUBSET:
        return ts.make_block(data, seed)
    # no event times: random leave-one-out; the whole 10 % pool is the target, each training history cut
    # to ML1M_TARGET_CAP random events so the target is scarce (see the module docstring)
    source, pool = split_users(data, 0.9, seed=derive_seed(seed, "source"))
    split = leave_one_out(pool.compact_users(), seed=derive_seed(seed, "split"))
    split = dataclasses.replace(split, train=cap_history(split.train, ML1M_TARGET_CAP, keep="random",
                                                         seed=derive_seed(seed, "cap")))
    validation = carve_validation(split, seed=derive_seed(seed, "validation"))
    return ts.Block(source.compact_users(), pool.compact_users(), split, validation)


def world_block(data: InteractionData, world: Any, n_source: int, n_pool: int, seed: int) -> ts.Block:
    """Source: ``n_source`` world users; target: 20 % of ``n_pool`` fresh world users (leave-last-out)."""
    source = world.sample(n_source, seed=derive_seed(seed, "world-source", str(n_source)))
    pool = world.sample(n_pool, seed=derive_seed(seed, "world-pool", str(n_source)))
    target, nonmembers = split_users(pool, 0.2, seed=derive_seed(seed, "target"))
    split = leave_last_out(target.compact_users())
    validation = carve_validation(split, seed=derive_seed(seed, "validation"))
    return ts.Block(source, nonmembers.compact_users(), split, validation)


def run_cell(block: ts.Block, kind: str, n_source: int, seed: int, args: argparse.Namespace) -> list[dict]:
    source = block.source if n_source >= block.source.n_users else ts.sample_users(
        block.source, n_source, derive_seed(seed, "cut", str(n_source))).compact_users()
    evals = (eval_set(block.validation), eval_set(block.split))
    grid = [{"l2": float(v)} for v in args.ease_grid]
    cell = ts.Block(source, block.nonmembers, block.split, block.validation)
    base = {"seed": seed, "kind": kind, "n_source": source.n_users, "dataset": args.dataset}
    rows = []
    for arm in (Arm("real-only"), Arm("ceiling")):
        res = ts.tune_and_test(arm, "ease", seed, grid, {}, cell, evals)
        rows.append({**base, "arm": arm.strategy, **res})
    for eps in args.epsilons:
        epsilon = None if eps == "inf" else float(eps)
        start = time.process_time()
        gen = make_generator("item-walk", seed=derive_seed(seed, "fit", eps), epsilon=epsilon).fit(source)
        fit_cpu = time.process_time() - start
        n_syn = min(source.n_users, args.max_synthetic)
        synthetic = gen.sample(n_syn, seed=derive_seed(seed, "sample", eps))
        pools = {"source": SyntheticPool(synthetic, n_syn)}
        res = ts.tune_and_test(Arm("augment", "source", 1.0), "ease", seed, grid, pools, cell, evals)
        rows.append({**base, "arm": f"item-walk@{eps}", "epsilon": eps, "fit_cpu_s": fit_cpu,
                     "n_synthetic": n_syn, **res})
        ts.log(f"{kind} N={source.n_users} seed {seed} ε={eps}: NDCG@10 {res['ndcg10']:.4f} (fit {fit_cpu:.1f} CPU s)")
    return rows


def run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    done = set(ts.latest(ts.read_jsonl(out / "records.jsonl"), KEY))
    data = load(args)
    ts.warm_imports([ts.parse_spec("item-walk@1")])
    world = None
    for seed in args.seeds:
        block = real_block(data, seed, args.dataset)
        n_pool = block.split.train.compact_users().n_users + block.nonmembers.n_users
        # sizes past the whole source all mean the whole source: run it once
        cells = list(dict.fromkeys(("real", min(n, block.source.n_users)) for n in args.sizes))
        if args.world_seeds is None or seed in args.world_seeds:
            cells += [("world", n) for n in dict.fromkeys(args.world_sizes)]
        for kind, n in cells:
            if (args.dataset, seed, kind, n) in done:
                continue
            if kind == "world":
                if world is None:  # fitted once on every user of the dataset (exact: the world is public here)
                    world = make_generator("item-walk", seed=0, affinity_scale=WORLD_SCALE).fit(data)
                here = world_block(data, world, n, n_pool, seed)
            else:
                here = block
            for row in run_cell(here, kind, n, seed, args):
                ts.append_jsonl(out / "records.jsonl", row)
    print(summarize(out, args))


def summarize(out: Path, args: argparse.Namespace) -> str:
    every = list(ts.latest(ts.read_jsonl(out / "records.jsonl"), (*KEY, "arm")).values())
    rows = [r for r in every if r["dataset"] == args.dataset]
    if not rows:
        others = sorted({r["dataset"] for r in every})
        return (f"no records of {args.dataset} yet" + (f" (the folder holds {', '.join(others)}: "
                                                       "pass --dataset)" if others else ""))
    by_cell: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        by_cell.setdefault((r["kind"], r["n_source"], r["seed"]), {})[r["arm"]] = r
    sizes = sorted({(k[0] != "real", k[1]) for k in by_cell})
    eps_list = [e for e in EPSILONS if any(f"item-walk@{e}" in v for v in by_cell.values())]
    head = "| source | N source users | seeds | " + " | ".join(f"ε = {e}" for e in eps_list) + " |"
    lines = [head, "|" + "---|" * (3 + len(eps_list))]
    curves: dict[str, list[tuple[int, float, float]]] = {e: [] for e in eps_list}
    for is_world, n in sizes:
        kind = "world" if is_world else "real"
        cells = [v for k, v in by_cell.items() if k[0] == kind and k[1] == n]
        vals = []
        for e in eps_list:
            shares = [(c[f"item-walk@{e}"]["ndcg10"] - c["real-only"]["ndcg10"])
                      / (c["ceiling"]["ndcg10"] - c["real-only"]["ndcg10"])
                      for c in cells if f"item-walk@{e}" in c and c["ceiling"]["ndcg10"] != c["real-only"]["ndcg10"]]
            mean, half = ts.mean_ci(shares) if shares else (math.nan, math.nan)
            vals.append(f"{mean:.2f} ± {half:.2f}" if shares else "—")
            if shares:
                curves[e].append((n, mean, half))
        lines.append(f"| {kind} | {n:,} | {len(cells)} | " + " | ".join(vals) + " |")
    share_table, differences = "\n".join(lines), difference_table(by_cell, sizes, eps_list)
    # on ml-1m-subset the ceiling's own gain is within noise, so the differences are the table to read
    table = (f"{differences}\n\n{share_table}" if args.dataset == ML1M_SUBSET
             else f"{share_table}\n\n{differences}")
    (out / "summary.md").write_text(table + "\n", encoding="utf-8")
    _figure(curves, out / "dp-scaling.png", args.dataset)
    return table


def difference_table(by_cell: dict[tuple, dict[str, dict]], sizes: list[tuple[bool, int]],
                     eps_list: list[str]) -> str:
    """NDCG@10 of real-only and the ceiling, and each arm's paired difference to real-only (mean ± 95 %
    t-interval over seeds). Unlike the share, it stays readable where the ceiling's gain is small or,
    on some seeds, negative (a small target scored on few users)."""
    head = ("| source | N source users | seeds | real-only | ceiling − real-only | "
            + " | ".join(f"ε = {e} − real-only" for e in eps_list) + " |")
    lines = [head, "|" + "---|" * (5 + len(eps_list))]
    for is_world, n in sizes:
        kind = "world" if is_world else "real"
        cells = [v for k, v in by_cell.items() if k[0] == kind and k[1] == n]
        real = [c["real-only"]["ndcg10"] for c in cells]
        cols = []
        for arm in ["ceiling", *(f"item-walk@{e}" for e in eps_list)]:
            diffs = [c[arm]["ndcg10"] - c["real-only"]["ndcg10"] for c in cells if arm in c]
            mean, half = ts.mean_ci(diffs) if diffs else (math.nan, math.nan)
            cols.append(f"{mean:+.4f} ± {half:.4f}" if diffs else "—")
        lines.append(f"| {kind} | {n:,} | {len(cells)} | {np.mean(real):.4f} | " + " | ".join(cols) + " |")
    return "\n".join(lines)


def _figure(curves: dict[str, list[tuple[int, float, float]]], path: Path, dataset: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for eps, pts in curves.items():
        if not pts:
            continue
        pts = sorted(pts)
        n, m, h = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
        ax.errorbar(n, m, yerr=np.nan_to_num(h), marker="o", capsize=3, label=f"ε = {eps}")
    ax.set_xscale("log")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("source users (real up to the dataset's size, then a fitted world)")
    ax.set_ylabel("share of the ceiling (NDCG@10, EASE)")
    ax.set_title(f"item-walk under user-level DP, δ = 1e-5 — {dataset}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    if args.world_sizes is None:
        args.world_sizes = [] if args.dataset == ML1M_SUBSET else [100_000, 1_000_000]
    elif args.world_sizes and args.dataset == ML1M_SUBSET:
        raise SystemExit("--world-sizes: the world is fitted on an amazon-seq log; ml-1m-subset has real sizes only")
    return args


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=[*sorted(ts.DATASETS), ML1M_SUBSET], default="sports")
    p.add_argument("--data-root", default=str(ts.ROOT.parent / "shared" / "data" / "amazon-seq"))
    p.add_argument("--ml1m-path", default=str(ts.ROOT.parent / "shared" / "data" / "ml-1m-subset"
                                              / "ratings_3000users.csv"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--sizes", type=int, nargs="*", default=[1000, 5000, 15000, 10**9],
                   help="real source sizes (the largest is capped at the whole source)")
    p.add_argument("--world-sizes", type=int, nargs="*", default=None,
                   help="world source sizes (default 100000 1000000; none on ml-1m-subset, which has no world)")
    p.add_argument("--world-seeds", type=int, nargs="*", default=None,
                   help="seeds that also run the world sizes (default: every seed)")
    p.add_argument("--epsilons", nargs="+", default=list(EPSILONS), choices=list(EPSILONS))
    p.add_argument("--ease-grid", type=float, nargs="+", default=[100.0, 300.0, 1000.0, 3000.0])
    p.add_argument("--max-synthetic", type=int, default=100_000)
    p.add_argument("--out", default=str(ts.ROOT / "runs" / "dp-scaling"))
    p.add_argument("--summarize", action="store_true")
    return p


def main() -> None:
    args = parse_args()
    if args.summarize:
        print(summarize(Path(args.out), args))
    else:
        run(args)


if __name__ == "__main__":
    main()
