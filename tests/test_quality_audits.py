"""Optional audits of the quality report: bias and utility figures, the utility split, refitting a generator,
attribute inference, DP, the `synthrec report --utility / --generator / --canaries` paths, and the run
report's bias and DP cards."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from synthrec.commands.report import register
from synthrec.data.interactions import InteractionData
from synthrec.data.readers import read_table
from synthrec.data.splits import split_users
from synthrec.data.writers import write_interactions
from synthrec.errors import ConfigError
from synthrec.evaluation.attacks import AttributeInferenceResult
from synthrec.evaluation.bias import AttributeShares, RepresentationResult
from synthrec.evaluation.cards import THRESHOLDS
from synthrec.evaluation.utility import TSTRResult
from synthrec.experiments.audit import run_quality_audit
from synthrec.experiments.audit_optional import (
    OptionalAudits,
    attribute_inference_audit,
    attribute_inference_summary,
    dp_audit,
    generator_params,
    refit_factory,
    utility_split,
)
from synthrec.experiments.pipeline import synthetic_quality
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.report.quality import render_quality_html
from synthrec.report.quality_figures import BIAS_GROUPS, bias_data, utility_data
from synthrec.report.run_quality import quality_cards

runner = CliRunner()

#: a latent-factor generator that fits in a fraction of a second (fixed scale, few raking rounds)
TINY = {"n_factors": 4, "calibration_users": 200, "gram_items": 100, "affinity_scale": 4.0,
        "calibration_iters": 3}


def _log(rows: list[tuple[object, object, int]], name: str, vocabulary: pl.Series | None = None
         ) -> InteractionData:
    frame = pl.DataFrame(rows, schema=["user", "item", "ts"], orient="row")
    return InteractionData.from_frame(frame, time_col="ts", item_vocabulary=vocabulary, name=name)


# ------------------------------------------------------------------------------------ figure numbers


def test_bias_data_orders_groups_and_sums_the_rest() -> None:
    table = pl.DataFrame({"value": ["a", "b", "c"], "share_real": [0.2, 0.5, 0.3],
                          "share_synthetic": [0.4, 0.4, 0.2]}).with_columns(
        (pl.col("share_synthetic") - pl.col("share_real")).alias("difference"))
    rep = RepresentationResult((AttributeShares("genre", "item", table, 0.2),))
    d = bias_data(rep)
    assert d == {"attributes": [{"attribute": "genre", "kind": "item", "tvd": 0.2, "groups": ["b", "c", "a"],
                                 "real": [0.5, 0.3, 0.2], "synthetic": [0.4, 0.2, 0.4]}]}
    n = BIAS_GROUPS + 5  # more groups than drawn: the smallest 6 become one "other" bar
    values = [f"g{j:02d}" for j in range(n)]
    real = np.arange(n, 0, -1, dtype=np.float64)
    real /= real.sum()
    many = pl.DataFrame({"value": values, "share_real": real, "share_synthetic": np.full(n, 1 / n),
                         "difference": 1 / n - real})
    d = bias_data(RepresentationResult((AttributeShares("tag", "item", many, 0.1),)))
    a = d["attributes"][0] if d else {}
    assert len(a["groups"]) == BIAS_GROUPS and a["groups"][-1] == "other (6 groups)"
    assert a["real"][-1] == pytest.approx(real[-6:].sum()) and sum(a["synthetic"]) == pytest.approx(1.0)
    assert bias_data(RepresentationResult(())) is None


def test_utility_data_lists_models_in_order() -> None:
    result = TSTRResult({"pop": 0.04, "ease": 0.06}, {"pop": 0.05, "ease": 0.08}, k=10, n_users=30)
    assert utility_data(result) == {"models": ["pop", "ease"], "real": [0.05, 0.08], "synthetic": [0.04, 0.06],
                                    "k": 10, "n_users": 30, "kendall_tau": 1.0}


# ------------------------------------------------------------------------------------- utility split


def test_utility_split_unseen_holdout_is_leave_last_out_of_the_holdout() -> None:
    members = _log([("m1", "a", 0), ("m1", "b", 1), ("m2", "c", 0)], "members")
    holdout = _log([("h1", "a", 5), ("h1", "c", 9), ("h1", "b", 7), ("h2", "b", 0)], "holdout",
                   vocabulary=members.item_ids)
    split, desc = utility_split(members, holdout, holdout_unseen=True)
    assert split.train is members and split.kind == "user-holdout"
    users, histories, targets = split.evaluation_inputs()
    # h1's last event in time is item c (t=9); h2 has one event, so it is not evaluated
    assert holdout.user_ids.gather(users).to_list() == ["h1"]
    assert histories.toarray().tolist() == [[1.0, 1.0, 0.0]] and targets.toarray().tolist() == [[0.0, 0.0, 1.0]]
    assert "1 holdout users" in desc and "2 members" in desc


def test_utility_split_seen_holdout_uses_every_real_user_and_says_it_is_optimistic() -> None:
    members = _log([("m1", "a", 0), ("m1", "b", 1), ("m2", "c", 0)], "members")
    holdout = _log([("h1", "c", 0), ("h1", "a", 3)], "holdout", vocabulary=members.item_ids)
    split, desc = utility_split(members, holdout, holdout_unseen=False)
    assert split.kind == "leave-last-out" and "optimistic" in desc and "3 real users" in desc
    # m1: a | b; m2 has one event (train only); h1: c | a
    assert split.train.n_interactions == 3 and split.test.n_interactions == 2
    assert sorted(split.test.interactions["item"].to_list()) == [0, 1]


# ---------------------------------------------------------------------------------- refit a generator


def test_generator_params_and_refit_factory() -> None:
    data = _log([(f"u{u}", f"i{(u + j) % 12}", j) for u in range(20) for j in range(4)], "toy")
    gen = LatentFactorGenerator(**TINY, seed=3).fit(data)
    params = generator_params(gen)
    assert {k: params[k] for k in TINY} == TINY and params["seed"] == 3 and params["epsilon"] is None
    build = refit_factory(gen)
    copy = build(data, 11)
    assert type(copy) is LatentFactorGenerator and copy is not gen and copy.seed == 11 and gen.seed == 3
    assert copy.n_factors == 4
    # same class, data and seed: the refit is the fit the user would have made
    again = LatentFactorGenerator(**TINY, seed=11).fit(data)
    assert copy.sample(5, seed=0).interactions.equals(again.sample(5, seed=0).interactions)


class _Forgetful:
    def __init__(self, width: int) -> None:
        self.size = width  # stored under another name: cannot be rebuilt


class _SklearnLike:
    def __init__(self, alpha: float = 1.0) -> None:
        self._alpha = alpha

    def get_params(self) -> dict[str, float]:
        return {"alpha": self._alpha}


def test_generator_params_needs_stored_arguments() -> None:
    with pytest.raises(ConfigError, match="'width'"):
        generator_params(_Forgetful(3))
    assert generator_params(_SklearnLike(0.5)) == {"alpha": 0.5}


# ------------------------------------------------------------------------------------ attribute inference


def test_attribute_inference_summary_takes_the_largest_applicable_advantage() -> None:
    results = [AttributeInferenceResult("gender", True, "", 0.70, 0.7, 0.62, 0.6, 0.65, 100),
               AttributeInferenceResult("occupation", True, "", 0.30, 0.6, 0.20, 0.5, 0.10, 100),
               AttributeInferenceResult("zip", False, "no users table", *[math.nan] * 5, 100)]
    s = attribute_inference_summary(results)
    # advantages: 0.70 - max(0.62, 0.65) = 0.05; 0.30 - max(0.20, 0.10) = 0.10; zip not applicable
    assert s["aia_advantage_max"] == pytest.approx(0.10)
    assert s["aia_gender_advantage"] == pytest.approx(0.05) and math.isnan(s["aia_zip_advantage"])
    assert THRESHOLDS["attribute_inference"].status(s["aia_advantage_max"]) == "fail"
    assert math.isnan(attribute_inference_summary([])["aia_advantage_max"])


def _with_users(data: InteractionData, genders: list[str]) -> InteractionData:
    users = pl.DataFrame({"user": np.arange(data.n_users, dtype=np.int32), "gender": genders})
    return InteractionData(data.interactions, data.user_ids, data.item_ids, users, None, name=data.name)


def test_attribute_inference_audit_needs_synthetic_attributes() -> None:
    rows = [(f"u{u}", f"i{(u % 2) * 5 + j}", j) for u in range(20) for j in range(3)]
    members = _with_users(_log(rows, "members"), ["F" if u % 2 else "M" for u in range(20)])
    holdout = _with_users(_log([(f"h{u}", f"i{(u % 2) * 5 + j}", j) for u in range(10) for j in range(3)],
                               "holdout", vocabulary=members.item_ids), ["F" if u % 2 else "M" for u in range(10)])
    plain = _log([(f"s{u}", f"i{j}", j) for u in range(5) for j in range(3)], "syn", vocabulary=members.item_ids)
    out = attribute_inference_audit(plain, members, holdout)
    assert out is not None and math.isnan(out.summaries["attribute_inference"]["aia_advantage_max"])
    assert "no user attributes (gender)" in out.notes["attribute_inference"]
    # a "synthetic" log that copies the members with their genders: the attack works, but so does the
    # population baseline (gender follows the item half), so the advantage is 0 — exactly
    copy = _with_users(_log([(f"s{u}", f"i{(u % 2) * 5 + j}", j) for u in range(20) for j in range(3)], "copy",
                            vocabulary=members.item_ids), ["F" if u % 2 else "M" for u in range(20)])
    out = attribute_inference_audit(copy, members, holdout)
    assert out is not None
    s = out.summaries["attribute_inference"]
    assert s["aia_gender_accuracy"] == 1.0 and s["aia_gender_baseline_accuracy"] == 1.0
    assert s["aia_advantage_max"] == 0.0
    assert attribute_inference_audit(copy, _log(rows, "no-users"), holdout) is None  # no attribute: no question


# --------------------------------------------------------------------------------------------------- DP


def test_dp_audit_of_latent_factor_generators() -> None:
    data = _log([(f"u{u}", f"i{(u * 3 + j) % 15}", j) for u in range(40) for j in range(5)], "toy")
    plain = dp_audit(LatentFactorGenerator(**TINY, seed=0).fit(data))
    assert plain.summaries["dp"] == {"epsilon": math.inf, "delta": 0.0, "dp": 0.0}
    assert "dp" not in plain.notes  # the card's own "not DP: ε = ∞" note explains it
    private = dp_audit(LatentFactorGenerator(**TINY, epsilon=2.0, seed=0).fit(data))
    eps = private.summaries["dp"]["epsilon"]
    assert 0 < eps <= 2.0 + 1e-6 and private.summaries["dp"]["dp"] == 1.0
    assert THRESHOLDS["dp"].status(eps) == "warn"
    assert "not a synthrec generator" in dp_audit(object()).notes["dp"]


def test_optional_audits_are_validated() -> None:
    with pytest.raises(ConfigError, match="n_shadows"):
        OptionalAudits(n_shadows=-1)
    with pytest.raises(ConfigError, match="--canaries"):
        OptionalAudits(n_canaries=5)
    assert OptionalAudits(utility=True, generator=object(), n_shadows=2, n_canaries=3).steps == 3
    assert OptionalAudits(generator=object(), n_shadows=0).steps == 0


# ------------------------------------------------------------------------------------------------- CLI


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test root (keeps `report` a sub-command)."""

    return app


