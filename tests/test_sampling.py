"""Tests of `successive_sample`: the fast exact replacement of Gumbel-top-k (synthrec.generators._sampling)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from synthrec.generators._sampling import _split_heavy, gumbel_top_k, successive_sample


def _exact_ordered(p: np.ndarray, k: int) -> dict[tuple[int, ...], float]:
    """P(ordered sample = s) of k successive draws without replacement, for every s (enumeration)."""
    out = {}
    for perm in itertools.permutations(range(len(p)), k):
        prob, rest = 1.0, 1.0
        for i in perm:
            prob *= p[i] / rest
            rest -= p[i]
        out[perm] = prob
    return out


def _chi_square(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


@pytest.mark.parametrize("block", [None, 2, 3])
def test_ordered_samples_follow_plackett_luce_exactly(block: int | None) -> None:
    # every ordered triple of 6 items: 120 cells; chi-square with 119 df has mean 119, sd ≈ 15.4, and
    # its 99.9 % quantile is ≈ 173 — a wrong law (e.g. sampling with replacement, or ignoring order) fails
    p = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04])
    exact = _exact_ordered(p, 3)
    cells = list(exact)
    n = 60_000
    logits = np.tile(np.log(p), (n, 1)).astype(np.float32)
    top, mask = successive_sample(logits, np.full(n, 3), np.random.default_rng(11), block=block)
    assert mask.all()
    code = top[:, 0] * 36 + top[:, 1] * 6 + top[:, 2]
    counts = np.bincount(code, minlength=216)[[a * 36 + b * 6 + c for a, b, c in cells]]
    assert counts.sum() == n  # no repeated item, no item outside the catalogue
    assert _chi_square(counts, np.array([exact[c] for c in cells])) < 173


def test_heavy_light_and_fallback_paths_match_gumbel_top_k() -> None:
    # 3 dominant items (heavy clocks), 60 light ones, k large enough that some rows finish by the
    # Gumbel fallback: inclusion frequencies agree with `gumbel_top_k` within 5 standard errors
    rng = np.random.default_rng(3)
    m, n = 63, 20_000
    base = np.r_[8.0, 7.0, 6.0, rng.normal(0.0, 1.0, m - 3)]
    logits = np.tile(base, (n, 1)).astype(np.float32)
    k = np.tile([1, 5, 20, 40], n // 4)
    fast, fmask = successive_sample(logits, k, np.random.default_rng(4), block=8)
    ref, rmask = gumbel_top_k(logits, k, np.random.default_rng(5))
    for size in (1, 5, 20, 40):
        rows = k == size
        f = np.bincount(fast[rows][fmask[rows]], minlength=m) / rows.sum()
        r = np.bincount(ref[rows][rmask[rows]], minlength=m) / rows.sum()
        se = np.sqrt((f * (1 - f) + r * (1 - r)) / rows.sum()) + 1e-9
        assert np.all(np.abs(f - r) <= 5 * se + 1e-3), size
    # the first item of each sample follows softmax (k = 1 and the first of larger k alike)
    first = np.bincount(fast[:, 0], minlength=m) / n
    soft = np.exp(base - base.max()) / np.exp(base - base.max()).sum()
    np.testing.assert_allclose(first, soft, atol=5 * np.sqrt(soft * (1 - soft) / n).max())


def test_samples_are_distinct_with_the_requested_lengths_and_deterministic() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 3.0, size=(200, 37)).astype(np.float32)
    k = rng.integers(0, 38, 200)
    top, mask = successive_sample(logits, k, np.random.default_rng(1))
    assert top.shape == mask.shape == (200, k.max())
    np.testing.assert_array_equal(mask.sum(axis=1), k)
    for row, keep in zip(top, mask, strict=True):
        assert len(set(row[keep].tolist())) == keep.sum()
        assert np.all((row[keep] >= 0) & (row[keep] < 37))
    again, _ = successive_sample(logits, k, np.random.default_rng(1))
    np.testing.assert_array_equal(top[mask], again[mask])  # same seed, same sample
    full, _ = successive_sample(logits[:3], np.full(3, 37), np.random.default_rng(2))
    np.testing.assert_array_equal(np.sort(full, axis=1), np.tile(np.arange(37), (3, 1)))
    none = successive_sample(logits, np.zeros(200, np.int64), np.random.default_rng(2))
    assert none[0].shape == (200, 0)


def test_excluded_items_and_extreme_logits() -> None:
    # −inf logits are never drawn; rows of huge (overflowing) or tiny (underflowing) logits are redone
    # with their maximum subtracted and keep softmax's law
    n = 30_000
    base = np.log(np.array([0.5, 0.3, 0.2, 1e-3]))
    logits = np.vstack([np.tile(base + 300.0, (n, 1)), np.tile(base - 300.0, (n, 1))]).astype(np.float32)
    logits[:, 3] = -np.inf
    top, _ = successive_sample(logits, np.full(2 * n, 2), np.random.default_rng(7))
    assert not np.any(top == 3)
    for part in (top[:n], top[n:]):
        np.testing.assert_allclose(np.bincount(part[:, 0], minlength=4)[:3] / n, [0.5, 0.3, 0.2], atol=0.015)


def test_split_heavy_moves_items_above_half_the_mass_over_k() -> None:
    # one row, 2 blocks of 3 items; k = 2: threshold = total / 4
    weights = np.array([[8.0, 1.0, 1.0, 3.0, 1.0, 2.0]], np.float32)  # total 16, threshold 4
    mass = np.array([[10.0, 6.0]])
    rows, items, w = _split_heavy(weights, mass, np.array([2]), passes=1)
    np.testing.assert_array_equal(items, [0])
    np.testing.assert_array_equal(w, [8.0])
    np.testing.assert_array_equal(weights, [[0.0, 1.0, 1.0, 3.0, 1.0, 2.0]])
    np.testing.assert_array_equal(mass, [[2.0, 6.0]])
    # a second pass uses the remaining mass 8: threshold 2, so items 3 and 5 (weights 3, 2) move too
    rows, items, w = _split_heavy(weights, mass, np.array([2]), passes=1)
    np.testing.assert_array_equal(items, [3, 5])
    np.testing.assert_array_equal(rows, [0, 0])


def test_bad_arguments_raise() -> None:
    logits = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="k must have shape"):
        successive_sample(logits, np.array([1, 5]), np.random.default_rng(0))
    with pytest.raises(ValueError, match="k must have shape"):
        successive_sample(logits, np.array([1]), np.random.default_rng(0))
    with pytest.raises(ValueError, match="max_rounds"):
        successive_sample(logits, np.array([1, 1]), np.random.default_rng(0), max_rounds=0)


def test_known_prefix_then_gumbel_fallback_keeps_the_law() -> None:
    # one round of light points, then the rest by Gumbel-top-k after the known prefix: the inclusion
    # frequencies and the law of each position agree with `gumbel_top_k` within 5 standard errors
    m, n, k = 200, 12_000, 25
    base = np.random.default_rng(8).normal(0.0, 2.0, m)
    logits = np.tile(base, (n, 1)).astype(np.float32)
    fast, _ = successive_sample(logits, np.full(n, k), np.random.default_rng(9), block=8, max_rounds=1,
                                heavy_passes=0)  # all items light: duplicates leave most rows short
    ref, _ = gumbel_top_k(logits, np.full(n, k), np.random.default_rng(10))
    for cols in (slice(0, 1), slice(1, 2), slice(5, 6), slice(0, k)):
        f = np.bincount(fast[:, cols].ravel(), minlength=m) / n
        r = np.bincount(ref[:, cols].ravel(), minlength=m) / n
        se = np.sqrt((f * (1 - f) + r * (1 - r)) / n) + 1e-9
        assert np.all(np.abs(f - r) <= 5 * se + 1e-3), cols
