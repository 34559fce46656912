"""Export the ml-100k leave-last-out split and score synthrec's real-only EASE on it (NDCG@10).

Runs in synthrec's own virtual environment (``.venv``). It writes the split as two CSV files so that an
independent library (``ease_reference.py``, in its own environment ``benchmarks/.venv-ref``) can train and
evaluate on exactly the same rows, and it prints our own NDCG@10 at each λ and writes them to
``<out>/ours.json`` for the side-by-side table.

Split (leave-last-out, implicit feedback): every rating is an interaction; each user's last event by
timestamp goes to test, ties in time broken by file order (the later row in ``u.data`` is the "last"); all
other events go to train. The split comes from ``synthrec.data.splits.leave_last_out`` when that module is
installed, otherwise from the same definition written here in polars.

Model: EASE^R, Steck (2019), "Embarrassingly Shallow Autoencoders for Sparse Data", WWW, eq. (8):
``P = (XᵀX + λI)⁻¹``, ``B = I − P·diagMat(1 ⊘ diag(P))``, i.e. ``B_ij = −P_ij / P_jj`` off the diagonal and
``B_jj = 0``; scores ``S = X B`` with binary ``X`` (users × items). No clipping of negative weights.

Metric: NDCG@10 with full ranking (Järvelin & Kekäläinen 2002, binary gain). With one held-out item per
user, NDCG@10 = 1 / log2(rank + 1) if rank ≤ 10 else 0, and IDCG = 1. The rank is over every catalogue
item the user did not interact with in train; a tie with the held-out item's score counts against it
(pessimistic), so ties can never inflate the figure. Two catalogues are reported:

* ``all``   – the full catalogue (all 1,682 items); users whose held-out item never occurs in train are kept
  (such an item has an EASE score of exactly 0, so they almost always score 0);
* ``known`` – only items seen in train, and only users whose held-out item was seen in train. This is what
  cornac's ``exclude_unknowns=True`` evaluates.

Usage (from the repository root)::

    .venv/bin/python benchmarks/reference/export_split.py [--data PATH] [--out DIR] [--lambdas 100,500]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ml-100k" / "u.data"
DEFAULT_OUT = Path(__file__).resolve().parent / "out"
DEFAULT_LAMBDAS = (100.0, 200.0, 300.0, 500.0, 750.0, 1000.0)
K = 10


def load_ml100k(path: Path) -> pl.DataFrame:
    """Read ml-100k ``u.data``: tab-separated ``user item rating timestamp``, no header.

    Returns:
        polars DataFrame with Int64 columns ``user``, ``item``, ``rating``, ``timestamp`` (unix seconds), in
        file order.

    Raises:
        SystemExit: the file is missing (with the path and what to do).
    """
    if not path.is_file():
        raise SystemExit(f"{path}: not found; pass --data /path/to/ml-100k/u.data")
    return pl.read_csv(
        path, separator="\t", has_header=False,
        new_columns=["user", "item", "rating", "timestamp"],
        schema_overrides=[pl.Int64, pl.Int64, pl.Int64, pl.Int64],
    )


def leave_last_out_polars(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Leave-last-out on external ids: each user's last row by (timestamp, file position) goes to test.

    Args:
        frame: DataFrame with ``user``, ``item``, ``timestamp`` in file order.

    Returns:
        ``(train, test)``, both ``user, item`` frames in file order; ``test`` has one row per user.
    """
    # TODO: drop this fallback once synthrec.data.splits.leave_last_out is always present.
    indexed = frame.with_row_index("_row")
    last = (
        indexed.sort(["user", "timestamp", "_row"])
        .group_by("user", maintain_order=True)
        .agg(pl.col("_row").last())
    )["_row"]
    is_test = indexed["_row"].is_in(last.implode())
    cols = ["user", "item"]
    return indexed.filter(~is_test).select(cols), indexed.filter(is_test).select(cols)