@pytest.fixture(scope="module")
def ml_slice(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """120 ml-100k users split into 60 members and 60 holdout users; 60 synthetic users of a tiny generator
    fitted on the members, saved as `synthrec fit` would."""
    work = tmp_path_factory.mktemp("ml-slice")
    raw = pl.read_csv(shared_data / "ml-100k" / "u.data", separator="\t", has_header=False,
                      new_columns=["user", "item", "rating", "timestamp"]).filter(pl.col("user") <= 120)
    raw.filter(pl.col("user") <= 60).write_csv(work / "members.csv")
    raw.filter(pl.col("user") > 60).write_csv(work / "holdout.csv")
    members = read_table(work / "members.csv", rating_col="rating", time_col="timestamp")
    gen = LatentFactorGenerator(**TINY, seed=0).fit(members)
    gen.save(work / "gen.pkl")
    write_interactions(gen.sample(60, seed=1), work / "syn.csv")
    return {"real": work / "members.csv", "hold": work / "holdout.csv", "syn": work / "syn.csv",
            "gen": work / "gen.pkl", "work": work}


def _invoke(ml_slice: dict[str, Path], out: Path, *extra: str) -> dict[str, object]:
    res = runner.invoke(_app(), ["report", "--real", str(ml_slice["real"]), "--synthetic", str(ml_slice["syn"]),
                                 "--holdout", str(ml_slice["hold"]), "--out", str(out), "--quiet", *extra])
    assert res.exit_code == 0, res.output
    payload = json.loads((out / "results.json").read_text(),
                         parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    payload["_output"] = res.output
    return payload


def _cards(payload: dict[str, object]) -> dict[str, dict[str, object]]:
    cards = payload["cards"]
    assert isinstance(cards, list)
    return {c["audit"]: c for c in cards}


def test_cli_utility_trains_four_models_and_draws_the_figure(ml_slice: dict[str, Path], tmp_path: Path) -> None:
    payload = _invoke(ml_slice, tmp_path / "out", "--utility")
    cards = _cards(payload)
    assert list(cards)[-4:] == ["popularity_bias", "representation", "utility", "rank_agreement"]
    summary = payload["optional_audits"]["utility"]  # type: ignore[index]
    plot = payload["plots"]["utility"]  # type: ignore[index]
    assert plot["models"] == ["pop", "ease", "als", "bpr"] and plot["k"] == 10
    assert plot["real"] == [pytest.approx(summary[f"tstr_ndcg_real_{m}"]) for m in plot["models"]]
    assert plot["synthetic"] == [pytest.approx(summary[f"tstr_ndcg_synthetic_{m}"]) for m in plot["models"]]
    # scored on the holdout: 60 users with >= 2 events, each on its last event
    assert summary["tstr_n_users"] == 60 and plot["n_users"] == 60
    ratios = [summary[f"tstr_ndcg_synthetic_{m}"] / summary[f"tstr_ndcg_real_{m}"] for m in plot["models"]
              if summary[f"tstr_ndcg_real_{m}"] > 0]  # a model scoring 0 on real data has no ratio
    assert [summary[f"tstr_ratio_{m}"] is None for m in plot["models"]] == [
        summary[f"tstr_ndcg_real_{m}"] == 0 for m in plot["models"]]
    assert summary["tstr_ratio_mean"] == pytest.approx(float(np.mean(ratios)))
    assert cards["utility"]["value"] == pytest.approx(summary["tstr_ratio_mean"])
    assert cards["rank_agreement"]["value"] == summary["tstr_kendall_tau"]
    assert cards["rank_agreement"]["status"] == THRESHOLDS["rank_agreement"].status(summary["tstr_kendall_tau"])
    assert "leave-last-out of the holdout" in cards["utility"]["note"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert re.findall(r'<img id="([^"]+)"', html)[-2:] == ["fig-bias", "fig-utility"]
    assert render_quality_html(payload) == html  # the page is drawn from results.json alone
    assert "Utility (TSTR)" in str(payload["_output"])


def test_cli_generator_adds_attack_canaries_and_dp(ml_slice: dict[str, Path], tmp_path: Path) -> None:
    payload = _invoke(ml_slice, tmp_path / "out", "--generator", str(ml_slice["gen"]), "--shadows", "2",
                      "--canaries", "20", "--seed", "5")
    cards = _cards(payload)
    assert list(cards)[-4:] == ["representation", "attack", "canaries", "dp"]
    attack = payload["optional_audits"]["attack"]  # type: ignore[index]
    assert attack["mia_shadow_n_shadows"] == 2.0 and 0.0 <= attack["mia_shadow_auc"] <= 1.0
    assert cards["attack"]["status"] == THRESHOLDS["attack"].status(attack["mia_shadow_auc"])
    assert "60 members vs 30 other holdout users" in cards["attack"]["note"]
    canaries = payload["optional_audits"]["canaries"]  # type: ignore[index]
    assert canaries["canary_exposure_max_possible"] == pytest.approx(np.log2(21))  # 20 controls + the canary
    assert cards["canaries"]["note"].startswith("audits the generator class, not the given fitted file")
    # the tiny generator was fitted without DP: a warning, with the reason
    assert cards["dp"]["status"] == "warn" and cards["dp"]["value"] is None
    assert cards["dp"]["headline"].endswith("= ∞") and cards["dp"]["note"].startswith("not DP: ε = ∞")
    assert payload["inputs"]["generator_path"] == str(ml_slice["gen"])  # type: ignore[index]
    out = str(payload["_output"])
    assert "Shadow-model attack" in out and "not DP" in " ".join(out.split())


def test_cli_attack_needs_an_unseen_holdout(ml_slice: dict[str, Path], tmp_path: Path) -> None:
    res = runner.invoke(_app(), ["report", "--real", str(ml_slice["real"]), "--synthetic", str(ml_slice["syn"]),
                                 "--out", str(tmp_path / "o"), "--quiet", "--generator", str(ml_slice["gen"]),
                                 "--shadows", "2"])
    assert res.exit_code == 0, res.output
    payload = json.loads((tmp_path / "o" / "results.json").read_text())
    attack = _cards(payload)["attack"]
    assert attack["status"] == "not-applicable" and "never saw" in attack["note"]


def test_cli_canaries_need_a_generator(ml_slice: dict[str, Path], tmp_path: Path) -> None:
    res = runner.invoke(_app(), ["report", "--real", str(ml_slice["real"]), "--synthetic", str(ml_slice["syn"]),
                                 "--out", str(tmp_path / "o"), "--quiet", "--canaries", "5"])
    assert res.exit_code == 2 and "--generator" in res.output and not (tmp_path / "o").exists()
    bad = tmp_path / "not-a-generator.pkl"
    bad.write_bytes(b"not a pickle")
    res = runner.invoke(_app(), ["report", "--real", str(ml_slice["real"]), "--synthetic", str(ml_slice["syn"]),
                                 "--out", str(tmp_path / "o"), "--quiet", "--generator", str(bad)])
    assert res.exit_code == 2 and "not-a-generator.pkl" in res.output


def test_genres_are_compared_for_a_movielens_folder(shared_data: Path) -> None:
    from synthrec.data.movielens import read_movielens_100k

    real = read_movielens_100k(shared_data / "ml-100k")
    members, holdout = split_users(real, 0.5, seed=0)
    # the holdout stands in for a synthetic log read from a file: interactions only, no users table
    members, stand_in = members.compact_users(), replace(holdout.compact_users(), users=None)
    payload = run_quality_audit(members, stand_in, None, top_items=50)
    bias = {a["attribute"]: a for a in payload["plots"]["bias"]["attributes"]}
    assert list(bias) == ["genres"]  # the users' columns need a synthetic users table: skipped
    assert "Drama" in bias["genres"]["groups"] and len(bias["genres"]["groups"]) <= BIAS_GROUPS
    notes = payload["audit_notes"]["representation"]
    assert "genres (items)" in notes and "gender, occupation (the synthetic data has no users table" in notes
    # two real halves: popularity concentration within 10 %, and the attribute card not applicable
    cards = {c["audit"]: c for c in payload["cards"]}
    assert cards["popularity_bias"]["status"] == "pass" and cards["representation"]["status"] == "pass"
    assert cards["attribute_inference"]["status"] == "not-applicable"


# ------------------------------------------------------------------------------------------ run report


def test_synthetic_quality_adds_popularity_ratios_and_dp() -> None:
    data = _log([(f"u{u}", f"i{(u * 3 + j) % 15}", j) for u in range(40) for j in range(5)], "toy")
    fitted_on, holdout = (d.compact_users() for d in split_users(data, 0.5, seed=0))
    gen = LatentFactorGenerator(**TINY, seed=0).fit(fitted_on)
    syn = gen.sample(20, seed=1)
    q = synthetic_quality(fitted_on, syn, holdout, generator=gen)
    assert q["popularity_head_share_ratio"] == pytest.approx(
        q["popularity_head_share_synthetic"] / q["popularity_head_share_real"])  # type: ignore[operator]
    assert q["dp"] == 0.0 and q["dp_epsilon"] is None and q["dp_delta"] == 0.0
    assert "dp" not in synthetic_quality(fitted_on, syn, None, generator=object())  # no .privacy: no DP card
    json.dumps(q, allow_nan=False)  # strict JSON


def test_run_report_bias_and_dp_cards() -> None:
    seeds = [{"synthetic_quality": {"self": {"popularity_head_share_ratio": 1.2, "popularity_gini_ratio": 1.0,
                                             "dp": 0.0, "dp_epsilon": None, "dp_delta": 0.0},
                                    "source": {"popularity_head_share_ratio": 1.0, "dp": 1.0, "dp_epsilon": 0.5,
                                               "dp_delta": 1e-5}}},
             {"synthetic_quality": {"self": {"popularity_head_share_ratio": 1.4, "dp": 0.0, "dp_epsilon": None,
                                             "dp_delta": 0.0},
                                    "source": {"popularity_head_share_ratio": 0.7, "dp": 1.0, "dp_epsilon": 1.5,
                                               "dp_delta": 1e-5}}}]
    cards = quality_cards({"seeds": seeds})
    own = {c["audit"]: c for c in cards["self"]}
    src = {c["audit"]: c for c in cards["source"]}
    # mean ratios 1.3 (amplified: fail) and 0.85 (flattened: warn)
    assert own["popularity_bias"]["value"] == pytest.approx(1.3) and own["popularity_bias"]["status"] == "fail"
    assert src["popularity_bias"]["value"] == pytest.approx(0.85) and src["popularity_bias"]["status"] == "warn"
    assert own["dp"]["status"] == "warn" and own["dp"]["note"].startswith("not DP: ε = ∞")
    assert src["dp"]["value"] == pytest.approx(1.0) and src["dp"]["status"] == "pass"  # mean ε over seeds
    no_dp = quality_cards({"seeds": [{"synthetic_quality": {"self": {"activity_ks": 0.1}}}]})
    assert {c["audit"] for c in no_dp["self"]} & {"dp", "popularity_bias"} == set()


def test_generator_must_share_the_real_catalogue() -> None:
    from synthrec.errors import DataValidationError
    from synthrec.experiments.audit import check_generator_catalogue, generator_item_ids

    class _Fitted:
        item_ids_ = pl.Series([1, 2, 3])

    class _Wrapper:
        generator_ = _Fitted()

    real = pl.Series(["3", "1", "2"])  # same ids read as strings, other order
    check_generator_catalogue(_Fitted(), real, generator_source="g.pkl", catalogue_source="real.csv")
    assert generator_item_ids(_Wrapper()) is _Fitted.item_ids_ and generator_item_ids(object()) is None
    check_generator_catalogue(object(), real, generator_source="g.pkl", catalogue_source="real.csv")
    with pytest.raises(DataValidationError, match=r"g\.pkl.*another item catalogue.*1 of its items.*'3'"):
        check_generator_catalogue(_Wrapper(), pl.Series([1, 2, 9]), generator_source="g.pkl",
                                  catalogue_source="real.csv")
    with pytest.raises(DataValidationError, match=r"1 real items are not in its vocabulary \(e\.g\. '4'\)"):
        check_generator_catalogue(_Fitted(), pl.Series([1, 2, 3, 4]), generator_source="g.pkl",
                                  catalogue_source="real.csv")


def test_cli_rejects_a_generator_of_another_catalogue(tmp_path: Path) -> None:
    rows = [(f"u{u}", f"i{(u + k) % 6}", k) for u in range(8) for k in range(3)]
    other = LatentFactorGenerator(**TINY, seed=0).fit(_log([(f"u{u}", f"x{(u + k) % 6}", k) for u in range(8) for k in range(3)],
                                                           "other"))
    other.save(tmp_path / "other.pkl")
    real = tmp_path / "real.csv"
    pl.DataFrame(rows, schema=["user", "item", "timestamp"], orient="row").write_csv(real)
    res = runner.invoke(_app(), ["report", "--real", str(real), "--synthetic", str(real), "--out",
                                 str(tmp_path / "o"), "--quiet", "--generator", str(tmp_path / "other.pkl")])
    flat = " ".join(res.output.split())
    assert res.exit_code == 2 and "other.pkl" in flat and "another item catalogue" in flat, res.output
    assert not (tmp_path / "o").exists()
