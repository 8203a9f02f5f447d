"""Real runs of tiny models with cells measured in the test process.

`archbench run` starts one fresh worker process per cell (~3 s of interpreter and torch
start-up each). Tests that need real run folders (real tables, real run.json, real params and
GMACs) but do not judge timings run the same measuring code, bench.worker.run_cell, in this
process instead. Nothing here asserts on a measured time.
"""

from __future__ import annotations

from bench.executor import CellOutcome, Executor
from bench.suite import TimingSpec, parse_suite


class InProcessExecutor(Executor):
    """Runs bench.worker.run_cell in this process, one cell at a time."""

    def run(self, cell, log_path):
        from bench.worker import run_cell

        rec = run_cell(cell)
        return CellOutcome(rec["row"], rec["samples_ms"])


def speed_suite(
    models: dict[str, tuple[str, dict]], metrics=("params", "latency"), window_s: float = 0.4, name="cmp", rounds: int = 1
):
    """A suite of aliased tiny models on one thread that always spends its timing window."""
    timing = dict(
        warmup_min_iters=10, warmup_max_s=0.1, min_samples=40, max_samples=5000, max_time_s=window_s, target_rel_iqr=0.001
    )  # always spend the window: comparable sample counts
    if "rounds" in TimingSpec.model_fields:
        timing["rounds"] = rounds
    if "ceiling_s" in TimingSpec.model_fields:
        timing["ceiling_s"] = 0
    entries = [{"name": n, "alias": alias, "kwargs": kw} for alias, (n, kw) in models.items()]
    return parse_suite({"name": name, "models": entries, "threads": [1], "metrics": list(metrics), "timing": timing})
