"""`GaussianCopulaSynthesizer`: synthetic attribute tables (users, items) with mixed categorical/numeric columns.

The model is the standard Gaussian copula (Sklar 1959; Nelsen 2006, *An Introduction to Copulas*, 2nd ed.,
§2.3 Sklar's theorem and §5.1 the normal copula C_R(u) = Φ_R(Φ⁻¹(u_1), …, Φ⁻¹(u_d))): every column j has
its own marginal distribution F_j, and the dependence between columns is that of a multivariate normal
Z ~ N(0, R) with unit diagonal. A row is x_j = F_j⁻¹(Φ(z_j)).

**Marginals.**

* *Categorical* (string, categorical, enum, boolean columns, or any column named in ``categorical``).
  Categories, with **missing as a category of its own** (PITFALLS P15), are ordered by share (largest
  first, ties by label, missing last among equals) and laid end to end on [0, 1]: category c owns the
  interval [a_c, b_c) with b_c − a_c its share. Sampling decodes u = Φ(z) to the category whose interval
  holds u, so every share — the missing rate included — is reproduced exactly in expectation.
* *Numeric* (integer, float, date, datetime, duration columns). The empirical CDF of the observed values;
  a missing value (null or NaN) owns the bottom interval [0, p) of the unit interval, p the missing rate,
  so the rate is kept and its dependence on the other columns is modelled like any other ordinal level.
  Observed values fill [p, 1]. Sampling maps u back through the empirical quantile function: by default
  the real values themselves (a step function: integers stay integers, the support is the real one), or
  with ``jitter`` by linear interpolation between sample quantiles (Hyndman & Fan 1996, definition 7),
  giving new values inside [min, max] (integer and temporal columns are rounded back).

**Correlation.** A value x of column j confines its latent score to the interval [α, β] =
[Φ⁻¹(F_j(x⁻)), Φ⁻¹(F_j(x))]; its normal score is the conditional mean m(x) = E[Z | α ≤ Z ≤ β] =
(φ(α) − φ(β)) / (Φ(β) − Φ(α)) (for untied continuous data, about the van der Waerden score). With
s_j² = Var m_j(X_j) (1 for a continuous column, less for a coarse one: 0.57 for a 29 / 71 % binary), the
latent correlation is estimated by

    R_ij = Cov(m_i, m_j) / (s_i² s_j²),

because under the Gaussian copula E[m_i · X_j] = ρ_ij s_i² for a continuous X_j — the polyserial
correlation (Olsson, Drasgow & Dorans 1982, "The polyserial correlation coefficient", Psychometrika 47,
eq. 12) — and Cov(m_i, m_j) = ρ_ij s_i² s_j² + O(ρ²) for two coarse columns (first term of the tetrachoric
series; Pearson 1900). Without this correction the correlation of a binary attribute with the rest is
attenuated by s² (on ml-100k conditioning on gender moved the synthetic genre shares by under half of the
real gap). R is clipped to [−0.999, 0.999], its eigenvalues floored at 1e-6 and re-normalised to a unit
diagonal, so it is a positive-definite correlation matrix.

**Conditional sampling** (``where={"gender": "F"}``). A fixed value confines its score z_j to an interval
[Φ⁻¹(a), Φ⁻¹(b)] (a point for a numeric value that is not tied). The fixed scores are drawn from N(0, R_AA)
truncated to their box by Gibbs sampling with exact univariate truncated-normal steps (Geweke 1991,
"Efficient simulation from the multivariate normal and Student-t distributions subject to linear
constraints"; one exact step when one column is fixed), and the free scores from the Gaussian conditional
N(R_BA R_AA⁻¹ z_A, R_BB − R_BA R_AA⁻¹ R_AB). Fixed columns are returned with exactly the given values.

**Privacy note.** A numeric marginal stores the distinct observed values and their shares (the empirical
CDF), and a categorical marginal its labels: the fitted synthesizer is not private; do not publish it for
sensitive tables. Rows are never copied — each column is drawn from its marginal separately.

This is our own implementation (numpy/scipy); it shares no code with SDV/copulas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import log_ndtr, ndtr, ndtri, ndtri_exp

from synthrec.errors import ConfigError, DataValidationError, NotFittedError

try:  # Python >= 3.11
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

#: eigenvalue floor of the fitted correlation matrix (keeps it positive definite)
_EIG_FLOOR = 1e-6


@dataclass(frozen=True)
class CategoricalMarginal:
    """Shares of the categories of one column laid end to end on [0, 1].

    Attributes:
        name: the column name. dtype: its polars dtype (restored on output).
        categories: the labels in interval order; ``None`` is the missing category.
        bounds: float64 ``(K + 1,)``, 0 = bounds[0] < … < bounds[K] = 1; category c owns
            ``[bounds[c], bounds[c + 1])``.
    """

    name: str
    dtype: pl.DataType
    categories: tuple[object, ...]
    bounds: np.ndarray

    @property
    def shares(self) -> np.ndarray:
        """float64 ``(K,)`` share of each category (the missing share included)."""
        return np.diff(self.bounds)

    def codes(self, values: pl.Series, *, source: str) -> np.ndarray:
        """Interval index (int64) of each value; an unseen label raises ConfigError naming it."""
        clean = _normalise_missing(values).cast(self.dtype, strict=False)
        lookup = pl.DataFrame({"v": pl.Series("v", list(self.categories), dtype=self.dtype, strict=False),
                               "code": np.arange(len(self.categories), dtype=np.int64)})
        joined = pl.DataFrame({"v": clean}).join(lookup, on="v", how="left", nulls_equal=True,
                                                  maintain_order="left")
        out = joined["code"].fill_null(-1).to_numpy().astype(np.int64)
        if (out < 0).any():
            bad = values[int(np.flatnonzero(out < 0)[0])]
            known = ", ".join(repr(c) for c in self.categories[:20])
            raise ConfigError(f"{source}: value {bad!r} of column '{self.name}' was not seen when fitting; "
                              f"known values: {known}{' …' if len(self.categories) > 20 else ''}")
        return out

    def intervals(self, values: pl.Series, *, source: str) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper u-bounds (float64) of each value's interval."""
        c = self.codes(values, source=source)
        return self.bounds[c], self.bounds[c + 1]

    def decode(self, u: np.ndarray) -> pl.Series:
        """Category whose interval holds each u ∈ [0, 1]; a Series of the column's dtype."""
        k = np.clip(np.searchsorted(self.bounds, u, side="right") - 1, 0, len(self.categories) - 1)
        table = pl.Series(self.name, list(self.categories), dtype=self.dtype, strict=False)
        return table.gather(k)


