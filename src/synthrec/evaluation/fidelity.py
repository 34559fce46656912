"""Fidelity of a synthetic interaction log to a real one over the same item catalogue.

Every function compares a real and a synthetic `InteractionData` that share one item vocabulary
(``item_ids``; e.g. a generator's `sample` output and the data it was fitted on) and returns plain floats,
so `fidelity_report` can put them all in one flat dict (``results.json``).

Conventions used throughout:

* **Degree** of an item = number of distinct users who interacted with it (a repeated (user, item) pair
  counts once); degree of a user = number of distinct items in their history. This is the degree in the
  user–item bipartite graph (the binary matrix ``to_csr("binary")``).
* Item statistics run over the **whole catalogue** (items nobody touched have degree 0); user statistics
  over **active users** (at least one interaction), since vocabularies may hold users without events.
* KS = the two-sample Kolmogorov–Smirnov statistic D = sup_x |F̂_real(x) − F̂_syn(x)| (Kolmogorov 1933,
  Smirnov 1948; computed by `scipy.stats.ks_2samp`), unitless in [0, 1]; 0 = identical empirical CDFs.
* A metric that is undefined for the given data (an empty sample, a constant vector in a correlation)
  is ``nan``; a metric that needs a column one of the logs lacks (ratings, timestamps) is ``None``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy import stats

from synthrec.data.interactions import RATING, SESSION, TIMESTAMP, USER, InteractionData
from synthrec.data.stats import check_same_catalogue, gini, item_degrees, user_degrees, within_user_gaps
from synthrec.errors import ConfigError

#: share of the real items (by real degree) that form the popular head; the rest is the long tail
HEAD_FRACTION = 0.2

#: every key of `fidelity_report`, in order (stable: downstream reports and results.json rely on them)
FIDELITY_KEYS: tuple[str, ...] = (
    "popularity_gini_real",
    "popularity_gini_synthetic",
    "popularity_gini_diff",
    "popularity_ks",
    "popularity_spearman",
    "catalogue_coverage_real",
    "catalogue_coverage_synthetic",
    "long_tail_coverage",
    "activity_ks",
    "activity_mean_real",
    "activity_mean_synthetic",
    "activity_median_real",
    "activity_median_synthetic",
    "rating_tvd",
    "rating_mean_real",
    "rating_mean_synthetic",
    "rating_boundary_adherence",
    "gap_ks",
    "gap_median_real",
    "gap_median_synthetic",
    "timestamp_boundary_adherence",
    "cooccurrence_cosine_corr",
    "cooccurrence_pmi_corr",
    "cooccurrence_pmi_pairs",
    "session_length_ks",
    "session_length_mean_real",
    "session_length_mean_synthetic",
)


class FidelityWarning(UserWarning):
    """A fidelity metric could not be computed for the given data and is reported as ``nan``."""


# ---------------------------------------------------------------------------------------- primitives
# `gini`, `item_degrees`, `user_degrees` and `within_user_gaps` live in `synthrec.data.stats` (imported
# above, so ``synthrec.evaluation.fidelity.gini`` keeps working).


def boundary_adherence(real_values: npt.ArrayLike, synthetic_values: npt.ArrayLike) -> float:
    """Share of synthetic values inside the real range [min, max] (NaN-aware bounds).

    BA = |{j : min_real ≤ s_j ≤ max_real}| / n_syn, with min/max over the non-NaN real values. A NaN
    synthetic value counts as **outside** and stays in the denominator (PITFALLS P16: real
    [2.3, 4.2, 1.0, 10.0, 9.2], synthetic [3.4, NaN, 1.2, 4.9, 9.1] → 0.8, not 1.0). Metric as in SDMetrics'
    BoundaryAdherence (DataCebo, "SDMetrics: Single Column Metrics"). Unitless in [0, 1].

    Args:
        real_values: array-like ``(n_real,)`` of numbers (NaN allowed, ignored for the bounds).
        synthetic_values: array-like ``(n_syn,)`` of numbers (NaN allowed).

    Returns:
        float in [0, 1]; ``nan`` with a `FidelityWarning` when the synthetic column is empty or all NaN,
        or when the real column has no non-NaN value (no range to adhere to).
    """
    r = np.asarray(real_values, dtype=np.float64).ravel()
    s = np.asarray(synthetic_values, dtype=np.float64).ravel()
    if s.size == 0 or np.isnan(s).all():
        warnings.warn("boundary_adherence: the synthetic column is empty or all NaN; reporting nan",
                      FidelityWarning, stacklevel=2)
        return float("nan")
    if r.size == 0 or np.isnan(r).all():
        warnings.warn("boundary_adherence: the real column is empty or all NaN, so it has no range; "
                      "reporting nan", FidelityWarning, stacklevel=2)
        return float("nan")
    lo, hi = np.nanmin(r), np.nanmax(r)
    inside = (s >= lo) & (s <= hi)  # NaN compares False: counted as outside
    return float(inside.sum() / s.size)


def head_item_mask(degrees: npt.ArrayLike, head_fraction: float = HEAD_FRACTION) -> np.ndarray:
    """Boolean mask of the popular **head** items; the observed items outside it form the long tail.

    The m₊ items with degree ≥ 1 are ranked by degree descending (ties: lower dense id first); the head is
    the top ⌈head_fraction · m₊⌉ of them (the 80/20 head/tail cut of Celma 2010, "Music Recommendation
    and Discovery", ch. 4). Items with degree 0 are never in the head. E.g. degrees [5, 0, 1, 9, 1] with
    0.2 → m₊ = 4, ⌈0.8⌉ = 1 head item: item 3.

    Args:
        degrees: array-like ``(n_items,)`` of non-negative popularity counts (e.g. users per item).
        head_fraction: share of the observed items in the head, in (0, 1].

    Returns:
        bool array ``(n_items,)``.

    Raises:
        ConfigError: ``head_fraction`` is not in (0, 1].
    """
    if isinstance(head_fraction, bool) or not isinstance(head_fraction, (int, float, np.integer, np.floating)) \
            or not 0.0 < float(head_fraction) <= 1.0:
        raise ConfigError(f"head_fraction must be a number in (0, 1], got {head_fraction!r}")
    d = np.asarray(degrees, dtype=np.float64).ravel()
    observed = np.flatnonzero(d > 0)
    order = observed[np.argsort(-d[observed], kind="stable")]
    n_head = int(np.ceil(round(float(head_fraction) * order.size, 9)))
    mask = np.zeros(d.size, dtype=bool)
    mask[order[:n_head]] = True
    return mask


# ---------------------------------------------------------------------------------------- audits


def popularity_fidelity(real: InteractionData, synthetic: InteractionData) -> dict[str, float]:
    """Item-popularity fidelity: concentration, distribution, ranking and coverage.

    With d_i = item degree (distinct users of item i) over the catalogue of m items:

    * ``popularity_gini_real`` / ``_synthetic``: `gini` of d (real / synthetic); ``popularity_gini_diff``
      = synthetic − real (> 0: the synthetic data concentrates on popular items more than the real).
    * ``popularity_ks``: two-sample KS statistic between the m real and the m synthetic degrees.
    * ``popularity_spearman``: Spearman rank correlation ρ of d_real and d_syn over the catalogue
      (Spearman 1904; average ranks for ties; `scipy.stats.spearmanr`); ``nan`` if either is constant.
    * ``catalogue_coverage_real`` / ``_synthetic``: share of the m items with degree ≥ 1.
    * ``long_tail_coverage``: the real items (d_real ≥ 1, m₊ of them) ranked by d_real descending (ties:
      lower dense id first); the head is the top ⌈0.2 m₊⌉, the tail the rest; share of tail items with
      d_syn ≥ 1. ``nan`` if the tail is empty.

    Args:
        real, synthetic: logs over the same item catalogue.

    Returns:
        dict of the keys above, floats (unitless shares/statistics).

    Raises:
        DataValidationError: the two logs have different item catalogues.
    """
    check_same_catalogue(real, synthetic)
    d_real = item_degrees(real)
    d_syn = item_degrees(synthetic)
    m = real.n_items
    g_real, g_syn = gini(d_real), gini(d_syn)
    tail = np.flatnonzero((d_real > 0) & ~head_item_mask(d_real))
    return {
        "popularity_gini_real": g_real,
        "popularity_gini_synthetic": g_syn,
        "popularity_gini_diff": g_syn - g_real,
        "popularity_ks": _ks(d_real, d_syn),
        "popularity_spearman": _spearman(d_real, d_syn),
        "catalogue_coverage_real": float((d_real > 0).sum() / m) if m else float("nan"),
        "catalogue_coverage_synthetic": float((d_syn > 0).sum() / m) if m else float("nan"),
        "long_tail_coverage": float((d_syn[tail] > 0).mean()) if tail.size else float("nan"),
    }


def activity_fidelity(real: InteractionData, synthetic: InteractionData) -> dict[str, float]:
    """User-activity fidelity: distribution of user degrees (distinct items per active user).

    * ``activity_ks``: two-sample KS statistic between real and synthetic user degrees.
    * ``activity_mean_real`` / ``_synthetic``, ``activity_median_real`` / ``_synthetic``: in items per
      user. ``nan`` for a log without interactions.

    Raises:
        DataValidationError: the two logs have different item catalogues.
    """
    check_same_catalogue(real, synthetic)
    a_real, a_syn = user_degrees(real), user_degrees(synthetic)
    return {
        "activity_ks": _ks(a_real, a_syn),
        "activity_mean_real": _stat(np.mean, a_real),
        "activity_mean_synthetic": _stat(np.mean, a_syn),
        "activity_median_real": _stat(np.median, a_real),
        "activity_median_synthetic": _stat(np.median, a_syn),
    }


def rating_fidelity(real: InteractionData, synthetic: InteractionData) -> dict[str, float] | None:
    """Rating fidelity: total variation distance between the rating histograms, and range adherence.

    TVD = ½ Σ_v |p_real(v) − p_syn(v)| over the union of rating values v seen in either log, with p the
    share of rated events (non-null ratings) with value v (Levin, Peres & Wilmer, "Markov Chains and
    Mixing Times", 2nd ed., Prop. 4.2). Unitless in [0, 1]: 0 = identical histograms, 1 = disjoint values.

    Returns:
        ``None`` unless both logs have a rating column; else a dict: ``rating_tvd``,
        ``rating_mean_real``, ``rating_mean_synthetic`` (on the source's rating scale),
        ``rating_boundary_adherence`` (`boundary_adherence` of the synthetic ratings, nulls as NaN).
        ``nan`` entries where a log has no rated event.

    Raises:
        DataValidationError: the two logs have different item catalogues.
    """
    check_same_catalogue(real, synthetic)
    if not (real.has_rating and synthetic.has_rating):
        return None
    r = real.interactions[RATING].drop_nulls().to_numpy().astype(np.float64)
    s = synthetic.interactions[RATING].drop_nulls().to_numpy().astype(np.float64)
    if r.size and s.size:
        values, inverse = np.unique(np.concatenate([r, s]), return_inverse=True)
        p = np.bincount(inverse[: r.size], minlength=values.size) / r.size
        q = np.bincount(inverse[r.size:], minlength=values.size) / s.size
        tvd = float(0.5 * np.abs(p - q).sum())
    else:
        tvd = float("nan")
    s_all = synthetic.interactions[RATING].cast(float).fill_null(float("nan")).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FidelityWarning)  # nan is the documented value here
        adherence = boundary_adherence(r, s_all) if r.size and s_all.size else float("nan")
    return {
        "rating_tvd": tvd,
        "rating_mean_real": _stat(np.mean, r),
        "rating_mean_synthetic": _stat(np.mean, s),
        "rating_boundary_adherence": adherence,
    }


def time_gap_fidelity(real: InteractionData, synthetic: InteractionData) -> dict[str, float] | None:
    """Inter-event time fidelity: KS on within-user gaps between consecutive events.

    For each user, events sorted by timestamp give gaps Δ = t_(k+1) − t_(k) ≥ 0 in **seconds** (a user
    with n events gives n − 1 gaps; users with one event give none). Null timestamps are dropped.

    Returns:
        ``None`` unless both logs have a timestamp column; else a dict: ``gap_ks`` (two-sample KS statistic
        on all gaps), ``gap_median_real``, ``gap_median_synthetic`` (seconds), and
        ``timestamp_boundary_adherence`` (`boundary_adherence` of the synthetic timestamps to the real
        time range). ``nan`` entries where a log has no gap / no timestamp.

    Raises:
        DataValidationError: the two logs have different item catalogues.
    """
    check_same_catalogue(real, synthetic)
    if not (real.has_timestamp and synthetic.has_timestamp):
        return None
    g_real, g_syn = within_user_gaps(real), within_user_gaps(synthetic)
    t_real = real.interactions[TIMESTAMP].drop_nulls().to_numpy().astype(np.float64)
    t_syn = synthetic.interactions[TIMESTAMP].cast(float).fill_null(float("nan")).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FidelityWarning)
        adherence = boundary_adherence(t_real, t_syn) if t_real.size and t_syn.size else float("nan")
    return {
        "gap_ks": _ks(g_real, g_syn),
        "gap_median_real": _stat(np.median, g_real),
        "gap_median_synthetic": _stat(np.median, g_syn),
        "timestamp_boundary_adherence": adherence,
    }


def session_fidelity(real: InteractionData, synthetic: InteractionData) -> dict[str, float] | None:
    """Session-length fidelity: KS on the number of events per session.

    A session is one (user, session) pair of the ``session`` column; its length counts its rows (every
    event, repeats included). Rows with a null session are not in any session.

    Returns:
        ``None`` unless both logs have a ``session`` column; else a dict: ``session_length_ks`` (two-sample
        KS statistic on session lengths), ``session_length_mean_real``, ``session_length_mean_synthetic``
        (events per session); ``nan`` where a log has no session.

    Raises:
        DataValidationError: the two logs have different item catalogues.
    """
    check_same_catalogue(real, synthetic)
    if SESSION not in real.interactions.columns or SESSION not in synthetic.interactions.columns:
        return None
    len_real, len_syn = _session_lengths(real), _session_lengths(synthetic)
    return {
        "session_length_ks": _ks(len_real, len_syn),
        "session_length_mean_real": _stat(np.mean, len_real),
        "session_length_mean_synthetic": _stat(np.mean, len_syn),
    }


def cooccurrence_fidelity(
    real: InteractionData, synthetic: InteractionData, top_items: int = 500
) -> dict[str, float]:
    """Item co-occurrence fidelity over the ``top_items`` most popular real items.

    T = the ``top_items`` items with the highest real degree (ties: lower dense id first). For each log,
    X = binary user × item matrix restricted to T, G = XᵀX (G_ij = users with both i and j, G_ii = degree),
    N = active users of the log (at least one event anywhere in the catalogue).

    * Cosine similarity S_ij = G_ij / √(G_ii G_jj) (0 where an item has degree 0; the item–item cosine of
      item-based CF, Sarwar et al. 2001, WWW, §3.1.1). ``cooccurrence_cosine_corr`` = Pearson correlation
      of S_real and S_syn over the off-diagonal pairs i < j.
    * PMI_ij = log(G_ij N / (G_ii G_jj)) = log P(i, j) / (P(i) P(j)) (Church & Hanks 1990, Computational
      Linguistics 16(1), eq. 1), natural log, defined where G_ij > 0. ``cooccurrence_pmi_corr`` = Pearson
      correlation over the pairs i < j where PMI is defined in both logs; ``cooccurrence_pmi_pairs`` = how
      many such pairs (as a float).

    Correlations are in [−1, 1]; ``nan`` when fewer than two pairs are available or a side is constant.
    Cost: O(nnz + |T|²) memory (dense |T| × |T| Gram matrices).

    Args:
        real, synthetic: logs over the same item catalogue.
        top_items: |T| before clamping to the catalogue size; an int ≥ 2.

    Raises:
        ConfigError: ``top_items`` is not an int ≥ 2.
        DataValidationError: the two logs have different item catalogues.
    """
    if isinstance(top_items, bool) or not isinstance(top_items, (int, np.integer)) or top_items < 2:
        raise ConfigError(f"cooccurrence_fidelity: top_items must be an int >= 2, got {top_items!r}")
    check_same_catalogue(real, synthetic)
    d_real = item_degrees(real)
    top = np.argsort(-d_real, kind="stable")[: min(int(top_items), real.n_items)]
    iu = np.triu_indices(top.size, k=1)
    cos, pmi = [], []
    for data in (real, synthetic):
        x = data.to_csr("binary")
        n_active = float(np.count_nonzero(np.diff(x.indptr)))
        xt = x[:, top]
        g = np.asarray(sp.csr_matrix(xt.T @ xt).toarray(), dtype=np.float64)
        diag = np.diag(g)
        denom = np.sqrt(np.outer(diag, diag))
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(denom > 0, g / np.where(denom > 0, denom, 1.0), 0.0)
            p = np.where(g > 0, np.log(g * n_active / np.where(denom > 0, denom * denom, 1.0)), np.nan)
        cos.append(s[iu])
        pmi.append(p[iu])
    both = ~np.isnan(pmi[0]) & ~np.isnan(pmi[1])
    return {
        "cooccurrence_cosine_corr": _pearson(cos[0], cos[1]),
        "cooccurrence_pmi_corr": _pearson(pmi[0][both], pmi[1][both]),
        "cooccurrence_pmi_pairs": float(both.sum()),
    }


def fidelity_report(
    real: InteractionData, synthetic: InteractionData, *, top_items: int = 500
) -> dict[str, float | None]:
    """All fidelity metrics of this module in one flat dict with the keys `FIDELITY_KEYS`, in that order.

    Keys of `rating_fidelity` / `time_gap_fidelity` / `session_fidelity` are ``None`` when a log lacks
    ratings / timestamps / sessions.
    See each function for formulas and units.

    Raises:
        ConfigError: ``top_items`` is not an int ≥ 2.
        DataValidationError: the two logs have different item catalogues.
    """
    out: dict[str, float | None] = dict.fromkeys(FIDELITY_KEYS)
    out.update(popularity_fidelity(real, synthetic))
    out.update(activity_fidelity(real, synthetic))
    out.update(rating_fidelity(real, synthetic) or {})
    out.update(time_gap_fidelity(real, synthetic) or {})
    out.update(cooccurrence_fidelity(real, synthetic, top_items=top_items))
    out.update(session_fidelity(real, synthetic) or {})
    return out


# ---------------------------------------------------------------------------------------- helpers


def _session_lengths(data: InteractionData) -> np.ndarray:
    sessions = data.interactions.select(USER, SESSION).drop_nulls()
    return sessions.group_by(USER, SESSION).len()["len"].to_numpy().astype(np.float64)


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(stats.ks_2samp(a, b, method="asymp").statistic)


def _stat(fn: Callable[[np.ndarray], Any], a: np.ndarray) -> float:
    return float(fn(a)) if a.size else float("nan")


def _constant(a: np.ndarray) -> bool:
    return a.size < 2 or bool(np.all(a == a[0]))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or _constant(a) or _constant(b):
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or _constant(a) or _constant(b):
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])
