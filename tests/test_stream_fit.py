"""The streaming fit (`synthrec.scale.stream_fit`): equal to the in-memory pass fit bit for bit whatever the
files, chunks, row order and backend; close to the classic in-memory fit; resumable; clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators._pass_source import (
    ORDER_BITS,
    ORDER_SQUARE_BITS,
    fixed_point_bits,
    order_model_from_sums,
    sample_threshold,
)
from synthrec.generators._timestamps import OrderModel
from synthrec.generators.item_walk import ItemWalkGenerator
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.scale import stream_fit
from synthrec.scale.backends import DaskBackend, ProcessPoolBackend
from synthrec.scale.stream_fit import LogColumns, fit_in_passes, fit_streaming

COLUMNS = LogColumns(user="uid", item="iid", time="ts", rating="stars")


def _log(seed: int = 0, n_users: int = 240, n_items: int = 60) -> pl.DataFrame:
    """A small log with taste clusters, repeated pairs, tied times and ratings; users as text ids."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        group = u % 3
        n = int(rng.integers(3, 25))
        pref = np.where(np.arange(n_items) % 3 == group, 3.0, 0.3) * rng.random(n_items)
        items = rng.choice(n_items, size=n, p=pref / pref.sum())
        start = int(rng.integers(0, 10**6))
        times = start + np.sort(rng.integers(0, 5000, size=n))  # ties among equal draws
        for i, t in zip(items, times, strict=True):
            rows.append((f"u{u:04d}", int(i), int(t), float(rng.integers(1, 6))))
    return pl.DataFrame(rows, schema={"uid": pl.String, "iid": pl.Int64, "ts": pl.Int64, "stars": pl.Float64},
                        orient="row")


def _data(frame: pl.DataFrame, vocab: pl.Series | None = None) -> InteractionData:
    return InteractionData.from_frame(frame, user_col="uid", item_col="iid", time_col="ts", rating_col="stars",
                                      item_vocabulary=vocab, name="small")


def _gen() -> LatentFactorGenerator:
    return LatentFactorGenerator(n_factors=6, calibration_users=300, gram_items=40, seed=3)


def _write_parts(frame: pl.DataFrame, folder: Path, n_parts: int, seed: int) -> list[Path]:
    """Users dealt to ``n_parts`` files, users in a shuffled order, each user's rows together in file order."""
    rng = np.random.default_rng(seed)
    users = frame["uid"].unique().sort().to_list()
    rng.shuffle(users)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for p in range(n_parts):
        mine = users[p::n_parts]
        rank = pl.DataFrame({"uid": mine, "_k": np.arange(len(mine))})
        part = frame.join(rank, on="uid", maintain_order="left").sort("_k", maintain_order=True).drop("_k")
        path = folder / f"part-{p}.parquet"
        part.write_parquet(path)
        paths.append(path)
    return paths


def _same(a: LatentFactorGenerator, b: LatentFactorGenerator) -> None:
    assert np.array_equal(a.item_factors_, b.item_factors_)
    assert np.array_equal(a.item_bias_, b.item_bias_)
    assert a.scale_ == b.scale_
    assert np.array_equal(a.order_model_.position, b.order_model_.position)
    assert a.sample(50, seed=9).interactions.equals(b.sample(50, seed=9).interactions)


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return _log()


@pytest.fixture(scope="module")
def reference(frame: pl.DataFrame) -> LatentFactorGenerator:
    return fit_in_passes(_gen(), _data(frame))


def test_files_chunks_and_row_order_do_not_change_the_fit(frame, reference, tmp_path):
    data = _data(frame)
    for n_parts, chunk_rows, seed in ((1, 1 << 20, 0), (3, 50, 1), (5, 7, 2)):
        folder = tmp_path / f"p{n_parts}"
        _write_parts(frame, folder, n_parts, seed)
        gen = fit_streaming(_gen(), folder, columns=COLUMNS, item_ids=data.item_ids, chunk_rows=chunk_rows)
        _same(reference, gen)


def test_process_pool_and_dask_give_the_same_generator(frame, reference, tmp_path):
    data = _data(frame)
    _write_parts(frame, tmp_path / "parts", 4, seed=5)
    with ProcessPoolBackend(2) as pool:
        _same(reference, fit_streaming(_gen(), tmp_path / "parts", columns=COLUMNS, item_ids=data.item_ids,
                                       backend=pool))
    with DaskBackend(2, processes=False) as dask:
        _same(reference, fit_streaming(_gen(), tmp_path / "parts", columns=COLUMNS, item_ids=data.item_ids,
                                       backend=dask))


