"""Tests of `MultVAEGenerator`, its shared torch plumbing (`_torch`) and the preference-generator base."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
import torch
from torch import nn

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError, NotFittedError
from synthrec.evaluation.fidelity import gini
from synthrec.generators import GENERATORS, make_generator
from synthrec.generators._torch import (
    CsrRows,
    EarlyStopping,
    check_memory,
    cpu_state,
    dense_rows,
    resolve_device,
    seeded,
    split_users,
)
from synthrec.generators.vae import MultVAE, MultVAEGenerator, elbo_terms

SMALL = {"hidden": 32, "latent": 4, "max_epochs": 60, "patience": 10, "batch_size": 16, "lr": 3e-3, "dropout": 0.2}


def planted_log(n_users: int = 80, n_items: int = 40, per_user: int = 8, *, seed: int = 0) -> InteractionData:
    """Two taste groups: even users pick from items 0..n/2-1, odd users from the other half."""
    rng = np.random.default_rng(seed)
    half = n_items // 2
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(half, per_user, replace=False) + (u % 2) * half for u in range(n_users)])
    start = rng.integers(1_000_000_000, 1_000_500_000, n_users)
    ts = (start[:, None] + rng.integers(1, 5000, (n_users, per_user)).cumsum(axis=1)).ravel()
    frame = pl.DataFrame({"user": [f"u{u}" for u in users], "item": [f"i{j}" for j in items], "ts": ts,
                          "rating": rng.choice(np.arange(1, 11) / 2, n_users * per_user)})
    return InteractionData.from_frame(frame, rating_col="rating", time_col="ts", name="planted")


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
def fitted(planted: InteractionData) -> MultVAEGenerator:
    return MultVAEGenerator(**SMALL, seed=3).fit(planted)


# ------------------------------------------------------------------------------------ the model maths


def test_elbo_terms_hand_computed() -> None:
    logits = torch.zeros((2, 4))
    x = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    mu = torch.tensor([[0.0], [1.0]])
    logvar = torch.tensor([[0.0], [math.log(2.0)]])
    nll, kl = elbo_terms(logits, x, mu, logvar)
    # uniform softmax over 4 items: −Σ x log ¼ = n_u · log 4
    assert nll.tolist() == pytest.approx([2 * math.log(4), math.log(4)])
    # KL(N(1, 2) ‖ N(0, 1)) = ½ (σ² + μ² − 1 − log σ²) = ½ (2 + 1 − 1 − log 2)
    assert kl.tolist() == pytest.approx([0.0, 0.5 * (2.0 - math.log(2.0))])


def test_mult_vae_eval_mode_uses_the_posterior_mean() -> None:
    with seeded(0, torch.device("cpu")):
        net = MultVAE(6, 5, 2, dropout=0.5).eval()
    x = torch.eye(6)[:3]
    logits, mu, _ = net(x)
    assert torch.equal(logits, net.decoder(mu))
    assert torch.equal(net(x)[0], logits)  # no noise, no dropout


# ------------------------------------------------------------------------------------ torch plumbing


def test_split_users_sizes_and_partition() -> None:
    train, valid = split_users(100, 0.1, seed=1)
    assert len(valid) == 10 and len(train) == 90
    assert np.array_equal(np.sort(np.concatenate([train, valid])), np.arange(100))
    assert np.array_equal(valid, split_users(100, 0.1, seed=1)[1])
    assert len(split_users(9, 0.1, seed=1)[1]) == 0  # too few users to hold any out


def test_csr_rows_and_dense_rows_match_the_matrix() -> None:
    x = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=np.float32))
    ds = CsrRows(x, np.array([2, 0, 1]))
    assert len(ds) == 3
    assert ds[0].tolist() == [0.0, 1.0, 0.0]
    assert ds[1].tolist() == [1.0, 0.0, 1.0]
    assert ds[2].tolist() == [0.0, 0.0, 0.0]
    assert dense_rows(x, np.array([0, 2]), torch.device("cpu")).tolist() == [[1, 0, 1], [0, 1, 0]]


def test_check_memory_names_batch_items_and_budget() -> None:
    check_memory(10, 100, 1000, budget_mb=1.0, what="X")  # 4·(8·1000 + 4000) bytes: fine
    with pytest.raises(ConfigError, match=r"512 users × 1,000,000 items.*budget of 100 MiB.*batch_size"):
        check_memory(512, 1_000_000, 0, budget_mb=100, what="X")


def test_resolve_device() -> None:
    assert resolve_device(None).type == "cpu"
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="device"):
        resolve_device("tpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")


def test_one_device_and_seeding_implementation_for_models_and_generators() -> None:
    import synthrec._torch as package_torch

    assert resolve_device is package_torch.resolve_device and seeded is package_torch.seeded
    assert package_torch.seeded_torch is seeded  # the name the sequence models use
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ConfigError, match="'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'"):
        resolve_device("meta")  # a torch device type we do not train on


def test_seeded_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7, torch.device("cpu")):
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)  # the caller's stream continues as if untouched
    with seeded(7, torch.device("cpu")):
        assert torch.equal(torch.rand(3), inside)


def test_early_stopping_keeps_and_restores_the_best_weights() -> None:
    net = nn.Linear(1, 1, bias=False)
    stop = EarlyStopping(patience=2)
    decisions = []
    for epoch, value in enumerate([3.0, 2.0, 2.5, 2.6, 1.0]):
        with torch.no_grad():
            net.weight.fill_(float(epoch))
        decisions.append(stop.step(value, epoch, net))
        if decisions[-1]:
            break
    assert decisions == [False, False, False, True]  # 2 epochs without beating 2.0
    assert stop.best == 2.0 and stop.best_epoch == 1
    stop.restore(net)
    assert net.weight.item() == 1.0


# ------------------------------------------------------------------------------------ the generator


def test_registry_builds_vae() -> None:
    assert GENERATORS["vae"] is MultVAEGenerator
    gen = make_generator("vae", hidden=16, latent=4)
    assert isinstance(gen, MultVAEGenerator) and gen.hidden == 16


@pytest.mark.parametrize("kwargs", [{"hidden": 0}, {"dropout": 1.0}, {"beta_max": 0.0}, {"lr": -1.0},
                                    {"batch_size": True}, {"memory_budget_mb": float("nan")}])
def test_bad_arguments_raise_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        MultVAEGenerator(**kwargs)  # type: ignore[arg-type]


def test_sample_before_fit_and_bad_input() -> None:
    with pytest.raises(NotFittedError):
        MultVAEGenerator().sample(3, seed=0)
    with pytest.raises(DataValidationError, match="InteractionData"):
        MultVAEGenerator().fit("not data")  # type: ignore[arg-type]


def test_fit_learns_the_two_taste_groups(fitted: MultVAEGenerator, planted: InteractionData) -> None:
    # the decoder of a real user's posterior mean puts most mass on her own taste group
    x = planted.to_csr()
    with torch.no_grad():
        mu, _ = fitted.vae_.encode(dense_rows(x, np.arange(x.shape[0]), torch.device("cpu")))
        probs = torch.softmax(fitted.vae_.decoder(mu), dim=1).numpy()
    own = np.where(np.arange(x.shape[0])[:, None] % 2 == 0, probs[:, :20], probs[:, 20:]).sum(axis=1)
    assert own.min() > 0.55  # every user favours her own group; untrained or posterior-collapsed: ~0.5
    syn = fitted.sample(200, seed=0)
    assert syn.n_users == 200 and syn.item_ids.equals(planted.item_ids)
    assert not syn.interactions.select("user", "item").is_duplicated().any()
    rep = fitted.fit_report_
    assert rep["epochs"] >= 1 and 0 <= rep["best_epoch"] < rep["epochs"]
    assert rep["valid_neg_elbo"][rep["best_epoch"]] == min(rep["valid_neg_elbo"])


def test_sampled_histories_have_times_and_ratings_like_the_latent_factor_generator(
    fitted: MultVAEGenerator, planted: InteractionData
) -> None:
    syn = fitted.sample(100, seed=1)
    f = syn.interactions
    assert set(f.columns) == {"user", "item", "timestamp", "rating"}
    steps = f.group_by("user", maintain_order=True).agg(pl.col("timestamp").diff().drop_nulls().min())
    assert (steps["timestamp"].drop_nulls() >= 1).all()  # strictly increasing within a user
    assert set(np.unique(f["rating"].to_numpy())) <= set(np.arange(1, 11) / 2)
    counts = np.bincount(f["user"].to_numpy(), minlength=100)
    assert counts.min() >= 1 and counts.max() <= 40
    assert np.mean(counts) == pytest.approx(8, abs=1.0)  # every real user has 8 items


def test_preferences_are_distributions(fitted: MultVAEGenerator) -> None:
    p = fitted.preferences(7, seed=0)
    assert p.shape == (7, 40) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_same_seed_same_weights_and_samples(planted: InteractionData, fitted: MultVAEGenerator) -> None:
    again = MultVAEGenerator(**SMALL, seed=3).fit(planted)
    for (k, a), b in zip(cpu_state(fitted.vae_).items(), cpu_state(again.vae_).values(), strict=True):
        assert torch.equal(a, b), k
    assert fitted.sample(30, seed=5).interactions.equals(again.sample(30, seed=5).interactions)
    assert not fitted.sample(30, seed=5).interactions.equals(fitted.sample(30, seed=6).interactions)
    other = MultVAEGenerator(**SMALL, seed=4).fit(planted)
    assert not torch.equal(cpu_state(other.vae_)["decoder.0.weight"], cpu_state(fitted.vae_)["decoder.0.weight"])


def test_sample_batches_sizes_and_determinism(fitted: MultVAEGenerator) -> None:
    parts = list(fitted.sample_batches(25, batch_users=10, seed=2))
    assert [p.n_users for p in parts] == [10, 10, 5]
    again = list(fitted.sample_batches(25, batch_users=10, seed=2))
    assert all(a.interactions.equals(b.interactions) for a, b in zip(parts, again, strict=True))
    assert parts[0].user_ids[0] == "syn-0" and parts[1].user_ids[0] == "syn-10"


def test_save_load_round_trip(fitted: MultVAEGenerator, tmp_path: Path) -> None:
    path = tmp_path / "vae.synthrec"
    fitted.dp_hook = lambda m, o, d: (m, o, d)  # a function: must not be saved
    try:
        fitted.save(path)
    finally:
        fitted.dp_hook = None
    loaded = MultVAEGenerator.load(path)
    assert loaded.dp_hook is None and loaded.device_.type == "cpu"
    assert loaded.sample(40, seed=9).interactions.equals(fitted.sample(40, seed=9).interactions)
    assert isinstance(loaded.vae_, MultVAE) and not loaded.vae_.training
    assert all(v.device.type == "cpu" for v in cpu_state(loaded.vae_).values())


def test_dp_hook_receives_module_optimizer_and_loader(planted: InteractionData) -> None:
    seen: list[tuple[object, object, object]] = []

    def hook(module, optimizer, loader):  # type: ignore[no-untyped-def]
        seen.append((module, optimizer, loader))
        return module, optimizer, loader

    MultVAEGenerator(hidden=8, latent=2, max_epochs=1, batch_size=16, dp_hook=hook).fit(planted)
    assert len(seen) == 1
    module, optimizer, loader = seen[0]
    assert isinstance(module, MultVAE) and isinstance(optimizer, torch.optim.Adam)
    assert loader.batch_size == 16 and len(loader.dataset) == 72  # 80 users, 10 % held out


def test_opacus_privacy_engine_can_wrap_the_training(planted: InteractionData) -> None:
    opacus = pytest.importorskip("opacus")
    engine = opacus.PrivacyEngine(accountant="rdp")

    def hook(module, optimizer, loader):  # type: ignore[no-untyped-def]
        return engine.make_private(module=module, optimizer=optimizer, data_loader=loader,
                                   noise_multiplier=1.0, max_grad_norm=1.0)

    gen = MultVAEGenerator(hidden=8, latent=2, max_epochs=2, batch_size=16, dp_hook=hook).fit(planted)
    assert isinstance(gen.vae_, MultVAE)  # unwrapped after training
    assert 0 < engine.get_epsilon(delta=1e-5) < float("inf")
    assert gen.sample(5, seed=0).n_users == 5


def test_p14_many_user_ids_bounded_memory() -> None:
    """PITFALLS P14: 50,000 interactions, 20,000 user ids, 5,000 item ids — users are rows, never one-hot."""
    rng = np.random.default_rng(0)
    users = np.concatenate([np.arange(20_000), rng.integers(0, 20_000, 30_000)])
    items = rng.integers(0, 5_000, 50_000)
    frame = pl.DataFrame({"user": users, "item": items})
    data = InteractionData.from_frame(frame, name="p14")
    gen = MultVAEGenerator(hidden=16, latent=4, max_epochs=1, batch_size=256, seed=0).fit(data)
    shapes = [tuple(p.shape) for p in gen.vae_.parameters()]
    assert (16, data.n_items) in shapes and (data.n_items, 16) in shapes
    assert all(data.n_users not in s for s in shapes)  # no parameter grows with the number of users
    assert gen.sample(100, seed=0).n_users == 100
    # a catalogue × batch that does not fit the budget is refused before any training
    with pytest.raises(ConfigError, match="lower batch_size"):
        MultVAEGenerator(hidden=16, latent=4, batch_size=20_000, memory_budget_mb=64).fit(data)


def test_fidelity_on_ml100k(shared_data: Path) -> None:
    frame = pl.read_csv(shared_data / "ml-100k" / "u.data", separator="\t", has_header=False,
                        new_columns=["user", "item", "rating", "ts"])
    real = InteractionData.from_frame(frame, rating_col="rating", time_col="ts", name="ml-100k")
    gen = MultVAEGenerator(hidden=200, latent=32, max_epochs=30, lr=3e-3, batch_size=64, seed=0).fit(real)
    syn = gen.sample(real.n_users, seed=0)
    real_counts = np.bincount(real.interactions["item"].to_numpy(), minlength=real.n_items)
    syn_counts = np.bincount(syn.interactions["item"].to_numpy(), minlength=real.n_items)
    assert gini(syn_counts) == pytest.approx(gini(real_counts), abs=0.1)  # real 0.63, measured 0.65
    assert syn.n_interactions / syn.n_users == pytest.approx(real.n_interactions / real.n_users, rel=0.15)
    # popular real items stay popular
    assert np.corrcoef(np.log1p(real_counts), np.log1p(syn_counts))[0, 1] > 0.8  # measured 0.93
