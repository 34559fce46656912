r"""`MultVAEGenerator`: a multinomial variational autoencoder over users' item vectors, used as a generator.

Model (Liang, Krishnan, Hoffman & Jebara 2018, "Variational Autoencoders for Collaborative Filtering",
WWW, §2): a user u with binary item vector x_u ∈ {0,1}^m and N_u = Σ_i x_ui items has a latent
z_u ~ N(0, I_K), and

    π(z_u) = softmax(f_θ(z_u)),     x_u ~ Mult(N_u, π(z_u))                             (eq. 1)

so log p_θ(x_u | z_u) = Σ_i x_ui log π_i(z_u) + const (eq. 2, the multinomial log-likelihood). The
encoder q_φ(z_u | x_u) = N(μ_φ(x_u), diag σ²_φ(x_u)) reads the L2-normalised x_u after dropout. Training
maximises the β-weighted evidence lower bound

    L_β(x_u; θ, φ) = E_q[log p_θ(x_u | z_u)] − β · KL(q_φ(z_u | x_u) ‖ N(0, I))          (eq. 6)

with one reparameterised sample z = μ + σ ⊙ ε per user and β annealed linearly from 0 to ``beta_max``
(§2.2.2). Architecture as in the paper (§4.3): m → ``hidden`` → K (tanh), decoder K → ``hidden`` → m.

**As a generator** (not the paper's use): a new user draws z ~ N(0, I) → π(z) = softmax(f_θ(z)); her
activity n_u comes from the fitted activity distribution (with her other traits, see
`synthrec.generators._preference`); her n_u distinct items are drawn from Mult(π(z)) without replacement
by Gumbel-top-k. Because new users come from the *prior*, ``beta_max`` defaults to 1 (the true ELBO):
the paper's β = 0.2 is tuned for ranking and leaves the aggregate posterior far from N(0, I), so prior
samples fall where the decoder was never trained.

**Early stopping** on the held-out users' (10 %, seeded) negative ELBO with β = 1 — an upper bound on
their negative log-likelihood per user — with a fixed ε, so the criterion is deterministic; the best
weights are restored.

**Differential privacy** (``epsilon`` finite): user-level (ε, δ)-DP. The network is trained with DP-SGD
(`synthrec.privacy.dp_sgd`): one example is one user's whole item vector, so clipping her gradient to
``max_grad_norm`` bounds her influence on each step; Poisson batches with q = B/N over all N users; no
hold-out and no early stopping (``dp_epochs`` epochs, planned before training). Dropout and the
reparameterisation noise are per example, so per-user clipping still holds. Activity, time and rating
models come from DP histograms; the budget split and every released statistic with its sensitivity are
listed in `synthrec.generators._preference` ("Differential privacy").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from synthrec.generators._preference import PreferenceGenerator, check_float, check_int
from synthrec.generators._torch import (
    DEFAULT_MEMORY_BUDGET_MB,
    EarlyStopping,
    PrivacyHook,
    check_memory,
    dense_rows,
    n_parameters,
    unwrap,
)


class NonzeroDropout(nn.Module):
    """Dropout of the non-zero entries of a sparse input: the same distribution as `nn.Dropout` on it
    (zeros stay zero), but draws one uniform per non-zero instead of one per cell — a batch × m Bernoulli
    draw dominated training time on large catalogues."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        nz = x != 0
        keep = (torch.rand(int(nz.sum()), device=x.device) >= self.p).to(x.dtype) / (1.0 - self.p)
        return x.masked_scatter(nz, x[nz] * keep)


class MultVAE(nn.Module):
    """The Mult-VAE network (Liang et al. 2018, §2 and §4.3). Input float ``(B, m)``; `forward` returns
    ``(logits (B, m), mu (B, K), logvar (B, K))``; in training mode z is a reparameterised sample, in
    eval mode z = μ."""

    def __init__(self, n_items: int, hidden: int, latent: int, dropout: float) -> None:
        super().__init__()
        self.drop = NonzeroDropout(dropout)
        self.encoder = nn.Sequential(nn.Linear(n_items, hidden), nn.Tanh())
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.Tanh(), nn.Linear(hidden, n_items))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(self.drop(F.normalize(x, dim=1)))
        return self.mu(h), self.logvar(h)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar


