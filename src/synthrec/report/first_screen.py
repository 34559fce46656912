"""The first screen of a run: does synthetic data help here, what ``auto`` picked and by how much versus
real-only (with its interval over seeds), what the raw source would have given (the ceiling), and which
audits failed. One function, `first_screen`, builds it from the ``results.json`` payload, and both the
report page and the terminal summary of ``synthrec run`` / ``synthrec demo`` show it, so they cannot
disagree.

The verdict follows the rule of `synthrec.experiments.findings`: an arm helps (or hurts) only when its
paired per-seed differences to real-only all have the same sign; a difference that rounds to 0.0% is a
tie; with one seed, consistency cannot be tested. The honest arm to judge is ``auto`` (chosen on a
validation split, never on test); without ``auto``, the best arm on test is named with that caveat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from synthrec.evaluation.metrics import headline_metrics
from synthrec.report.run_quality import quality_cards

#: the labels that start every line of `FirstScreen.lines`; `synthrec.experiments.findings.headlines`
#: picks the first screen out of a run's findings by them.
LINE_PREFIXES = ("Verdict:", "auto (", "best arm (", "Ceiling (", "Failed audit", "Audits:", "Only ", "Test set:")

#: below this many evaluated test users per seed, differences are mostly noise
MIN_TEST_USERS = 30

#: fewer seeds than this cannot test "same sign in every seed": with 2 seeds it happens by chance half
#: the time, so such an arm is reported as untested, not as helping
MIN_SEEDS = 3

def ceiling_share_text(share: float | None) -> str:
    """The share of the ceiling's gain an arm recovers, as every page and table shows it: ``"40%"``;
    ``"below real-only"`` for a negative share (never "recovers −115 %"); ``"220% (beyond the ceiling)"``
    above 1 (the raw source is then no upper bound); ``"–"`` when undefined."""
    if share is None or share != share:
        return "–"
    if share < 0:
        return "below real-only"
    if share > 1:
        return f"{100 * share:.0f}% (beyond the ceiling)"
    return f"{100 * share:.0f}%"


Status = Literal["helps", "hurts", "noise", "ties", "untested", "stayed", "no-gain", "no-data"]


@dataclass(frozen=True)
class ModelScreen:
    """One model's row of the first screen (``metric`` values are means over seeds).

    Attributes:
        model: the model's display name.
        arm: the arm judged: ``"auto"``, or without auto the best synthetic arm on test.
        picks: for ``auto``, (chosen arm, number of seeds) most frequent first.
        real, value, ceiling: mean of real-only, of the judged arm and of the ceiling (None: not run).
        diffs: the judged arm minus real-only, per seed.
        interval: 95 % t-interval of the mean paired difference, relative to real-only (None with 1 seed).
        status: ``helps``/``hurts`` (same sign in every seed), ``noise`` (signs differ), ``ties``,
            ``untested`` (one seed), ``stayed`` (auto kept real-only in every seed), ``no-gain`` (no auto
            and no synthetic arm beats real-only on average), ``no-data`` (real-only missing).
    """

    model: str
    arm: str
    picks: list[tuple[str, int]]
    real: float | None
    value: float | None
    ceiling: float | None
    diffs: list[float]
    interval: tuple[float, float] | None
    status: Status

    @property
    def rel(self) -> float | None:
        """(arm − real-only) / real-only of the means, None when undefined."""
        if self.value is None or not self.real:
            return None
        return (self.value - self.real) / self.real

    @property
    def ceiling_rel(self) -> float | None:
        if self.ceiling is None or not self.real:
            return None
        return (self.ceiling - self.real) / self.real

    @property
    def recovered(self) -> float | None:
        """(arm − real-only) / (ceiling − real-only); None when the ceiling does not beat real-only."""
        if self.ceiling is None or self.real is None or self.value is None or self.ceiling <= self.real:
            return None
        return (self.value - self.real) / (self.ceiling - self.real)

    def picks_text(self) -> str:
        """``"augment x2 [source] (2 of 3 seeds), real-only (1)"``; ``"real-only in every seed"``."""
        n = sum(c for _, c in self.picks)
        if not self.picks:
            return "–"
        if len(self.picks) == 1:
            what, _ = self.picks[0]
            return f"{what} in every seed" if n > 1 else what
        head, *rest = self.picks
        return f"{head[0]} ({head[1]} of {n} seeds), " + ", ".join(f"{a} ({c})" for a, c in rest)

    def delta_text(self) -> str:
        """``"+2.3%"`` (relative to real-only), ``"–"`` when undefined."""
        return "–" if self.rel is None else _pct(self.rel)

    def interval_text(self) -> str:
        if self.interval is None:
            return "1 seed: no interval" if len(self.diffs) == 1 else "–"
        lo, hi = self.interval
        return f"{_pct(lo)} to {_pct(hi)}"

    def ceiling_text(self) -> str:
        if self.ceiling is None:
            return "not run"
        return f"{self.ceiling:.4f} ({_pct(self.ceiling_rel)})" if self.ceiling_rel is not None else f"{self.ceiling:.4f}"

    def recovered_text(self) -> str:
        """Share of the ceiling's gain that the judged arm recovers; a negative share reads as such."""
        if self.ceiling is None:
            return "–"
        if self.recovered is None:
            return "no gain to recover"
        if self.value is not None and self.real is not None and self.value < self.real:
            return "none: below real-only"
        return ceiling_share_text(self.recovered)

    @property
    def word(self) -> str:
        """The status in a few words, for the table."""
        return {
            "helps": "helps in every seed", "hurts": "below real-only in every seed",
            "noise": "within noise across seeds", "ties": "ties real-only", "stayed": "kept real-only",
            "untested": (f"{'higher' if (self.rel or 0) > 0 else 'lower'} in the one seed (untested)"
                         if len(self.diffs) == 1 else
                         f"{'higher' if (self.rel or 0) > 0 else 'lower'} on average over {len(self.diffs)} seeds "
                         "(too few to test)"),
            "no-gain": "no arm beats real-only", "no-data": "real-only not run",
        }[self.status]


