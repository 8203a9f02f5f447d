"""Reports: a self-contained HTML page per run, an index of runs, and a Markdown summary."""

from bench.report.html import render_run_report, update_index

__all__ = ["render_run_report", "update_index"]
