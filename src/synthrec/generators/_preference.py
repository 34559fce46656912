r"""Base of the deep generators: a network models a user's item preferences; the rest of a history
(activity, order, timestamps, ratings) comes from the same fitted pieces as `LatentFactorGenerator`.

A subclass implements the network part:

* ``_fit_network(x, train_rows, valid_rows)``: train on the binary user × item matrix ``x`` (CSR);
* ``_new_user_logits(n, rng)``: float32 ``(n, m)`` item logits of ``n`` NEW users drawn from the
  network's generative model (noise from the numpy ``rng``, so sampling is reproducible on any device);
* ``_real_pair_scores(x, users, items)``: a score per real (user, item) pair, only ranked within a user
  (for the rating model);
* ``_build_network(name)``: an untrained module of the attribute ``name`` (in ``_NETWORKS``), for load.

What this base does (fit):

1. Validate the log; keep each (user, item) pair once, at its first occurrence in time (file order breaks
   ties); users are the rows of the binary matrix X (n × m) — ids are never one-hot encoded.
2. *User traits* z = (log n_u [, mean rating] [, start time t₀, tempo μ_u, log(1 + span T_u)]) get one
   full-covariance Gaussian (`synthrec.generators._gmm`, one component) whose marginal CDFs are mapped
   onto each trait's smoothed empirical quantile function — a Gaussian copula (Sklar 1959) — exactly as
   in `LatentFactorGenerator` step 2, but without the user vector: traits are drawn independently of the
   network's preference vector. Activity, start time, tempo and span thus keep their real marginals and
   their mutual dependence.
3. *Order and time*: `OrderModel` and `TimeModel` (`synthrec.generators._timestamps`).
4. *Ratings*: `RatingModel` (`synthrec.generators._ratings`) on the within-user rank of the subclass's
   pair scores.

Sampling a block of new users: draw traits; the user's activity n_u is the trait quantile (rounded,
clipped to [1, m]); logits ℓ_u from the network; n_u distinct items by Gumbel-top-k on ℓ_u (Kool, van
Hoof & Welling 2019, ICML, eq. 8: sampling without replacement from softmax(ℓ_u)); events ordered by
`OrderModel`; timestamps from `TimeModel`; ratings from `RatingModel` with the within-user rank of ℓ_ui.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import polars as pl
import scipy.sparse as sp
import torch
from torch import nn

from synthrec.data.interactions import ITEM, RATING, TIMESTAMP, USER, InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.generators._gmm import GaussianMixture, fit_gaussian_mixture
from synthrec.generators._ratings import RatingModel
from synthrec.generators._sampling import (
    EmpiricalQuantiles,
    flatten_padded,
    gumbel_top_k,
    row_percentiles,
    sort_rows,
)
from synthrec.generators._timestamps import OrderModel, TimeModel
from synthrec.generators._torch import (
    PrivacyHook,
    cpu_state,
    load_device,
    load_network,
    resolve_device,
    split_users,
)
from synthrec.generators.base import BaseGenerator


class PreferenceGenerator(BaseGenerator):
    """Shared fit/sample/persistence of the torch generators (see the module docstring).

    Subclasses set ``_NETWORKS`` (names of their `nn.Module` attributes) and the attributes
    ``seed``, ``device``, ``chunk_users``, ``dp_hook``.
    """

    _NETWORKS: ClassVar[tuple[str, ...]] = ()
    #: share of users held out to early-stop the network on its validation likelihood
    validation_fraction: ClassVar[float] = 0.1
    seed: int
    device: str | None
    chunk_users: int
    dp_hook: PrivacyHook | None

    # ------------------------------------------------------------------ subclass interface

    def _fit_network(self, x: sp.csr_matrix, train_rows: np.ndarray, valid_rows: np.ndarray) -> None:
        raise NotImplementedError

    def _new_user_logits(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _real_pair_scores(self, x: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _build_network(self, name: str) -> nn.Module:
        raise NotImplementedError

    # ------------------------------------------------------------------ fit

    def fit(self, data: InteractionData) -> Self:
        """Fit the network and the history model on ``data`` (see the module and class docstrings).

        Args:
            data: the real log; uses columns user, item and, when present, timestamp and rating.

        Returns:
            ``self``, fitted.

        Raises:
            DataValidationError: not an `InteractionData`, no interactions, or a null / non-finite rating or
                timestamp (the message names the column and the first bad row).
            ConfigError: the device is unavailable, or the batch would exceed the memory budget.
        """
        if not isinstance(data, InteractionData):
            raise DataValidationError(f"fit expects an InteractionData, got {type(data).__name__}",
                                      hint="build one with InteractionData.from_frame or a reader")
        self._fitted = False
        if data.n_interactions == 0:
            raise DataValidationError("cannot fit a generator on a log with no interactions",
                                      source=data.name, hint="check the split or filter that produced it")
        self.device_ = resolve_device(self.device)
        has_time, has_rating = data.has_timestamp, data.has_rating
        cols = [USER, ITEM] + ([TIMESTAMP] if has_time else []) + ([RATING] if has_rating else [])
        frame = data.interactions.select(cols).with_row_index("_row")
        for col in cols[2:]:
            bad = frame[col].is_null()
            if frame.schema[col].is_float():
                bad = bad | ~frame[col].is_finite().fill_null(False)
            if bad.any():
                raise DataValidationError(
                    f"{int(bad.sum())} missing or non-finite value(s)", source=data.name, column=col,
                    row=int(bad.arg_true()[0]) + 1, hint="drop or fill those rows before fitting",
                )
        keys = [USER, TIMESTAMP, "_row"] if has_time else [USER, "_row"]
        frame = frame.sort(keys).unique(subset=[USER, ITEM], keep="first", maintain_order=True)
        _, users = np.unique(frame[USER].to_numpy(), return_inverse=True)
        users = users.astype(np.int64)
        items = frame[ITEM].to_numpy().astype(np.int64)
        n, m = int(users.max()) + 1, data.n_items
        x = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=(n, m))
        self.n_items_ = m
        self.n_train_users_ = n

        # network (subclass)
        train_rows, valid_rows = split_users(n, self.validation_fraction, self.seed)
        self._fit_network(x, train_rows, valid_rows)

        # user traits
        deg = np.diff(x.indptr).astype(np.float64)
        traits: list[np.ndarray] = [np.log(deg)]
        names = ["log_activity"]
        time_model = None
        if has_rating:
            ratings = frame[RATING].to_numpy().astype(np.float64)
            traits.append(np.bincount(users, weights=ratings, minlength=n) / deg)
            names.append("mean_rating")
        if has_time:
            time_model, start, tempo, log_span = TimeModel.fit(users, frame[TIMESTAMP].to_numpy())
            traits += [start, tempo, log_span]
            names += ["start_time", "tempo", "log_span"]
        self.trait_model_: GaussianMixture = fit_gaussian_mixture(np.column_stack(traits), 1, seed=self.seed)
        self.trait_names_ = names
        natural = {"log_activity": deg, "log_span": np.expm1(traits[-1]) if has_time else None}
        self.trait_quantiles_ = {
            nm: EmpiricalQuantiles.fit(t if natural.get(nm) is None else natural[nm], max_knots=201)
            for nm, t in zip(names, traits, strict=True)
        }

        # order, time, ratings
        self.order_model_ = OrderModel.fit(users, items, m)
        self.time_model_: TimeModel | None = time_model
        self.rating_model_: RatingModel | None = None
        if has_rating:
            scores = self._real_pair_scores(x, users, items)
            self.rating_model_ = RatingModel.fit(users, frame[RATING].to_numpy(), scores, n)
        self.item_ids_ = data.item_ids
        self.items_ = data.items
        self.source_name_ = data.name
        self._fitted = True
        return self

    # ------------------------------------------------------------------ sampling

    def _draw_traits(self, n_users: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Activities int64 ``(N,)`` in [1, m] and each trait's probability F_j(z_j) ∈ [0, 1]."""
        z = self.trait_model_.sample(n_users, rng)
        pct = {nm: self.trait_model_.marginal_cdf(j, z[:, j]) for j, nm in enumerate(self.trait_names_)}
        activity = self.trait_quantiles_["log_activity"].ppf(pct["log_activity"])
        return np.clip(np.rint(activity), 1, self.n_items_).astype(np.int64), pct

    def _sample_block(self, n_users: int, rng: np.random.Generator, first_user: int) -> InteractionData:
        self._require_fitted()
        length, pct = self._draw_traits(n_users, rng)
        rows_l, items_l, aff_l = [], [], []
        for lo in range(0, n_users, self.chunk_users):
            hi = min(lo + self.chunk_users, n_users)
            logits = self._new_user_logits(hi - lo, rng)
            top, mask = gumbel_top_k(logits, length[lo:hi], rng)
            affinity = row_percentiles(np.take_along_axis(logits, top, axis=1), mask)
            top, affinity = sort_rows(self.order_model_.keys(top, rng), mask, top, affinity)
            r, it, aff = flatten_padded(mask, top, affinity)
            rows_l.append(r + lo)
            items_l.append(it)
            aff_l.append(aff)
        rows = np.concatenate(rows_l) if rows_l else np.empty(0, np.int64)
        items = np.concatenate(items_l) if items_l else np.empty(0, np.int64)
        cols: dict[str, pl.Series] = {
            USER: pl.Series(USER, rows, dtype=pl.Int32),
            ITEM: pl.Series(ITEM, items, dtype=pl.Int32),
        }
        if self.time_model_ is not None:
            q = self.trait_quantiles_
            times = self.time_model_.generate(q["start_time"].ppf(pct["start_time"]), q["tempo"].ppf(pct["tempo"]),
                                              q["log_span"].ppf(pct["log_span"]), length, rng)
            cols[TIMESTAMP] = pl.Series(TIMESTAMP, times, dtype=pl.Int64)
        if self.rating_model_ is not None:
            affinity = np.concatenate(aff_l) if aff_l else np.empty(0)
            cols[RATING] = pl.Series(RATING, self.rating_model_.sample(pct["mean_rating"], rows, affinity, rng),
                                     dtype=pl.Float32)
        user_ids = pl.select(
            pl.format("syn-{}", pl.int_range(first_user, first_user + n_users, dtype=pl.Int64))
        ).to_series().alias("user_id")
        return InteractionData(pl.DataFrame(cols), user_ids, self.item_ids_, None, self.items_,
                               name=f"{self.source_name_}-synthetic")

    def preferences(self, n_users: int, *, seed: int) -> np.ndarray:
        """Item-choice probabilities softmax(ℓ_u) of ``n_users`` new users, float32 ``(n_users, m)``.

        The distribution each new user's items are drawn from (before activity and Gumbel-top-k); rows sum
        to 1. Used by diagnostics such as `synthrec.generators.gan.mode_collapse_report`.
        """
        self._require_fitted()
        if n_users < 0:
            raise ConfigError(f"n_users must be >= 0, got {n_users}")
        rng = np.random.default_rng(seed)
        out = np.empty((n_users, self.n_items_), np.float32)
        for lo in range(0, n_users, self.chunk_users):
            logits = self._new_user_logits(min(self.chunk_users, n_users - lo), rng)
            logits -= logits.max(axis=1, keepdims=True)
            np.exp(logits, out=logits)
            out[lo:lo + len(logits)] = logits / logits.sum(axis=1, keepdims=True)
        return out

    # ------------------------------------------------------------------ persistence

    def __getstate__(self) -> dict[str, Any]:
        """Networks are pickled as CPU state dicts (load on any device); the DP hook is not kept."""
        state = self.__dict__.copy()
        state["dp_hook"] = None
        state.pop("device_", None)
        for name in self._NETWORKS:
            if name in state:
                state[name] = cpu_state(state[name])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if not self._fitted:
            return
        self.device_ = load_device(self.device)
        for name in self._NETWORKS:
            if name in state:
                setattr(self, name, load_network(self._build_network(name), state[name], self.device_))

    @torch.no_grad()
    def _run(self, module: nn.Module, inputs: np.ndarray) -> np.ndarray:
        """Apply ``module`` in eval mode to a float32 numpy batch; float32 numpy result."""
        out = module(torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)).to(self.device_))
        return np.asarray(out.float().cpu().numpy(), dtype=np.float32)


def check_int(name: str, value: object, minimum: int) -> None:
    """Raise ConfigError unless ``value`` is an int ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_float(
    name: str, value: object, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False
) -> None:
    """Raise ConfigError unless ``value`` is a finite number in the interval from ``lo`` to ``hi``."""
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        rng = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
        raise ConfigError(f"{name} must be a number in {rng}, got {value!r}")