@dataclass(frozen=True)
class NumericMarginal:
    """Empirical distribution of a numeric column, with missing values as the bottom interval [0, p).

    Attributes:
        name: the column name. dtype: its polars dtype (restored on output; integers are rounded).
        missing_rate: p, the share of null/NaN values.
        values: float64 ``(K,)`` distinct observed values, ascending (physical values for temporal columns).
        cdf: float64 ``(K,)`` share of observed values ≤ values[k] (cdf[-1] = 1).
        knots: float64 ``(M,)`` sample quantiles at ``linspace(0, 1, M)`` (used with jitter).
        jitter: whether `decode` interpolates between quantiles instead of returning real values.
    """

    name: str
    dtype: pl.DataType
    missing_rate: float
    values: np.ndarray
    cdf: np.ndarray
    knots: np.ndarray
    jitter: bool

    @property
    def rounds(self) -> bool:
        """True for integer and temporal columns (decoded values are rounded to whole units)."""
        return self.dtype.is_integer() or self.dtype.is_temporal()

    def intervals(self, values: pl.Series, *, source: str) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper u-bounds of each value: ``[0, p)`` for missing, else
        ``p + (1 − p)·[F(x⁻), F(x)]`` (a point for values between two observed ones).

        Raises:
            ConfigError: a value outside the fitted range, or missing when the column had no missing value.
        """
        x = _physical(values)
        miss = np.isnan(x)
        p = self.missing_rate
        if miss.any() and p == 0.0:
            raise ConfigError(f"{source}: column '{self.name}' had no missing value when fitting, so "
                              "missing cannot be conditioned on")
        obs = x[~miss]
        lo_v, hi_v = self.values[0], self.values[-1]
        out_of_range = (obs < lo_v) | (obs > hi_v)
        if out_of_range.any():
            bad = obs[int(np.flatnonzero(out_of_range)[0])]
            raise ConfigError(f"{source}: value {bad!r} of column '{self.name}' is outside the fitted range "
                              f"[{lo_v!r}, {hi_v!r}]; conditioning would extrapolate")
        f_hi = _ecdf(self.values, self.cdf, obs, inclusive=True)
        f_lo = _ecdf(self.values, self.cdf, obs, inclusive=False)
        between = ~np.isin(obs, self.values)  # not a real value: interpolate the CDF to a point
        if between.any():
            point = np.interp(obs[between], self.values, self.cdf)
            f_lo[between] = f_hi[between] = point
        lo = np.zeros(len(x))
        hi = np.full(len(x), p)
        lo[~miss] = p + (1.0 - p) * f_lo
        hi[~miss] = p + (1.0 - p) * f_hi
        return lo, hi

    def decode(self, u: np.ndarray) -> pl.Series:
        """Value at each u ∈ [0, 1] (missing below p); a Series of the column's dtype."""
        p = self.missing_rate
        miss = u < p
        v = np.clip((u - p) / max(1.0 - p, 1e-300), 0.0, 1.0)
        if self.jitter:
            x = np.interp(v, np.linspace(0.0, 1.0, len(self.knots)), self.knots)
            if self.rounds:
                x = np.rint(x)
        else:
            x = self.values[np.minimum(np.searchsorted(self.cdf, v, side="left"), len(self.values) - 1)]
        return _restore(self.name, np.where(miss, np.nan, x), self.dtype)