def make_split(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, str, Any]:
    """Split with synthrec's own ``leave_last_out`` when available, else with `leave_last_out_polars`.

    Returns:
        ``(train, test, source, split)``: the frames hold external ``user, item`` ids, ``source`` names
        the implementation used, ``split`` is synthrec's ``Split`` (None on the fallback path).
    """
    try:
        from synthrec.data import InteractionData
        from synthrec.data.splits import leave_last_out
    except ImportError:
        train, test = leave_last_out_polars(frame)
        return train, test, "polars fallback in export_split.py (synthrec.data.splits not found)", None
    data = InteractionData.from_frame(
        frame, user_col="user", item_col="item", time_col="timestamp", name="ml-100k/u.data"
    )
    split = leave_last_out(data, n=1)

    def external(part: InteractionData) -> pl.DataFrame:
        inter = part.interactions
        return pl.DataFrame({
            "user": part.user_ids.gather(inter["user"]).cast(pl.Int64),
            "item": part.item_ids.gather(inter["item"]).cast(pl.Int64),
        })

    train, test = external(split.train), external(split.test)
    fallback_train, fallback_test = leave_last_out_polars(frame)
    if not (train.sort(["user", "item"]).equals(fallback_train.sort(["user", "item"]))
            and test.sort(["user", "item"]).equals(fallback_test.sort(["user", "item"]))):
        print("WARNING: synthrec.data.splits.leave_last_out differs from the polars definition here",
              file=sys.stderr)
    return train, test, "synthrec.data.splits.leave_last_out", split


def ease_weights(x: sp.csr_matrix, lam: float) -> np.ndarray:
    """EASE^R item-item weights, Steck (2019) eq. (8).

    Args:
        x: binary users × items CSR matrix.
        lam: L2 regularisation λ > 0 added to the Gram diagonal.

    Returns:
        float64 array (n_items, n_items) with zero diagonal.
    """
    gram = (x.T @ x).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += lam
    p = np.linalg.inv(gram)
    b = p / (-np.diag(p))
    np.fill_diagonal(b, 0.0)
    return b


def ndcg_at_k_loo(scores: np.ndarray, seen: sp.csr_matrix, target: np.ndarray, k: int = K) -> np.ndarray:
    """Per-user NDCG@k for one held-out item per user, full ranking excluding seen items.

    Args:
        scores: float (n_users, n_items) scores; columns outside the catalogue must be ``-inf``.
        seen: (n_users, n_items) CSR of training interactions (excluded from the ranking).
        target: int (n_users,) held-out item column per row.
        k: cut-off.

    Returns:
        float64 (n_users,) NDCG@k; rank = 1 + #candidates scoring ≥ the target (pessimistic ties).
    """
    s = scores.copy()
    s[seen.nonzero()] = -np.inf
    rows = np.arange(s.shape[0])
    t = s[rows, target]
    s[rows, target] = -np.inf
    rank = 1 + (s >= t[:, None]).sum(axis=1)
    return np.where(rank <= k, 1.0 / np.log2(rank + 1.0), 0.0)


def evaluate_ours(train: pl.DataFrame, test: pl.DataFrame, catalogue: np.ndarray,
                  lambdas: tuple[float, ...]) -> dict[str, object]:
    """NDCG@10 of numpy EASE at each λ, on the ``all`` and ``known`` catalogues (module docstring).

    Args:
        train, test: ``user, item`` frames of external ids; every train user is a test user.
        catalogue: sorted unique external item ids (the ``all`` catalogue).
        lambdas: EASE λ values.

    Returns:
        JSON-ready dict with counts and ``ndcg@10[λ] = {"all": float, "known": float}``.
    """
    users = np.unique(test["user"].to_numpy())
    n_u, n_i = len(users), len(catalogue)

    def to_u(ext: np.ndarray) -> np.ndarray:
        return np.searchsorted(users, ext)  # users and catalogue are sorted unique ids

    def to_i(ext: np.ndarray) -> np.ndarray:
        return np.searchsorted(catalogue, ext)

    tu, ti = to_u(train["user"].to_numpy()), to_i(train["item"].to_numpy())
    x = sp.csr_matrix((np.ones(len(tu)), (tu, ti)), shape=(n_u, n_i))
    x.sum_duplicates()
    x.data[:] = 1.0
    test_sorted = test.sort("user")
    target = to_i(test_sorted["item"].to_numpy())
    known_items = np.asarray(x.sum(axis=0)).ravel() > 0
    known_users = known_items[target]
    out: dict[str, object] = {
        "n_test_users": int(n_u), "n_items": int(n_i), "n_train_items": int(known_items.sum()),
        "n_cold_test_items": int((~known_users).sum()), "ndcg@10": {},
    }
    results: dict[str, dict[str, float]] = {}
    for lam in lambdas:
        scores = np.asarray(x @ ease_weights(x, lam))
        per_user_all = ndcg_at_k_loo(scores, x, target)
        scores_known = scores.copy()
        scores_known[:, ~known_items] = -np.inf
        per_user_known = ndcg_at_k_loo(scores_known[known_users], x[known_users], target[known_users])
        results[f"{lam:g}"] = {"all": float(per_user_all.mean()), "known": float(per_user_known.mean())}
    out["ndcg@10"] = results
    return out


