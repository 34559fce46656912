"""Tests of `CFGANGenerator` (unconditional WGAN-GP) and of the mode-collapse report."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from torch import nn

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators import GENERATORS
from synthrec.generators._torch import cpu_state, dense_rows
from synthrec.generators.gan import (
    CFGANGenerator,
    ModeCollapseWarning,
    _gradient_penalty,
    mean_pairwise_jaccard,
    mode_collapse_report,
)

SMALL = {"noise_dim": 8, "hidden": 32, "critic_hidden": 32, "batch_size": 16, "max_epochs": 60, "patience": 60,
         "lr": 2e-3, "collapse_users": 200}


def planted_log(n_users: int = 80, n_items: int = 40, per_user: int = 8, *, seed: int = 0) -> InteractionData:
    """Two taste groups: even users pick from items 0..n/2-1, odd users from the other half."""
    rng = np.random.default_rng(seed)
    half = n_items // 2
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(half, per_user, replace=False) + (u % 2) * half for u in range(n_users)])
    frame = pl.DataFrame({"user": [f"u{u}" for u in users], "item": [f"i{j}" for j in items],
                          "rating": rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], n_users * per_user)})
    return InteractionData.from_frame(frame, rating_col="rating", name="planted")


def log_of(sets: list[list[int]], n_items: int, name: str) -> InteractionData:
    """A log of users with the given item sets over items i0..i{n_items-1} (all in the vocabulary)."""
    return logs_of([sets], n_items, [name])[0]


def logs_of(groups: list[list[list[int]]], n_items: int, names: list[str]) -> list[InteractionData]:
    """Several logs over one shared item catalogue i0..i{n_items-1} (a pad user holds every item)."""
    users, items = [], []
    for sets, name in zip(groups, names, strict=True):
        users += [f"{name}{u}" for u, s in enumerate(sets) for _ in s]
        items += [j for s in sets for j in s]
    users += ["pad"] * n_items
    items += list(range(n_items))
    data = InteractionData.from_frame(pl.DataFrame({"user": users, "item": items}), name="all")
    item_order = np.argsort(data.item_ids.to_numpy())
    assert np.array_equal(data.item_ids.to_numpy()[item_order], np.arange(n_items))
    ext = data.user_ids.to_list()
    out = []
    for name in names:
        keep = np.array([i for i, u in enumerate(ext) if u.startswith(name) and u != "pad"])
        out.append(data.filter_users(keep, name=name))
    return out


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():  # type: ignore[no-untyped-def]
    """One intra-op thread: these models are small, and extra threads only contend on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def planted() -> InteractionData:
    return planted_log()


@pytest.fixture(scope="module")
def fitted(planted: InteractionData) -> CFGANGenerator:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModeCollapseWarning)  # a healthy fit must not warn
        return CFGANGenerator(**SMALL, seed=1).fit(planted)


# ------------------------------------------------------------------------------------ maths


def test_gradient_penalty_of_a_linear_critic_is_hand_computed() -> None:
    critic = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 0.0, 4.0]]))  # ∇D = w everywhere, ‖w‖ = 5
    real, fake = torch.ones((4, 3)), torch.zeros((4, 3))
    assert _gradient_penalty(critic, real, fake).item() == pytest.approx((5.0 - 1.0) ** 2)


def test_mean_pairwise_jaccard_hand_computed() -> None:
    data = log_of([[0, 1], [1, 2], [3]], 4, "u")
    # J({0,1},{1,2}) = 1/3; the other two pairs share nothing
    assert mean_pairwise_jaccard(data) == pytest.approx(1 / 9)
    assert math.isnan(mean_pairwise_jaccard(log_of([[0]], 4, "u")))


def test_validation_likelihood_matches_numpy(fitted: CFGANGenerator, planted: InteractionData) -> None:
    x = planted.to_csr()
    rows = np.array([0, 3, 5])
    noise = torch.randn((16, SMALL["noise_dim"]), generator=torch.Generator().manual_seed(0))
    got = fitted._valid_log_likelihood(fitted.generator_, x, rows, noise)
    with torch.no_grad():
        p = torch.sigmoid(fitted.generator_(noise)).double().numpy()
    pi = p / p.sum(axis=1, keepdims=True)
    xb = x[rows].toarray()
    ll = xb @ np.log(pi).T  # (3, 16): log Π π^x for each user and noise draw
    expected = np.mean(np.log(np.exp(ll).mean(axis=1)))
    assert got == pytest.approx(expected, rel=1e-4)


