"""User-level DP-SGD for deep generators, built from opacus's parts.

DP-SGD (Abadi et al. 2016, "Deep learning with differential privacy", CCS, Alg. 1): each step draws a
Poisson sample of examples with rate q, clips every example's gradient to L2 norm C, sums, adds
N(0, (σC)²) and divides by the expected batch size. Here **one example is one user** (her whole
interaction vector), so the per-example bound is a per-user bound and the guarantee is user-level.

Sampling rate (pitfall P18). q = min(1, B/N) for N training users and expected batch size B, from the
training set's true size (never a padded or repeated data set): N = 1000, B = 50 gives q = 0.05; N = 20,
B = 32 gives q = 1 — every user in every step, no amplification by sampling, and ε stays finite because of
the noise alone. An epoch is ⌈N/B⌉ Poisson steps (`poisson_schedule`). The same q drives the sampler
(opacus's ``UniformWithReplacementSampler``), the accountant and the ledger. opacus's own
``PrivacyEngine.make_private`` would sample and account with 1/⌈N/B⌉ instead, which is *below* B/N when
B does not divide N; that is why the module, optimizer, loader and accountant are assembled here.

Accounting: the Rényi-DP accountant of opacus (``RDPAccountant``: sampled Gaussian mechanism, Mironov,
Talwar & Zhang 2019, arXiv:1908.10530), converted to (ε, δ) over the orders of
`synthrec.privacy.ledger.RDP_ORDERS`, the same conversion as `PrivacyLedger.spent`. With ``epsilon``
given, σ is the smallest noise multiplier whose planned steps spend at most ε
(`synthrec.privacy.calibrate_noise_multipliers`); with ``noise_multiplier`` given (a budget split
calibrated by the caller), σ is used as is.

Randomness: the Poisson sampler and the noise each get a torch generator seeded from ``seed``
(opacus's ``secure_mode`` stays off: reproducible, but not a cryptographically secure RNG — for a
production release, use secure noise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from opacus import GradSampleModule
from opacus.accountants import RDPAccountant
from opacus.data_loader import DPDataLoader
from opacus.optimizers import DPOptimizer
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from synthrec.errors import ConfigError
from synthrec.privacy.ledger import RDP_ORDERS, PlannedGaussian, PrivacyLedger, calibrate_noise_multipliers


@dataclass
class PrivateTraining:
    """What `make_private_training` returns.

    Attributes:
        module: the opacus-wrapped module (``GradSampleModule``: per-example gradients); train it as usual.
        optimizer: the ``DPOptimizer`` (clips per user, adds noise, divides by ``expected_batch_size``).
        loader: the Poisson-sampling loader: ``steps_per_epoch`` batches per pass, each a list/tuple of
            tensors whose first dimension is the (variable, possibly 0) batch size.
        accountant: opacus's ``RDPAccountant``; one entry per optimizer step actually taken.
        noise_multiplier: σ.
        sample_rate: q = min(1, B/N).
        steps_per_epoch: ⌈N/B⌉.
        steps: planned optimizer steps, ``epochs × steps_per_epoch``.
        expected_batch_size: q·N.
        delta: δ of the guarantee.
    """

    module: nn.Module
    optimizer: Any
    loader: DPDataLoader
    accountant: RDPAccountant
    noise_multiplier: float
    sample_rate: float
    steps_per_epoch: int
    steps: int
    expected_batch_size: int
    delta: float

    def steps_taken(self) -> int:
        """Optimizer steps the accountant has seen so far."""
        return int(sum(n for _, _, n in self.accountant.history))

    def epsilon_spent(self) -> float:
        """ε of the steps actually taken so far (opacus's RDP accountant at ``delta``, orders `RDP_ORDERS`);
        0 before the first step."""
        if not self.accountant.history:
            return 0.0
        return float(self.accountant.get_epsilon(self.delta, alphas=list(RDP_ORDERS)))


def poisson_schedule(n_users: int, batch_size: int, epochs: int) -> tuple[float, int, int]:
    """The DP-SGD sampling plan for N users: ``(q, steps_per_epoch, steps)``.

    q = min(1, B/N) (pitfall P18), ⌈N/B⌉ steps per epoch (so an epoch sees each user once in
    expectation, and exactly once when q = 1), ``epochs × steps_per_epoch`` steps in all.

    Raises:
        ConfigError: N < 1, B < 1 or epochs < 1.
    """
    _check_int("n_users", n_users, 1)
    _check_int("batch_size", batch_size, 1)
    _check_int("epochs", epochs, 1)
    q = min(1.0, batch_size / n_users)
    per_epoch = -(-n_users // batch_size)  # ceil
    return q, per_epoch, epochs * per_epoch


def make_private_training(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    dataset_of_users: Dataset | torch.Tensor | sp.spmatrix | np.ndarray,
    *,
    epsilon: float | None = None,
    delta: float,
    epochs: int,
    batch_size: int,
    max_grad_norm: float,
    seed: int,
    ledger: PrivacyLedger | None = None,
    name: str = "dp_sgd",
    noise_multiplier: float | None = None,
) -> PrivateTraining:
    """Wrap a torch model and optimizer for user-level (ε, δ)-DP training (see the module docstring).

    Args:
        module: the model; its layers must be supported by opacus (``opacus.validators``; no batch norm).
        optimizer: an optimizer over ``module``'s parameters.
        dataset_of_users: one example per user — a torch ``Dataset`` whose items are one user each (a
            tensor, or a tuple of tensors), or a tensor / numpy array / scipy sparse matrix
            ``(n_users, n_items)`` (converted to a dense float32 ``TensorDataset``; build a Dataset yourself
            for catalogues too large for that). Items that are bare tensors are served as 1-tuples, so an
            empty Poisson batch keeps its shape ``(0, ...)``.
        epsilon: target ε > 0 over all ``epochs`` (σ calibrated for it); or None with ``noise_multiplier``.
        delta: δ ∈ (0, 1), e.g. below 1/n_users.
        epochs: passes planned (≥ 1); training longer than this spends more than planned.
        batch_size: B ≥ 1, the expected Poisson batch size.
        max_grad_norm: C > 0, the per-user gradient clipping norm (the L2 sensitivity of a step's sum).
        seed: ≥ 0; seeds the Poisson sampling (``seed``) and the noise (``seed + 1``).
        ledger: if given, receives one Gaussian entry (σ, sensitivity C, q, planned steps).
        name: the ledger entry's name.
        noise_multiplier: σ > 0 to use as is (exclusive with ``epsilon``).

    Returns:
        `PrivateTraining`. Loss reduction is the mean over the batch (opacus's ``"mean"``).

    Raises:
        ConfigError: an argument is out of range, both or neither of ``epsilon`` / ``noise_multiplier``
            are given, or the data set is empty.
    """
    _check_int("epochs", epochs, 1)
    _check_int("batch_size", batch_size, 1)
    _check_int("seed", seed, 0)
    if (epsilon is None) == (noise_multiplier is None):
        raise ConfigError("give exactly one of epsilon (a target) and noise_multiplier (a calibrated σ), got "
                          f"epsilon={epsilon!r}, noise_multiplier={noise_multiplier!r}")
    if epsilon is not None and not _positive_finite(epsilon):
        raise ConfigError(f"epsilon must be a finite number > 0, got {epsilon!r}")
    if noise_multiplier is not None and not _positive_finite(noise_multiplier):
        raise ConfigError(f"noise_multiplier must be a finite number > 0, got {noise_multiplier!r}")
    if not (isinstance(delta, (int, float)) and not isinstance(delta, bool) and 0 < delta < 1):
        raise ConfigError(f"delta must be a number in (0, 1), got {delta!r}")
    if not _positive_finite(max_grad_norm):
        raise ConfigError(f"max_grad_norm must be a finite number > 0, got {max_grad_norm!r}")
    dataset = _as_dataset(dataset_of_users)
    n_users = len(dataset)  # type: ignore[arg-type]
    if n_users == 0:
        raise ConfigError("dataset_of_users is empty: DP training needs at least one user")
    q, per_epoch, steps = poisson_schedule(n_users, batch_size, epochs)
    if noise_multiplier is None:
        assert epsilon is not None
        sigma = calibrate_noise_multipliers([PlannedGaussian(name, 1.0, q, steps)], epsilon=float(epsilon),
                                            delta=float(delta))[name]
    else:
        sigma = float(noise_multiplier)

    loader = DPDataLoader(dataset, sample_rate=q, generator=torch.Generator().manual_seed(seed))
    loader.batch_sampler.steps = per_epoch  # type: ignore[union-attr]  # ⌈N/B⌉, not opacus's ⌊1/q⌋
    private_module = GradSampleModule(module, batch_first=True, loss_reduction="mean")
    private_module.forbid_grad_accumulation()  # Poisson batches: one backward per step
    params = list(module.parameters())
    noise_gen = torch.Generator(device=params[0].device if params else "cpu").manual_seed(seed + 1)
    expected = max(1, round(q * n_users))
    private_optimizer = DPOptimizer(optimizer, noise_multiplier=sigma, max_grad_norm=float(max_grad_norm),
                                    expected_batch_size=expected, loss_reduction="mean", generator=noise_gen,
                                    secure_mode=False)
    accountant = RDPAccountant()
    private_optimizer.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate=q))
    if ledger is not None:
        # the multiplier is relative to the clipping norm C: noise sd = σ·C, sensitivity C
        ledger.record_gaussian(name, noise_multiplier=sigma, sensitivity=float(max_grad_norm), sample_rate=q,
                               steps=steps)
    return PrivateTraining(private_module, private_optimizer, loader, accountant, sigma, q, per_epoch, steps,
                           expected, float(delta))


class _Tupled(Dataset[tuple[torch.Tensor]]):
    """Serve a dataset's bare-tensor items as 1-tuples (opacus reads an item's parts to shape empty batches)."""

    def __init__(self, inner: Dataset) -> None:
        self.inner = inner

    def __len__(self) -> int:
        return len(self.inner)  # type: ignore[arg-type]

    def __getitem__(self, j: int) -> tuple[torch.Tensor]:
        return (self.inner[j],)


def _as_dataset(data: Dataset | torch.Tensor | sp.spmatrix | np.ndarray) -> Dataset:
    if isinstance(data, Dataset):
        if len(data) and isinstance(data[0], torch.Tensor):  # type: ignore[arg-type]
            return _Tupled(data)
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


def _positive_finite(value: object) -> bool:
    return bool(isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
                and math.isfinite(value) and value > 0)


def _check_int(arg: str, value: object, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ConfigError(f"{arg} must be an integer >= {lo}, got {value!r}")
