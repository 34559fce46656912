"""Ranking metrics: exact hand-computed cases, PITFALLS P8/P10, and cross-checks against scikit-learn and
a plain per-user reference written from the textbook definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import ndcg_score

from synthrec.errors import ConfigError, DataValidationError
from synthrec.evaluation import (
    NO_ITEM,
    catalog_coverage,
    evaluate,
    hr_at_k,
    map_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from synthrec.models.base import NO_ITEM as MODELS_NO_ITEM


def test_no_item_matches_models() -> None:
    assert NO_ITEM == MODELS_NO_ITEM == -1


# ---------------------------------------------------------------------------------------------- exact cases


def test_p10_graded_ndcg_uses_all_relevant_items() -> None:
    gains = np.array([3, 2, 3, 0, 1, 2, 3, 2], dtype=np.float64)
    targets = sp.csr_matrix(gains[None, :])
    recs = np.arange(6, dtype=np.int64)[None, :]
    expected = (3 + 2 / math.log2(3) + 3 / 2 + 0 + 1 / math.log2(6) + 2 / math.log2(7)) / (
        3 + 3 / math.log2(3) + 3 / 2 + 2 / math.log2(5) + 2 / math.log2(6) + 2 / math.log2(7)
    )
    value = ndcg_at_k(recs, targets, 6)
    assert value == pytest.approx(expected, abs=1e-12)
    assert round(value, 4) == 0.7850


def _binary_case() -> tuple[np.ndarray, sp.csr_matrix]:
    # 4 users, 10 items.
    # u0: relevant {1, 5}, recs [1, 2, 5, 7]        -> hits at ranks 1 and 3
    # u1: relevant {9},    recs [0, 3, 4, -1]       -> no hit
    # u2: relevant {},     recs [1, 2, 3, 4]        -> skipped (empty target)
    # u3: relevant {2,3,4,6,8}, recs [8, 0, -1, -1] -> hit at rank 1
    rows = [0, 0, 1, 3, 3, 3, 3, 3]
    cols = [1, 5, 9, 2, 3, 4, 6, 8]
    targets = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(4, 10))
    recs = np.array([[1, 2, 5, 7], [0, 3, 4, -1], [1, 2, 3, 4], [8, 0, -1, -1]], dtype=np.int64)
    return recs, targets


def test_binary_exact_values_per_user() -> None:
    recs, targets = _binary_case()
    l2 = math.log2
    nd = ndcg_at_k(recs, targets, 4, per_user=True)
    assert nd[0] == pytest.approx((1 + 1 / 2) / (1 + 1 / l2(3)))
    assert nd[1] == 0.0
    assert np.isnan(nd[2])  # empty target: excluded, never 0
    assert nd[3] == pytest.approx(1 / (1 + 1 / l2(3) + 1 / 2 + 1 / l2(5)))

    np.testing.assert_allclose(recall_at_k(recs, targets, 4, per_user=True), [1.0, 0.0, np.nan, 0.2])
    np.testing.assert_allclose(recall_at_k(recs, targets, 4, per_user=True, truncated=True),
                               [1.0, 0.0, np.nan, 0.25])
    np.testing.assert_allclose(precision_at_k(recs, targets, 4, per_user=True), [0.5, 0.0, np.nan, 0.25])
    np.testing.assert_allclose(hr_at_k(recs, targets, 4, per_user=True), [1.0, 0.0, np.nan, 1.0])
    np.testing.assert_allclose(mrr(recs, targets, 4, per_user=True), [1.0, 0.0, np.nan, 1.0])
    # AP@4 u0 = (1/1 + 2/3) / min(4, 2); u3 = (1/1) / min(4, 5)
    np.testing.assert_allclose(map_at_k(recs, targets, 4, per_user=True),
                               [(1 + 2 / 3) / 2, 0.0, np.nan, 1 / 4])
    # K = 2: u0 hit at 1 only
    np.testing.assert_allclose(recall_at_k(recs, targets, 2, per_user=True), [0.5, 0.0, np.nan, 0.2])
    np.testing.assert_allclose(map_at_k(recs, targets, 2, per_user=True), [0.5, 0.0, np.nan, 0.5])


def test_means_exclude_and_evaluate_counts_empty_targets() -> None:
    recs, targets = _binary_case()
    assert recall_at_k(recs, targets, 4) == pytest.approx((1.0 + 0.0 + 0.2) / 3)
    assert hr_at_k(recs, targets, 4) == pytest.approx(2 / 3)
    res = evaluate(recs, targets, ks=(2, 4), metrics=("ndcg", "recall", "hr", "mrr", "map", "precision",
                                                      "recall_trunc"))
    assert res["n_users_evaluated"] == 3
    assert res["n_users_skipped_empty_target"] == 1
    assert res["n_users_without_recs"] == 0
    assert res["Recall@4"] == pytest.approx(1.2 / 3)
    assert res["RecallTrunc@4"] == pytest.approx(1.25 / 3)
    assert res["MRR@2"] == pytest.approx(2 / 3)
    assert res["Precision@2"] == pytest.approx((0.5 + 0 + 0.5) / 3)
    assert res["NDCG@4"] == pytest.approx(ndcg_at_k(recs, targets, 4))
    # coverage over all rows: items {0,1,2,3,4,5,7,8} at K=4; {0,1,2,3,8} at K=2
    assert res["coverage@4"] == pytest.approx(0.8)
    assert res["coverage@2"] == pytest.approx(0.5)
    assert set(res) == {f"{m}@{k}" for m in ("NDCG", "Recall", "HR", "MRR", "MAP", "Precision", "RecallTrunc",
                                             "coverage") for k in (2, 4)} | {
        "n_users_evaluated", "n_users_skipped_empty_target", "n_users_without_recs", "n_targets"}


def test_p8_cold_user_without_recs_is_counted_and_scored_zero() -> None:
    targets = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32))
    recs = np.array([[0, -1], [-1, -1], [-1, -1]], dtype=np.int64)
    res = evaluate(recs, targets, ks=(2,))
    assert res["n_users_evaluated"] == 2
    assert res["n_users_skipped_empty_target"] == 1
    assert res["n_users_without_recs"] == 1
    assert res["HR@2"] == pytest.approx(0.5)
    assert res["coverage@2"] == pytest.approx(1 / 3)


def test_no_item_is_never_a_hit_even_with_relevant_last_item() -> None:
    # -1 must not wrap around to the last item (n_items - 1) like numpy negative indexing would
    targets = sp.csr_matrix(np.array([[0, 0, 1]], dtype=np.float32))
    recs = np.array([[-1, -1]], dtype=np.int64)
    assert hr_at_k(recs, targets, 2) == 0.0
    assert ndcg_at_k(recs, targets, 2) == 0.0


def test_explicit_zeros_are_not_relevant() -> None:
    targets = sp.csr_matrix((np.array([0.0, 1.0]), (np.array([0, 1]), np.array([0, 1]))), shape=(2, 2))
    assert targets.nnz == 2
    recs = np.array([[0, 1], [1, 0]], dtype=np.int64)
    res = evaluate(recs, targets, ks=(1,))
    assert res["n_users_skipped_empty_target"] == 1
    assert res["HR@1"] == 1.0


def test_all_empty_targets_raise_instead_of_zero() -> None:
    targets = sp.csr_matrix((2, 3), dtype=np.float32)
    recs = np.array([[0], [1]], dtype=np.int64)
    with pytest.raises(DataValidationError, match="no user has a non-empty target"):
        evaluate(recs, targets, ks=(1,))
    assert np.isnan(ndcg_at_k(recs, targets, 1, per_user=True)).all()


@pytest.mark.parametrize(
    ("recs", "targets", "exc", "match"),
    [
        (np.array([[0, 5]]), sp.csr_matrix((1, 3)), DataValidationError, r"recs\[0, 1\] = 5"),
        (np.array([[0, -2]]), sp.csr_matrix((1, 3)), DataValidationError, "not an item id"),
        (np.array([[0, 1]]), sp.csr_matrix((2, 3)), DataValidationError, "1 rows but targets has 2"),
        (np.array([[1, 1]]), sp.csr_matrix((1, 3)), DataValidationError, "more than once"),
        (np.array([[0.0, 1.0]]), sp.csr_matrix((1, 3)), DataValidationError, "integer item ids"),
        (np.array([0, 1]), sp.csr_matrix((1, 3)), DataValidationError, "2-D"),
        (np.array([[0, 1]]), sp.csr_matrix(np.array([[-1.0, 0, 1]])), DataValidationError, ">= 0"),
        (np.array([[0, 1]]), [[1, 0, 0]], DataValidationError, "sparse"),
    ],
)
def test_bad_inputs_raise_named_errors(recs: np.ndarray, targets: object, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        ndcg_at_k(recs, targets, 1)  # type: ignore[arg-type]


def test_bad_k_and_metric() -> None:
    recs, targets = _binary_case()
    with pytest.raises(ConfigError, match="exceeds"):
        ndcg_at_k(recs, targets, 5)
    with pytest.raises(ConfigError, match=">= 1"):
        ndcg_at_k(recs, targets, 0)
    with pytest.raises(ConfigError, match="unknown metric"):
        evaluate(recs, targets, ks=(2,), metrics=("auc",))


def test_catalog_coverage() -> None:
    recs = np.array([[0, 1, -1], [1, 2, 3]], dtype=np.int64)
    assert catalog_coverage(recs, 10) == pytest.approx(0.4)
    assert catalog_coverage(recs, 10, k=1) == pytest.approx(0.2)
    with pytest.raises(DataValidationError):
        catalog_coverage(recs, 3)


# ---------------------------------------------------------------------------------------------- cross-checks


def _reference(recs_row: list[int], rel: dict[int, float], k: int) -> dict[str, float]:
    """Textbook per-user definitions, written independently with plain Python loops."""
    top = recs_row[:k]
    relevant = {i for i, v in rel.items() if v > 0}
    hits = [1 if (i >= 0 and i in relevant) else 0 for i in top]
    n_hits = sum(hits)
    dcg = sum(rel.get(i, 0.0) / math.log2(j + 2) for j, i in enumerate(top) if i >= 0)
    ideal = sorted((v for v in rel.values() if v > 0), reverse=True)[:k]
    idcg = sum(v / math.log2(j + 2) for j, v in enumerate(ideal))
    first = next((j for j, h in enumerate(hits) if h), None)
    ap = 0.0
    seen = 0
    for j, h in enumerate(hits):
        if h:
            seen += 1
            ap += seen / (j + 1)
    return {
        "ndcg": dcg / idcg,
        "recall": n_hits / len(relevant),
        "recall_trunc": n_hits / min(k, len(relevant)),
        "precision": n_hits / k,
        "hr": float(n_hits > 0),
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
        "map": ap / min(k, len(relevant)),
    }


def _random_case(seed: int, graded: bool) -> tuple[np.ndarray, sp.csr_matrix]:
    rng = np.random.default_rng(seed)
    n_users, n_items, width = 50, 40, 15
    dense = (rng.random((n_users, n_items)) < rng.uniform(0.02, 0.3, size=(n_users, 1))).astype(np.float64)
    if graded:
        dense *= rng.integers(1, 6, size=dense.shape)
    dense[rng.choice(n_users, 5, replace=False)] = 0.0  # some users with no target
    recs = np.stack([rng.permutation(n_items)[:width] for _ in range(n_users)]).astype(np.int64)
    n_pad = rng.integers(0, 6, size=n_users)  # pad the tail of some rows with -1
    recs[np.arange(width)[None, :] >= width - n_pad[:, None]] = NO_ITEM
    return recs, sp.csr_matrix(dense)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("graded", [False, True])
def test_cross_check_against_reference_and_sklearn(seed: int, graded: bool) -> None:
    recs, targets = _random_case(seed, graded)
    dense = targets.toarray()
    names = ("ndcg", "recall", "recall_trunc", "precision", "hr", "mrr", "map")
    funcs = {
        "ndcg": lambda k: ndcg_at_k(recs, targets, k, per_user=True),
        "recall": lambda k: recall_at_k(recs, targets, k, per_user=True),
        "recall_trunc": lambda k: recall_at_k(recs, targets, k, per_user=True, truncated=True),
        "precision": lambda k: precision_at_k(recs, targets, k, per_user=True),
        "hr": lambda k: hr_at_k(recs, targets, k, per_user=True),
        "mrr": lambda k: mrr(recs, targets, k, per_user=True),
        "map": lambda k: map_at_k(recs, targets, k, per_user=True),
    }
    for k in (1, 3, 5, 10, 15):
        got = {m: funcs[m](k) for m in names}
        res = evaluate(recs, targets, ks=(k,), metrics=names)
        evaluated = 0
        for u in range(recs.shape[0]):
            rel = {int(i): float(dense[u, i]) for i in np.flatnonzero(dense[u])}
            if not rel:
                for m in names:
                    assert np.isnan(got[m][u])
                continue
            evaluated += 1
            ref = _reference(recs[u].tolist(), rel, k)
            for m in names:
                assert got[m][u] == pytest.approx(ref[m], abs=1e-12), (m, u, k)
            # scikit-learn: linear gains, ideal DCG over all items. Scores: rank j -> width - j, rest 0.
            score = np.zeros(dense.shape[1])
            valid = recs[u] >= 0
            score[recs[u][valid]] = recs.shape[1] - np.flatnonzero(valid)
            if valid[:k].all():  # otherwise sklearn ranks unscored (tied) items into the top k
                assert got["ndcg"][u] == pytest.approx(ndcg_score(dense[u][None], score[None], k=k), abs=1e-12)
        assert res["n_users_evaluated"] == evaluated
        assert res["n_users_skipped_empty_target"] == recs.shape[0] - evaluated
        for m, key in (("ndcg", "NDCG"), ("map", "MAP"), ("mrr", "MRR")):
            assert res[f"{key}@{k}"] == pytest.approx(float(np.nanmean(got[m])))


def test_sklearn_ndcg_mean_matches_on_full_rows() -> None:
    rng = np.random.default_rng(7)
    n_users, n_items = 60, 30
    dense = rng.integers(0, 4, size=(n_users, n_items)).astype(np.float64) * (rng.random((n_users, n_items)) < 0.3)
    dense[dense.sum(axis=1) == 0, 0] = 1.0
    scores = rng.random((n_users, n_items))
    recs = np.argsort(-scores, axis=1)[:, :20].astype(np.int64)
    for k in (5, 10, 20):
        assert ndcg_at_k(recs, sp.csr_matrix(dense), k) == pytest.approx(ndcg_score(dense, scores, k=k), abs=1e-12)
