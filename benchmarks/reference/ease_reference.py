"""Independent reference: cornac's EASE and cornac's own NDCG@10 on the split written by export_split.py.

Runs in its own environment ``benchmarks/.venv-ref`` (cornac is not a synthrec dependency). Nothing from
synthrec is imported: the data come from ``<out>/train.csv`` and ``<out>/test.csv`` (``user,item`` external
ids, every row an implicit interaction with value 1.0).

Library: cornac (Salah, Truong & Lauw 2020, "Cornac: A Comparative Framework for Multimodal Recommender
Systems", JMLR 21(95)), Apache-2.0. Model ``cornac.models.EASE`` (Steck 2019, eq. 8: ``P = (XᵀX + λI)⁻¹``,
``B = −P / diag(P)``, zero diagonal). Its default ``posB=True`` also clips negative weights to 0, which is
not in Steck's paper; the like-for-like comparison uses ``posB=False`` and the default is shown for
information. Evaluation: ``cornac.eval_methods.BaseMethod.from_splits`` + ``cornac.metrics.NDCG(k=10)``
through ``BaseMethod.evaluate`` (cornac's ``ranking_eval``): for each test user it ranks every item except
the user's training items, over the training-item catalogue when ``exclude_unknowns=True`` (test rows whose
item never occurs in train are dropped, so those users are not evaluated), or over all items when
``exclude_unknowns=False`` (unknown items get the user's minimum score).

Usage::

    benchmarks/.venv-ref/bin/python benchmarks/reference/ease_reference.py [--out DIR] [--lambdas 100,500]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import cornac
from cornac.eval_methods import BaseMethod
from cornac.metrics import NDCG
from cornac.models import EASE

DEFAULT_OUT = Path(__file__).resolve().parent / "out"
DEFAULT_LAMBDAS = "100,200,300,500,750,1000"
K = 10


def read_pairs(path: Path) -> list[tuple[str, str, float]]:
    """Read a ``user,item`` CSV with header into cornac's UIR triples (ids as strings, value 1.0).

    Raises:
        SystemExit: the file is missing or lacks the ``user,item`` header.
    """
    if not path.is_file():
        raise SystemExit(f"{path}: not found; run export_split.py first (see run.sh)")
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != ["user", "item"]:
            raise SystemExit(f"{path}, line 1: expected header 'user,item', got {header!r}")
        return [(u, i, 1.0) for u, i in reader]


def cornac_ndcg(train: list[tuple[str, str, float]], test: list[tuple[str, str, float]], lam: float,
                *, pos_b: bool, exclude_unknowns: bool) -> tuple[float, int]:
    """Fit cornac EASE(λ) on ``train`` and return (mean NDCG@10 over evaluated users, #evaluated users)."""
    method = BaseMethod.from_splits(
        train_data=train, test_data=test, exclude_unknowns=exclude_unknowns, verbose=False, seed=0,
    )
    model = EASE(lamb=lam, posB=pos_b, verbose=False, seed=0)
    result, _ = method.evaluate(model, metrics=[NDCG(k=K)], user_based=True)
    name = f"NDCG@{K}"
    per_user = result.metric_user_results[name]
    return float(result.metric_avg_results[name]), len(per_user)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints cornac's figures next to ours (``<out>/ours.json``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder holding train.csv and test.csv")
    ap.add_argument("--lambdas", default=DEFAULT_LAMBDAS, help="comma-separated EASE λ values")
    args = ap.parse_args(argv)
    lambdas = [float(v) for v in args.lambdas.split(",")]

    t0 = time.perf_counter()
    train = read_pairs(args.out / "train.csv")
    test = read_pairs(args.out / "test.csv")
    train_items = {i for _, i, _ in train}
    n_cold = sum(i not in train_items for _, i, _ in test)
    print(f"cornac {cornac.__version__}: train {len(train)} rows, test {len(test)} rows, "
          f"{n_cold} test items never seen in train")

    ref: dict[str, dict[str, float]] = {}
    users: dict[str, int] = {}
    for lam in lambdas:
        row: dict[str, float] = {}
        for key, pos_b, excl in (("known", False, True), ("all", False, False), ("known_posB", True, True)):
            row[key], users[key] = cornac_ndcg(train, test, lam, pos_b=pos_b, exclude_unknowns=excl)
        ref[f"{lam:g}"] = row
    (args.out / "reference.json").write_text(json.dumps(
        {"library": f"cornac {cornac.__version__}", "n_users": users, "ndcg@10": ref}, indent=2))

    ours_path = args.out / "ours.json"
    ours_doc = json.loads(ours_path.read_text()) if ours_path.is_file() else {}
    ours = ours_doc.get("ndcg@10", {})
    if ours:
        print(f"ours = {ours_doc.get('model', '?')}; split = {ours_doc.get('split_source', '?')}")
    else:
        print(f"({ours_path} not found: run export_split.py first for the side-by-side columns)")
    print(f"\nNDCG@{K}, leave-last-out ml-100k. 'known' = cornac exclude_unknowns=True "
          f"({users['known']} users, training-item catalogue); 'all' = all items "
          f"({users['all']} users); posB = cornac's default clipping of negative weights.")
    head = ["lambda", "ours known", "cornac known", "diff", "ours all", "cornac all", "diff",
            "cornac posB"]
    print("  ".join(f"{h:>12}" for h in head))
    worst = 0.0
    for lam_key, r in ref.items():
        o = ours.get(lam_key, {})
        ok, oa = o.get("known", float("nan")), o.get("all", float("nan"))
        dk, da = ok - r["known"], oa - r["all"]
        worst = max(worst, abs(dk), abs(da)) if o else worst
        cells = [lam_key, f"{ok:.4f}", f"{r['known']:.4f}", f"{dk:+.4f}", f"{oa:.4f}", f"{r['all']:.4f}",
                 f"{da:+.4f}", f"{r['known_posB']:.4f}"]
        print("  ".join(f"{c:>12}" for c in cells))
    if ours:
        print(f"largest |ours - cornac| = {worst:.2e}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
