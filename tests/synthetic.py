"""Synthetic timing samples with the structure real runs have, and run folders that carry them.

Decision rules (compare, rounds, A/B) are tested on these instead of on timings measured on the
machine running the tests, which move with whatever else that machine does (issue #13). What a
real worker process's per-call latencies look like on a 2-core machine, and so what is modelled:

- a per-process level: each process settles at its own speed (heap layout, thread placement,
  frequency); ``offset_sd`` is its relative spread across processes (lognormal);
- within-process jitter with a right tail (calls are never faster than the floor);
- bimodal calls: a share of calls on a slower mode (cache or page effects);
- phases of load: a contiguous run of calls slowed 30-40% while another process holds a core;
- a true slowdown multiplies every call, the fastest included.

Everything is drawn from a seeded generator, so each test sees the same numbers every time.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench import results


@dataclass(frozen=True)
class ProcessShape:
    # Relative sd of a process's level around the true latency. 1.5% is a quiet, pinned machine;
    # the 2-core CI machines showed 8.8% (ResNet-18, 5 processes), which only rounds can see (#15).
    offset_sd: float = 0.015
    jitter: float = 0.015  # mean relative length of the right tail of a call
    bimodal_frac: float = 0.15  # share of calls on the slow mode
    bimodal_gap: float = 0.12  # how much slower the slow mode is
    burst_frac: float = 0.0  # share of calls inside one phase of load
    burst_slow: float = 0.35  # how much a phase of load slows a call (30-40% measured on 2 cores)


def process_samples(rng: np.random.Generator, true_ms: float, n: int = 400, shape: ProcessShape = ProcessShape()) -> np.ndarray:
    """Per-call latencies (ms) of one worker process timing a step whose true cost is ``true_ms``."""
    level = true_ms * float(np.exp(rng.normal(0.0, shape.offset_sd)))
    x = level * (1.0 + rng.exponential(shape.jitter, n))
    x[rng.random(n) < shape.bimodal_frac] *= 1.0 + shape.bimodal_gap
    if shape.burst_frac > 0:
        length = max(1, int(n * shape.burst_frac))
        start = int(rng.integers(0, n - length + 1))
        x[start : start + length] *= 1.0 + shape.burst_slow * (1.0 + 0.2 * rng.random(length))
    return x


def rounds_samples(
    rng: np.random.Generator,
    true_ms: float,
    rounds: int = 5,
    n: int = 120,
    shape: ProcessShape = ProcessShape(),
    burst_round: int | None = None,
    burst: ProcessShape | None = None,
) -> list[np.ndarray]:
    """One cell timed in ``rounds`` worker processes (bench.rounds): each round its own process level.

    ``burst_round`` gets ``burst``'s shape instead (a phase of load that fell on that round)."""
    return [process_samples(rng, true_ms, n, burst if (burst is not None and r == burst_round) else shape) for r in range(rounds)]


def with_samples(
    template: Path,
    dest: Path,
    samples_by_model: dict[str, np.ndarray | list[np.ndarray]],
    loads_by_model: dict[str, list[float]] | None = None,
) -> Path:
    """A copy of the real run folder ``template`` whose named models carry the given samples.

    A model's samples are one array (one process: a one-round cell, as runs before rounds) or
    a list of arrays, one per round. The results table's latency statistics, round-level columns
    and throughput are recomputed with the project's own code (bench.rounds.combine_rounds), as
    the runner computes them. ``loads_by_model`` gives the other-process CPU (% of a core)
    recorded for each round; without it every round is recorded quiet (0%).
    """
    from bench.rounds import combine_rounds

    shutil.copytree(template, dest)
    table = results.load_results(dest / "results.parquet")
    sdf = results.load_samples(dest)
    run_id = str(table["run_id"].iloc[0])
    loads_by_model = loads_by_model or {}
    for model, samples in samples_by_model.items():
        rows = table.index[table["model"] == model]
        assert len(rows) == 1, f"template run has {len(rows)} cells of {model!r}"
        i = rows[0]
        key = table.at[i, "cell_key"]
        per_round = (
            [np.asarray(samples, dtype=float)]
            if isinstance(samples, np.ndarray)
            else [np.asarray(x, dtype=float) for x in samples]
        )
        loads = loads_by_model.get(model) or [0.0] * len(per_round)
        recs = [
            {
                "round": r,
                "samples_ms": list(x),
                "row": {"status": "ok", "other_cpu_pct": loads[r], "load_busy": loads[r] > 25, "timing_target_met": True},
            }
            for r, x in enumerate(per_round)
        ]
        row = combine_rounds(recs, int(table.at[i, "batch_size"]), len(per_round))
        for col in table.columns:  # round-level columns the template's own rounds left behind
            if col.startswith(("latency_ms_p50_", "throughput_ips_ci", "latency_between", "other_cpu", "load_busy")):
                table[col] = table[col].astype(object)
                table.at[i, col] = None
        for col, value in row.items():
            if col in ("status", "duration_s") or col.startswith("timing_"):
                continue
            if col not in table.columns:
                table[col] = None
            table[col] = table[col].astype(object)
            table.at[i, col] = value
        new = pd.concat(
            [
                pd.DataFrame(
                    {
                        "run_id": run_id,
                        "cell_key": key,
                        "model": model,
                        "round": r,
                        "iteration": np.arange(len(x)),
                        "latency_ms": x,
                    }
                )
                for r, x in enumerate(per_round)
            ]
        )
        sdf = pd.concat([sdf[sdf["cell_key"] != key], new], ignore_index=True)
    table = results.typed(table)  # list columns hold lists (combine_rounds gives JSON text)
    results.write_table_atomic(table, dest / "results.parquet")
    results.write_table_atomic(results._csv_ready(table), dest / "results.csv")
    results.write_table_atomic(sdf, dest / "samples.parquet")
    return dest
