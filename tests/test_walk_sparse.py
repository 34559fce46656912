"""The sparse item walk (issue 15, item 3): top-k neighbour rows (CSR) and the touched-set sampler of
`synthrec.generators._walk` whose per-step cost grows with a user's history × neighbours, not with the
catalogue; its law is checked exactly against enumeration and against the dense walk on the same W."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats
from typer.testing import CliRunner

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError
from synthrec.generators import _walk, make_generator
from synthrec.generators._walk import WalkModel, walk
from synthrec.generators.item_walk import (
    ItemWalkGenerator,
    ease_weights,
    select_modelled,
    top_neighbours,
    walk_from_statistics,
)

M = 30
K = 4


def walk_s(model: WalkModel, lengths: np.ndarray, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The touched-set sampler, forced (``"auto"`` would densify a 30-item model)."""
    return walk(model, lengths, rng, sampler="sparse")


def small_models(scale: float = 1.5) -> tuple[WalkModel, WalkModel]:
    """A 30-item sparse model (4 neighbours per row, some negative) and its dense copy (same W)."""
    rng = np.random.default_rng(0)
    bias = np.log(rng.pareto(1.2, M) * 10 + 1).astype(np.float32)
    w = rng.normal(0, 1.0, (M, M)).astype(np.float32)
    np.fill_diagonal(w, 0.0)
    indptr, indices, data = top_neighbours(w, np.arange(M), K)
    sparse = WalkModel(bias, None, np.arange(M, dtype=np.int64), scale, indptr, indices, data)
    dense = WalkModel(bias, sparse.dense_weights(), np.arange(M, dtype=np.int64), scale)
    return sparse, dense


def exact_prefix_law(model: WalkModel, steps: int) -> dict[tuple[int, ...], float]:
    """P(first ``steps`` items = seq) of the walk, by enumeration in float64."""
    w = model.dense_weights().astype(np.float64)
    b = model.bias.astype(np.float64)
    out: dict[tuple[int, ...], float] = {}

    def rec(seq: tuple[int, ...], p: float, h: np.ndarray) -> None:
        if len(seq) == steps:
            out[seq] = p
            return
        logit = b + model.scale * h
        q = np.exp(logit - logit.max())
        q[list(seq)] = 0.0
        q /= q.sum()
        for i in range(M):
            if q[i] > 0:
                rec((*seq, i), p * q[i], h + w[i])

    rec((), 1.0, np.zeros(M))
    return out


def prefixes(rows: np.ndarray, items: np.ndarray, steps: int) -> np.ndarray:
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    return np.stack([items[starts + s] for s in range(steps)], axis=1)


def pooled_chisquare(observed: dict[tuple[int, ...], int], law: dict[tuple[int, ...], float], n: int) -> float:
    """Chi-square p-value of counts against ``law``, cells with an expectation under 5 pooled into one."""
    keys = list(law)
    exp = np.array([law[k] for k in keys]) * n
    obs = np.array([observed.get(k, 0) for k in keys], dtype=np.float64)
    small = exp < 5
    if small.any():
        exp = np.r_[exp[~small], exp[small].sum()]
        obs = np.r_[obs[~small], obs[small].sum()]
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


def count(pref: np.ndarray) -> dict[tuple[int, ...], int]:
    keys, counts = np.unique(pref, axis=0, return_counts=True)
    return {tuple(int(x) for x in k): int(c) for k, c in zip(keys, counts, strict=True)}


# ---------------------------------------------------------------------------------------- the law


@pytest.mark.parametrize("explicit_below, rounds", [(0.05, 8), (0.0, 8), (2.0, 8), (0.0, 0)],
                         ids=["default", "never-explicit", "always-explicit", "no-rejection-rounds"])
