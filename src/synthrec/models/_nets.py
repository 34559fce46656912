"""torch networks of the neural recommenders. Imported lazily (torch takes seconds to import), so
``import synthrec.models`` stays fast for the models that do not need it."""

from __future__ import annotations

import torch
from torch import nn


class SASRecNet(nn.Module):
    """Self-attentive sequential recommendation network (Kang & McAuley, ICDM 2018, §III).

    Tokens: 0 is padding, item ``i`` is token ``i + 1``. The input embedding of position t is
    ``√d · M[s_t] + P[t]`` (eq. 1; the √d scaling is the authors' released code), padding rows zeroed.
    Each of ``n_blocks`` blocks is (eq. 2–4, pre-layer-norm as in the released code)::

        Q = LN(x);  x = Q + CausalAttention(Q, x, x);  x = LN(x);  x = x + FFN(x);  x ← x · mask

    with FFN(x) = W₂ ReLU(W₁ x + b₁) + b₂ and dropout after the embedding, attention and each FFN
    layer. Attention is causal and, unlike the released code, also never attends to padding keys, so
    the states of real positions do not depend on the amount of left padding. A final LN gives F_t. The relevance of item i at step t is ``r_{i,t} = F_t · M_i`` (eq. 5, the
    item embedding is shared between input and output).
    """

    def __init__(self, n_items: int, max_len: int, dim: int, n_blocks: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_items = n_items
        self.max_len = max_len
        self.dim = dim
        self.n_heads = n_heads
        self.item_emb = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, dim)
        self.emb_dropout = nn.Dropout(dropout)
        self.attn_norms = nn.ModuleList([nn.LayerNorm(dim, eps=1e-8) for _ in range(n_blocks)])
        self.attns = nn.ModuleList(
            [nn.MultiheadAttention(dim, n_heads, dropout=dropout, batch_first=True) for _ in range(n_blocks)]
        )
        self.ffn_norms = nn.ModuleList([nn.LayerNorm(dim, eps=1e-8) for _ in range(n_blocks)])
        self.ffns = nn.ModuleList(
            [nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim),
                           nn.Dropout(dropout)) for _ in range(n_blocks)]
        )
        self.last_norm = nn.LayerNorm(dim, eps=1e-8)
        causal = torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", causal, persistent=False)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Hidden states F ``(B, L, dim)`` of token sequences ``(B, L)`` (L ≤ max_len, right-aligned)."""
        length = tokens.shape[1]
        pad = (tokens == 0).unsqueeze(-1)
        pos = torch.arange(self.max_len - length, self.max_len, device=tokens.device)
        x = self.item_emb(tokens) * (self.dim ** 0.5) + self.pos_emb(pos)[None]
        x = self.emb_dropout(x).masked_fill(pad, 0.0)
        causal: torch.Tensor = self.causal  # type: ignore[assignment]  # a registered buffer
        # a query may not attend to later positions nor to padding (except itself, so that no row of
        # the attention is empty): the output of real positions does not depend on how much padding
        # precedes them
        eye = torch.eye(length, dtype=torch.bool, device=tokens.device)
        mask = causal[:length, :length][None] | (pad.transpose(1, 2) & ~eye[None])
        mask = mask.repeat_interleave(self.n_heads, dim=0)
        for norm_a, attn, norm_f, ffn in zip(self.attn_norms, self.attns, self.ffn_norms, self.ffns, strict=True):
            q = norm_a(x)
            out, _ = attn(q, x, x, attn_mask=mask, need_weights=False)
            x = norm_f(q + out)
            x = (x + ffn(x)).masked_fill(pad, 0.0)
        return self.last_norm(x)

    def pair_logits(self, hidden: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """r_{i,t} = F_t · M_{token}: ``(B, L)`` for hidden ``(B, L, dim)`` and tokens ``(B, L)``."""
        return (hidden * self.item_emb(tokens)).sum(-1)

    def all_item_logits(self, last_hidden: torch.Tensor) -> torch.Tensor:
        """Scores of every real item (tokens 1..n) for hidden states ``(B, dim)``: ``(B, n_items)``."""
        return last_hidden @ self.item_emb.weight[1:].T


class MFNet(nn.Module):
    """Matrix factorisation ``x̂_ui = ⟨w_u, h_i⟩ + b_i`` (Rendle et al., UAI 2009, §4.3.1 plus an item
    bias, as most BPR-MF implementations add)."""

    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float, generator: torch.Generator):
        super().__init__()
        self.user_emb = nn.Parameter(torch.randn(n_users, dim, generator=generator) * init_std)
        self.item_emb = nn.Parameter(torch.randn(n_items, dim, generator=generator) * init_std)
        self.item_bias = nn.Parameter(torch.zeros(n_items))

    def score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """x̂_ui for paired index tensors of equal shape."""
        return (self.user_emb[users] * self.item_emb[items]).sum(-1) + self.item_bias[items]
