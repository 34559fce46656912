"""Plain-language findings: where synthetic data helps, where it hurts, and how much of the ceiling it
recovers. Losses are stated as plainly as wins.

A difference is called a gain (or a loss) only when the paired per-seed differences to real-only all
have the same sign; otherwise it is "within noise across seeds". With fewer than 3 seeds that is weak
evidence, and the text says so. With one seed, consistency across seeds cannot be tested at all: the
single-seed difference is reported as it is, never called noise. A difference that rounds to 0.0% is a
tie, neither a gain nor a loss. An arm below real-only recovers none of the raw-source ceiling's gain and
is said to be below real-only (never "recovers -115%").

`verdicts` opens with the run's first screen (`synthrec.report.first_screen`: the verdict, what auto
picked, the ceiling, failed audits, caveats); `headlines` picks those lines out for the terminal.
"""

from __future__ import annotations

import polars as pl

from synthrec.evaluation.metrics import headline_metrics
from synthrec.experiments.pipeline import RunResult
from synthrec.experiments.results import records_frame, results_dict
from synthrec.report.first_screen import LINE_PREFIXES, MIN_SEEDS, first_screen


def headlines(lines: list[str]) -> list[str]:
    """The first screen out of `verdicts` (what the terminal prints at the end of a run, the same as
    the top of the report): the lines that start with `synthrec.report.first_screen.LINE_PREFIXES`."""
    return [line for line in lines if line.startswith(LINE_PREFIXES)]


def details(lines: list[str]) -> list[str]:
    """The rest of `verdicts`: one line per (model, arm) and the per-model summaries."""
    return [line for line in lines if not line.startswith(LINE_PREFIXES)]


def verdicts(result: RunResult, metric: str | None = None) -> list[str]:
    """The first screen's lines (`synthrec.report.first_screen.FirstScreen.lines` of the run's results,
    selected again by `headlines`), then one sentence per (model, arm) (``"model, arm: ..."``) and summary
    lines per model (``"model: ..."``). ``metric``: of the per-arm sentences; by default the run's
    headline NDCG (`synthrec.evaluation.metrics.headline_metrics` of the config's ``ks``: NDCG@10 when
    10 is measured, else NDCG at the smallest k)."""
    if metric is None:
        metric = headline_metrics(result.config.ks)[0]
    rec = records_frame(result).filter(pl.col("metric") == metric)
    if rec.is_empty():
        return [f"no {metric} was measured"]
    n_seeds = rec["seed"].n_unique()
    out: list[str] = first_screen(results_dict(result)).lines()  # the seed and test-user caveats included
    real = rec.filter(pl.col("arm") == "real-only").select("seed", "model", pl.col("value").alias("real"))
    if real.is_empty():
        return [*out, "real-only was not run, so no arm can be compared with it"]
    ceil = rec.filter(pl.col("arm") == "ceiling").select("seed", "model", pl.col("value").alias("ceil"))
    paired = rec.join(real, on=["seed", "model"]).with_columns((pl.col("value") - pl.col("real")).alias("diff"))
    for model in paired["model"].unique(maintain_order=True).to_list():
        sub = paired.filter(pl.col("model") == model)
        real_mean = float(sub.filter(pl.col("arm") == "real-only")["value"].mean())  # type: ignore[arg-type]
        ceil_rows = ceil.filter(pl.col("model") == model)
        ceil_mean = float(ceil_rows["ceil"].mean()) if ceil_rows.height else None  # type: ignore[arg-type]
        wins, losses = [], []
        best: tuple[float, str] | None = None
        for arm in sub["arm"].unique(maintain_order=True).to_list():
            if arm in ("real-only",):
                continue
            d = sub.filter(pl.col("arm") == arm)["diff"]
            mean_val = float(sub.filter(pl.col("arm") == arm)["value"].mean())  # type: ignore[arg-type]
            rel = (mean_val - real_mean) / real_mean if real_mean > 0 else float("nan")
            kind = _kind(d, mean_val - real_mean, rel)
            if kind == "helps":
                wins.append(arm)
            elif kind == "hurts":
                losses.append(arm)
            text = f"{model}, {arm}: {metric} {mean_val:.4f} vs real-only {real_mean:.4f} ({100 * rel:+.1f}%): {kind}"
            if arm != "ceiling" and ceil_mean is not None and ceil_mean > real_mean:
                text += "; " + _recovery(mean_val, real_mean, ceil_mean, "ceiling")
            out.append(text + ".")
            if arm not in ("ceiling", "auto") and (best is None or mean_val > best[0]):
                best = (mean_val, arm)
        if best is not None:
            line = f"{model}: best synthetic arm {best[1]}: {metric} {best[0]:.4f} vs real-only {real_mean:.4f}"
            if ceil_mean is not None and ceil_mean > real_mean:
                line += f", ceiling {ceil_mean:.4f}: {_recovery(best[0], real_mean, ceil_mean, 'gain')}"
            out.append(line + " (best of several arms on test: an optimistic pick; see auto for an honest one).")
        synthetic_wins = [a for a in wins if a not in ("ceiling",)]
        if synthetic_wins:
            out.append(f"{model}: synthetic data helps consistently in {', '.join(synthetic_wins)}.")
        elif best is not None and best[0] > real_mean and n_seeds == 1:
            rel_best = (best[0] - real_mean) / real_mean if real_mean > 0 else float("nan")
            out.append(f"{model}: {best[1]} beats real-only by {100 * rel_best:+.1f}% in the one seed run; "
                       "whether that holds across seeds is not testable with one seed.")
        elif best is not None and best[0] > real_mean:
            out.append(f"{model}: no synthetic-data arm beats real-only in every seed; the mean gains above are "
                       "within seed-to-seed noise.")
        else:
            out.append(f"{model}: no synthetic-data arm beats real-only on average: train on the real data.")
        if losses:
            out.append(f"{model}: synthetic data hurts in {', '.join(a for a in losses)}.")
    return out


