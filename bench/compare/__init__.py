"""`archbench compare`: judge two runs metric by metric without crying wolf.

Public API::

    from bench.compare import compare_paths, load_run, compare_runs, build_config
    cmp = compare_paths("results/baselines/ci", "results/<run_id>", overrides={"allow_change": ["gmacs"]})
    cmp.exit_code            # 0 nothing failing, 1 something failing (UserError → 2 for unusable input)
    render_markdown(cmp)     # PR comment / CI job summary
    render_json(cmp); render_terminal(cmp); write_html(cmp, path)

Rules: bench/compare/core.py; settings: bench/compare/config.py; statistics: bench/compare/stats.py.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Lazy exports: bench.cli imports bench.compare.command while building its parser, and
# that must not pull in pandas/scipy for every `archbench` invocation.
_WHERE = {
    "METRICS": "config",
    "CompareConfig": "config",
    "build_config": "config",
    "DECISIONS": "core",
    "Comparison": "core",
    "MetricResult": "core",
    "RunData": "core",
    "compare_paths": "core",
    "compare_runs": "core",
    "environment_diffs": "core",
    "load_run": "core",
    "render_html": "html",
    "write_html": "html",
    "render_json": "render",
    "render_markdown": "render",
    "render_terminal": "render",
}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"bench.compare.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'bench.compare' has no attribute {name!r}")