# ------------------------------------------------------------------------------------ collapse report


def test_collapse_report_flags_identical_preferences_and_copies() -> None:
    rng = np.random.default_rng(0)
    real_sets = [sorted(rng.choice(30, 5, replace=False).tolist()) for _ in range(40)]
    indep_sets = [sorted(rng.choice(30, 5, replace=False).tolist()) for _ in range(40)]
    # "s": a generator that reproduces its training users; "n": one independent of them
    real, copies, indep = logs_of([real_sets, real_sets, indep_sets], 30, ["r", "s", "n"])
    varied = rng.random((40, 30))
    rep = mode_collapse_report(varied, copies, real)
    assert rep.near_copy_share == 1.0 and rep.collapsed
    assert any("nearly copy" in r for r in rep.reasons)
    same = np.tile(rng.random(30), (40, 1))  # output ignores the noise
    rep = mode_collapse_report(same, indep, real)
    assert rep.distinct_top_sets == 1 and rep.collapsed and "ignores its noise" in rep.reasons[0]
    healthy = mode_collapse_report(varied, indep, real)
    assert not healthy.collapsed and healthy.reasons == ()
    assert healthy.near_copy_share == 0.0 and healthy.distinct_top_sets == 40
    assert healthy.jaccard_ratio == pytest.approx(healthy.mean_jaccard_generated / healthy.mean_jaccard_real)
    assert set(healthy.as_dict()) >= {"jaccard_ratio", "near_copy_share", "distinct_top_sets", "collapsed"}


def test_collapse_report_flags_generated_users_that_all_look_alike() -> None:
    rng = np.random.default_rng(1)
    real_sets = [sorted(rng.choice(100, 5, replace=False).tolist()) for _ in range(50)]
    real, clones = logs_of([real_sets, [[0, 1, 2, 3, 4 + (u % 3)] for u in range(50)]], 100, ["r", "s"])
    rep = mode_collapse_report(rng.random((50, 100)), clones, real)
    assert rep.jaccard_ratio > 2.0 and rep.collapsed


def test_collapse_report_rejects_wrong_shapes() -> None:
    real = log_of([[0, 1], [2]], 3, "r")
    with pytest.raises(DataValidationError, match="preferences"):
        mode_collapse_report(np.zeros((2, 5)), real, real)


# ------------------------------------------------------------------------------------ the generator


def test_registry_and_arguments() -> None:
    assert GENERATORS["gan"] is CFGANGenerator
    with pytest.raises(ConfigError, match="n_critic"):
        CFGANGenerator(n_critic=0)
    with pytest.raises(ConfigError, match="gradient_penalty=0"):
        CFGANGenerator(dp_hook=lambda m, o, d: (m, o, d))


def test_healthy_fit_is_not_flagged(fitted: CFGANGenerator, planted: InteractionData) -> None:
    rep = fitted.collapse_report_
    assert not rep.collapsed, rep.reasons
    assert rep.distinct_top_share > 0.5
    assert fitted.fit_report_["epochs"] >= 1
    syn = fitted.sample(50, seed=0)
    assert syn.n_users == 50 and set(syn.interactions.columns) == {"user", "item", "rating"}
    assert not syn.interactions.select("user", "item").is_duplicated().any()


def test_generator_that_ignores_its_noise_is_flagged(fitted: CFGANGenerator, planted: InteractionData) -> None:
    state = cpu_state(fitted.generator_)
    try:
        with torch.no_grad():
            fitted.generator_.net[0].weight.zero_()  # first layer ignores z: one output for every user
        rep = fitted.collapse_report(planted, n_users=100, seed=0)
    finally:
        fitted.generator_.load_state_dict(state)
    assert rep.collapsed and rep.distinct_top_sets == 1


