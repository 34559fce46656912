"""Share of the ceiling recovered by synthetic users fitted on a private source (issue 13's protocol).

Protocol (per dataset and seed s; splits, arms, metrics and the audit are synthrec's own pieces)
- Data: the amazon-seq files (Beauty, Toys_and_Games, Sports_and_Outdoors, Yelp; one user per line, items
  in time order) read with `read_sequence_file`, cut to the 2,000 most frequent items (`keep_top_items`),
  users compacted.
- Users: `split_users` gives 90 % source and 10 % pool (seed `derive_seed(s, "source")`); the pool is
  split again 20 % target / 80 % non-members (`derive_seed(s, "target")`), so the target holds about 2 %
  of all users. Non-members are never seen by any generator: they are the privacy audit's holdout.
- The target is split leave-last-out (test: each user's last item); a validation split is carved from
  its training part the same way (`carve_validation`, seed `derive_seed(s, "validation")`).
- Generators ("specs": registered name, parameters, ε; default latent-factor and item-walk, each exact,
  ε = 4 and ε = 1) are fitted on the source (seed `derive_seed(s, "fit", spec)`) and sample as many
  synthetic users as the source has (seed `derive_seed(s, "sample", spec)`; `spec` is the canonical
  label: parameters sorted, ε as `%g`, none for an exact fit). CPU seconds of fit and of sample are
  measured apart (`time.process_time`, every thread of the process; the DP accountant's import is done
  before timing).
- Arms (`synthrec.experiments.strategies.train_arm`): real-only (target train), ceiling (target train +
  raw source) and augment [spec] (target train + the spec's synthetic users, ratio 1).
- Recommenders: EASE (λ over `--ease-grid`) and ALS (64 factors; regularization × alpha over
  `--als-reg` × `--als-alpha`). Every arm is tuned alike: fit on the arm built from the validation
  split's train part, NDCG@10 on the validation targets, keep the best setting, refit the arm on the
  full target train and score on the test targets (a one-setting grid skips the validation fit). Source
  and synthetic users are the same for tuning and test.
- Metrics: NDCG@10 and Recall@10 (`synthrec.experiments.scoring.score`). Share of the ceiling per seed =
  (arm − real-only) / (ceiling − real-only) on NDCG@10: 0 = no gain, 1 = as good as the raw source.
- Privacy audit (`privacy_report`; item-walk specs by default, every spec with `--audit-all`, none with
  `--no-audit`) on a seeded subsample: 2,000 source users (members), 2,000 non-members (holdout; all of
  them where fewer: Beauty has about 1,700), 2,000 synthetic users.

Run (from the project root, venv active). The quick check below took 22 s on 2 busy cores; a full seed
(six specs, EASE and ALS grids) on Beauty takes a few minutes:

    OPENBLAS_NUM_THREADS=1 python benchmarks/transfer_share.py --datasets beauty --seeds 0 1 2 3 4
    OPENBLAS_NUM_THREADS=1 python benchmarks/transfer_share.py --datasets beauty toys sports yelp
    OPENBLAS_NUM_THREADS=1 python benchmarks/transfer_share.py --generators item-walk item-walk:dp_l2=2@4
    OPENBLAS_NUM_THREADS=1 python benchmarks/transfer_share.py --summarize     # tables of what is done
    # quick check: one seed, EASE at one λ, two generators
    OPENBLAS_NUM_THREADS=1 python benchmarks/transfer_share.py --datasets beauty --seeds 0 --models ease \\
        --ease-grid 200 --generators item-walk latent-factor@4

Generator specs: `name`, `name@eps` (`@inf` = exact), `name:key=value,key=value@eps`.

Outputs (in `--out`, default runs/transfer-share; a rerun skips every (dataset, seed) whose records all
exist and redoes partial ones; the last line of a key wins)
- records.jsonl: one line per (dataset, seed, model, arm): the chosen setting, its validation NDCG@10
  (null for a one-setting grid), test NDCG@10 and Recall@10, users evaluated, the split sizes.
- generators.jsonl: one line per (dataset, seed, spec): fit / sample CPU and wall seconds, the process's
  peak RSS so far (MiB; cumulative over the run, so an upper bound for that spec), the ε spent (null for
  an exact fit) and δ, the synthetic log's size and the audit (every key of `REPORT_KEYS`, or null).
- summary.md: the tables printed at the end (and by `--summarize`): per (dataset, model, arm) the mean
  NDCG@10 and Recall@10, share of the ceiling mean ± 95 % t-interval half-width over seeds, n seeds and
  the paired t-test p-value of the arm against real-only; per (dataset, spec) the generator's mean costs
  and audit figures.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import resource
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from synthrec.data.amazon_seq import read_sequence_file
from synthrec.data.interactions import InteractionData
from synthrec.data.splits import Split, carve_validation, leave_last_out, split_users
from synthrec.evaluation.privacy import REPORT_KEYS, privacy_report
from synthrec.experiments.arms import Arm
from synthrec.experiments.bench.datasets import keep_top_items
from synthrec.experiments.scoring import EvalSet, eval_set, score
from synthrec.experiments.strategies import ArmInputs, SyntheticPool, derive_seed, train_arm
from synthrec.generators.registry import make_generator
from synthrec.models.base import Recommender
from synthrec.models.registry import make_model

ROOT = Path(__file__).resolve().parent.parent
DATASETS = {"beauty": "Beauty", "toys": "Toys_and_Games", "sports": "Sports_and_Outdoors", "yelp": "Yelp"}
DEFAULT_SPECS = ["latent-factor", "latent-factor@4", "latent-factor@1",
                 "item-walk", "item-walk@4", "item-walk@1"]
MAX_ITEMS = 2000
AUDIT_USERS = 2000
METRIC = "NDCG@10"
KS = [10]
START = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - START:7.1f}s] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ specs


@dataclass(frozen=True)
class Spec:
    """A generator: registered name, constructor parameters, ε (None = exact)."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()
    epsilon: float | None = None

    @property
    def label(self) -> str:
        text = self.name
        if self.params:
            text += ":" + ",".join(f"{k}={v}" for k, v in self.params)
        return text if self.epsilon is None else f"{text}@{self.epsilon:g}"

    @property
    def arm(self) -> str:
        return f"augment [{self.label}]"


