"""SASRec pretrained on synthetic sequences, then fine-tuned on a scarce real target: Amazon Beauty.

Protocol (per seed s):
- Data: ../shared/data/amazon-seq/Beauty.txt (22,363 users, 12,101 items, 198,502 events, time order =
  line order). Users are split at random (seed s) into a scarce TARGET (``--target-fraction``, default
  10 %) and a data-rich SOURCE (the rest). Leave-last-out on the target: each target user's last event
  is her test item, the rest is her training history (users with a single event are not evaluated).
- Arms, all SASRec (Kang & McAuley 2018) with the same hyper-parameters and seed:
  * real-only: fitted on the target's training part for ``--epochs`` epochs;
  * self: `SequenceGenerator` fitted on the SAME target training part, ``--syn-ratio`` × as many
    synthetic users sampled; SASRec pretrained on them (``--pretrain-epochs``), then fine-tuned on the
    target's training part for ``--epochs`` epochs (the same real training as real-only);
  * source: the same with the generator fitted on the source users (at most ``--source-users`` of
    them, drawn at random, to bound the fit time) and ``--source-syn-users`` synthetic users.
  "pretrain only" rows are the pretrained models before fine-tuning (synthetic-only training).
- Metric: NDCG@10 and Recall@10 over the full catalogue (no sampled negatives), seen items excluded;
  histories passed to SASRec in their real order (``sequences=``). Mean ± std over seeds.

Run (from the project root, venv active):

    python benchmarks/sasrec_transfer_beauty.py --seeds 0 1 2 [--out runs/sasrec_beauty.json]

Needs ../shared/data/amazon-seq/Beauty.txt (see ../shared/data/README.md). torch runs single-threaded
(``torch.set_num_threads(1)``), on the CPU unless ``--device`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from synthrec._torch import group_offsets, ordered_events
from synthrec.data.amazon_seq import read_sequence_file
from synthrec.data.interactions import InteractionData
from synthrec.data.splits import leave_last_out, split_users, subsample_users
from synthrec.evaluation.metrics import ndcg_at_k, recall_at_k
from synthrec.generators.sequence import SequenceGenerator
from synthrec.models.popularity import MostPopular
from synthrec.models.sasrec import SASRec

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "amazon-seq" / "Beauty.txt"


def ordered_histories(train: InteractionData, users: np.ndarray) -> list[np.ndarray]:
    """Each evaluated user's training items in time order (most recent last)."""
    u, items, _ = ordered_events(train)
    ptr = group_offsets(u, train.n_users)
    return [items[ptr[x]:ptr[x + 1]] for x in users]  # one slice per user


def scores(recs: np.ndarray, targets: object) -> dict[str, float]:
    return {"ndcg@10": float(ndcg_at_k(recs, targets, 10)), "recall@10": float(recall_at_k(recs, targets, 10))}


