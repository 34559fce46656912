"""The fast (prototype) sampler of `LatentFactorGenerator` and the calibration's Rosén solver (issue 6)."""

from __future__ import annotations

import numpy as np
import pytest

from scale_fixtures import small_generator
from synthrec.data.interactions import concat_users
from synthrec.errors import ConfigError
from synthrec.generators import LatentFactorGenerator
from synthrec.generators._sampling import (
    GuideTables,
    first_distinct,
    gumbel_top_k,
    inclusion_probabilities,
    rank_within_rows,
    rosen_solve,
)
from synthrec.generators.latent_factor import _fast_items, _Prototypes
from synthrec.scale.shards import ShardPlan, sample_shard
from test_latent_factor import no_duplicate_pairs, planted_log

# ---------------------------------------------------------------------------------------- primitives


def test_guide_tables_are_the_exact_inverse_cdf() -> None:
    # row 0 has a long run of tiny items inside one guide slot (the bisection path), row 2 a −inf item
    logits = np.vstack([
        np.r_[5.0, np.full(300, -30.0), 4.0, np.zeros(98)],
        np.random.default_rng(0).normal(0.0, 2.0, 400),
        np.r_[np.zeros(399), -np.inf],
    ]).astype(np.float32)
    tables = GuideTables(logits)
    rows = np.tile([0, 1, 2], 20_000)
    got = tables.draw(rows, np.random.default_rng(5))
    u = np.random.default_rng(5).random(len(rows))  # the same uniforms the draw used
    w = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    want = np.array([np.searchsorted(cdf[r], x, side="left") for r, x in zip(rows, u, strict=True)])
    np.testing.assert_array_equal(got, np.minimum(want, 399))
    assert not np.any(got[rows == 2] == 399)


def test_first_distinct_hand_case_and_taken_pairs() -> None:
    owner = np.array([0, 0, 0, 1, 1, 0, 1])
    items = np.array([3, 1, 3, 3, 3, 2, 0])
    np.testing.assert_array_equal(first_distinct(owner, items, 5), [1, 1, 0, 1, 0, 1, 1])
    taken = np.array([0 * 5 + 1, 1 * 5 + 0])  # (0, 1) and (1, 0) were drawn before
    np.testing.assert_array_equal(first_distinct(owner, items, 5, taken), [1, 0, 0, 1, 0, 1, 0])


def test_rank_within_rows_matches_lexsort() -> None:
    rng = np.random.default_rng(1)
    row = rng.integers(0, 40, 3000)
    value = rng.normal(size=3000).astype(np.float32)
    rank, order = rank_within_rows(row, value, 40)
    ref = np.lexsort((value, row))
    np.testing.assert_array_equal(order, ref)
    want = np.empty(3000, np.int64)
    starts = np.searchsorted(row[ref], np.arange(40))
    want[ref] = np.arange(3000) - starts[row[ref]]
    np.testing.assert_array_equal(rank, want)


def test_rosen_solve_agrees_with_inclusion_probabilities() -> None:
    rng = np.random.default_rng(2)
    logits = (rng.normal(0.0, 3.0, (60, 300))).astype(np.float32)
    logits -= logits.max(axis=1, keepdims=True)
    k = rng.integers(1, 200, 60)
    k[0], k[1] = 0, 300  # nothing, everything
    neg_pi, _, log_t = rosen_solve(logits, k, rtol=1e-5)
    ref, _, _ = inclusion_probabilities(logits, k, rtol=1e-6)
    np.testing.assert_allclose(-neg_pi, ref, atol=2e-4)
    np.testing.assert_allclose(-neg_pi.sum(axis=1, dtype=np.float64), k, rtol=1e-4, atol=1e-4)
    assert np.all(neg_pi[0] == 0) and np.all(neg_pi[1] == -1.0)
    # warm start at the solution: already converged, same probabilities
    again, _, _ = rosen_solve(logits, k, log_t, rtol=1e-5)
    np.testing.assert_array_equal(again, neg_pi)