def parse_value(text: str) -> Any:
    """A parameter value: int, float, true/false/none, or the text itself."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_spec(text: str) -> Spec:
    """``name[:key=value,...][@eps]``; ``@inf`` is the exact fit (same spec as no ``@``)."""
    body, _, eps_text = text.partition("@")
    name, _, param_text = body.partition(":")
    params = []
    for item in filter(None, param_text.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"generator parameter {item!r} in {text!r} is not key=value")
        params.append((key.strip(), parse_value(value.strip())))
    eps = float(eps_text) if eps_text else math.inf
    if not eps > 0:
        raise argparse.ArgumentTypeError(f"epsilon must be > 0 in {text!r}")
    return Spec(name.strip(), tuple(sorted(params)), None if math.isinf(eps) else eps)


def audited(spec: Spec, args: argparse.Namespace) -> bool:
    return args.audit and (args.audit_all or spec.name == "item-walk")


# ------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class Block:
    """One seed's users: the source, the target's test and validation splits, the audit's holdout."""

    source: InteractionData
    nonmembers: InteractionData
    split: Split
    validation: Split

    def sizes(self) -> dict[str, int]:
        return {"n_source": self.source.n_users, "n_nonmembers": self.nonmembers.n_users,
                "n_target": self.split.train.compact_users().n_users, "n_items": self.source.n_items}


def load_dataset(root: Path, short: str) -> InteractionData:
    data = read_sequence_file(root / f"{DATASETS[short]}.txt")
    return keep_top_items(data, MAX_ITEMS).compact_users()


def make_block(data: InteractionData, seed: int) -> Block:
    source, pool = split_users(data, 0.9, seed=derive_seed(seed, "source"))
    target, nonmembers = split_users(pool.compact_users(), 0.2, seed=derive_seed(seed, "target"))
    split = leave_last_out(target.compact_users())
    validation = carve_validation(split, seed=derive_seed(seed, "validation"))
    return Block(source.compact_users(), nonmembers.compact_users(), split, validation)


def sample_users(data: InteractionData, n: int, seed: int) -> InteractionData:
    """At most ``n`` active users of ``data`` drawn uniformly without replacement, with all their events."""
    active = data.active_users()
    keep = np.random.default_rng(seed).choice(active, size=min(n, len(active)), replace=False)
    return data.filter_users(np.sort(keep))


# ------------------------------------------------------------------------------------------ models


