"""The tables of docs/benchmark.md, from the CSVs `synthrec bench` wrote into an --out folder.

    python benchmarks/bench_findings.py runs/bench-shared-v3 > /tmp/findings.md
    python benchmarks/bench_findings.py runs/bench-shared-v3 --copy-to docs/benchmark-results

Reads summary.csv, versus_real.csv, worth.csv and auto.csv (nothing is recomputed: the statistics are
those of `synthrec.experiments.bench.stats`) and prints, for the recommender given (default EASE):

1. verdict counts per source: arms significantly better / worse than the best real-only model (paired
   t-test over seeds, Holm within each level) and the same with the exact Wilcoxon test;
2. per level, better/worse counts per source; per dataset and split, NDCG@10 mean ± sd by fraction of target users kept, for the main arms;
3. how `auto` did per source (share of groups significantly worse than real-only, mean difference);
4. the cold/warm-user and head/tail-item breakdown at one level, real-only against the best source arm.

With ``--generator NAME`` (e.g. ``item-walk``) only that generator's arms are read among the arms crossed
with generators (sources ``self``, ``source``, ``source-dp(...)``); the sources that bring their own
generator (``simulator``, ``attributes``) and real-only / ceiling are always kept. A sweep of several
generators needs it (the tables name arms without their generator); a sweep of one does not.
Unknown generators, levels and recommenders are refused with the ones the run has.

``--compare-generators`` prints only one table: the generators side by side at ``--breakdown-level`` (the
raw source, every DP source, `auto [source]`); it takes neither ``--generator`` nor ``--copy-to``.

``--copy-to`` also writes the compact CSVs committed with the findings (NDCG@10 rows of summary.csv,
versus_real.csv, worth.csv, auto.csv).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from synthrec.experiments.bench.cells import NONE, OWN_GENERATOR_SOURCES

MAIN_ARMS = ("real-only", "ceiling", "augment x1 [self]", "augment x1 [source]", "pretrain-finetune x1 [source]",
             "augment x1 [source-dp(eps=8)]", "augment x1 [source-dp(eps=1)]", "augment x1 [simulator]",
             "augment x1 [attributes]", "auto [source]", "auto [self]")


def _read(out: Path, name: str) -> pl.DataFrame:
    path = out / name
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `synthrec bench CONFIG --out {out}` to the end first")
    return pl.read_csv(path, infer_schema_length=None)


def _fmt(mean: float, sd: float | None) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    return f"{mean:.4f}" if sd is None or math.isnan(sd) else f"{mean:.4f} ± {sd:.4f}"


#: the generator labels of arms not crossed with the config's ``generators:``: real-only / ceiling ("-") and
#: the sources that bring their own generator (simulator, cold-items)
OWN_GENERATORS = (NONE, *OWN_GENERATOR_SOURCES.values())


def fitted_generators(summary: pl.DataFrame) -> list[str]:
    """The generators a sweep crossed with its sources (``generators:`` of the config), sorted."""
    return sorted(g for g in summary["generator"].unique().to_list() if g not in OWN_GENERATORS)


def _check_choice(option: str, value: str, present: pl.Series | list[str]) -> None:
    choices = sorted(set(present if isinstance(present, list) else present.unique().to_list()))
    if value not in choices:
        raise SystemExit(f"{option} {value!r} is not in this run; it has: {', '.join(map(str, choices))}")


def for_generator(frame: pl.DataFrame, generator: str | None) -> pl.DataFrame:
    """The rows of ``generator``'s arms and of every arm not crossed with generators (module docstring)."""
    if generator is None:
        return frame
    keep = [*OWN_GENERATORS, generator]
    if "generator" in frame.columns:
        return frame.filter(pl.col("generator").is_in(keep))
    # worth.csv names the generator only at the end of the arm label ('augment x1 [source] latent-factor')
    return frame.filter(pl.col("arm").str.extract(r"\] (.+)$").fill_null(NONE).is_in(keep))


