r"""`CFGANGenerator`: a Wasserstein GAN over users' item vectors, with a mode-collapse report.

**Which CFGAN.** CFGAN (Chae, Kang, Kim & Lee 2018, "CFGAN: A Generic Collaborative Filtering Framework
based on Generative Adversarial Networks", CIKM) generates a *real-valued purchase vector* for a user
instead of discrete item ids — the idea we keep. Its generator is, however, *conditioned on the user's
own purchase vector* c_u, and its ZR (zero-reconstruction) and PM (partial-masking) tricks need that
pairing: ZR pulls G(z, c_u) to 0 on items u did not buy, PM masks G(z, c_u) with u's purchases. A
generator of NEW users has no c_u to condition on (conditioning on a real user's vector reproduces that
user), and Pérez Maurera, Ferrari Dacrema & Cremonesi (2022, "An evaluation of GANs for collaborative
filtering", RecSys reproducibility track) showed the conditional CFGAN degenerating into an autoencoder of
c_u that ignores its noise. We therefore train an **unconditional** generator G(z), z ~ N(0, I), with
the **WGAN-GP** objective (Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017, "Improved Training of
Wasserstein GANs", NeurIPS, Alg. 1 and eq. 3):

    L_D = E_z[D(G̃(z))] − E_x[D(x)] + λ · E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²],   x̂ = α x + (1 − α) G̃(z), α ~ U(0, 1)
    L_G = −E_z[D(G̃(z))]

where x is a real user's binary item vector, G̃(z) = sigmoid(G(z)) ∈ (0, 1)^m is the generated
preference vector (CFGAN's real-valued purchase vector), ``n_critic`` critic steps per generator step,
Adam(lr, β₁ = 0.5, β₂ = 0.9). The Wasserstein critic keeps giving useful gradients on sparse,
high-dimensional binary vectors where CFGAN's saturating BCE discriminator does not, and it needs no
conditioning. Under DP-SGD (``epsilon`` or ``dp_hook``) the gradient penalty's double backward is not
supported by per-example-gradient hooks, so ``gradient_penalty=0`` is required and the critic's weights
are clipped to ±``clip_value`` instead (the original WGAN, Arjovsky, Chintala & Bottou 2017, ICML, Alg. 1).

**Differential privacy** (``epsilon`` finite): user-level (ε, δ)-DP as in DP-GAN training (Xie, Lin,
Wang, Wang & Zhou 2018, "Differentially private generative adversarial network", arXiv:1802.06739,
Alg. 1). Only the critic reads real users, so only the critic is trained with DP-SGD
(`synthrec.privacy.dp_sgd`): Poisson batches of real users with q = B/N over all N users, one example
per user. Each critic step scores the batch's b fake rows and b real rows in *one* forward pass (per-
example gradients need a single pass per step); every row's gradient is clipped to ``max_grad_norm`` and
a real user appears in exactly one row, so a step's L2 sensitivity is the clipping norm. Weight clipping
and the generator's updates only read the critic's (already private) weights: post-processing. No hold-out
and no early stopping (``dp_epochs`` epochs); the fit-time mode-collapse report is skipped (it reads real
users; call `CFGANGenerator.collapse_report` yourself as an audit). Activity, time and rating models come
from DP histograms (`synthrec.generators._preference`, "Differential privacy", lists every release).

**As a generator.** A new user draws z ~ N(0, I), gets the preference vector p = G̃(z), an activity n_u
from the fitted activity distribution (with her other traits, `synthrec.generators._preference`), and n_u
distinct items by Gumbel-top-k on log p (without replacement, each next item drawn with probability
∝ p_i among the rest).

**Early stopping** on a validation likelihood: the held-out users' (10 %, seeded) multinomial
log-likelihood under the generator's mixture, estimated with K fixed noise draws,
log p(x) ≈ log (1/K) Σ_k Π_i π_ki^{x_i} with π_k = p_k / Σ_i p_ki (a Monte-Carlo estimate with the prior
as proposal; the multinomial coefficient is dropped, as it does not depend on the model).

**Mode collapse** is measured, not hidden: `mode_collapse_report` compares generated users' diversity to
real users' (see its docstring); `fit` stores it as ``collapse_report_`` and warns with
`ModeCollapseWarning` when it flags collapse.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from synthrec.data.interactions import InteractionData
from synthrec.data.stats import jaccard_nearest
from synthrec.errors import ConfigError, DataValidationError
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

#: collapse when generated users are more than this many times as similar to each other as real users are
JACCARD_RATIO_LIMIT = 2.0
#: collapse when more than this share of generated users nearly copy a real user (Jaccard > 0.9)
NEAR_COPY_LIMIT = 0.05
#: Jaccard similarity above which a generated user counts as a near copy of a real one
NEAR_COPY_JACCARD = 0.9
#: collapse when fewer than this share of generated users have their own set of top items
DISTINCT_TOP_LIMIT = 0.5


class ModeCollapseWarning(UserWarning):
    """A generator's outputs are far less diverse than the real users, or copy them (see
    `mode_collapse_report`)."""


class PreferenceNet(nn.Module):
    """G: noise ``(B, d)`` → item logits ``(B, m)``; the preference vector is their sigmoid."""

    def __init__(self, noise_dim: int, hidden: int, n_items: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(noise_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_items))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Critic(nn.Module):
    """D: item vector ``(B, m)`` in [0, 1] → score ``(B,)`` (no normalisation layers: the gradient
    penalty is per example, and DP-SGD forbids batch statistics)."""

    def __init__(self, n_items: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_items, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, max(hidden // 2, 1)), nn.LeakyReLU(0.2),
                                 nn.Linear(max(hidden // 2, 1), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


@dataclass(frozen=True)
class CollapseReport:
    """Diversity of generated users against real users (see `mode_collapse_report`).

    Attributes:
        n_generated: generated users compared (active ones).
        mean_jaccard_generated: mean Jaccard similarity over pairs of distinct generated users.
        mean_jaccard_real: the same over pairs of distinct real users.
        jaccard_ratio: generated / real (∞ when real users share nothing and generated users do).
        near_copy_share: share of generated users whose nearest real user has Jaccard > 0.9.
        distinct_top_sets: number of distinct sets of the top-``top_k`` items of the preference vectors.
        distinct_top_share: ``distinct_top_sets / n_preferences``.
        collapsed: True when any limit is crossed (``reasons`` says which).
        reasons: one readable sentence per crossed limit.
    """

    n_generated: int
    mean_jaccard_generated: float
    mean_jaccard_real: float
    jaccard_ratio: float
    near_copy_share: float
    distinct_top_sets: int
    distinct_top_share: float
    collapsed: bool
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Flat dict for results.json (``reasons`` as a list)."""
        out = asdict(self)
        out["reasons"] = list(self.reasons)
        return out