def model_grid(model: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    if model == "ease":
        return [{"l2": float(l2)} for l2 in args.ease_grid]
    if model == "als":
        return [{"factors": args.als_factors, "regularization": float(r), "alpha": float(a)}
                for r in args.als_reg for a in args.als_alpha]
    raise SystemExit(f"no tuning grid for model {model!r} (ease, als)")


def factory(model: str, seed: int, params: dict[str, Any]) -> Callable[[], Recommender]:
    return lambda: make_model(model, seed=seed, **params)


def tune_and_test(
    arm: Arm, model: str, seed: int, grid: list[dict[str, Any]], pools: dict[str, SyntheticPool],
    block: Block, evals: tuple[EvalSet, EvalSet],
) -> dict[str, Any]:
    """Pick the grid setting with the best validation NDCG@10, refit on the full target train, test."""
    val_es, test_es = evals
    val_inputs = ArmInputs(block.validation.train.compact_users(), block.source, pools)
    val_scores = [score(train_arm(arm, factory(model, seed, p), val_inputs), val_es, KS)[METRIC]
                  for p in grid] if len(grid) > 1 else []
    best = int(np.argmax(val_scores)) if val_scores else 0
    test_inputs = ArmInputs(block.split.train.compact_users(), block.source, pools)
    metrics = score(train_arm(arm, factory(model, seed, grid[best]), test_inputs), test_es, KS)
    return {"params": grid[best], "val_ndcg10": val_scores[best] if val_scores else None,
            "ndcg10": metrics["NDCG@10"], "recall10": metrics["Recall@10"],
            "n_users_evaluated": metrics["n_users_evaluated"]}


# ------------------------------------------------------------------------------------------ generators


def warm_imports(specs: list[Spec]) -> None:
    """Import the DP accountant (opacus, torch: ~3 CPU s) before any fit is timed, so the first DP spec of a
    process is not charged for it."""
    if any(s.epsilon is not None for s in specs):
        importlib.import_module("opacus.accountants.analysis.rdp")


def fit_and_sample(spec: Spec, source: InteractionData, seed: int) -> tuple[InteractionData, dict[str, Any]]:
    """The spec's synthetic users (as many as the source holds) and the costs of getting them."""
    gen = make_generator(spec.name, seed=derive_seed(seed, "fit", spec.label), epsilon=spec.epsilon,
                         **dict(spec.params))
    cpu, wall = time.process_time(), time.perf_counter()
    gen.fit(source)
    fit_cpu, fit_wall = time.process_time() - cpu, time.perf_counter() - wall
    cpu, wall = time.process_time(), time.perf_counter()
    synthetic = gen.sample(source.n_users, seed=derive_seed(seed, "sample", spec.label))
    sample_cpu, sample_wall = time.process_time() - cpu, time.perf_counter() - wall
    guarantee = getattr(gen, "privacy", None) or {}
    spent = guarantee.get("epsilon")
    return synthetic, {
        "fit_cpu_s": fit_cpu, "fit_wall_s": fit_wall,
        "sample_cpu_s": sample_cpu, "sample_wall_s": sample_wall,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "epsilon_spent": spent if spent is not None and math.isfinite(spent) else None,
        "delta": guarantee.get("delta"),
        "n_synthetic_users": synthetic.n_users, "n_synthetic_interactions": synthetic.n_interactions,
    }


def audit(synthetic: InteractionData, block: Block, seed: int, spec: Spec) -> dict[str, float]:
    members = sample_users(block.source, AUDIT_USERS, derive_seed(seed, "audit-members"))
    holdout = sample_users(block.nonmembers, AUDIT_USERS, derive_seed(seed, "audit-holdout"))
    fake = sample_users(synthetic, AUDIT_USERS, derive_seed(seed, "audit-synthetic", spec.label))
    return privacy_report(fake, members, holdout)


# ------------------------------------------------------------------------------------------ records


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()


def latest(rows: Iterable[dict[str, Any]], keys: tuple[str, ...]) -> dict[tuple, dict[str, Any]]:
    """Rows by key; a redone block's later line replaces the earlier one."""
    return {tuple(r[k] for k in keys): r for r in rows}


RECORD_KEY = ("dataset", "seed", "model", "arm")
GENERATOR_KEY = ("dataset", "seed", "spec")


def block_done(out: Path, dataset: str, seed: int, models: list[str], specs: list[Spec]) -> bool:
    records = latest(read_jsonl(out / "records.jsonl"), RECORD_KEY)
    generators = latest(read_jsonl(out / "generators.jsonl"), GENERATOR_KEY)
    arms = ["real-only", "ceiling"] + [s.arm for s in specs]
    return (all((dataset, seed, m, a) in records for m in models for a in arms)
            and all((dataset, seed, s.label) in generators for s in specs))


# ------------------------------------------------------------------------------------------ run


def run_block(data: InteractionData, dataset: str, seed: int, args: argparse.Namespace) -> None:
    """Every record of one (dataset, seed), appended as it finishes."""
    block = make_block(data, seed)
    evals = (eval_set(block.validation), eval_set(block.split))
    base = {"dataset": dataset, "seed": seed, **block.sizes()}
    log(f"{dataset} seed {seed}: {base}")

    def run_arm(arm: Arm, label: str, pools: dict[str, SyntheticPool]) -> None:
        for model in args.models:
            t0 = time.perf_counter()
            result = tune_and_test(arm, model, seed, model_grid(model, args), pools, block, evals)
            result["seconds"] = time.perf_counter() - t0
            append_jsonl(args.out / "records.jsonl", {**base, "model": model, "arm": label, **result})
            log(f"{dataset} seed {seed} {model} {label}: NDCG@10 {result['ndcg10']:.4f} "
                f"{result['params']} ({result['seconds']:.1f}s)")

    run_arm(Arm("real-only"), "real-only", {})
    run_arm(Arm("ceiling"), "ceiling", {})
    for spec in args.generators:
        log(f"{dataset} seed {seed}: fitting and sampling {spec.label}")
        synthetic, costs = fit_and_sample(spec, block.source, seed)
        log(f"{dataset} seed {seed} {spec.label}: fit {costs['fit_cpu_s']:.1f} CPU s, "
            f"sample {costs['sample_cpu_s']:.1f} CPU s")
        report = None
        if audited(spec, args):
            t0 = time.perf_counter()
            report = audit(synthetic, block, seed, spec)
            log(f"{dataset} seed {seed} {spec.label}: audit mia_auc {report['mia_auc']:.3f} "
                f"({time.perf_counter() - t0:.1f}s)")
        pools = {spec.label: SyntheticPool(synthetic, block.source.n_users)}
        run_arm(Arm("augment", spec.label, 1.0), spec.arm, pools)
        append_jsonl(args.out / "generators.jsonl", {**base, "spec": spec.label, **costs, "audit": report})


def run(args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    for dataset in args.datasets:
        todo = [s for s in args.seeds if not block_done(args.out, dataset, s, args.models, args.generators)]
        for s in sorted(set(args.seeds) - set(todo)):
            log(f"{dataset} seed {s}: done already, skipped")
        if not todo:
            continue
        log(f"{dataset}: loading")
        warm_imports(args.generators)
        data = load_dataset(args.data_root, dataset)
        log(f"{dataset}: {data.n_users} users, {data.n_items} items, {data.n_interactions} interactions")
        for seed in todo:
            run_block(data, dataset, seed, args)


# ------------------------------------------------------------------------------------------ summary

FIXED_ARMS = ("real-only", "ceiling")
AUDIT_COLUMNS = tuple(k for k in ("mia_auc", "dcr_share_closer_to_train", "dcr_share_baseline",
                                  "exact_copy_share", "exact_copy_share_holdout") if k in REPORT_KEYS)


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the 95 % t-interval half-width (nan below two values)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()) if len(v) else math.nan, math.nan
    return float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))


