"""Noise-adding mechanisms for user-level DP statistics; each records its spend in a `PrivacyLedger`.

Adjacency is add/remove of one user (all her rows). Each function states the L2 (or L1) sensitivity it
assumes; the caller is responsible for the contribution bound behind it (`synthrec.privacy.contribution`),
and the functions that can check it cheaply do.

* `gaussian_mechanism`: x + N(0, (σΔ)² I) (Dwork & Roth 2014, *The Algorithmic Foundations of
  Differential Privacy*, §A / Thm A.1; accounted in Rényi DP, Mironov 2017, Prop. 7: α/(2σ²)).
* `laplace_mechanism`: x + Laplace(Δ₁/ε) per coordinate, pure ε-DP (Dwork, McSherry, Nissim & Smith
  2006, TCC; Dwork & Roth 2014, Thm 3.6).
* `noisy_gram`: "Analyze Gauss" (Dwork, Talwar, Thakurta & Zhang 2014, "Analyze Gauss: optimal bounds for
  privacy-preserving principal component analysis", STOC, Alg. 1): XᵀX + E with E symmetric, its upper
  triangle (diagonal included) i.i.d. N(0, (σΔ)²).
* `pair_gram`: the off-diagonal co-occurrences with each user's pairs weighted to unit L2 norm, plus
  Gaussian noise (sensitivity 1).
* `dp_histogram`: counts over fixed, public cells (bin edges chosen without looking at the data) plus
  Gaussian noise; every user contributes total weight 1, so Δ₂ ≤ 1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from synthrec.errors import ConfigError, DataValidationError
from synthrec.privacy.contribution import ContributionBound
from synthrec.privacy.ledger import PrivacyLedger


def gaussian_mechanism(
    values: np.ndarray,
    *,
    sensitivity: float,
    noise_multiplier: float,
    rng: np.random.Generator,
    ledger: PrivacyLedger,
    name: str,
) -> np.ndarray:
    """Release ``values + N(0, (σΔ)²)`` per coordinate and record (σ, Δ, q = 1, 1 step) in ``ledger``.

    Args:
        values: float array, any shape (e.g. item counts ``(m,)``); the statistic whose L2 sensitivity
            under add/remove of one user is at most ``sensitivity``.
        sensitivity: Δ₂ ≥ 0 (e.g. √L for item counts with a cap of L items per user).
        noise_multiplier: σ > 0; noise standard deviation is σ·Δ₂.
        rng: the random source.
        ledger: receives the entry.
        name: the entry's name.

    Returns:
        float64 array, shape of ``values``.
    """
    entry = ledger.record_gaussian(name, noise_multiplier=noise_multiplier, sensitivity=sensitivity)
    values = np.asarray(values, dtype=np.float64)
    return values + rng.normal(0.0, entry.noise_std, size=values.shape)


def laplace_mechanism(
    values: np.ndarray,
    *,
    l1_sensitivity: float,
    epsilon: float,
    rng: np.random.Generator,
    ledger: PrivacyLedger,
    name: str,
) -> np.ndarray:
    """Release ``values + Laplace(0, Δ₁/ε)`` per coordinate (pure ε-DP) and record it in ``ledger``.

    Args:
        values: float array, any shape, with L1 sensitivity ≤ ``l1_sensitivity`` (e.g. L for item counts,
            1 for a one-value-per-user histogram).
        l1_sensitivity: Δ₁ ≥ 0.
        epsilon: ε > 0 of this release.

    Returns:
        float64 array, shape of ``values``.
    """
    entry = ledger.record_pure(name, epsilon=epsilon, sensitivity=l1_sensitivity)
    values = np.asarray(values, dtype=np.float64)
    return values + rng.laplace(0.0, entry.scale, size=values.shape)


def pair_gram(
    x: sp.spmatrix,
    *,
    noise_multiplier: float,
    rng: np.random.Generator,
    ledger: PrivacyLedger,
    name: str = "pair_gram",
) -> np.ndarray:
    """The off-diagonal co-occurrences Σ_u w_u (x_u x_uᵀ − diag), w_u = √(2 / (n_u (n_u − 1))), plus noise.

    Each user's n_u distinct items form n_u (n_u − 1) / 2 pairs; weighting each by w_u gives her released
    vector (the strict upper triangle) L2 norm exactly 1, so the L2 sensitivity under add/remove of one user
    is 1 whatever her length, and users with one item add nothing. Against Analyze Gauss on unit-norm rows
    (which also spends budget on the diagonal, a user's Σ_i z_i⁴ = 1/n_u of it, and gives a pair 1/n_u
    with noise σ/√2), a pair's signal-to-noise ratio grows by √(n_u / (n_u − 1)): 1.41 for two items,
    1.12 for five. The diagonal is left to a cheaper release (item counts). Noise: N(0, σ²) per upper
    entry (Gaussian mechanism, Dwork & Roth 2014, Thm A.1), mirrored below; diagonal 0.

    Args:
        x: sparse ``(n_users, m)`` binary histories (entries 0/1).
        noise_multiplier: σ > 0 (noise sd, the sensitivity being 1).

    Returns:
        float64 ``(m, m)`` symmetric, zero diagonal.

    Raises:
        DataValidationError: ``x`` has an entry other than 0 or 1.
    """
    x = sp.csr_matrix(x, dtype=np.float64)
    if x.nnz and np.any(x.data != 1.0):
        raise DataValidationError("pair_gram needs a binary matrix (entries 0 or 1)",
                                  hint="deduplicate (user, item) pairs and use ones as values")
    n_items = np.diff(x.indptr).astype(np.float64)
    weight = np.sqrt(2.0 / np.where(n_items > 1, n_items * (n_items - 1.0), np.inf))
    gram = (x.T @ sp.diags(weight) @ x).toarray()
    return release_pair_gram(gram, noise_multiplier=noise_multiplier, rng=rng, ledger=ledger, name=name)


def release_pair_gram(gram: np.ndarray, *, noise_multiplier: float, rng: np.random.Generator, ledger: PrivacyLedger,
                      name: str = "pair_gram") -> np.ndarray:
    """The release of `pair_gram` from its exact weighted co-occurrences Σ_u w_u x_u x_uᵀ ``(M, M)`` (only
    the strict upper triangle is read; e.g. summed in passes over files): N(0, σ²) per upper entry,
    mirrored, zero diagonal; L2 sensitivity 1 (see `pair_gram`)."""
    entry = ledger.record_gaussian(name, noise_multiplier=noise_multiplier, sensitivity=1.0)
    m = gram.shape[0]
    noise = np.triu(rng.normal(0.0, entry.noise_std, size=(m, m)), 1)
    out = np.triu(gram, 1) + noise
    return out + out.T


def noisy_gram(
    x: sp.spmatrix,
    *,
    bound: ContributionBound,
    noise_multiplier: float,
    rng: np.random.Generator,
    ledger: PrivacyLedger,
    name: str = "item_gram",
) -> np.ndarray:
    """Analyze Gauss: the item–item Gram matrix XᵀX plus symmetric Gaussian noise.

    The upper triangle of XᵀX (diagonal included) has L2 sensitivity Δ = √(L(L + 1)/2) when every row of
    the binary X has at most L ones (`ContributionBound.gram_l2`); E's upper-triangle entries are i.i.d.
    N(0, (σΔ)²) and mirrored below the diagonal (Dwork, Talwar, Thakurta & Zhang 2014, STOC, Alg. 1).

    Args:
        x: sparse ``(n_users, m)`` binary matrix of the users' capped histories.
        bound: the cap L that X obeys.
        noise_multiplier: σ > 0.

    Returns:
        float64 ``(m, m)`` symmetric matrix (not PSD in general).

    Raises:
        DataValidationError: X has an entry other than 0/1 or a row with more than L ones (the cap was
            not applied; the sensitivity would not hold).
    """
    x = sp.csr_matrix(x)
    if x.nnz and (np.any(x.data != 1.0)):
        raise DataValidationError("noisy_gram needs a binary matrix (entries 0 or 1)",
                                  hint="deduplicate (user, item) pairs and use ones as values")
    row_nnz = np.diff(x.indptr)
    if row_nnz.size and int(row_nnz.max()) > bound.max_items_per_user:
        raise DataValidationError(
            f"a user has {int(row_nnz.max())} items, more than the cap L={bound.max_items_per_user}",
            row=int(np.argmax(row_nnz)) + 1, hint="apply bound_user_contributions before noisy_gram",
        )
    entry = ledger.record_gaussian(name, noise_multiplier=noise_multiplier, sensitivity=bound.gram_l2)
    m = x.shape[1]
    gram = (x.T @ x).toarray().astype(np.float64)
    noise = np.triu(rng.normal(0.0, entry.noise_std, size=(m, m)))
    return gram + noise + np.triu(noise, 1).T


def dp_histogram(
    cells: np.ndarray,
    n_cells: int,
    *,
    users: np.ndarray | None = None,
    noise_multiplier: float,
    rng: np.random.Generator,
    ledger: PrivacyLedger,
    name: str,
) -> np.ndarray:
    """Noisy histogram over ``n_cells`` public cells; L2 sensitivity 1.

    Two ways to keep each user's total weight at 1 (so L1 and L2 sensitivity are ≤ 1):

    * ``users=None``: ``cells`` holds exactly one value per user (a per-user trait such as her activity);
      each counts 1.
    * ``users`` given: ``cells`` holds any number of rows per user and each row of a user with r rows
      weighs 1/r (a per-user-normalised histogram, e.g. of her time gaps).

    Args:
        cells: int array ``(n,)`` of cell indices in ``[0, n_cells)`` (use `bin_index` for public edges).
        n_cells: number of cells (fixed before seeing the data).
        users: optional int array ``(n,)``, the owner of each row.
        noise_multiplier: σ > 0; noise sd = σ.

    Returns:
        float64 ``(n_cells,)`` noisy counts (may be negative).

    Raises:
        ValueError: a cell index is outside ``[0, n_cells)`` or ``users`` has another length.
    """
    cells = np.asarray(cells, dtype=np.int64)
    if cells.size and (cells.min() < 0 or cells.max() >= n_cells):
        raise ValueError(f"cell indices must lie in [0, {n_cells})")
    weights = None
    if users is not None:
        users = np.asarray(users)
        if users.shape != cells.shape:
            raise ValueError("users and cells must have the same length")
        _, inverse, per_user = np.unique(users, return_inverse=True, return_counts=True)
        weights = 1.0 / per_user[inverse]
    counts = np.bincount(cells, weights=weights, minlength=n_cells).astype(np.float64)
    return gaussian_mechanism(counts, sensitivity=1.0, noise_multiplier=noise_multiplier, rng=rng,
                              ledger=ledger, name=name)


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value for public ascending ``edges`` ``(B + 1,)``: int64 in ``[0, B)``.

    Bin b is [edges[b], edges[b + 1]); values below the first edge go to bin 0, values at or above the
    last edge to bin B − 1 (clamping keeps every user in exactly one bin, so the sensitivity holds).
    """
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ConfigError("histogram edges must be a strictly increasing 1-D array of at least 2 values")
    idx = np.searchsorted(edges, np.asarray(values, dtype=np.float64), side="right") - 1
    return np.clip(idx, 0, len(edges) - 2).astype(np.int64)