class _NoiseIgnoringGAN(CFGANGenerator):
    """A deliberately collapsed GAN: after training, its generator's output no longer depends on z."""

    def _fit_network(self, x, train_rows, valid_rows):  # type: ignore[no-untyped-def]
        super()._fit_network(x, train_rows, valid_rows)
        with torch.no_grad():
            self.generator_.net[0].weight.zero_()


def test_fit_warns_when_collapsed(planted: InteractionData) -> None:
    with pytest.warns(ModeCollapseWarning, match="ignores its noise"):
        gen = _NoiseIgnoringGAN(**{**SMALL, "max_epochs": 2}).fit(planted)
    assert gen.collapse_report_.collapsed


def test_same_seed_same_weights_and_samples(planted: InteractionData) -> None:
    kw = {**SMALL, "max_epochs": 3}
    a = CFGANGenerator(**kw, seed=5).fit(planted)
    b = CFGANGenerator(**kw, seed=5).fit(planted)
    for (k, va), vb in zip(cpu_state(a.generator_).items(), cpu_state(b.generator_).values(), strict=True):
        assert torch.equal(va, vb), k
    assert a.sample(20, seed=3).interactions.equals(b.sample(20, seed=3).interactions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModeCollapseWarning)  # 3 epochs: not expected to be good
        c = CFGANGenerator(**kw, seed=6).fit(planted)
    assert not torch.equal(cpu_state(a.generator_)["net.0.weight"], cpu_state(c.generator_)["net.0.weight"])


def test_save_load_round_trip(fitted: CFGANGenerator, tmp_path: Path) -> None:
    path = tmp_path / "gan.pkl"
    fitted.save(path)
    loaded = CFGANGenerator.load(path)
    assert loaded.sample(30, seed=4).interactions.equals(fitted.sample(30, seed=4).interactions)
    np.testing.assert_array_equal(loaded.preferences(5, seed=1), fitted.preferences(5, seed=1))
    assert not loaded.critic_.training and loaded.collapse_report_ == fitted.collapse_report_


def test_dp_hook_wraps_the_critic_with_weight_clipping(planted: InteractionData) -> None:
    seen: list[object] = []

    def hook(module, optimizer, loader):  # type: ignore[no-untyped-def]
        seen.append(module)
        return module, optimizer, loader

    gen = CFGANGenerator(**{**SMALL, "max_epochs": 2}, gradient_penalty=0.0, clip_value=0.05, dp_hook=hook)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModeCollapseWarning)
        gen.fit(planted)
    assert len(seen) == 1 and seen[0] is gen.critic_
    assert max(float(p.detach().abs().max()) for p in gen.critic_.parameters()) <= 0.05 + 1e-7


def test_p14_many_user_ids_bounded_memory() -> None:
    """PITFALLS P14: 50,000 interactions, 20,000 user ids, 5,000 item ids — users are rows, never one-hot."""
    rng = np.random.default_rng(0)
    users = np.concatenate([np.arange(20_000), rng.integers(0, 20_000, 30_000)])
    frame = pl.DataFrame({"user": users, "item": rng.integers(0, 5_000, 50_000)})
    data = InteractionData.from_frame(frame, name="p14")
    gen = CFGANGenerator(noise_dim=8, hidden=16, critic_hidden=16, batch_size=512, max_epochs=1,
                         valid_samples=16, collapse_users=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModeCollapseWarning)  # one epoch: not expected to be good
        gen.fit(data)
    shapes = [tuple(p.shape) for m in (gen.generator_, gen.critic_) for p in m.parameters()]
    assert all(data.n_users not in s for s in shapes)
    assert (data.n_items, 16) in shapes and (16, data.n_items) in shapes
    with pytest.raises(ConfigError, match="lower batch_size"):
        CFGANGenerator(batch_size=20_000, memory_budget_mb=64).fit(data)


def test_dense_rows_of_planted_users_are_binary(planted: InteractionData) -> None:
    xb = dense_rows(planted.to_csr(), np.arange(4), torch.device("cpu"))
    assert xb.sum(dim=1).tolist() == [8.0] * 4 and set(xb.unique().tolist()) == {0.0, 1.0}