def fmt(x: float | None, digits: int = 4) -> str:
    return "—" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def dataset_order(group: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
    """Datasets in `DATASETS` order, then the rest of the key."""
    return list(DATASETS).index(group[0]) if group[0] in DATASETS else len(DATASETS), group


def arm_row(here: dict[tuple, dict[str, Any]], dataset: str, model: str, arm: str) -> str | None:
    """One table row over the seeds where the arm, real-only and the ceiling are all done."""
    seeds = sorted(s for d, s, m, a in here if a == arm
                   and all((d, s, m, f) in here for f in FIXED_ARMS))
    if not seeds:
        return None

    def values(which: str, key: str = "ndcg10") -> np.ndarray:
        return np.array([here[(dataset, s, model, which)][key] for s in seeds], dtype=float)

    ndcg, real, ceil = values(arm), values("real-only"), values("ceiling")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(ceil != real, (ndcg - real) / (ceil - real), np.nan)
    m, hw = mean_ci(list(share))
    p = stats.ttest_rel(ndcg, real).pvalue if len(seeds) > 1 and arm != "real-only" else math.nan
    share_text = fmt(m, 3) + ("" if math.isnan(hw) else f" ± {hw:.3f}")
    recall = float(values(arm, "recall10").mean())
    return (f"| {dataset} | {model} | {arm} | {fmt(float(ndcg.mean()))} | {fmt(recall)} | {share_text} "
            f"| {len(seeds)} | {fmt(float(p), 3)} |")


def arm_table(records: list[dict[str, Any]]) -> str:
    rows = latest(records, RECORD_KEY)
    lines = ["| dataset | model | arm | NDCG@10 | Recall@10 | share of ceiling (± 95 % CI) | n "
             "| p vs real-only |", "|---|---|---|---|---|---|---|---|"]
    for dataset, model in sorted({(d, m) for d, _, m, _ in rows}, key=dataset_order):
        here = {k: r for k, r in rows.items() if k[0] == dataset and k[2] == model}
        arms = [a for a in FIXED_ARMS if any(k[3] == a for k in here)]
        arms += [a for a in dict.fromkeys(k[3] for k in here) if a not in FIXED_ARMS]
        lines += filter(None, (arm_row(here, dataset, model, a) for a in arms))
    return "\n".join(lines)


def generator_table(generators: list[dict[str, Any]]) -> str:
    rows = latest(generators, GENERATOR_KEY)
    lines = ["| dataset | spec | n | fit CPU s | sample CPU s | ε spent | "
             + " | ".join(AUDIT_COLUMNS) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(AUDIT_COLUMNS)]
    for dataset, spec in sorted(dict.fromkeys((k[0], k[2]) for k in rows), key=lambda g: dataset_order(g)[0]):
        here = [r for k, r in rows.items() if k[0] == dataset and k[2] == spec]
        eps = [r["epsilon_spent"] for r in here if r.get("epsilon_spent") is not None]
        audits = [r["audit"] for r in here if r.get("audit")]
        cells = [fmt(float(np.mean([r["fit_cpu_s"] for r in here])), 1),
                 fmt(float(np.mean([r["sample_cpu_s"] for r in here])), 1),
                 fmt(float(np.mean(eps)), 2) if eps else "∞"]
        cells += [fmt(float(np.mean([a[k] for a in audits])), 3) if audits else "—" for k in AUDIT_COLUMNS]
        lines.append(f"| {dataset} | {spec} | {len(here)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summarize(out: Path) -> str:
    """Both tables of what ``out`` holds, also written to ``out/summary.md``."""
    records, generators = read_jsonl(out / "records.jsonl"), read_jsonl(out / "generators.jsonl")
    text = ("Share of the ceiling = (arm − real-only) / (ceiling − real-only) on NDCG@10, per seed; "
            "mean ± 95 % t-interval half-width over seeds; p: paired t-test of the arm's NDCG@10 against "
            "real-only.\n\n" + arm_table(records)
            + f"\n\nGenerators (means over seeds; audit on at most {AUDIT_USERS:,} members / non-members / "
            "synthetic users each):\n\n" + generator_table(generators) + "\n")
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(text)
    return text


# ------------------------------------------------------------------------------------------ CLI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    p.add_argument("--data-root", type=Path, default=ROOT / ".." / "shared" / "data" / "amazon-seq",
                   help="folder of the amazon-seq .txt files (default: ../shared/data/amazon-seq "
                        "from the project root)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--generators", type=parse_spec, nargs="+", default=[parse_spec(s) for s in DEFAULT_SPECS],
                   help=f"specs: name, name@eps, name:key=value,...@eps (default: {' '.join(DEFAULT_SPECS)})")
    p.add_argument("--models", nargs="+", choices=["ease", "als"], default=["ease", "als"])
    p.add_argument("--ease-grid", type=float, nargs="+", default=[50, 100, 200, 500, 1000, 2000])
    p.add_argument("--als-factors", type=int, default=64)
    p.add_argument("--als-reg", type=float, nargs="+", default=[1, 10, 100])
    p.add_argument("--als-alpha", type=float, nargs="+", default=[1, 5])
    p.add_argument("--audit", action=argparse.BooleanOptionalAction, default=True,
                   help="privacy audit of item-walk specs (--no-audit: none)")
    p.add_argument("--audit-all", action="store_true", help="audit every spec, not only item-walk ones")
    p.add_argument("--out", type=Path, default=Path("runs/transfer-share"))
    p.add_argument("--summarize", action="store_true", help="only print the tables of what --out holds")
    args = p.parse_args(argv)
    args.generators = list(dict.fromkeys(args.generators))  # item-walk and item-walk@inf are one spec
    return args


def main() -> None:
    args = parse_args()
    if not args.summarize:
        run(args)
    print(summarize(args.out), flush=True)


if __name__ == "__main__":
    main()