def quantiles_from_histogram(
    noisy_counts: np.ndarray, edges: np.ndarray, probs: np.ndarray, *, threshold: float = 0.0
) -> np.ndarray:
    """Quantiles of the distribution a noisy histogram describes (pure post-processing, no privacy cost).

    Cells with a noisy count ≤ ``threshold`` get weight 0 (a count below the noise level is more likely
    noise than mass); within a cell mass is spread uniformly, so the quantile function is linear between
    the cumulative weights. If every cell is below the threshold, the largest cell gets all the mass.

    Args:
        noisy_counts: float ``(B,)``.
        edges: float ``(B + 1,)`` ascending cell boundaries.
        probs: float ``(K,)`` probabilities in [0, 1].
        threshold: the noise floor (e.g. one noise standard deviation).

    Returns:
        float64 ``(K,)`` quantiles, non-decreasing in ``probs``.
    """
    counts = np.asarray(noisy_counts, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    mass = np.where(counts > threshold, counts, 0.0)
    if mass.sum() <= 0:
        mass = np.zeros_like(counts)
        mass[int(np.argmax(counts))] = 1.0
    share = mass / mass.sum()
    cum = np.cumsum(share)
    cum /= cum[-1]  # exactly 1 from the last cell with mass on, so p = 1 lands there
    probs = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    cell = np.minimum(np.searchsorted(cum, probs, side="left"), len(counts) - 1)
    first = int(np.flatnonzero(mass > 0)[0])
    cell = np.maximum(cell, first)  # p = 0 lands on the first cell with mass
    below = cum[cell] - share[cell]
    frac = np.clip((probs - below) / np.where(share[cell] > 0, share[cell], 1.0), 0.0, 1.0)
    return edges[cell] + frac * (edges[cell + 1] - edges[cell])
