"""Shared torch plumbing of the deep generators (`synthrec.generators.vae`, `synthrec.generators.gan`).

* `resolve_device`, `seeded`: re-exported from `synthrec._torch` (one implementation for models and
  generators): device choice with a clear error; a context that seeds torch and, on CUDA, turns on
  deterministic algorithms *locally* (restored after).
* `check_memory`: refuses up front a batch × catalogue size that would exceed a memory budget.
* `CsrRows` / `make_loader` / `dense_rows`: users' binary item vectors from a CSR matrix, one user per
  example, densified per batch (memory: batch × n_items floats). Users are rows, items are columns: no
  id is ever one-hot encoded (PITFALLS P14).
* `split_users`: the seeded 10 % validation hold-out of users.
* `EarlyStopping`: keeps the best weights by a validation criterion.
* `cpu_state` / `unwrap`: state dicts that load on any device; unwrapping of opacus-style wrappers.

The training loops that use these are plain: one user per example, a standard optimizer and a standard
`torch.utils.data.DataLoader`, so a DP-SGD wrapper such as opacus's ``PrivacyEngine.make_private`` can
replace (module, optimizer, data_loader) before training.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from synthrec._torch import resolve_device, seeded
from synthrec.errors import ConfigError

__all__ = [
    "DEFAULT_MEMORY_BUDGET_MB", "CsrRows", "EarlyStopping", "PrivacyHook", "check_memory", "cpu_state",
    "dense_rows", "estimate_memory_bytes", "load_device", "load_network", "make_loader", "n_parameters",
    "resolve_device", "seeded", "split_users", "unwrap",
]

#: default budget for the dense per-batch tensors and the parameters of one deep generator, in MiB
DEFAULT_MEMORY_BUDGET_MB = 2048

#: A hook that makes training differentially private: it receives the module that sees real users, its
#: optimizer and the real-data loader, and returns replacements (e.g. opacus's
#: ``lambda m, o, dl: engine.make_private(module=m, optimizer=o, data_loader=dl, ...)``).
PrivacyHook = Callable[
    [nn.Module, torch.optim.Optimizer, DataLoader],
    tuple[nn.Module, torch.optim.Optimizer, DataLoader],
]


def estimate_memory_bytes(
    batch_rows: int, n_items: int, n_params: int, *, dense_copies: int = 8, per_example_grads: bool = False
) -> int:
    """Rough peak bytes of one training step: ``dense_copies`` float32 (batch × n_items) tensors
    (input, logits, softmax, their gradients, ...) plus 4 float32 copies of the parameters (weights,
    gradients, two Adam moments), plus — under DP-SGD (``per_example_grads``) — one float32 gradient of
    every parameter per example of the batch (opacus keeps per-example gradients to clip them)."""
    per_example = batch_rows * n_params if per_example_grads else 0
    return 4 * (dense_copies * batch_rows * n_items + 4 * n_params + per_example)


def check_memory(
    batch_rows: int, n_items: int, n_params: int, budget_mb: float, *, what: str, per_example_grads: bool = False
) -> None:
    """Raise before training when `estimate_memory_bytes` exceeds ``budget_mb`` MiB.

    Raises:
        ConfigError: naming the batch size, the catalogue size and what to change.
    """
    need = estimate_memory_bytes(batch_rows, n_items, n_params, per_example_grads=per_example_grads)
    if need > budget_mb * 2**20:
        dp = " and per-user gradients (DP-SGD)" if per_example_grads else ""
        raise ConfigError(
            f"{what}: a batch of {batch_rows:,} users × {n_items:,} items with {n_params:,} parameters{dp} needs "
            f"about {need / 2**20:,.0f} MiB, over the memory budget of {budget_mb:,.0f} MiB; lower batch_size or "
            "the hidden sizes, filter rare items, or raise memory_budget_mb"
        )


class CsrRows(Dataset[torch.Tensor]):
    """Dataset of users' binary item vectors: example ``j`` is row ``rows[j]`` of ``x`` as a dense
    float32 tensor ``(n_items,)`` (1 where the user interacted). Only the CSR arrays are stored."""

    def __init__(self, x: sp.csr_matrix, rows: np.ndarray) -> None:
        self.indptr = np.asarray(x.indptr, np.int64)
        self.indices = torch.from_numpy(np.asarray(x.indices, np.int64))
        self.rows = np.asarray(rows, np.int64)
        self.n_items = int(x.shape[1])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, j: int) -> torch.Tensor:
        r = self.rows[j]
        out = torch.zeros(self.n_items, dtype=torch.float32)
        out[self.indices[self.indptr[r]:self.indptr[r + 1]]] = 1.0
        return out


def make_loader(dataset: CsrRows, batch_size: int, seed: int) -> DataLoader:
    """A shuffling DataLoader (single process) whose order depends only on ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=gen, num_workers=0)


