"""MF-BPR in torch (Rendle et al. 2009) with fold-in scoring of histories."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError, NotFittedError
from synthrec.models import NO_ITEM
from synthrec.models.mf_bpr import MFBPR
from synthrec.models.registry import make_model

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

TINY = dict(factors=8, train_batch_size=256, fold_in_steps=30)


def _blocks(n_users: int = 150, n_groups: int = 3, per_group: int = 10, seed: int = 0) -> InteractionData:
    """User u likes only the items of group u % n_groups (external ids g·100 + j)."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        g = u % n_groups
        picks = rng.choice(per_group, size=int(rng.integers(3, 7)), replace=False)
        users += [u] * len(picks)
        items += [g * 100 + int(j) for j in picks]
    vocab = pl.Series("item_id", [g * 100 + j for g in range(n_groups) for j in range(per_group)])
    return InteractionData.from_frame(pl.DataFrame({"user": users, "item": items}), item_vocabulary=vocab)


@pytest.fixture(scope="module")
def blocks() -> InteractionData:
    return _blocks()


@pytest.fixture(scope="module")
def model(blocks: InteractionData) -> MFBPR:
    return MFBPR(epochs=30, seed=0, **TINY).fit(blocks)


def test_recommends_within_the_users_block(blocks: InteractionData, model: MFBPR) -> None:
    # new users (fold-in): two items of one block each
    hist = sp.csr_matrix((np.ones(6, np.float32), ([0, 0, 1, 1, 2, 2], [0, 1, 12, 13, 25, 26])), shape=(3, 30))
    recs = model.recommend(hist, 5)
    np.testing.assert_array_equal(recs // 10, [[0] * 5, [1] * 5, [2] * 5])


def test_scores_are_fold_in_dot_item_factors_plus_bias(model: MFBPR) -> None:
    hist = sp.csr_matrix(np.eye(4, 30, k=3, dtype=np.float32))
    w = model.user_factors(hist)
    expected = w.astype(np.float64) @ model.item_factors_.T.astype(np.float64) + model.item_bias_
    np.testing.assert_allclose(model._score(hist), expected, rtol=1e-6)


def test_mean_fold_in_is_the_mean_item_vector(blocks: InteractionData) -> None:
    m = MFBPR(epochs=2, fold_in="mean", seed=0, **TINY).fit(blocks)
    hist = sp.csr_matrix((np.ones(3, np.float32), ([0, 0, 1], [2, 5, 7])), shape=(2, 30))
    h = m.item_factors_
    np.testing.assert_allclose(m.user_factors(hist), np.stack([(h[2] + h[5]) / 2, h[7]]), rtol=1e-6)


def test_p9_small_catalogue_gives_exactly_the_unseen_items() -> None:
    data = InteractionData.from_frame(pl.DataFrame({"user": [0, 0, 1, 1, 2, 2], "item": [0, 1, 2, 3, 4, 0]}))
    m = MFBPR(epochs=3, seed=0, **TINY).fit(data)
    hist = sp.csr_matrix(np.array([[1, 1, 1, 0, 0]], dtype=np.float32))
    recs = m.recommend(hist, 10)
    assert set(recs[0, :2]) == {3, 4}
    assert (recs[0, 2:] == NO_ITEM).all()


def test_recommend_never_returns_seen_items_and_cold_rows_get_popularity(model: MFBPR) -> None:
    rng = np.random.default_rng(2)
    dense_in = (rng.random((25, 30)) < 0.3).astype(np.float32)
    dense_in[0] = 0  # a cold row
    h = sp.csr_matrix(dense_in)
    recs = model.recommend(h, 30)
    dense = h.toarray() > 0
    for r in range(25):
        real = recs[r][recs[r] != NO_ITEM]
        assert not set(np.flatnonzero(dense[r])) & set(real.tolist())
        assert len(real) == 30 - dense[r].sum()
    counts = model.item_counts_
    assert counts is not None
    # popularity order, ties by the model's seeded order of the catalogue (never by item id)
    np.testing.assert_array_equal(recs[0, :5], np.lexsort((model.tie_order_, -counts))[:5])


def test_same_seed_same_model() -> None:
    data = _blocks(n_users=30)
    a, b = (MFBPR(epochs=3, seed=9, **TINY).fit(data) for _ in range(2))
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    h = data.to_csr()
    np.testing.assert_array_equal(a.recommend(h, 5), b.recommend(h, 5))
    c = MFBPR(epochs=3, seed=10, **TINY).fit(data)
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_fine_tune_continues_from_the_fitted_item_parameters() -> None:
    data = _blocks(n_users=60)
    m = MFBPR(epochs=20, seed=0, **TINY).fit(data)
    fitted = m.loss(data, seed=3)
    fresh = MFBPR(epochs=0, seed=0, **TINY).fit(data).loss(data, seed=3)
    assert fitted < fresh - 0.2
    items = m.item_factors_.copy()
    m.fine_tune(data, epochs=1, lr=1e-12)
    np.testing.assert_allclose(m.item_factors_, items, atol=1e-8)
    assert m.loss(data, seed=3) == pytest.approx(fitted, rel=1e-5)
    # a real fine-tuning epoch starts from there: its loss is far below a fresh model's first epoch
    m.fine_tune(data, epochs=1)
    first_fresh = MFBPR(epochs=1, seed=0, **TINY).fit(data).loss_history_[0][2]
    assert m.loss_history_[-1][0] == "fine_tune" and m.loss_history_[-1][2] < first_fresh - 0.1


def test_fine_tune_checks_the_catalogue_and_state() -> None:
    data = _blocks(n_users=12)
    with pytest.raises(NotFittedError):
        MFBPR(**TINY).fine_tune(data)
    m = MFBPR(epochs=1, **TINY).fit(data)
    other = InteractionData.from_frame(pl.DataFrame({"user": [0, 1], "item": [1, 2]}))
    with pytest.raises(DataValidationError, match="items"):
        m.fine_tune(other)


def test_bad_parameters_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="fold_in"):
        MFBPR(fold_in="median")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="factors"):
        MFBPR(factors=0)


def test_registered_in_make_model() -> None:
    m = make_model("mf-bpr", seed=4, factors=16)
    assert isinstance(m, MFBPR) and m.seed == 4 and m.factors == 16