def test_pass_fit_is_close_to_the_in_memory_fit(frame, reference):
    classic = _gen().fit(_data(frame))
    q1, _ = np.linalg.qr(classic.item_factors_.astype(np.float64))
    q2, _ = np.linalg.qr(reference.item_factors_.astype(np.float64))
    cosines = np.linalg.svd(q1.T @ q2, compute_uv=False)
    assert cosines.mean() > 0.97  # the same factor subspace, up to the subspace iteration's error
    assert reference.fit_report_["relative_scale"] == classic.fit_report_["relative_scale"]
    # the calibrated models reproduce popularity and co-occurrence alike (the biases themselves differ by
    # calibration noise of the order of their spread on this 60-item log of nearly equal items)
    rel = reference.fit_report_["relative_scale"]
    assert reference.fit_report_["cooccurrence_distance"][rel] == pytest.approx(
        classic.fit_report_["cooccurrence_distance"][rel], rel=0.05)
    data = _data(frame)
    real = np.bincount(data.interactions["item"].to_numpy(), minlength=data.n_items)
    fits = [np.corrcoef(np.bincount(g.sample(4000, seed=1).interactions["item"].to_numpy(),
                                    minlength=data.n_items), real)[0, 1] for g in (classic, reference)]
    assert fits[1] == pytest.approx(fits[0], abs=0.03)
    # the order model from fixed-point sums equals the one from the events
    np.testing.assert_allclose(reference.order_model_.position, classic.order_model_.position, atol=1e-9)
    # Σq² is summed on a 2^-24 grid: the sd agrees within 1e-7
    assert reference.order_model_.noise == pytest.approx(classic.order_model_.noise, abs=1e-7)
    # per-user parts come from every user here (fewer users than the sample size)
    assert reference.fit_report_["streaming"]["sample_users"] == _data(frame).n_users
    assert reference.trait_names_ == classic.trait_names_


def test_user_sample_is_a_hash_choice_and_stays_partition_invariant(frame, tmp_path):
    data = _data(frame)
    small = fit_in_passes(_gen(), data, sample_users=60)
    n_s = small.fit_report_["streaming"]["sample_users"]
    assert 30 <= n_s <= 95  # about 60 of 240 users (a Bernoulli(1/4) choice by hash)
    _write_parts(frame, tmp_path / "parts", 3, seed=8)
    _same(small, fit_streaming(_gen(), tmp_path / "parts", columns=COLUMNS, item_ids=data.item_ids,
                               sample_users=60, chunk_rows=40))


def test_resume_reads_cached_passes(frame, tmp_path, monkeypatch):
    data = _data(frame)
    _write_parts(frame, tmp_path / "parts", 2, seed=4)
    cache = tmp_path / "cache"
    calls = {"n": 0}
    real = stream_fit._product_file

    def dies_in_pass_three(shared, chunks):
        calls["n"] += 1
        if calls["n"] > 4:  # 2 files per pass: passes 1 and 2 finish, pass 3 dies
            raise KeyboardInterrupt
        return real(shared, chunks)

    monkeypatch.setattr(stream_fit, "_product_file", dies_in_pass_three)
    with pytest.raises(KeyboardInterrupt):
        fit_streaming(_gen(), tmp_path / "parts", columns=COLUMNS, item_ids=data.item_ids, cache_dir=cache)
    assert len(list((cache / "passes").glob("*.npz"))) == 2
    calls["n"] = -100  # the rerun may run the three missing passes, not the two done ones
    monkeypatch.setattr(stream_fit, "_scan_file", _no_rescan(stream_fit._scan_file))
    gen = fit_streaming(_gen(), tmp_path / "parts", columns=COLUMNS, item_ids=data.item_ids, cache_dir=cache)
    assert calls["n"] == -100 + 6
    _same(fit_in_passes(_gen(), data), gen)


def _no_rescan(real):
    def scan(shared, task):
        _, _, key = task
        assert (Path(shared.cache_dir) / "scans" / key / "scan.npz").is_file(), "a scanned file was read again"
        return real(shared, task)
    return scan


