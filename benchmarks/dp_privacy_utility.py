"""Privacy–utility curve of the user-level DP `LatentFactorGenerator` (source → target; ml-100k by default).

Protocol (per seed; the experiment pieces are synthrec.experiments', not re-implemented here)
- Users of ml-100k are split 90 % source / 10 % target (`prepare_target` with source_fraction 0.9, as in
  benchmarks/configs/ml100k-target10.yaml); the target is split leave-last-out (train / test).
- The source is split again: 80 % of its users are the generator's training users (members), 20 % are
  held out (non-members of the privacy audit, never seen by the generator).
- For each ε in {0.5, 1, 2, 4, 8, ∞}: fit `LatentFactorGenerator(epsilon=ε)` on the members, sample as many
  synthetic users as members, and score EASE (Steck 2019, WWW) on the target's test users, NDCG@10:
  real-only (target train), augment x1 [source] (target + synthetic), pretrain→fine-tune [source]
  (synthetic, then target), synthetic-only [source] (TSTR), and the ceiling (target + raw members).
- Reported: NDCG@10 of each arm; ceiling share = (best of augment, pretrain − real-only) / (ceiling −
  real-only), so target alone = 0 % and target + raw source = 100 %; TSTR ratio = synthetic-only NDCG /
  NDCG of EASE trained on the raw members; TSTR-out ratio = the same ratio scored on every non-member
  (held-out source users + target users, leave-last-out; about 3× more test users than the target alone,
  so it varies much less between seeds); membership-inference AUC (members positive, held-out source
  users negative; `synthrec.evaluation.privacy.membership_inference_auc`); DCR share closer to members
  than to the held-out users, and its baseline n_members / (n_members + n_holdout).

Run (from the project root, venv active; about 2–3 min per seed on 2 busy cores):

    OPENBLAS_NUM_THREADS=1 python benchmarks/dp_privacy_utility.py --seeds 0 1 2
    OPENBLAS_NUM_THREADS=1 python benchmarks/dp_privacy_utility.py --seeds 0 1 2 --data ../shared/data/ml-1m-subset

Needs ../shared/data/ml-100k (or the folder given by --data; see ../shared/data/README.md). Other data
sets reuse the config's protocol (10 % target, leave-last-out; without timestamps, the file order).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from synthrec.config import load_config
from synthrec.data.interactions import InteractionData, concat_users
from synthrec.data.splits import split_users
from synthrec.evaluation.privacy import privacy_report
from synthrec.experiments.arms import Arm
from synthrec.experiments.data_source import load_data
from synthrec.experiments.pipeline import _split, prepare_target
from synthrec.experiments.scoring import eval_set, score
from synthrec.experiments.strategies import ArmInputs, SyntheticPool, derive_seed, train_arm
from synthrec.generators import LatentFactorGenerator
from synthrec.models.registry import make_model

CONFIG = Path(__file__).resolve().parent / "configs" / "ml100k-target10.yaml"
EPSILONS = (0.5, 1.0, 2.0, 4.0, 8.0, math.inf)
METRIC = "NDCG@10"


def run_seed(data: InteractionData, seed: int, epsilons: tuple[float, ...], max_items: int) -> list[dict]:
    cfg = load_config(CONFIG)
    target, source = prepare_target(data, cfg, seed)
    assert source is not None
    members, holdout = split_users(source, 0.8, seed=derive_seed(seed, "members"))
    members, holdout = members.compact_users(), holdout.compact_users()
    split = _split(cfg, target, seed)
    es = eval_set(split)
    train = split.train.compact_users()
    # every non-member (held-out source users and the target) for the lower-variance TSTR-out ratio
    es_out = eval_set(_split(cfg, concat_users([target, holdout], name="non-members"), seed))

    def ease() -> object:
        return make_model("ease", seed=seed)

    def ndcg(arm: Arm, inputs: ArmInputs) -> float:
        return score(train_arm(arm, ease, inputs), es, [10])[METRIC]  # type: ignore[arg-type]

    plain = ArmInputs(train, members, {})
    real_only = ndcg(Arm("real-only"), plain)
    ceiling = ndcg(Arm("ceiling"), plain)
    on_members = make_model("ease", seed=seed).fit(members)
    trtr = score(on_members, es, [10])[METRIC]
    trtr_out = score(on_members, es_out, [10])[METRIC]
    rows = []
    for eps in epsilons:
        start = time.perf_counter()
        gen = LatentFactorGenerator(epsilon=eps, max_items_per_user=max_items,
                                    seed=derive_seed(seed, "fit", str(eps))).fit(members)
        synthetic = gen.sample(members.n_users, seed=derive_seed(seed, "sample", str(eps)))
        fit_s = time.perf_counter() - start
        inputs = ArmInputs(train, members, {"source": SyntheticPool(synthetic, members.n_users)})
        augment = ndcg(Arm("augment", "source", 1.0), inputs)
        pretrain = ndcg(Arm("pretrain-finetune", "source", 1.0), inputs)
        tstr = ndcg(Arm("synthetic-only", "source", 1.0), inputs)
        tstr_out = score(make_model("ease", seed=seed).fit(synthetic), es_out, [10])[METRIC]
        audit = privacy_report(synthetic, members, holdout)
        best = max(augment, pretrain)
        rows.append({
            "seed": seed, "epsilon": eps, "spent": gen.privacy["epsilon"], "delta": gen.privacy["delta"],
            "real_only": real_only, "augment": augment, "pretrain": pretrain, "tstr": tstr, "ceiling": ceiling,
            "ceiling_share": (best - real_only) / (ceiling - real_only) if ceiling != real_only else float("nan"),
            "tstr_ratio": tstr / trtr, "tstr_out_ratio": tstr_out / trtr_out, "mia_auc": audit["mia_auc"],
            "dcr_share": audit["dcr_share_closer_to_train"], "dcr_baseline": audit["dcr_share_baseline"],
            "seconds": fit_s,
        })
        print(f"seed {seed} eps {eps}: {rows[-1]}", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    cols = ["real_only", "augment", "pretrain", "tstr", "ceiling", "ceiling_share", "tstr_ratio", "tstr_out_ratio",
            "mia_auc", "dcr_share"]
    lines = ["| ε | δ | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 2)]
    for eps in sorted({r["epsilon"] for r in rows}):
        here = [r for r in rows if r["epsilon"] == eps]
        cells = []
        for c in cols:
            vals = np.array([r[c] for r in here], dtype=float)
            cells.append(f"{vals.mean():.4f}" + (f" ± {vals.std(ddof=1):.4f}" if len(vals) > 1 else ""))
        delta = here[0]["delta"]
        lines.append(f"| {eps:g} | {delta:.1e} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epsilons", type=float, nargs="+", default=list(EPSILONS))
    parser.add_argument("--max-items-per-user", type=int, default=64)
    parser.add_argument("--data", type=Path, default=None,
                        help="a data folder or file to use instead of the config's ml-100k (e.g. ml-1m-subset)")
    args = parser.parse_args()
    cfg = load_config(CONFIG)
    dc = cfg.data if args.data is None else cfg.data.model_copy(update={"path": args.data.resolve()})
    data = load_data(dc, CONFIG.parent)
    rows = []
    for seed in args.seeds:
        rows += run_seed(data, seed, tuple(args.epsilons), args.max_items_per_user)
    print()
    print(f"EASE NDCG@10 on the {data.name} target (10 % of users), seeds {args.seeds}, "
          f"max_items_per_user={args.max_items_per_user}; dcr baseline {rows[0]['dcr_baseline']:.3f}")
    print(table(rows))


if __name__ == "__main__":
    main()
