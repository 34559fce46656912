"""The project-venv helpers of the peer benchmark (benchmarks/peers): naive sampler, catalogue mapping, cost."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "peers"))
from compare import end_to_end, fidelity_row, on_real_catalogue
from synthrec_side import NaivePopularitySampler

from synthrec.data.interactions import InteractionData


@pytest.fixture
def real() -> InteractionData:
    # users 1, 2, 3 with 3, 1, 2 events; items 10 (3 events), 20 (2), 30 (1)
    frame = pl.DataFrame({
        "user": [1, 1, 1, 2, 3, 3],
        "item": [10, 20, 30, 10, 10, 20],
        "rating": [5.0, 4.0, 3.0, 5.0, 1.0, 2.0],
        "timestamp": [100, 200, 300, 400, 500, 600],
    })
    return InteractionData.from_frame(frame, rating_col="rating", time_col="timestamp", name="tiny")


def test_naive_sampler_draws_real_activities_and_popularity(real: InteractionData) -> None:
    sampler = NaivePopularitySampler.fit(real)
    np.testing.assert_array_equal(np.sort(sampler.activity), [1, 2, 3])
    np.testing.assert_allclose(sampler.item_cdf, [3 / 6, 5 / 6, 1.0])  # dense items 10, 20, 30
    frames = list(sampler.sample_batches(20_000, batch_users=7_000, seed=3))
    assert [f.height > 0 for f in frames] == [True, True, True]
    out = pl.concat(frames)
    per_user = out.group_by("user").len()["len"].to_numpy()
    assert set(per_user.tolist()) <= {1, 2, 3}
    assert per_user.size == 20_000 and out["user"].max() == 19_999  # users numbered across batches
    shares = np.bincount(out["item"].to_numpy(), minlength=3) / out.height
    np.testing.assert_allclose(shares, [0.5, 1 / 3, 1 / 6], atol=0.01)
    assert set(out["rating"].unique().to_list()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    again = pl.concat(list(sampler.sample_batches(20_000, batch_users=7_000, seed=3)))
    assert again.equals(out)


def test_on_real_catalogue_rounds_float_ids_and_drops_unknown_items(real: InteractionData) -> None:
    sample = pl.DataFrame({
        "user": [7, 7, 8, None, 9],
        "item": [10.2, 19.6, 31.0, 10.0, 30.0],  # → 10, 20, 31 (unknown), 10 (null user), 30
        "rating": [5, 4, 3, 2, 1],
        "timestamp": [1.0, 2.0, 3.0, 4.0, 5.0],
    })
    data, invalid = on_real_catalogue(sample, real, "peer")
    assert invalid == 2
    assert data.item_ids.equals(real.item_ids.cast(pl.Int64))
    assert data.item_ids.gather(data.interactions["item"].to_numpy()).to_list() == [10, 20, 30]
    assert data.user_ids.to_list() == ["7", "9"]


def test_fidelity_row_counts_duplicate_pairs(real: InteractionData) -> None:
    # 4 valid rows, one repeating (a, 10): duplicate share 1 - 3/4
    sample = pl.DataFrame({"user": ["a", "a", "b", "b"], "item": [10, 10, 20, 30],
                           "rating": [5.0, 5.0, 4.0, 3.0], "timestamp": [1, 2, 3, 4]})
    row = fidelity_row(real, sample, "peer")
    assert row["invalid_rows"] == 0
    assert row["duplicate_share"] == pytest.approx(0.25)


def test_end_to_end_scales_sampling_linearly_to_ten_million_rows() -> None:
    t = {"fit_cpu_s": 2.0, "fit_wall_s": 3.0, "sample_rows": 1_000_000, "sample_cpu_s": 1.5,
         "sample_wall_s": 4.0, "fit_projected": True}
    cost = end_to_end(t)
    assert cost["cpu_s"] == pytest.approx(2.0 + 15.0)
    assert cost["wall_s"] == pytest.approx(3.0 + 40.0)
    assert cost["sample_extrapolated"] and cost["fit_projected"]
