"""The `synthrec` command: help texts, runs from config files, and readable errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from synthrec.cli import app
from synthrec.generators.base import BaseGenerator

runner = CliRunner()

COMMANDS = ["run", "demo", "init-config", "datasets", "inspect", "fit", "sample", "generate", "report", "bench", "simulate", "scenario"]


def test_help_lists_every_command() -> None:
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in COMMANDS:
        assert cmd in res.output


@pytest.mark.parametrize("cmd", COMMANDS)
def test_each_command_has_help(cmd: str) -> None:
    res = runner.invoke(app, [cmd, "--help"])
    assert res.exit_code == 0
    assert "Usage" in res.output
    assert len(res.output.split()) > 15  # a description, not just the usage line


def test_init_config_writes_a_valid_config(tmp_path: Path) -> None:
    from synthrec.config import load_config

    target = tmp_path / "my.yaml"
    assert runner.invoke(app, ["init-config", str(target)]).exit_code == 0
    assert load_config(target).data.loader == "movielens-small"
    again = runner.invoke(app, ["init-config", str(target)])
    assert again.exit_code == 2 and "--force" in again.output


def test_datasets_lists_the_default() -> None:
    res = runner.invoke(app, ["datasets"])
    assert res.exit_code == 0 and "movielens-small" in res.output


def _small_csv(shared_data: Path, path: Path, n_users: int = 120) -> None:
    """A slice of ml-100k under the user's own column names."""
    raw = pl.read_csv(shared_data / "ml-100k" / "u.data", separator="\t", has_header=False,
                      new_columns=["customer_id", "sku", "stars", "ts"])
    raw.filter(pl.col("customer_id") <= n_users).write_csv(path)


def _config(path: Path, data_block: str, extra: str = "") -> Path:
    path.write_text(
        f"""name: cli-test
{data_block}
generator: {{name: latent-factor, params: {{n_factors: 8}}}}
models: [{{name: pop}}, {{name: ease, params: {{l2: 50}}}}]
augment_ratios: [1]
seeds: [0]
{extra}
"""
    )
    return path


def test_run_on_a_csv_with_its_own_column_names(tmp_path: Path, shared_data: Path) -> None:
    csv = tmp_path / "shop.csv"
    _small_csv(shared_data, csv)
    cfg = _config(
        tmp_path / "cfg.yaml",
        "data: {path: shop.csv, user_col: customer_id, item_col: sku, rating_col: stars, time_col: ts}",
        "target: {source_fraction: 0.0}\nsources: [self]\n"
        "strategies: [real-only, synthetic-only, augment, pretrain-finetune, auto]",
    )
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(cfg), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    payload = json.loads((out / "results.json").read_text())
    arms = {r["arm"] for r in payload["summary"]}
    assert arms == {"real-only", "synthetic-only x1 [self]", "augment x1 [self]",
                    "pretrain-finetune x1 [self]", "auto"}
    assert payload["data"]["users"] == 120
    report = (out / "report.html").read_text()
    assert report.count("<img") == 1
    assert "120 users" in report and " items," in report and "built-in method" not in report
    assert "Only 1 seed: consistency across seeds is not testable" in report
    assert "NDCG@10" in res.output and "[self]" in res.output