def test_sparse_walk_matches_the_enumerated_law(monkeypatch: pytest.MonkeyPatch, explicit_below: float,
                                                rounds: int) -> None:
    # every path of the sampler (touched draw, base draw with rejection, explicit draw) gives the same law
    monkeypatch.setattr(_walk, "EXPLICIT_BELOW", explicit_below)
    monkeypatch.setattr(_walk, "REJECTION_ROUNDS", rounds)
    sparse, _ = small_models()
    n = 40_000
    rows, items, _ = walk_s(sparse, np.full(n, 3), np.random.default_rng(1))
    pref = prefixes(rows, items, 3)
    law2 = exact_prefix_law(sparse, 2)
    assert pooled_chisquare(count(pref[:, :2]), law2, n) > 1e-3
    # the third item's marginal, summed from the enumerated 3-prefix law
    law3 = exact_prefix_law(sparse, 3)
    third: dict[tuple[int, ...], float] = {}
    for seq, p in law3.items():
        third[(seq[2],)] = third.get((seq[2],), 0.0) + p
    assert pooled_chisquare(count(pref[:, 2:3]), third, n) > 1e-3


def test_the_law_check_can_fail() -> None:
    # the same check rejects the law of another W (the unsparsified one differs in the pairs it pulls)
    sparse, _ = small_models()
    rng = np.random.default_rng(0)
    other = replace(sparse, data=rng.permutation(sparse.data))
    n = 40_000
    rows, items, _ = walk_s(sparse, np.full(n, 2), np.random.default_rng(1))
    assert pooled_chisquare(count(prefixes(rows, items, 2)), exact_prefix_law(other, 2), n) < 1e-6


def test_sparse_and_dense_walks_agree_on_the_same_weights() -> None:
    sparse, dense = small_models()
    n = 30_000
    a = prefixes(*walk_s(sparse, np.full(n, 3), np.random.default_rng(2))[:2], 3)
    b = prefixes(*walk(dense, np.full(n, 3), np.random.default_rng(3))[:2], 3)
    for step in range(3):
        table = np.vstack([np.bincount(a[:, step], minlength=M), np.bincount(b[:, step], minlength=M)])
        table = table[:, table.sum(axis=0) >= 10]
        assert stats.chi2_contingency(table).pvalue > 1e-3
    # pairs (first, second): pooled cells
    law = exact_prefix_law(dense, 2)
    assert pooled_chisquare(count(b[:, :2]), law, n) > 1e-3


def test_sparse_walk_rows_logits_and_full_users() -> None:
    sparse, _ = small_models(scale=0.8)
    w = sparse.dense_weights().astype(np.float64)
    rng = np.random.default_rng(4)
    lengths = rng.integers(0, M + 1, 200)
    lengths[:3] = [0, M, 1]
    rows, items, logit = walk_s(sparse, lengths, np.random.default_rng(5))
    assert rows.dtype == np.int64 and items.dtype == np.int64 and logit.dtype == np.float32
    assert np.array_equal(np.bincount(rows, minlength=len(lengths)), lengths)
    assert np.all(np.diff(rows) >= 0)
    assert sorted(items[rows == 1].tolist()) == list(range(M))  # a full-catalogue user draws everything
    for u in np.unique(rows):
        its = items[rows == u]
        assert len(set(its.tolist())) == len(its)
        hist = np.cumsum(np.vstack([np.zeros(M), w[its[:-1]]]), axis=0)
        expected = sparse.bias[its] + 0.8 * hist[np.arange(len(its)), its]
        np.testing.assert_allclose(logit[rows == u], expected, rtol=1e-5, atol=1e-5)


def test_sparse_walk_is_deterministic_per_seed_and_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    sparse, _ = small_models()
    lengths = np.r_[np.full(300, 2), np.random.default_rng(6).integers(0, 12, 300)]
    a = walk_s(sparse, lengths, np.random.default_rng(9))
    b = walk_s(sparse, lengths, np.random.default_rng(9))
    c = walk_s(sparse, lengths, np.random.default_rng(10))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])
    monkeypatch.setattr(_walk, "CHUNK_CELLS", 7)  # about one user per chunk
    small = walk_s(sparse, lengths, np.random.default_rng(9))
    assert np.array_equal(small[0], a[0])
    assert all(np.array_equal(x, y) for x, y in zip(small, walk_s(sparse, lengths, np.random.default_rng(9)),
                                                     strict=True))
    for u in np.unique(small[0]):
        its = small[1][small[0] == u]
        assert len(set(its.tolist())) == len(its)