def run_seed(data: InteractionData, seed: int, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    target, source = split_users(data, args.target_fraction, seed=seed)
    split = leave_last_out(target.compact_users())
    train = split.train
    users, hist, targets = split.evaluation_inputs()
    seqs = ordered_histories(train, users)
    n_target = len(train.active_users())
    sasrec = dict(max_len=args.max_len, dropout=args.dropout, lr=args.lr, device=args.device, seed=seed)
    out: dict[str, dict[str, float]] = {}
    timing: dict[str, float] = {}

    t0 = time.time()
    out["popularity"] = scores(MostPopular().fit(train).recommend(hist, 10), targets)
    real = SASRec(epochs=args.epochs, **sasrec).fit(train)
    out["real-only"] = scores(real.recommend(hist, 10, sequences=seqs), targets)
    timing["real-only"] = time.time() - t0
    # control: does pretraining help beyond more optimisation? real-only with the extra epochs too
    long_epochs = args.epochs + args.control_extra_epochs
    real_long = SASRec(epochs=long_epochs, **sasrec).fit(train)
    out[f"real-only, {long_epochs} epochs"] = scores(real_long.recommend(hist, 10, sequences=seqs), targets)

    arms = [("self", train, args.syn_ratio * n_target)]
    if args.source:
        src = subsample_users(source, min(1.0, args.source_users / len(source.active_users())), seed=seed)
        arms.append(("source", src.compact_users(), args.source_syn_users))
    for label, fit_on, n_syn in arms:
        t0 = time.time()
        gen = SequenceGenerator(epochs=args.gen_epochs, lr=args.gen_lr, seed=seed, device=args.device).fit(fit_on)
        syn = gen.sample(int(n_syn), seed=seed + 1000)
        model = SASRec(epochs=args.pretrain_epochs, **sasrec).fit(syn)
        out[f"pretrain only [{label}]"] = scores(model.recommend(hist, 10, sequences=seqs), targets)
        model.fine_tune(train, epochs=args.epochs)
        out[f"pretrain -> fine-tune [{label}]"] = scores(model.recommend(hist, 10, sequences=seqs), targets)
        timing[label] = time.time() - t0
        print(f"  seed {seed} [{label}]: generator item NLL {gen.loss_history_[-1][1]:.3f}, "
              f"{syn.n_interactions} synthetic events, {timing[label]:.0f} s", flush=True)
    out["_info"] = {"test_users": float(len(users)), "target_users": float(n_target), **{
        f"seconds_{k}": v for k, v in timing.items()}}
    return out


def print_table(per_seed: dict[str, dict]) -> None:
    """Markdown table of mean ± sample std over seeds of every arm."""
    seeds = sorted(per_seed)
    print(f"seeds {', '.join(seeds)}; test users per seed: "
          + ", ".join(str(int(per_seed[s]["_info"]["test_users"])) for s in seeds))
    print("| arm | NDCG@10 | Recall@10 |\n|---|---|---|")
    for arm in [k for k in per_seed[seeds[0]] if k != "_info"]:
        cells = []
        for metric in ("ndcg@10", "recall@10"):
            vals = np.array([per_seed[s][arm][metric] for s in seeds])
            cells.append(f"{vals.mean():.4f} ± {vals.std(ddof=1) if len(vals) > 1 else 0.0:.4f}")
        print(f"| {arm} | {cells[0]} | {cells[1]} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--target-fraction", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=30, help="SASRec epochs on real data (real-only and fine-tune)")
    ap.add_argument("--pretrain-epochs", type=int, default=10)
    ap.add_argument("--gen-epochs", type=int, default=8)
    ap.add_argument("--gen-lr", type=float, default=5e-3)
    ap.add_argument("--control-extra-epochs", type=int, default=30,
                    help="the control arm trains real-only for --epochs plus this many epochs")
    ap.add_argument("--summarize", type=Path, nargs="+", default=None,
                    help="only print the table of earlier --out files (e.g. one per seed run in parallel)")
    ap.add_argument("--syn-ratio", type=float, default=4.0, help="self arm: synthetic users per target user")
    ap.add_argument("--source", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--source-users", type=int, default=5000)
    ap.add_argument("--source-syn-users", type=int, default=10000)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.summarize:
        merged: dict[str, dict] = {}
        for path in args.summarize:
            merged.update(json.loads(path.read_text())["per_seed"])
        print_table(merged)
        return
    torch.set_num_threads(1)
    data = read_sequence_file(DATA)
    t0 = time.time()
    per_seed = {}
    for seed in args.seeds:
        per_seed[str(seed)] = run_seed(data, seed, args)
        print(f"seed {seed} done at {time.time() - t0:.0f} s: "
              + ", ".join(f"{k} {v['ndcg@10']:.4f}" for k, v in per_seed[str(seed)].items() if k != "_info"),
              flush=True)
    print(f"\nBeauty, target {args.target_fraction:g} of users, leave-last-out; {time.time() - t0:.0f} s in all")
    print_table(per_seed)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": {k: (str(v) if isinstance(v, Path) else v)
                                                 for k, v in vars(args).items()},
                                        "per_seed": per_seed}, indent=2))


if __name__ == "__main__":
    main()
