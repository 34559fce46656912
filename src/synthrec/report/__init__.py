"""Self-contained HTML reports (jinja2 templates, matplotlib figures embedded as PNG)."""

from synthrec.report.html import write_run_report

__all__ = ["write_run_report"]