def test_sparse_walk_partial_model_and_extreme_logits() -> None:
    # a partial model (modelled ⊂ catalogue) and huge history weights (exp would overflow without the
    # shift): the draws stay finite and follow the neighbours
    m = 200
    bias = np.zeros(m, np.float32)
    modelled = np.array([3, 50, 120, 199])
    w = np.zeros((4, 4), np.float32)
    w[0, 1] = w[1, 0] = 2000.0  # 3 ↔ 50
    indptr, indices, data = top_neighbours(w, modelled, 1)
    model = WalkModel(bias, None, modelled, 1.0, indptr, indices, data)
    rows, items, logit = walk_s(model, np.full(3000, 2), np.random.default_rng(0))
    pref = prefixes(rows, items, 2)
    assert np.isfinite(logit).all()
    assert np.all(pref[pref[:, 0] == 3, 1] == 50) and np.all(pref[pref[:, 0] == 50, 1] == 3)
    assert (pref[:, 0] == 3).sum() > 0


def test_walk_lengths_checked_for_sparse_models() -> None:
    sparse, _ = small_models()
    with pytest.raises(ValueError, match="lengths"):
        walk_s(sparse, np.array([M + 1]), np.random.default_rng(0))
    assert len(walk_s(sparse, np.zeros(3, np.int64), np.random.default_rng(0))[0]) == 0
    with pytest.raises(ValueError, match="sampler"):
        walk(sparse, np.array([1]), np.random.default_rng(0), sampler="fast")
    _, dense = small_models()
    with pytest.raises(ValueError, match="sparse model"):
        walk(dense, np.array([1]), np.random.default_rng(0), sampler="sparse")


def test_auto_sampler_picks_dense_for_small_catalogues_and_sparse_for_large() -> None:
    sparse, dense = small_models()
    lengths = np.full(50, 12)
    # a 30-item catalogue and 12 items per user: the dense sampler on the densified W — the very draws of the dense model
    auto = walk(sparse, lengths, np.random.default_rng(3))
    assert all(np.array_equal(x, y) for x, y in zip(auto, walk(dense, lengths, np.random.default_rng(3)),
                                                    strict=True))
    assert not _walk._sparse_users(sparse, lengths).any()
    big = replace(sparse, bias=np.zeros(200_000, np.float32))  # same 30 modelled rows in a large catalogue
    assert _walk._sparse_users(big, lengths).all()
    a = walk(big, lengths, np.random.default_rng(3))
    b = walk(big, lengths, np.random.default_rng(3), sampler="sparse")
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_auto_sampler_splits_users_by_length_with_the_same_law() -> None:
    # on 30 items, 2-item users are cheaper sparse and 20-item users dense: "auto" draws them apart and
    # merges them back user-major; each group keeps the law (first two items against enumeration)
    sparse, _ = small_models()
    lengths = np.tile([2, 20], 15_000)
    cheap = _walk._sparse_users(sparse, lengths)
    assert cheap[0::2].all() and not cheap[1::2].any()
    rows, items, logit = walk(sparse, lengths, np.random.default_rng(7))
    assert np.array_equal(rows, np.repeat(np.arange(len(lengths)), lengths))
    assert logit.dtype == np.float32
    pref = prefixes(rows, items, 2)
    law = exact_prefix_law(sparse, 2)
    for group in (0, 1):
        assert pooled_chisquare(count(pref[group::2]), law, len(pref[group::2])) > 1e-3
    for u in (0, 1, 2, 3):
        its = items[rows == u]
        assert len(set(its.tolist())) == len(its) == lengths[u]


# ---------------------------------------------------------------------------------------- top_neighbours