@dataclass(frozen=True)
class FailedAudit:
    """A fidelity or privacy card that failed for one or more of the run's generators."""

    group: str
    title: str
    figure: str
    values: dict[str, str]  # generator source -> value as shown
    thresholds: str

    def text(self) -> str:
        where = ", ".join(f"{v} (generator fitted on {s})" for s, v in self.values.items())
        return f"Failed audit ({self.group}): {self.title}: {self.figure} = {where}; {self.thresholds}."


@dataclass(frozen=True)
class FirstScreen:
    """What a person should see first. `lines` is the same content as plain text (the terminal)."""

    metric: str
    answer: Literal["Yes", "Partly", "Untested", "Unclear", "No", "Unknown"]
    verdict: str
    models: list[ModelScreen]
    failed: list[FailedAudit]
    warned: int
    audited: bool
    caveats: list[str] = field(default_factory=list)
    with_auto: bool = True

    def model_lines(self) -> list[str]:
        out = []
        for m in self.models:
            if m.status == "no-data" or m.value is None or m.real is None:
                continue
            spread = m.interval_text()
            n = len(m.diffs)
            how = f"95% interval over {n} seeds {spread}" if m.interval is not None else spread
            if m.arm == "auto":
                out.append(f"auto ({m.model}): chose {m.picks_text()}; {self.metric} {m.value:.4f} vs real-only "
                           f"{m.real:.4f}: {m.delta_text()} ({how}): {m.word}.")
            else:
                out.append(f"best arm ({m.model}): {m.arm} (picked on test data: optimistic; add the auto "
                           f"strategy for an honest pick): {self.metric} {m.value:.4f} vs real-only {m.real:.4f}: "
                           f"{m.delta_text()} ({how}).")
            if m.ceiling is not None:
                text = (f"Ceiling ({m.model}): target + raw source data would give {self.metric} {m.ceiling:.4f}"
                        f" ({_pct(m.ceiling_rel)} vs real-only)" if m.ceiling_rel is not None else
                        f"Ceiling ({m.model}): target + raw source data would give {self.metric} {m.ceiling:.4f}")
                who = "auto" if m.arm == "auto" else m.arm
                if m.recovered is None:
                    text += "; the raw source does not beat real-only, so there is no gain to recover."
                elif m.value < m.real:
                    text += f"; {who} is below real-only, so it recovers none of that gain."
                elif m.recovered > 1:
                    text += (f"; {who} recovers {100 * m.recovered:.0f}% of that gain: more than the raw "
                             "source gave, so the ceiling is not an upper bound here.")
                else:
                    text += f"; {who} recovers {100 * m.recovered:.0f}% of that gain."
                out.append(text)
        return out

    def audit_lines(self) -> list[str]:
        if not self.audited:
            return []
        if not self.failed:
            warn = f" ({self.warned} warning{'s' if self.warned != 1 else ''} in the report)" if self.warned else ""
            return [f"Audits: no fidelity or privacy audit failed{warn}."]
        return [f.text() for f in self.failed]

    def lines(self) -> list[str]:
        """Plain text, one statement a line, each starting with one of `LINE_PREFIXES`."""
        return [f"Verdict: {self.answer} — {self.verdict}", *self.model_lines(), *self.audit_lines(), *self.caveats]


