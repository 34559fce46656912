"""ColdItemAugmenter (attribute → factor map, focus items, pseudo-interactions) and short-history augmentation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import Ridge

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError, NotFittedError
from synthrec.generators.cold_items import (
    L2_GRID,
    PROVENANCE,
    ColdItemAugmenter,
    augment_short_histories,
    fit_attribute_map,
    item_attribute_matrix,
)

FAST = {"calibration_users": 300, "gram_items": 40}
COLD = [18, 19, 38, 39]  # two of each genre never interacted with


def _genre_log(seed: int = 0) -> InteractionData:
    """40 items: 0-19 'drama', 20-39 'action'; half the users take 90 % drama, half 90 % action (10 each).
    Items 18, 19, 38, 39 have no interaction (cold) but keep their genre."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(200):  # building a fixture, not library code
        own = np.arange(18) if u % 2 == 0 else np.arange(20, 38)
        other = np.arange(20, 38) if u % 2 == 0 else np.arange(18)
        n_own = rng.binomial(10, 0.9)
        items = np.concatenate([rng.choice(own, n_own, replace=False), rng.choice(other, 10 - n_own, replace=False)])
        rows += [(u, int(i), 1_000 + 60 * j) for j, i in enumerate(items)]
    frame = pl.DataFrame(rows, schema=["user", "item", "ts"], orient="row")
    items = pl.DataFrame({"item": list(range(40)),
                          "genres": [["Drama"] if i < 20 else ["Action", "Thriller"] for i in range(40)]})
    return InteractionData.from_frame(frame, time_col="ts", items=items,
                                      item_vocabulary=pl.Series("item", list(range(40))), name="genre-log")


@pytest.fixture(scope="module")
def fitted() -> tuple[ColdItemAugmenter, InteractionData]:
    data = _genre_log()
    return ColdItemAugmenter(4, seed=0, generator_params=FAST).fit(data, "genres"), data


def test_attribute_matrix_multi_hot() -> None:
    data = _genre_log()
    f = item_attribute_matrix(data.items, data.n_items, "genres")
    assert f.shape == (40, 3)  # Action, Drama, Thriller (sorted labels)
    np.testing.assert_array_equal(f[0], [0, 1, 0])
    np.testing.assert_array_equal(f[25], [1, 0, 1])
    with pytest.raises(DataValidationError, match="'year'"):
        item_attribute_matrix(data.items, data.n_items, "year")


def test_ridge_map_matches_sklearn_and_loo_identity() -> None:
    rng = np.random.default_rng(0)
    f = rng.standard_normal((60, 3))
    y = f @ rng.standard_normal((3, 2)) + 0.5 + 0.1 * rng.standard_normal((60, 2))
    f_mean, y_mean, w, _ = fit_attribute_map(f, y, 3.0)
    ref = Ridge(alpha=3.0).fit(f, y)
    np.testing.assert_allclose(w, ref.coef_.T, rtol=1e-8)
    np.testing.assert_allclose(y_mean - f_mean @ w, ref.intercept_, rtol=1e-8)
    # "auto" picks the λ of the smallest brute-force leave-one-out error
    _, _, _, chosen = fit_attribute_map(f, y, "auto")
    errs = []
    for cand in L2_GRID:
        e = 0.0
        for i in range(60):  # brute-force LOO, independent of the PRESS shortcut
            keep = np.arange(60) != i
            m = Ridge(alpha=cand).fit(f[keep], y[keep])
            e += float(((m.predict(f[i:i + 1]) - y[i]) ** 2).sum())
        errs.append(e)
    assert chosen == L2_GRID[int(np.argmin(errs))]
    with pytest.raises(ConfigError):
        fit_attribute_map(f, y, -1.0)


def test_cold_items_get_their_genre_parameters(fitted: tuple[ColdItemAugmenter, InteractionData]) -> None:
    aug, _ = fitted
    np.testing.assert_array_equal(aug.cold_items_, COLD)
    v = aug.model_.item_factors_
    warm_drama, warm_action = v[:18].mean(axis=0), v[20:38].mean(axis=0)
    # with one attribute pattern per genre, the ridge prediction is a shrunk genre mean
    for i in (18, 19):
        assert np.linalg.norm(v[i] - warm_drama) < np.linalg.norm(v[i] - warm_action)
    for i in (38, 39):
        assert np.linalg.norm(v[i] - warm_action) < np.linalg.norm(v[i] - warm_drama)
    # the generator itself is untouched (no information on cold items there)
    np.testing.assert_allclose(aug.generator_.item_factors_[COLD], 0.0, atol=1e-6)


