"""The report's first screen and the terminal summary: one verdict built from results data
(`synthrec.report.first_screen.first_screen`), checked on hand-made results; the page and the terminal say
the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from synthrec.config import parse_config
from synthrec.experiments.findings import details, headlines, verdicts
from synthrec.experiments.pipeline import RunResult
from synthrec.experiments.results import results_dict, summary_frame
from synthrec.report.first_screen import LINE_PREFIXES, first_screen
from synthrec.report.html import write_run_report

LEAKY = {"mia_auc": 0.9, "popularity_gini_diff": 0.01, "activity_ks": 0.05}   # membership inference fails
CLEAN = {"mia_auc": 0.52, "popularity_gini_diff": 0.01, "activity_ks": 0.05}


def _results(values: dict[str, list[float]], *, chosen: list[str] | None = None, model: str = "ease",
             quality: dict[str, dict[str, float]] | None = None, test_users: int = 200) -> dict[str, Any]:
    """A results.json payload: NDCG@10 per arm and seed (and a Recall@20 the screen must ignore)."""
    records = []
    for arm, vals in values.items():
        for seed, v in enumerate(vals):
            records.append({"seed": seed, "arm": arm, "model": model, "metric": "NDCG@10", "value": v})
            records.append({"seed": seed, "arm": arm, "model": model, "metric": "Recall@20", "value": 9 * v})
    n = len(next(iter(values.values())))
    return {
        "config": {"ks": [10, 20]},
        "records": records,
        "auto_choices": [{"seed": s, "model": model, "chosen": c} for s, c in enumerate(chosen or [])],
        "seeds": [{"seed": s, "test_users": test_users, "synthetic_quality": quality or {}} for s in range(n)],
    }


def test_helps_names_auto_pick_interval_and_ceiling() -> None:
    res = _results({"real-only": [0.10, 0.20, 0.30], "augment x2 [source]": [0.12, 0.23, 0.33],
                    "auto": [0.12, 0.23, 0.32], "ceiling": [0.14, 0.26, 0.36]},
                   chosen=["augment x2 [source]", "augment x2 [source]", "real-only"], quality={"source": CLEAN})
    fs = first_screen(res)
    assert fs.answer == "Yes"
    assert fs.verdict == ("synthetic data helps here: auto beats real-only on NDCG@10 in every seed "
                          "(ease +11.7%).")
    (m,) = fs.models
    assert m.status == "helps" and m.picks_text() == "augment x2 [source] (2 of 3 seeds), real-only (1)"
    lo, hi = m.interval  # type: ignore[misc]
    assert lo < 0.117 < hi  # around the mean of the paired differences / real-only
    lines = fs.lines()
    assert lines[0] == f"Verdict: Yes — {fs.verdict}"
    assert lines[1].startswith("auto (ease): chose augment x2 [source] (2 of 3 seeds), real-only (1); NDCG@10 "
                               "0.2233 vs real-only 0.2000: +11.7% (95% interval over 3 seeds ")
    # (0.2233 - 0.2) / (0.2533 - 0.2) = 0.4375
    assert lines[2] == ("Ceiling (ease): target + raw source data would give NDCG@10 0.2533 (+26.7% vs real-only); "
                        "auto recovers 44% of that gain.")
    assert lines[3] == "Audits: no fidelity or privacy audit failed."
    assert all(line.startswith(LINE_PREFIXES) for line in lines)


def test_does_not_help_reads_below_real_only_never_a_negative_recovery() -> None:
    res = _results({"real-only": [0.10, 0.20, 0.30], "auto": [0.08, 0.15, 0.29], "ceiling": [0.14, 0.26, 0.36]},
                   chosen=["augment x1 [self]"] * 3)
    fs = first_screen(res)
    assert fs.answer == "No"
    assert fs.verdict.startswith("synthetic data does not help here: auto is below real-only on NDCG@10 (ease -13.3%)")
    assert fs.models[0].status == "hurts" and fs.models[0].recovered_text() == "none: below real-only"
    text = "\n".join(fs.lines())
    assert "auto is below real-only, so it recovers none of that gain." in text
    assert "recovers -" not in text and "Audits" not in text  # no synthetic quality measured: no audit line


def test_auto_stayed_real_only() -> None:
    res = _results({"real-only": [0.10, 0.20, 0.30], "auto": [0.10, 0.20, 0.30]}, chosen=["real-only"] * 3)
    fs = first_screen(res)
    assert fs.answer == "No" and fs.models[0].status == "stayed"
    assert fs.verdict == ("synthetic data does not help here: auto kept real-only in every seed (no synthetic arm "
                          "beat it on validation); train on the real data.")
    assert fs.lines()[1].startswith("auto (ease): chose real-only in every seed; NDCG@10 0.2000 vs real-only 0.2000: "
                                    "+0.0%")


def test_mixed_signs_are_not_shown_and_one_seed_is_untested() -> None:
    noisy = first_screen(_results({"real-only": [0.10, 0.20, 0.30], "auto": [0.12, 0.19, 0.33]},
                                  chosen=["augment x1 [self]"] * 3))
    assert noisy.answer == "Unclear" and noisy.verdict.startswith("no evidence that synthetic data helps here")
    one = first_screen(_results({"real-only": [0.10], "auto": [0.12]}, chosen=["augment x1 [self]"]))
    assert one.answer == "Untested" and "noise" not in " ".join(one.lines())
    assert one.models[0].interval_text() == "1 seed: no interval"
    assert any(line.startswith("Only 1 seed: consistency across seeds is not testable") for line in one.lines())


def test_failed_audit_is_on_the_first_screen_and_in_the_lines() -> None:
    res = _results({"real-only": [0.10, 0.20, 0.30], "auto": [0.12, 0.23, 0.33]}, chosen=["augment x1 [source]"] * 3,
                   quality={"self": CLEAN, "source": LEAKY})
    fs = first_screen(res)
    assert fs.answer == "Yes"
    assert [(f.group, f.title, f.values) for f in fs.failed] == [("privacy", "Membership inference", {"source": "0.900"})]
    assert ("Failed audit (privacy): Membership inference: ROC AUC of a distance-based membership-inference attack "
            "(0.5 = no leak) = 0.900 (generator fitted on source); pass ≤ 0.6 · warn ≤ 0.7 · fail above.") in fs.lines()


def test_without_auto_the_best_arm_is_named_as_optimistic() -> None:
    fs = first_screen(_results({"real-only": [0.10, 0.20, 0.30], "augment x1 [self]": [0.09, 0.19, 0.29],
                                "augment x2 [self]": [0.11, 0.21, 0.31]}))
    assert fs.answer == "Yes" and fs.models[0].arm == "augment x2 [self]"
    assert "the best synthetic arm beats real-only" in fs.verdict
    assert fs.lines()[1].startswith("best arm (ease): augment x2 [self] (picked on test data: optimistic")
    worse = first_screen(_results({"real-only": [0.10, 0.20, 0.30], "augment x1 [self]": [0.09, 0.19, 0.29]}))
    assert worse.answer == "No" and worse.models[0].status == "no-gain"


def test_auto_without_recorded_choices_still_reads() -> None:
    fs = first_screen(_results({"real-only": [0.10, 0.20, 0.30], "auto": [0.12, 0.23, 0.33]}))
    assert fs.answer == "Yes" and fs.lines()[1].startswith("auto (ease): chose –; NDCG@10 0.2267")


def test_two_models_partly() -> None:
    res = _results({"real-only": [0.10, 0.20, 0.30], "auto": [0.12, 0.23, 0.33]}, chosen=["augment x1 [source]"] * 3)
    als = _results({"real-only": [0.10, 0.20, 0.30], "auto": [0.10, 0.20, 0.30]}, chosen=["real-only"] * 3, model="als")
    res["records"] += als["records"]
    res["auto_choices"] += als["auto_choices"]
    fs = first_screen(res)
    assert fs.answer == "Partly"
    assert fs.verdict == ("synthetic data helps ease (auto beats real-only on NDCG@10 in every seed: ease +13.3%) "
                          "but not als.")


def _run(values: dict[str, list[float]], chosen: list[str]) -> RunResult:
    res = RunResult(parse_config({"data": {"loader": "movielens-small"}}), {"name": "toy"})
    for arm, vals in values.items():
        for seed, v in enumerate(vals):
            res.records.append({"seed": seed, "arm": arm, "strategy": arm.split(" ")[0], "source": "-",
                                "ratio": None, "model": "ease", "metric": "NDCG@10", "value": v})
    res.auto_choices = [{"seed": s, "model": "ease", "chosen": c, "validation": {}} for s, c in enumerate(chosen)]
    res.seeds_info = [{"seed": s, "test_users": 100, "generator_seconds": {"source": 1.0}, "synthetic_quality": {"source": LEAKY}} for s in range(len(chosen))]
    return res


def test_terminal_headlines_and_page_say_the_same(tmp_path: Path) -> None:
    result = _run({"real-only": [0.10, 0.20, 0.30], "augment x1 [source]": [0.05, 0.10, 0.20],
                   "auto": [0.05, 0.10, 0.20], "ceiling": [0.2, 0.3, 0.4]}, ["augment x1 [source]"] * 3)
    lines = verdicts(result)
    payload = results_dict(result)
    screen = first_screen(payload).lines()
    assert headlines(lines) == screen  # what the terminal prints is the first screen, line for line
    assert "Failed audit (privacy): Membership inference" in "\n".join(headlines(lines))
    assert not any("recovers -" in v for v in lines)
    assert any("below real-only: recovers none of the raw-source ceiling" in v for v in details(lines))
    page = tmp_path / "report.html"
    write_run_report(payload, summary_frame(result), lines, page)
    html = page.read_text()
    first, _, rest = html.partition('<nav class="toc">')
    assert 'data-answer="No"' in first and "Membership inference" in first and "auto is below" not in rest[:0]
    assert "Synthetic data does not help here: auto is below real-only on NDCG@10 (ease -41.7%)" in first
    assert "below real-only" in rest and "-125%" not in html  # the table reads below real-only
    assert html.count("Verdict:") == 0  # the first screen is laid out, not repeated among the findings


@pytest.mark.parametrize("n_users", [120])
def test_cli_run_prints_the_first_screen(tmp_path: Path, shared_data: Path, n_users: int) -> None:
    from synthrec.cli import app

    raw = pl.read_csv(shared_data / "ml-100k" / "u.data", separator="\t", has_header=False,
                      new_columns=["user", "item", "rating", "timestamp"])
    raw.filter(pl.col("user") <= n_users).write_csv(tmp_path / "log.csv")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("name: fs\ndata: {path: log.csv, rating_col: rating, time_col: timestamp}\n"
                   "generator: {name: latent-factor, params: {n_factors: 8}}\nmodels: [{name: pop}]\n"
                   "target: {source_fraction: 0.0}\nsources: [self]\nstrategies: [real-only, augment, auto]\n"
                   "augment_ratios: [1]\nseeds: [0]\n")
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out"), "--quiet"])
    assert res.exit_code == 0, res.output
    payload = json.loads((tmp_path / "out" / "results.json").read_text())
    screen = first_screen(payload).lines()
    flat = " ".join(res.stdout.split())
    for line in screen:
        assert " ".join(line.split()) in flat
    assert any(line.startswith(("Audits:", "Failed audit")) for line in screen)
    html = (tmp_path / "out" / "report.html").read_text()
    assert first_screen(payload).verdict[1:] in html


def test_two_seeds_cannot_show_help_in_every_seed() -> None:
    """Two seeds of the same sign happen by chance half the time: untested, never "helps"."""
    res = _results({"real-only": [0.10, 0.11], "auto": [0.12, 0.13]}, chosen=["augment x1 [source]"] * 2)
    fs = first_screen(res)
    assert fs.answer == "Untested"
    assert "mean of the 2 seeds run" in fs.verdict and "run at least 3 seeds" in fs.verdict
    assert fs.models[0].status == "untested"
    assert fs.models[0].word == "higher on average over 2 seeds (too few to test)"


def test_beyond_the_ceiling_is_said_so() -> None:
    res = _results({"real-only": [0.10, 0.11, 0.12], "auto": [0.20, 0.21, 0.22], "ceiling": [0.15, 0.16, 0.17]},
                   chosen=["augment x1 [source]"] * 3)
    fs = first_screen(res)
    assert fs.models[0].recovered_text() == "200% (beyond the ceiling)"
    assert any("the ceiling is not an upper bound here" in line for line in fs.lines())


def test_one_wording_for_the_share_of_the_ceiling() -> None:
    from synthrec.report.first_screen import ceiling_share_text

    assert [ceiling_share_text(x) for x in (None, float("nan"), -1.15, 0.4, 2.2)] == [
        "–", "–", "below real-only", "40%", "220% (beyond the ceiling)"]


def test_findings_and_first_screen_agree_that_two_seeds_are_untested() -> None:
    from synthrec.experiments.findings import _kind

    kind = _kind(pl.Series([0.02, 0.02]), 0.02, 0.2)
    assert kind == "higher on average over 2 seeds (too few to test consistency)"
    assert _kind(pl.Series([0.02, 0.02, 0.01]), 0.0167, 0.15) == "helps"


def test_an_unusable_external_source_is_said_on_the_first_screen() -> None:
    """A source whose map reaches no target item is skipped; the first screen says so, not only the log."""
    res = _results({"real-only": [0.10, 0.20, 0.30], "auto": [0.10, 0.20, 0.30]}, chosen=["real-only"] * 3)
    res["external_source"] = {"name": "lastfm", "usable": False,
                              "problem": "the source and target catalogues share no item by title+year"}
    fs = first_screen(res)
    assert any("external source lastfm was not used: the source and target catalogues share no item" in c
               for c in fs.caveats)
    res["external_source"]["usable"] = True
    assert not any("external source" in c for c in first_screen(res).caveats)
