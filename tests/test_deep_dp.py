"""User-level DP fits of the deep generators (`MultVAEGenerator`, `CFGANGenerator`) and DP-SGD's plan.

Every fit here is tiny (80 users × 40 items, a few epochs): the point is the accounting, not the quality.
"""

from __future__ import annotations

import copy
import json
import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from opacus.accountants import RDPAccountant

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError
from synthrec.evaluation.cards import dp_summary
from synthrec.generators._preference import NETWORK_SHARE, private_fit_shares
from synthrec.generators._torch import cpu_state
from synthrec.generators.gan import CFGANGenerator, ModeCollapseWarning
from synthrec.generators.vae import MultVAEGenerator
from synthrec.privacy import PrivacyGuarantee, PrivacyLedger
from synthrec.privacy.dp_sgd import make_private_training, poisson_schedule
from synthrec.privacy.ledger import RDP_ORDERS
from test_vae import planted_log  # 80 users in two taste groups, 40 items, timestamps, half-star ratings

VAE_DP = {"hidden": 16, "latent": 4, "batch_size": 24, "dp_epochs": 2, "max_epochs": 1, "patience": 1,
          "epsilon": 3.0}


class CountingVAE(MultVAEGenerator):
    """Counts calls of the validation criterion (early stopping must not read held-out users under DP)."""

    valid_calls = 0

    def _valid_neg_elbo(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        type(self).valid_calls += 1
        return super()._valid_neg_elbo(*args, **kwargs)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def planted() -> InteractionData:
    return planted_log()


@pytest.fixture(scope="module")
def vae_dp(planted: InteractionData) -> MultVAEGenerator:
    return CountingVAE(**VAE_DP, seed=3).fit(planted)


def _entry(gen: MultVAEGenerator | CFGANGenerator, name: str) -> dict[str, float]:
    ledger = gen.privacy.ledger
    assert isinstance(ledger, dict)
    return next(e for e in ledger["gaussian"] if e["name"] == name)


# ----------------------------------------------------------------------------- DP-SGD's sampling plan


@pytest.mark.parametrize(("n", "batch", "epochs", "expected"), [
    (1000, 50, 2, (0.05, 20, 40)),  # P18: q = B/N
    (20, 32, 3, (1.0, 1, 3)),       # P18: batch larger than the data — q = 1, no amplification
    (80, 24, 2, (0.3, 4, 8)),       # B does not divide N: q is still B/N, ⌈N/B⌉ steps per epoch
])
def test_poisson_schedule_p18(n: int, batch: int, epochs: int, expected: tuple[float, int, int]) -> None:
    assert poisson_schedule(n, batch, epochs) == expected


def test_make_private_training_takes_one_of_epsilon_and_noise_multiplier() -> None:
    def wrap(**kw: object) -> object:
        m = torch.nn.Linear(3, 3)
        return make_private_training(m, torch.optim.SGD(m.parameters(), lr=0.1), np.ones((30, 3)), delta=1e-5,
                                     epochs=1, batch_size=7, max_grad_norm=1.0, seed=0, **kw)  # type: ignore[arg-type]

    with pytest.raises(ConfigError, match="exactly one"):
        wrap()
    with pytest.raises(ConfigError, match="exactly one"):
        wrap(epsilon=1.0, noise_multiplier=1.0)
    with pytest.raises(ConfigError, match="noise_multiplier"):
        wrap(noise_multiplier=0.0)
    ledger = PrivacyLedger()
    run = wrap(noise_multiplier=1.3, ledger=ledger)
    assert run.noise_multiplier == 1.3 and run.sample_rate == 7 / 30 and run.steps_per_epoch == 5  # type: ignore[attr-defined]
    assert (ledger.gaussian[0].sample_rate, ledger.gaussian[0].steps) == (7 / 30, 5)
    assert run.expected_batch_size == 7 and run.epsilon_spent() == 0.0  # type: ignore[attr-defined]


def test_empty_poisson_batches_still_add_noise_and_are_accounted() -> None:
    m = torch.nn.Linear(4, 4)
    run = make_private_training(m, torch.optim.SGD(m.parameters(), lr=1.0), np.ones((20, 4), np.float32),
                                noise_multiplier=1.0, delta=1e-5, epochs=1, batch_size=1, max_grad_norm=1.0,
                                seed=0)
    empty_moves = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook", category=UserWarning)
        for (xb,) in run.loader:
            before = m.weight.detach().clone()
            run.optimizer.zero_grad()
            ((run.module(xb) ** 2).sum() / max(len(xb), 1)).backward()
            run.optimizer.step()
            if len(xb) == 0:
                empty_moves.append(not torch.equal(before, m.weight.detach()))
    assert empty_moves and all(empty_moves)  # seed 0 draws empty batches; each still releases noise
    assert run.steps_taken() == run.steps == 20


# ----------------------------------------------------------------------------------------- the VAE


def test_vae_dp_spend_within_target_and_equal_to_an_independent_accountant(vae_dp: MultVAEGenerator) -> None:
    privacy = vae_dp.privacy
    eps, delta = privacy.epsilon, privacy.delta
    assert isinstance(eps, float) and isinstance(delta, float) and isinstance(privacy.ledger, dict)
    assert 0.99 * 3.0 <= eps <= 3.0  # the calibration uses the budget, and never more
    assert delta == min(1e-5, 80 ** -1.1)
    # opacus's own accountant over the ledger's (σ, q, steps) entries, independently of PrivacyLedger
    accountant = RDPAccountant()
    accountant.history = [(e["noise_multiplier"], e["sample_rate"], e["steps"])
                          for e in privacy.ledger["gaussian"]]
    assert accountant.get_epsilon(delta, alphas=list(RDP_ORDERS)) == pytest.approx(eps, rel=1e-9)
    # every statistic of the history model went through the same ledger
    names = {e["name"] for e in privacy.ledger["gaussian"]}
    assert names == set(private_fit_shares(has_time=True, has_rating=True))
    assert privacy.ledger["pure"] == []


def test_vae_dp_sampling_rate_is_batch_over_all_users_and_steps_are_as_planned(vae_dp: MultVAEGenerator) -> None:
    sgd = _entry(vae_dp, "dp_sgd")
    # all 80 users train (no hold-out under DP): q = 24 / 80, ⌈80/24⌉ = 4 steps per epoch, 2 epochs
    assert (sgd["sample_rate"], sgd["steps"], sgd["sensitivity"]) == (0.3, 8, 1.0)
    assert vae_dp.fit_report_["privacy"]["dp_sgd_steps_taken"] == 8
    alone = vae_dp.fit_report_["privacy"]["epsilon_alone"]
    assert set(alone) == {e["name"] for e in vae_dp.privacy.ledger["gaussian"]}  # type: ignore[index]
    assert max(alone.values()) <= vae_dp.privacy.epsilon < sum(alone.values())  # RDP beats adding up


def test_vae_dp_has_no_early_stopping(vae_dp: MultVAEGenerator) -> None:
    report = vae_dp.fit_report_
    assert CountingVAE.valid_calls == 0
    assert report["early_stopping"] is False and report["valid_neg_elbo"] == []
    assert report["epochs"] == 2 and len(report["train_loss"]) == 2  # dp_epochs, not max_epochs = 1


def test_vae_dp_privacy_is_json_and_reaches_the_report(vae_dp: MultVAEGenerator, tmp_path: Path) -> None:
    text = json.dumps(vae_dp.privacy.to_dict(), allow_nan=False)
    back = json.loads(text)
    rebuilt = PrivacyLedger.from_dict(back["ledger"])
    assert rebuilt.spent(back["delta"]) == pytest.approx(back["epsilon"], rel=1e-12)
    assert dp_summary(vae_dp) == {"epsilon": back["epsilon"], "delta": back["delta"], "dp": 1.0}
    path = tmp_path / "vae.synthrec"
    plain = copy.copy(vae_dp)
    plain.__class__ = MultVAEGenerator  # the test's CountingVAE is no synthrec class: a model file refuses it
    plain.save(path)
    assert MultVAEGenerator.load(path).privacy == vae_dp.privacy


def test_vae_dp_model_holds_only_releases(vae_dp: MultVAEGenerator) -> None:
    # traits independent (their DP histograms are marginal): a standard normal copula, not a fitted one
    d = len(vae_dp.trait_names_)
    assert vae_dp.trait_names_ == ["log_activity", "mean_rating", "start_time", "tempo", "log_span"]
    np.testing.assert_array_equal(vae_dp.trait_model_.chols[0], np.eye(d))
    np.testing.assert_array_equal(vae_dp.trait_model_.means, np.zeros((1, d)))
    # the released network is a plain module: no opacus hooks, per-example gradients or gradients
    for layer in vae_dp.vae_.modules():
        assert not layer._forward_hooks and not layer._backward_hooks
    assert all(p.grad is None and not hasattr(p, "grad_sample") for p in vae_dp.vae_.parameters())
    state = pickle.loads(pickle.dumps(vae_dp)).__dict__
    assert "_dp_plan" not in state and "_dp_run" not in state


def test_vae_dp_samples_valid_histories(vae_dp: MultVAEGenerator, planted: InteractionData) -> None:
    syn = vae_dp.sample(60, seed=1)
    df = syn.interactions
    assert syn.n_users == 60 and syn.n_items == planted.n_items
    assert df["user"].n_unique() == 60
    assert not df.select(["user", "item"]).is_duplicated().any()
    items = df["item"].to_numpy()
    assert items.min() >= 0 and items.max() < planted.n_items
    users, ts = df["user"].to_numpy(), df["timestamp"].to_numpy()
    same = users[1:] == users[:-1]
    assert np.all(np.diff(ts)[same] > 0)  # strictly increasing within each user
    levels = set(np.unique(planted.interactions["rating"].to_numpy()).tolist())
    assert set(np.unique(df["rating"].to_numpy()).tolist()) <= levels


def test_vae_dp_same_seed_same_model_and_samples(vae_dp: MultVAEGenerator, planted: InteractionData) -> None:
    again = MultVAEGenerator(**VAE_DP, seed=3).fit(planted)
    for (k, a), b in zip(cpu_state(vae_dp.vae_).items(), cpu_state(again.vae_).values(), strict=True):
        assert torch.equal(a, b), k
    assert again.sample(30, seed=2).interactions.equals(vae_dp.sample(30, seed=2).interactions)
    assert again.privacy == vae_dp.privacy
    other = MultVAEGenerator(**VAE_DP, seed=4).fit(planted)
    assert not torch.equal(cpu_state(other.vae_)["decoder.2.weight"], cpu_state(vae_dp.vae_)["decoder.2.weight"])


def test_vae_dp_batch_larger_than_data_p18(planted: InteractionData) -> None:
    gen = MultVAEGenerator(hidden=8, latent=2, batch_size=128, dp_epochs=3, epsilon=2.0, seed=0).fit(planted)
    sgd = _entry(gen, "dp_sgd")
    assert (sgd["sample_rate"], sgd["steps"]) == (1.0, 3)  # every user in every step, no amplification
    eps = gen.privacy.epsilon
    assert isinstance(eps, float) and math.isfinite(eps) and eps <= 2.0


def test_vae_infinite_epsilon_is_the_exact_fit(planted: InteractionData) -> None:
    gen = MultVAEGenerator(hidden=8, latent=2, batch_size=16, max_epochs=2, epsilon=math.inf, seed=0).fit(planted)
    assert gen.privacy == PrivacyGuarantee.none()
    assert gen.fit_report_["early_stopping"] is True and "privacy" not in gen.fit_report_
    assert not gen.is_private and dp_summary(gen)["dp"] == 0.0


@pytest.mark.parametrize("kwargs", [
    {"epsilon": 0.0}, {"epsilon": -1.0}, {"epsilon": True}, {"delta": 1.0}, {"delta": 0.0},
    {"max_grad_norm": 0.0}, {"max_grad_norm": math.inf}, {"dp_epochs": 0}, {"max_items_per_user": 0},
    {"rating_levels": []}, {"rating_levels": "12345"},
    {"epsilon": 1.0, "dp_hook": lambda m, o, d: (m, o, d)},
])
def test_dp_arguments_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        MultVAEGenerator(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        CFGANGenerator(gradient_penalty=0.0, **kwargs)  # type: ignore[arg-type]


def test_budget_split_shares() -> None:
    shares = private_fit_shares(has_time=False, has_rating=False)
    assert shares["dp_sgd"] == NETWORK_SHARE and sum(shares.values()) == pytest.approx(1.0)
    assert set(shares) == {"dp_sgd", "item_counts", "activity_hist", "order_positions", "order_spread"}


# ----------------------------------------------------------------------------------------- the GAN


def test_gan_dp_needs_weight_clipping_not_the_gradient_penalty() -> None:
    with pytest.raises(ConfigError, match="gradient_penalty=0"):
        CFGANGenerator(epsilon=1.0)
    CFGANGenerator(epsilon=math.inf)  # no privacy: the penalty is fine


def test_gan_dp_wraps_only_the_critic_and_accounts(planted: InteractionData) -> None:
    gen = CFGANGenerator(noise_dim=4, hidden=16, critic_hidden=16, batch_size=20, n_critic=2, gradient_penalty=0.0,
                         clip_value=0.05, epsilon=2.0, dp_epochs=2, max_epochs=1, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModeCollapseWarning)  # no collapse report (it reads real users)
        gen.fit(planted)
    eps = gen.privacy.epsilon
    assert isinstance(eps, float) and 0.99 * 2.0 <= eps <= 2.0
    sgd = _entry(gen, "dp_sgd")
    assert (sgd["sample_rate"], sgd["steps"]) == (0.25, 8)  # 20 / 80, ⌈80/20⌉ × 2
    report = gen.fit_report_
    assert report["privacy"]["dp_sgd_steps_taken"] == 8 and report["early_stopping"] is False
    assert report["epochs"] == 2 and report["valid_log_likelihood"] == []
    assert len([g for g in report["generator_loss"] if math.isfinite(g)]) == 2  # 4 critic steps / 2 per epoch
    assert gen.collapse_report_ is None
    assert max(float(p.detach().abs().max()) for p in gen.critic_.parameters()) <= 0.05 + 1e-7
    for layer in gen.critic_.modules():
        assert not layer._forward_hooks
    syn = gen.sample(20, seed=0)
    assert syn.n_users == 20 and not syn.interactions.select(["user", "item"]).is_duplicated().any()
    json.dumps(gen.privacy.to_dict(), allow_nan=False)


def test_gan_dp_same_seed_same_generator(planted: InteractionData) -> None:
    kw = {"noise_dim": 4, "hidden": 8, "critic_hidden": 8, "batch_size": 80, "gradient_penalty": 0.0,
          "epsilon": 2.0, "dp_epochs": 1, "seed": 2}
    a, b = CFGANGenerator(**kw).fit(planted), CFGANGenerator(**kw).fit(planted)  # type: ignore[arg-type]
    for (k, va), vb in zip(cpu_state(a.generator_).items(), cpu_state(b.generator_).values(), strict=True):
        assert torch.equal(va, vb), k
    assert a.sample(10, seed=1).interactions.equals(b.sample(10, seed=1).interactions)