def mean_pairwise_jaccard(data: InteractionData, *, max_users: int = 500, seed: int = 0) -> float:
    """Mean Jaccard similarity |A ∩ B| / |A ∪ B| over pairs of distinct active users (item sets).

    Uses a seeded random subset of at most ``max_users`` active users (memory ``max_users²`` floats).
    NaN with fewer than two active users.
    """
    x = data.to_csr().astype(np.float64)
    active = np.flatnonzero(np.diff(x.indptr))
    if len(active) < 2:
        return float("nan")
    if len(active) > max_users:
        active = np.sort(np.random.default_rng(seed).choice(active, max_users, replace=False))
    sub = x[active]
    inter = (sub @ sub.T).toarray()
    size = np.diff(sub.indptr).astype(np.float64)
    jac = inter / (size[:, None] + size[None, :] - inter)
    off = ~np.eye(len(active), dtype=bool)
    return float(jac[off].mean())


def mode_collapse_report(
    preferences: np.ndarray,
    generated: InteractionData,
    real: InteractionData,
    *,
    top_k: int = 10,
    max_users: int = 500,
    seed: int = 0,
) -> CollapseReport:
    """Measure mode collapse of a generator from its preference vectors and its sampled users.

    Three symptoms (Pérez Maurera et al. 2022 found CFGAN reproducing its input users; a GAN whose output
    ignores its noise produces one user over and over):

    1. *Low diversity*: mean pairwise Jaccard among generated users / the same among real users
       (`mean_pairwise_jaccard`); collapsed when > ``JACCARD_RATIO_LIMIT`` (2).
    2. *Copies*: share of generated users whose nearest real user (Jaccard,
       `synthrec.data.stats.jaccard_nearest`) has similarity > 0.9; collapsed when >
       ``NEAR_COPY_LIMIT`` (5 %).
    3. *Noise ignored*: number of distinct sets of the ``top_k`` highest-scoring items over the preference
       vectors; collapsed when fewer than ``DISTINCT_TOP_LIMIT`` (50 %) of the vectors have their own set.

    Args:
        preferences: float ``(N, m)`` the generator's item preferences for N new users (any monotone
            scale: probabilities or logits).
        generated: sampled synthetic users over the real catalogue.
        real: the real users (usually the fitted data).
        top_k: size of the top-item sets (clipped to m).
        max_users: users per side in the pairwise Jaccard means and the near-copy search.
        seed: seeds the subsets.

    Raises:
        DataValidationError: the catalogues differ, ``preferences`` is not 2-D over m items, or a log has
            no active user.
        ConfigError: ``top_k`` or ``max_users`` < 1.
    """
    check_int("top_k", top_k, 1)
    check_int("max_users", max_users, 2)
    prefs = np.asarray(preferences)
    if prefs.ndim != 2 or prefs.shape[1] != real.n_items or prefs.shape[0] == 0:
        raise DataValidationError(f"preferences must be a non-empty (N, {real.n_items}) array, got shape "
                                  f"{prefs.shape}", hint="pass generator.preferences(n, seed=...)")
    k = min(top_k, prefs.shape[1])
    top = np.sort(np.argpartition(-prefs, k - 1, axis=1)[:, :k], axis=1)
    distinct = len(np.unique(top, axis=0))
    distinct_share = distinct / prefs.shape[0]
    sub = _subset_users(generated, max_users, seed)
    nearest, _ = jaccard_nearest(sub, real)
    near_copy = float(np.mean(1.0 - nearest > NEAR_COPY_JACCARD)) if len(nearest) else float("nan")
    jac_gen = mean_pairwise_jaccard(generated, max_users=max_users, seed=seed)
    jac_real = mean_pairwise_jaccard(real, max_users=max_users, seed=seed)
    ratio = jac_gen / jac_real if jac_real > 0 else (float("inf") if jac_gen > 0 else float("nan"))
    reasons = []
    if ratio > JACCARD_RATIO_LIMIT:
        reasons.append(f"generated users are {ratio:.1f}× as similar to each other as real users "
                       f"(mean Jaccard {jac_gen:.3f} vs {jac_real:.3f}; limit {JACCARD_RATIO_LIMIT}×)")
    if near_copy > NEAR_COPY_LIMIT:
        reasons.append(f"{near_copy:.0%} of generated users nearly copy a real user (Jaccard > "
                       f"{NEAR_COPY_JACCARD}; limit {NEAR_COPY_LIMIT:.0%})")
    if distinct_share < DISTINCT_TOP_LIMIT:
        reasons.append(f"only {distinct} distinct top-{k} item sets among {prefs.shape[0]} generated users "
                       f"(limit {DISTINCT_TOP_LIMIT:.0%}): the output ignores its noise")
    return CollapseReport(
        n_generated=len(nearest), mean_jaccard_generated=jac_gen, mean_jaccard_real=jac_real,
        jaccard_ratio=float(ratio), near_copy_share=near_copy, distinct_top_sets=distinct,
        distinct_top_share=distinct_share, collapsed=bool(reasons), reasons=tuple(reasons),
    )


