"""`SequenceGenerator`: an autoregressive model of ordered histories (items and time gaps).

Fit: each real user's events in time order (``timestamp``, ties by source row order; without a
timestamp, row order) form a sequence ``BOS, s_1, …, s_n``. A GRU (Cho et al. 2014, "Learning Phrase
Representations using RNN Encoder–Decoder", EMNLP, eq. 5-8; the session model of Hidasi et al. 2016,
"Session-based Recommendations with Recurrent Neural Networks", ICLR) reads it and is trained, with
Adam and teacher forcing, to maximise

    Σ_t log p(s_{t+1} | s_≤t, Δ_≤t) + Σ_{t≥1} log p(z_{t+1} | s_≤t, Δ_≤t)

where the item term is a softmax over the whole catalogue and, when the log has timestamps,
z = (log(1 + Δ) − m) / s is the standardised log time gap Δ (seconds) to the next event, modelled by a
K-component Gaussian mixture head (a mixture density network, Bishop 1994, so gaps are a log-normal
mixture: in-session seconds and between-session days both fit). Network: `_sequence_net.SequenceNet`.
Only each user's first ``max_train_len`` events are used for training.

Sample: a new user's length n is drawn from the real activity distribution (the smoothed empirical
quantiles of events per user, `EmpiricalQuantiles`; or ``fixed_length``), her first time t₁ from the
real first-event times, then items and gaps are drawn step by step from the network: at step t every
user of a chunk draws s_{t+1} from softmax(logits / temperature) by inverse-CDF sampling (one uniform
per user) and Δ_{t+1} from the mixture, and t_{t+1} = t_t + max(1, round(expm1(m + s·z))) seconds.
The loop runs over time steps, vectorised over the users of a chunk (users are chunked by length so a
chunk's steps are few), never over single interactions.

Guarantees (PITFALLS P12): each user has exactly her drawn (or fixed) length; times strictly increase
within a user (every gap ≥ 1 s); nothing is clipped at the real maximum time. With
``allow_repeats=False`` (default) no user repeats an item (already drawn items get probability 0), so a
length may not exceed the catalogue.

Output of `sample`: `InteractionData` over the fitted item vocabulary and ``items`` table, users
``"syn-0"``, ``"syn-1"``, …, columns user, item [, timestamp]; rows are user-major in event order (so
row order is time order even without a timestamp column).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import polars as pl

from synthrec.data.interactions import ITEM, TIMESTAMP, USER, InteractionData
from synthrec.data.validation import DataQualityWarning
from synthrec.errors import ConfigError
from synthrec.generators._logs import synthetic_block
from synthrec.generators._sampling import EmpiricalQuantiles, segment_starts
from synthrec.generators.base import BaseGenerator

#: largest log(1 + gap) generated, 20 years in seconds; guards against overflow only.
_MAX_LOG_GAP = float(np.log1p(20 * 365.25 * 86400))


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_float(name: str, value: object, lo: float, hi: float, *, lo_open: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (value > lo if lo_open else value >= lo) and value <= hi  # type: ignore[operator]
    if not ok:
        raise ConfigError(f"{name} must be a number in {'(' if lo_open else '['}{lo}, {hi}], got {value!r}")


class SequenceGenerator(BaseGenerator):
    """GRU sequence model of items and time gaps; samples ordered synthetic histories (module docstring).

    Args:
        dim: item embedding size (input and tied output). Default 64.
        hidden: GRU state size. Default 128.
        n_layers: stacked GRU layers. Default 1.
        n_mixture: K, components of the gap mixture. Default 4.
        dropout: dropout on the GRU outputs during training. Default 0.1.
        epochs: passes over the real users. Default 20.
        lr: Adam learning rate. Default 0.002.
        batch_size: sequences per training step. Default 128.
        max_train_len: events per user used for training (the first ones). Default 200.
        allow_repeats: may a user draw an item twice. Default False.
        fixed_length: if set, every synthetic user gets exactly this many events. May be changed after
            fitting.
        temperature: > 0; divides the item logits when sampling (1 = the fitted distribution).
        chunk_users: users sampled together. Default 512.
        seed: seeds initialisation, dropout and shuffling in `fit`. Default 0.
        device: torch device (``"cpu"``, ``"cuda"``, ``"auto"``). Default ``"cpu"``.

    Raises:
        ConfigError: an argument is out of range.

    Fitted attributes: ``net_`` (the torch module, kept on the CPU between calls), ``length_quantiles_``,
    ``start_quantiles_`` (None without time), ``gap_mean_`` / ``gap_sd_`` (m and s), ``loss_history_``
    (mean item and gap negative log-likelihood per epoch).
    """

    def __init__(
        self,
        dim: int = 64,
        hidden: int = 128,
        n_layers: int = 1,
        n_mixture: int = 4,
        dropout: float = 0.1,
        epochs: int = 20,
        lr: float = 2e-3,
        batch_size: int = 128,
        max_train_len: int = 200,
        allow_repeats: bool = False,
        fixed_length: int | None = None,
        temperature: float = 1.0,
        chunk_users: int = 512,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        for nm, v, lo in (("dim", dim, 1), ("hidden", hidden, 1), ("n_layers", n_layers, 1),
                          ("n_mixture", n_mixture, 1), ("epochs", epochs, 0), ("batch_size", batch_size, 1),
                          ("max_train_len", max_train_len, 2), ("chunk_users", chunk_users, 1),
                          ("seed", seed, 0)):
            _check_int(nm, v, lo)
        if fixed_length is not None:
            _check_int("fixed_length", fixed_length, 1)
        _check_float("dropout", dropout, 0.0, 0.99)
        _check_float("lr", lr, 0.0, 10.0, lo_open=True)
        _check_float("temperature", temperature, 0.0, 100.0, lo_open=True)
        from synthrec._torch import resolve_device

        resolve_device(device)  # fail early on a bad device name
        self.dim, self.hidden, self.n_layers, self.n_mixture = dim, hidden, n_layers, n_mixture
        self.dropout, self.epochs, self.lr, self.batch_size = float(dropout), epochs, float(lr), batch_size
        self.max_train_len = max_train_len
        self.allow_repeats = bool(allow_repeats)
        self.fixed_length = fixed_length
        self.temperature = float(temperature)
        self.chunk_users = chunk_users
        self.seed = seed
        self.device = device

    @property
    def emits_repeats(self) -> bool:
        """A user may draw an item twice exactly when ``allow_repeats`` is set."""
        return self.allow_repeats

    def __repr__(self) -> str:
        state = "fitted" if self._fitted else "not fitted"
        return (f"SequenceGenerator(dim={self.dim}, hidden={self.hidden}, n_layers={self.n_layers}, "
                f"epochs={self.epochs}, {state})")

    # ------------------------------------------------------------------ fit

    def _fit(self, data: InteractionData) -> None:
        """Fit the sequence model, the activity distribution and (with timestamps) the time model (called
        by `BaseGenerator.fit`). Uses user, item and, when present, timestamp.

        Raises:
            DataValidationError: a missing timestamp.

        Warns:
            DataQualityWarning: the log has no timestamps and does not declare ``row_order_is_time``:
                the model learns the order of rows, which may not be the order of events.
        """
        import torch

        from synthrec._torch import ordered_events, resolve_device, seeded_torch
        from synthrec.generators._sequence_net import OFFSET, SequenceNet

        if not data.has_timestamp and not data.row_order_is_time:
            warnings.warn(
                f"{data.name}: no timestamps, and the log does not say its rows are in time order; the sequence "
                "model learns each user's row order as if it were the order of events (declare "
                "row_order_is_time=True if it is, or prefer an order-free generator such as latent-factor)",
                DataQualityWarning, stacklevel=3,
            )
        dev = resolve_device(self.device)
        users, items, times = ordered_events(data)
        _, users = np.unique(users, return_inverse=True)  # active users only, dense
        n_users = int(users.max()) + 1
        starts = segment_starts(users, n_users)
        lengths = np.diff(starts)
        self.length_quantiles_ = EmpiricalQuantiles.fit(lengths.astype(np.float64), max_knots=201)
        self.max_real_length_ = int(lengths.max())
        has_time = times is not None
        z_all = np.zeros(len(items))
        self.start_quantiles_: EmpiricalQuantiles | None = None
        self.gap_mean_, self.gap_sd_ = 0.0, 1.0
        if has_time:
            assert times is not None
            first = np.zeros(len(items), dtype=bool)
            first[starts[:-1]] = True
            log_gap = np.log1p(np.maximum(np.diff(times, prepend=times[:1]), 0).astype(np.float64))
            real_gaps = log_gap[~first]
            if real_gaps.size:
                self.gap_mean_ = float(real_gaps.mean())
                self.gap_sd_ = float(max(real_gaps.std(), 1e-3))
            z_all = np.where(first, 0.0, (log_gap - self.gap_mean_) / self.gap_sd_)
            self.start_quantiles_ = EmpiricalQuantiles.fit(times[starts[:-1]].astype(np.float64), max_knots=201)

        # padded training arrays: tokens [BOS, s_1 .. s_L], gaps before each token
        width = int(min(lengths.max(), self.max_train_len))
        take = np.minimum(lengths, width)
        owner = np.repeat(np.arange(n_users), take)
        rank = np.arange(int(take.sum())) - np.repeat(np.cumsum(take) - take, take)
        src = starts[:-1][owner] + rank
        tok = np.zeros((n_users, width + 1), np.int64)
        tok[:, 0] = 1  # BOS
        tok[owner, rank + 1] = items[src] + OFFSET
        gz = np.zeros((n_users, width + 1), np.float32)
        gz[owner, rank + 1] = z_all[src]

        with seeded_torch(self.seed, dev):
            net = SequenceNet(data.n_items, self.dim, self.hidden, self.n_layers, self.n_mixture, self.dropout,
                              has_time).to(dev)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1]))
            self.loss_history_: list[tuple[int, float, float]] = []
            net.train()
            for epoch in range(self.epochs):
                # length buckets: batches of users of similar length (random within equal lengths), in
                # random batch order, so the GRU runs few padded steps
                order = np.lexsort((rng.random(n_users), take))
                batches = [order[lo:lo + self.batch_size] for lo in range(0, n_users, self.batch_size)]
                item_sum = gap_sum = 0.0
                n_tok = n_gap = 0
                for b in rng.permutation(len(batches)):
                    rows = batches[b]
                    w = int(take[rows].max())
                    t = torch.as_tensor(tok[rows, :w + 1], device=dev)
                    g = torch.as_tensor(gz[rows, :w + 1], device=dev)
                    out, _ = net.step(t[:, :-1], g[:, :-1] if has_time else None, None)
                    target = t[:, 1:]
                    valid = target != 0
                    ce = torch.nn.functional.cross_entropy(net.item_logits(out[valid]), target[valid] - OFFSET,
                                                           reduction="sum")
                    loss = ce
                    gl = torch.zeros((), device=dev)
                    n_g = 0
                    if has_time:
                        gap_valid = valid.clone()
                        gap_valid[:, 0] = False  # the BOS step predicts no gap
                        n_g = int(gap_valid.sum())
                        if n_g:
                            gl = net.gap_nll(out[gap_valid], g[:, 1:][gap_valid]).sum()
                            loss = loss + gl
                    n_v = int(valid.sum())
                    opt.zero_grad(set_to_none=True)
                    (loss / max(n_v, 1)).backward()
                    opt.step()
                    item_sum += float(ce.detach())
                    gap_sum += float(gl.detach())
                    n_tok += n_v
                    n_gap += n_g
                self.loss_history_.append((epoch, item_sum / max(n_tok, 1),
                                           gap_sum / n_gap if n_gap else float("nan")))
            net.eval()
        self.net_ = net.to("cpu")
        self.has_time_ = has_time
        self.n_items_ = data.n_items

    # ------------------------------------------------------------------ persistence

    def __getstate__(self) -> dict[str, Any]:
        """The network is kept as a CPU state dict (what `save` stores and pickle copies to workers)."""
        state = self.__dict__.copy()
        net = state.get("net_")
        if net is not None and not isinstance(net, dict):
            from synthrec.generators._torch import cpu_state

            state["net_"] = cpu_state(net)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild the network from its state dict, on the CPU (where it is kept between calls)."""
        self.__dict__.update(state)
        net = state.get("net_")
        if isinstance(net, dict):  # a module pickled before this method existed is kept as it is
            import torch

            from synthrec.generators._sequence_net import SequenceNet
            from synthrec.generators._torch import load_network

            built = SequenceNet(self.n_items_, self.dim, self.hidden, self.n_layers, self.n_mixture, self.dropout,
                                self.has_time_)
            load_network(built, net, torch.device("cpu"))  # loads, moves and sets eval mode in place
            self.net_ = built

    # ------------------------------------------------------------------ sampling

    def _lengths(self, n_users: int, rng: np.random.Generator) -> np.ndarray:
        if self.fixed_length is not None:
            _check_int("fixed_length", self.fixed_length, 1)
            if not self.allow_repeats and self.fixed_length > self.n_items_:
                raise ConfigError(
                    f"fixed_length={self.fixed_length} exceeds the catalogue of {self.n_items_} items and "
                    "allow_repeats=False: a user cannot have more distinct items than exist (lower "
                    "fixed_length or set allow_repeats=True)")
            return np.full(n_users, self.fixed_length, dtype=np.int64)
        drawn = np.rint(self.length_quantiles_.sample(n_users, rng)).astype(np.int64)
        cap = np.iinfo(np.int64).max if self.allow_repeats else self.n_items_
        return np.clip(drawn, 1, cap)

    def _sample_block(self, n_users: int, rng: np.random.Generator, first_user: int) -> InteractionData:
        """Sample ``n_users`` users (module docstring); see `BaseGenerator.sample_batches` for seeding."""
        import torch

        from synthrec._torch import resolve_device

        self._require_fitted()
        dev = resolve_device(self.device)
        length = self._lengths(n_users, rng)
        start = (np.rint(self.start_quantiles_.sample(n_users, rng)).astype(np.int64)
                 if self.has_time_ and self.start_quantiles_ is not None else None)
        total = int(length.sum())
        offsets = np.cumsum(length) - length
        items_out = np.empty(total, np.int64)
        times_out = np.empty(total, np.int64) if self.has_time_ else None
        net = self.net_.to(dev)
        by_length = np.argsort(length, kind="stable")
        try:
            with torch.no_grad():
                for lo in range(0, n_users, self.chunk_users):
                    idx = by_length[lo:lo + self.chunk_users]
                    it, ts = self._sample_chunk(net, length[idx], None if start is None else start[idx], rng, dev)
                    mask = np.arange(it.shape[1])[None, :] < length[idx][:, None]
                    dest = (offsets[idx][:, None] + np.arange(it.shape[1])[None, :])[mask]
                    items_out[dest] = it[mask]
                    if times_out is not None and ts is not None:
                        times_out[dest] = ts[mask]
        finally:
            self.net_ = net.to("cpu")
        cols: dict[str, pl.Series] = {
            USER: pl.Series(USER, np.repeat(np.arange(n_users), length), dtype=pl.Int32),
            ITEM: pl.Series(ITEM, items_out, dtype=pl.Int32),
        }
        if times_out is not None:
            cols[TIMESTAMP] = pl.Series(TIMESTAMP, times_out, dtype=pl.Int64)
        return synthetic_block(cols, first_user, n_users, self.item_ids_, self.items_, self.source_name_)

    def _sample_chunk(
        self, net: Any, length: np.ndarray, start: np.ndarray | None, rng: np.random.Generator, dev: Any
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Items ``(B, max length)`` and, with time, timestamps of one chunk (cells past a user's length
        are filler). ``length`` must be ascending: at step t only the users longer than t (a suffix of
        the chunk) are advanced, so the work is proportional to the events drawn."""
        import torch

        from synthrec.generators._sequence_net import BOS, OFFSET

        b, steps = len(length), int(length.max()) if len(length) else 0
        items = np.zeros((b, steps), np.int64)
        times = np.zeros((b, steps), np.int64) if start is not None else None
        seen = None if self.allow_repeats else torch.zeros((b, self.n_items_), dtype=torch.bool, device=dev)
        token = torch.full((b, 1), BOS, dtype=torch.long, device=dev)
        gap_in = torch.zeros((b, 1), device=dev) if self.has_time_ else None
        state: Any = None
        a0 = 0  # users a0 .. b-1 are still drawing
        for t in range(steps):
            a1 = int(np.searchsorted(length, t, side="right"))  # first user with length > t
            if a1 > a0:  # drop the users who are done from every per-user tensor
                cut = a1 - a0
                token = token[cut:]
                gap_in = gap_in[cut:] if gap_in is not None else None
                state = state[:, cut:].contiguous() if state is not None else None
                a0 = a1
            n_act = b - a0
            out, state = net.step(token, gap_in, state)
            out = out[:, -1]
            logits = net.item_logits(out) / self.temperature
            if seen is not None:
                logits = logits.masked_fill(seen[a0:], float("-inf"))
            # inverse-CDF draw from softmax(logits): cumulative unnormalised weights (float64), one
            # uniform per user scaled to the row total, located by binary search
            cdf = torch.cumsum(torch.exp(logits - logits.max(dim=-1, keepdim=True).values).double(), dim=-1)
            u = torch.as_tensor(1.0 - rng.random(n_act), device=dev) * cdf[:, -1]  # (0, total]: p=0 never hit
            nxt_t = torch.searchsorted(cdf, u.unsqueeze(-1)).squeeze(-1).clamp(max=self.n_items_ - 1)
            nxt = nxt_t.cpu().numpy()
            items[a0:, t] = nxt
            if seen is not None:
                seen[torch.arange(a0, b, device=dev), nxt_t] = True
            token = (nxt_t + OFFSET).view(n_act, 1)
            if times is not None and start is not None:
                if t == 0:
                    times[:, 0] = start
                    z = np.zeros(n_act)
                else:
                    z = self._draw_gap(net, out, rng)  # the state after s_t gives the gap to s_{t+1}
                    log_gap = np.clip(self.gap_mean_ + self.gap_sd_ * z, 0.0, _MAX_LOG_GAP)
                    gap = np.maximum(np.rint(np.expm1(log_gap)), 1).astype(np.int64)
                    times[a0:, t] = times[a0:, t - 1] + gap
                    z = (np.log1p(gap) - self.gap_mean_) / self.gap_sd_
                gap_in = torch.as_tensor(z, dtype=torch.float32, device=dev).view(n_act, 1)
        return items, times

    @staticmethod
    def _draw_gap(net: Any, out: Any, rng: np.random.Generator) -> np.ndarray:
        """One standardised log gap per row from the mixture head: float64 ``(B,)``."""
        log_w, mu, log_sigma = (x.double().cpu().numpy() for x in net.gap_mixture(out))
        cdf = np.cumsum(np.exp(log_w), axis=1)
        u = (1.0 - rng.random(len(cdf))) * cdf[:, -1]
        comp = np.minimum((cdf < u[:, None]).sum(axis=1), cdf.shape[1] - 1)
        r = np.arange(len(cdf))
        return mu[r, comp] + np.exp(log_sigma[r, comp]) * rng.standard_normal(len(cdf))