def test_top_neighbours_keeps_the_largest_per_row() -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(0, 1, (12, 12)).astype(np.float32)
    np.fill_diagonal(w, 0.0)
    w[2, 5] = 0.0
    w[2] = -np.abs(w[2])  # a row with no positive weight keeps its largest (negative) ones
    w[2, 5] = 0.0  # exact zeros are never kept
    modelled = np.arange(12) * 10
    indptr, indices, data = top_neighbours(w, modelled, 3)
    assert indptr.dtype == np.int64 and indices.dtype == np.int64 and data.dtype == np.float32
    for r in range(12):
        cols = indices[indptr[r]:indptr[r + 1]] // 10
        row = w[r].astype(np.float64)
        row[r] = -np.inf
        best = set(np.argsort(-row, kind="stable")[:3].tolist()) - {c for c in range(12) if w[r, c] == 0}
        assert set(cols.tolist()) == best and r not in cols
        assert np.all(np.diff(cols) > 0)
        np.testing.assert_array_equal(data[indptr[r]:indptr[r + 1]], w[r, cols])
    assert 5 not in (indices[indptr[2]:indptr[3]] // 10).tolist()
    full = top_neighbours(w, modelled, 50)  # k ≥ M − 1: every nonzero off-diagonal weight
    assert len(full[1]) == int(np.count_nonzero(w))


# ---------------------------------------------------------------------------------------- the generator


def cluster_log(n_users: int = 400, n_items: int = 60, seed: int = 0) -> InteractionData:
    """Six item clusters of 10; each user picks 3–9 items within one cluster."""
    rng = np.random.default_rng(seed)
    users, items, ts = [], [], []
    for u in range(n_users):
        c = u % 6
        k = int(rng.integers(3, 10))
        for j, it in enumerate(rng.choice(10, k, replace=False)):
            users.append(f"u{u}")
            items.append(f"i{c * 10 + int(it)}")
            ts.append(1_000_000 + u * 100 + j)
    return InteractionData.from_frame(pl.DataFrame({"user": users, "item": items, "ts": ts}), time_col="ts",
                                      name="clusters")


@pytest.fixture(scope="module")
def clusters() -> InteractionData:
    return cluster_log()


@pytest.fixture(scope="module")
def sparse_gen(clusters: InteractionData) -> ItemWalkGenerator:
    return ItemWalkGenerator(neighbours=8, calibration_users=500).fit(clusters)


def cluster_share(sample: InteractionData, data: InteractionData) -> float:
    cluster = np.array([int(str(x)[1:]) // 10 for x in data.item_ids.to_list()])
    ints = sample.interactions
    users, c = ints["user"].to_numpy(), cluster[ints["item"].to_numpy()]
    first = np.r_[True, users[1:] != users[:-1]]
    start = c[np.maximum.accumulate(np.where(first, np.arange(len(c)), 0))]
    return float(np.mean(c[~first] == start[~first]))


def test_sparse_generator_keeps_the_clusters(clusters: InteractionData, sparse_gen: ItemWalkGenerator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_walk, "SPARSE_ENTRY_COST", 0.0)  # the touched-set sampler, as on a large catalogue
    assert sparse_gen.walk_.sparse and sparse_gen.walk_.weights is None
    assert sparse_gen.walk_.n_neighbours == 8 and sparse_gen.fit_report_["neighbours"] == 8
    syn = sparse_gen.sample(600, seed=1)
    assert not syn.interactions.select("user", "item").is_duplicated().any()
    assert cluster_share(syn, clusters) > 0.9  # random: ~0.15
    dense = ItemWalkGenerator(neighbours=None, calibration_users=500).fit(clusters)
    assert not dense.walk_.sparse and dense.fit_report_["neighbours"] is None
    assert cluster_share(dense.sample(600, seed=1), clusters) > 0.9
    # the scale comes from the dense W, so a sparse model's rows are the dense rows' largest entries
    assert sparse_gen.walk_.scale == pytest.approx(dense.walk_.scale)


def test_neighbours_at_least_m_minus_one_is_the_dense_model(clusters: InteractionData) -> None:
    a = ItemWalkGenerator(neighbours=59, calibration_users=300).fit(clusters)
    b = ItemWalkGenerator(neighbours=None, calibration_users=300).fit(clusters)
    assert not a.walk_.sparse
    assert a.sample(50, seed=0).interactions.equals(b.sample(50, seed=0).interactions)


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "10"])
def test_bad_neighbours(value: object) -> None:
    with pytest.raises(ConfigError, match="neighbours"):
        ItemWalkGenerator(neighbours=value)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="neighbours"):
        make_generator("item-walk", neighbours=value)