def _arm_key(arm: str) -> str:
    """'augment x1 [source] latent-factor' -> 'augment x1 [source]' (the generator named once in the text)."""
    return arm.split("]")[0] + "]" if "]" in arm else arm


def _cells(frame: pl.DataFrame, column: str, keys: Sequence[str], render: Callable[[pl.DataFrame], str]) -> list[str]:
    """One table cell per key: ``render`` of the rows whose ``column`` equals it, "–" where there are none."""
    out = []
    for key in keys:
        rows = frame.filter(pl.col(column) == key)
        out.append(render(rows) if rows.height else "–")
    return out


def verdict_counts(versus: pl.DataFrame, recommender: str) -> str:
    v = versus.filter((pl.col("recommender") == recommender) & (pl.col("strategy") != "ceiling"))
    rows = ["| source | better (t, Holm) | worse (t, Holm) | n.s. | better (Wilcoxon, Holm) | worse (Wilcoxon, Holm) | comparisons |",
            "|---|---|---|---|---|---|---|"]
    for (source,), sub in v.group_by(["source"], maintain_order=True):
        def n(col: str, value: str, _sub: pl.DataFrame = sub) -> int:
            return int((_sub[col] == value).sum())
        rows.append(f"| {source} | {n('verdict', 'better')} | {n('verdict', 'worse')} | {n('verdict', 'n.s.')} | "
                    f"{n('verdict_wilcoxon', 'better')} | {n('verdict_wilcoxon', 'worse')} | {sub.height} |")
    return "\n".join(rows)


def sources_present(versus: pl.DataFrame) -> list[str]:
    """The sources of a run in table order: the raw source, its DP variants from the largest ε down, then
    ``self``, ``simulator``, ``attributes`` (those present)."""
    present = versus.filter(pl.col("source") != "-").select("source", "epsilon").unique().rows()
    dp = [src for src, eps in sorted(present, key=lambda row: -(row[1] or 0.0)) if src.startswith("source-dp")]
    names = {src for src, _ in present}
    return ([s for s in ("source",) if s in names] + list(dict.fromkeys(dp))
            + [s for s in ("self", "simulator", "attributes") if s in names])


def per_level_verdicts(versus: pl.DataFrame, recommender: str) -> str:
    """Per dataset, split and level: arms of each source significantly better / worse than the best
    real-only model (paired t, Holm), as "b/w"; "–" where the source did not run."""
    sources = sources_present(versus)
    v = versus.filter((pl.col("recommender") == recommender) & pl.col("source").is_in(sources))
    t = (v.group_by(["dataset", "split", "level", "source"])
         .agg((pl.col("verdict") == "better").sum().alias("b"), (pl.col("verdict") == "worse").sum().alias("w")))
    rows = [f"| dataset, split | level | {' | '.join(sources)} |", "|---" * (len(sources) + 2) + "|"]
    for (dataset, split, level), sub in t.sort(["dataset", "split", "level"]).group_by(
            ["dataset", "split", "level"], maintain_order=True):
        cells = _cells(sub, "source", sources, lambda r: f"{r['b'][0]}/{r['w'][0]}")
        rows.append(f"| {dataset}, {split} | {level} | {' | '.join(cells)} |")
    return "\n".join(rows)


