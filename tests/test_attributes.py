"""GaussianCopulaSynthesizer: marginals (P15 missing-as-category), correlation, conditional sampling."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy.stats import truncnorm

from synthrec.errors import ConfigError, DataValidationError, NotFittedError
from synthrec.generators.attributes import GaussianCopulaSynthesizer, interval_mean, truncated_normal


def _channel_table() -> pl.DataFrame:
    # PITFALLS P15: a 10-row categorical attribute with 4 blank cells among web/app/tv
    return pl.DataFrame({"channel": ["web", None, "app", "tv", None, "web", None, "app", None, "web"]})


def test_p15_missing_is_its_own_category_and_its_rate_is_kept() -> None:
    synth = GaussianCopulaSynthesizer().fit(_channel_table())
    marginal = synth.marginals_[0]
    assert len(marginal.categories) == 4
    assert set(marginal.categories) == {None, "web", "app", "tv"}
    np.testing.assert_allclose(dict(zip(marginal.categories, marginal.shares, strict=True))[None], 0.4)
    out = synth.sample(20_000, seed=3)
    assert out.schema["channel"] == pl.String
    assert abs(out["channel"].is_null().mean() - 0.4) < 0.015  # 4.5 binomial sd
    shares = out["channel"].drop_nulls().value_counts(normalize=False)
    got = {r["channel"]: r["count"] / 20_000 for r in shares.iter_rows(named=True)}
    assert got.keys() == {"web", "app", "tv"}
    for cat, share in (("web", 0.3), ("app", 0.2), ("tv", 0.1)):
        assert abs(got[cat] - share) < 0.015


def test_numeric_missing_rate_kept_and_values_real_without_jitter() -> None:
    ages = pl.DataFrame({"age": [20, 25, None, 31, 25, 40, None, 52, 25, 33]})
    out = GaussianCopulaSynthesizer().fit(ages).sample(10_000, seed=0)
    assert out.schema["age"] == pl.Int64
    assert abs(out["age"].is_null().mean() - 0.2) < 0.015
    assert set(out["age"].drop_nulls().unique().to_list()) <= {20, 25, 31, 33, 40, 52}
    # 25 holds 3 of the 8 observed values
    assert abs((out["age"] == 25).sum() / out["age"].drop_nulls().len() - 3 / 8) < 0.02


def test_gaussian_case_reproduces_marginals_and_hand_known_correlation() -> None:
    rng = np.random.default_rng(0)
    r = np.array([[1.0, 0.7, -0.4], [0.7, 1.0, 0.0], [-0.4, 0.0, 1.0]])
    z = rng.standard_normal((20_000, 3)) @ np.linalg.cholesky(r).T
    table = pl.DataFrame({"a": z[:, 0], "b": 3.0 + 2.0 * z[:, 1], "c": np.exp(z[:, 2])})
    synth = GaussianCopulaSynthesizer(jitter=True).fit(table)
    np.testing.assert_allclose(synth.correlation_, r, atol=0.03)
    out = synth.sample(20_000, seed=1)
    assert abs(out["b"].mean() - 3.0) < 0.06 and abs(out["b"].std() - 2.0) < 0.06
    # lognormal margin kept: median 1
    assert abs(out["c"].median() - 1.0) < 0.05
    got = np.corrcoef(out.select("a", "b").to_numpy(), rowvar=False)[0, 1]
    assert abs(got - 0.7) < 0.03
    # jitter: new values inside the real range (boundary adherence 1)
    assert out["a"].min() >= table["a"].min() and out["a"].max() <= table["a"].max()
    assert not set(out["a"].to_list()[:100]) <= set(table["a"].to_list())


def test_binary_attribute_correlation_is_not_attenuated() -> None:
    # latent correlation 0.6 between a 29/71 % binary and a continuous column (polyserial case)
    rng = np.random.default_rng(1)
    z = rng.standard_normal((20_000, 2)) @ np.linalg.cholesky(np.array([[1.0, 0.6], [0.6, 1.0]])).T
    table = pl.DataFrame({"g": np.where(z[:, 0] > 0.553, "F", "M"), "y": z[:, 1]})
    synth = GaussianCopulaSynthesizer().fit(table)
    assert abs(synth.correlation_[0, 1] - 0.6) < 0.03  # the plain Pearson of scores would give ~0.34-0.45
    out = synth.sample(20_000, seed=2, where={"g": "F"})
    real = table.filter(pl.col("g") == "F")["y"].mean()
    assert abs(out["y"].mean() - real) < 0.05


def test_conditional_sampling_respects_fixed_column_and_shifts_others() -> None:
    rng = np.random.default_rng(2)
    z = rng.standard_normal((5_000, 2)) @ np.linalg.cholesky(np.array([[1.0, 0.8], [0.8, 1.0]])).T
    table = pl.DataFrame({"x": z[:, 0], "y": z[:, 1], "channel": np.where(z[:, 1] > 0, "app", "web")})
    synth = GaussianCopulaSynthesizer().fit(table)
    out = synth.sample(4_000, seed=5, where={"x": 1.0})
    assert (out["x"] == 1.0).all()
    # E[y | x = 1] = 0.8 under the latent normal (x, y are standard normal here)
    assert abs(out["y"].mean() - 0.8) < 0.06
    assert abs(out["y"].std() - 0.6) < 0.05
    two = synth.sample(3_000, seed=6, where={"x": 0.0, "channel": "app"})
    assert (two["channel"] == "app").all() and (two["x"] == 0.0).all()
    assert two["y"].mean() > 0.2  # app means y > 0 in the data
    per_row = synth.sample(4, seed=7, where={"channel": ["web", "app", "web", "app"]})
    assert per_row["channel"].to_list() == ["web", "app", "web", "app"]


def test_missing_can_be_conditioned_on() -> None:
    synth = GaussianCopulaSynthesizer().fit(_channel_table())
    out = synth.sample(50, seed=0, where={"channel": None})
    assert out["channel"].is_null().all()


def test_same_seed_same_rows_and_dtypes_restored() -> None:
    table = pl.DataFrame({
        "flag": [True, False, True, True, None],
        "day": [dt.date(2020, 1, d) for d in (1, 2, 3, 5, 8)],
        "code": [3, 3, 7, 7, 9],
    })
    synth = GaussianCopulaSynthesizer(categorical=["code"]).fit(table)
    a, b = synth.sample(200, seed=4), synth.sample(200, seed=4)
    assert a.equals(b)
    assert a.schema == table.schema
    assert set(a["code"].unique().to_list()) <= {3, 7, 9}
    assert a["day"].min() >= dt.date(2020, 1, 1) and a["day"].max() <= dt.date(2020, 1, 8)


def test_errors_name_the_problem() -> None:
    with pytest.raises(NotFittedError):
        GaussianCopulaSynthesizer().sample(3, seed=0)
    with pytest.raises(DataValidationError, match="zip"):
        GaussianCopulaSynthesizer(max_categories=5).fit(pl.DataFrame({"zip": [str(i) for i in range(10)]}))
    with pytest.raises(DataValidationError, match="tags"):
        GaussianCopulaSynthesizer().fit(pl.DataFrame({"tags": [["a"], ["b"]]}))
    with pytest.raises(DataValidationError, match="empty"):
        GaussianCopulaSynthesizer().fit(pl.DataFrame({"a": []}))
    synth = GaussianCopulaSynthesizer().fit(pl.DataFrame({"c": ["x", "y"], "v": [1.0, 2.0]}))
    with pytest.raises(ConfigError, match="'zz'"):
        synth.sample(2, seed=0, where={"c": "zz"})
    with pytest.raises(ConfigError, match="outside the fitted range"):
        synth.sample(2, seed=0, where={"v": 5.0})
    with pytest.raises(ConfigError, match="unknown column"):
        synth.sample(2, seed=0, where={"nope": 1})
    with pytest.raises(ConfigError, match="3 values"):
        synth.sample(2, seed=0, where={"c": ["x", "y", "x"]})
    with pytest.raises(ConfigError):
        GaussianCopulaSynthesizer(max_categories=0)


def test_interval_mean_matches_closed_forms() -> None:
    got = interval_mean(np.array([-np.inf, 0.0, 1.0, -np.inf]), np.array([0.0, np.inf, 1.0, np.inf]))
    np.testing.assert_allclose(got, [-np.sqrt(2 / np.pi), np.sqrt(2 / np.pi), 1.0, 0.0], atol=1e-12)
    # cross-check with scipy's truncated normal mean, including a far tail
    for a, b in ((0.3, 1.7), (-2.0, -1.5), (6.0, 7.0)):
        np.testing.assert_allclose(interval_mean(np.array([a]), np.array([b]))[0], truncnorm.mean(a, b), rtol=1e-6)


def test_truncated_normal_against_scipy() -> None:
    rng = np.random.default_rng(0)
    x = truncated_normal(np.zeros(40_000), np.ones(40_000), np.full(40_000, 1.0), np.full(40_000, 2.5), rng)
    assert x.min() >= 1.0 and x.max() <= 2.5
    assert abs(x.mean() - truncnorm.mean(1.0, 2.5)) < 0.01
    assert abs(x.std() - truncnorm.std(1.0, 2.5)) < 0.01
    far = truncated_normal(np.zeros(5), np.ones(5), np.full(5, 8.0), np.full(5, np.inf), rng)
    assert np.isfinite(far).all() and (far >= 8.0).all()
