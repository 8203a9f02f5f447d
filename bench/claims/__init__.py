"""The lecture notes' claims, measured: one small experiment per claim, each with a verdict.

Public API (the CLI's ``archbench claims`` calls these)::

    run_claims(only, results_root, reports_dir, scale="full") -> Path   # the run folder
    claims_table_markdown(run_dir) -> str                               # README table
    parse_only("1,5,7") -> [1, 5, 7]

See :mod:`bench.claims.base` for the experiment contract and docs/claims.md for the method.
"""

from bench.claims.base import CAVEAT, EXPERIMENTS, FAILS, HOLDS, VERDICTS, Claim, ClaimResult, Decision, load
from bench.claims.report import claims_table_markdown, render_report, write_report
from bench.claims.runner import parse_only, run_claims

__all__ = [
    "CAVEAT", "EXPERIMENTS", "FAILS", "HOLDS", "VERDICTS", "Claim", "ClaimResult", "Decision", "load",
    "claims_table_markdown", "render_report", "write_report", "parse_only", "run_claims",
]