def first_screen(results: dict[str, Any]) -> FirstScreen:
    """The first screen of a run from its ``results.json`` payload (`synthrec.experiments.results.
    results_dict`): ``config.ks``, ``records``, ``auto_choices`` and each seed's ``synthetic_quality``
    and ``test_users`` are read; the rest is ignored."""
    ks = results.get("config", {}).get("ks") or [10]
    metric = headline_metrics(ks)[0]
    records = [r for r in results.get("records", []) if r.get("metric") == metric]
    seeds = sorted({r["seed"] for r in records})
    models = list(dict.fromkeys(r["model"] for r in records))
    with_auto = any(r["arm"] == "auto" for r in records)
    screens = [_model_screen(m, [r for r in records if r["model"] == m], results.get("auto_choices", []),
                             with_auto) for m in models]
    cards = quality_cards(results) if any(s.get("synthetic_quality") for s in results.get("seeds", [])) else {}
    failed, warned = _audits(cards)
    caveats = []
    external = results.get("external_source") or {}
    if external and not external.get("usable", True):
        caveats.append(f"The external source {external.get('name', '')} was not used: "
                       f"{external.get('problem') or 'no usable overlap with the target catalogue'}; no source arm "
                       "or ceiling ran, so the verdict compares real-only with the other sources only.")
    if len(seeds) == 1:
        caveats.append("Only 1 seed: consistency across seeds is not testable; differences are from that one "
                       "seed (run with more seeds, e.g. --seeds 0,1,2, to test them).")
    elif 1 < len(seeds) < MIN_SEEDS:
        caveats.append(f"Only {len(seeds)} seeds: differences are weak evidence.")
    test_users = [s["test_users"] for s in results.get("seeds", []) if "test_users" in s]
    if test_users and min(test_users) < MIN_TEST_USERS:
        caveats.append(f"Only {min(test_users)} real test users in a seed: too few to measure differences; "
                       "use more target users (target.source_fraction, target.keep_fraction).")
    test_set = test_set_line(results.get("seeds", []))
    if test_set:
        caveats.append(test_set)
    answer, verdict = _verdict(metric, screens, with_auto)
    return FirstScreen(metric, answer, verdict, screens, failed, warned, bool(cards), caveats, with_auto)


