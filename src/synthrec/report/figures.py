"""Figures for the run report, returned as base64 PNG strings so the HTML opens offline."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl


def _to_base64(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def arm_bars(summary: pl.DataFrame, metric: str) -> str:
    """Horizontal bars of ``metric`` (mean ± std over seeds) per arm, one panel per model; a dashed line
    marks real-only. Returns a base64 PNG."""
    rows = summary.filter(pl.col("metric") == metric)
    models = rows["model"].unique(maintain_order=True).to_list()
    arms = rows["arm"].unique(maintain_order=True).to_list()
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 0.32 * len(arms) + 1.4),
                             sharey=True, squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        sub = rows.filter(pl.col("model") == model)
        by_arm = {r["arm"]: r for r in sub.iter_rows(named=True)}
        ys = list(range(len(arms)))
        means = [by_arm[a]["mean"] if a in by_arm else 0.0 for a in arms]
        stds = [by_arm[a]["std"] if a in by_arm else 0.0 for a in arms]
        colors = ["#888888" if a == "real-only" else "#2b6cb0" if a != "ceiling" else "#38a169" for a in arms]
        ax.barh(ys, means, xerr=stds, color=colors, alpha=0.85, capsize=2)
        if "real-only" in by_arm:
            ax.axvline(by_arm["real-only"]["mean"], color="#555555", ls="--", lw=1)
        ax.set_title(model)
        ax.set_xlabel(metric)
        ax.set_yticks(ys, arms)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].invert_yaxis()  # the panels share y: invert once, so the first arm is on top
    fig.tight_layout()
    return _to_base64(fig)
