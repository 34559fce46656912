"""Figures of the quality report: the plotted numbers (kept in ``results.json``) and their PNG pictures.

Each ``*_data`` function turns logs into a small dict of plain lists (bounded size whatever the size of
the logs), and each ``plot_*`` function draws such a dict, returning a base64 PNG for embedding. The
report is drawn from the dicts only, so ``results.json`` holds every plotted number.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from synthrec.data.interactions import RATING, InteractionData
from synthrec.data.stats import within_user_gaps  # the exact gaps behind the gap KS figure
from synthrec.evaluation.privacy import DCRResult

if TYPE_CHECKING:  # utility imports the recommenders; only its result type is needed here
    from synthrec.evaluation.bias import RepresentationResult
    from synthrec.evaluation.utility import TSTRResult

#: at most this many points per popularity curve (log-spaced ranks)
CURVE_POINTS = 200
#: bins of the activity histogram (log-spaced) and of the time-gap CDF grid
LOG_BINS = 30
#: bins of the DCR histograms on [0, 1]
DCR_BINS = 20
#: groups drawn per attribute in the bias figure (the rest are summed into one "other" bar)
BIAS_GROUPS = 20
#: attributes drawn in the bias figure (the first ones of the representation audit)
BIAS_ATTRIBUTES = 4

REAL, SYNTHETIC = "#4a5568", "#dd6b20"


# ---------------------------------------------------------------------------------------------- data


def _degrees(data: InteractionData) -> tuple[np.ndarray, np.ndarray]:
    """(item degrees int64 ``(n_items,)``, user degrees of active users int64 ``(n_active,)``) from the
    binary matrix (a repeated (user, item) pair counts once)."""
    x = data.to_csr("binary")
    users = np.diff(x.indptr).astype(np.int64)
    return np.bincount(x.indices, minlength=data.n_items).astype(np.int64), users[users > 0]


def popularity_data(real: InteractionData, synthetic: InteractionData) -> dict[str, Any]:
    """Item popularity against popularity rank, per log.

    share(r) = degree of the r-th most popular item / active users of the log (the share of users who
    touched it; comparable between logs of different sizes). Only items with degree ≥ 1; ranks are
    1-based and thinned to at most `CURVE_POINTS` log-spaced ranks (always including the first and last).

    Returns:
        ``{"real": {"rank": [...], "share": [...]}, "synthetic": {...}}`` (ints, floats in (0, 1]).
    """
    out: dict[str, Any] = {}
    for key, data in (("real", real), ("synthetic", synthetic)):
        items, users = _degrees(data)
        deg = np.sort(items[items > 0])[::-1]
        if deg.size == 0:
            out[key] = {"rank": [], "share": []}
            continue
        ranks = np.unique(np.round(np.geomspace(1, deg.size, min(CURVE_POINTS, deg.size))).astype(np.int64))
        out[key] = {"rank": ranks.tolist(), "share": (deg[ranks - 1] / users.size).tolist()}
    return out


def activity_data(real: InteractionData, synthetic: InteractionData) -> dict[str, Any]:
    """Histogram of distinct items per active user, as shares of each log's active users.

    Bin edges: up to `LOG_BINS` + 1 distinct integers, log-spaced from 1 to the largest activity + 1 of
    either log; bin k holds activities in ``[edges[k], edges[k+1])``.

    Returns:
        ``{"edges": [...], "real": [...], "synthetic": [...]}`` (shares sum to 1 per log).
    """
    a_real, a_syn = _degrees(real)[1], _degrees(synthetic)[1]
    top = int(max(a_real.max(initial=1), a_syn.max(initial=1))) + 1
    edges = np.unique(np.round(np.geomspace(1, top, LOG_BINS + 1)).astype(np.int64))
    if edges.size < 2:
        edges = np.array([1, 2], dtype=np.int64)
    return {"edges": edges.tolist(), "real": _shares(a_real, edges), "synthetic": _shares(a_syn, edges)}


def rating_data(real: InteractionData, synthetic: InteractionData) -> dict[str, Any] | None:
    """Share of rated events per rating value (union of the values of both logs); ``None`` unless both
    logs have a rating column.

    Returns:
        ``{"values": [...], "real": [...], "synthetic": [...]}``.
    """
    if not (real.has_rating and synthetic.has_rating):
        return None
    r = real.interactions[RATING].drop_nulls().to_numpy().astype(np.float64)
    s = synthetic.interactions[RATING].drop_nulls().to_numpy().astype(np.float64)
    values, inverse = np.unique(np.concatenate([r, s]), return_inverse=True)
    counts_r = np.bincount(inverse[: r.size], minlength=values.size)
    counts_s = np.bincount(inverse[r.size:], minlength=values.size)
    return {"values": values.tolist(),
            "real": (counts_r / max(r.size, 1)).tolist(), "synthetic": (counts_s / max(s.size, 1)).tolist()}


def gap_data(real: InteractionData, synthetic: InteractionData) -> dict[str, Any] | None:
    """Empirical CDF of within-user gaps between consecutive events (seconds), on a shared grid.

    Grid: 0 and `LOG_BINS` log-spaced points from 1 s to the largest gap of either log. ``cdf[k]`` = share
    of gaps ≤ ``grid[k]``. ``None`` unless both logs have timestamps; an empty CDF list for a log without
    gaps.

    Returns:
        ``{"grid": [...], "real": [...], "synthetic": [...]}``.
    """
    if not (real.has_timestamp and synthetic.has_timestamp):
        return None
    g_real, g_syn = np.sort(within_user_gaps(real)), np.sort(within_user_gaps(synthetic))
    top = max(g_real.max(initial=1.0), g_syn.max(initial=1.0), 1.0)
    grid = np.concatenate([[0.0], np.geomspace(1.0, top, LOG_BINS)])

    def cdf(g: np.ndarray) -> list[float]:
        return (np.searchsorted(g, grid, side="right") / g.size).tolist() if g.size else []

    return {"grid": grid.tolist(), "real": cdf(g_real), "synthetic": cdf(g_syn)}


def dcr_data(result: DCRResult) -> dict[str, Any]:
    """Histograms of Jaccard distances to the closest record, as shares, on `DCR_BINS` equal bins of
    [0, 1] (the last bin includes 1):

    * ``to_train``: synthetic users → nearest train user;
    * ``to_holdout``: synthetic users → nearest holdout user;
    * ``holdout_to_train``: holdout users → nearest train user (what two real samples look like).

    Returns:
        ``{"edges": [...], "to_train": [...], "to_holdout": [...], "holdout_to_train": [...]}``.
    """
    edges = np.linspace(0.0, 1.0, DCR_BINS + 1)

    def hist(d: np.ndarray) -> list[float]:
        return (np.histogram(d, bins=edges)[0] / max(d.size, 1)).tolist()

    return {"edges": edges.tolist(), "to_train": hist(result.to_train), "to_holdout": hist(result.to_holdout),
            "holdout_to_train": hist(result.holdout_to_train)}


def bias_data(result: RepresentationResult) -> dict[str, Any] | None:
    """Share of each group in the real and the synthetic log, per compared attribute.

    For each of the first `BIAS_ATTRIBUTES` attributes of ``result`` (user segments: share of active
    users; item groups: share of interactions, see `synthrec.evaluation.bias.representation`): the groups
    in decreasing order of real share (ties: synthetic share, then name); beyond `BIAS_GROUPS` groups, the
    rest are summed into one ``"other (n groups)"`` entry, so both share lists still sum to 1.

    Returns:
        ``{"attributes": [{"attribute", "kind", "tvd", "groups": [...], "real": [...], "synthetic": [...]},
        ...]}``, or ``None`` when no attribute was compared.
    """
    out = []
    for a in result.attributes[:BIAS_ATTRIBUTES]:
        t = a.table.sort(["share_real", "share_synthetic", "value"], descending=[True, True, False])
        groups, real, syn = t["value"].to_list(), t["share_real"].to_list(), t["share_synthetic"].to_list()
        if len(groups) > BIAS_GROUPS:
            cut = BIAS_GROUPS - 1
            groups = [*groups[:cut], f"other ({len(groups) - cut} groups)"]
            real = [*real[:cut], float(sum(real[cut:]))]
            syn = [*syn[:cut], float(sum(syn[cut:]))]
        out.append({"attribute": a.attribute, "kind": a.kind, "tvd": a.tvd, "groups": groups, "real": real,
                    "synthetic": syn})
    return {"attributes": out} if out else None


def utility_data(result: TSTRResult) -> dict[str, Any]:
    """NDCG@K of each model trained on the real and on the synthetic log, tested on the same real users.

    Returns:
        ``{"models": [...], "real": [...], "synthetic": [...], "k": K, "n_users": n, "kendall_tau": τ}``.
    """
    models = list(result.ndcg_real)
    return {"models": models, "real": [float(result.ndcg_real[m]) for m in models],
            "synthetic": [float(result.ndcg_synthetic[m]) for m in models], "k": int(result.k),
            "n_users": int(result.n_users), "kendall_tau": result.kendall_tau}


def _shares(values: np.ndarray, edges: np.ndarray) -> list[float]:
    counts = np.histogram(values, bins=edges)[0]
    return (counts / max(values.size, 1)).tolist()


# ------------------------------------------------------------------------------------------ pictures


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _axes(title: str, xlabel: str, ylabel: str) -> tuple[plt.Figure, Any]:
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def plot_popularity(d: dict[str, Any]) -> str:
    """Log–log popularity curves (share of users per item against rank), real vs synthetic."""
    fig, ax = _axes("Item popularity by rank", "popularity rank", "share of users")
    for key, color in (("real", REAL), ("synthetic", SYNTHETIC)):
        if d[key]["rank"]:
            ax.plot(d[key]["rank"], d[key]["share"], color=color, label=key)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend()
    return _png(fig)


def plot_activity(d: dict[str, Any]) -> str:
    """Step histograms of items per user on a log x axis, real vs synthetic."""
    fig, ax = _axes("Items per user", "distinct items per user", "share of users")
    edges = np.asarray(d["edges"], dtype=np.float64)
    for key, color in (("real", REAL), ("synthetic", SYNTHETIC)):
        ax.stairs(d[key], edges, color=color, label=key, lw=1.5)
    ax.set_xscale("log")
    ax.legend()
    return _png(fig)


def plot_ratings(d: dict[str, Any]) -> str:
    """Side-by-side bars of the rating shares, real vs synthetic."""
    fig, ax = _axes("Ratings", "rating", "share of rated events")
    x = np.arange(len(d["values"]))
    ax.bar(x - 0.2, d["real"], width=0.4, color=REAL, label="real")
    ax.bar(x + 0.2, d["synthetic"], width=0.4, color=SYNTHETIC, label="synthetic")
    ax.set_xticks(x, [f"{v:g}" for v in d["values"]])
    ax.legend()
    return _png(fig)


def plot_gaps(d: dict[str, Any]) -> str:
    """CDFs of the time between a user's consecutive events (symmetric-log x axis, seconds)."""
    fig, ax = _axes("Time between a user's events", "gap (seconds)", "share of gaps ≤ x")
    for key, color in (("real", REAL), ("synthetic", SYNTHETIC)):
        if d[key]:
            ax.step(d["grid"], d[key], where="post", color=color, label=key)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_ylim(0, 1.02)
    ax.legend()
    return _png(fig)


