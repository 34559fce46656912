"""MF-BPR in plain torch: matrix factorisation trained with Bayesian Personalized Ranking.

S. Rendle, C. Freudenthaler, Z. Gantner, L. Schmidt-Thieme, "BPR: Bayesian Personalized Ranking from
Implicit Feedback", UAI 2009. The model scores ``x̂_ui = ⟨w_u, h_i⟩ + b_i`` (§4.3.1, plus an item bias) and
maximises BPR-Opt (eq. 5 of §4.1)::

    Σ_{(u,i,j)} ln σ(x̂_ui − x̂_uj) − λ‖Θ‖²

over triples of a user u, an item i she interacted with and an item j she did not. Each epoch visits
every distinct (u, i) pair once in random order, with one negative j drawn uniformly among the user's
unseen items (a per-epoch version of the paper's bootstrap sampling, Alg. 1); the L2 term is applied to
the parameters of each triple (w_u, h_i, h_j, b_i, b_j), and the sum is minimised with Adam in
mini-batches (the paper uses plain SGD; Adam needs no learning-rate schedule).

**Fold-in.** Recommenders score histories, not training-time user ids (DESIGN.md), so a history row is
turned into a user vector with the item parameters fixed (`user_factors`):

* ``"optimize"`` (default): ``fold_in_steps`` Adam steps of BPR-Opt on the user vectors alone, started
  at 0, every step pairing each history item with a fresh uniform unseen negative. This is the same
  objective the training users' vectors were fitted by (Rendle & Schmidt-Thieme 2008, "Online-updating
  regularized kernel matrix factorization models", RecSys, fold-in by optimising the new user's row).
  Negatives come from a fixed seed, so the same histories always give the same recommendations.
* ``"mean"``: the mean of the item vectors of the history (cheap; a different scale than trained
  users, so usually worse).

**Fine-tuning** keeps the item vectors and biases, gives the new data's users their fold-in as starting
vectors, and continues BPR on the new data with a new Adam optimiser.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from synthrec._torch import pair_keys, resolve_device, sample_negatives, seeded_torch, torch_generator
from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError
from synthrec.models.base import BaseRecommender, check_non_negative, check_positive

try:
    from typing import Self
except ImportError:  # pragma: no cover
    from typing_extensions import Self

FoldIn = Literal["optimize", "mean"]


class _Pairs:
    """Distinct (user, item) pairs of a binary CSR, and their sorted keys for negative sampling."""

    def __init__(self, x: sp.csr_matrix) -> None:
        x = sp.csr_matrix(x)
        x.sum_duplicates()
        self.users = np.repeat(np.arange(x.shape[0], dtype=np.int64), np.diff(x.indptr))
        self.items = x.indices.astype(np.int64)
        self.n_items = x.shape[1]
        self.keys = pair_keys(self.users, self.items, self.n_items)  # CSR order with sorted indices: sorted

    def __len__(self) -> int:
        return len(self.users)


class MFBPR(BaseRecommender):
    """Matrix factorisation with the BPR objective (Rendle et al. 2009) and fold-in scoring of histories.

    Args:
        factors: latent dimension. Default 64.
        lr: Adam learning rate. Default 0.01.
        l2: λ of BPR-Opt, applied to the parameters of each triple. Default 1e-4.
        epochs: passes over the distinct (user, item) pairs in `fit`. Default 50.
        fine_tune_epochs: passes in `fine_tune` unless it is given ``epochs``. Default 20.
        train_batch_size: triples per Adam step. Default 4096.
        fold_in: ``"optimize"`` or ``"mean"`` (module docstring). Default ``"optimize"``.
        fold_in_steps: Adam steps of the ``"optimize"`` fold-in. Default 50.
        fold_in_lr: Adam learning rate of the fold-in. Default 0.05.
        init_std: standard deviation of the initial factors. Default 0.1.
        batch_size: history rows folded in and scored at once. Default 2048.
        seed: seeds initialisation, shuffling and negative sampling (fold-in included). Default 0.
        device: torch device (``"cpu"``, ``"cuda"``, ``"auto"``, ...). Default ``"cpu"``.

    Raises:
        ConfigError: an argument is out of range.

    Fitted attributes: ``item_factors_`` float32 ``(n_items, factors)``, ``item_bias_`` float32
    ``(n_items,)``, ``loss_history_`` list of ``(phase, epoch, mean BPR loss)``.
    """

    name = "mf-bpr"

    def __init__(
        self,
        factors: int = 64,
        lr: float = 0.01,
        l2: float = 1e-4,
        epochs: int = 50,
        fine_tune_epochs: int = 20,
        train_batch_size: int = 4096,
        fold_in: FoldIn = "optimize",
        fold_in_steps: int = 50,
        fold_in_lr: float = 0.05,
        init_std: float = 0.1,
        batch_size: int = 2048,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        for nm, v in (("factors", factors), ("train_batch_size", train_batch_size),
                      ("batch_size", batch_size)):
            check_positive(nm, v, integer=True)
        for nm, v in (("epochs", epochs), ("fine_tune_epochs", fine_tune_epochs),
                      ("fold_in_steps", fold_in_steps), ("seed", seed)):
            check_non_negative(nm, v, integer=True)
        check_positive("lr", lr)
        check_positive("fold_in_lr", fold_in_lr)
        check_positive("init_std", init_std)
        check_non_negative("l2", l2)
        if fold_in not in ("optimize", "mean"):
            raise ConfigError(f"fold_in must be 'optimize' or 'mean', got {fold_in!r}")
        self.factors = factors
        self.lr = float(lr)
        self.l2 = float(l2)
        self.epochs = epochs
        self.fine_tune_epochs = fine_tune_epochs
        self.train_batch_size = train_batch_size
        self.fold_in: FoldIn = fold_in
        self.fold_in_steps = fold_in_steps
        self.fold_in_lr = float(fold_in_lr)
        self.init_std = float(init_std)
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self._device = resolve_device(device)
        self.net_: Any = None
        self.loss_history_: list[tuple[str, int, float]] = []
        self._phase = 0

    # ---------------------------------------------------------------- parameters

    @property
    def item_factors_(self) -> np.ndarray:
        """float32 ``(n_items, factors)`` item vectors h_i."""
        self._require_fitted("item_factors_")
        return self.net_.item_emb.detach().cpu().numpy()

    @property
    def item_bias_(self) -> np.ndarray:
        """float32 ``(n_items,)`` item biases b_i."""
        self._require_fitted("item_bias_")
        return self.net_.item_bias.detach().cpu().numpy()

    # ---------------------------------------------------------------- training

    def fit(self, data: InteractionData) -> Self:
        """Fit users' and items' parameters from a fresh initialisation on the binary interactions of
        ``data``.

        Raises:
            DataValidationError: ``data`` has no interactions.
        """
        from synthrec.models._nets import MFNet

        x = self._start_fit(data)
        self._phase = 0
        self.loss_history_ = []
        self.net_ = MFNet(x.shape[0], x.shape[1], self.factors, self.init_std, torch_generator(self.seed))
        self.net_.to(self._device)
        self._train(_Pairs(x), self.epochs, "fit")
        return self

    def fine_tune(self, data: InteractionData, *, lr: float | None = None, epochs: int | None = None) -> Self:
        """Continue BPR from the current item parameters on ``data`` (same catalogue).

        The users of ``data`` start at their fold-in; a new Adam optimiser is used.

        Args:
            data: the fine-tuning log over the fitted catalogue.
            lr: learning rate; default the model's ``lr``.
            epochs: passes over ``data``'s pairs; default ``fine_tune_epochs``.

        Raises:
            NotFittedError: before `fit`.
            DataValidationError: another catalogue size, or no interactions.
            ConfigError: a bad ``lr`` or ``epochs``.
        """
        import torch

        lr = self.lr if lr is None else lr
        epochs = self.fine_tune_epochs if epochs is None else epochs
        check_positive("lr", lr)
        check_non_negative("epochs", epochs, integer=True)
        x = self._start_fine_tune(data)
        self._phase += 1
        users = self.user_factors(x)
        self.net_.user_emb = torch.nn.Parameter(torch.as_tensor(users, device=self._device))
        self._train(_Pairs(x), epochs, "fine_tune", lr=float(lr))
        return self

    def _train(self, pairs: _Pairs, epochs: int, phase: str, *, lr: float | None = None) -> None:
        import torch
        import torch.nn.functional as F

        if epochs == 0 or len(pairs) == 0:
            return
        net, dev = self.net_, self._device
        opt = torch.optim.Adam(net.parameters(), lr=self.lr if lr is None else lr)
        seed_seq = np.random.SeedSequence([self.seed, self._phase])
        rng = np.random.default_rng(seed_seq)
        with seeded_torch(int(seed_seq.generate_state(1)[0]), dev):
            for epoch in range(epochs):
                order = rng.permutation(len(pairs))
                neg_all = sample_negatives(pairs.users[order], pairs.keys, pairs.n_items, rng)
                total = 0.0
                for lo in range(0, len(order), self.train_batch_size):
                    idx = order[lo:lo + self.train_batch_size]
                    u = torch.as_tensor(pairs.users[idx], device=dev)
                    i = torch.as_tensor(pairs.items[idx], device=dev)
                    j = torch.as_tensor(neg_all[lo:lo + self.train_batch_size], device=dev)
                    diff = net.score(u, i) - net.score(u, j)
                    bpr = F.softplus(-diff)  # −ln σ(x̂_ui − x̂_uj)
                    reg = (net.user_emb[u].square().sum(-1) + net.item_emb[i].square().sum(-1)
                           + net.item_emb[j].square().sum(-1) + net.item_bias[i].square()
                           + net.item_bias[j].square())
                    loss = (bpr + self.l2 * reg).mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(bpr.detach().sum())
                self.loss_history_.append((phase, epoch, total / len(pairs)))

    # ---------------------------------------------------------------- fold-in and scoring

    def user_factors(self, histories: sp.csr_matrix) -> np.ndarray:
        """Fold-in of binary history rows (module docstring): float32 ``(n_rows, factors)``.

        An empty history folds in to the zero vector (its scores are the item biases).
        """
        import torch
        import torch.nn.functional as F

        self._require_fitted("user_factors")
        h = sp.csr_matrix(histories, dtype=np.float32)
        h.sum_duplicates()
        items_t = self.net_.item_emb.detach()
        bias_t = self.net_.item_bias.detach()
        if self.fold_in == "mean":
            n = np.maximum(np.diff(h.indptr), 1).astype(np.float32)
            mean = np.asarray(h @ items_t.cpu().numpy()) / n[:, None]
            return mean.astype(np.float32)
        pairs = _Pairs(h)
        dev = self._device
        w = torch.zeros(h.shape[0], self.factors, device=dev, requires_grad=True)
        if len(pairs) == 0 or self.fold_in_steps == 0:
            return w.detach().cpu().numpy()
        opt = torch.optim.Adam([w], lr=self.fold_in_lr)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0xF01D]))
        u = torch.as_tensor(pairs.users, device=dev)
        i = torch.as_tensor(pairs.items, device=dev)
        deg = torch.as_tensor(np.diff(h.indptr).astype(np.float32), device=dev)
        h_i, b_i = items_t[i], bias_t[i]
        for _ in range(self.fold_in_steps):
            j = torch.as_tensor(sample_negatives(pairs.users, pairs.keys, pairs.n_items, rng), device=dev)
            diff = (w[u] * (h_i - items_t[j])).sum(-1) + b_i - bias_t[j]
            per_pair = F.softplus(-diff) / deg[u]  # each user's loss is her mean over her history
            loss = per_pair.sum() + self.l2 * w.square().sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return w.detach().cpu().numpy()

    def _score(self, histories: sp.csr_matrix) -> np.ndarray:
        w = self.user_factors(histories).astype(np.float64)
        return w @ self.item_factors_.T.astype(np.float64) + self.item_bias_.astype(np.float64)

    def loss(self, data: InteractionData, *, seed: int = 0) -> float:
        """Mean BPR loss −ln σ(x̂_ui − x̂_uj) over the distinct pairs of ``data``, users folded in from
        their histories in ``data``, one uniform unseen negative per pair drawn from ``seed``.

        Deterministic for given ``(item parameters, data, seed)``.

        Raises:
            NotFittedError: before `fit`.
        """
        self._require_fitted("loss")
        x = data.to_csr("binary")
        pairs = _Pairs(x)
        if len(pairs) == 0:
            return float("nan")
        w = self.user_factors(x).astype(np.float64)
        j = sample_negatives(pairs.users, pairs.keys, pairs.n_items, np.random.default_rng(seed))
        hf, b = self.item_factors_.astype(np.float64), self.item_bias_.astype(np.float64)
        wu = w[pairs.users]
        diff = np.einsum("nk,nk->n", wu, hf[pairs.items] - hf[j]) + b[pairs.items] - b[j]
        return float(np.logaddexp(0.0, -diff).mean())