def dense_rows(x: sp.csr_matrix, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows ``rows`` of a binary CSR matrix as a dense float32 tensor ``(len(rows), n_items)`` on ``device``."""
    sub = x[np.asarray(rows, np.int64)].tocoo()
    out = torch.zeros((len(rows), x.shape[1]), dtype=torch.float32)
    out[torch.from_numpy(sub.row.astype(np.int64)), torch.from_numpy(sub.col.astype(np.int64))] = 1.0
    return out.to(device)


def split_users(n_users: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded hold-out of ``round(fraction · n)`` users (none when fewer than 10 users).

    Returns ``(train_rows, valid_rows)``, sorted int64 arrays partitioning ``0..n_users-1``.
    """
    n_valid = round(fraction * n_users) if n_users >= 10 else 0
    perm = np.random.default_rng(seed).permutation(n_users)
    return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])


class EarlyStopping:
    """Stop when the validation criterion (lower is better) has not improved by ``min_delta`` for
    ``patience`` checks; `best_state` holds a CPU copy of the best weights seen.

    Attributes:
        best: best criterion value so far (``inf`` before the first check).
        best_epoch: epoch (0-based) of ``best``; -1 before the first check.
        history: every checked value, in order.
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best = float("inf")
        self.best_epoch = -1
        self.best_state: dict[str, torch.Tensor] | None = None
        self.history: list[float] = []

    def step(self, value: float, epoch: int, *modules: nn.Module) -> bool:
        """Record ``value`` for ``epoch``; keep the modules' weights if it is the best; True = stop now."""
        self.history.append(value)
        if np.isfinite(value) and value < self.best - self.min_delta:
            self.best, self.best_epoch = value, epoch
            self.best_state = {
                f"{i}.{k}": v for i, m in enumerate(modules) for k, v in cpu_state(m).items()
            }
            return False
        return epoch - self.best_epoch >= self.patience

    def restore(self, *modules: nn.Module) -> None:
        """Load the best weights back into ``modules`` (the same modules, in the same order, as `step`)."""
        if self.best_state is None:
            return
        for i, m in enumerate(modules):
            prefix = f"{i}."
            unwrap(m).load_state_dict({k[len(prefix):]: v for k, v in self.best_state.items()
                                       if k.startswith(prefix)})


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside wrappers that keep it as ``_module`` (opacus's GradSampleModule, DDP)."""
    while isinstance(getattr(module, "_module", None), nn.Module):
        module = module._module  # type: ignore[assignment]
    return module


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the (unwrapped) module's state dict: saved as plain tensors, loads anywhere."""
    return {k: v.detach().to("cpu", copy=True) for k, v in unwrap(module).state_dict().items()}


def load_network(module: nn.Module, state: dict[str, torch.Tensor], device: torch.device) -> nn.Module:
    """Load a `cpu_state` into a freshly built module, move it to ``device``, set eval mode."""
    module.load_state_dict(state)
    return module.to(device).eval()


def load_device(saved: str | None) -> torch.device:
    """The device to restore a saved generator on: the saved one, or CPU (with a warning) when unavailable."""
    try:
        return resolve_device(saved)
    except ConfigError:
        warnings.warn(f"generator was fitted with device={saved!r}, unavailable here; loading it on the CPU",
                      UserWarning, stacklevel=3)
        return torch.device("cpu")


def n_parameters(*modules: nn.Module) -> int:
    """Total number of parameters of ``modules``."""
    return sum(p.numel() for m in modules for p in m.parameters())

