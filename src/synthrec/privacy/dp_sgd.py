"""User-level DP-SGD for deep generators, through opacus's `PrivacyEngine`.

DP-SGD (Abadi et al. 2016, "Deep learning with differential privacy", CCS, Alg. 1): each step draws a
Poisson sample of examples with rate q, clips every example's gradient to L2 norm C, sums, adds
N(0, (σC)²) and averages. Here **one example is one user** (her whole interaction vector), so the
per-example bound is a per-user bound and the guarantee is user-level. σ is chosen by opacus
(`make_private_with_epsilon`, RDP accountant) so that ``epochs`` passes spend at most the target ε.

Sampling rate (pitfall P18). opacus samples and accounts with q = 1 / len(loader) = 1 / ⌈N / B⌉ for N
training users and batch size B: that is exactly min(1, B/N) whenever B divides N or B ≥ N (N = 1000,
B = 50 gives q = 0.05; N = 20, B = 32 gives q = 1, i.e. every user in every step and no amplification
by sampling — ε stays finite because of the noise alone). When B does not divide N the rate is slightly
below B/N, and sampling and accounting use the same value. The ledger records that value, read from the
training set's true size, never from a padded or repeated data set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from opacus import PrivacyEngine
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from synthrec.errors import ConfigError
from synthrec.privacy.ledger import PrivacyLedger


@dataclass
class PrivateTraining:
    """What `make_private_training` returns.

    Attributes:
        module: the opacus-wrapped module (per-example gradients); train it as usual.
        optimizer: the `DPOptimizer` (clips per user, adds noise).
        loader: the Poisson-sampling data loader (batches of variable size).
        engine: the `PrivacyEngine` (its accountant tracks the steps actually taken).
        noise_multiplier: σ chosen by opacus.
        sample_rate: q, see the module docstring.
        steps: planned optimizer steps, ⌈epochs / q⌉ as opacus plans them (``int(epochs / q)``).
        delta: δ of the guarantee.
    """

    module: nn.Module
    optimizer: Any
    loader: DataLoader
    engine: PrivacyEngine
    noise_multiplier: float
    sample_rate: float
    steps: int
    delta: float

    def epsilon_spent(self) -> float:
        """ε of the steps actually taken so far (opacus's accountant), at ``delta``."""
        return float(self.engine.get_epsilon(self.delta))


def make_private_training(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    dataset_of_users: Dataset | torch.Tensor | sp.spmatrix | np.ndarray,
    *,
    epsilon: float,
    delta: float,
    epochs: int,
    batch_size: int,
    max_grad_norm: float,
    seed: int,
    ledger: PrivacyLedger | None = None,
    name: str = "dp_sgd",
) -> PrivateTraining:
    """Wrap a torch model and optimizer for user-level (ε, δ)-DP training with opacus.

    Args:
        module: the model; its layers must be supported by opacus (``opacus.validators``).
        optimizer: an optimizer over ``module``'s parameters.
        dataset_of_users: one row per user — a torch ``Dataset`` whose items are one user each, or a
            tensor / numpy array / scipy sparse matrix ``(n_users, n_items)`` (converted to a dense
            float32 ``TensorDataset``; build a Dataset yourself for catalogues too large for that).
        epsilon: target ε > 0 over all ``epochs``.
        delta: target δ ∈ (0, 1), e.g. below 1/n_users.
        epochs: passes planned (≥ 1); training longer than this spends more than ε.
        batch_size: B ≥ 1, the expected Poisson batch size.
        max_grad_norm: C > 0, the per-user gradient clipping norm.
        seed: seeds the Poisson sampling and the noise.
        ledger: if given, receives one Gaussian entry (σ, sensitivity C, q, planned steps).
        name: the ledger entry's name.

    Returns:
        `PrivateTraining`.

    Raises:
        ConfigError: an argument is out of range, or the data set is empty.
    """
    for arg, value, lo in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise ConfigError(f"{arg} must be an integer >= {lo}, got {value!r}")
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise ConfigError(f"epsilon must be a finite number > 0, got {epsilon!r}")
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise ConfigError(f"delta must be a number in (0, 1), got {delta!r}")
    if not (isinstance(max_grad_norm, (int, float)) and math.isfinite(max_grad_norm) and max_grad_norm > 0):
        raise ConfigError(f"max_grad_norm must be a finite number > 0, got {max_grad_norm!r}")
    dataset = _as_dataset(dataset_of_users)
    n_users = len(dataset)  # type: ignore[arg-type]
    if n_users == 0:
        raise ConfigError("dataset_of_users is empty: DP training needs at least one user")
    torch.manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        generator=torch.Generator().manual_seed(seed))
    engine = PrivacyEngine(accountant="rdp")
    private_module, private_optimizer, private_loader = engine.make_private_with_epsilon(
        module=module, optimizer=optimizer, data_loader=loader, target_epsilon=float(epsilon),
        target_delta=float(delta), epochs=int(epochs), max_grad_norm=float(max_grad_norm),
        noise_generator=torch.Generator().manual_seed(seed + 1),
    )
    sample_rate = 1.0 / len(loader)  # what opacus samples and accounts with (module docstring)
    steps = int(epochs / sample_rate)
    sigma = float(private_optimizer.noise_multiplier)
    if ledger is not None:
        # the multiplier is relative to the clipping norm C: noise sd = σ·C, sensitivity C
        ledger.record_gaussian(name, noise_multiplier=sigma, sensitivity=float(max_grad_norm),
                               sample_rate=sample_rate, steps=steps)
    return PrivateTraining(private_module, private_optimizer, private_loader, engine, sigma, sample_rate,
                           steps, float(delta))


def _as_dataset(data: Dataset | torch.Tensor | sp.spmatrix | np.ndarray) -> Dataset:
    if isinstance(data, Dataset):
        return data
    if sp.issparse(data):
        data = np.asarray(data.toarray(), dtype=np.float32)  # type: ignore[union-attr]
    if isinstance(data, np.ndarray):
        data = torch.from_numpy(np.asarray(data, dtype=np.float32))
    if isinstance(data, torch.Tensor):
        if data.ndim < 1:
            raise ConfigError("dataset_of_users must have one row per user")
        return TensorDataset(data.float())
    raise ConfigError(f"dataset_of_users must be a torch Dataset, tensor, numpy array or scipy sparse matrix, "
                      f"got {type(data).__name__}")