def test_set_line(seeds: list[dict[str, Any]]) -> str | None:
    """What the split did and what no model could reach, from each seed's ``split`` record
    (`synthrec.experiments.pipeline.split_report`): means over seeds, rounded; None for results written
    before splits reported it."""
    stats = [s["split"] for s in seeds if isinstance(s.get("split"), dict) and "n_targets" in s["split"]]
    if not stats:
        return None

    def mean(key: str) -> int:
        return round(sum(float(st.get(key, 0)) for st in stats) / len(stats))

    per = f" (means over {len(stats)} seeds)" if len(stats) > 1 else ""
    parts = [f"{mean('n_targets'):,} held-out (user, item) targets{per}"]
    if any("n_targets_cold_item" in st for st in stats):
        parts.append(f"{mean('n_targets_cold_item'):,} on items absent from the target's training data "
                     "(only synthetic or source data can make them reachable)")
    if any("n_users_cold" in st for st in stats):
        parts.append(f"{mean('n_users_cold'):,} test users with no history")
    repeats = mean("repeat_rows")
    if not repeats:
        parts.append("no repeated (user, item) pairs")
    elif any("repeat_rows_held_out" in st for st in stats):
        parts.append(f"{repeats:,} rows repeat a (user, item) pair ({mean('repeat_rows_held_out'):,} of them went "
                     "to test with their held-out item; a split never leaves a held-out item in the history)")
    else:
        parts.append(f"{repeats:,} rows repeat a (user, item) pair")
    if any("users_tied_at_split" in st for st in stats):
        tied = mean("users_tied_at_split")
        parts.append(f"{tied:,} users tied in time at their split point"
                     + (" (ordered by a seeded random key)" if tied else ""))
    if any("repeat_targets_dropped" in st for st in stats):
        parts.append(f"{mean('repeat_targets_dropped'):,} test events dropped as repeats of train items")
    return "Test set: " + "; ".join(parts) + "."


def _model_screen(model: str, records: list[dict[str, Any]], choices: list[dict[str, Any]],
                  with_auto: bool) -> ModelScreen:
    by_arm: dict[str, dict[int, float]] = {}
    for r in records:
        by_arm.setdefault(r["arm"], {})[r["seed"]] = float(r["value"])
    real = by_arm.get("real-only")
    ceiling = by_arm.get("ceiling")
    ceil_mean = _mean(ceiling.values()) if ceiling else None
    if real is None:
        return ModelScreen(model, "auto", [], None, None, ceil_mean, [], None, "no-data")
    real_mean = _mean(real.values())
    if with_auto:
        arm = "auto"
    else:  # the best synthetic arm on test (optimistic, said so)
        candidates = [a for a in by_arm if a not in ("real-only", "ceiling", "auto")]
        if not candidates:
            return ModelScreen(model, "–", [], real_mean, None, ceil_mean, [], None, "no-gain")
        arm = max(candidates, key=lambda a: _mean(by_arm[a].values()))
    values = by_arm.get(arm, {})
    paired = sorted(s for s in values if s in real)
    diffs = [values[s] - real[s] for s in paired]
    value = _mean(values.values()) if values else None
    counts: dict[str, int] = {}
    for c in choices:
        if c.get("model") == model:
            counts[c["chosen"]] = counts.get(c["chosen"], 0) + 1
    picks = sorted(counts.items(), key=lambda kv: -kv[1])
    interval = _interval(diffs, real_mean)
    status: Status
    rel = (value - real_mean) / real_mean if value is not None and real_mean else math.nan
    if not diffs or value is None:
        status = "no-data"
    elif arm == "auto" and picks and all(a == "real-only" for a, _ in picks):
        status = "stayed"
    elif value == real_mean or (rel == rel and f"{100 * abs(rel):.1f}" == "0.0"):
        status = "ties"
    elif len(diffs) < MIN_SEEDS:
        status = "untested"
    elif all(d > 0 for d in diffs):
        status = "helps"
    elif all(d < 0 for d in diffs):
        status = "hurts"
    else:
        status = "noise"
    if arm != "auto" and status in ("hurts", "noise", "ties") and value is not None and value <= real_mean:
        status = "no-gain"
    return ModelScreen(model, arm, picks, real_mean, value, ceil_mean, diffs, interval, status)