def test_a_changed_file_is_scanned_again(frame, tmp_path):
    data = _data(frame)
    paths = _write_parts(frame, tmp_path / "parts", 2, seed=4)
    cache = tmp_path / "cache"
    fit_streaming(_gen(), tmp_path / "parts", columns=COLUMNS, item_ids=data.item_ids, cache_dir=cache)
    first = pl.read_parquet(paths[0])
    first.with_columns(pl.col("stars") * 0 + 1.0).write_parquet(paths[0])  # same size class, new content
    gen = fit_streaming(_gen(), tmp_path / "parts", columns=COLUMNS, item_ids=data.item_ids, cache_dir=cache)
    changed = pl.concat([pl.read_parquet(paths[0]), pl.read_parquet(paths[1])])
    _same(fit_in_passes(_gen(), _data(changed, data.item_ids)), gen)
    assert len(list((cache / "scans").iterdir())) == 3


def test_user_in_two_files_or_split_within_a_file_is_an_error(frame, tmp_path):
    folder = tmp_path / "two"
    folder.mkdir()
    frame.head(100).write_parquet(folder / "a.parquet")
    frame.slice(99, 100).write_parquet(folder / "b.parquet")  # row 99's user is in both files
    with pytest.raises(DataValidationError, match="two files"):
        fit_streaming(_gen(), folder, columns=COLUMNS)
    shuffled = tmp_path / "shuffled.parquet"
    frame.sample(fraction=1.0, shuffle=True, seed=1).write_parquet(shuffled)
    with pytest.raises(DataValidationError, match="not contiguous"):
        fit_streaming(_gen(), shuffled, columns=COLUMNS, chunk_rows=100)


def test_bad_input_names_file_column_and_row(frame, tmp_path):
    path = tmp_path / "log.parquet"
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 7).then(None).otherwise(pl.col("stars")).alias("stars")
                       ).write_parquet(path)
    with pytest.raises(DataValidationError) as err:
        fit_streaming(_gen(), path, columns=COLUMNS)
    assert "stars" in str(err.value) and "row 8" in str(err.value) and "log.parquet" in str(err.value)
    with pytest.raises(DataValidationError, match="missing"):
        fit_streaming(_gen(), path, columns=LogColumns(user="nope", item="iid"))
    with pytest.raises(DataValidationError, match="outside the catalogue"):
        fit_streaming(_gen(), path, columns=LogColumns(user="uid", item="iid"), item_ids=[0, 1, 2])


def test_unsupported_generators_are_refused(tmp_path, frame):
    from synthrec.generators.profiled import ProfiledGenerator

    path = tmp_path / "log.parquet"
    frame.write_parquet(path)
    with pytest.raises(ConfigError, match="latent-factor and item-walk only"):
        fit_streaming(ProfiledGenerator(), path, columns=COLUMNS)
    with pytest.raises(ConfigError, match="sample_users"):
        fit_streaming(_gen(), path, columns=COLUMNS, sample_users=0)


def test_order_model_from_sums_equals_the_event_fit():
    # users 0: items 2, 0, 1 (q = 0, ½, 1); user 1: items 1, 2 (q = 0, 1); user 2: item 0 (q = ½)
    users = np.array([0, 0, 0, 1, 1, 2])
    items = np.array([2, 0, 1, 1, 2, 0])
    q = np.array([0.0, 0.5, 1.0, 0.0, 1.0, 0.5])
    q_sum = np.zeros(3, np.int64)
    np.add.at(q_sum, items, np.rint(np.ldexp(q, ORDER_BITS)).astype(np.int64))
    q2 = int(np.rint(np.ldexp(q * q, ORDER_SQUARE_BITS)).sum())
    counts = np.bincount(items, minlength=3)
    got = order_model_from_sums(q_sum, q2, counts)
    want = OrderModel.fit(users, items, 3)
    # by hand: p = ((½ + ½) + ½, (1 + 0) + ½, (0 + 1) + ½) / (2 + 1) = (0.5, 0.5, 0.5)
    np.testing.assert_allclose(got.position, [0.5, 0.5, 0.5])
    np.testing.assert_allclose(got.position, want.position)
    assert got.noise == pytest.approx(want.noise, abs=1e-12)
    assert got.noise == pytest.approx(np.sqrt(np.mean((q - 0.5) ** 2)))


def test_fixed_point_bounds():
    assert sample_threshold(100, 100) == 1 << 64
    assert sample_threshold(100, 25) == 1 << 62
    assert fixed_point_bits(1, 1.0) == 52
    b = fixed_point_bits(10**8, 0.7)
    assert 10**8 * 0.7 * 2.0**b < 2.0**62 <= 10**8 * 0.7 * 2.0 ** (b + 1)


def _walk() -> ItemWalkGenerator:
    return ItemWalkGenerator(max_items=30, calibration_users=300, seed=2)


