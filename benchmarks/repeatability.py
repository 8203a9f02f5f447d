"""Run-to-run repeatability: the same suite, run N times, and the CV of each model's median latency.

Each run is a full archbench run (fresh worker process per cell, warm-up, adaptive sampling),
so the spread includes everything that differs between runs: process start, memory layout,
thread placement, frequency, background load. The figure printed per cell is
CV = std / mean (ddof = 1) of ``latency_ms_p50`` over the runs; target ≤ 3 % on a quiet
machine. The machine's load before each run is printed with it, since a busy machine is the
usual reason for missing the target. This is a benchmark, not a test: it asserts nothing.

    .venv/bin/python benchmarks/repeatability.py                       # built-in small CPU suite, 3 runs
    .venv/bin/python benchmarks/repeatability.py --suite suites/ci.yaml --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.suite import load_suite, parse_suite  # noqa: E402

SMALL_SUITE = {
    "name": "repeatability",
    "description": "Three small ImageNet-size models at batch 1 on one CPU thread.",
    "models": ["tv:resnet18", "tv:mobilenet_v3_large", "timm:vit_tiny_patch16_224"],
    "devices": ["cpu"],
    "batch_sizes": [1],
    "img_sizes": [224],
    "threads": [1],
    "metrics": ["latency"],
    "timing": {
        "warmup_min_iters": 5,
        "warmup_max_s": 3,
        "min_samples": 30,
        "max_samples": 300,
        "max_time_s": 4,
        "target_rel_iqr": 0.02,
        "ceiling_s": 0,
    },
    "timeout_s": 300,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", help="suite YAML (default: a built-in 3-model CPU suite)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", help="keep the runs under this folder (default: a temporary one)")
    args = ap.parse_args(argv)

    from bench.env import measure_load
    from bench.results import load_results
    from bench.runner import run_suite

    suite = load_suite(args.suite) if args.suite else parse_suite(SMALL_SUITE, "built-in repeatability suite")
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="archbench-repeat-"))
    medians: dict[str, list[float]] = {}
    minima: dict[str, list[float]] = {}
    for i in range(args.runs):
        load = measure_load()
        summary = run_suite(suite, root, progress=False)
        df = load_results(summary.run_dir)
        ok = df[df["status"] == "ok"]
        print(
            f"run {i + 1}/{args.runs}: {summary.run_dir.name}  load average {load.loadavg_1m:.2f}, other processes "
            f"{load.other_procs_cpu_percent:.0f}% CPU{'  (BUSY)' if load.busy else ''}",
            flush=True,
        )
        for _, r in ok.iterrows():
            label = f"{r['model']} b{r['batch_size']} {r['device']}/{r['precision']}/{r['runtime']} t{r['threads_actual']}"
            medians.setdefault(label, []).append(float(r["latency_ms_p50"]))
            minima.setdefault(label, []).append(float(r["latency_ms_min"]))

    print()
    width = max((len(k) for k in medians), default=10)

    def cv(vals: list[float]) -> float:
        return statistics.stdev(vals) / statistics.fmean(vals) if len(vals) > 1 else float("nan")

    print(
        f"{'cell (median latency per run)':<{width}}  "
        + "  ".join(f"run{i + 1:>2} ms" for i in range(args.runs))
        + "     CV  (CV of min)"
    )
    worst = 0.0
    for label, vals in medians.items():
        c = cv(vals)
        worst = max(worst, c) if c == c else worst
        cols = "  ".join(f"{v:9.3f}" for v in vals) + "  " * (args.runs - len(vals))
        print(f"{label:<{width}}  {cols}  {c * 100:5.2f}%  ({cv(minima[label]) * 100:.2f}%)")
    print(f"\nworst run-to-run CV of median latency: {worst * 100:.2f}% (target <= 3%); runs kept in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