def test_sparse_sample_determinism_and_batches(sparse_gen: ItemWalkGenerator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_walk, "SPARSE_ENTRY_COST", 0.0)  # the touched-set sampler, as on a large catalogue
    a = sparse_gen.sample(90, seed=5)
    assert a.interactions.equals(sparse_gen.sample(90, seed=5).interactions)
    assert not a.interactions.equals(sparse_gen.sample(90, seed=6).interactions)
    short = list(sparse_gen.sample_batches(90, batch_users=40, seed=5))
    long = list(sparse_gen.sample_batches(200, batch_users=40, seed=5))
    for b in range(2):
        assert short[b].interactions.equals(long[b].interactions)
    (one,) = list(sparse_gen.sample_batches(90, batch_users=90, seed=5))
    assert one.interactions.equals(a.interactions)


def test_sparse_save_load_round_trip(tmp_path: Path, sparse_gen: ItemWalkGenerator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_walk, "SPARSE_ENTRY_COST", 0.0)  # the touched-set sampler, as on a large catalogue
    path = tmp_path / "walk.synthrec"
    sparse_gen.save(path)
    back = ItemWalkGenerator.load(path)
    wm = back.walk_
    assert wm.sparse and wm.weights is None and back.neighbours == 8
    for name in ("indptr", "indices", "data", "bias", "modelled"):
        np.testing.assert_array_equal(getattr(wm, name), getattr(sparse_gen.walk_, name))
        assert getattr(wm, name).dtype == getattr(sparse_gen.walk_, name).dtype
    assert back.sample(70, seed=4).interactions.equals(sparse_gen.sample(70, seed=4).interactions)
    path2 = tmp_path / "again.synthrec"
    back.save(path2)
    assert path2.read_bytes() == path.read_bytes()


