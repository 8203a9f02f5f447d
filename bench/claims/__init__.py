"""The lecture notes' claims: computed rows (arithmetic, never judged) and experiments (3+ seeds,
verdict on the mean and its 95% interval, every declared verdict reachable and tested).

Public API (the CLI's ``archbench claims`` calls these)::

    run_claims(only, results_root, reports_dir, scale="full", jobs=1) -> Path   # the run folder
    claims_table_markdown(run_dir) -> str                                       # README table
    parse_only("1,5,7") -> [1, 5, 7]

See :mod:`bench.claims.base` for the row contract and docs/claims.md for the method.
"""

from bench.claims.base import (
    CAVEAT,
    COMPUTED,
    EXPERIMENTS,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    SEEDS,
    VERDICTS,
    Claim,
    ClaimResult,
    Decision,
    load,
)
from bench.claims.report import claims_table_markdown, render_report, write_report
from bench.claims.runner import parse_only, run_claims

__all__ = [
    "CAVEAT",
    "COMPUTED",
    "EXPERIMENTS",
    "FAILS",
    "HOLDS",
    "INCONCLUSIVE",
    "SEEDS",
    "VERDICTS",
    "Claim",
    "ClaimResult",
    "Decision",
    "load",
    "claims_table_markdown",
    "render_report",
    "write_report",
    "parse_only",
    "run_claims",
]