def _verdict(metric: str, screens: list[ModelScreen], with_auto: bool) -> tuple[Any, str]:
    """(answer, one line) over the models."""
    judged = [s for s in screens if s.status != "no-data"]
    if not judged:
        return "Unknown", f"no {metric} of real-only to compare with: the verdict needs the real-only strategy."
    who = "auto" if with_auto else "the best synthetic arm"
    multi = len(judged) > 1

    def named(group: list[ModelScreen]) -> str:
        return ", ".join(f"{s.model} {s.delta_text()}" for s in group)

    helps = [s for s in judged if s.status == "helps"]
    untested = [s for s in judged if s.status == "untested"]
    noise = [s for s in judged if s.status == "noise"]
    if helps and len(helps) == len(judged):
        return "Yes", (f"synthetic data helps here: {who} beats real-only on {metric} in every seed "
                       f"({named(helps)}).")
    if helps:
        rest = [s.model for s in judged if s not in helps]
        return "Partly", (f"synthetic data helps {', '.join(s.model for s in helps)} ({who} beats real-only on "
                          f"{metric} in every seed: {named(helps)}) but not {', '.join(rest)}.")
    if untested:
        up = [s for s in untested if (s.rel or 0) > 0]
        if up:
            n = max(len(s.diffs) for s in up)
            runs = "the one seed run" if n == 1 else f"the mean of the {n} seeds run"
            return "Untested", (f"{who} beats real-only on {metric} in {runs} ({named(up)}); {n} seed"
                                f"{'s' if n > 1 else ''} cannot tell whether that holds: run at least "
                                f"{MIN_SEEDS} seeds.")
    if noise:
        return "Unclear", (f"no evidence that synthetic data helps here: {who} is above real-only on {metric} "
                             f"in some seeds and below in others ({named(noise)}); real-only is the safe choice.")
    stayed = [s for s in judged if s.status == "stayed"]
    if stayed and len(stayed) == len(judged):
        models = " for any model" if multi else ""
        return "No", ("synthetic data does not help here: auto kept real-only in every seed"
                      f"{models} (no synthetic arm beat it on validation); train on the real data.")
    below = [s for s in judged if s.status in ("hurts",) or (s.status == "untested" and (s.rel or 0) < 0)]
    if below:
        return "No", (f"synthetic data does not help here: {who} is below real-only on {metric} "
                      f"({named(below)}); train on the real data.")
    return "No", f"synthetic data does not help here: {who} does not beat real-only on {metric}; train on the real data."


def _audits(cards: dict[str, list[dict[str, Any]]]) -> tuple[list[FailedAudit], int]:
    """Failed fidelity/privacy cards grouped by audit (one entry naming every source where it failed), and
    the number of warnings."""
    failed: dict[str, FailedAudit] = {}
    warned = 0
    for src, src_cards in sorted(cards.items()):
        for c in src_cards:
            if c["status"] == "warn":
                warned += 1
            if c["status"] != "fail":
                continue
            figure, _, shown = c["headline"].rpartition(" = ")
            entry = failed.get(c["audit"])
            if entry is None:
                entry = failed[c["audit"]] = FailedAudit(c.get("group") or "audit", c["title"], figure or c["headline"],
                                                         {}, c["thresholds"])
            entry.values[src] = shown or c.get("value_s", "")
    order = {"privacy": 0, "fidelity": 1}
    return sorted(failed.values(), key=lambda f: order.get(f.group, 2)), warned


def _interval(diffs: list[float], real_mean: float) -> tuple[float, float] | None:
    """95 % t-interval of the mean of ``diffs``, divided by ``real_mean``."""
    n = len(diffs)
    if n < 2 or not real_mean:
        return None
    from scipy.stats import t

    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return (mean - half) / real_mean, (mean + half) / real_mean


def _mean(values: Any) -> float:
    vals = list(values)
    return sum(vals) / len(vals)


def _pct(x: float | None) -> str:
    return "–" if x is None or x != x else f"{100 * x:+.1f}%"
