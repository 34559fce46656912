"""Correct by construction: score ties ranked by a seeded order of the catalogue (never by file order or
dense id), and cold targets counted wherever metrics are reported (issue "Correct by construction")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from synthrec.config import parse_config
from synthrec.data import InteractionData
from synthrec.data.ordering import item_tie_order
from synthrec.evaluation.metrics import cold_counts, evaluate
from synthrec.experiments.pipeline import run_experiment
from synthrec.experiments.results import results_dict
from synthrec.models import EASE, MostPopular
from synthrec.models.base import top_k


def _log(n_users: int = 300, n_items: int = 60, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A train log whose popularity has many ties (every item has 1-4 users) and one held-out item per
    user that is not in her train events."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for u in range(n_users):
        items = rng.choice(n_items, size=4, replace=False)
        train += [(f"u{u}", f"i{i}") for i in items[:3]]
        test.append((f"u{u}", f"i{items[3]}"))
    return (pl.DataFrame(train, schema=["user", "item"], orient="row"),
            pl.DataFrame(test, schema=["user", "item"], orient="row"))


def _metrics(train: pl.DataFrame, test: pl.DataFrame, model_cls: type, **params: object) -> dict[str, float]:
    data = InteractionData.from_frame(train, name="train")
    users = data.dense_users(test["user"].to_list())
    items = data.dense_items(test["item"].to_list(), strict=False)
    keep = items >= 0
    targets = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (users[keep], items[keep])),
                            shape=(data.n_users, data.n_items))
    model = model_cls(**params).fit(data)
    recs = model.recommend(data.to_csr(), 20)
    order = np.argsort(data.user_ids.to_numpy())  # rows by external user id: the same users in every copy
    return evaluate(recs[order], targets[order], ks=(5, 10, 20), histories=data.to_csr()[order],
                    trained_items=model.eligible_items_)


@pytest.mark.parametrize(("model_cls", "params"), [(MostPopular, {}), (EASE, {"l2": 50.0})])
def test_metrics_do_not_move_when_the_training_log_is_shuffled(model_cls: type, params: dict[str, object]) -> None:
    train, test = _log()
    base = _metrics(train, test, model_cls, **params)
    assert base["NDCG@10"] > 0
    for seed in range(4):
        shuffled = train.sample(fraction=1.0, shuffle=True, seed=seed)
        assert _metrics(shuffled, test, model_cls, **params) == pytest.approx(base, abs=1e-12)


def test_popularity_ties_do_not_follow_file_order() -> None:
    """Old rule: among equal counts the lower dense id (the item listed first) won every time."""
    items = [f"i{j}" for j in range(50)]
    frame = pl.DataFrame({"user": [f"u{j}" for j in range(50)], "item": items})  # one user per item: all tie
    data = InteractionData.from_frame(frame, name="flat")
    top = MostPopular().fit(data).recommend(sp.csr_matrix((1, 50)), 10)[0]
    assert top.tolist() == np.argsort(item_tie_order(data.item_ids))[:10].tolist()
    assert top.tolist() != list(range(10))  # not the first ten items of the file


def test_item_tie_order_depends_on_the_catalogue_not_its_listing_order() -> None:
    ids = pl.Series(["b", "x", "a", "q", "c"])
    order = item_tie_order(ids, seed=3)
    assert sorted(order.tolist()) == [0, 1, 2, 3, 4]
    perm = [3, 0, 4, 2, 1]
    moved = item_tie_order(ids.gather(perm), seed=3)
    assert moved.tolist() == order[perm].tolist()  # each item keeps its place
    orders = {tuple(item_tie_order(ids, seed=s).tolist()) for s in range(30)}
    assert len(orders) > 10


def test_top_k_breaks_ties_by_the_given_order() -> None:
    scores = np.array([[1.0, 2.0, 2.0, 2.0, 0.0]])
    assert top_k(scores, 3).tolist() == [[1, 2, 3]]  # default: lower id
    assert top_k(scores, 3, tie_order=np.array([4, 2, 0, 1, 3])).tolist() == [[2, 3, 1]]
    assert top_k(scores, 2, tie_order=np.array([4, 2, 0, 1, 3])).tolist() == [[2, 3]]
    assert top_k(scores, 6, tie_order=np.array([4, 2, 0, 1, 3])).tolist() == [[2, 3, 1, 0, 4, -1]]
    with pytest.raises(ValueError, match="permutation"):
        top_k(scores, 2, tie_order=np.array([0, 0, 1, 2, 3]))


def test_cold_counts_by_hand() -> None:
    # 4 users x 5 items; items 3 and 4 never trained. u0: targets {0, 3}; u1: {4}; u2: none; u3: {1}
    targets = sp.csr_matrix(np.array([[1, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0] * 5, [0, 1, 0, 0, 0]], np.float32))
    histories = sp.csr_matrix(np.array([[0, 1, 0, 0, 0], [0] * 5, [1, 0, 0, 0, 0], [1, 0, 1, 0, 0]], np.float32))
    trained = np.array([True, True, True, False, False])
    assert cold_counts(targets, histories=histories, trained_items=trained) == {
        "n_targets": 4, "n_users_cold": 1, "n_targets_cold_item": 2, "n_users_only_cold_targets": 1}
    recs = np.array([[0, 1], [0, 1], [0, 1], [1, 0]])
    res = evaluate(recs, targets, ks=(2,), histories=histories, trained_items=trained)
    assert res["n_users_evaluated"] == 3 and res["n_users_skipped_empty_target"] == 1
    assert res["n_targets_cold_item"] == 2 and res["n_users_only_cold_targets"] == 1 and res["n_users_cold"] == 1
    assert "n_users_cold" not in evaluate(recs, targets, ks=(2,))


def test_results_json_reports_repeats_ties_and_cold_targets() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for u in range(80):
        items = rng.choice(30, size=8, replace=False)
        rows += [(f"u{u}", f"i{i}", 1000 + k) for k, i in enumerate(items)]
        rows.append((f"u{u}", f"i{items[0]}", 5000))  # a repeat, the user's latest event
    data = InteractionData.from_frame(pl.DataFrame(rows, schema=["user", "item", "ts"], orient="row"),
                                      time_col="ts", name="repeats")
    cfg = parse_config({"data": {"loader": "movielens-small"}, "target": {"source_fraction": 0.0},
                        "sources": ["self"], "generator": {"name": "latent-factor", "params": {"n_factors": 2}},
                        "models": [{"name": "pop"}], "strategies": ["real-only"], "seeds": [0]})
    payload = results_dict(run_experiment(cfg, data, progress=False))
    split = payload["seeds"][0]["split"]
    assert split["repeat_rows"] == 80
    assert split["repeat_rows_held_out"] == 0  # the repeat is of each user's first item, which stays in train
    assert split["n_targets"] == 80 and "n_targets_cold_item" in split and "users_tied_at_split" in split
    metrics = {r["metric"] for r in payload["records"]}
    assert {"n_targets", "n_targets_cold_item", "n_users_cold"} <= metrics


def test_first_screen_states_the_test_set() -> None:
    from synthrec.report.first_screen import test_set_line

    seeds = [{"split": {"n_targets": 100, "n_targets_cold_item": 4, "n_users_cold": 0, "repeat_rows": 30,
                        "repeat_rows_held_out": 3, "users_tied_at_split": 12}},
             {"split": {"n_targets": 102, "n_targets_cold_item": 6, "n_users_cold": 0, "repeat_rows": 30,
                        "repeat_rows_held_out": 5, "users_tied_at_split": 10}}]
    assert test_set_line(seeds) == (
        "Test set: 101 held-out (user, item) targets (means over 2 seeds); 5 on items absent from the target's "
        "training data (only synthetic or source data can make them reachable); 0 test users with no history; "
        "30 rows repeat a (user, item) pair (4 of them went to test with their held-out item; a split never "
        "leaves a held-out item in the history); 11 users tied in time at their split point (ordered by a "
        "seeded random key).")
    one = [{"split": {"n_targets": 9, "repeat_rows": 0, "users_tied_at_split": 0}}]
    assert test_set_line(one) == ("Test set: 9 held-out (user, item) targets; no repeated (user, item) pairs; "
                                  "0 users tied in time at their split point.")
    assert test_set_line([{"test_users": 3}]) is None  # results written before splits reported it


def test_inspect_says_what_splits_do_with_repeats_and_ties(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthrec.cli import app

    log = tmp_path / "log.csv"
    log.write_text("user,item,timestamp\n1,10,1500000000\n1,11,1500000100\n1,10,1500000200\n"
                   "2,10,1500000000\n2,12,1500000000\n")
    res = CliRunner().invoke(app, ["inspect", str(log)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "repeated (user, item) rows" in res.output and "1 (a split holds out a pair's events together)" in res.output
    assert "users tied in time at the leave-last-out split" in res.output  # user 2: items 10 and 12 at one second
    assert "1 (a seeded key draws the held-out item)" in res.output


def test_summary_does_not_compare_counts_to_real_only() -> None:
    from synthrec.experiments.pipeline import RunResult
    from synthrec.experiments.results import summary_frame

    cfg = parse_config({"data": {"loader": "movielens-small"}, "seeds": [0]})
    res = RunResult(cfg, {})
    for arm, ndcg, cold in (("real-only", 0.1, 4.0), ("ceiling", 0.2, 1.0), ("augment x1 [source]", 0.15, 2.0)):
        for metric, value in (("NDCG@10", ndcg), ("n_targets_cold_item", cold)):
            res.records.append({"seed": 0, "arm": arm, "strategy": arm, "source": "-", "ratio": 1.0,
                                "model": "ease", "metric": metric, "value": value})
    s = summary_frame(res).filter(pl.col("arm") == "augment x1 [source]")
    row = {r["metric"]: r for r in s.iter_rows(named=True)}
    assert row["NDCG@10"]["delta_vs_real"] == pytest.approx(0.5)
    assert row["NDCG@10"]["ceiling_recovered"] == pytest.approx(0.5)
    assert row["n_targets_cold_item"]["delta_vs_real"] is None
    assert row["n_targets_cold_item"]["ceiling_recovered"] is None