def test_run_on_ml100k_folder_with_source(tmp_path: Path, shared_data: Path) -> None:
    cfg = _config(
        tmp_path / "cfg.yaml",
        f"data: {{path: {shared_data / 'ml-100k'}, min_item_interactions: 20}}",
        "target: {source_fraction: 0.8}\nstrategies: [real-only, augment, ceiling]",
    )
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(cfg), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    payload = json.loads((out / "results.json").read_text())
    seed = payload["seeds"][0]
    assert seed["source_users"] + seed["target_users"] == payload["data"]["users"]
    assert {r["arm"] for r in payload["summary"]} == {"real-only", "augment x1 [self]", "augment x1 [source]",
                                                      "ceiling"}
    quality = seed["synthetic_quality"]
    assert set(quality) == {"self", "source"}
    assert 0.0 <= quality["source"]["mia_auc"] <= 1.0
    assert quality["source"]["exact_copy_share"] == 0.0
    assert abs(quality["source"]["popularity_gini_synthetic"] - quality["source"]["popularity_gini_real"]) < 0.05
    report = (out / "report.html").read_text()
    assert "membership-inference AUC" in report and "item-item cosine correlation" in report


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    csv = tmp_path / "shop.csv"
    csv.write_text("customer,sku\n1,2\n")
    cfg = _config(tmp_path / "cfg.yaml", "data: {path: shop.csv, user_col: customer_id, item_col: sku}",
                  "target: {source_fraction: 0.0}\nsources: [self]")
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(cfg), "--out", str(out), "--quiet"])
    assert res.exit_code == 2
    assert "shop.csv" in res.output and "customer_id" in res.output
    assert not out.exists() or not any(out.iterdir())  # nothing half-written


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("data: {loader: movielens-small}\nmodels: [{name: ease, params: {}}]\nseeds: []\n")
    res = runner.invoke(app, ["run", str(cfg)])
    assert res.exit_code == 2
    assert "seeds" in res.output and "cfg.yaml" in res.output


