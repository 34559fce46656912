"""ProfiledGenerator: attributes drawn jointly with histories; segment-targeted generation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators._gmm import GaussianMixture, conditional_mixture_sample
from synthrec.generators.profiled import ProfiledGenerator, explained_directions

FAST = {"calibration_users": 300, "gram_items": 40}


def _segmented_log(n_users: int = 240, seed: int = 0) -> InteractionData:
    """Women mostly take items 0-19, men items 20-39 (90 %); 8 distinct items each; ages 18-70."""
    rng = np.random.default_rng(seed)
    gender = np.where(rng.random(n_users) < 0.4, "F", "M")
    rows = []
    for u in range(n_users):  # building a fixture, not library code
        own = np.arange(20) if gender[u] == "F" else np.arange(20, 40)
        other = np.setdiff1d(np.arange(40), own)
        n_own = rng.binomial(8, 0.9)
        items = np.concatenate([rng.choice(own, n_own, replace=False), rng.choice(other, 8 - n_own, replace=False)])
        rows += [(f"u{u}", f"i{i}", 1_000_000 + 3600 * j) for j, i in enumerate(items)]
    frame = pl.DataFrame(rows, schema=["user", "item", "ts"], orient="row")
    users = pl.DataFrame({"user": [f"u{u}" for u in range(n_users)], "gender": gender,
                          "age": rng.integers(18, 71, n_users)})
    return InteractionData.from_frame(frame, time_col="ts", users=users, name="segmented")


def _own_share(data: InteractionData, gender: str) -> float:
    items = data.interactions["item"].to_numpy()
    ext = np.array(data.item_ids.to_list())[items]
    own = {f"i{i}" for i in (range(20) if gender == "F" else range(20, 40))}
    return float(np.isin(ext, list(own)).mean())


@pytest.fixture(scope="module")
def fitted() -> tuple[ProfiledGenerator, InteractionData]:
    data = _segmented_log()
    return ProfiledGenerator(6, n_taste=2, seed=0, generator_params=FAST).fit(data), data


def test_where_targets_a_segment_and_its_tastes(fitted: tuple[ProfiledGenerator, InteractionData]) -> None:
    gen, _ = fitted
    women = gen.sample(300, seed=1, where={"gender": "F"})
    men = gen.sample(300, seed=1, where={"gender": "M"})
    assert (women.users["gender"] == "F").all() and (men.users["gender"] == "M").all()
    # real own-segment share is 0.9; a generator that ignored gender would give ~0.4 / ~0.6
    assert _own_share(women, "F") > 0.75
    assert _own_share(men, "M") > 0.75


def test_unconditional_sample_fills_users_and_keeps_the_association(
        fitted: tuple[ProfiledGenerator, InteractionData]) -> None:
    gen, data = fitted
    syn = gen.sample(600, seed=2)
    assert syn.users is not None
    assert syn.users.columns == ["user", "gender", "age"]
    assert syn.users["user"].to_list() == list(range(600))
    assert syn.users.schema["age"] == pl.Int64
    real_f = (data.users["gender"] == "F").mean()  # type: ignore[index]
    assert abs((syn.users["gender"] == "F").mean() - real_f) < 0.06
    assert syn.users["age"].min() >= 18 and syn.users["age"].max() <= 70
    f_users = syn.users.filter(pl.col("gender") == "F")["user"]
    assert _own_share(syn.filter_users(f_users.to_numpy()), "F") > 0.7
    # histories as LatentFactorGenerator makes them: no repeated pair, strictly increasing times per user
    inter = syn.interactions
    assert inter.select("user", "item").is_unique().all()
    assert (inter.select(pl.col("timestamp").diff().over("user")).drop_nulls() > 0).to_series().all()


def test_same_seed_same_output_and_batches(fitted: tuple[ProfiledGenerator, InteractionData]) -> None:
    gen, _ = fitted
    a, b = gen.sample(50, seed=7, where={"gender": "F"}), gen.sample(50, seed=7, where={"gender": "F"})
    assert a.interactions.equals(b.interactions) and a.users.equals(b.users)  # type: ignore[union-attr]
    batches = list(gen.sample_batches(50, batch_users=20, seed=7, where={"gender": ["F"] * 25 + ["M"] * 25}))
    assert [p.n_users for p in batches] == [20, 20, 10]
    assert batches[1].users["gender"].to_list() == ["F"] * 5 + ["M"] * 15  # type: ignore[index]
    assert batches[2].user_ids[0] == "syn-40"


def test_save_load_round_trip(tmp_path, fitted: tuple[ProfiledGenerator, InteractionData]) -> None:
    gen, _ = fitted
    gen.save(tmp_path / "g.pkl")
    again = ProfiledGenerator.load(tmp_path / "g.pkl")
    assert again.sample(30, seed=3).interactions.equals(gen.sample(30, seed=3).interactions)


def test_errors() -> None:
    data = _segmented_log(60)
    bare = InteractionData(data.interactions, data.user_ids, data.item_ids, None, None, name="bare")
    with pytest.raises(DataValidationError, match="users attribute table"):
        ProfiledGenerator(4, generator_params=FAST).fit(bare)
    with pytest.raises(ConfigError, match="not columns"):
        ProfiledGenerator(4, attributes=["height"], generator_params=FAST).fit(data)
    with pytest.raises(ConfigError, match="epsilon"):
        ProfiledGenerator(4, generator_params={"epsilon": 1.0})
    gen = ProfiledGenerator(4, n_taste=2, generator_params=FAST).fit(data)
    with pytest.raises(ConfigError, match="not modelled"):
        gen.sample(5, seed=0, where={"zip": "1"})
    with pytest.raises(ConfigError, match="'X'"):
        gen.sample(5, seed=0, where={"gender": "X"})


def test_conditional_mixture_sample_matches_gaussian_conditioning() -> None:
    # one component, Σ = [[1, .5, 0], [.5, 2, .3], [0, .3, 1]]: z_{1:} | z_0 = 1
    cov = np.array([[1.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
    mix = GaussianMixture(weights=np.array([1.0]), means=np.array([[0.0, 1.0, -1.0]]),
                          chols=np.linalg.cholesky(cov)[None], log_likelihood=0.0)
    h = np.array([[1.0], [0.0], [0.0]])
    z = conditional_mixture_sample(mix, h, np.ones((40_000, 1)), np.random.default_rng(0))
    np.testing.assert_allclose(z[:, 0], 1.0, atol=1e-9)
    np.testing.assert_allclose(z[:, 1:].mean(axis=0), [1.5, -1.0], atol=0.02)  # μ + Σ_10 Σ_00⁻¹ (1 − 0)
    np.testing.assert_allclose(np.cov(z[:, 1:], rowvar=False), [[1.75, 0.3], [0.3, 1.0]], atol=0.04)
    # two components: the posterior weight picks the component the fixed value belongs to
    mix2 = GaussianMixture(weights=np.array([0.5, 0.5]), means=np.array([[-5.0, -5.0], [5.0, 5.0]]),
                           chols=np.stack([np.eye(2), np.eye(2)]), log_likelihood=0.0)
    z2 = conditional_mixture_sample(mix2, np.array([[1.0], [0.0]]), np.full((500, 1), 4.0), np.random.default_rng(1))
    assert abs(z2[:, 1].mean() - 5.0) < 0.2


def test_explained_directions_finds_the_attribute_axis() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 500).astype(float)[:, None]
    u = rng.standard_normal((500, 4)) * 0.1
    u[:, 2] += 3.0 * a[:, 0]  # only axis 2 depends on the attribute
    d = explained_directions(u, a, 2)
    np.testing.assert_allclose(d.T @ d, np.eye(2), atol=1e-10)
    assert abs(d[2, 0]) > 0.99
