"""Sufficient statistics of a Parquet log, file by file, equal to the in-memory computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from scale_fixtures import small_generator
from synthrec.data.interactions import InteractionData, concat_users
from synthrec.errors import DataValidationError
from synthrec.generators.latent_factor import LatentFactorGenerator
from synthrec.scale.backends import DaskBackend
from synthrec.scale.stats import SufficientStats, interaction_stats, parquet_files, sufficient_stats
from synthrec.scale.writer import write_sharded


def _hand_files(folder: Path) -> list[Path]:
    # file A: user a has i1, i2, i2 (a repeat), user b has i2; file B: user c has i1, i3
    a = folder / "a.parquet"
    b = folder / "b.parquet"
    pl.DataFrame({"user": ["a", "a", "a", "b"], "item": ["i1", "i2", "i2", "i2"]}).write_parquet(a)
    pl.DataFrame({"user": ["c", "c"], "item": ["i1", "i3"]}).write_parquet(b)
    return [a, b]


def test_hand_computed_statistics(tmp_path: Path) -> None:
    files = _hand_files(tmp_path)
    s = sufficient_stats(files, batch_rows=1)  # one row per record batch: users span batches
    assert s.item_ids.to_list() == ["i1", "i2", "i3"]
    assert s.item_counts.tolist() == [2, 2, 1]
    assert isinstance(s.gram, np.ndarray) and s.gram.dtype == np.int64
    assert s.gram.tolist() == [[2, 1, 1], [1, 2, 0], [1, 0, 1]]
    assert s.activity_hist.tolist() == [0, 1, 2]  # b has 1 item; a and c have 2
    assert (s.n_users, s.n_pairs, s.n_rows) == (3, 5, 6)
    sparse = sufficient_stats(files, dense_max_items=2)
    assert sp.issparse(sparse.gram) and sparse.gram.toarray().tolist() == s.gram.tolist()
    ordered = sufficient_stats(files, item_ids=["i3", "i2", "i1", "i0"])
    assert ordered.item_counts.tolist() == [1, 2, 2, 0]
    assert ordered.gram[0].tolist() == [1, 0, 1, 0]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[LatentFactorGenerator, Path, InteractionData]:
    gen = small_generator()
    out = tmp_path_factory.mktemp("gen")
    write_sharded(gen, out, n_users=53, shard_users=9, seed=5)
    in_memory = concat_users(list(gen.sample_batches(53, batch_users=9, seed=5)))
    return gen, out, in_memory


def _assert_equal(got: SufficientStats, want: SufficientStats) -> None:
    assert got.item_ids.to_list() == want.item_ids.to_list()
    assert np.array_equal(got.item_counts, want.item_counts)
    g = got.gram.toarray() if sp.issparse(got.gram) else got.gram
    w = want.gram.toarray() if sp.issparse(want.gram) else want.gram
    assert np.array_equal(g, w)
    assert np.array_equal(got.activity_hist, want.activity_hist)
    assert (got.n_users, got.n_pairs, got.n_rows) == (want.n_users, want.n_pairs, want.n_rows)


@pytest.mark.parametrize("dense_max_items", [2048, 5])
def test_stats_of_generated_shards_equal_the_in_memory_ones(
    generated: tuple[LatentFactorGenerator, Path, InteractionData], dense_max_items: int
) -> None:
    gen, out, in_memory = generated
    want = interaction_stats(in_memory, dense_max_items=dense_max_items)
    assert want.n_users == 53 and want.n_rows == in_memory.n_interactions
    got = sufficient_stats(out, item_ids=gen.item_ids_, batch_rows=17, dense_max_items=dense_max_items)
    _assert_equal(got, want)
    # an independent check of the reference: Gram = XᵀX from a dense 0/1 matrix
    x = (in_memory.to_csr("binary").toarray() > 0).astype(np.int64)
    assert np.array_equal(x.T @ x, got.gram.toarray() if sp.issparse(got.gram) else got.gram)


def test_stats_on_dask_equal_in_process(generated: tuple[LatentFactorGenerator, Path, InteractionData]) -> None:
    gen, out, in_memory = generated
    with DaskBackend(2, processes=False) as backend:
        got = sufficient_stats(out, item_ids=gen.item_ids_, backend=backend)
    _assert_equal(got, interaction_stats(in_memory))


def test_discovered_vocabulary_is_sorted_and_consistent(
    generated: tuple[LatentFactorGenerator, Path, InteractionData]
) -> None:
    gen, out, _ = generated
    got = sufficient_stats(out)
    given = sufficient_stats(out, item_ids=gen.item_ids_)
    order = [given.item_ids.to_list().index(i) for i in got.item_ids.to_list()]
    assert got.item_ids.to_list() == sorted(got.item_ids.to_list())
    assert np.array_equal(got.item_counts, given.item_counts[order])
    assert np.array_equal(got.gram, given.gram[np.ix_(order, order)])


def test_manifest_decides_the_files(generated: tuple[LatentFactorGenerator, Path, InteractionData]) -> None:
    _, out, _ = generated
    assert [Path(f).name for f in parquet_files(out)] == [f"part-{i:06d}.parquet" for i in range(6)]


def test_user_in_two_files_is_an_error(tmp_path: Path) -> None:
    files = _hand_files(tmp_path)
    pl.DataFrame({"user": ["a"], "item": ["i3"]}).write_parquet(tmp_path / "c.parquet")
    with pytest.raises(DataValidationError, match="a user has rows in two files"):
        sufficient_stats([*files, tmp_path / "c.parquet"])


def test_bad_inputs_name_file_column_and_row(tmp_path: Path) -> None:
    files = _hand_files(tmp_path)
    with pytest.raises(DataValidationError, match=r"b\.parquet, column 'item', row 2: .*'i3' not in the item"):
        sufficient_stats(files, item_ids=["i1", "i2"])
    with pytest.raises(DataValidationError, match=r"column 'who'.*missing"):
        sufficient_stats(files, user_col="who")
    with pytest.raises(DataValidationError, match="no such file"):
        sufficient_stats(tmp_path / "nowhere")
