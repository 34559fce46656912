"""User-side building blocks on top of a fitted `LatentFactorGenerator`, shared by the profiled and cold-item
generators: fold a real history into a user vector, draw users with some factor coordinates fixed, and
turn user vectors into synthetic histories.

Only the generator's fitted attributes (``item_factors_``, ``item_bias_``, ``scale_``, ``user_model_``,
``trait_names_``, ``trait_quantiles_``, ``order_model_``, ``time_model_``, ``rating_model_``) and its
protected item sampler ``_sample_items`` are used; nothing here changes the generator.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from synthrec.data.interactions import InteractionData
from synthrec.data.stats import item_degrees
from synthrec.errors import ConfigError
from synthrec.generators._gmm import conditional_mixture_sample  # also its old import path
from synthrec.generators.latent_factor import LatentFactorGenerator


def distinct_item_counts(data: InteractionData) -> np.ndarray:
    """Users per item (repeated pairs count once): float64 ``(n_items,)`` (`data.stats.item_degrees`)."""
    return item_degrees(data).astype(np.float64)


def fold_in(item_factors: np.ndarray, counts: np.ndarray, histories: sp.csr_matrix) -> np.ndarray:
    """User vectors of binary histories by weighted least squares on fixed item factors.

    u = argmin_u Σ_i w_i² (x_i − u·v_i)² = (Vᵀ W² V)⁻¹ Vᵀ W² x with w_i² = 1 / (c_i + 1). For the
    PureSVD factors of `LatentFactorGenerator` (v_i = P_i / w_i, P orthonormal) this is exactly the
    projection u = x W P that produced the fitted user vectors (the LSI "fold-in", Deerwester et al. 1990,
    JASIS 41; Sarwar et al. 2002, "Incremental SVD-based algorithms", ICCIT), so folded-in real users live
    on the same scale as the fitted user-trait model.

    Args:
        item_factors: float ``(m, k)`` item vectors V.
        counts: float ``(m,)`` users per item in the data the factors were fitted on.
        histories: CSR ``(n, m)``; any stored non-zero is one interaction.

    Returns:
        float64 ``(n, k)`` user vectors (zero for an empty history).
    """
    v = np.asarray(item_factors, dtype=np.float64)
    w2 = 1.0 / (np.asarray(counts, dtype=np.float64) + 1.0)
    gram = (v * w2[:, None]).T @ v
    gram[np.diag_indices_from(gram)] += 1e-9 * max(float(np.trace(gram)), 1e-12)
    x = sp.csr_matrix(histories, dtype=np.float64, copy=True)
    x.data[:] = 1.0
    rhs = np.asarray(x @ (v * w2[:, None]))
    return np.asarray(np.linalg.solve(gram, rhs.T).T)


def draw_users(
    model: LatentFactorGenerator,
    n_users: int,
    rng: np.random.Generator,
    *,
    directions: np.ndarray | None = None,
    taste: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Draw user vectors, activities and trait percentiles from the model's user-trait mixture.

    As `LatentFactorGenerator` does (class docstring, step 2). With ``directions`` D (float ``(k, t)``,
    orthonormal columns in factor space) and ``taste`` (float ``(n_users, t)``), each user is drawn with
    her factor vector's coordinates Dᵀu fixed to her row of ``taste`` (`conditional_mixture_sample`).

    Returns:
        ``(uvec float32 (N, k), length int64 (N,), pct {trait: float64 (N,)})``; pct[name] = F_j(z_j).
    """
    k = model.n_factors_
    if taste is None or directions is None:
        z = model.user_model_.sample(n_users, rng)
    else:
        h = np.zeros((model.user_model_.dim, directions.shape[1]))
        h[:k] = directions
        z = conditional_mixture_sample(model.user_model_, h, taste, rng)
    pct = {nm: model.user_model_.marginal_cdf(k + j, z[:, k + j]) for j, nm in enumerate(model.trait_names_)}
    if model.fixed_length is not None:
        if model.fixed_length > model.n_items_:
            raise ConfigError(f"fixed_length={model.fixed_length} exceeds the catalogue of {model.n_items_} "
                              "items (pass fixed_length <= n_items)")
        length = np.full(n_users, model.fixed_length, dtype=np.int64)
    else:
        activity = model.trait_quantiles_["log_activity"].ppf(pct["log_activity"])
        length = np.clip(np.rint(activity), 1, model.n_items_).astype(np.int64)
    return z[:, :k].astype(np.float32), length, pct


def sample_histories(
    model: LatentFactorGenerator,
    uvec: np.ndarray,
    length: np.ndarray,
    pct: dict[str, np.ndarray],
    rng: np.random.Generator,
    first_user: int,
    *,
    users: pl.DataFrame | None = None,
    name: str | None = None,
) -> InteractionData:
    """Synthetic histories of the given users, exactly as `LatentFactorGenerator.sample` builds them.

    Items by Gumbel-top-k from ``model.scale_ · u·v_i + model.item_bias_[i]``, in the model's event order,
    with timestamps and ratings when the model has them; users ``"syn-<first_user>"``, …; ``users`` (an
    attribute table with a dense Int32 ``user`` column) is attached as is.
    """
    return model._histories(uvec, length, pct, rng, first_user, users=users, name=name)
