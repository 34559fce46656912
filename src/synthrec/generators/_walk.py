"""The item walk: histories drawn one item at a time from softmax(b + a · Σ_{j drawn so far} W_j).

The sampler of `ItemWalkGenerator`.
Users are processed in chunks sorted by length, longest first, so at step t the users still drawing are
a prefix of the chunk (no masks over finished users) and the work is Σ_u n_u · m cells, not
max_u n_u · N · m.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: logits of one chunk of users (chunk × catalogue, float32) stay under this many cells
CHUNK_CELLS = 4_000_000


@dataclass(frozen=True)
class WalkModel:
    """The item–item part of a walk.

    Attributes:
        bias: float32 ``(m,)`` b, the logit of every item before the user has drawn anything.
        weights: float32 ``(M, M)`` W, the item–item weights among the modelled items (zero diagonal).
        modelled: int64 ``(M,)`` catalogue ids of the rows/columns of W; other items only have b.
        scale: a ≥ 0, the weight of the history term.
    """

    bias: np.ndarray
    weights: np.ndarray
    modelled: np.ndarray
    scale: float

    @property
    def n_items(self) -> int:
        return int(self.bias.shape[0])

    def position(self) -> np.ndarray:
        """int64 ``(m,)``: each catalogue item's row in W, or −1 when it is not modelled."""
        pos = np.full(self.n_items, -1, dtype=np.int64)
        pos[self.modelled] = np.arange(len(self.modelled))
        return pos


def _chunks(lengths: np.ndarray, n_items: int) -> list[np.ndarray]:
    """Users (indices into ``lengths``) sorted by descending length (ties: index), in chunks."""
    order = np.lexsort((np.arange(len(lengths)), -lengths))
    size = max(1, CHUNK_CELLS // max(n_items, 1))
    return [order[lo:lo + size] for lo in range(0, len(order), size)]


def _add_history(logits: np.ndarray, model: WalkModel, pos: np.ndarray, rows: np.ndarray, items: np.ndarray,
                 full: bool) -> None:
    """logits[r] += a · W[pos(item_r)] for each (r, item) whose item is modelled."""
    p = pos[items]
    keep = p >= 0
    if not keep.any() or model.scale == 0.0:
        return
    rows, p = rows[keep], p[keep]
    add = model.scale * model.weights[p]
    if full:
        logits[rows] += add
    else:
        logits[np.ix_(rows, model.modelled)] += add


def walk(model: WalkModel, lengths: np.ndarray, rng: np.random.Generator
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``lengths[u]`` distinct items per user, in the walk's order.

    Step t of user u draws item i with probability ∝ exp(ℓ_ui) over the items she has not drawn,
    ℓ_u = b + a · Σ_{j drawn} W_j, by the Gumbel-max trick (argmax of ℓ − log E, E ~ Exp(1); Gumbel 1954,
    Maddison, Tarlow & Minka 2014, "A* sampling", NeurIPS, §2).

    Args:
        model: the walk's parameters.
        lengths: int ``(N,)`` items per user, each in [0, m].
        rng: the random source; the output depends only on it and the inputs.

    Returns:
        ``(rows, items, logit)``: user-major (rows ascending, each user's items in walk order), int64,
        int64 and float32 ``(Σ lengths,)``; ``logit`` is ℓ of the drawn item when it was drawn.

    Raises:
        ValueError: a length is negative or exceeds the catalogue.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    m = model.n_items
    if len(lengths) and (lengths.min() < 0 or lengths.max() > m):
        raise ValueError(f"walk lengths must be in [0, {m}]")
    pos = model.position()
    full = len(model.modelled) == m and bool(np.all(model.modelled == np.arange(m)))
    out_rows, out_steps, out_items, out_logit = [], [], [], []
    for users in _chunks(lengths, m):
        n_here = lengths[users]
        if n_here[0] == 0:
            continue
        logits = np.tile(model.bias.astype(np.float32), (len(users), 1))
        for t in range(int(n_here[0])):
            k = int(np.searchsorted(-n_here, -t, side="left"))  # users with length > t: a prefix
            # E is floored: a float32 Exp(1) draw of exactly 0 would make log E = −inf, and −inf − (−inf) NaN
            noisy = logits[:k] - np.log(np.maximum(rng.standard_exponential((k, m), dtype=np.float32), 1e-30))
            chosen = np.argmax(noisy, axis=1)
            ar = np.arange(k)
            out_logit.append(logits[ar, chosen].copy())
            logits[ar, chosen] = -np.inf  # never again for this user
            _add_history(logits, model, pos, ar, chosen, full)
            out_rows.append(users[:k])
            out_steps.append(np.full(k, t, dtype=np.int64))
            out_items.append(chosen.astype(np.int64))
    if not out_rows:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    rows = np.concatenate(out_rows).astype(np.int64)
    steps = np.concatenate(out_steps)
    order = np.lexsort((steps, rows))
    return rows[order], np.concatenate(out_items)[order], np.concatenate(out_logit)[order]