# ---------------------------------------------------------------------------------------- sampler


def test_fast_items_follow_successive_sampling_for_one_prototype() -> None:
    # one prototype with a few dominant items (heavy clocks) and a long tail (Poisson stream): inclusion
    # frequencies agree with `gumbel_top_k` within 5 standard errors, for short and long histories
    rng = np.random.default_rng(3)
    m, n = 120, 16_000
    base = np.r_[9.0, 8.0, 7.5, rng.normal(0.0, 1.5, m - 3)].astype(np.float32)
    protos = _Prototypes(base[None, :])
    length = np.tile([1, 6, 40, 100], n // 4)
    rows, items = _fast_items(protos, np.zeros(n, np.int64), length, np.random.default_rng(4))
    np.testing.assert_array_equal(np.bincount(rows, minlength=n), length)
    assert len(np.unique(rows * m + items)) == len(rows)
    ref, mask = gumbel_top_k(np.tile(base, (n, 1)), length, np.random.default_rng(5))
    for size in (1, 6, 40, 100):
        users = np.flatnonzero(length == size)
        f = np.bincount(items[np.isin(rows, users)], minlength=m) / len(users)
        r = np.bincount(ref[users][mask[users]], minlength=m) / len(users)
        se = np.sqrt((f * (1 - f) + r * (1 - r)) / len(users)) + 1e-9
        assert np.all(np.abs(f - r) <= 5 * se + 2e-3), size


def test_fast_sampler_output_contract() -> None:
    log = planted_log(n_users=200, n_items=60, per_user=12, seed=5)
    gen = LatentFactorGenerator(n_factors=4, calibration_users=400, sampler="fast", prototypes=16).fit(log)
    syn = gen.sample(600, seed=0)
    assert syn.interactions.columns == ["user", "item", "timestamp", "rating"]
    assert no_duplicate_pairs(syn)
    deg = syn.interactions.group_by("user").len()["len"].to_numpy()
    assert syn.n_users == 600 and np.all(deg == 12)  # every real user has 12 items
    users = syn.interactions["user"].to_numpy()
    assert np.all(np.diff(users) >= 0)
    ok = syn.interactions.group_by("user").agg((__import__("polars").col("timestamp").diff().drop_nulls() > 0)
                                               .all().alias("inc"))
    assert ok["inc"].all()
    assert syn.interactions.equals(gen.sample(600, seed=0).interactions)
    assert not syn.interactions.equals(gen.sample(600, seed=1).interactions)
    # the planted two-taste structure survives prototype sharing
    ext = syn.item_ids.to_numpy()[syn.interactions["item"].to_numpy()]
    first_half = np.array([int(e[1:]) < 30 for e in ext])
    share = np.bincount(users, weights=first_half) / np.bincount(users)
    assert (np.maximum(share, 1 - share) >= 0.75).mean() > 0.7
    assert 0.3 < (share > 0.5).mean() < 0.7


def test_fast_sampler_batches_and_shards_are_deterministic() -> None:
    gen = small_generator()
    gen.sampler, gen.prototypes = "fast", 4
    parts = list(gen.sample_batches(23, batch_users=5, seed=4))
    for i, shard in enumerate(ShardPlan(23, 5, 4)):
        assert sample_shard(gen, shard).interactions.equals(parts[i].interactions)
    again = concat_users(list(gen.sample_batches(23, batch_users=5, seed=4)))
    assert again.interactions.equals(concat_users(parts).interactions)
    assert gen.sample(0, seed=0).n_interactions == 0


def test_sampler_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="sampler"):
        LatentFactorGenerator(sampler="approximate")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="prototypes"):
        LatentFactorGenerator(prototypes=0)
    gen = small_generator()
    gen.sampler = "quick"  # type: ignore[assignment]
    with pytest.raises(ConfigError, match="sampler"):
        gen.sample(3, seed=0)
