"""torch network of `synthrec.generators.sequence.SequenceGenerator`. Imported lazily (torch is slow to
import), so ``import synthrec.generators`` stays fast."""

from __future__ import annotations

import math

import torch
from torch import nn

#: Token ids: 0 padding, 1 begin-of-sequence, item i is token i + 2.
PAD, BOS, OFFSET = 0, 1, 2
#: floor of a mixture component's log standard deviation (of the standardised log gap)
_MIN_LOG_SIGMA = -7.0


class SequenceNet(nn.Module):
    """GRU language model over item sequences with a mixture-density head for the time gaps.

    Input at step t: the embedding of token s_t concatenated (when ``time=True``) with the standardised
    log gap z_t = (log(1 + Δ_t) − m) / s before s_t (0 for the first event and BOS). The GRU state h_t
    gives

    * the next item: logits ``W h_t · E_itemᵀ + b`` (output embedding tied to the input one: Press & Wolf
      2017, "Using the Output Embedding to Improve Language Models", EACL);
    * the next gap: a K-component Gaussian mixture on z_{t+1} (mixture density network, Bishop 1994,
      "Mixture Density Networks", eq. 22-26), i.e. a log-normal mixture on 1 + Δ.
    """

    def __init__(self, n_items: int, dim: int, hidden: int, n_layers: int, n_mixture: int, dropout: float,
                 time: bool) -> None:
        super().__init__()
        self.n_items = n_items
        self.time = time
        self.n_mixture = n_mixture
        self.emb = nn.Embedding(n_items + OFFSET, dim, padding_idx=PAD)
        self.gru = nn.GRU(dim + (1 if time else 0), hidden, n_layers, batch_first=True,
                          dropout=dropout if n_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.to_item = nn.Linear(hidden, dim)
        self.item_bias = nn.Parameter(torch.zeros(n_items))
        self.gap_head = nn.Linear(hidden, 3 * n_mixture) if time else None

    def step(self, tokens: torch.Tensor, gaps: torch.Tensor | None, state: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``(B, T)`` tokens (and ``(B, T)`` standardised gaps); return ``(outputs (B, T, hidden),
        state)``."""
        x = self.emb(tokens)
        if self.time:
            assert gaps is not None
            x = torch.cat([x, gaps.unsqueeze(-1)], dim=-1)
        out, state = self.gru(x, state)
        return self.drop(out), state

    def item_logits(self, out: torch.Tensor) -> torch.Tensor:
        """Next-item logits ``(..., n_items)`` over real items only (never PAD or BOS)."""
        return self.to_item(out) @ self.emb.weight[OFFSET:].T + self.item_bias

    def gap_mixture(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mixture parameters of the next standardised gap: log weights, means, log sds, each ``(..., K)``."""
        assert self.gap_head is not None
        logit_w, mu, log_sigma = self.gap_head(out).chunk(3, dim=-1)
        return torch.log_softmax(logit_w, -1), mu, log_sigma.clamp(min=_MIN_LOG_SIGMA)

    def gap_nll(self, out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """−log p(z) under the mixture of each position: ``(...)``."""
        log_w, mu, log_sigma = self.gap_mixture(out)
        zz = z.unsqueeze(-1)
        log_norm = -0.5 * ((zz - mu) / log_sigma.exp()).square() - log_sigma - 0.5 * math.log(2 * math.pi)
        return -torch.logsumexp(log_w + log_norm, dim=-1)