def learning_tables(summary: pl.DataFrame, recommender: str) -> str:
    s = summary.filter((pl.col("recommender") == recommender) & (pl.col("metric") == "NDCG@10")
                       & (pl.col("group") == "all") & (pl.col("level_kind") == "users"))
    s = s.with_columns(pl.col("arm").map_elements(_arm_key, return_dtype=pl.String).alias("key"))
    out = []
    for (dataset, split), sub in s.sort(["dataset", "split"]).group_by(["dataset", "split"], maintain_order=True):
        fracs = sorted(set(sub["users_fraction"].to_list()))
        n_seeds = int(sub["n"].max())  # type: ignore[arg-type]
        out.append(f"**{dataset}, {split}** — {recommender} NDCG@10, mean ± sd over {n_seeds} seeds, by fraction "
                   "of target users kept (training users in brackets)\n")
        users = {f: sub.filter((pl.col("users_fraction") == f) & (pl.col("key") == "real-only"))["n_train_users"]
                 for f in fracs}
        head = " | ".join(f"{f:g} ({int(users[f][0]) if users[f].len() else '?'})" for f in fracs)
        out.append(f"| arm | {head} |")
        out.append("|---" * (len(fracs) + 1) + "|")
        for key in MAIN_ARMS:
            arm = sub.filter(pl.col("key") == key)
            if arm.is_empty():
                continue
            cells = []
            for f in fracs:
                r = arm.filter(pl.col("users_fraction") == f)
                cells.append(_fmt(r["mean"][0], r["std"][0]) if r.height else "–")
            out.append(f"| {key} | {' | '.join(cells)} |")
        out.append("")
    return "\n".join(out)


def auto_summary(auto: pl.DataFrame, recommender: str) -> str:
    a = auto.filter(pl.col("recommender") == recommender)
    rows = ["| source | groups | significantly worse (t) | significantly worse (Wilcoxon) | mean Δ vs real-only | "
            "share choosing the best arm |", "|---|---|---|---|---|---|"]
    for (source,), sub in a.group_by(["source"], maintain_order=True):
        rows.append(f"| {source} | {sub.height} | {int(sub['significantly_worse'].sum())} | "
                    f"{int(sub['significantly_worse_wilcoxon'].sum())} | "
                    f"{float(sub['mean_diff_vs_real'].mean()):+.4f} | "  # type: ignore[arg-type]
                    f"{float(sub['share_chose_best'].mean()):.2f} |")  # type: ignore[arg-type]
    return "\n".join(rows)


def breakdown(summary: pl.DataFrame, recommender: str, level: str) -> str:
    s = summary.filter((pl.col("recommender") == recommender) & (pl.col("metric") == "NDCG@10")
                       & (pl.col("level") == level))
    s = s.with_columns(pl.col("arm").map_elements(_arm_key, return_dtype=pl.String).alias("key"))
    groups = ["all", "cold-users", "warm-users", "head-items", "tail-items"]
    rows = [f"| dataset, split | arm | {' | '.join(groups)} |", "|---" * (len(groups) + 2) + "|"]
    for (dataset, split), sub in s.sort(["dataset", "split"]).group_by(["dataset", "split"], maintain_order=True):
        for key in ("real-only", "augment x1 [source]", "ceiling"):
            arm = sub.filter(pl.col("key") == key)
            if arm.is_empty():
                continue
            cells = _cells(arm, "group", groups, lambda r: f"{r['mean'][0]:.4f}")
            rows.append(f"| {dataset}, {split} | {key} | {' | '.join(cells)} |")
    return "\n".join(rows)


def generator_comparison(summary: pl.DataFrame, recommender: str, level: str) -> str:
    """At one level, per dataset and split: real-only, the ceiling, and per generator its augment ×1 arms
    from the raw source and from each DP source, and its `auto [source]` (mean NDCG@10 over seeds)."""
    s = summary.filter((pl.col("recommender") == recommender) & (pl.col("metric") == "NDCG@10")
                       & (pl.col("group") == "all") & (pl.col("level") == level))
    gens = fitted_generators(s)
    dp = sorted(s.filter(pl.col("source").str.starts_with("source-dp"))
                .select("source", "epsilon").unique().rows(), key=lambda row: -row[1])
    sources = ["augment x1 [source]", *(f"augment x1 [{src}]" for src, _ in dp), "auto [source]"]
    arms = ["real-only", "ceiling"] + [f"{a} {g}" for a in sources for g in gens]
    rows = [f"{recommender} NDCG@10 at {level}, mean over seeds\n",
            f"| dataset, split | {' | '.join(arms)} |", "|---" * (len(arms) + 1) + "|"]
    for (dataset, split), sub in s.sort(["dataset", "split"]).group_by(["dataset", "split"], maintain_order=True):
        cells = _cells(sub, "arm", arms, lambda r: f"{r['mean'][0]:.4f}")
        rows.append(f"| {dataset}, {split} | {' | '.join(cells)} |")
    return "\n".join(rows)


