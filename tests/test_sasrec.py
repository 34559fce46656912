"""SASRec (Kang & McAuley 2018) and the sequence plumbing in `synthrec._torch`."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from synthrec._torch import (
    csr_sequences,
    last_window,
    ordered_events,
    pair_keys,
    sample_negatives,
    sequences_to_segments,
)
from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError, NotFittedError
from synthrec.models import NO_ITEM
from synthrec.models.registry import make_model
from synthrec.models.sasrec import PAD_TOKEN, SASRec, _Windows

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

TINY = dict(dim=8, n_blocks=1, n_heads=1, dropout=0.0, train_batch_size=16)


def _data(seqs: list[list[object]], name: str = "toy") -> InteractionData:
    users = [f"u{k}" for k, s in enumerate(seqs) for _ in s]
    items = [it for s in seqs for it in s]
    return InteractionData.from_frame(pl.DataFrame({"user": users, "item": items}), name=name)


def _cycle_data(n_users: int = 60, n_items: int = 10, length: int = 6, seed: int = 0) -> InteractionData:
    """Users walk a cycle 0 → 1 → … → n_items − 1 → 0 from a random start: next item = current + 1."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n_items, n_users)
    seqs = [[int((s + j) % n_items) for j in range(length)] for s in starts]
    seqs.append(list(range(n_items)))  # every item appears, ids first-appearance order = 0..n-1 below
    frame = pl.DataFrame({"user": [f"u{k}" for k, s in enumerate(seqs) for _ in s],
                          "item": [it for s in seqs for it in s]})
    vocab = pl.Series("item_id", list(range(n_items)))
    return InteractionData.from_frame(frame, item_vocabulary=vocab, name="cycle")


@pytest.fixture(scope="module")
def cycle() -> InteractionData:
    return _cycle_data()


@pytest.fixture(scope="module")
def cycle_model(cycle: InteractionData) -> SASRec:
    return SASRec(max_len=5, epochs=60, lr=0.01, seed=0, **TINY).fit(cycle)


# ------------------------------------------------------------------------------------------ plumbing


def test_last_window_right_aligns_and_pads() -> None:
    indptr = np.array([0, 4, 6, 6, 7])
    values = np.array([1, 2, 1, 3, 2, 1, 1])
    out = last_window(indptr, values, 3, fill=0)
    np.testing.assert_array_equal(out, [[2, 1, 3], [0, 2, 1], [0, 0, 0], [0, 0, 1]])