def test_item_walk_from_files_equals_its_pass_fit_and_is_close_to_the_in_memory_fit(frame, tmp_path):
    data = _data(frame)
    reference = fit_in_passes(_walk(), data)
    _write_parts(frame, tmp_path / "parts", 3, seed=6)
    streamed = fit_streaming(_walk(), tmp_path / "parts", columns=COLUMNS, item_ids=data.item_ids, chunk_rows=60)
    assert np.array_equal(reference.walk_.bias, streamed.walk_.bias)
    assert reference.sample(60, seed=4).interactions.equals(streamed.sample(60, seed=4).interactions)
    classic = _walk().fit(data)
    # the item–item model is a function of exact integer statistics: the same weights before calibration
    assert np.array_equal(classic.walk_.modelled, reference.walk_.modelled)
    assert classic.walk_.scale == reference.walk_.scale
    # the calibrations draw activities from other random streams (same law): popularity alike on average
    # over seeds (one seed's correlation moves by ±0.08 on this 60-item log)
    real = np.bincount(data.interactions["item"].to_numpy(), minlength=data.n_items)

    def popularity_fit(gen: ItemWalkGenerator) -> float:
        counts = np.bincount(gen.sample(3000, seed=1).interactions["item"].to_numpy(), minlength=data.n_items)
        return float(np.corrcoef(counts, real)[0, 1])

    seeds = range(3)
    in_memory = np.mean([popularity_fit(ItemWalkGenerator(max_items=30, calibration_users=3000, seed=s).fit(data))
                         for s in seeds])
    in_passes = np.mean([popularity_fit(fit_in_passes(ItemWalkGenerator(max_items=30, calibration_users=3000,
                                                                         seed=s), data)) for s in seeds])
    assert in_passes == pytest.approx(in_memory, abs=0.05)


def _dp_gen() -> LatentFactorGenerator:
    return LatentFactorGenerator(n_factors=6, calibration_users=300, gram_items=40, seed=3, epsilon=4.0,
                                 max_items_per_user=8)


def test_dp_fit_from_files_equals_its_pass_fit_and_spends_what_the_in_memory_fit_spends(frame, tmp_path):
    data = _data(frame)
    reference = fit_in_passes(_dp_gen(), data)
    _write_parts(frame, tmp_path / "parts", 3, seed=9)
    with ProcessPoolBackend(2) as pool:
        streamed = fit_streaming(_dp_gen(), tmp_path / "parts", columns=COLUMNS, item_ids=data.item_ids,
                                 chunk_rows=45, backend=pool)
    _same(reference, streamed)
    in_memory = _dp_gen().fit(data)
    assert reference.privacy.epsilon == pytest.approx(in_memory.privacy.epsilon) and reference.privacy.epsilon <= 4.0
    assert reference.privacy.delta == in_memory.privacy.delta
    spends = [(e["name"], e["noise_multiplier"], e["sensitivity"]) for e in in_memory.privacy.ledger["gaussian"]]
    assert sorted((e["name"], e["noise_multiplier"], e["sensitivity"])
                  for e in reference.privacy.ledger["gaussian"]) == sorted(spends)


def test_capped_sums_follow_the_hashed_cap(frame):
    from synthrec.privacy import bound_user_contributions_hashed
    from synthrec.scale.stream_fit import InMemoryPassSource

    data = _data(frame)
    source = InMemoryPassSource(data, cap=5, cap_seed=7)
    capped = source.summary.capped
    assert capped is not None
    first = data.interactions.unique(["user", "item"], keep="first", maintain_order=True)
    keys = data.user_ids.hash(seed=0).to_numpy()[first["user"].to_numpy()]
    keep = bound_user_contributions_hashed(keys, first["item"].to_numpy(), 5, seed=7)
    want = np.bincount(first["item"].to_numpy()[keep], minlength=data.n_items)
    np.testing.assert_array_equal(capped.counts, want)
    per_user = np.bincount(first["user"].to_numpy()[keep], minlength=data.n_users)
    have = np.bincount(first["user"].to_numpy(), minlength=data.n_users)
    np.testing.assert_array_equal(per_user, np.minimum(have, 5))
    # no cap binding: the capped counts are the counts
    loose = InMemoryPassSource(data, cap=10_000, cap_seed=7).summary
    np.testing.assert_array_equal(loose.capped.counts, loose.counts)


