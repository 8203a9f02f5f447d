"""Local executor vs RayExecutor on this one machine, and the projected N-node speed-up.

Runs a suite twice with the real runner (bench.runner.run_suite, real run folders, one fresh
worker process per cell): once with the local executor, once on a local Ray cluster started
for the purpose (its start-up is timed apart from the run). Prints both wall times, Ray's
overhead on one node, and — from the per-cell spans Ray recorded — the wall time a cluster of
N identical nodes would need: batch sweeps of timed cells packed one at a time per node (longest first), cells
that time nothing spread over every node's free CPUs, plus the measured fixed cost of the run
(environment, load check, hardware ceiling). A measurement on the machine it runs on:
evidence, not a gate; nothing here is asserted.

    .venv/bin/python benchmarks/ray_scaleout.py                       # suites/ci.yaml
    .venv/bin/python benchmarks/ray_scaleout.py --default-cpu         # also the default suite's CPU speed cells
    .venv/bin/python benchmarks/ray_scaleout.py --nodes 1 2 4 8 16
    .venv/bin/python benchmarks/ray_scaleout.py --rounds 1               # one round per cell (quick)
"""

from __future__ import annotations

import argparse
import heapq
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _suite(path: Path, speed_only: bool):
    from bench.suite import load_suite

    suite = load_suite(path)
    if speed_only:  # the default suite's CPU speed cells: no accuracy tasks
        suite = suite.model_copy(update={"accuracy": [], "devices": ["cpu"]})
    return suite


def _run(suite, executor, root: Path):
    from bench.results import load_results
    from bench.runner import run_suite

    t0 = time.perf_counter()
    summary = run_suite(suite, root, executor=executor, progress=False)
    wall = time.perf_counter() - t0
    return wall, load_results(summary.run_dir)


def _makespan(spans: list[float], workers: int) -> float:
    """Longest-first greedy packing of ``spans`` onto ``workers`` serial slots."""
    if not spans:
        return 0.0
    slots = [0.0] * workers
    for s in sorted(spans, reverse=True):
        heapq.heapreplace(slots, slots[0] + s)
    return max(slots)


def project(df, suite, run_wall: float, nodes: list[int], cpus_per_node: int) -> list[tuple[int, float, float]]:
    from bench.executor_ray import is_timing_cell
    from bench.runner import all_cells

    from bench.runner import sweep_group

    cells = {c.key: c for c in all_cells(suite)}
    span = dict(zip(df["cell_key"], (df["cell_end_unix_s"] - df["cell_start_unix_s"]).astype(float)))
    # A batch sweep runs its cells one after another (RayExecutor), so it is packed as one job.
    chains: dict[tuple, float] = {}
    light: list[float] = []
    for key, s in span.items():
        if is_timing_cell(cells[key]):
            chains[sweep_group(cells[key])] = chains.get(sweep_group(cells[key]), 0.0) + s
        else:
            light.append(s)
    timed = list(chains.values())
    spare = max(1, cpus_per_node - 1)  # CPUs a node has besides the one its timed cell holds

    def cells_wall(n: int) -> float:
        return max(_makespan(timed, n), _makespan(light, n * spare))

    fixed = max(0.0, run_wall - cells_wall(1))  # environment, load check, ceiling, Ray's bookkeeping
    out = []
    for n in nodes:
        wall = fixed + cells_wall(n)
        out.append((n, wall, (fixed + cells_wall(1)) / wall))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", default=str(ROOT / "suites" / "ci.yaml"))
    ap.add_argument("--default-cpu", action="store_true", help="also the default suite's CPU speed cells (minutes)")
    ap.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--rounds", type=int, default=None, help="override the suite's timing.rounds (e.g. 1 for a quick look)")
    args = ap.parse_args()

    import os

    import ray

    from bench.env import measure_load
    from bench.executor import LocalProcessExecutor
    from bench.executor_ray import RayExecutor

    suites = [(Path(args.suite), False)] + ([(ROOT / "suites" / "default.yaml", True)] if args.default_cpu else [])
    load = measure_load()
    print(
        f"machine: {os.cpu_count()} cores, load average {load.loadavg_1m:.1f}, other processes "
        f"{load.other_procs_cpu_percent:.0f}% CPU{' (BUSY: figures are unreliable)' if load.busy else ''}"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="archbench-scaleout-") as tmp:
            for path, speed_only in suites:
                suite = _suite(path, speed_only)
                if args.rounds:
                    suite = suite.model_copy(update={"timing": suite.timing.model_copy(update={"rounds": args.rounds})})
                local_wall, _ = _run(suite, LocalProcessExecutor(), Path(tmp) / "local")
                t0 = time.perf_counter()
                ray_ex = RayExecutor()  # the runner shuts its cluster down at the end of the run
                print(f"local Ray cluster start: {time.perf_counter() - t0:.1f} s (once per `archbench run --executor ray`)")
                ray_wall, df = _run(suite, ray_ex, Path(tmp) / "ray")
                name = f"{path.name}{' (CPU speed cells)' if speed_only else ''}"
                print(f"\n{name}: {len(df)} cells")
                print(f"  local executor  {local_wall:7.1f} s")
                print(
                    f"  Ray, one node   {ray_wall:7.1f} s  ({ray_wall / local_wall - 1:+.1%} vs local; cluster start not included)"
                )
                # The runner shuts its local cluster down at the end of the run; that cluster had this machine's CPUs.
                cpus = int(ray.cluster_resources().get("CPU", 1)) if ray.is_initialized() else (os.cpu_count() or 1)
                print("  projected on N identical nodes (per-cell spans measured here):")
                for n, wall, speedup in project(df, suite, ray_wall, args.nodes, cpus):
                    print(f"    N={n:<3d} {wall:7.1f} s   speed-up x{speedup:.2f}")
    finally:
        if ray.is_initialized():
            ray.shutdown()
    print(f"\nload after: average {measure_load().loadavg_1m:.1f} (the machine is shared: compare runs made at the same load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
