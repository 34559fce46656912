"""Development sweep of `item-walk` settings (exact and DP) on one seed, with a low-variance test set.

The figures in the docstrings of `synthrec.generators.item_walk` (the relative scale, ``dp_l2``, the Gram
release, the calibration) come from this script. It uses issue 13's split (benchmarks/transfer_share.py:
90 % source users; the target is 20 % of the rest) but scores every non-source user (leave-last-out of the
whole 10 % pool, about 5× the target's test users), which cuts the seed-to-seed noise of a comparison
between settings; EASE is trained on the target's training part (+ synthetic users) at the best λ of
``--ease-grid`` on that test set, the same for every setting. Use it to compare settings, and
benchmarks/transfer_share.py (tuned on validation, 5 seeds) for the figures a user should quote.

    OPENBLAS_NUM_THREADS=1 python benchmarks/item_walk_sweep.py --dataset beauty --epsilons inf 4 1 \\
        --settings '{}' '{"dp_l2": 1.0}' '{"dp_gram": "rows"}' '{"affinity_scale": 8.0}'

Prints one line per (ε, setting): the share of the ceiling, the modelled items and the popularity Gini of
the synthetic and the real source.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import transfer_share as ts

from synthrec.data.splits import leave_last_out, split_users
from synthrec.experiments.arms import Arm
from synthrec.experiments.scoring import eval_set, score
from synthrec.experiments.strategies import ArmInputs, SyntheticPool, derive_seed, train_arm
from synthrec.generators.registry import make_generator
from synthrec.models.registry import make_model


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of item popularity (0 = every item equally popular)."""
    c = np.sort(np.asarray(counts, np.float64))
    n = len(c)
    return float((2 * np.arange(1, n + 1) - n - 1) @ c / (n * c.sum())) if c.sum() > 0 else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(ts.DATASETS), default="beauty")
    p.add_argument("--data-root", default=str(ts.ROOT.parent / "shared" / "data" / "amazon-seq"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epsilons", nargs="+", default=["inf", "4", "1"])
    p.add_argument("--settings", nargs="+", default=["{}"], help="JSON objects of item-walk parameters")
    p.add_argument("--ease-grid", type=float, nargs="+", default=[100.0, 200.0, 500.0, 1000.0])
    args = p.parse_args()

    data = ts.load_dataset(Path(args.data_root), args.dataset)
    seed = args.seed
    source, pool = split_users(data, 0.9, seed=derive_seed(seed, "source"))
    source, pool = source.compact_users(), pool.compact_users()
    target, _ = split_users(pool, 0.2, seed=derive_seed(seed, "target"))
    train = leave_last_out(target.compact_users()).train.compact_users()
    everyone = eval_set(leave_last_out(pool))  # every non-source user, scored by her history

    def best(arm: Arm, pools: dict[str, SyntheticPool]) -> float:
        inputs = ArmInputs(train, source, pools)
        return max(score(train_arm(arm, lambda lam=lam: make_model("ease", seed=seed, l2=lam), inputs),
                         everyone, [10])["NDCG@10"] for lam in args.ease_grid)

    real, ceiling = best(Arm("real-only"), {}), best(Arm("ceiling"), {})
    real_gini = gini(np.bincount(source.interactions["item"].to_numpy(), minlength=source.n_items))
    print(f"{args.dataset} seed {seed}: {source.n_users} source users, {everyone.n_users} scored; "
          f"real-only {real:.4f}, ceiling {ceiling:.4f}", flush=True)
    for eps in args.epsilons:
        for text in args.settings:
            params = json.loads(text)
            start = time.process_time()
            gen = make_generator("item-walk", seed=derive_seed(seed, "fit", eps),
                                 epsilon=None if eps == "inf" else float(eps), **params).fit(source)
            synthetic = gen.sample(source.n_users, seed=derive_seed(seed, "sample", eps))
            cpu = time.process_time() - start
            share = (best(Arm("augment", "source", 1.0), {"source": SyntheticPool(synthetic, source.n_users)})
                     - real) / (ceiling - real)
            syn_gini = gini(np.bincount(synthetic.interactions["item"].to_numpy(), minlength=source.n_items))
            print(f"ε={eps} {params}: share {share:.3f}, modelled {gen.fit_report_['modelled_items']}, "
                  f"Gini {syn_gini:.3f} (real {real_gini:.3f}), fit+sample {cpu:.1f} CPU s", flush=True)


if __name__ == "__main__":
    main()
