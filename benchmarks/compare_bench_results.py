"""Compare two copies of the scarcity benchmark's summary CSVs (e.g. before and after a protocol fix).

    python benchmarks/compare_bench_results.py OLD_DIR NEW_DIR

OLD_DIR and NEW_DIR hold ``ndcg10_summary.csv`` (written by ``benchmarks/bench_findings.py --copy-to``).
Prints, per dataset, split and recommender, how the mean NDCG@10 of every (level, arm, group) moved:
the median and largest absolute change, and the changes of the headline cells (real-only, augment ×1
[source], ceiling at 1 % of users), as a Markdown table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

KEYS = ["dataset", "split", "level", "arm", "recommender", "group"]


def compare(old_dir: Path, new_dir: Path) -> pl.DataFrame:
    old = pl.read_csv(old_dir / "ndcg10_summary.csv").select(*KEYS, pl.col("mean").alias("old"))
    new = pl.read_csv(new_dir / "ndcg10_summary.csv").select(*KEYS, pl.col("mean").alias("new"))
    return old.join(new, on=KEYS, how="inner").with_columns(
        (pl.col("new") - pl.col("old")).alias("delta"),
        ((pl.col("new") - pl.col("old")) / pl.col("old").abs()).alias("rel"),
    )


def main() -> None:
    old_dir, new_dir = Path(sys.argv[1]), Path(sys.argv[2])
    j = compare(old_dir, new_dir).filter(pl.col("group") == "all")
    agg = (j.group_by("dataset", "split", "recommender")
           .agg(pl.len().alias("cells"),
                pl.col("delta").abs().median().alias("median |Δ|"),
                pl.col("delta").abs().max().alias("max |Δ|"),
                (pl.col("delta").abs() > 1e-9).mean().alias("share changed"))
           .sort("dataset", "split", "recommender"))
    print("| dataset | split | recommender | cells | changed | median abs. change | largest abs. change |")
    print("|---|---|---|---|---|---|---|")
    for r in agg.iter_rows(named=True):
        print(f"| {r['dataset']} | {r['split']} | {r['recommender']} | {r['cells']} | "
              f"{100 * r['share changed']:.0f} % | {r['median |Δ|']:.4f} | {r['max |Δ|']:.4f} |")
    head = j.filter((pl.col("level") == "users=0.01") & (pl.col("recommender") == "ease")
                    & pl.col("arm").is_in(["real-only", "augment x1 [source] latent-factor", "auto [source] latent-factor", "ceiling"]))
    print()
    print("| dataset, split | arm (EASE, 1 % of users) | before | after | change |")
    print("|---|---|---|---|---|")
    for r in head.sort("dataset", "split", "arm").iter_rows(named=True):
        print(f"| {r['dataset']}, {r['split']} | {r['arm']} | {r['old']:.4f} | {r['new']:.4f} | {r['delta']:+.4f} |")


if __name__ == "__main__":
    main()
