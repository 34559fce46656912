"""Tests of the matrix-factorisation models (ALS, BPR via implicit): P7, fold-in, fine-tuning."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError
from synthrec.models import ALS, BPR, NO_ITEM


def dense_data(matrix: np.ndarray) -> InteractionData:
    """InteractionData over items 0..n_items-1 from a 0/1 matrix without empty rows (dense user = row)."""
    rows, cols = np.nonzero(np.asarray(matrix))
    assert len(np.unique(rows)) == matrix.shape[0]
    vocab = pl.Series("item", np.arange(matrix.shape[1], dtype=np.int64))
    frame = pl.DataFrame({"user": rows.astype(np.int64), "item": cols.astype(np.int64)})
    return InteractionData.from_frame(frame, item_vocabulary=vocab, name="toy")


def test_p7_identity_matrix_with_more_factors_than_rank_clamps_with_warning_and_has_no_nan() -> None:
    data = dense_data(np.eye(10))
    with pytest.warns(UserWarning, match=r"factors=15 exceeds .* using 10 factors"):
        model = ALS(factors=15, regularization=0.01, iterations=10).fit(data)
    assert model.factors_ == 10
    assert model.item_factors_.shape == (10, 10)
    assert np.isfinite(model.item_factors_).all()
    hist = data.to_csr()
    assert np.isfinite(model.user_factors(hist)).all()
    assert np.isfinite(model._score(hist)).all()
    out = model.recommend(hist, 10)
    assert out.shape == (10, 10)
    for u, row in enumerate(out):
        assert u not in row and row[-1] == NO_ITEM and sorted(row[:-1].tolist()) == sorted(set(range(10)) - {u})


def test_mf_models_reject_bad_hyper_parameters() -> None:
    with pytest.raises(ConfigError, match="regularization"):
        ALS(regularization=0.0)
    with pytest.raises(ConfigError, match="factors"):
        ALS(factors=0)
    with pytest.raises(ConfigError, match="factors"):
        BPR(factors=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="fold_in"):
        BPR(fold_in="svd")  # type: ignore[arg-type]


def hu_fold_in(y: np.ndarray, hist: np.ndarray, alpha: float, lam: float) -> np.ndarray:
    """Hu, Koren & Volinsky 2008 eq. 4 in plain numpy: x_u = (YᵀCᵘY + λI)⁻¹ YᵀCᵘp(u), Cᵘ = 1 + α p(u)."""
    y = y.astype(np.float64)
    out = np.zeros((hist.shape[0], y.shape[1]))
    for u, p in enumerate(hist):
        c = 1.0 + alpha * p
        a = y.T @ (c[:, None] * y) + lam * np.eye(y.shape[1])
        out[u] = np.linalg.solve(a, y.T @ (c * p))
    return out


def test_als_fold_in_is_hu_et_al_eq4() -> None:
    rng = np.random.default_rng(0)
    x = (rng.random((40, 12)) < 0.3).astype(np.float64)
    x[x.sum(axis=1) == 0, 0] = 1
    model = ALS(factors=4, regularization=0.5, alpha=3.0, iterations=5).fit(dense_data(x))
    hist = (rng.random((6, 12)) < 0.4).astype(np.float32)
    got = model.user_factors(sp.csr_matrix(hist))
    want = hu_fold_in(model.item_factors_, hist, alpha=3.0, lam=0.5)
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-4)
    scores = model._score(sp.csr_matrix(hist))
    np.testing.assert_allclose(scores, want @ model.item_factors_.T.astype(np.float64), rtol=2e-3, atol=2e-4)


def test_bpr_mean_fold_in_averages_item_factors_and_keeps_the_bias() -> None:
    rng = np.random.default_rng(1)
    x = (rng.random((30, 10)) < 0.3).astype(np.float64)
    x[x.sum(axis=1) == 0, 0] = 1
    model = BPR(factors=4, iterations=10).fit(dense_data(x))
    y = model.item_factors_.astype(np.float64)
    assert y.shape == (10, 5)
    hist = np.array([[1, 0, 1, 0, 0, 0, 0, 0, 0, 1], [0] * 10], dtype=np.float32)
    u = model.user_factors(sp.csr_matrix(hist))
    np.testing.assert_allclose(u[0, :4], y[[0, 2, 9], :4].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(u[:, 4], [1.0, 1.0])
    np.testing.assert_allclose(u[1, :4], 0.0)
    # ridge variant: (YᵀY + μI)⁻¹ Yᵀ h
    model.fold_in, model.fold_in_l2 = "ridge", 0.7
    model._prepare_fold_in()
    yf = y[:, :4]
    want = np.linalg.solve(yf.T @ yf + 0.7 * np.eye(4), yf.T @ hist[0])
    np.testing.assert_allclose(model.user_factors(sp.csr_matrix(hist))[0, :4], want, rtol=1e-6, atol=1e-9)


# pre-training: item 0 goes with item 1 (and 2-3, 4-5 pairs); real data: item 0 goes with item 3.
PRE = np.array([[1, 1, 0, 0, 0, 0]] * 20 + [[0, 0, 1, 1, 0, 0]] * 20 + [[0, 0, 0, 0, 1, 1]] * 20)
REAL = np.array([[1, 0, 0, 1, 0, 0]] * 20 + [[0, 0, 0, 0, 1, 1]] * 5)
FIRST_ITEM_ONLY = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0]], dtype=np.float32))


def rank_of(model: ALS | BPR, item: int) -> int:
    row = model.recommend(FIRST_ITEM_ONLY, 5)[0].tolist()
    return row.index(item)


@pytest.mark.parametrize(
    "model",
    [
        ALS(factors=3, regularization=0.1, alpha=5.0, iterations=10, fine_tune_iterations=5),
        BPR(factors=3, learning_rate=0.05, iterations=100, fine_tune_iterations=100),
    ],
    ids=["als", "bpr"],
)
def test_fine_tune_moves_the_model_towards_the_new_data(model: ALS | BPR) -> None:
    model.fit(dense_data(PRE))
    before = rank_of(model, 3)
    assert rank_of(model, 1) == 0 and before > 0
    model.fine_tune(dense_data(REAL))
    assert rank_of(model, 3) < before
    if isinstance(model, ALS):  # the ALS item step also pulls item 1 (absent from REAL) towards 0
        assert rank_of(model, 3) == 0


def test_bpr_fine_tune_leaves_items_absent_from_the_new_data_untouched() -> None:
    # implicit draws BPR negatives from the items of the training interactions, so an item absent from
    # the fine-tuning data is never updated there (documented in BPR's docstring).
    model = BPR(factors=3, iterations=20, fine_tune_iterations=20).fit(dense_data(PRE))
    before = model.item_factors_.copy()
    model.fine_tune(dense_data(REAL))
    moved = np.abs(model.item_factors_ - before).max(axis=1)
    assert (moved[[1, 2]] == 0).all() and (moved[[0, 3, 4, 5]] > 0).all()


@pytest.mark.parametrize("cls", [ALS, BPR])
def test_fine_tune_starts_from_the_pretrained_item_factors(cls: type[ALS] | type[BPR]) -> None:
    model = cls(factors=3, iterations=10, fine_tune_iterations=0).fit(dense_data(PRE))
    before = model.item_factors_.copy()
    model.fine_tune(dense_data(REAL))  # zero sweeps: implicit must not re-initialise anything
    np.testing.assert_array_equal(model.item_factors_, before)
    one = cls(factors=3, iterations=10, fine_tune_iterations=1).fit(dense_data(PRE)).fine_tune(dense_data(REAL))
    assert not np.array_equal(one.item_factors_, before)
    # one sweep from the pretrained factors stays closer to them than a fresh fit on REAL does
    fresh = cls(factors=3, iterations=10, seed=5).fit(dense_data(REAL))
    assert np.abs(one.item_factors_ - before).sum() < np.abs(fresh.item_factors_ - before).sum()


@pytest.mark.parametrize("cls", [ALS, BPR])
def test_mf_fine_tune_is_deterministic(cls: type[ALS] | type[BPR]) -> None:
    runs = [
        cls(factors=3, iterations=5, fine_tune_iterations=3, seed=11)
        .fit(dense_data(PRE)).fine_tune(dense_data(REAL)).item_factors_
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
