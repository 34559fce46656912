"""The item walk: histories drawn one item at a time from softmax(b + a · Σ_{j drawn so far} W_j).

The sampler of `ItemWalkGenerator`, in two exact forms with the same law:

* dense W (`WalkModel.weights`): per step a chunk × m matrix of logits and a Gumbel-max draw — cost
  Σ_u n_u · m, i.e. it grows with the catalogue m;
* sparse W (`WalkModel.indptr` / ``indices`` / ``data``: the top neighbours of each modelled item, CSR):
  per step only the user's *touched* items — neighbours of her history and the items she drew — differ
  from the base law exp(b); the step chooses "touched" or "untouched" by their float64 masses (each
  user's shifted by her largest logit), draws a touched item by inverse CDF over her touched entries and
  an untouched one from a cumulative table of exp(b) built once per call (binary search, log m) with
  rejection of touched items (exact: an accepted draw is exp(b) restricted to the untouched items; the
  users still rejected after `REJECTION_ROUNDS` rounds draw explicitly over their untouched items, same
  law; a user whose untouched mass is under `EXPLICIT_BELOW` of the base draws over her whole row by
  Gumbel-max). Cost per step: O(|touched|) per user ≈ history × neighbours (capped by the modelled
  items), not m — so the whole walk is O(n_u² k) per user against the dense O(n_u m);
* ``sampler="auto"`` (the default) draws each user of a sparse model by whichever of the two an estimate
  (`SPARSE_ENTRY_COST`) calls cheaper for her length: short histories sparse, long ones on small
  catalogues dense.

Users are processed in chunks sorted by length, longest first, so at step t the users still drawing are
a prefix of the chunk (no masks over finished users) and the work is Σ_u n_u · m cells (dense), not
max_u n_u · N · m.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

#: logits of one chunk of users (chunk × catalogue, float32) stay under this many cells; in the sparse walk,
#: a chunk's touched entries (Σ over its users of n_u × (neighbours + 1)) stay under this many
CHUNK_CELLS = 4_000_000
#: sparse walk: rounds of "draw from exp(b), reject a touched item" before the users still rejected draw
#: explicitly over their untouched items (the law is the same either way)
REJECTION_ROUNDS = 8
#: sparse walk: a user whose untouched base mass is under this share of Σ exp(b) draws explicitly at once
#: (rejection would mostly reject), and her untouched mass is summed item by item, not as a difference
EXPLICIT_BELOW = 0.05
#: ``sampler="auto"``: one touched entry of the sparse walk costs about this many logit cells of the dense
#: walk (measured on the simulated ecommerce logs of benchmarks/item_walk_large.py: 1.5–1.6 at k = 100 on
#: 1.8k and 18k items, 2.9 at k = 200 on 1.8k), so a sparse model is drawn by the dense sampler (same law)
#: when Σ_u Σ_t min((k + 1) t + 1, m) × this > Σ_u n_u m
SPARSE_ENTRY_COST = 2.0
#: ``sampler="auto"`` never densifies a sparse model of more modelled items than this (M × M float32)
DENSE_SAMPLER_MAX_MODELLED = 8192


@dataclass(frozen=True)
class WalkModel:
    """The item–item part of a walk.

    Attributes:
        bias: float32 ``(m,)`` b, the logit of every item before the user has drawn anything.
        weights: float32 ``(M, M)`` W, the item–item weights among the modelled items (zero diagonal);
            None for a sparse model.
        modelled: int64 ``(M,)`` catalogue ids of the rows/columns of W; other items only have b.
        scale: a ≥ 0, the weight of the history term.
        indptr, indices, data: a sparse model's W as CSR rows (None for a dense one): row r (the modelled
            item ``modelled[r]``) holds its neighbours ``indices[indptr[r]:indptr[r + 1]]`` (int64 catalogue
            ids, ascending, never r's own item) with weights ``data[...]`` (float32); absent pairs weigh 0.
    """

    bias: np.ndarray
    weights: np.ndarray | None
    modelled: np.ndarray
    scale: float
    indptr: np.ndarray | None = None
    indices: np.ndarray | None = None
    data: np.ndarray | None = None

    @property
    def sparse(self) -> bool:
        return self.indptr is not None

    @property
    def n_neighbours(self) -> int:
        """Largest number of neighbours of a row (M − 1 for a dense model)."""
        if self.indptr is None:
            return max(len(self.modelled) - 1, 0)
        return int(np.diff(self.indptr).max(initial=0))

    def dense_weights(self) -> np.ndarray:
        """float32 ``(M, M)`` W, zero where a sparse model keeps no neighbour."""
        if self.weights is not None:
            return self.weights
        assert self.indptr is not None and self.indices is not None and self.data is not None
        big_m = len(self.modelled)
        pos = self.position()
        rows = np.repeat(np.arange(big_m), np.diff(self.indptr))
        out = np.zeros((big_m, big_m), np.float32)
        out[rows, pos[self.indices]] = self.data
        return out

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
    assert model.weights is not None
    add = model.scale * model.weights[p]
    if full:
        logits[rows] += add
    else:
        logits[np.ix_(rows, model.modelled)] += add


def walk(model: WalkModel, lengths: np.ndarray, rng: np.random.Generator, *,
         sampler: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``lengths[u]`` distinct items per user, in the walk's order.

    Step t of user u draws item i with probability ∝ exp(ℓ_ui) over the items she has not drawn,
    ℓ_u = b + a · Σ_{j drawn} W_j, by the Gumbel-max trick (argmax of ℓ − log E, E ~ Exp(1); Gumbel 1954,
    Maddison, Tarlow & Minka 2014, "A* sampling", NeurIPS, §2). A sparse model is drawn by the touched-set
    sampler of the module docstring (same law, different random stream: a sparse model and its dense
    copy give different draws for one seed).

    Args:
        model: the walk's parameters.
        lengths: int ``(N,)`` items per user, each in [0, m].
        rng: the random source; the output depends only on it and the inputs.
        sampler: ``"dense"`` (Gumbel-max over the catalogue; a sparse model is densified), ``"sparse"``
            (the touched-set sampler; a sparse model only) or ``"auto"``: dense for a dense model; for a
            sparse one, per user whichever `SPARSE_ENTRY_COST` estimates cheaper for her length (short
            histories: sparse; long ones on a small catalogue: dense), the sparse users drawn first. Same
            law either way.

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
    if sampler not in ("auto", "dense", "sparse"):
        raise ValueError(f"sampler must be 'auto', 'dense' or 'sparse', got {sampler!r}")
    if sampler == "sparse" and not model.sparse:
        raise ValueError("the sparse sampler needs a sparse model (indptr / indices / data)")
    if model.sparse and sampler == "sparse":
        return _walk_sparse(model, lengths, rng)
    if model.sparse and sampler == "auto":
        cheap = _sparse_users(model, lengths)
        if cheap.all():
            return _walk_sparse(model, lengths, rng)
        if cheap.any():  # short histories by the sparse sampler, long ones by the dense one; same law
            a = _walk_sparse(model, np.where(cheap, lengths, 0), rng)
            b = walk(model, np.where(cheap, 0, lengths), rng, sampler="dense")
            parts = [np.concatenate([x, y]) for x, y in zip(a, b, strict=True)]
            order = np.argsort(parts[0], kind="stable")  # each user is in one part, in walk order
            return parts[0][order], parts[1][order], parts[2][order]
    if model.weights is None:
        model = replace(model, weights=model.dense_weights(), indptr=None, indices=None, data=None)
    assert model.weights is not None
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
    return _by_user_then_step(out_rows, out_steps, out_items, out_logit)


def _by_user_then_step(out_rows: list[np.ndarray], out_steps: list[np.ndarray], out_items: list[np.ndarray],
                       out_logit: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The drawn (row, item, logit) of every step, concatenated and ordered by user row, then step."""
    if not out_rows:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    rows = np.concatenate(out_rows).astype(np.int64)
    steps = np.concatenate(out_steps)
    order = np.lexsort((steps, rows))
    return rows[order], np.concatenate(out_items)[order], np.concatenate(out_logit)[order]


def _sparse_users(model: WalkModel, lengths: np.ndarray) -> np.ndarray:
    """`walk`'s ``"auto"`` choice for a sparse model, per user (bool ``(N,)``: True = sparse sampler): the
    sparse walk's work grows with n_u² k, the dense one's with n_u m, so short histories go sparse."""
    m, big_m = model.n_items, len(model.modelled)
    if big_m > DENSE_SAMPLER_MAX_MODELLED:
        return np.ones(len(lengths), bool)
    n = lengths.astype(np.float64)
    step = float(model.n_neighbours + 1)
    # touched entries at step t: at most min(step t + 1, M + t, m) (neighbours are modelled items);
    # Σ_{t<n}: linear up to t* = (M − 1) / (step − 1), then M + t per step, never more than m
    t_star = np.minimum(n, np.floor((big_m - 1) / max(step - 1.0, 1.0)) + 1)
    linear = t_star + step * t_star * (t_star - 1) / 2
    rest = np.minimum((n - t_star) * big_m + (n - 1 + t_star) * (n - t_star) / 2, (n - t_star) * m)
    sparse_cost = (linear + rest) * SPARSE_ENTRY_COST
    return sparse_cost <= n * m


def _sparse_chunks(lengths: np.ndarray, row_entries: int) -> list[np.ndarray]:
    """Users sorted by descending length (ties: index), in chunks of at most `CHUNK_CELLS` touched entries
    (a user's are at most n_u × (row_entries + 1)); a user heavier than that is a chunk of her own."""
    order = np.lexsort((np.arange(len(lengths)), -lengths))
    order = order[lengths[order] > 0]
    if not len(order):
        return []
    cost = lengths[order] * (row_entries + 1)
    start = np.cumsum(cost) - cost
    chunk_id = start // CHUNK_CELLS
    cuts = np.flatnonzero(np.diff(chunk_id)) + 1
    return np.split(order, cuts)


def _segments(owner: np.ndarray, k: int) -> np.ndarray:
    """``(k + 1,)`` bounds of each user's entries in ``owner`` (sorted, values in [0, k))."""
    return np.searchsorted(owner, np.arange(k + 1), side="left")


def _gumbel_rows(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row-wise Gumbel-max draw from float64 logits (−inf: never)."""
    noise = np.log(np.maximum(rng.standard_exponential(logits.shape), 1e-300))
    return np.argmax(logits - noise, axis=1)


def _walk_sparse(model: WalkModel, lengths: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`walk` for a sparse model: the touched-set sampler of the module docstring.

    Per chunk, the touched entries of the active users are kept sorted by key = user · m + item, each with
    its shifted logit b_i − max b + a h_i in float64 (h_i the sum of the weights of her drawn items' rows on
    item i; −inf once i is drawn), and each user with the base mass Σ exp(b − max b) of her touched items.
    A step updates them in place and inserts the new entries (no re-sort of the whole state).
    """
    assert model.indptr is not None and model.indices is not None and model.data is not None
    m = model.n_items
    bias = model.bias.astype(np.float64)
    shift = float(bias.max()) if m else 0.0  # every mass below is in units of exp(max b): no overflow
    base = np.exp(bias - shift)
    cdf = np.cumsum(base)
    total = float(cdf[-1])
    pos = model.position()
    indptr, indices = model.indptr.astype(np.int64), model.indices.astype(np.int64)
    data = model.scale * model.data.astype(np.float64)
    row_entries = model.n_neighbours
    explicit_cells = max(1, CHUNK_CELLS // max(m, 1))

    out_rows, out_steps, out_items, out_logit = [], [], [], []
    for users in _sparse_chunks(lengths, row_entries):
        n_here = lengths[users]
        key = np.empty(0, np.int64)  # touched entries, sorted: user · m + item
        owner = np.empty(0, np.int64)
        item = np.empty(0, np.int64)
        live: np.ndarray = np.empty(0, np.float64)  # shifted logit b − max b + a h; −inf once drawn
        touched_base = np.zeros(len(users), np.float64)  # Σ exp(b − max b) over each user's touched items
        for t in range(int(n_here[0])):
            k = int(np.searchsorted(-n_here, -t, side="left"))  # users with length > t: a prefix
            cut = int(np.searchsorted(key, k * m, side="left"))  # drop the entries of finished users
            key, owner, item, live = key[:cut], owner[:cut], item[:cut], live[:cut]
            touched_base = touched_base[:k]
            bounds = _segments(owner, k)
            untouched = total - touched_base
            explicit = untouched < EXPLICIT_BELOW * total  # mostly touched: draw over her whole row

            chosen = np.full(k, -1, np.int64)
            chosen_logit = np.zeros(k, np.float64)  # shifted logit of the chosen item
            lmax = np.full(k, -np.inf)
            if len(key):
                nonempty = bounds[1:] > bounds[:-1]
                lmax[nonempty] = np.maximum.reduceat(live, bounds[:-1][nonempty])
            with np.errstate(divide="ignore"):
                log_u = np.log(np.maximum(untouched, 0.0))
            c = np.maximum(lmax, log_u)
            c = np.where(np.isfinite(c), c, 0.0)
            w = np.exp(live - c[owner]) if len(key) else np.empty(0)
            s_touched = np.bincount(owner, weights=w, minlength=k)
            s_base = np.exp(log_u - c)
            pick_touched = (rng.random(k) * (s_touched + s_base) < s_touched) & ~explicit

            # touched: inverse CDF over each chosen user's entries (weights w ≤ 1 after her shift, and her
            # total ≥ her largest weight, so float64 cumulative sums resolve every entry)
            if pick_touched.any():
                who = np.flatnonzero(pick_touched)
                cum = np.cumsum(w)
                before = np.where(bounds[who] > 0, cum[np.maximum(bounds[who] - 1, 0)], 0.0)
                target = before + rng.random(len(who)) * s_touched[who]
                best = np.searchsorted(cum, target, side="right")
                # never past her segment, never a zero-weight (drawn) entry at a rounding edge
                best = np.minimum(best, bounds[who + 1] - 1)
                while True:
                    bad = w[best] == 0
                    if not bad.any():
                        break
                    best[bad] -= 1
                chosen[who] = item[best]
                chosen_logit[who] = live[best]

            # untouched: exp(b) from the cumulative table, touched items rejected
            pending = np.flatnonzero(~pick_touched & ~explicit)
            for _ in range(REJECTION_ROUNDS):
                if not len(pending):
                    break
                cand = np.minimum(np.searchsorted(cdf, rng.random(len(pending)) * total, side="right"), m - 1)
                probe = pending * m + cand
                at = np.minimum(np.searchsorted(key, probe), max(len(key) - 1, 0))
                hit = (key[at] == probe) if len(key) else np.zeros(len(pending), bool)
                ok = pending[~hit]
                chosen[ok] = cand[~hit]
                chosen_logit[ok] = bias[cand[~hit]] - shift
                pending = pending[hit]

            # explicit: over all untouched items (still rejected), or the whole row (mostly touched)
            rest = np.r_[pending, np.flatnonzero(explicit)].astype(np.int64)
            whole = np.r_[np.zeros(len(pending), bool), np.ones(int(explicit.sum()), bool)]
            for lo in range(0, len(rest), explicit_cells):
                part, full_row = rest[lo:lo + explicit_cells], whole[lo:lo + explicit_cells]
                rows = np.tile(bias - shift, (len(part), 1))
                for j, u in enumerate(part):  # only the few users whose untouched mass is small
                    a_, b_ = bounds[u], bounds[u + 1]
                    rows[j, item[a_:b_]] = live[a_:b_] if full_row[j] else -np.inf
                pick = _gumbel_rows(rows, rng)
                chosen[part] = pick
                chosen_logit[part] = rows[np.arange(len(part)), pick]

            out_logit.append((chosen_logit + shift).astype(np.float32))
            out_rows.append(users[:k])
            out_steps.append(np.full(k, t, dtype=np.int64))
            out_items.append(chosen.copy())

            # the new touched entries: the chosen items (drawn) and their rows' neighbours
            local = np.arange(k, dtype=np.int64)
            r = pos[chosen]
            has = r >= 0
            lo_, hi_ = indptr[r[has]], indptr[r[has] + 1]
            size = hi_ - lo_
            flat = np.repeat(lo_ - np.r_[0, np.cumsum(size)[:-1]], size) + np.arange(int(size.sum()))
            nb_key = np.repeat(local[has], size) * m + indices[flat]
            # a user's new keys are distinct (an item is never its own neighbour); sorted, then merged:
            # existing entries are updated in place, the others inserted (no sort of the whole state)
            new_key = np.concatenate([local * m + chosen, nb_key])
            new_add = np.concatenate([np.full(k, -np.inf), data[flat]])  # drawn: −inf from now on
            order = np.argsort(new_key, kind="stable")
            new_key, new_add = new_key[order], new_add[order]
            at = np.searchsorted(key, new_key)
            exists = np.zeros(len(new_key), bool)
            if len(key):
                exists = key[np.minimum(at, len(key) - 1)] == new_key
            live[at[exists]] += new_add[exists]
            ins = ~exists
            ins_key, ins_at = new_key[ins], at[ins]
            ins_owner = ins_key // m
            ins_item = ins_key - ins_owner * m
            touched_base += np.bincount(ins_owner, weights=base[ins_item], minlength=k)
            key = np.insert(key, ins_at, ins_key)
            owner = np.insert(owner, ins_at, ins_owner)
            item = np.insert(item, ins_at, ins_item)
            live = np.insert(live, ins_at, bias[ins_item] - shift + new_add[ins])
    return _by_user_then_step(out_rows, out_steps, out_items, out_logit)