def plot_dcr(d: dict[str, Any]) -> str:
    """Step histograms of the distance to the closest record: synthetic→train, synthetic→holdout and
    holdout→train."""
    fig, ax = _axes("Distance to closest record (Jaccard)", "distance", "share of users")
    edges = np.asarray(d["edges"], dtype=np.float64)
    for key, color, label in (("to_train", SYNTHETIC, "synthetic → train"),
                              ("to_holdout", "#3182ce", "synthetic → holdout"),
                              ("holdout_to_train", REAL, "holdout → train (real reference)")):
        ax.stairs(d[key], edges, color=color, label=label, lw=1.5)
    ax.legend(fontsize=8)
    return _png(fig)


def plot_bias(d: dict[str, Any]) -> str:
    """Horizontal side-by-side bars of each group's share, real vs synthetic, one panel per attribute.

    The legend sits in its own strip below the last panel, so it never covers a bar whatever the shares.
    """
    attrs = d["attributes"]
    # inches per panel: bars plus room for the panel's title and x label
    heights = [0.3 * len(a["groups"]) + 1.2 for a in attrs]
    # constrained layout makes room for the "outside" legend below the panels
    fig, axes = plt.subplots(len(attrs), 1, figsize=(5.6, sum(heights) + 0.4), squeeze=False,
                             gridspec_kw={"height_ratios": heights}, layout="constrained")
    for ax, a in zip(axes[:, 0], attrs, strict=True):
        y = np.arange(len(a["groups"]))
        ax.barh(y - 0.2, a["real"], height=0.4, color=REAL, label="real")
        ax.barh(y + 0.2, a["synthetic"], height=0.4, color=SYNTHETIC, label="synthetic")
        ax.set_yticks(y, a["groups"], fontsize=8)
        ax.invert_yaxis()  # largest real group on top
        unit = "users" if a["kind"] == "user" else "interactions"
        tvd = "–" if a["tvd"] is None else f"{a['tvd']:.3f}"
        ax.set_title(f"{a['attribute']}: share of {unit} per group (TVD {tvd})", fontsize=10)
        ax.set_xlabel(f"share of {unit}")
        ax.grid(axis="x", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return _png(fig)


def plot_utility(d: dict[str, Any]) -> str:
    """Side-by-side bars of NDCG@K per model, trained on real vs on synthetic (both tested on real)."""
    k = d["k"]
    fig, ax = _axes(f"Train on synthetic, test on real ({d['n_users']} real users)", "model", f"NDCG@{k}")
    x = np.arange(len(d["models"]))
    real = np.asarray(d["real"], dtype=np.float64)
    syn = np.asarray(d["synthetic"], dtype=np.float64)
    ax.bar(x - 0.2, real, width=0.4, color=REAL, label="trained on real")
    ax.bar(x + 0.2, syn, width=0.4, color=SYNTHETIC, label="trained on synthetic")
    for xi, r, s in zip(x, real, syn, strict=True):  # the TSTR ratio above each pair of bars
        if r > 0:
            ax.text(xi, max(r, s), f"×{s / r:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, d["models"])
    # headroom above the tallest bar for its ratio label and a one-row legend
    ax.set_ylim(0, max(float(np.max(real, initial=0)), float(np.max(syn, initial=0)), 1e-9) * 1.35)
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    return _png(fig)


#: figure id (``fig-<key>``, ``<key>`` in ``results["plots"]``) → (caption, drawing function)
PLOTS: dict[str, tuple[str, Any]] = {
    "fig-popularity": ("Item popularity against rank, log–log: the head and the tail of the catalogue",
                       plot_popularity),
    "fig-activity": ("Distinct items per user: how active the users are", plot_activity),
    "fig-ratings": ("Rating values", plot_ratings),
    "fig-gaps": ("Time between a user's consecutive events (cumulative)", plot_gaps),
    "fig-dcr": ("Distance from each synthetic user to the closest train and holdout user", plot_dcr),
    "fig-bias": ("Representation: each group's share of the real and of the synthetic data", plot_bias),
    "fig-utility": ("Utility: the same recommenders trained on real and on synthetic data, tested on real "
                    "users (TSTR ratio above each pair)", plot_utility),
}


def render_plots(plots: dict[str, Any]) -> list[dict[str, str]]:
    """Draw every plot whose data is present.

    Args:
        plots: ``{"popularity": ..., "activity": ..., "ratings": ..., "gaps": ..., "dcr": ..., "bias": ...,
            "utility": ...}`` (values from the ``*_data`` functions, or ``None`` / absent when not
            measured).

    Returns:
        One dict per drawn figure, in `PLOTS` order: ``id``, ``caption``, ``png`` (base64).
    """
    out = []
    for fig_id, (caption, draw) in PLOTS.items():
        data = plots.get(fig_id.removeprefix("fig-"))
        if data is not None:
            out.append({"id": fig_id, "caption": caption, "png": draw(data)})
    return out