def _compact(frame: pl.DataFrame) -> pl.DataFrame:
    """Floats to 6 significant figures: the committed CSVs stay small and diff-able."""
    return frame.with_columns(
        pl.col(c).map_elements(lambda x: float(f"{x:.6g}"), return_dtype=pl.Float64)
        for c, dt in frame.schema.items() if dt.is_float()
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="the --out folder of a finished `synthrec bench` run")
    ap.add_argument("--recommender", default="ease")
    ap.add_argument("--breakdown-level", default="users=0.05")
    ap.add_argument("--generator", default=None,
                    help="read only this generator's arms among those crossed with generators (e.g. item-walk)")
    ap.add_argument("--compare-generators", action="store_true",
                    help="print only the generators side by side at --breakdown-level (reads every arm)")
    ap.add_argument("--copy-to", type=Path, default=None, help="write the compact result CSVs there")
    args = ap.parse_args()
    summary = _read(args.out, "summary.csv")
    _check_choice("--recommender", args.recommender, summary["recommender"])
    _check_choice("--breakdown-level", args.breakdown_level, summary["level"])
    generators = fitted_generators(summary)
    if args.compare_generators:
        if args.generator is not None or args.copy_to is not None:
            raise SystemExit("--compare-generators prints one table of every generator: drop --generator / --copy-to")
        print(generator_comparison(summary, args.recommender, args.breakdown_level))
        return
    if args.generator is not None:
        _check_choice("--generator", args.generator, generators)
    elif len(generators) > 1:
        raise SystemExit(f"{args.out} holds arms of {len(generators)} generators ({', '.join(generators)}): the "
                         "tables name arms without their generator, so choose one with --generator "
                         f"(e.g. --generator {generators[0]}), or compare them with --compare-generators")
    summary = for_generator(summary, args.generator)
    versus, auto, worth = (for_generator(_read(args.out, name), args.generator)
                           for name in ("versus_real.csv", "auto.csv", "worth.csv"))
    if args.generator is not None:
        print(f"(arms of generator {args.generator}, with the arms no generator is crossed with)\n")
    print("## Verdicts against the best real-only model\n")
    print(verdict_counts(versus, args.recommender), "\n")
    print("## Per level: arms better / worse than real-only (paired t, Holm)\n")
    print(per_level_verdicts(versus, args.recommender), "\n")
    print("## `auto`\n")
    print(auto_summary(auto, args.recommender), "\n")
    print(f"## Cold/warm users and head/tail items at {args.breakdown_level}\n")
    print(breakdown(summary, args.recommender, args.breakdown_level), "\n")
    print("## Learning curves\n")
    print(learning_tables(summary, args.recommender))
    if args.copy_to is not None:
        args.copy_to.mkdir(parents=True, exist_ok=True)
        keep = ["dataset", "split", "level", "strategy", "source", "arm", "recommender", "group", "n",
                "n_train_users", "mean", "std", "ci_low", "ci_high"]
        # every arm's overall score; the cold/warm and head/tail groups of the main recommender only
        small = summary.filter((pl.col("metric") == "NDCG@10")
                               & ((pl.col("group") == "all") | (pl.col("recommender") == args.recommender)))
        _compact(small.select(keep)).write_csv(
            args.copy_to / "ndcg10_summary.csv")
        _compact(versus).write_csv(args.copy_to / "versus_real.csv")
        _compact(worth).write_csv(args.copy_to / "worth.csv")
        _compact(auto).write_csv(args.copy_to / "auto.csv")


if __name__ == "__main__":
    main()
