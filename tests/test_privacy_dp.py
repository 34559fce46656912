"""Tests of contribution bounding, the noise mechanisms and DP-SGD (synthrec.privacy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from synthrec.errors import ConfigError, DataValidationError
from synthrec.privacy import (
    ContributionBound,
    PrivacyLedger,
    bin_index,
    bound_user_contributions,
    dp_histogram,
    gaussian_mechanism,
    laplace_mechanism,
    noisy_gram,
    pair_gram,
    quantiles_from_histogram,
)

# ------------------------------------------------------------------------------------- contribution


def test_sensitivities_of_a_cap_of_three() -> None:
    b = ContributionBound(3)
    assert b.counts_l1 == 3.0
    assert b.counts_l2 == pytest.approx(math.sqrt(3))
    assert b.gram_l2 == pytest.approx(math.sqrt(6))  # upper triangle of x xᵀ: 3 diagonal + 3 off ones
    assert b.gram_frobenius == 3.0
    assert b.histogram_l2 == 1.0


def test_gram_sensitivity_is_the_norm_of_one_users_upper_triangle() -> None:
    x = np.zeros(10)
    x[[1, 4, 6, 9]] = 1.0
    upper = np.triu(np.outer(x, x))
    assert np.linalg.norm(upper) == pytest.approx(ContributionBound(4).gram_l2)
    assert np.linalg.norm(np.outer(x, x)) == pytest.approx(ContributionBound(4).gram_frobenius)


def test_bound_keeps_at_most_cap_rows_per_user_and_everything_below_it() -> None:
    users = np.array([5, 5, 5, 5, 5, 2, 2, 9, 5, 2])
    keep = bound_user_contributions(users, 3, seed=0)
    kept = np.bincount(users[keep], minlength=10)
    assert kept[5] == 3 and kept[2] == 3 and kept[9] == 1
    keep2 = bound_user_contributions(users, 2, seed=0)
    assert np.bincount(users[keep2], minlength=10)[[2, 5, 9]].tolist() == [2, 2, 1]


def test_bound_is_seeded_and_uniform() -> None:
    users = np.zeros(5, dtype=np.int64)
    assert np.array_equal(bound_user_contributions(users, 2, seed=7), bound_user_contributions(users, 2, seed=7))
    hits = np.zeros(5)
    for s in range(2000):
        hits += bound_user_contributions(users, 2, seed=s)
    # each of the 5 rows is kept with probability 2/5
    assert np.allclose(hits / 2000, 0.4, atol=0.04)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bound_rejects_bad_caps(bad: object) -> None:
    with pytest.raises(ConfigError, match="max_items_per_user"):
        bound_user_contributions(np.zeros(3), bad, seed=0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------- mechanisms


def test_gaussian_mechanism_noise_scale_and_ledger_entry() -> None:
    ledger = PrivacyLedger()
    out = gaussian_mechanism(np.zeros(200_000), sensitivity=2.0, noise_multiplier=1.5,
                             rng=np.random.default_rng(0), ledger=ledger, name="counts")
    assert out.std() == pytest.approx(3.0, rel=0.01)
    entry = ledger.gaussian[0]
    assert (entry.name, entry.noise_multiplier, entry.sensitivity, entry.sample_rate, entry.steps) == (
        "counts", 1.5, 2.0, 1.0, 1)


def test_laplace_mechanism_scale() -> None:
    ledger = PrivacyLedger()
    out = laplace_mechanism(np.zeros(200_000), l1_sensitivity=3.0, epsilon=0.5, rng=np.random.default_rng(0),
                            ledger=ledger, name="hist")
    # Laplace(b): E|X| = b = 3/0.5
    assert np.abs(out).mean() == pytest.approx(6.0, rel=0.01)
    assert ledger.spent(1e-5) == 0.5


def test_noisy_gram_is_symmetric_with_the_right_noise() -> None:
    x = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0]], dtype=float))
    exact = (x.T @ x).toarray()
    bound = ContributionBound(2)
    ledger = PrivacyLedger()
    g = noisy_gram(x, bound=bound, noise_multiplier=1e-9, rng=np.random.default_rng(0), ledger=ledger)
    assert np.allclose(g, exact, atol=1e-6)
    assert np.array_equal(g, g.T)
    assert ledger.gaussian[0].sensitivity == pytest.approx(math.sqrt(3))
    big = sp.csr_matrix(np.ones((1, 300)))
    noisy = noisy_gram(big, bound=ContributionBound(300), noise_multiplier=0.01, rng=np.random.default_rng(1),
                       ledger=PrivacyLedger())
    resid = noisy - 1.0
    assert np.array_equal(resid, resid.T)
    assert resid[np.triu_indices(300)].std() == pytest.approx(0.01 * math.sqrt(300 * 301 / 2), rel=0.02)


def test_noisy_gram_refuses_uncapped_or_non_binary_input() -> None:
    x = sp.csr_matrix(np.ones((2, 4)))
    with pytest.raises(DataValidationError, match="cap"):
        noisy_gram(x, bound=ContributionBound(3), noise_multiplier=1.0, rng=np.random.default_rng(0),
                   ledger=PrivacyLedger())
    with pytest.raises(DataValidationError, match="binary"):
        noisy_gram(sp.csr_matrix(np.full((1, 2), 2.0)), bound=ContributionBound(3), noise_multiplier=1.0,
                   rng=np.random.default_rng(0), ledger=PrivacyLedger())


def test_pair_gram_weights_each_users_pairs_to_unit_norm() -> None:
    # users with 2, 3 and 1 items: weights √(2/2) = 1, √(2/6), and nothing for the single item
    x = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 1], [1, 0, 0, 0]], dtype=float))
    ledger = PrivacyLedger()
    g = pair_gram(x, noise_multiplier=1e-12, rng=np.random.default_rng(0), ledger=ledger)
    w3 = math.sqrt(2 / 6)
    expected = np.array([[0, 1, 0, 0], [1, 0, w3, w3], [0, w3, 0, w3], [0, w3, w3, 0]])
    np.testing.assert_allclose(g, expected, atol=1e-9)
    assert np.array_equal(g, g.T) and np.all(np.diag(g) == 0.0)
    assert ledger.gaussian[0].sensitivity == 1.0 and ledger.gaussian[0].name == "pair_gram"
    # one user's released vector (the strict upper triangle) has L2 norm exactly 1, whatever her length
    for k in (2, 3, 10, 50):
        one = pair_gram(sp.csr_matrix(np.ones((1, k))), noise_multiplier=1e-12, rng=np.random.default_rng(0),
                        ledger=PrivacyLedger())
        assert np.linalg.norm(one[np.triu_indices(k, 1)]) == pytest.approx(1.0, abs=1e-9)


def test_pair_gram_noise_sd_and_input_check() -> None:
    zero = sp.csr_matrix((1, 200))
    noisy = pair_gram(zero, noise_multiplier=0.5, rng=np.random.default_rng(3), ledger=PrivacyLedger())
    assert noisy[np.triu_indices(200, 1)].std() == pytest.approx(0.5, rel=0.02)
    assert np.all(np.diag(noisy) == 0.0)
    with pytest.raises(DataValidationError, match="binary"):
        pair_gram(sp.csr_matrix(np.full((1, 2), 2.0)), noise_multiplier=1.0, rng=np.random.default_rng(0),
                  ledger=PrivacyLedger())


def test_histogram_counts_one_per_user_and_per_user_normalised() -> None:
    ledger = PrivacyLedger()
    tiny = 1e-9
    h = dp_histogram(np.array([0, 2, 2, 1]), 3, noise_multiplier=tiny, rng=np.random.default_rng(0),
                     ledger=ledger, name="activity")
    assert np.allclose(h, [1, 1, 2], atol=1e-6)
    # user 7 has 4 rows (weight 1/4 each), user 3 one row
    h2 = dp_histogram(np.array([0, 0, 1, 2, 2]), 3, users=np.array([7, 7, 7, 7, 3]), noise_multiplier=tiny,
                      rng=np.random.default_rng(0), ledger=ledger, name="gaps")
    assert np.allclose(h2, [0.5, 0.25, 1.25], atol=1e-6)
    assert [e.sensitivity for e in ledger.gaussian] == [1.0, 1.0]


def test_histogram_rejects_cells_outside_range() -> None:
    with pytest.raises(ValueError, match="cell"):
        dp_histogram(np.array([3]), 3, noise_multiplier=1.0, rng=np.random.default_rng(0), ledger=PrivacyLedger(),
                     name="x")


def test_bin_index_clamps_to_the_end_bins() -> None:
    edges = np.array([0.0, 1.0, 2.0, 4.0])
    assert bin_index(np.array([-5, 0, 0.99, 1, 3.9, 4, 100]), edges).tolist() == [0, 0, 0, 1, 2, 2, 2]
    with pytest.raises(ConfigError):
        bin_index(np.array([1.0]), np.array([0.0, 0.0]))


def test_quantiles_from_histogram_exact_case() -> None:
    # mass 1 on [0, 1), 0 on [1, 2), 3 on [2, 4): median at 2 + (0.5 − 0.25)/0.75 · 2 = 2.6667
    q = quantiles_from_histogram(np.array([1.0, 0.0, 3.0]), np.array([0.0, 1.0, 2.0, 4.0]),
                                 np.array([0.0, 0.25, 0.5, 1.0]))
    assert np.allclose(q, [0.0, 1.0, 2.0 + 2.0 / 3.0, 4.0])
    # below-threshold cells are dropped; all-below falls back to the largest cell
    q2 = quantiles_from_histogram(np.array([0.5, 5.0, -3.0]), np.array([0.0, 1.0, 2.0, 3.0]),
                                  np.array([0.0, 1.0]), threshold=1.0)
    assert np.allclose(q2, [1.0, 2.0])
    q3 = quantiles_from_histogram(np.array([-2.0, -1.0]), np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0]))
    assert np.allclose(q3, [1.0, 2.0])


# ------------------------------------------------------------------------------------------ DP-SGD


def _tiny_training(n: int, batch: int, seed: int = 0):
    import torch

    from synthrec.privacy.dp_sgd import make_private_training

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.ReLU(), torch.nn.Linear(3, 6))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    users = (np.random.default_rng(0).random((n, 6)) < 0.4).astype(np.float32)
    ledger = PrivacyLedger()
    run = make_private_training(model, opt, sp.csr_matrix(users), epsilon=2.0, delta=1e-5, epochs=2,
                                batch_size=batch, max_grad_norm=1.0, seed=seed, ledger=ledger)
    return run, ledger


def _train(run) -> None:
    for (xb,) in run.loader:
        run.optimizer.zero_grad()
        if len(xb) == 0:
            continue
        loss = ((run.module(xb) - xb) ** 2).mean()
        loss.backward()
        run.optimizer.step()


def test_dp_sgd_p18_sampling_rate_from_true_size_and_spend_within_target() -> None:
    run, ledger = _tiny_training(1000, 50)
    assert run.sample_rate == 0.05
    assert run.steps == 40
    entry = ledger.gaussian[0]
    assert (entry.sample_rate, entry.steps, entry.sensitivity) == (0.05, 40, 1.0)
    assert entry.noise_multiplier == run.noise_multiplier
    assert ledger.spent(1e-5) <= 2.0
    for _ in range(2):
        _train(run)
    assert run.epsilon_spent() <= 2.0 + 1e-9


def test_dp_sgd_p18_batch_larger_than_data_has_no_amplification() -> None:
    run, ledger = _tiny_training(20, 32)
    assert run.sample_rate == 1.0
    eps = ledger.spent(1e-5)
    assert math.isfinite(eps) and eps <= 2.0


def test_dp_sgd_is_deterministic_given_seed() -> None:
    import torch

    outs = []
    for _ in range(2):
        run, _ = _tiny_training(60, 10, seed=3)
        _train(run)
        outs.append(torch.cat([p.detach().flatten() for p in run.module.parameters()]))
    assert torch.equal(outs[0], outs[1])


def test_dp_sgd_rejects_bad_arguments() -> None:
    import torch

    from synthrec.privacy.dp_sgd import make_private_training

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ConfigError, match="epsilon"):
        make_private_training(model, opt, np.ones((4, 2)), epsilon=math.inf, delta=1e-5, epochs=1, batch_size=2,
                              max_grad_norm=1.0, seed=0)
    with pytest.raises(ConfigError, match="empty"):
        make_private_training(model, opt, np.ones((0, 2)), epsilon=1.0, delta=1e-5, epochs=1, batch_size=2,
                              max_grad_norm=1.0, seed=0)
