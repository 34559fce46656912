"""Tests of the user-level DP fit of `LatentFactorGenerator` (epsilon set)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators import LatentFactorGenerator
from synthrec.generators._latent_factor_dp import SHARES, normalised_gram, plan_shares
from synthrec.privacy import PrivacyGuarantee, PrivacyLedger


def clustered_log(n_users: int = 300, n_items: int = 30, per_user: int = 10, *, seed: int = 0) -> InteractionData:
    """Two taste groups (items 0..14 vs 15..29), timestamps and 1-5 ratings; users have distinct start times."""
    rng = np.random.default_rng(seed)
    half = n_items // 2
    block = (np.arange(n_users) % 2)[:, None] * half
    picks = np.argsort(rng.random((n_users, half)), axis=1)[:, :per_user] + block
    start = 1_100_000_000 + rng.integers(0, 5_000_000, n_users)
    times = start[:, None] + np.cumsum(rng.integers(60, 86_400, (n_users, per_user)), axis=1)
    frame = pl.DataFrame({
        "user": np.repeat([f"u{u}" for u in range(n_users)], per_user),
        "item": [f"i{j}" for j in picks.ravel()],
        "ts": times.ravel(),
        "rating": rng.integers(1, 6, n_users * per_user).astype(float),
    })
    return InteractionData.from_frame(frame, rating_col="rating", time_col="ts", name="clustered")


@pytest.fixture(scope="module")
def log() -> InteractionData:
    return clustered_log()


@pytest.fixture(scope="module")
def dp_gen(log: InteractionData) -> LatentFactorGenerator:
    return LatentFactorGenerator(4, epsilon=2.0, delta=1e-5, max_items_per_user=10, seed=3,
                                 calibration_iters=3).fit(log)


def test_privacy_report_matches_an_independent_opacus_accountant(dp_gen: LatentFactorGenerator) -> None:
    from opacus.accountants import RDPAccountant

    from synthrec.privacy.ledger import RDP_ORDERS

    info = dp_gen.privacy
    assert info.delta == 1e-5
    ledger = info.ledger
    assert isinstance(ledger, dict)
    acc = RDPAccountant()
    acc.history = [(e["noise_multiplier"], e["sample_rate"], e["steps"]) for e in ledger["gaussian"]]
    expected = acc.get_epsilon(delta=1e-5, alphas=list(RDP_ORDERS))
    assert info.epsilon == pytest.approx(expected, rel=1e-12)
    assert 1.99 < float(info["epsilon"]) <= 2.0  # type: ignore[arg-type]
    assert {e["name"] for e in ledger["gaussian"]} == set(SHARES)  # time and ratings present: all mechanisms


def test_sensitivities_follow_the_cap(dp_gen: LatentFactorGenerator) -> None:
    entries = {e.name: e for e in dp_gen.privacy_ledger_.gaussian}  # type: ignore[union-attr]
    assert entries["item_counts"].sensitivity == pytest.approx(math.sqrt(10))
    assert entries["item_gram"].sensitivity == 1.0  # row-normalised Gram: independent of the cap
    assert entries["taste_sums"].sensitivity == 1.0
    assert entries["order_positions"].sensitivity == pytest.approx(math.sqrt(10))
    for name in ("activity_hist", "start_hist", "tempo_hist", "span_hist", "gap_hist", "rating_table"):
        assert entries[name].sensitivity == 1.0
    # σ_j ∝ 1/√share_j
    shares = plan_shares(has_time=True, has_rating=True)
    ratio = entries["item_counts"].noise_multiplier / entries["item_gram"].noise_multiplier
    assert ratio == pytest.approx(math.sqrt(shares["item_gram"] / shares["item_counts"]), rel=1e-9)


def test_dp_samples_are_valid(dp_gen: LatentFactorGenerator, log: InteractionData) -> None:
    syn = dp_gen.sample(120, seed=5)
    df = syn.interactions
    assert syn.n_items == log.n_items and syn.n_users == 120
    assert df.select(["user", "item"]).is_duplicated().sum() == 0
    assert df["item"].min() >= 0 and df["item"].max() < log.n_items
    assert set(np.unique(df["rating"].to_numpy())) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    ts = df.sort("user", maintain_order=True)
    gaps = np.diff(ts["timestamp"].to_numpy())[np.diff(ts["user"].to_numpy()) == 0]
    assert (gaps >= 1).all()


def test_dp_fit_is_deterministic(log: InteractionData, dp_gen: LatentFactorGenerator) -> None:
    again = LatentFactorGenerator(4, epsilon=2.0, delta=1e-5, max_items_per_user=10, seed=3,
                                  calibration_iters=3).fit(log)
    assert np.array_equal(again.item_factors_, dp_gen.item_factors_)
    assert again.sample(50, seed=1).interactions.equals(dp_gen.sample(50, seed=1).interactions)


def test_large_epsilon_is_accurate_and_tiny_epsilon_is_visibly_noisy(log: InteractionData) -> None:
    from synthrec.generators._timestamps import OrderModel

    sharp = LatentFactorGenerator(4, epsilon=1e5, delta=1e-5, max_items_per_user=10, seed=0,
                                  calibration_iters=1).fit(log)
    blurred = LatentFactorGenerator(4, epsilon=0.01, delta=1e-5, max_items_per_user=10, seed=0,
                                    calibration_iters=1).fit(log)
    # every user has exactly 10 items: the activity histogram puts all mass in the public bin [10, 11)
    knots = sharp.trait_quantiles_["log_activity"].knots
    assert knots.min() >= 10.0 and knots.max() <= 11.0
    noisy_knots = blurred.trait_quantiles_["log_activity"].knots
    assert not (noisy_knots.min() >= 10.0 and noisy_knots.max() <= 11.0)  # the noise moved the mass
    # item positions within histories against the exact (non-private) estimate
    frame = log.interactions.sort("user", "timestamp")
    exact = OrderModel.fit(frame["user"].to_numpy(), frame["item"].to_numpy(), log.n_items).position
    assert np.abs(sharp.order_model_.position - exact).max() < 0.02
    assert np.abs(blurred.order_model_.position - exact).max() > 0.2
    noise = {e.name: e.noise_std for e in blurred.privacy_ledger_.gaussian}  # type: ignore[union-attr]
    assert noise["item_counts"] > 100  # tiny ε: count noise exceeds the counts themselves (100 per item)
    assert blurred.n_factors_ <= sharp.n_factors_


def test_no_per_user_data_reaches_the_fitted_model(log: InteractionData, dp_gen: LatentFactorGenerator) -> None:
    from synthrec.generators._model_file import model_bytes

    # per-user trait arrays (start times, activities) would be float/int arrays of length n_users
    n_users = log.n_users
    frame = log.interactions.sort("user", "timestamp")
    starts = frame.group_by("user", maintain_order=True).agg(pl.col("timestamp").min())["timestamp"].to_numpy()
    for blob in (pickle.dumps(dp_gen), model_bytes(dp_gen)):  # the saved model file stores arrays uncompressed
        assert starts.astype(np.float64).tobytes() not in blob
        assert starts.astype(np.int64).tobytes() not in blob
    for value in dp_gen.__dict__.values():
        if isinstance(value, np.ndarray):
            assert n_users not in value.shape
    # the user model holds moments only, no raw points
    assert dp_gen.user_model_.n_components == 1
    # no raw start time appears among the start-time quantile knots
    knots = dp_gen.trait_quantiles_["start_time"].knots
    assert not np.isin(starts.astype(np.float64), knots).any()


def test_epsilon_inf_and_none_are_the_exact_fit(log: InteractionData) -> None:
    exact = LatentFactorGenerator(4, seed=1, calibration_iters=2).fit(log)
    inf = LatentFactorGenerator(4, seed=1, calibration_iters=2, epsilon=math.inf).fit(log)
    assert np.array_equal(exact.item_factors_, inf.item_factors_)
    assert exact.privacy == PrivacyGuarantee(math.inf, 0.0, None) == PrivacyGuarantee.none()
    assert inf.privacy_ledger_ is None


def test_default_delta_is_below_one_over_n(log: InteractionData) -> None:
    gen = LatentFactorGenerator(4, epsilon=1.0, seed=0, calibration_iters=1).fit(log)
    assert gen.privacy.delta == pytest.approx(min(1e-5, 300 ** -1.1))


def test_ledger_of_the_fit_round_trips(dp_gen: LatentFactorGenerator) -> None:
    record = dp_gen.privacy.ledger
    assert isinstance(record, dict)
    assert PrivacyLedger.from_dict(record).spent(1e-5) == pytest.approx(dp_gen.privacy.epsilon)


@pytest.mark.parametrize("kwargs", [{"epsilon": 0.0}, {"epsilon": -1.0}, {"epsilon": True}, {"delta": 0.0},
                                    {"delta": 1.5}, {"max_items_per_user": 0}])
def test_bad_privacy_arguments(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        LatentFactorGenerator(4, **kwargs)


def test_continuous_ratings_need_a_public_scale() -> None:
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"user": np.repeat(np.arange(40), 5), "item": np.tile(np.arange(5), 40),
                          "rating": rng.random(200)})
    data = InteractionData.from_frame(frame, rating_col="rating", name="cont")
    with pytest.raises(ConfigError, match="rating_levels"):
        LatentFactorGenerator(2, epsilon=1.0, seed=0).fit(data)
    gen = LatentFactorGenerator(2, epsilon=1.0, seed=0, calibration_iters=1,
                                rating_levels=[0.0, 0.25, 0.5, 0.75, 1.0]).fit(data)
    assert set(np.unique(gen.sample(10, seed=0).interactions["rating"].to_numpy())) <= {0.0, 0.25, 0.5, 0.75, 1.0}


def test_log_without_time_or_ratings(log: InteractionData) -> None:
    bare = log.with_interactions(log.interactions.select(["user", "item"]))
    gen = LatentFactorGenerator(4, epsilon=1.0, delta=1e-5, seed=0, calibration_iters=1).fit(bare)
    names = {e["name"] for e in gen.privacy.ledger["gaussian"]}  # type: ignore[index]
    assert names == {"item_counts", "item_gram", "taste_sums", "activity_hist", "order_positions", "order_spread"}
    assert gen.privacy.epsilon <= 1.0
    assert gen.sample(10, seed=0).interactions.columns == ["user", "item"]


# ---------------------------------------------------------------- the row-normalised Gram (Analyze Gauss)


def _released_vector(row: np.ndarray) -> np.ndarray:
    """What one user adds to the released vector of `normalised_gram`: diag and √2 × upper off-diagonal."""
    z = row / np.linalg.norm(row)
    outer = np.outer(z, z)
    r, c = np.triu_indices(len(row))
    return outer[r, c] * np.where(r == c, 1.0, np.sqrt(2.0))


@pytest.mark.parametrize("row", [
    np.eye(1, 50).ravel(),                       # a single item
    np.ones(50),                                 # every item
    np.r_[np.ones(2), np.zeros(48)],             # two items
    np.r_[np.full(49, 1e-3), 1e3],               # wildly uneven non-negative weights
])
def test_one_user_moves_the_released_vector_by_at_most_one(row: np.ndarray) -> None:
    # add/remove adjacency: the released vector changes by exactly this user's contribution, ‖·‖₂ = ‖z‖² = 1
    assert np.linalg.norm(_released_vector(row)) == pytest.approx(1.0, rel=1e-12)


def test_neighbouring_logs_differ_by_at_most_sensitivity_one() -> None:
    rng = np.random.default_rng(0)
    base = (rng.random((40, 12)) < 0.3).astype(float)
    base[0] = 0.0  # an empty user adds nothing
    r, c = np.triu_indices(12)
    scale = np.where(r == c, 1.0, np.sqrt(2.0))
    for extreme in (np.ones(12), np.eye(1, 12, 5).ravel(), np.r_[1.0, 1.0, np.zeros(10)]):
        both = np.vstack([base, extreme])
        # noise-free release of each log (the noise is independent of the data): σ tiny
        g_without = normalised_gram(sp.csr_matrix(base), noise_multiplier=1e-12, rng=np.random.default_rng(1),
                                    ledger=PrivacyLedger())
        g_with = normalised_gram(sp.csr_matrix(both), noise_multiplier=1e-12, rng=np.random.default_rng(1),
                                 ledger=PrivacyLedger())
        diff = (g_with - g_without)[r, c] * scale
        assert np.linalg.norm(diff) <= 1.0 + 1e-9
        assert np.linalg.norm(diff) == pytest.approx(1.0, abs=1e-9)


def test_normalised_gram_exact_values_and_ledger() -> None:
    # user 0 has items {0, 1} (weights 1/2 each), user 1 has {1, 2, 3} (1/3 each), user 2 has nothing
    x = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0]], dtype=float))
    ledger = PrivacyLedger()
    g = normalised_gram(x, noise_multiplier=1e-9, rng=np.random.default_rng(0), ledger=ledger)
    expected = np.array([[1 / 2, 1 / 2, 0, 0],
                         [1 / 2, 1 / 2 + 1 / 3, 1 / 3, 1 / 3],
                         [0, 1 / 3, 1 / 3, 1 / 3],
                         [0, 1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(g, expected, atol=1e-6)
    assert np.array_equal(g, g.T)
    (entry,) = ledger.gaussian
    assert (entry.name, entry.sensitivity, entry.noise_multiplier) == ("item_gram", 1.0, 1e-9)


def test_normalised_gram_noise_is_sigma_on_the_diagonal_and_sigma_over_root2_off_it() -> None:
    m = 120
    g = normalised_gram(sp.csr_matrix((3, m)), noise_multiplier=2.0, rng=np.random.default_rng(4),
                        ledger=PrivacyLedger())
    off = g[np.triu_indices(m, 1)]
    assert np.std(np.diag(g)) == pytest.approx(2.0, rel=0.15)
    assert np.std(off) == pytest.approx(2.0 / math.sqrt(2.0), rel=0.02)


def test_normalised_gram_rejects_negative_entries() -> None:
    with pytest.raises(DataValidationError, match="non-negative"):
        normalised_gram(sp.csr_matrix(np.array([[1.0, -1.0]])), noise_multiplier=1.0,
                        rng=np.random.default_rng(0), ledger=PrivacyLedger())


def test_dp_factors_recover_the_two_taste_groups_at_large_epsilon(log: InteractionData) -> None:
    # clustered_log: even users take items 0..14, odd users 15..29, so the Gram is two equal blocks and its
    # top two eigenvectors span the block indicators: items of one block share a factor direction, and the
    # two blocks' directions are orthogonal
    gen = LatentFactorGenerator(4, epsilon=50.0, delta=1e-5, max_items_per_user=10, seed=0,
                                calibration_iters=1).fit(log)
    assert gen.n_factors_ >= 2
    v = gen.item_factors_.astype(np.float64)[:, :2]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    cos = v @ v.T
    items = np.array([int(str(i)[1:]) for i in log.item_ids.to_list()])
    same = (items[:, None] >= 15) == (items[None, :] >= 15)
    assert cos[same].min() > 0.9
    assert np.abs(cos[~same]).max() < 0.3


def test_contiguous_tail_drops_bins_after_the_first_gap_past_the_mode() -> None:
    from synthrec.generators._latent_factor_dp import contiguous_tail

    noisy = np.array([2.0, 50.0, 30.0, 8.0, 1.0, 6.0, -3.0, 9.0])
    # threshold 4: the mode is bin 1; bin 4 (1.0) is the first gap, so bins 4.. go to 0; bin 0 (before the
    # mode, under the threshold) is left to the quantile step as before
    np.testing.assert_array_equal(contiguous_tail(noisy, 4.0), [2.0, 50.0, 30.0, 8.0, 0.0, 0.0, 0.0, 0.0])
    assert contiguous_tail(noisy, 0.5)[5] == 6.0 and contiguous_tail(noisy, 0.5)[7] == 0.0  # gap at bin 6 now
    flat = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(contiguous_tail(flat, 10.0), flat)  # nothing above: unchanged
    np.testing.assert_array_equal(contiguous_tail(flat, 0.5), flat)  # no gap: unchanged
    assert contiguous_tail(noisy, 4.0) is not noisy and noisy[5] == 6.0  # the input is not modified