def test_ordered_events_uses_time_then_row_order_never_item_ids() -> None:
    frame = pl.DataFrame({"user": [1, 1, 1, 1, 2], "item": [30, 10, 20, 40, 10], "t": [100, 100, 100, 50, 7]})
    data = InteractionData.from_frame(frame, time_col="t")
    users, items, times = ordered_events(data)
    ext = data.item_ids.to_numpy()[items]
    np.testing.assert_array_equal(users, [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(ext, [40, 30, 10, 20, 10])  # t=50 first; ties keep file order (P1)
    np.testing.assert_array_equal(times, [50, 100, 100, 100, 7])


def test_sample_negatives_never_returns_a_seen_pair() -> None:
    users = np.repeat(np.arange(50), 3)
    items = np.tile([0, 1, 2], 50)
    seen = np.unique(pair_keys(users, items, 6))
    neg = sample_negatives(np.repeat(np.arange(50), 40), seen, 6, np.random.default_rng(0), rounds=60)
    assert set(np.unique(neg)) == {3, 4, 5}


def test_csr_sequences_orders_by_position_then_item_id() -> None:
    h = sp.csr_matrix(np.array([[1, 1, 1, 0], [0, 1, 0, 1]], dtype=np.float32))
    indptr, items = csr_sequences(h, np.array([0.9, 0.1, 0.5, 0.1]))
    np.testing.assert_array_equal(indptr, [0, 3, 5])
    np.testing.assert_array_equal(items, [1, 2, 0, 1, 3])


def test_sequences_to_segments_list_and_padded_forms_agree() -> None:
    a = sequences_to_segments([np.array([2, 0]), np.array([], dtype=np.int64), np.array([1])], 3, 3)
    b = sequences_to_segments(np.array([[2, 0], [-1, -1], [-1, 1]]), 3, 3)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(DataValidationError, match="row 2"):
        sequences_to_segments([np.array([0]), np.array([7])], 2, 3)
    with pytest.raises(DataValidationError, match="rows"):
        sequences_to_segments([np.array([0])], 2, 3)


# ------------------------------------------------------------------------------------------ P11


def test_p11_padding_is_distinct_and_never_returned() -> None:
    data = _data([["A", "B", "A", "C"], ["B", "A"], ["A"]])
    a, b, c = (int(data.dense_items([x])[0]) for x in "ABC")
    windows = _Windows(data, max_len=4)
    # users with >= 2 events get a window of the last 5 tokens (item i is token i + 1, padding 0)
    np.testing.assert_array_equal(windows.users, [0, 1])
    np.testing.assert_array_equal(windows.inputs, [[PAD_TOKEN, a + 1, b + 1, a + 1],
                                                   [PAD_TOKEN, PAD_TOKEN, PAD_TOKEN, b + 1]])
    np.testing.assert_array_equal(windows.targets, [[a + 1, b + 1, a + 1, c + 1],
                                                    [PAD_TOKEN, PAD_TOKEN, b + 1, a + 1]])
    assert PAD_TOKEN not in {a + 1, b + 1, c + 1}

    model = SASRec(max_len=4, epochs=2, seed=0, **TINY).fit(data)
    assert model.net_.item_emb.num_embeddings == data.n_items + 1  # real items plus one padding row
    dense = np.zeros((3, 3), np.float32)
    dense[1, a] = dense[2, b] = 1  # row 0 cold, row 1 has seen A, row 2 has seen B
    hist = sp.csr_matrix(dense)
    recs = model.recommend(hist, 3)
    assert set(recs[0]) == {a, b, c}  # cold row: popularity, all three
    assert set(recs[1]) == {b, c, NO_ITEM} and recs[1, 2] == NO_ITEM
    assert set(recs[2]) == {a, c, NO_ITEM} and recs[2, 2] == NO_ITEM  # A can be recommended
    full = model.recommend(hist, 3, exclude_seen=False)
    assert all(set(row) == {a, b, c} for row in full)  # padding never appears, even unfiltered


# ------------------------------------------------------------------------------------------ behaviour


def test_learns_the_next_item_from_real_order(cycle: InteractionData, cycle_model: SASRec) -> None:
    n = cycle.n_items
    seqs = [np.array([(s + j) % n for j in range(4)]) for s in range(n)]
    hist = sp.csr_matrix((np.ones(4 * n, np.float32), (np.repeat(np.arange(n), 4), np.concatenate(seqs))),
                         shape=(n, n))
    recs = cycle_model.recommend(hist, 1, sequences=seqs)
    expected = np.array([(s + 4) % n for s in range(n)])
    assert (recs[:, 0] == expected).mean() >= 0.8


def test_padded_array_and_list_sequences_give_the_same_recommendations(cycle_model: SASRec) -> None:
    seqs = [np.array([1, 2, 3]), np.array([7]), np.array([4, 5])]
    padded = np.array([[1, 2, 3], [-1, -1, 7], [-1, 4, 5]])
    hist = sp.csr_matrix((3, 10), dtype=np.float32)
    np.testing.assert_array_equal(cycle_model.recommend(hist, 4, sequences=seqs),
                                  cycle_model.recommend(hist, 4, sequences=padded))


def test_fallback_order_is_the_typical_item_position(cycle_model: SASRec) -> None:
    rng = np.random.default_rng(3)
    h = sp.csr_matrix((rng.random((8, 10)) < 0.3).astype(np.float32))
    indptr, items = csr_sequences(h, cycle_model.item_position_)
    seqs = [items[indptr[r]:indptr[r + 1]] for r in range(8)]
    np.testing.assert_array_equal(cycle_model.recommend(h, 5), cycle_model.recommend(h, 5, sequences=seqs))


def test_recommend_never_returns_seen_or_padding(cycle_model: SASRec) -> None:
    rng = np.random.default_rng(1)
    h = sp.csr_matrix((rng.random((40, 10)) < 0.4).astype(np.float32))
    extra = [np.array([int(rng.integers(10))]) for _ in range(40)]  # sequence items count as seen too
    recs = cycle_model.recommend(h, 10, sequences=extra)
    dense = h.toarray() > 0
    for r in range(40):
        row = recs[r]
        real = row[row != NO_ITEM]
        seen = set(np.flatnonzero(dense[r])) | set(extra[r].tolist())
        assert not seen & set(real.tolist())
        assert len(set(real.tolist())) == len(real) == 10 - len(seen)
        assert (row[len(real):] == NO_ITEM).all()
        assert ((real >= 0) & (real < 10)).all()


def test_same_seed_same_model_other_seed_other_model() -> None:
    data = _cycle_data(n_users=20)
    h = data.to_csr()
    runs = [SASRec(max_len=5, epochs=2, seed=s, **TINY).fit(data) for s in (4, 4, 5)]
    assert runs[0].loss_history_ == runs[1].loss_history_
    np.testing.assert_array_equal(runs[0].recommend(h, 3), runs[1].recommend(h, 3))
    assert runs[0].loss_history_ != runs[2].loss_history_


def test_fine_tune_continues_from_the_fitted_weights() -> None:
    data = _cycle_data(n_users=30)
    model = SASRec(max_len=5, epochs=15, lr=0.01, seed=0, **TINY).fit(data)
    fitted = model.loss(data, seed=7)
    fresh = SASRec(max_len=5, epochs=0, seed=0, **TINY).fit(data).loss(data, seed=7)
    assert fitted < fresh - 0.2  # training did something
    model.fine_tune(data, epochs=1, lr=1e-12)  # a step too small to move the weights
    assert model.loss(data, seed=7) == pytest.approx(fitted, rel=1e-6)
    assert [p for p, _, _ in model.loss_history_] == ["fit"] * 15 + ["fine_tune"]


def test_freeze_item_embeddings_keeps_them_for_the_first_epochs() -> None:
    data = _cycle_data(n_users=20)
    model = SASRec(max_len=5, epochs=1, seed=0, **TINY).fit(data)
    emb = model.net_.item_emb.weight.detach().clone()
    ffn = model.net_.ffns[0][0].weight.detach().clone()
    model.fine_tune(data, epochs=2, freeze_item_embeddings_epochs=2)
    assert torch.equal(model.net_.item_emb.weight, emb)
    assert not torch.equal(model.net_.ffns[0][0].weight, ffn)
    model.fine_tune(data, epochs=1)
    assert not torch.equal(model.net_.item_emb.weight, emb)


def test_fine_tune_checks_the_catalogue_and_state() -> None:
    data = _cycle_data(n_users=10)
    with pytest.raises(NotFittedError):
        SASRec(**TINY).fine_tune(data)
    model = SASRec(max_len=5, epochs=1, **TINY).fit(data)
    other = _data([["x", "y"], ["y", "z"]])
    with pytest.raises(DataValidationError, match="items"):
        model.fine_tune(other)
    with pytest.raises(DataValidationError, match="item columns"):
        model.recommend(sp.csr_matrix((2, 3)), 2)


def test_bad_parameters_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="n_heads"):
        SASRec(dim=10, n_heads=3)
    with pytest.raises(ConfigError, match="dropout"):
        SASRec(dropout=1.0)
    with pytest.raises(ConfigError, match="device"):
        SASRec(device="warp-drive")


def test_registered_in_make_model() -> None:
    model = make_model("sasrec", seed=3, max_len=7)
    assert isinstance(model, SASRec) and model.seed == 3 and model.max_len == 7