Marginal = CategoricalMarginal | NumericMarginal


class GaussianCopulaSynthesizer:
    """Fit a Gaussian copula to a table of mixed columns and sample new rows (see the module docstring).

    Args:
        categorical: names of columns to treat as categorical even if numeric (e.g. an integer code).
        jitter: ``True`` for all numeric columns, or the names of the numeric columns whose sampled values
            are interpolated between sample quantiles (new values within the real range) instead of
            drawn from the real values.
        max_categories: a categorical column with more distinct values (missing included) raises
            DataValidationError: an identifier-like column (zip code, user id) carries no reusable
            structure and leaks its values; drop it or bucket it first.
        max_knots: quantile knots stored per numeric column for ``jitter``.

    Raises:
        ConfigError: an argument is out of range.

    Fitted attributes: ``columns_`` (names in table order), ``marginals_`` (one `CategoricalMarginal` or
    `NumericMarginal` per column), ``correlation_`` float64 ``(d, d)``, ``n_rows_``.
    """

    def __init__(
        self,
        *,
        categorical: Sequence[str] = (),
        jitter: bool | Sequence[str] = False,
        max_categories: int = 200,
        max_knots: int = 1001,
    ) -> None:
        for name, value, low in (("max_categories", max_categories, 1), ("max_knots", max_knots, 2)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        if isinstance(categorical, str):
            raise ConfigError("categorical must be a list of column names, not one string")
        self.categorical = tuple(categorical)
        self.jitter = jitter if isinstance(jitter, bool) else tuple(jitter)
        self.max_categories = int(max_categories)
        self.max_knots = int(max_knots)
        self._fitted = False

    def __repr__(self) -> str:
        state = f"{len(self.columns_)} columns" if self._fitted else "not fitted"
        return f"GaussianCopulaSynthesizer({state})"

    # ------------------------------------------------------------------ fit

    def fit(self, table: pl.DataFrame, *, source: str = "attribute table") -> Self:
        """Fit the marginals and the correlation of the normal scores.

        Args:
            table: polars DataFrame, one row per entity (user or item); every column is modelled. Drop key
                columns first. Nulls (and NaN in float columns) are missing values.
            source: name used in error messages (e.g. ``"ml-100k users"``).

        Returns:
            ``self``, fitted.

        Raises:
            DataValidationError: the table has no row or no column, a list/struct/object column, or a
                categorical column with more than ``max_categories`` values (message names the column).
            ConfigError: a name in ``categorical`` or ``jitter`` is not a column.
        """
        if not isinstance(table, pl.DataFrame):
            raise DataValidationError(f"fit expects a polars DataFrame, got {type(table).__name__}", source=source)
        if table.height == 0 or table.width == 0:
            raise DataValidationError(f"the table is empty ({table.height} rows, {table.width} columns)",
                                      source=source, hint="give at least one row and one attribute column")
        jitter_cols = set(table.columns) if self.jitter is True else set(self.jitter or ())
        for name in (*self.categorical, *(() if isinstance(self.jitter, bool) else self.jitter)):
            if name not in table.columns:
                raise ConfigError(f"column {name!r} (in categorical/jitter) is not in {source}; "
                                  f"columns: {', '.join(table.columns)}")
        marginals: list[Marginal] = []
        scores = np.empty((table.height, table.width))
        for j, name in enumerate(table.columns):
            col = table[name]
            m = self._fit_marginal(col, name in self.categorical, name in jitter_cols, source)
            lo, hi = m.intervals(col, source=source)
            marginals.append(m)
            scores[:, j] = interval_mean(ndtri(lo), ndtri(hi))
        self.columns_ = list(table.columns)
        self.marginals_ = marginals
        self.correlation_ = _nearest_correlation(latent_correlation(scores))
        self.n_rows_ = table.height
        self._chol = np.linalg.cholesky(self.correlation_)
        self._fitted = True
        return self

    def _fit_marginal(self, col: pl.Series, force_categorical: bool, jitter: bool, source: str) -> Marginal:
        dtype = col.dtype
        if isinstance(dtype, (pl.List, pl.Array, pl.Struct, pl.Object)):
            raise DataValidationError(f"{dtype} columns cannot be modelled as one attribute", source=source,
                                      column=col.name, hint="explode or multi-hot encode it, or drop it")
        numeric = (dtype.is_numeric() or dtype.is_temporal()) and not force_categorical
        if numeric:
            x = _physical(col)
            obs = x[~np.isnan(x)]
            if obs.size == 0:  # all missing: a one-category column
                numeric = False
            else:
                values, counts = np.unique(obs, return_counts=True)
                n_knots = int(min(max(obs.size, 2), self.max_knots))
                return NumericMarginal(
                    name=col.name, dtype=dtype, missing_rate=float(1.0 - obs.size / len(x)), values=values,
                    cdf=np.cumsum(counts) / obs.size, knots=np.quantile(obs, np.linspace(0, 1, n_knots)),
                    jitter=jitter,
                )
        clean = _normalise_missing(col)
        counts_df = (pl.DataFrame({"v": clean}).group_by("v").len()
                     .with_columns(pl.col("v").is_null().alias("_miss"), pl.col("v").cast(pl.String).alias("_s"))
                     .sort(["len", "_miss", "_s"], descending=[True, False, False], nulls_last=True))
        if counts_df.height > self.max_categories:
            raise DataValidationError(
                f"{counts_df.height} distinct values (more than max_categories={self.max_categories}); an "
                "identifier-like column cannot be synthesised usefully and would leak its values",
                source=source, column=col.name, hint="drop the column, bucket it, or raise max_categories",
            )
        shares = counts_df["len"].to_numpy() / len(col)
        bounds = np.concatenate([[0.0], np.cumsum(shares)])
        bounds[-1] = 1.0
        return CategoricalMarginal(name=col.name, dtype=dtype if dtype != pl.Null else pl.String(),
                                   categories=tuple(counts_df["v"].to_list()), bounds=bounds)

    # ------------------------------------------------------------------ sample

    def sample(
        self,
        n: int,
        *,
        seed: int,
        where: Mapping[str, object] | None = None,
        gibbs_sweeps: int = 20,
    ) -> pl.DataFrame:
        """Draw ``n`` new rows, optionally conditioned on fixed values of some columns.

        Args:
            n: number of rows (≥ 0).
            seed: seeds every random step; same seed, same rows.
            where: ``{column: value}`` (the same value for every row; ``None`` = missing) or
                ``{column: sequence of n values}`` (one per row). Categorical values must have been seen
                when fitting; numeric ones must lie within the fitted range.
            gibbs_sweeps: Gibbs sweeps over the fixed scores when two or more columns are fixed (≥ 1).

        Returns:
            polars DataFrame ``(n, d)`` with the fitted columns and dtypes; fixed columns hold the given
            values exactly.

        Raises:
            NotFittedError: before `fit`.
            ConfigError: ``n`` < 0, an unknown column in ``where``, a per-row sequence of the wrong length,
                an unseen category or an out-of-range number.
        """
        if not self._fitted:
            raise NotFittedError("GaussianCopulaSynthesizer is not fitted: call fit(table) first")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ConfigError(f"n must be an integer >= 0, got {n!r}")
        if isinstance(gibbs_sweeps, bool) or not isinstance(gibbs_sweeps, int) or gibbs_sweeps < 1:
            raise ConfigError(f"gibbs_sweeps must be an integer >= 1, got {gibbs_sweeps!r}")
        rng = np.random.default_rng(seed)
        fixed = self._fixed_values(dict(where or {}), n)
        d = len(self.columns_)
        a_idx = np.array([self.columns_.index(c) for c in fixed], dtype=np.int64)
        b_idx = np.setdiff1d(np.arange(d), a_idx)
        z = np.empty((n, d))
        if a_idx.size == 0:
            z = rng.standard_normal((n, d)) @ self._chol.T
        else:
            bounds = [self.marginals_[j].intervals(fixed[self.columns_[j]], source="where") for j in a_idx]
            lo = ndtri(np.column_stack([b[0] for b in bounds]))  # u = 0 → −inf, u = 1 → +inf
            hi = ndtri(np.column_stack([b[1] for b in bounds]))
            z_a = _truncated_mvn_gibbs(self.correlation_[np.ix_(a_idx, a_idx)], lo, hi, rng,
                                       sweeps=1 if a_idx.size == 1 else gibbs_sweeps)
            z[:, a_idx] = z_a
            if b_idx.size:
                r_aa = self.correlation_[np.ix_(a_idx, a_idx)]
                r_ba = self.correlation_[np.ix_(b_idx, a_idx)]
                gain = np.linalg.solve(r_aa, r_ba.T).T  # R_BA R_AA⁻¹
                cond = self.correlation_[np.ix_(b_idx, b_idx)] - gain @ r_ba.T
                chol = np.linalg.cholesky(_floor_eigen(cond))
                z[:, b_idx] = z_a @ gain.T + rng.standard_normal((n, b_idx.size)) @ chol.T
        u = ndtr(z)
        cols = []
        for j, name in enumerate(self.columns_):
            if name in fixed:
                cols.append(fixed[name].cast(self.marginals_[j].dtype, strict=False).alias(name))
            else:
                cols.append(self.marginals_[j].decode(u[:, j]))
        return pl.DataFrame(cols) if cols else pl.DataFrame()

    def _fixed_values(self, where: dict[str, object], n: int) -> dict[str, pl.Series]:
        """``where`` as one Series of length n per fixed column (in table order)."""
        out: dict[str, pl.Series] = {}
        for name in self.columns_:
            if name not in where:
                continue
            value = where.pop(name)
            marginal = self.marginals_[self.columns_.index(name)]
            if isinstance(value, (str, bytes)) or value is None or np.isscalar(value):
                series = pl.Series(name, [value] * n, dtype=marginal.dtype, strict=False)
            else:
                series = pl.Series(name, list(value), dtype=marginal.dtype, strict=False)  # type: ignore[call-overload]
                if len(series) != n:
                    raise ConfigError(f"where[{name!r}] holds {len(series)} values for n={n} rows")
            out[name] = series
        if where:
            raise ConfigError(f"where names unknown column(s) {sorted(where)}; fitted columns: "
                              f"{', '.join(self.columns_)}")
        return out


# ---------------------------------------------------------------------------------------------- helpers


def _normalise_missing(col: pl.Series) -> pl.Series:
    """NaN → null in float columns (both count as missing)."""
    return col.fill_nan(None) if col.dtype.is_float() else col


def _physical(col: pl.Series) -> np.ndarray:
    """float64 values of a numeric/temporal column, NaN for missing."""
    if col.dtype.is_temporal():
        col = col.to_physical()
    return col.cast(pl.Float64).fill_null(float("nan")).to_numpy().astype(np.float64, copy=False)


def _restore(name: str, x: np.ndarray, dtype: pl.DataType) -> pl.Series:
    """float64 values (NaN = missing) back to a Series of ``dtype``."""
    s = pl.Series(name, x, dtype=pl.Float64).fill_nan(None)
    if dtype.is_temporal():
        return s.cast(pl.Int64).cast(dtype)
    return s.cast(dtype)


def _ecdf(values: np.ndarray, cdf: np.ndarray, x: np.ndarray, *, inclusive: bool) -> np.ndarray:
    """Empirical CDF F(x) (``inclusive``) or F(x⁻) at each x, from distinct ``values`` and their ``cdf``."""
    pos = np.searchsorted(values, x, side="right" if inclusive else "left")
    return np.where(pos > 0, cdf[np.maximum(pos - 1, 0)], 0.0)


def interval_mean(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """E[Z | lo ≤ Z ≤ hi] for Z ~ N(0, 1), elementwise (float64; ±inf bounds allowed; lo = hi gives lo).

    (φ(lo) − φ(hi)) / (Φ(hi) − Φ(lo)), evaluated on the mirrored interval when it lies above 0 so both
    tail probabilities are accurate.
    """
    lo, hi = np.broadcast_arrays(np.asarray(lo, np.float64), np.asarray(hi, np.float64))
    flip = lo > 0
    a = np.where(flip, -hi, lo)
    b = np.where(flip, -lo, hi)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        la, lb = log_ndtr(a), log_ndtr(b)
        mass = np.exp(lb) * -np.expm1(la - lb)  # Φ(b) − Φ(a) > 0 on a proper interval
        dens = np.exp(-0.5 * np.minimum(a * a, 1e300)) - np.exp(-0.5 * np.minimum(b * b, 1e300))
        m = dens / np.sqrt(2.0 * np.pi) / mass
    m = np.where(flip, -m, m)
    with np.errstate(invalid="ignore"):
        point = np.isfinite(lo) & np.isfinite(hi) & ((hi - lo) <= 1e-12 * np.maximum(1.0, np.abs(lo)))
    return np.where(point | ~np.isfinite(m), np.where(np.isfinite(lo), lo, hi), m)


def latent_correlation(scores: np.ndarray) -> np.ndarray:
    """R_ij = Cov(m_i, m_j) / (Var m_i · Var m_j) of conditional-mean normal scores (module docstring).

    Clipped to [−0.999, 0.999] off the diagonal; a column with no variance (one category, one value)
    gets 0 correlation with every other column. float64 ``(d, d)`` with a unit diagonal.
    """
    d = scores.shape[1]
    if scores.shape[0] < 2:
        return np.eye(d)
    c = np.cov(scores, rowvar=False).reshape(d, d)
    var = np.diag(c).copy()
    var[var <= 1e-12] = np.inf
    r = np.clip(c / var[:, None] / var[None, :], -0.999, 0.999)
    np.fill_diagonal(r, 1.0)
    return r


def _floor_eigen(c: np.ndarray) -> np.ndarray:
    """Symmetric matrix with eigenvalues floored at `_EIG_FLOOR` (positive definite)."""
    if c.size == 0:
        return c
    w, v = np.linalg.eigh((c + c.T) / 2.0)
    return (v * np.maximum(w, _EIG_FLOOR)) @ v.T


def _nearest_correlation(r: np.ndarray) -> np.ndarray:
    """Floor the eigenvalues of r, then rescale to a unit diagonal (still positive definite)."""
    c = _floor_eigen(r)
    sd = np.sqrt(np.diag(c))
    out = c / sd[:, None] / sd[None, :]
    np.fill_diagonal(out, 1.0)
    return out


def truncated_normal(mean: np.ndarray, sd: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Draw from N(mean, sd²) truncated to [lo, hi], elementwise (broadcast shapes; float64).

    Inverse-CDF sampling in log space: with α, β the standardised bounds, x = Φ⁻¹(V Φ(β) + (1 − V) Φ(α)),
    V ~ U(0, 1), computed as ``ndtri_exp(log Φ(β) + log(V + (1 − V) e^{log Φ(α) − log Φ(β)}))``; bounds
    above the mean are mirrored so the tail used is always the lower one (accurate 40 sd out). A point
    interval (lo = hi) returns the point.
    """
    mean, sd, lo, hi = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (mean, sd, lo, hi)))
    alpha, beta = (lo - mean) / sd, (hi - mean) / sd
    flip = alpha > 0  # use the mirrored interval [−β, −α] so both bounds sit in the accurate lower tail
    a = np.where(flip, -beta, alpha)
    b = np.where(flip, -alpha, beta)
    v = rng.random(a.shape)
    la, lb = log_ndtr(a), log_ndtr(b)
    with np.errstate(invalid="ignore", over="ignore"):
        log_u = lb + np.log(v + (1.0 - v) * np.exp(la - lb))
    x = ndtri_exp(np.minimum(log_u, 0.0))
    x = np.clip(x, a, b)  # rounding guard
    x = np.where(flip, -x, x)
    point = lo == hi
    return np.where(point, lo, mean + sd * x)


def _truncated_mvn_gibbs(r: np.ndarray, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator, *,
                         sweeps: int) -> np.ndarray:
    """Rows of N(0, r) truncated to the boxes [lo, hi] (both ``(n, a)``), by Gibbs sampling (Geweke 1991).

    Each step draws z_j | z_{−j} ~ N(−Σ_{k≠j} Q_jk z_k / Q_jj, 1 / Q_jj) truncated to [lo_j, hi_j],
    Q = r⁻¹; all rows at once. With one coordinate the first step is an exact draw.
    """
    q = np.linalg.inv(r)
    n, a = lo.shape
    z = np.clip(np.zeros((n, a)), lo, hi)
    for _ in range(sweeps):
        for j in range(a):
            others = z @ q[j] - z[:, j] * q[j, j]
            z[:, j] = truncated_normal(-others / q[j, j], np.full(n, 1.0 / np.sqrt(q[j, j])), lo[:, j], hi[:, j],
                                       rng)
    return z


__all__ = ["CategoricalMarginal", "GaussianCopulaSynthesizer", "NumericMarginal", "truncated_normal"]