def elbo_terms(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-user negative multinomial log-likelihood −Σ_i x_i log softmax(logits)_i (Liang et al. eq. 2,
    without the constant multinomial coefficient) and KL(N(μ, diag e^{logvar}) ‖ N(0, I))
    = −½ Σ_k (1 + logvar_k − μ_k² − e^{logvar_k}) (Kingma & Welling 2014, App. B); both ``(B,)`` nats."""
    nll = -(F.log_softmax(logits, dim=1) * x).sum(dim=1)
    kl = -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
    return nll, kl


class MultVAEGenerator(PreferenceGenerator):
    """Mult-VAE generator (see the module docstring for the model, the sampling and the sources).

    Args:
        hidden: width of the encoder's and the decoder's hidden layer (paper: 600; default 200, see below).
        latent: K, dimension of z (paper: 200; default 64).
        dropout: input dropout of the encoder, in [0, 1) (paper: 0.5).
        beta_max: final β of the annealed ELBO (> 0; 1 = the true ELBO, see the module docstring).
        anneal_epochs: epochs over which β grows linearly from 0 to ``beta_max`` (≥ 0; 0 = no annealing).
        batch_size: users per training batch (≥ 1; paper: 500, default 64: more steps per epoch on
            small logs).
        lr: Adam learning rate (> 0; default 3e-3).
        weight_decay: Adam L2 penalty (≥ 0).
        max_epochs: epochs at most (≥ 1); training usually stops earlier (``patience``).
        patience: stop after this many epochs without a better validation ELBO (≥ 1).
        memory_budget_mb: refuse, before training, a batch × catalogue that would need more (MiB, > 0).
        chunk_users: users decoded at once while sampling (memory chunk × m floats; ≥ 1).
        device: ``None``/``"cpu"`` (default), ``"cuda[:i]"`` or ``"auto"``.
        seed: seeds the weights, dropout, batch order, validation hold-out and the trait model.
        dp_hook: optional `PrivacyHook` ``(module, optimizer, loader) -> (module, optimizer, loader)``
            applied once before training, e.g. opacus's ``PrivacyEngine.make_private`` (one user per
            example, so its per-example clipping is per user). Not saved with the generator. Your own
            accounting: for a guarantee that covers the whole fitted generator, use ``epsilon`` instead.
        epsilon: None or ``inf`` (default) for the exact fit; a finite ε > 0 for a user-level (ε, δ)-DP fit
            (module docstring) whose spend is ``privacy.epsilon`` (≤ ε).
        delta: δ ∈ (0, 1) of the DP fit; default min(10⁻⁵, N^−1.1) for N users (below 1/N).
        max_grad_norm: C > 0, the per-user gradient clipping norm of DP-SGD.
        dp_epochs: epochs of the DP fit, exactly (≥ 1; ``max_epochs`` and ``patience`` apply only to the
            exact fit).
        max_items_per_user: L ≥ 1, the cap on a user's rows in the DP item counts, order positions and
            rating table (not in DP-SGD, which bounds a user by clipping).
        rating_levels: the public rating scale of the DP fit (default: the log's distinct ratings, ≤ 64).

    Raises:
        ConfigError: an argument is out of range (the message names it and the valid range), or a finite
            ``epsilon`` together with ``dp_hook``.

    Fitted attributes: ``vae_`` (`MultVAE`, eval mode, on ``device_``), ``fit_report_`` (dict: epochs,
    best_epoch, valid_neg_elbo history (nats per user; empty under DP), train_loss history, seconds,
    early_stopping (bool), and under DP ``privacy``: the ledger, the target, the DP-SGD steps taken and
    each mechanism's ε alone), ``privacy`` (property: a `PrivacyGuarantee`), and those of
    `PreferenceGenerator` (trait, order, time, rating models).

    Measured (``benchmarks/deep_generators_ml100k.py``, ml-100k leave-last-out train, a shared 2-core
    machine): the defaults train in 13 s of CPU (1 thread, 73 epochs) with synthetic-only EASE at 0.76 of
    train-on-real NDCG@10 and popularity Gini 0.67 (real 0.63); the paper's sizes (600/200, batch 128,
    lr 1e-3) took 176 s of CPU and reached only 0.67. With β = 0.2 prior samples were nearly uniform
    (Gini 0.18).
    """

    _NETWORKS: ClassVar[tuple[str, ...]] = ("vae_",)

    def __init__(
        self,
        *,
        hidden: int = 200,
        latent: int = 64,
        dropout: float = 0.5,
        beta_max: float = 1.0,
        anneal_epochs: int = 20,
        batch_size: int = 64,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        max_epochs: int = 200,
        patience: int = 10,
        memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
        chunk_users: int = 1024,
        device: str | None = None,
        seed: int = 0,
        dp_hook: PrivacyHook | None = None,
        epsilon: float | None = None,
        delta: float | None = None,
        max_grad_norm: float = 1.0,
        dp_epochs: int = 20,
        max_items_per_user: int = 64,
        rating_levels: Sequence[float] | None = None,
    ) -> None:
        for name, value, lo in (("hidden", hidden, 1), ("latent", latent, 1), ("anneal_epochs", anneal_epochs, 0),
                                ("batch_size", batch_size, 1), ("max_epochs", max_epochs, 1),
                                ("patience", patience, 1), ("chunk_users", chunk_users, 1), ("seed", seed, 0)):
            check_int(name, value, lo)
        check_float("dropout", dropout, 0.0, 1.0, hi_open=True)
        check_float("beta_max", beta_max, 0.0, np.inf, lo_open=True)
        check_float("lr", lr, 0.0, np.inf, lo_open=True)
        check_float("weight_decay", weight_decay, 0.0, np.inf)
        self._set_shared_settings(memory_budget_mb=memory_budget_mb, chunk_users=chunk_users, device=device,
                                  seed=seed, dp_hook=dp_hook, epsilon=epsilon, delta=delta,
                                  max_grad_norm=max_grad_norm, dp_epochs=dp_epochs,
                                  max_items_per_user=max_items_per_user, rating_levels=rating_levels)
        self.hidden, self.latent, self.dropout = hidden, latent, float(dropout)
        self.beta_max, self.anneal_epochs = float(beta_max), anneal_epochs
        self.batch_size, self.lr, self.weight_decay = batch_size, float(lr), float(weight_decay)
        self.max_epochs, self.patience = max_epochs, patience

    def __repr__(self) -> str:
        state = "fitted" if self._fitted else "not fitted"
        dp = f", epsilon={self.epsilon}" if self.is_private else ""
        return (f"MultVAEGenerator(hidden={self.hidden}, latent={self.latent}, beta_max={self.beta_max}{dp}, "
                f"device={self.device!r}, {state})")

    def _build_network(self, name: str) -> nn.Module:
        return MultVAE(self.n_items_, self.hidden, self.latent, self.dropout)

    def _fit_network(self, x: sp.csr_matrix, train_rows: np.ndarray, valid_rows: np.ndarray) -> None:
        dev, m = self.device_, x.shape[1]
        private = self._dp_plan is not None
        started = time.perf_counter()
        with self._training_scope():
            model: nn.Module = MultVAE(m, self.hidden, self.latent, self.dropout)
            check_memory(min(self.batch_size, len(train_rows)), m, n_parameters(model), self.memory_budget_mb,
                         what="MultVAEGenerator", per_example_grads=private)
            model = model.to(dev)
            opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=self.lr,
                                                          weight_decay=self.weight_decay)
            model, opt, loader, epochs = self._training_loader(model, opt, x, train_rows)
            anneal_steps = max(1, self.anneal_epochs * len(loader))
            stopper = EarlyStopping(self.patience)
            early_stopping = len(valid_rows) > 0 and not private  # under DP: no held-out users, fixed epochs
            val_eps = torch.randn((len(valid_rows), self.latent), generator=torch.Generator().manual_seed(self.seed))
            train_loss: list[float] = []
            step = epoch = 0
            for epoch in range(epochs):
                model.train()
                total, count = 0.0, 0
                for batch in loader:
                    if isinstance(batch, (list, tuple)):  # DP loaders yield (batch,)
                        batch = batch[0]
                    batch = batch.to(dev)
                    beta = self.beta_max * min(1.0, step / anneal_steps) if self.anneal_epochs else self.beta_max
                    logits, mu, logvar = model(batch)
                    nll, kl = elbo_terms(logits, batch, mu, logvar)
                    loss = (nll + beta * kl).sum() / max(len(batch), 1)  # empty Poisson batches under DP
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step += 1
                    total += float(loss.detach()) * len(batch)
                    count += len(batch)
                train_loss.append(total / max(count, 1))
                if early_stopping and stopper.step(
                        self._valid_neg_elbo(unwrap(model), x, valid_rows, val_eps), epoch, model):
                    break
            if early_stopping:
                stopper.restore(model)
        net = self._released(model, private=private)
        assert isinstance(net, MultVAE)
        self.vae_: MultVAE = net
        self.fit_report_: dict[str, Any] = {
            "epochs": epoch + 1, "best_epoch": stopper.best_epoch if early_stopping else epoch,
            "valid_neg_elbo": stopper.history, "train_loss": train_loss, "early_stopping": early_stopping,
            "seconds": round(time.perf_counter() - started, 3),
        }

    @torch.no_grad()
    def _valid_neg_elbo(self, model: nn.Module, x: sp.csr_matrix, rows: np.ndarray, eps: torch.Tensor) -> float:
        """Mean negative ELBO (β = 1) of the held-out users, nats per user, with fixed noise ``eps``."""
        assert isinstance(model, MultVAE)
        model.eval()
        total = 0.0
        for lo in range(0, len(rows), self.chunk_users):
            xb = dense_rows(x, rows[lo:lo + self.chunk_users], self.device_)
            mu, logvar = model.encode(xb)
            z = mu + eps[lo:lo + len(xb)].to(self.device_) * torch.exp(0.5 * logvar)
            nll, kl = elbo_terms(model.decoder(z), xb, mu, logvar)
            total += float((nll + kl).sum())
        return total / len(rows)

    def _new_user_logits(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((n, self.latent), dtype=np.float32)
        return self._run(self.vae_.decoder, z)

    @torch.no_grad()
    def _real_pair_scores(self, x: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Decoder logit f_θ(μ_φ(x_u))_i of each real pair; ``users`` grouped ascending."""
        out = np.empty(len(users), np.float32)
        bounds = np.searchsorted(users, np.arange(0, x.shape[0] + self.chunk_users, self.chunk_users))
        for c, lo in enumerate(range(0, x.shape[0], self.chunk_users)):
            rows = np.arange(lo, min(lo + self.chunk_users, x.shape[0]))
            mu, _ = self.vae_.encode(dense_rows(x, rows, self.device_))
            logits = self.vae_.decoder(mu).float().cpu().numpy()
            a, b = bounds[c], bounds[c + 1]
            out[a:b] = logits[users[a:b] - lo, items[a:b]]
        return out