def test_normalised_pass_is_the_unit_norm_gram_on_a_fine_grid(frame):
    import scipy.sparse as sp

    from synthrec.scale.stream_fit import InMemoryPassSource

    data = _data(frame)
    source = InMemoryPassSource(data, cap=10_000, cap_seed=0)
    items = np.array([0, 3, 5, 7, 11])
    gram, taste = source.normalised(items)
    x = sp.csr_matrix(data.to_csr("binary")[:, items], dtype=np.float64)
    norm = np.sqrt(np.asarray(x.sum(axis=1)).ravel())
    z = sp.diags(1.0 / np.where(norm > 0, norm, 1.0)) @ x
    np.testing.assert_allclose(gram, (z.T @ z).toarray(), atol=1e-9)
    np.testing.assert_allclose(taste, np.asarray(z.sum(axis=0)).ravel(), atol=1e-9)


def test_dp_order_spread_from_sums_equals_the_per_user_formula():
    from synthrec.generators._pass_source import SPREAD_BITS, CappedSums

    # user 0: items 2, 0, 1 (q = 0, ½, 1; d = 3); user 1: items 1, 2 (q = 0, 1; d = 2)
    users, items = np.array([0, 0, 0, 1, 1]), np.array([2, 0, 1, 1, 2])
    q, d = np.array([0.0, 0.5, 1.0, 0.0, 1.0]), np.array([3, 3, 3, 2, 2])

    def fixed(v: np.ndarray) -> np.ndarray:
        return np.rint(np.ldexp(v, SPREAD_BITS)).astype(np.int64)

    spread_q, spread_one = np.zeros(3, np.int64), np.zeros(3, np.int64)
    np.add.at(spread_q, items, fixed(q / d))
    np.add.at(spread_one, items, fixed(1.0 / d))
    sums = CappedSums(5, 0, np.bincount(items), np.zeros(3, np.int64), int(fixed(q * q / d).sum()), spread_q, spread_one)
    pos = np.array([0.2, 0.6, 0.4])
    want = sum(np.mean((q[users == u] - pos[items[users == u]]) ** 2) for u in (0, 1))
    assert sums.spread(pos) == pytest.approx(want, abs=1e-8)


@pytest.mark.parametrize("dp_gram", ["pairs", "rows"])
def test_dp_item_walk_from_files_equals_its_pass_fit_and_spends_like_the_in_memory_fit(frame, tmp_path, dp_gram):
    data = _data(frame)

    def gen() -> ItemWalkGenerator:
        return ItemWalkGenerator(max_items=30, calibration_users=300, seed=2, epsilon=3.0, dp_gram=dp_gram)

    reference = fit_in_passes(gen(), data)
    _write_parts(frame, tmp_path / "parts", 3, seed=11)
    streamed = fit_streaming(gen(), tmp_path / "parts", columns=COLUMNS, item_ids=data.item_ids, chunk_rows=70)
    assert np.array_equal(reference.walk_.bias, streamed.walk_.bias)
    assert reference.sample(60, seed=4).interactions.equals(streamed.sample(60, seed=4).interactions)
    in_memory = gen().fit(data)
    # with every user in the sample and the same noise draws, the releases agree up to the grid: the
    # same modelled items, and biases within float noise of the fixed-point sums
    assert reference.privacy.epsilon == pytest.approx(in_memory.privacy.epsilon)
    assert np.array_equal(reference.walk_.modelled, in_memory.walk_.modelled)
    np.testing.assert_allclose(reference.walk_.bias, in_memory.walk_.bias, atol=1e-4)


def test_disjointness_check_by_hash_ranges_finds_a_shared_user_in_any_range(monkeypatch):
    """`_check_disjoint` compares one range of hash values at a time; a user shared by two files is found
    whichever range her hash falls in, and files that share nobody pass."""
    from synthrec.scale import stats, stream_fit

    monkeypatch.setattr(stats, "_DISJOINT_BUCKET", 7)  # ≈ 29 ranges for 200 hashes
    rng = np.random.default_rng(0)
    pool = np.unique(rng.integers(0, 2**63, size=200, dtype=np.uint64) * np.uint64(2))
    files = [pool[k::3] for k in range(3)]  # sorted, disjoint, spread over the whole uint64 range
    stream_fit._check_disjoint(files, ["a", "b", "c"])
    for shared in (files[2][0], files[2][10], files[2][-1]):
        with_dup = [files[0], np.sort(np.append(files[1], shared)), files[2]]
        with pytest.raises(DataValidationError, match=r"two files \(b and c\)"):
            stream_fit._check_disjoint(with_dup, ["a", "b", "c"])