def _subset_users(data: InteractionData, max_users: int, seed: int) -> InteractionData:
    active = data.active_users()
    if len(active) <= max_users:
        return data
    keep = np.sort(np.random.default_rng(seed).choice(active, max_users, replace=False))
    return data.filter_users(keep)


class CFGANGenerator(PreferenceGenerator):
    """Unconditional WGAN-GP generator of item-preference vectors (module docstring: model, choice, sources).

    Args:
        noise_dim: dimension of z (≥ 1).
        hidden: width of the generator's two hidden layers (≥ 1).
        critic_hidden: width of the critic's first hidden layer (the second is half; ≥ 2).
        batch_size: real users per critic step (≥ 1).
        n_critic: critic steps per generator step (≥ 1; WGAN-GP: 5).
        gradient_penalty: λ (≥ 0; WGAN-GP: 10). Must be 0 with ``dp_hook`` or a finite ``epsilon`` (then
            weights are clipped).
        clip_value: critic weight clipping when ``gradient_penalty == 0`` (> 0).
        lr: Adam learning rate of both networks (> 0); betas (0.5, 0.9).
        max_epochs: passes of the real users through the critic, at most (≥ 1).
        patience: stop after this many epochs without a better validation likelihood (≥ 1).
        valid_samples: K, noise draws in the validation likelihood (≥ 1).
        collapse_users: generated users in the fit-time `mode_collapse_report` (≥ 2).
        memory_budget_mb: refuse, before training, a batch × catalogue that would need more (MiB, > 0).
        chunk_users: users generated at once while sampling (≥ 1).
        device: ``None``/``"cpu"`` (default), ``"cuda[:i]"`` or ``"auto"``.
        seed: seeds weights, noise, batch order, validation hold-out and the trait model.
        dp_hook: optional `PrivacyHook` applied once to (critic, critic optimizer, real-data loader) — the
            critic is the only part that sees real users. Not saved with the generator. Your own
            accounting: for a guarantee that covers the whole fitted generator, use ``epsilon`` instead.
        epsilon: None or ``inf`` (default) for the exact fit; a finite ε > 0 for a user-level (ε, δ)-DP fit
            (module docstring) whose spend is ``privacy.epsilon`` (≤ ε). Needs ``gradient_penalty=0``.
        delta: δ ∈ (0, 1) of the DP fit; default min(10⁻⁵, N^−1.1) for N users (below 1/N).
        max_grad_norm: C > 0, the per-row gradient clipping norm of the critic's DP-SGD.
        dp_epochs: epochs of the DP fit, exactly (≥ 1; ``max_epochs`` and ``patience`` apply only to the
            exact fit).
        max_items_per_user: L ≥ 1, the cap on a user's rows in the DP item counts, order positions and
            rating table.
        rating_levels: the public rating scale of the DP fit (default: the log's distinct ratings, ≤ 64).

    Raises:
        ConfigError: an argument is out of range, ``dp_hook`` or a finite ``epsilon`` with
            ``gradient_penalty > 0``, or both ``dp_hook`` and a finite ``epsilon``.

    Fitted attributes: ``generator_`` (`PreferenceNet`), ``critic_`` (`Critic`), ``fit_report_`` (epochs,
    best_epoch, valid_log_likelihood history (nats per user; empty under DP), critic/generator losses,
    early_stopping, seconds, and under DP ``privacy``), ``collapse_report_`` (`CollapseReport` on the
    fitted data; None under DP), ``privacy`` (property: a `PrivacyGuarantee`), and those of
    `PreferenceGenerator`.
    """

    _NETWORKS: ClassVar[tuple[str, ...]] = ("generator_", "critic_")

    def __init__(
        self,
        *,
        noise_dim: int = 64,
        hidden: int = 128,
        critic_hidden: int = 128,
        batch_size: int = 64,
        n_critic: int = 5,
        gradient_penalty: float = 10.0,
        clip_value: float = 0.01,
        lr: float = 5e-4,
        max_epochs: int = 200,
        patience: int = 30,
        valid_samples: int = 256,
        collapse_users: int = 500,
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
        for name, value, lo in (("noise_dim", noise_dim, 1), ("hidden", hidden, 1), ("critic_hidden", critic_hidden, 2),
                                ("batch_size", batch_size, 1), ("n_critic", n_critic, 1),
                                ("max_epochs", max_epochs, 1), ("patience", patience, 1),
                                ("valid_samples", valid_samples, 1), ("collapse_users", collapse_users, 2),
                                ("chunk_users", chunk_users, 1), ("seed", seed, 0)):
            check_int(name, value, lo)
        check_float("gradient_penalty", gradient_penalty, 0.0, np.inf)
        check_float("clip_value", clip_value, 0.0, np.inf, lo_open=True)
        check_float("lr", lr, 0.0, np.inf, lo_open=True)
        self._set_shared_settings(memory_budget_mb=memory_budget_mb, chunk_users=chunk_users, device=device,
                                  seed=seed, dp_hook=dp_hook, epsilon=epsilon, delta=delta,
                                  max_grad_norm=max_grad_norm, dp_epochs=dp_epochs,
                                  max_items_per_user=max_items_per_user, rating_levels=rating_levels)
        for what, on in (("dp_hook", dp_hook is not None),
                         ("a finite epsilon", epsilon is not None and np.isfinite(epsilon))):
            if on and gradient_penalty > 0:
                raise ConfigError(f"{what} needs gradient_penalty=0: per-example gradient hooks (DP-SGD) do not "
                                  "support the penalty's double backward; the critic is then weight-clipped "
                                  "to ±clip_value (pass gradient_penalty=0.0, and e.g. clip_value=0.01)")
        self.noise_dim, self.hidden, self.critic_hidden = noise_dim, hidden, critic_hidden
        self.batch_size, self.n_critic = batch_size, n_critic
        self.gradient_penalty, self.clip_value, self.lr = float(gradient_penalty), float(clip_value), float(lr)
        self.max_epochs, self.patience, self.valid_samples = max_epochs, patience, valid_samples
        self.collapse_users = collapse_users

    def __repr__(self) -> str:
        state = "fitted" if self._fitted else "not fitted"
        dp = f", epsilon={self.epsilon}" if self.is_private else ""
        return (f"CFGANGenerator(noise_dim={self.noise_dim}, hidden={self.hidden}, "
                f"gradient_penalty={self.gradient_penalty}{dp}, device={self.device!r}, {state})")

    def _build_network(self, name: str) -> nn.Module:
        if name == "critic_":
            return Critic(self.n_items_, self.critic_hidden)
        return PreferenceNet(self.noise_dim, self.hidden, self.n_items_)

    # ------------------------------------------------------------------ fit

    def fit(self, data: InteractionData) -> CFGANGenerator:
        """Fit (the `BaseGenerator.fit` template, `PreferenceGenerator._fit`), then measure mode collapse on
        ``data`` (it samples, so it runs on the fitted generator, after the template).

        Under DP the report is skipped (``collapse_report_`` is None): it reads the real users, and the
        fitted generator must hold nothing but DP releases.

        Warns:
            ModeCollapseWarning: `mode_collapse_report` flags collapse (its reasons are in the message).
        """
        super().fit(data)
        self.collapse_report_: CollapseReport | None = None
        if self.is_private:
            return self
        self.collapse_report_ = self.collapse_report(data, n_users=self.collapse_users, seed=self.seed)
        if self.collapse_report_.collapsed:
            warnings.warn("CFGANGenerator looks mode-collapsed: " + "; ".join(self.collapse_report_.reasons),
                          ModeCollapseWarning, stacklevel=2)
        return self

    def collapse_report(self, real: InteractionData, *, n_users: int = 500, seed: int = 0) -> CollapseReport:
        """`mode_collapse_report` of ``n_users`` new users (preferences and samples drawn with ``seed``)
        against ``real`` (usually the fitted data)."""
        self._require_fitted()
        check_int("n_users", n_users, 2)
        return mode_collapse_report(self.preferences(n_users, seed=seed), self.sample(n_users, seed=seed), real,
                                    max_users=n_users, seed=seed)

    def _fit_network(self, x: sp.csr_matrix, train_rows: np.ndarray, valid_rows: np.ndarray) -> None:
        dev, m = self.device_, x.shape[1]
        private = self._dp_plan is not None
        started = time.perf_counter()
        with self._training_scope():
            gen: nn.Module = PreferenceNet(self.noise_dim, self.hidden, m)
            critic: nn.Module = Critic(m, self.critic_hidden)
            # under DP the critic sees 2b rows per step (fake and real) and keeps a gradient per row
            check_memory(min(self.batch_size, len(train_rows)) * (2 if private else 1), m,
                         n_parameters(gen, critic), self.memory_budget_mb, what="CFGANGenerator",
                         per_example_grads=private)
            gen, critic = gen.to(dev), critic.to(dev)
            opt_g = torch.optim.Adam(gen.parameters(), lr=self.lr, betas=(0.5, 0.9))
            opt_d: torch.optim.Optimizer = torch.optim.Adam(critic.parameters(), lr=self.lr, betas=(0.5, 0.9))
            critic, opt_d, loader, epochs = self._training_loader(critic, opt_d, x, train_rows)
            stopper = EarlyStopping(self.patience)
            early_stopping = len(valid_rows) > 0 and not private  # under DP: no held-out users, fixed epochs
            val_noise = torch.randn((self.valid_samples, self.noise_dim),
                                    generator=torch.Generator().manual_seed(self.seed))
            d_hist: list[float] = []
            g_hist: list[float] = []
            steps = epoch = 0
            for epoch in range(epochs):
                gen.train()
                critic.train()
                d_sum = g_sum = 0.0
                n_d = n_g = 0
                for real in loader:
                    if isinstance(real, (list, tuple)):  # DP loaders yield (batch,)
                        real = real[0]
                    real = real.to(dev)
                    b = len(real)
                    with torch.no_grad():
                        fake = torch.sigmoid(gen(torch.randn((max(b, 1), self.noise_dim), device=dev)))[:b]
                    if private:  # one pass over the 2b rows: one per-example gradient per row
                        scores = critic(torch.cat([fake, real]))
                        loss_d = (scores[:b].sum() - scores[b:].sum()) / max(2 * b, 1)
                    else:
                        loss_d = (critic(fake).sum() - critic(real).sum()) / max(b, 1)
                    if self.gradient_penalty > 0 and b > 0:
                        loss_d = loss_d + self.gradient_penalty * _gradient_penalty(critic, real, fake)
                    opt_d.zero_grad(set_to_none=True)
                    loss_d.backward()
                    opt_d.step()
                    if self.gradient_penalty == 0:
                        with torch.no_grad():
                            for p in critic.parameters():
                                p.clamp_(-self.clip_value, self.clip_value)
                    d_sum, n_d, steps = d_sum + float(loss_d.detach()), n_d + 1, steps + 1
                    if steps % self.n_critic == 0:
                        z = torch.randn((self.batch_size, self.noise_dim), device=dev)
                        with _frozen(critic):
                            loss_g = -critic(torch.sigmoid(gen(z))).mean()
                            opt_g.zero_grad(set_to_none=True)
                            loss_g.backward()
                        opt_g.step()
                        g_sum, n_g = g_sum + float(loss_g.detach()), n_g + 1
                d_hist.append(d_sum / max(n_d, 1))
                g_hist.append(g_sum / max(n_g, 1) if n_g else float("nan"))
                if early_stopping and stopper.step(
                        -self._valid_log_likelihood(unwrap(gen), x, valid_rows, val_noise), epoch, gen, critic):
                    break
            if early_stopping:
                stopper.restore(gen, critic)
        self.generator_ = self._released(gen, private=False)
        self.critic_ = self._released(critic, private=private)  # only the critic sees real users
        self.fit_report_: dict[str, Any] = {
            "epochs": epoch + 1, "best_epoch": stopper.best_epoch if early_stopping else epoch,
            "valid_log_likelihood": [-v for v in stopper.history], "critic_loss": d_hist,
            "generator_loss": g_hist, "early_stopping": early_stopping,
            "seconds": round(time.perf_counter() - started, 3),
        }

    @torch.no_grad()
    def _valid_log_likelihood(self, gen: nn.Module, x: sp.csr_matrix, rows: np.ndarray, noise: torch.Tensor) -> float:
        """Mean over held-out users of log (1/K) Σ_k Π_i π_ki^{x_i} (module docstring), nats per user."""
        gen.eval()
        log_p = F.logsigmoid(gen(noise.to(self.device_)))  # (K, m)
        log_pi = log_p - torch.logsumexp(log_p, dim=1, keepdim=True)
        total = 0.0
        for lo in range(0, len(rows), self.chunk_users):
            xb = dense_rows(x, rows[lo:lo + self.chunk_users], self.device_)
            ll = xb @ log_pi.T  # (B, K)
            total += float((torch.logsumexp(ll, dim=1) - np.log(len(noise))).sum())
        gen.train()
        return total / len(rows)

    # ------------------------------------------------------------------ sampling

    def _new_user_logits(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((n, self.noise_dim), dtype=np.float32)
        return self._run(_LogSigmoid(self.generator_), z)

    @torch.no_grad()
    def _real_pair_scores(self, x: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """log of the mean preference p̄_i over 1,024 seeded noise draws: the GAN has no encoder, so a real
        pair's score is the item's overall generated preference (ranked within the user)."""
        z = np.random.default_rng(self.seed).standard_normal((1024, self.noise_dim), dtype=np.float32)
        mean_p = np.exp(self._run(_LogSigmoid(self.generator_), z)).mean(axis=0)
        return np.log(np.maximum(mean_p, 1e-30))[items].astype(np.float32)


class _LogSigmoid(nn.Module):
    """log sigmoid(G(z)): the log-preference used as Gumbel-top-k logits."""

    def __init__(self, gen: nn.Module) -> None:
        super().__init__()
        self.gen = gen

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.logsigmoid(self.gen(z))


@contextmanager
def _frozen(critic: nn.Module) -> Iterator[None]:
    """The critic as a fixed function during a generator step: its parameters collect no gradient and a
    per-example-gradient wrapper (opacus) records nothing, so the next private critic step starts clean."""
    params = [p for p in critic.parameters() if p.requires_grad]
    hooks = getattr(critic, "disable_hooks", None) is not None
    for p in params:
        p.requires_grad_(False)
    if hooks:
        critic.disable_hooks()  # type: ignore[operator]
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
        if hooks:
            critic.enable_hooks()  # type: ignore[operator]


def _gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[(‖∇_x̂ D(x̂)‖₂ − 1)²] at x̂ = α·real + (1 − α)·fake, α ~ U(0, 1) per example (Gulrajani et al. eq. 3)."""
    alpha = torch.rand((len(real), 1), device=real.device)
    mix = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return ((grad.norm(2, dim=1) - 1.0) ** 2).mean()