def _recovery(value: float, real: float, ceiling: float, what: str) -> str:
    """``"recovers 25% of the raw-source ceiling"`` (``what``: ``ceiling`` or ``gain``), or, for an arm
    below real-only, ``"below real-only: recovers none of the raw-source ceiling"``."""
    if value < real:
        return f"below real-only: recovers none of the raw-source {what}"
    share = (value - real) / (ceiling - real)
    beyond = " (beyond the ceiling: the raw source is no upper bound here)" if share > 1 else ""
    return f"recovers {100 * share:.0f}% of the raw-source {what}{beyond}"


def _kind(diffs: pl.Series, mean_diff: float, rel: float) -> str:
    """Label one arm against real-only from its paired per-seed differences ``diffs`` (Float, one per seed),
    the difference of the means ``mean_diff`` and the relative difference ``rel`` (NaN when real-only is 0).

    A tie (the shown percentage rounds to 0.0%, or no difference at all) is never a gain or a loss. With
    fewer than `MIN_SEEDS` seeds consistency cannot be tested (two seeds share a sign by chance half the
    time), so the difference is stated as higher or lower — the rule of the first screen.
    """
    tie = mean_diff == 0 or (rel == rel and f"{100 * abs(rel):.1f}" == "0.0")
    if tie:
        return "ties real-only"
    if len(diffs) == 1:
        return f"{'higher' if mean_diff > 0 else 'lower'} in the one seed (consistency not testable)"
    if len(diffs) < MIN_SEEDS:
        return (f"{'higher' if mean_diff > 0 else 'lower'} on average over {len(diffs)} seeds "
                "(too few to test consistency)")
    if (diffs > 0).all():
        return "helps"
    if (diffs < 0).all():
        return "hurts"
    return "is within noise across seeds"
