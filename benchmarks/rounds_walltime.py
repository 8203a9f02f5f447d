"""Wall time of a run timed in rounds (workers forked from the template) against today's single
round of fresh interpreters (issue #15, item 2: rounds must not multiply the wall time).

Two runs of the same suite, one after the other, with the real runner and real workers:

- ``R=1 fresh``: one round per cell, each worker a fresh ``python -m bench.worker`` (how cells
  were run before rounds), with the suite's time budget multiplied by ``--rounds`` (what a
  single round had before the budget was split: ``suites/default.yaml`` had max_time_s 3);
- ``R=N template``: ``--rounds`` rounds per cell, workers forked from the template process.

Prints both wall times and their ratio; the target is a ratio <= 1. On a shared machine the
figures move with the other jobs: run it on a quiet one for the README.

    .venv/bin/python benchmarks/rounds_walltime.py                       # suites/ci.yaml, 3 rounds
    .venv/bin/python benchmarks/rounds_walltime.py suites/default.yaml --models tv:resnet18,tv:mobilenet_v3_large
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", nargs="?", default="suites/ci.yaml")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", help="comma list replacing the suite's models (keeps the run short)")
    ap.add_argument("--no-accuracy", action="store_true", default=True, help="speed cells only (default)")
    args = ap.parse_args()

    from bench.env import measure_load
    from bench.executor import LocalProcessExecutor
    from bench.runner import run_suite
    from bench.suite import load_suite

    suite = load_suite(args.suite)
    updates: dict = {"accuracy": []}
    if args.models:
        updates["models"] = args.models.split(",")
    budget = suite.timing.max_time_s
    one = suite.model_copy(
        update={
            **updates,
            "timing": suite.timing.model_copy(
                update={"rounds": 1, "max_time_s": budget * args.rounds, "warmup_max_s": suite.timing.warmup_max_s}
            ),
        }
    )
    many = suite.model_copy(update={**updates, "timing": suite.timing.model_copy(update={"rounds": args.rounds})})
    load = measure_load()
    print(
        f"suite {suite.name}: {args.rounds} rounds x max_time_s {budget:g} vs 1 round x {budget * args.rounds:g}; "
        f"load before: {load.other_procs_cpu_percent:.0f}% other CPU, load average {load.loadavg_1m:.2f}"
        + (" (BUSY: figures are not a quiet machine's)" if load.busy else "")
    )
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, s, ex in (
            ("R=1 fresh", one, LocalProcessExecutor(use_template=False)),
            (f"R={args.rounds} template", many, LocalProcessExecutor()),
        ):
            t0 = time.time()
            summary = run_suite(s, Path(tmp) / name.replace(" ", "_").replace("=", ""), executor=ex, progress=False)
            walls[name] = time.time() - t0
            print(f"{name:>14}: {walls[name]:7.1f} s wall, {summary.total} cells ({summary.counts})", flush=True)
    a, b = walls.values()
    print(f"ratio R={args.rounds} template / R=1 fresh: {b / a:.2f}")


if __name__ == "__main__":
    main()