def test_walk_from_statistics_is_the_exact_fit(clusters: InteractionData) -> None:
    gen = ItemWalkGenerator(neighbours=5, calibration_rounds=0, max_items=40).fit(clusters)
    ints = clusters.interactions
    users, items = ints["user"].to_numpy(), ints["item"].to_numpy()
    m = clusters.n_items
    x = np.zeros((clusters.n_users, m), np.int64)
    x[users, items] = 1
    counts = x.sum(axis=0)
    modelled = select_modelled(counts, 40)
    gram = x[:, modelled].T @ x[:, modelled]
    model = walk_from_statistics(counts, modelled, gram, l2=200.0, relative_scale=32.0, neighbours=5)
    for name in ("bias", "modelled", "indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(model, name), getattr(gen.walk_, name))
    assert model.scale == gen.walk_.scale
    dense = walk_from_statistics(counts, modelled, gram, l2=200.0, neighbours=None)
    np.testing.assert_array_equal(dense.weights, ease_weights(gram.astype(float), 200.0).astype(np.float32))


def test_sparse_dp_fit_is_post_processing(clusters: InteractionData) -> None:
    sparse = ItemWalkGenerator(epsilon=4.0, delta=1e-5, seed=0, neighbours=5, calibration_users=300).fit(clusters)
    dense = ItemWalkGenerator(epsilon=4.0, delta=1e-5, seed=0, neighbours=None, calibration_users=300).fit(clusters)
    assert sparse.walk_.sparse and not dense.walk_.sparse
    assert sparse.privacy.epsilon == dense.privacy.epsilon <= 4.0 + 1e-6
    # the same noisy W, cut to its 5 largest weights per row
    _, indices, data = top_neighbours(dense.walk_.weights, dense.walk_.modelled, 5)
    np.testing.assert_array_equal(sparse.walk_.indices, indices)
    np.testing.assert_array_equal(sparse.walk_.data, data)
    assert not sparse.sample(50, seed=0).interactions.select("user", "item").is_duplicated().any()


def test_cli_fit_with_neighbours(tmp_path: Path, clusters: InteractionData) -> None:
    from synthrec.cli import app

    csv = tmp_path / "log.csv"
    clusters.interactions.with_columns(
        pl.col("user").map_elements(lambda u: clusters.user_ids[u], return_dtype=pl.String),
        pl.col("item").map_elements(lambda i: clusters.item_ids[i], return_dtype=pl.String),
    ).select("user", "item").write_csv(csv)
    out = tmp_path / "w.synthrec"
    res = CliRunner().invoke(app, ["fit", str(csv), "--out", str(out), "--generator", "item-walk",
                                   "--param", "neighbours=3", "--param", "calibration_users=200"])
    assert res.exit_code == 0, res.output
    gen = ItemWalkGenerator.load(out)
    assert gen.neighbours == 3 and gen.walk_.sparse and gen.walk_.n_neighbours == 3


def test_old_dense_walk_model_state_still_loads() -> None:
    # a WalkModel saved before the sparse fields existed (its state has no indptr / indices / data) is a
    # dense model: the dataclass defaults answer for the missing attributes
    model = WalkModel.__new__(WalkModel)
    model.__dict__.update({"bias": np.zeros(3, np.float32), "weights": np.zeros((3, 3), np.float32),
                           "modelled": np.arange(3), "scale": 1.0})
    assert not model.sparse and model.indptr is None
    assert len(walk(model, np.array([2, 1]), np.random.default_rng(0))[0]) == 3


def test_itertools_enumeration_agrees_with_recursion() -> None:
    # the enumeration helper itself, on 2 steps: its probabilities sum to 1 and match a direct product
    sparse, _ = small_models()
    law = exact_prefix_law(sparse, 2)
    assert sum(law.values()) == pytest.approx(1.0, abs=1e-9)
    b = sparse.bias.astype(np.float64)
    w = sparse.dense_weights().astype(np.float64)
    for i, j in itertools.islice(itertools.permutations(range(M), 2), 0, 800, 97):
        p1 = np.exp(b) / np.exp(b).sum()
        l2 = b + sparse.scale * w[i]
        q = np.exp(l2)
        q[i] = 0
        assert law[(i, j)] == pytest.approx(p1[i] * q[j] / q.sum(), rel=1e-9)


def test_sparse_real_logits_equal_the_dense_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    # the rating model scores real events by b_i + a Σ_{j in her history} W_ji: the sparse product must
    # give what the densified W gives (and the fit with ratings must sample them)
    import scipy.sparse as sp

    rng = np.random.default_rng(3)
    base = cluster_log(300)
    frame = base.interactions.with_columns(pl.Series("rating", rng.choice([1.0, 3.0, 5.0], base.n_interactions)))
    data = InteractionData.from_frame(
        frame.with_columns(pl.col("user").map_elements(lambda u: base.user_ids[u], return_dtype=pl.String),
                           pl.col("item").map_elements(lambda i: base.item_ids[i], return_dtype=pl.String)),
        time_col="timestamp", rating_col="rating", name="rated")
    gen = ItemWalkGenerator(neighbours=6, calibration_users=300).fit(data)
    assert gen.walk_.sparse and gen.rating_model_ is not None
    ints = data.interactions
    users, items = ints["user"].to_numpy(), ints["item"].to_numpy()
    x = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(data.n_users, data.n_items))
    got = gen._real_logits(x, users, items)
    wm = gen.walk_
    full = np.zeros((data.n_items, data.n_items))
    full[np.ix_(wm.modelled, wm.modelled)] = wm.dense_weights()
    expected = wm.bias[items].astype(np.float64) + wm.scale * np.asarray((x @ full)[users, items]).ravel()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    monkeypatch.setattr(_walk, "SPARSE_ENTRY_COST", 0.0)
    syn = gen.sample(100, seed=0)
    assert set(np.unique(syn.interactions["rating"].to_numpy()).tolist()) <= {1.0, 3.0, 5.0}
