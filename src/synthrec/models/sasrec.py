"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018), plain torch.

W.-C. Kang and J. McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018. A causal
self-attention network reads the last ``max_len`` items of a user's sequence and scores the next one
(network: `synthrec.models._nets.SASRecNet`). Training minimises the binary cross-entropy of eq. 3 of the
paper: at every position t of every training sequence, with the true next item o_t and one negative item
j sampled uniformly among the items the user never interacted with,

    −log σ(r_{o_t, t}) − log(1 − σ(r_{j, t})),

averaged over the non-padding positions of a batch, with Adam (β = (0.9, 0.98), as in the paper).
Batches group training windows of similar length (in random order) so little padding is computed.

**Order.** Training sequences are each user's events in time order (``timestamp``, ties by source row
order; without a timestamp, row order), repeats kept. At recommendation time the `Recommender` protocol
gives only an unordered history matrix. Pass ``sequences=`` to `SASRec.recommend` to give the real
order. Without it, each history row is ordered by the items' **typical relative position** in the
training sequences (`item_position_`: the mean of ``j / (n − 1)`` over the item's occurrences, 0 = a
user's first event, 1 = her last; 0.5 for items never seen; ties by item id), so items users usually
meet late come last and weigh most; this is a fallback and loses information a real order carries.

**Ids (PITFALLS P11).** Token 0 is padding; item ``i`` is token ``i + 1``. Scores are computed only over
the tokens of real items, so padding can never be recommended; `NO_ITEM` (−1) pads rows with fewer than k
eligible items, as for every model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from synthrec._torch import (
    csr_sequences,
    group_offsets,
    item_positions,
    last_window,
    ordered_events,
    pair_keys,
    resolve_device,
    sample_negatives,
    seeded_torch,
    sequences_to_segments,
)
from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError
from synthrec.models.base import (
    NO_ITEM,
    BaseRecommender,
    as_binary_histories,
    check_non_negative,
    check_positive,
    top_k,
)

try:
    from typing import Self
except ImportError:  # pragma: no cover
    from typing_extensions import Self

#: Token of a padding position. Real item ``i`` is token ``i + 1``.
PAD_TOKEN = 0


class _Windows:
    """Training windows of one dataset: the last ``max_len + 1`` tokens of each user with ≥ 2 events."""

    def __init__(self, data: InteractionData, max_len: int) -> None:
        users, items, _ = ordered_events(data)
        indptr = group_offsets(users, data.n_users)
        self.indptr, self.items = indptr, items
        w = last_window(indptr, items + 1, max_len + 1, PAD_TOKEN)
        keep = (w[:, -2] != PAD_TOKEN)  # at least two events: one input and one target
        self.users = np.flatnonzero(keep).astype(np.int64)
        self.inputs = w[keep, :-1]
        self.targets = w[keep, 1:]
        self.lengths = (self.inputs != PAD_TOKEN).sum(axis=1)
        self.seen_keys = np.unique(pair_keys(users, items, data.n_items))
        self.n_items = data.n_items

    def __len__(self) -> int:
        return len(self.users)

    def negatives(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One unseen item token per cell of the windows ``rows``: int64 ``(len(rows), max_len)``."""
        shape = self.inputs[rows].shape
        owner = np.repeat(self.users[rows], shape[1])
        return sample_negatives(owner, self.seen_keys, self.n_items, rng).reshape(shape) + 1


class SASRec(BaseRecommender):
    """SASRec sequential recommender (Kang & McAuley 2018); see the module docstring.

    Args:
        max_len: n, the number of most recent items the network reads (paper: 50 for Beauty). Default 50.
        dim: d, embedding and hidden size (paper: 50). Default 50.
        n_blocks: self-attention blocks (paper: 2). Default 2.
        n_heads: attention heads (paper: 1); must divide ``dim``. Default 1.
        dropout: dropout rate (paper: 0.5 on the sparse Amazon data). Default 0.5.
        lr: Adam learning rate (paper: 0.001). Default 0.001.
        weight_decay: Adam L2 penalty on all weights. Default 0.
        epochs: passes over the training users in `fit`. Default 100.
        fine_tune_epochs: passes in `fine_tune` unless it is given ``epochs``. Default 50.
        train_batch_size: training sequences per step (paper: 128). Default 128.
        batch_size: history rows scored at once in `recommend`. Default 1024.
        seed: seeds weight initialisation, dropout, shuffling and negative sampling. Default 0.
        device: torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"``). Default ``"cpu"``.

    Raises:
        ConfigError: an argument is out of range.

    Fitted attributes: ``net_`` (the torch module), ``item_position_`` float64 ``(n_items,)`` (see the
    module docstring), ``loss_history_`` list of ``(phase, epoch, mean training loss)`` with phase
    ``"fit"`` or ``"fine_tune"``.
    """

    name = "sasrec"

    def __init__(
        self,
        max_len: int = 50,
        dim: int = 50,
        n_blocks: int = 2,
        n_heads: int = 1,
        dropout: float = 0.5,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        epochs: int = 100,
        fine_tune_epochs: int = 50,
        train_batch_size: int = 128,
        batch_size: int = 1024,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        for nm, v in (("max_len", max_len), ("dim", dim), ("n_blocks", n_blocks), ("n_heads", n_heads),
                      ("train_batch_size", train_batch_size), ("batch_size", batch_size)):
            check_positive(nm, v, integer=True)
        check_non_negative("epochs", epochs, integer=True)
        check_non_negative("fine_tune_epochs", fine_tune_epochs, integer=True)
        check_non_negative("seed", seed, integer=True)
        check_positive("lr", lr)
        check_non_negative("weight_decay", weight_decay)
        if not (isinstance(dropout, int | float) and 0.0 <= dropout < 1.0):
            raise ConfigError(f"dropout must be a number in [0, 1), got {dropout!r}")
        if dim % n_heads:
            raise ConfigError(f"n_heads={n_heads} must divide dim={dim}")
        self.max_len = max_len
        self.dim = dim
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.dropout = float(dropout)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.epochs = epochs
        self.fine_tune_epochs = fine_tune_epochs
        self.train_batch_size = train_batch_size
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self._device = resolve_device(device)
        self.net_: Any = None
        self.item_position_: np.ndarray | None = None
        self._position_sums: np.ndarray | None = None
        self._position_counts: np.ndarray | None = None
        self.loss_history_: list[tuple[str, int, float]] = []
        self._phase = 0  # counts fit/fine_tune calls: each gets its own random stream

    # ---------------------------------------------------------------- training

    def fit(self, data: InteractionData) -> Self:
        """Train from freshly initialised weights on the ordered sequences of ``data``.

        Raises:
            DataValidationError: ``data`` has no interactions or a missing timestamp.
        """
        from synthrec.models._nets import SASRecNet

        self._start_fit(data)
        windows = _Windows(data, self.max_len)
        self._position_sums, self._position_counts = item_positions(windows.indptr, windows.items, data.n_items)
        self._update_positions()
        self._phase = 0
        self.loss_history_ = []
        with seeded_torch(self.seed, self._device):
            self.net_ = SASRecNet(data.n_items, self.max_len, self.dim, self.n_blocks, self.n_heads,
                                  self.dropout)
            _xavier_init(self.net_)
        self.net_.to(self._device)
        self._train(windows, self.epochs, self.lr, freeze_item_epochs=0, phase="fit")
        return self

    def fine_tune(
        self,
        data: InteractionData,
        *,
        lr: float | None = None,
        epochs: int | None = None,
        freeze_item_embeddings_epochs: int = 0,
    ) -> Self:
        """Continue training from the current weights on ``data`` (same item catalogue).

        A new Adam optimiser is started (its moment estimates are not carried over); the weights are.
        The popularity used for cold users is blended as in `BaseRecommender` and the typical item
        positions are pooled over both datasets.

        Args:
            data: the fine-tuning log (e.g. the real target), over the fitted catalogue.
            lr: learning rate; default the model's ``lr``.
            epochs: passes over ``data``; default ``fine_tune_epochs``.
            freeze_item_embeddings_epochs: during the first this many epochs the item embeddings are
                not updated (the attention layers adapt to the pretrained item space first).

        Raises:
            NotFittedError: before `fit`.
            DataValidationError: another catalogue size, or no interactions.
            ConfigError: a bad ``lr``, ``epochs`` or ``freeze_item_embeddings_epochs``.
        """
        lr = self.lr if lr is None else lr
        epochs = self.fine_tune_epochs if epochs is None else epochs
        check_positive("lr", lr)
        check_non_negative("epochs", epochs, integer=True)
        check_non_negative("freeze_item_embeddings_epochs", freeze_item_embeddings_epochs, integer=True)
        self._start_fine_tune(data)
        windows = _Windows(data, self.max_len)
        sums, counts = item_positions(windows.indptr, windows.items, data.n_items)
        assert self._position_sums is not None and self._position_counts is not None
        self._position_sums += sums
        self._position_counts += counts
        self._update_positions()
        self._phase += 1
        self._train(windows, epochs, float(lr), freeze_item_epochs=freeze_item_embeddings_epochs,
                    phase="fine_tune")
        return self

    def _update_positions(self) -> None:
        assert self._position_sums is not None and self._position_counts is not None
        c = self._position_counts
        self.item_position_ = np.where(c > 0, self._position_sums / np.maximum(c, 1), 0.5)

    def _train(self, windows: _Windows, epochs: int, lr: float, *, freeze_item_epochs: int, phase: str) -> None:
        import torch

        if len(windows) == 0 or epochs == 0:
            return
        net = self.net_
        opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=self.weight_decay)
        seed_seq = np.random.SeedSequence([self.seed, self._phase])
        rng = np.random.default_rng(seed_seq)
        torch_seed = int(seed_seq.generate_state(1)[0])
        with seeded_torch(torch_seed, self._device):
            net.train()
            for epoch in range(epochs):
                net.item_emb.weight.requires_grad_(epoch >= freeze_item_epochs)
                # length buckets: each batch holds windows of similar length (random among equal lengths)
                # and batches come in random order, so a batch is trimmed to few padded columns
                order = np.lexsort((rng.random(len(windows)), windows.lengths))
                batches = [order[lo:lo + self.train_batch_size]
                           for lo in range(0, len(order), self.train_batch_size)]
                total, cells = 0.0, 0
                for b in rng.permutation(len(batches)):
                    rows = batches[b]
                    loss, n = self._batch_loss(windows, rows, rng)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * n
                    cells += n
                self.loss_history_.append((phase, epoch, total / max(cells, 1)))
            net.item_emb.weight.requires_grad_(True)
            net.eval()

    def _batch_loss(self, windows: _Windows, rows: np.ndarray, rng: np.random.Generator) -> tuple[Any, int]:
        """Mean BCE of eq. 3 over the valid cells of windows ``rows``, and the number of those cells."""
        import torch
        import torch.nn.functional as F

        dev = self._device
        inp, tgt, neg_np = windows.inputs[rows], windows.targets[rows], windows.negatives(rows, rng)
        keep = _trim(inp)  # drop the columns that are padding in every row (right-aligned windows)
        inputs = torch.as_tensor(inp[:, keep:], device=dev)
        targets = torch.as_tensor(tgt[:, keep:], device=dev)
        negs = torch.as_tensor(neg_np[:, keep:], device=dev)
        valid = (inputs != PAD_TOKEN) & (targets != PAD_TOKEN)
        hidden = self.net_.encode(inputs)
        pos = self.net_.pair_logits(hidden, targets)[valid]
        neg = self.net_.pair_logits(hidden, negs)[valid]
        loss = (F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos), reduction="sum")
                + F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg), reduction="sum"))
        n = int(valid.sum())
        return loss / max(n, 1), n

    def loss(self, data: InteractionData, *, seed: int = 0) -> float:
        """The training objective (eq. 3, mean over valid positions) of ``data`` under the current
        weights, in evaluation mode (no dropout), with negatives drawn from ``seed``.

        Deterministic for a given ``(weights, data, seed)``; used to check that fine-tuning continues
        from the fitted weights.

        Raises:
            NotFittedError: before `fit`.
        """
        import torch

        self._require_fitted("loss")
        windows = _Windows(data, self.max_len)
        if len(windows) == 0:
            return float("nan")
        rng = np.random.default_rng(seed)
        self.net_.eval()
        total, cells = 0.0, 0
        with torch.no_grad():
            for lo in range(0, len(windows), self.batch_size):
                rows = np.arange(lo, min(lo + self.batch_size, len(windows)))
                loss, n = self._batch_loss(windows, rows, rng)
                total += float(loss) * n
                cells += n
        return total / max(cells, 1)

    # ---------------------------------------------------------------- recommending

    def recommend(
        self, histories: Any, k: int, *, exclude_seen: bool = True, sequences: Any = None
    ) -> np.ndarray:
        """Top-k dense item ids for each history row, best first.

        Args:
            histories: sparse ``(n_users, n_items)`` matrix over the fitted catalogue; non-zero = seen.
            k: items per user, ``>= 1``.
            exclude_seen: do not recommend items of the history (nor of ``sequences``).
            sequences: optional ordered histories, most recent last, one per row of ``histories``: a list
                of int arrays of dense item ids, or an int array ``(n_users, L)`` whose negative cells are
                padding. Without it rows are ordered by `item_position_` (module docstring). Only the last
                ``max_len`` items are read.

        Returns:
            int64 ``(n_users, k)``; `NO_ITEM` pads rows with fewer than k eligible items. Rows with no
            item at all get the popularity fallback. Padding tokens are never returned (P11).

        Raises:
            NotFittedError: before `fit`.
            DataValidationError: histories of the wrong shape or with NaN; ``sequences`` of the wrong
                length or with ids outside the catalogue.
            ConfigError: ``k < 1``.
        """
        import torch

        self._require_fitted()
        assert self.n_items_ is not None and self.item_counts_ is not None and self.item_position_ is not None
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        h = as_binary_histories(histories, self.n_items_)
        n = h.shape[0]
        if sequences is None:
            indptr, seq_items = csr_sequences(h, self.item_position_)
        else:
            indptr, seq_items = sequences_to_segments(sequences, n, self.n_items_)
        tokens = last_window(indptr, seq_items + 1, self.max_len, PAD_TOKEN)
        exclude = h
        if sequences is not None and seq_items.size:
            owner = np.repeat(np.arange(n), np.diff(indptr))
            exclude = (h + sp.csr_matrix((np.ones(len(seq_items), np.float32), (owner, seq_items)),
                                         shape=h.shape)).tocsr()
        out = np.full((n, k), NO_ITEM, dtype=np.int64)
        ineligible = ~(self.item_counts_ > 0)
        self.net_.eval()
        with torch.no_grad():
            for lo in range(0, n, self.batch_size):
                hi = min(lo + self.batch_size, n)
                tb = tokens[lo:hi]
                tb = tb[:, _trim(tb):] if tb.shape[0] else tb
                cold = tb[:, -1] == PAD_TOKEN
                hidden = self.net_.encode(torch.as_tensor(tb, device=self._device))[:, -1]
                scores = self.net_.all_item_logits(hidden).cpu().numpy().astype(np.float64)
                if cold.any():
                    scores[cold] = self.item_counts_
                scores[:, ineligible] = -np.inf
                out[lo:hi] = top_k(scores, k, exclude[lo:hi] if exclude_seen else None, batch_size=hi - lo,
                                   tie_order=self.tie_order_)
        return out

    def _score(self, histories: sp.csr_matrix) -> np.ndarray:  # pragma: no cover - recommend is overridden
        raise NotImplementedError("SASRec scores ordered sequences: call recommend(histories, k, sequences=...)")


def _trim(tokens: np.ndarray) -> int:
    """First column of right-aligned token rows that is not padding in every row (at most the last
    column, so at least one column is kept)."""
    used = (tokens != PAD_TOKEN).any(axis=0)
    return int(np.argmax(used)) if used.any() else tokens.shape[1] - 1


def _xavier_init(net: Any) -> None:
    """Xavier-normal initialisation of every weight matrix (as the authors' released code), biases
    and layer norms kept at their defaults, padding embedding zero."""
    import torch

    with torch.no_grad():
        for p in net.parameters():
            if p.dim() >= 2:
                torch.nn.init.xavier_normal_(p)
        net.item_emb.weight[PAD_TOKEN].zero_()
