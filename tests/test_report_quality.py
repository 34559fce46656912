"""The quality report: catalogue alignment, plotted numbers, results.json round trip, `synthrec report` CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from synthrec.commands.report import register
from synthrec.data.interactions import InteractionData
from synthrec.errors import DataValidationError
from synthrec.evaluation.cards import FIDELITY_AUDITS, PRIVACY_AUDITS, THRESHOLDS, derived_figures
from synthrec.evaluation.fidelity import FIDELITY_KEYS
from synthrec.evaluation.privacy import REPORT_KEYS, DCRResult, privacy_report
from synthrec.experiments.audit import (
    check_disjoint_users,
    onto_catalogue,
    privacy_figures,
    run_quality_audit,
)
from synthrec.report.quality import SECTIONS, render_quality_html
from synthrec.report.quality_figures import activity_data, dcr_data, gap_data, popularity_data, rating_data
from synthrec.report.run_quality import quality_cards

runner = CliRunner()


def _log(rows: list[tuple[object, object, int, float]], name: str = "log",
         vocabulary: pl.Series | None = None) -> InteractionData:
    frame = pl.DataFrame(rows, schema=["user", "item", "ts", "stars"], orient="row")
    return InteractionData.from_frame(frame, rating_col="stars", time_col="ts", item_vocabulary=vocabulary,
                                      name=name)


# ------------------------------------------------------------------------------------ catalogue


def test_onto_catalogue_matches_ids_across_types() -> None:
    real = _log([("u1", 10, 0, 1.0), ("u1", 20, 1, 2.0), ("u2", 30, 2, 3.0)], "real.csv")
    syn = InteractionData.from_frame(pl.DataFrame({"user": ["s1", "s1", "s2"], "item": ["30", "10", "30"]}),
                                     name="syn.parquet")
    out, vocab = onto_catalogue(syn, real.item_ids, catalogue_source="real.csv")
    assert vocab.equals(real.item_ids) and vocab.dtype == pl.Int64  # nothing appended: type kept
    assert out.interactions["item"].to_list() == [2, 0, 2]  # 30 -> 2, 10 -> 0
    assert out.item_ids.equals(real.item_ids) and out.user_ids.to_list() == ["s1", "s2"]


def test_onto_catalogue_names_the_file_and_the_unknown_items() -> None:
    real = _log([("u1", 10, 0, 1.0), ("u2", 20, 1, 2.0)], "real.csv")
    syn = _log([("s1", 10, 0, 1.0), ("s1", 99, 1, 1.0), ("s2", 77, 2, 1.0)], "syn.csv")
    with pytest.raises(DataValidationError) as err:
        onto_catalogue(syn, real.item_ids, catalogue_source="real.csv")
    msg = str(err.value)
    assert msg.startswith("file syn.csv, column 'item': 2 of its 3 item ids are not in the real catalogue")
    assert "2 items of real.csv" in msg and "99" in msg and "77" in msg and "--real" in msg


def test_onto_catalogue_extends_for_a_holdout() -> None:
    real = _log([("u1", 10, 0, 1.0), ("u2", 20, 1, 2.0)], "real.csv")
    hold = _log([("h1", 40, 0, 1.0), ("h1", 20, 1, 1.0), ("h2", 50, 2, 1.0)], "hold.csv")
    out, vocab = onto_catalogue(hold, real.item_ids, catalogue_source="real.csv", extend=True)
    assert vocab.to_list() == [10, 20, 40, 50]
    assert out.interactions["item"].to_list() == [2, 1, 3]


def test_holdout_users_must_be_unseen() -> None:
    real = _log([("u1", 10, 0, 1.0), ("u2", 20, 1, 2.0)], "real.csv")
    check_disjoint_users(real, _log([("h1", 10, 0, 1.0)], "hold.csv"))
    with pytest.raises(DataValidationError, match=r"file hold.csv, column 'user': 1 user id\(s\).*'u2'"):
        check_disjoint_users(real, _log([("h1", 10, 0, 1.0), ("u2", 10, 0, 1.0)], "hold.csv"))


# ------------------------------------------------------------------------------------ plotted numbers


def _tiny() -> tuple[InteractionData, InteractionData]:
    real = _log([("u1", "a", 0, 5.0), ("u1", "b", 10, 3.0), ("u2", "a", 5, 4.0),
                 ("u3", "a", 100, 4.0), ("u3", "c", 100, 5.0)], "real")
    syn = _log([("s1", "b", 7, 5.0), ("s2", "a", 0, 1.0), ("s2", "b", 1000, 5.0)], "syn",
               vocabulary=real.item_ids)
    return real, syn


def test_popularity_and_activity_data_hand_computed() -> None:
    real, syn = _tiny()
    pop = popularity_data(real, syn)
    # real degrees a=3, b=1, c=1 over 3 users; synthetic a=1, b=2 over 2 users
    assert pop["real"] == {"rank": [1, 2, 3], "share": pytest.approx([1.0, 1 / 3, 1 / 3])}
    assert pop["synthetic"] == {"rank": [1, 2], "share": pytest.approx([1.0, 0.5])}
    act = activity_data(real, syn)
    # items per user: real [2, 1, 2], synthetic [1, 2]; edges 1, 2, 3 (last bin holds 2 and 3)
    assert act == {"edges": [1, 2, 3], "real": pytest.approx([1 / 3, 2 / 3]), "synthetic": pytest.approx([0.5, 0.5])}


def test_rating_and_gap_data_hand_computed() -> None:
    real, syn = _tiny()
    rat = rating_data(real, syn)
    assert rat is not None
    assert rat["values"] == [1.0, 3.0, 4.0, 5.0]
    assert rat["real"] == pytest.approx([0.0, 0.2, 0.4, 0.4])
    assert rat["synthetic"] == pytest.approx([1 / 3, 0.0, 0.0, 2 / 3])
    gaps = gap_data(real, syn)
    assert gaps is not None
    # gaps: real u1 10 s, u3 0 s; synthetic s2 1000 s; grid 0, then 30 log-spaced points 1 .. 1000
    grid = np.asarray(gaps["grid"])
    assert grid[0] == 0.0 and grid[1] == 1.0 and grid[-1] == pytest.approx(1000.0) and grid.size == 31
    real_cdf, syn_cdf = np.asarray(gaps["real"]), np.asarray(gaps["synthetic"])
    assert real_cdf[0] == 0.5 and real_cdf[grid < 10].max() == 0.5 and real_cdf[grid >= 10].min() == 1.0
    assert syn_cdf[:-1].max() == 0.0 and syn_cdf[-1] == 1.0
    no_time = InteractionData.from_frame(pl.DataFrame({"user": [1], "item": ["a"]}), item_vocabulary=real.item_ids)
    assert gap_data(real, no_time) is None and rating_data(no_time, real) is None


def test_dcr_data_hand_computed() -> None:
    res = DCRResult(np.array([0.0, 0.5, 1.0]), np.array([0.52, 0.52, 0.99]), np.array([0.25]), 3, 1)
    d = dcr_data(res)
    assert len(d["edges"]) == 21 and d["edges"][10] == 0.5
    expected_train = np.zeros(20)
    expected_train[[0, 10, 19]] = 1 / 3  # 1.0 falls in the last bin
    assert d["to_train"] == pytest.approx(expected_train.tolist())
    assert d["to_holdout"][10] == pytest.approx(2 / 3) and d["to_holdout"][19] == pytest.approx(1 / 3)
    assert d["holdout_to_train"][5] == 1.0


# ------------------------------------------------------------------------------------ audit + files


def _random_log(n_users: int, n_items: int, seed: int, prefix: str, per_user: int = 8) -> pl.DataFrame:
    """Users with ``per_user`` distinct popularity-skewed items each, ratings 1..5, timestamps."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False, p=weights / weights.sum())
                            for _ in range(n_users)])
    users = np.repeat(np.arange(n_users), per_user)
    return pl.DataFrame({
        "user": [f"{prefix}{u}" for u in users], "item": items.astype(np.int64),
        "rating": rng.integers(1, 6, users.size).astype(np.float64),
        "timestamp": (1_000_000 + np.arange(users.size) * 60 + rng.integers(0, 30, users.size)).astype(np.int64),
    })


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"real": tmp_path / "real.csv", "syn": tmp_path / "syn.csv", "hold": tmp_path / "hold.csv"}
    real = _random_log(60, 40, 0, "u")
    real.write_csv(paths["real"])
    _random_log(30, 40, 1, "syn-").filter(pl.col("item").is_in(real["item"].unique().implode())).write_csv(paths["syn"])
    _random_log(30, 40, 2, "h").write_csv(paths["hold"])
    return paths


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test root (keeps `report` a sub-command)."""

    return app


def figures_audits() -> tuple[str, ...]:
    """Audits judged on the fidelity / privacy figures (the others read their own summary)."""
    return (*FIDELITY_AUDITS, *PRIVACY_AUDITS)


def test_privacy_figures_equal_privacy_report() -> None:
    a = InteractionData.from_frame(_random_log(30, 25, 3, "m"), rating_col="rating", time_col="timestamp")
    cat = a.item_ids
    h = InteractionData.from_frame(_random_log(20, 25, 4, "h").filter(pl.col("item").is_in(cat.implode())),
                                   item_vocabulary=cat)
    s = InteractionData.from_frame(_random_log(25, 25, 5, "s").filter(pl.col("item").is_in(cat.implode())),
                                   item_vocabulary=cat)
    figures, d = privacy_figures(s, a, h)
    assert list(figures) == list(REPORT_KEYS)
    assert figures == privacy_report(s, a, h)
    assert d.to_train.shape == (25,)


def test_cli_report_round_trip_holds_every_figure(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(_app(), ["report", "--real", str(files["real"]), "--synthetic", str(files["syn"]),
                                 "--holdout", str(files["hold"]), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "Membership inference" in res.output and "overall:" in res.output
    text = (out / "results.json").read_text()
    payload = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert list(payload["fidelity"]) == list(FIDELITY_KEYS)
    assert list(payload["privacy"]) == list(REPORT_KEYS)
    assert payload["inputs"]["members"]["users"] == 60 and payload["inputs"]["holdout"]["users"] == 30
    assert payload["inputs"]["holdout_unseen"] is True
    # every card applies and its value is the figure of results.json it names
    figures = {**payload["fidelity"], **payload["privacy"]}
    figures.update(derived_figures(figures))
    cards = {c["audit"]: c for c in payload["cards"]}
    # the bias audit always runs; without --utility / --generator nothing else is added
    assert list(cards) == [*FIDELITY_AUDITS, *PRIVACY_AUDITS, "popularity_bias", "representation"]
    assert set(payload["optional_audits"]) == {"popularity_bias", "representation"}
    for audit, c in cards.items():
        t = THRESHOLDS[audit]
        value = figures[t.metric] if audit in figures_audits() else payload["optional_audits"][t.source][t.metric]
        assert c["value"] == pytest.approx(value), audit
        assert c["status"] == t.status(value) != "not-applicable"
    # a CSV log has no item attributes: items are grouped by real popularity (head / tail / unseen)
    bias = payload["plots"]["bias"]["attributes"]
    assert [a["attribute"] for a in bias] == ["popularity_group"]
    assert sum(bias[0]["real"]) == pytest.approx(1.0) and sum(bias[0]["synthetic"]) == pytest.approx(1.0)
    assert "popularity_group (items)" in payload["audit_notes"]["representation"]
    assert all(payload["plots"][k] is not None for k in ("popularity", "activity", "ratings", "gaps", "dcr", "bias"))
    assert "utility" not in payload["plots"]
    # the page is drawn from results.json alone: re-rendering the loaded payload gives the same page
    html = (out / "report.html").read_text()
    assert render_quality_html(payload) == html
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    for key in (*FIDELITY_KEYS, *REPORT_KEYS):
        assert f"<code>{key}</code>" in html
    img_ids = re.findall(r'<img id="([^"]+)" alt="[^"]+"', html)
    assert img_ids == ["fig-popularity", "fig-activity", "fig-ratings", "fig-gaps", "fig-dcr", "fig-bias"]
    assert html.count("<img") == 6
    assert 'id="audit-utility" data-ran="no"' in html and "not run: pass --utility" in html
    assert 'id="audit-popularity_bias" data-ran="yes"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing to fetch: opens offline
    assert not list(out.glob(".*.tmp"))  # atomic writes left no temporary file


def test_cli_without_holdout_splits_and_withholds_membership_cards(files: dict[str, Path], tmp_path: Path) -> None:
    args = ["report", "--real", str(files["real"]), "--synthetic", str(files["syn"]), "--quiet",
            "--holdout-fraction", "0.25", "--seed", "3"]
    res = runner.invoke(_app(), [*args, "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    payload = json.loads((tmp_path / "a" / "results.json").read_text())
    assert payload["inputs"]["members"]["users"] == 45 and payload["inputs"]["holdout"]["users"] == 15
    status = {c["audit"]: c["status"] for c in payload["cards"]}
    assert status["dcr"] == status["membership"] == "not-applicable"
    assert status["exact_copies"] != "not-applicable"
    assert "split_users(real, 0.75, seed=3)" in payload["privacy_note"]
    res = runner.invoke(_app(), [*args, "--fitted-on-members", "--out", str(tmp_path / "b")])
    again = json.loads((tmp_path / "b" / "results.json").read_text())
    assert again["fidelity"] == payload["fidelity"]  # same seed, same split
    assert {c["audit"]: c["status"] for c in again["cards"]}["membership"] != "not-applicable"


def test_audit_without_holdout_has_no_privacy_and_no_reference() -> None:
    real, syn = _tiny()
    payload = run_quality_audit(real, syn, None)
    assert payload["privacy"] is None and payload["fidelity_real_reference"] is None
    assert payload["plots"]["dcr"] is None
    assert "never saw" in payload["privacy_note"]
    html = render_quality_html(payload)
    assert html.count("<img") == 5 and "Not measured: no real holdout users" in html  # 4 + the bias figure


@pytest.mark.parametrize("which", ["real", "syn", "hold"])
def test_cli_missing_file_is_a_clear_error(files: dict[str, Path], tmp_path: Path, which: str) -> None:
    missing = tmp_path / f"nope-{which}.csv"
    paths = {**files, which: missing}
    out = tmp_path / "out"
    res = runner.invoke(_app(), ["report", "--real", str(paths["real"]), "--synthetic", str(paths["syn"]),
                                 "--holdout", str(paths["hold"]), "--out", str(out), "--quiet"])
    assert res.exit_code == 2
    assert "error:" in res.output and f"nope-{which}.csv" in res.output and "no such file" in res.output
    assert not out.exists()


def test_cli_item_not_in_real_catalogue_is_a_clear_error(files: dict[str, Path], tmp_path: Path) -> None:
    syn = tmp_path / "bad-syn.csv"
    pl.DataFrame({"user": ["syn-0", "syn-0", "syn-1"], "item": [0, 987654, 0]}).write_csv(syn)
    out = tmp_path / "out"
    res = runner.invoke(_app(), ["report", "--real", str(files["real"]), "--synthetic", str(syn),
                                 "--out", str(out), "--quiet"])
    assert res.exit_code == 2
    flat = " ".join(res.output.split())
    assert "error:" in flat and "bad-syn.csv" in flat and "987654" in flat and "not in the real catalogue" in flat
    assert not out.exists()


def test_cli_other_errors(files: dict[str, Path], tmp_path: Path) -> None:
    base = ["report", "--real", str(files["real"]), "--synthetic", str(files["syn"]), "--quiet"]
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    res = runner.invoke(_app(), [*base, "--out", str(a_file)])
    assert res.exit_code == 2 and "not a folder" in res.output
    res = runner.invoke(_app(), [*base, "--out", str(tmp_path / "o"), "--holdout-fraction", "1.5"])
    assert res.exit_code == 2 and "--holdout-fraction" in res.output
    res = runner.invoke(_app(), [*base, "--out", str(tmp_path / "o"), "--holdout", str(files["real"])])
    assert res.exit_code == 2 and "also appear in the real members log" in " ".join(res.output.split())
    res = runner.invoke(_app(), [*base, "--out", str(tmp_path / "o"), "--user-col", "customer"])
    assert res.exit_code == 2 and "customer" in res.output and "real.csv" in res.output
    assert not (tmp_path / "o").exists()


def test_cli_help_is_complete() -> None:
    res = runner.invoke(_app(), ["report", "--help"])
    assert res.exit_code == 0
    flat = " ".join(res.output.split())
    for opt in ("--real", "--synthetic", "--holdout", "--out", "--holdout-fraction", "--seed",
                "--fitted-on-members", "--columns", "--top-items", "--quiet"):
        assert opt in flat
    assert "pass / warn / fail" in flat and "split_users" in flat


def test_run_report_cards_from_mean_figures() -> None:
    seeds = [{"synthetic_quality": {"self": {"activity_ks": 0.05, "mia_auc": 0.9, "dcr_share_closer_to_train": 0.5,
                                             "dcr_share_baseline": 0.5, "exact_copy_share": 0.0,
                                             "exact_copy_share_holdout": 0.0},
                                    "source": {"activity_ks": 0.3, "rating_tvd": None}}},
             {"synthetic_quality": {"self": {"activity_ks": 0.25, "mia_auc": 0.5, "dcr_share_closer_to_train": 0.5,
                                             "dcr_share_baseline": 0.5, "exact_copy_share": 0.0,
                                             "exact_copy_share_holdout": 0.0}}}]
    cards = quality_cards({"seeds": seeds})
    self_cards = {c["audit"]: c for c in cards["self"]}
    assert self_cards["activity"]["value"] == pytest.approx(0.15) and self_cards["activity"]["status"] == "warn"
    assert self_cards["membership"]["value"] == pytest.approx(0.7) and self_cards["membership"]["status"] == "warn"
    src = {c["audit"]: c["status"] for c in cards["source"]}
    assert src["activity"] == "fail" and src["membership"] == "not-applicable"


def test_load_log_column_rules(tmp_path: Path) -> None:
    from synthrec.commands.report import ColumnSpec, load_log

    shop = tmp_path / "shop.csv"
    shop.write_text("customer_id,sku,stars,rating\n7,a,5,1\n8,b,4,2\n")
    spec = ColumnSpec(user_col="customer_id", item_col="sku", rating_col="stars")
    real = load_log(shop, spec)
    assert real.interactions["rating"].to_list() == [5.0, 4.0]  # the named column wins over `rating`
    assert not real.has_timestamp
    syn = tmp_path / "syn.csv"  # as `synthrec sample` writes it
    syn.write_text("user,item,timestamp,rating\nsyn-0,a,100,3\nsyn-0,b,160,4\n")
    s = load_log(syn, spec, synthetic=True)
    assert s.user_ids.to_list() == ["syn-0"] and s.item_ids.to_list() == ["a", "b"]
    assert s.interactions["timestamp"].to_list() == [100, 160] and s.interactions["rating"].to_list() == [3.0, 4.0]
    with pytest.raises(DataValidationError, match="customer_id"):
        load_log(syn, spec)  # only the synthetic file falls back to the standard names
    bare = tmp_path / "bare.tsv"
    bare.write_text("1\t10\t4\n2\t20\t5\n")
    d = load_log(bare, ColumnSpec(columns=["user", "item", "rating"]))
    assert d.n_users == 2 and d.interactions["rating"].to_list() == [4.0, 5.0]


def test_columns_never_rename_the_synthetic_file(tmp_path: Path) -> None:
    """Regression: `--columns user,item,rating,timestamp` for a header-less real file was also applied by
    position to a Parquet synthetic file laid out user,item,timestamp,rating, swapping ratings and times."""
    from synthrec.commands.report import ColumnSpec, load_log

    real = tmp_path / "u.data"
    real.write_text("".join(f"{u}\t{i}\t{1 + (u + i) % 5}\t{880000000 + 60 * (u * 4 + i)}\n"
                            for u in range(1, 7) for i in range(1, 5)))
    syn = tmp_path / "syn.parquet"  # as `synthrec sample` writes it
    pl.DataFrame({"user": ["syn-0", "syn-0", "syn-1"], "item": [1, 2, 3],
                  "timestamp": [880000100, 880000200, 880000300], "rating": [5.0, 3.0, 4.0]}).write_parquet(syn)
    spec = ColumnSpec(columns=["user", "item", "rating", "timestamp"])
    s = load_log(syn, spec, synthetic=True)
    assert s.interactions["rating"].to_list() == [5.0, 3.0, 4.0]
    assert s.interactions["timestamp"].to_list() == [880000100, 880000200, 880000300]
    r = load_log(real, spec)
    assert r.interactions["rating"].to_list()[:2] == [3.0, 4.0] and r.interactions["timestamp"][0] == 880000300
    # --columns is never applied to a Parquet real file either: its own header is read
    real_pq = tmp_path / "real.parquet"
    pl.DataFrame({"user": [1, 2], "item": [1, 2], "timestamp": [7, 8], "rating": [2.0, 5.0]}).write_parquet(real_pq)
    assert load_log(real_pq, spec).interactions["rating"].to_list() == [2.0, 5.0]
    # end to end: the synthetic rating figures compare real ratings with real ratings, not with times
    out = tmp_path / "out"
    res = runner.invoke(_app(), ["report", "--real", str(real), "--columns", "user,item,rating,timestamp",
                                 "--synthetic", str(syn), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    payload = json.loads((out / "results.json").read_text())
    assert set(payload["plots"]["ratings"]["values"]) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_column_names_mismatches_are_errors(tmp_path: Path) -> None:
    from synthrec.commands.report import ColumnSpec, load_log

    headed = tmp_path / "headed.csv"
    headed.write_text("user,item,timestamp,rating\n1,10,100,4\n2,20,200,5\n")
    same = load_log(headed, ColumnSpec(columns=["user", "item", "timestamp", "rating"]))
    assert same.interactions["rating"].to_list() == [4.0, 5.0]  # a header equal to --columns is read as one
    with pytest.raises(DataValidationError, match=r"headed\.csv.*differs from --columns"):
        load_log(headed, ColumnSpec(columns=["user", "item", "rating", "timestamp"]))
    bare_syn = tmp_path / "syn.tsv"
    bare_syn.write_text("syn-0\t10\t100\t4\nsyn-1\t20\t200\t5\n")
    with pytest.raises(DataValidationError, match=r"syn\.tsv.*--synthetic-columns"):
        load_log(bare_syn, ColumnSpec(), synthetic=True)
    s = load_log(bare_syn, ColumnSpec(columns=["x"]), synthetic=True,
                 synthetic_columns=["user", "item", "timestamp", "rating"])
    assert s.interactions["rating"].to_list() == [4.0, 5.0] and s.interactions["timestamp"].to_list() == [100, 200]
    syn_pq = tmp_path / "syn.parquet"
    pl.DataFrame({"user": ["a"], "item": [10]}).write_parquet(syn_pq)
    with pytest.raises(DataValidationError, match="Parquet"):
        load_log(syn_pq, ColumnSpec(), synthetic=True, synthetic_columns=["user", "item"])