def test_focus_share_and_taste_consistent_cold_items(fitted: tuple[ColdItemAugmenter, InteractionData]) -> None:
    aug, _ = fitted
    syn = aug.sample(400, seed=1, focus_items=COLD, focus_share=0.2)
    items = syn.interactions["item"].to_numpy()
    assert abs(np.isin(items, COLD).mean() - 0.2) < 0.04
    # a user whose warm items are mostly drama takes drama cold items more often than action ones
    x = syn.to_csr()
    drama_fan = np.asarray(x[:, :18].sum(axis=1)).ravel() > np.asarray(x[:, 20:38].sum(axis=1)).ravel()
    cold_drama = np.asarray(x[:, 18:20].sum(axis=1)).ravel()
    cold_action = np.asarray(x[:, 38:40].sum(axis=1)).ravel()
    assert cold_drama[drama_fan].sum() > 2 * cold_action[drama_fan].sum()
    assert cold_action[~drama_fan].sum() > 2 * cold_drama[~drama_fan].sum()
    plain = aug.sample(50, seed=1)
    assert plain.item_ids.equals(syn.item_ids)
    with pytest.raises(ConfigError, match="focus_share"):
        aug.sample(5, seed=0, focus_items=COLD, focus_share=1.5)


def test_augment_users_adds_pseudo_cold_items_to_real_users(fitted: tuple[ColdItemAugmenter, InteractionData]) -> None:
    aug, data = fitted
    out = aug.augment_users(data, seed=0, focus_share=0.2)
    real = out.interactions.filter(~pl.col(PROVENANCE))
    added = out.interactions.filter(pl.col(PROVENANCE))
    assert real.drop(PROVENANCE).equals(data.interactions)
    assert added["item"].is_in(COLD).all()
    # 10 items each, s = 0.2 → round(10 · 0.25) = 2 (rounded half to even: 2) pseudo items per user
    assert (added.group_by("user").len()["len"] == 2).all() and added["user"].n_unique() == 200
    assert out.interactions.select("user", "item").is_unique().all()


def test_short_histories_are_extended_before_the_real_ones() -> None:
    data = _genre_log()
    keep = data.interactions.with_row_index("_r").filter(
        (pl.col("user") >= 20) | (pl.col("_r") % 10 < 3)).drop("_r")  # users 0-19 keep 3 events
    short = data.with_interactions(keep)
    out = augment_short_histories(short, 6, seed=0, n_factors=4)
    inter = out.interactions
    assert inter.schema[PROVENANCE] == pl.Boolean
    assert inter.filter(~pl.col(PROVENANCE)).drop(PROVENANCE).equals(short.interactions)
    sizes = inter.group_by("user").agg(pl.len(), pl.col(PROVENANCE).sum().alias("syn")).sort("user")
    assert (sizes.filter(pl.col("user") < 20)["len"] == 6).all()
    assert (sizes.filter(pl.col("user") < 20)["syn"] == 3).all()
    assert (sizes.filter(pl.col("user") >= 20)["syn"] == 0).all()
    assert inter.select("user", "item").is_unique().all()
    # pseudo-prior rows come right before the user's first real row, and earlier in time
    first_user = inter.filter(pl.col("user") == 0)
    assert first_user[PROVENANCE].to_list() == [True, True, True, False, False, False]
    ts = first_user["timestamp"].to_numpy()
    assert (np.diff(ts) > 0).all()
    # same seed, same output
    assert augment_short_histories(short, 6, seed=0, n_factors=4).interactions.equals(inter)


def test_errors() -> None:
    data = _genre_log()
    with pytest.raises(NotFittedError):
        ColdItemAugmenter(4).sample(3, seed=0)
    with pytest.raises(DataValidationError, match="n_items=40"):
        ColdItemAugmenter(4, generator_params=FAST).fit(data, np.ones((39, 2)))
    with pytest.raises(ConfigError, match="min_length"):
        augment_short_histories(data, 0, seed=0)
    with pytest.raises(ConfigError, match="l2"):
        ColdItemAugmenter(4, l2="big")
