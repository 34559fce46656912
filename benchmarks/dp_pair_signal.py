"""How much co-occurrence crosses the noise of item-walk's DP release, by ε (docs/transfer.md, "What
`synthrec fit` tells you").

For each dataset, the source of issue 13's protocol (benchmarks/transfer_share.py: 90 % of the users, top
2,000 items) is fitted with a DP item-walk at each ε. The script prints the fit's own diagnostic
(`synthrec.generators.item_walk.pairs_above_noise`): the released item pairs above 3 noise sd, how many of
those pure noise would put there, and the modelled items. It uses the same fit seeds as
benchmarks/item_walk_sweep.py.

    OPENBLAS_NUM_THREADS=1 python benchmarks/dp_pair_signal.py --datasets beauty toys sports yelp   # ≈ 1 min
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import transfer_share as ts

from synthrec.data.splits import split_users
from synthrec.experiments.strategies import derive_seed
from synthrec.generators.registry import make_generator


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", choices=sorted(ts.DATASETS), default=sorted(ts.DATASETS))
    p.add_argument("--data-root", default=str(ts.ROOT.parent / "shared" / "data" / "amazon-seq"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epsilons", nargs="+", type=float, default=[0.5, 1.0, 2.0, 4.0, 8.0, 32.0])
    args = p.parse_args()
    print("| source (users) | " + " | ".join(f"ε = {e:g}" for e in args.epsilons) + " |")
    print("|---" * (len(args.epsilons) + 1) + "|")
    for name in args.datasets:
        data = ts.load_dataset(Path(args.data_root), name)
        source, _ = split_users(data, 0.9, seed=derive_seed(args.seed, "source"))
        source = source.compact_users()
        cells = []
        for eps in args.epsilons:
            gen = make_generator("item-walk", seed=derive_seed(args.seed, "fit", f"{eps:g}"), epsilon=eps).fit(source)
            report = gen.fit_report_
            cells.append(f"{report['pairs_above_noise']:,} − {report['pairs_above_noise_by_chance']:,.0f} "
                         f"({report['modelled_items']:,})")
        print(f"| {name} ({source.n_users:,}) | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