def evaluate_synthrec(split: Any, lambdas: tuple[float, ...]) -> dict[str, dict[str, float]] | None:
    """NDCG@10 of ``synthrec.models.EASE`` scored by ``synthrec.evaluation.evaluate`` on synthrec's split.

    ``all``: every user's held-out item is a target; items never seen in train are never recommended
    (synthrec's eligible-items rule), so those users score 0. ``known``: the targets of held-out items never
    seen in train are dropped, so ``evaluate`` skips those users (cornac's ``exclude_unknowns=True``). The
    recommendations are the same in both: an item unseen in train is never in a top-10.

    Args:
        split: a ``synthrec.data.splits.Split`` (train and test share one vocabulary), or None.
        lambdas: EASE λ (``l2``) values.

    Returns:
        ``{λ: {"all", "known", "n_all", "n_known"}}``, or None when synthrec's model or evaluation cannot
        be imported (or ``split`` is None).
    """
    if split is None:
        return None
    try:
        from synthrec.evaluation import evaluate
        from synthrec.models import EASE
    except ImportError as exc:
        print(f"  (synthrec.models.EASE / synthrec.evaluation.evaluate not importable: {exc})")
        return None
    histories = split.train.to_csr("binary")
    targets = split.test.to_csr("binary")
    known_items = np.asarray(histories.sum(axis=0)).ravel() > 0
    targets_known = targets @ sp.diags(known_items.astype(np.float64))
    targets_known.eliminate_zeros()
    out: dict[str, dict[str, float]] = {}
    for lam in lambdas:
        recs = EASE(l2=lam).fit(split.train).recommend(histories, K)
        r_all = evaluate(recs, targets, ks=(K,), metrics=("ndcg",))
        r_known = evaluate(recs, targets_known, ks=(K,), metrics=("ndcg",))
        out[f"{lam:g}"] = {
            "all": float(r_all[f"NDCG@{K}"]), "known": float(r_known[f"NDCG@{K}"]),
            "n_all": int(r_all["n_users_evaluated"]), "n_known": int(r_known["n_users_evaluated"]),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="path to ml-100k u.data")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder for train/test CSVs")
    ap.add_argument("--lambdas", default=",".join(f"{v:g}" for v in DEFAULT_LAMBDAS),
                    help="comma-separated EASE λ values")
    args = ap.parse_args(argv)
    lambdas = tuple(float(v) for v in args.lambdas.split(","))

    t0 = time.perf_counter()
    frame = load_ml100k(args.data)
    train, test, source, split = make_split(frame)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("test", test)):
        tmp = args.out / f".{name}.csv.tmp"
        part.write_csv(tmp)
        tmp.replace(args.out / f"{name}.csv")
    print(f"split: {source}")
    print(f"  {frame.height} rows, {frame['user'].n_unique()} users, {frame['item'].n_unique()} items "
          f"-> train {train.height}, test {test.height} rows; written to {args.out}")

    catalogue = np.unique(frame["item"].to_numpy())
    ours = evaluate_ours(train, test, catalogue, lambdas)
    ours["split_source"] = source
    numpy_figures = ours["ndcg@10"]
    lib = evaluate_synthrec(split, lambdas)
    if lib is not None:
        ours["model"] = "synthrec.models.EASE + synthrec.evaluation.evaluate"
        ours["ndcg@10"] = {lam: {"all": r["all"], "known": r["known"]} for lam, r in lib.items()}
        ours["n_users_evaluated"] = {"all": next(iter(lib.values()))["n_all"],
                                     "known": next(iter(lib.values()))["n_known"]}
    else:
        # TODO: always the synthrec path once synthrec.models / synthrec.evaluation import cleanly.
        ours["model"] = "numpy EASE (Steck 2019 eq. 8) + NDCG in export_split.py"
    ours["ndcg@10_numpy_check"] = numpy_figures
    (args.out / "ours.json").write_text(json.dumps(ours, indent=2))
    print(f"synthrec-side EASE NDCG@{K} ({ours['model']}): {ours['n_test_users']} test users, "
          f"{ours['n_cold_test_items']} held-out items never seen in train")
    print(f"  {'lambda':>7}  {'all items':>10}  {'known only':>10}  {'numpy all':>10}  {'numpy known':>11}")
    for lam, r in ours["ndcg@10"].items():  # type: ignore[attr-defined]
        n = numpy_figures[lam]  # type: ignore[index]
        print(f"  {lam:>7}  {r['all']:>10.4f}  {r['known']:>10.4f}  {n['all']:>10.4f}  {n['known']:>11.4f}")
    print(f"  ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