def test_unknown_model_is_a_clear_error(tmp_path: Path, shared_data: Path) -> None:
    csv = tmp_path / "shop.csv"
    _small_csv(shared_data, csv, n_users=30)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("data: {path: shop.csv, user_col: customer_id, item_col: sku}\n"
                   "target: {source_fraction: 0.0}\nsources: [self]\nmodels: [{name: easy}]\nseeds: [0]\n")
    res = runner.invoke(app, ["run", str(cfg), "--quiet", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "easy" in res.output and "ease" in res.output


def test_inspect_fit_sample_round_trip(tmp_path: Path, shared_data: Path) -> None:
    csv = tmp_path / "shop.csv"
    _small_csv(shared_data, csv, n_users=60)
    cols = ["--user-col", "customer_id", "--item-col", "sku", "--rating-col", "stars", "--time-col", "ts"]
    shown = runner.invoke(app, ["inspect", str(csv), *cols])
    assert shown.exit_code == 0, shown.output
    assert "60 /" in shown.output and "time range" in shown.output

    gen = tmp_path / "gen.pkl"
    fitted = runner.invoke(app, ["fit", str(csv), "--out", str(gen), *cols])
    assert fitted.exit_code == 0, fitted.output and gen.is_file()

    outs = []
    for name, batch in (("a.parquet", "7"), ("b.parquet", "7"), ("c.csv", "25")):
        res = runner.invoke(app, ["sample", str(gen), "--users", "25", "--seed", "4", "--batch-users", batch,
                                  "--out", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
        outs.append(tmp_path / name)
    a, b = pl.read_parquet(outs[0]), pl.read_parquet(outs[1])
    assert a.equals(b)  # same seed and batch size: same output
    assert a["user"].n_unique() == 25 and a.select("user", "item").is_unique().all()
    real_items = set(pl.read_csv(csv)["sku"].to_list())
    assert set(a["item"].to_list()) <= real_items  # external item ids of the real catalogue
    assert pl.read_csv(outs[2])["user"].n_unique() == 25


def test_sample_errors_are_clear(tmp_path: Path) -> None:
    res = runner.invoke(app, ["sample", str(tmp_path / "missing.pkl"), "--users", "3", "--out",
                              str(tmp_path / "x.parquet")])
    assert res.exit_code == 2 and "missing.pkl" in res.output


def test_example_configs_are_valid() -> None:
    from synthrec.config import load_config

    examples = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))
    assert examples
    for path in examples:
        load_config(path)


def test_bad_options_fail_before_any_work(tmp_path: Path, shared_data: Path) -> None:
    csv = tmp_path / "shop.csv"
    _small_csv(shared_data, csv, n_users=40)
    cfg = _config(tmp_path / "cfg.yaml", "data: {path: shop.csv, user_col: customer_id, item_col: sku}",
                  "target: {source_fraction: 0.0}")
    res = runner.invoke(app, ["run", str(cfg), "--seeds", ","])
    assert res.exit_code == 2 and "at least one seed" in res.output
    res = runner.invoke(app, ["run", str(cfg), "--out", str(csv), "--quiet"])
    assert res.exit_code == 2 and "not a folder" in res.output
    res = runner.invoke(app, ["fit", str(csv), "--out", str(tmp_path), "--user-col", "customer_id",
                              "--item-col", "sku"])
    assert res.exit_code == 2 and "is a folder" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.yaml", "shop.csv"]  # nothing left behind
    res = runner.invoke(app, ["inspect", str(csv), "--time-unit", "hours"])
    assert res.exit_code == 2 and "time_unit" in res.output
    bad_param = tmp_path / "bad.yaml"
    bad_param.write_text("data: {path: shop.csv, user_col: customer_id, item_col: sku}\n"
                         "target: {source_fraction: 0.0}\nmodels: [{name: ease, params: {l2: -5}}]\n")
    res = runner.invoke(app, ["run", str(bad_param), "--quiet", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "models[0] (ease)" in res.output and "l2" in res.output


def test_duplicate_seeds_are_rejected(tmp_path: Path) -> None:
    from synthrec.commands.run import _parse_seeds

    with pytest.raises(Exception, match="give distinct seeds, got 0,0"):
        _parse_seeds("0,0")
    assert _parse_seeds("2, 0,1") == [2, 0, 1]
    res = runner.invoke(app, ["demo", "--seeds", "0,0", "--quiet", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "give distinct seeds, got 0,0" in res.output
    assert not (tmp_path / "o").exists()
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("data: {loader: movielens-small}\nseeds: [1, 2, 1]\n")
    res = runner.invoke(app, ["run", str(cfg)])
    assert res.exit_code == 2 and "give distinct seeds, got 1,2,1" in res.output


def _log_lines(n_users: int = 6) -> list[str]:
    return [f"u{u},i{(u + k) % 5},{1 + k},{1_000_000 + 60 * k}" for u in range(n_users) for k in range(3)]


def test_standard_rating_and_timestamp_columns_are_picked_up(tmp_path: Path) -> None:
    from synthrec.commands._data_options import load_cli_data as _load_cli_data
    from synthrec.data.interactions import InteractionData

    csv = tmp_path / "ratings.csv"
    csv.write_text("user,item,rating,timestamp\n" + "\n".join(_log_lines()) + "\n")
    res = runner.invoke(app, ["inspect", str(csv)])
    assert res.exit_code == 0, res.output
    assert "note: using the standard column name(s) as --rating-col rating and --time-col timestamp" in res.output
    assert "time range" in res.output and "not used" not in res.output
    d = _load_cli_data(str(csv), "user", "item", None, None, "s", None, None, None)
    assert isinstance(d, InteractionData)
    assert d.interactions["rating"].to_list()[:3] == [1.0, 2.0, 3.0]
    assert d.interactions["timestamp"].to_list()[:3] == [1_000_000, 1_000_060, 1_000_120]
    # an explicit option wins over the standard name
    d = _load_cli_data(str(csv), "user", "item", None, "timestamp", "s", None, None, None)
    assert isinstance(d, InteractionData) and "rating" in d.interactions.columns


def test_unused_extra_columns_are_named_in_a_warning(tmp_path: Path) -> None:
    from synthrec.commands._data_options import load_cli_data as _load_cli_data
    from synthrec.data.interactions import InteractionData

    raw = tmp_path / "raw.tsv"  # no header: names come from --columns
    raw.write_text("\n".join(line.replace(",", "\t") for line in _log_lines()) + "\n")
    res = runner.invoke(app, ["inspect", str(raw), "--columns", "user,item,rating,when"])
    assert res.exit_code == 0, res.output
    assert "--rating-col rating" in res.output and "--time-col" not in res.output.split("warning")[0]
    assert "column(s) when are not used" in res.output and "--time-col" in res.output
    d = _load_cli_data(str(raw), "user", "item", None, None, "s", None, None, "user,item,rating,when")
    assert isinstance(d, InteractionData)
    assert "rating" in d.interactions.columns and "timestamp" not in d.interactions.columns


def test_header_less_file_with_column_names(tmp_path: Path, shared_data: Path) -> None:
    res = runner.invoke(app, ["inspect", str(shared_data / "ml-100k" / "u.data"), "--columns",
                              "user,item,rating,ts", "--rating-col", "rating", "--time-col", "ts"])
    assert res.exit_code == 0, res.output
    assert "943 / 1,682 / 100,000" in res.output


def test_single_interaction_users_give_a_clear_error(tmp_path: Path) -> None:
    csv = tmp_path / "once.csv"
    csv.write_text("u,i\n" + "".join(f"{k},{k % 7}\n" for k in range(40)))
    cfg = _config(tmp_path / "cfg.yaml", "data: {path: once.csv, user_col: u, item_col: i}",
                  "target: {source_fraction: 0.0}\nsplit: {kind: leave-one-out}")
    res = runner.invoke(app, ["run", str(cfg), "--quiet", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "holds no test events" in res.output and "min_user_interactions" in res.output


def test_leave_last_out_on_a_file_without_times_is_refused_with_the_way_out(tmp_path: Path) -> None:
    csv = tmp_path / "untimed.csv"
    csv.write_text("u,i\n" + "".join(f"{k % 9},{k % 7}\n" for k in range(80)))
    cfg = _config(tmp_path / "cfg.yaml", "data: {path: untimed.csv, user_col: u, item_col: i}",
                  "target: {source_fraction: 0.0}")
    res = runner.invoke(app, ["run", str(cfg), "--quiet", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "untimed.csv" in res.output and "leave-one-out" in res.output and "row_order_is_time" in res.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_an_event_log_with_partly_empty_ratings_loads_as_implicit_feedback(tmp_path: Path) -> None:
    """`synthrec simulate --format csv` writes an empty rating for unrated events: `inspect` must read
    its own tool's output (ratings left out, and said so) rather than fail on the empty cells."""
    csv = tmp_path / "events.csv"
    csv.write_text("user,item,timestamp,event,rating\n" + "".join(
        f"u{k % 5},i{k % 11},{1_700_000_000 + k},{'purchase' if k % 3 == 0 else 'view'},"
        f"{'4' if k % 3 == 0 else ''}\n" for k in range(60)))
    res = runner.invoke(app, ["inspect", str(csv)])
    assert res.exit_code == 0, res.output
    assert "40 empty value(s)" in res.output and "user, item, timestamp" in res.output
    explicit = runner.invoke(app, ["inspect", str(csv), "--rating-col", "rating"])
    flat = " ".join(explicit.output.split())
    assert explicit.exit_code == 2 and "40 missing or non-finite rating" in flat and "implicit feedback" in flat


def test_fit_says_the_dp_guarantee_it_spent(tmp_path: Path, shared_data: Path) -> None:
    """A DP fit prints ε and δ (the figure a partner receiving the file asks for first); an exact fit does not."""
    csv = tmp_path / "shop.csv"
    _small_csv(shared_data, csv, n_users=60)
    cols = ["--user-col", "customer_id", "--item-col", "sku", "--rating-col", "stars", "--time-col", "ts"]
    fast = ["-g", "item-walk", "--param", "calibration_users=200", "--param", "max_items=100"]
    dp = runner.invoke(app, ["fit", str(csv), "--out", str(tmp_path / "dp.synthrec"), *fast,
                             "--param", "epsilon=2.0", *cols])
    assert dp.exit_code == 0, dp.output
    assert "user-level differential privacy: ε = 2 spent" in " ".join(dp.output.split())
    # item-walk also says how much co-occurrence crossed the noise
    report = BaseGenerator.load(tmp_path / "dp.synthrec").fit_report_  # type: ignore[attr-defined]
    assert (f"co-occurrence through the noise: {report['pairs_above_noise']:,} item pairs above 3 noise sd, about "
            f"{report['pairs_above_noise_by_chance']:,.0f} of them by chance") in " ".join(dp.output.split())
    exact = runner.invoke(app, ["fit", str(csv), "--out", str(tmp_path / "x.synthrec"), *fast, *cols])
    assert exact.exit_code == 0 and "differential privacy" not in exact.output
    assert "through the noise" not in exact.output
