"""The quality report of a synthetic log: render the ``results.json`` payload of
`synthrec.experiments.audit.run_quality_audit` as a self-contained report.html, and write both.

`write_quality_report` writes ``results.json`` and ``report.html`` drawn from that payload alone (figures
embedded as PNG, no network access needed), each written atomically. Running the audits is
`synthrec.experiments.audit`'s job; this module computes nothing from data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from synthrec.data.atomic import atomic_write_text
from synthrec.errors import DataValidationError
from synthrec.report.quality_figures import render_plots

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("synthrec.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)

#: plain-language labels of the fidelity figures (keys of `FIDELITY_KEYS`)
FIDELITY_LABELS: dict[str, str] = {
    "popularity_gini_real": "item-popularity Gini, real",
    "popularity_gini_synthetic": "item-popularity Gini, compared log",
    "popularity_gini_diff": "Gini difference (compared − real)",
    "popularity_ks": "KS on item degrees",
    "popularity_spearman": "Spearman ρ of item degrees",
    "catalogue_coverage_real": "catalogue coverage, real",
    "catalogue_coverage_synthetic": "catalogue coverage, compared log",
    "long_tail_coverage": "long-tail items covered",
    "activity_ks": "KS on items per user",
    "activity_mean_real": "items per user, mean, real",
    "activity_mean_synthetic": "items per user, mean, compared log",
    "activity_median_real": "items per user, median, real",
    "activity_median_synthetic": "items per user, median, compared log",
    "rating_tvd": "rating histogram TVD",
    "session_length_ks": "KS on events per session",
    "session_length_mean_real": "events per session, mean, real",
    "session_length_mean_synthetic": "events per session, mean, compared log",
    "rating_mean_real": "mean rating, real",
    "rating_mean_synthetic": "mean rating, compared log",
    "rating_boundary_adherence": "ratings inside the real range",
    "gap_ks": "KS on time gaps",
    "gap_median_real": "median gap (s), real",
    "gap_median_synthetic": "median gap (s), compared log",
    "timestamp_boundary_adherence": "timestamps inside the real time range",
    "cooccurrence_cosine_corr": "item-item cosine correlation",
    "cooccurrence_pmi_corr": "item-item PMI correlation",
    "cooccurrence_pmi_pairs": "item pairs in the PMI correlation",
}

#: plain-language labels of the privacy figures (keys of `REPORT_KEYS`)
PRIVACY_LABELS: dict[str, str] = {
    "n_synthetic": "synthetic users",
    "n_train": "real members (train) users",
    "n_holdout": "real holdout users",
    "dcr_train_median": "DCR to train, median",
    "dcr_holdout_median": "DCR to holdout, median",
    "dcr_train_p05": "DCR to train, 5th percentile",
    "dcr_holdout_p05": "DCR to holdout, 5th percentile",
    "dcr_share_closer_to_train": "synthetic users closer to train than holdout",
    "dcr_share_baseline": "… expected without memorisation",
    "exact_copy_share": "exact copies of a train user",
    "exact_copy_share_holdout": "… holdout users copying a train user (real rate)",
    "nndr_mean": "NNDR, mean",
    "nndr_median": "NNDR, median",
    "nndr_p05": "NNDR, 5th percentile",
    "mia_auc": "membership-inference AUC (0.5 = no leak)",
}

#: the sections of report.html, by element id (the browser test checks each one)
SECTIONS: tuple[str, ...] = ("summary", "cards", "figures", "fidelity", "privacy", "audits", "thresholds",
                             "inputs")

#: the optional audits listed in the "audits" section, with what turns each on (when it did not run)
AUDIT_TITLES: dict[str, tuple[str, str]] = {
    "popularity_bias": ("Popularity bias", "always run"),
    "representation": ("Representation of groups", "always run"),
    "attribute_inference": ("Attribute inference", "runs when the real log has user attributes"),
    "utility": ("Utility (TSTR) and model ranking", "not run: pass --utility"),
    "attack": ("Shadow-model membership attack", "not run: pass --generator MODEL_PATH (and --shadows N > 0)"),
    "canaries": ("Canaries", "not run: pass --generator MODEL_PATH --canaries N"),
    "dp": ("Differential privacy", "not run: pass --generator MODEL_PATH"),
}


# ------------------------------------------------------------------------------------------ output


def json_clean(value: Any) -> Any:
    """Recursively turn numpy scalars into Python numbers and non-finite floats into ``None`` (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_clean(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.4f}" if abs(x) < 1000 else f"{x:,.0f}"
    return f"{x:,.0f}" if isinstance(x, (int, float)) else str(x)


def render_quality_html(payload: Mapping[str, Any]) -> str:
    """The report page for a `synthrec.experiments.audit.run_quality_audit` payload: cards, embedded figures and tables.

    Every number on the page comes from ``payload``; nothing is recomputed from data.
    """
    reference = payload.get("fidelity_real_reference") or {}
    fidelity_rows = [
        {"key": k, "label": FIDELITY_LABELS.get(k, k), "value": _fmt(v), "reference": _fmt(reference.get(k))}
        for k, v in payload["fidelity"].items()
    ]
    privacy_rows = [
        {"key": k, "label": PRIVACY_LABELS.get(k, k), "value": _fmt(v)}
        for k, v in (payload.get("privacy") or {}).items()
    ]
    done = payload.get("optional_audits") or {}
    notes = payload.get("audit_notes") or {}
    audits = [
        {"name": name, "title": AUDIT_TITLES.get(name, (name, ""))[0], "ran": name in done,
         "note": notes.get(name, "") if name in done else AUDIT_TITLES.get(name, ("", ""))[1],
         "figures": [(k, _fmt(v)) for k, v in done.get(name, {}).items()]}
        for name in [*AUDIT_TITLES, *(n for n in done if n not in AUDIT_TITLES)]
    ]
    cards = [{**c, "value_s": _fmt(c["value"]),
              "details_s": [(k, _fmt(v)) for k, v in c["details"].items()]} for c in payload["cards"]]
    return _ENV.get_template("quality.html").render(
        p=payload, cards=cards, figures=render_plots(payload["plots"]), fidelity_rows=fidelity_rows,
        has_reference=bool(reference), privacy_rows=privacy_rows, audits=audits,
        sections=SECTIONS,
    )


def write_quality_report(payload: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``out_dir/results.json`` and ``out_dir/report.html`` (each to a temporary file, then renamed;
    the page is rendered before either file is touched).

    Returns:
        ``(results_json, report_html)``.

    Raises:
        DataValidationError: ``out_dir`` exists and is not a folder.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise DataValidationError("the output path exists and is not a folder", source=str(out_dir),
                                  hint="give a folder for --out")
    html = render_quality_html(payload)
    text = json.dumps(json_clean(payload), indent=2, allow_nan=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_json, report_html = out_dir / "results.json", out_dir / "report.html"
    atomic_write_text(results_json, text)
    atomic_write_text(report_html, html)
    return results_json, report_html
