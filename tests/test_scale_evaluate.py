"""Batched ranking evaluation on backends equals the unbatched `evaluate`, exactly."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.evaluation.metrics import evaluate
from synthrec.models.ease import EASE
from synthrec.models.popularity import MostPopular
from synthrec.scale.backends import DaskBackend
from synthrec.scale.evaluate import evaluate_batched

METRIC_NAMES = ("ndcg", "recall", "recall_trunc", "precision", "hr", "mrr", "map")


def _inputs(seed: int = 0, n_users: int = 61, n_items: int = 40) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Train matrix, and histories / targets of held-out users (some cold, some without targets)."""
    rng = np.random.default_rng(seed)
    taste = rng.random((n_users, 4)) @ rng.random((4, n_items))
    x = (taste + rng.random((n_users, n_items)) > np.quantile(taste, 0.75)).astype(np.float64)
    train = sp.csr_matrix(x[:30])
    held = x[30:].copy()
    hist, targ = held.copy(), np.zeros_like(held)
    for u in range(held.shape[0]):
        seen = np.flatnonzero(held[u])
        out = seen[: len(seen) // 3]
        hist[u, out], targ[u, out] = 0, rng.integers(1, 4, len(out))  # graded targets
    hist[0] = 0  # a cold user: popularity fallback
    targ[1] = 0  # a user without targets: skipped and counted
    return train, sp.csr_matrix(hist), sp.csr_matrix(targ)


@pytest.fixture(scope="module")
def data() -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    return _inputs()


def _fit(model: EASE | MostPopular, train: sp.csr_matrix) -> EASE | MostPopular:
    coo = train.tocoo()
    frame = pl.DataFrame({"user": coo.row.astype(np.int64), "item": coo.col.astype(np.int64)})
    d = InteractionData.from_frame(frame, item_vocabulary=pl.Series(np.arange(train.shape[1], dtype=np.int64)))
    return model.fit(d)


def _assert_same(got: dict[str, float], want: dict[str, float]) -> None:
    """Every value bit for bit, except NDCG to 1e-12: metrics.py forms DCG as a matrix-vector product,
    whose rounding can depend on the batch's row count (a 1-row batch takes numpy's dot path)."""
    assert got.keys() == want.keys()
    for key, value in want.items():
        if key.startswith("NDCG@"):
            assert got[key] == pytest.approx(value, rel=1e-12, abs=0.0), key
        else:
            assert got[key] == value, key


@pytest.mark.parametrize("batch_users", [1, 7, 10, 1000])
@pytest.mark.parametrize("model_cls", [EASE, MostPopular])
def test_batched_equals_unbatched_exactly(
    data: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix], batch_users: int, model_cls: type
) -> None:
    train, hist, targ = data
    model = _fit(model_cls(), train)
    want = evaluate(model.recommend(hist, 10), targ, ks=(5, 10), metrics=METRIC_NAMES, histories=hist,
                    trained_items=model.eligible_items_)
    got = evaluate_batched(model, hist, targ, ks=(5, 10), metrics=METRIC_NAMES, batch_users=batch_users)
    _assert_same(got, want)
    assert got["n_users_skipped_empty_target"] >= 1 and got["n_users_evaluated"] == hist.shape[0] - 1


def test_batched_on_dask_equals_unbatched(data: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]) -> None:
    train, hist, targ = data
    model = _fit(EASE(), train)
    want = evaluate(model.recommend(hist, 20), targ, ks=(10, 20), histories=hist, trained_items=model.eligible_items_)
    with DaskBackend(2, processes=False) as backend:
        got = evaluate_batched(model, hist, targ, ks=(10, 20), batch_users=6, backend=backend)
    _assert_same(got, want)


def test_batched_evaluation_errors(data: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]) -> None:
    train, hist, targ = data
    model = _fit(MostPopular(), train)
    with pytest.raises(DataValidationError, match="histories have 31 rows but targets have 30"):
        evaluate_batched(model, hist, targ[:30])
    with pytest.raises(DataValidationError, match="no user has a non-empty target row"):
        evaluate_batched(model, hist, sp.csr_matrix(targ.shape))
    with pytest.raises(ConfigError, match="unknown metric"):
        evaluate_batched(model, hist, targ, metrics=("auc",))
    with pytest.raises(ConfigError, match="batch_users"):
        evaluate_batched(model, hist, targ, batch_users=0)
    with pytest.raises(ConfigError, match="ks"):
        evaluate_batched(model, hist, targ, ks=(0,))
