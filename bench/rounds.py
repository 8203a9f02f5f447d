"""Rounds: each cell timed in R separate worker processes, and what a row says about them.

Every worker process settles at its own level (heap layout, thread placement, caches, clock),
so samples from one process replicate that process, not the measurement. A run therefore
times each cell in ``timing.rounds`` processes, the *rounds*, interleaved over the whole
matrix (all cells' round 1, then all cells' round 2, …; the order inside a round shuffled by a
recorded seed), and the round is the unit of replication:

- ``latency_ms_p50`` is the median of the round medians;
- ``latency_ms_p50_ci_low`` / ``_ci_high``: a 95% interval for the cell's latency level, a
  Student-t interval on the logarithms of the round medians (latency is a ratio scale and
  its process-to-process spread is multiplicative), exponentiated; with one round it is
  unknown, left empty, and ``latency_interval_note`` says why — never a zero-width interval;
- ``latency_between_round_cv``: standard deviation / mean of the round medians;
- percentiles other than p50, mean, min, max and ``n_samples`` pool every round's samples.

Deterministic measurements (params, GMACs, weight size) and the memory and parity passes are
made once per cell, in round 0; later rounds only time.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any, Sequence

import numpy as np

from bench.suite import Cell

CONFIDENCE = 0.95
ONE_ROUND_NOTE = "1 round: process-to-process variation unknown, so no interval (set timing.rounds >= 3)"
# Statuses after which later rounds are still run: the cell measured (mismatch keeps its timings).
MEASURED = ("ok", "mismatch")
ROUNDS_RULE = (
    "each cell timed in timing.rounds worker processes, rounds interleaved over the matrix (order within a round "
    "shuffled by rounds_seed); latency_ms_p50 = median of round medians; latency_ms_p50_ci_low/_ci_high = 95% "
    "Student-t interval on log round medians; latency_between_round_cv = sd/mean of round medians; other "
    "percentiles pool all rounds; params/GMACs/weights/memory/parity measured once (round 0)"
)


def _group(cell: Cell) -> tuple:
    return (cell.model, cell.device, cell.precision, cell.runtime, cell.img_size, cell.threads, cell.task)


def round_order(cells: Sequence[Cell], round_no: int, seed: int) -> list[Cell]:
    """The cells of one round in their shuffled order (same seed and round → same order).

    Within a (model, device, precision, runtime, size, threads) group, batch sizes keep
    ascending order over the positions the group drew, so an out-of-memory batch still stops
    the larger ones of its sweep (bench.runner)."""
    order = list(cells)
    random.Random(seed * 1009 + round_no).shuffle(order)
    slots: dict[tuple, list[int]] = {}
    for i, c in enumerate(order):
        slots.setdefault(_group(c), []).append(i)
    out = list(order)
    for idxs in slots.values():
        members = sorted((order[i] for i in idxs), key=lambda c: c.batch_size)
        for i, c in zip(idxs, members):
            out[i] = c
    return out


def log_t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Student-t interval of the geometric level of ``values`` (positive), or None below 2 values."""
    from scipy.stats import t

    v = np.asarray([x for x in values if x is not None and math.isfinite(x) and x > 0], dtype=float)
    if v.size < 2:
        return None
    logs = np.log(v)
    half = float(t.ppf(0.5 + confidence / 2, v.size - 1)) * float(logs.std(ddof=1)) / math.sqrt(v.size)
    m = float(logs.mean())
    return math.exp(m - half), math.exp(m + half)


def between_round_columns(round_medians: Sequence[float], batch_size: int, rounds_planned: int) -> dict[str, Any]:
    """The row's round-level columns from the medians of its rounds (ms)."""
    med = [float(m) for m in round_medians]
    out: dict[str, Any] = {
        "rounds": rounds_planned,
        "rounds_ok": len(med),
        "latency_ms_p50_rounds": json.dumps([round(m, 6) for m in med]),
    }
    if not med:
        return out
    p50 = float(np.median(med))
    out["latency_ms_p50"] = p50
    out["throughput_ips"] = batch_size / (p50 / 1000.0)
    ci = log_t_interval(med)
    if ci is None:
        out.update(
            latency_ms_p50_ci_low=None,
            latency_ms_p50_ci_high=None,
            latency_between_round_cv=None,
            throughput_ips_ci_low=None,
            throughput_ips_ci_high=None,
            latency_interval_note=ONE_ROUND_NOTE,
        )
    else:
        arr = np.asarray(med)
        out.update(
            latency_ms_p50_ci_low=ci[0],
            latency_ms_p50_ci_high=ci[1],
            latency_between_round_cv=float(arr.std(ddof=1) / arr.mean()),
            throughput_ips_ci_low=batch_size / (ci[1] / 1000.0),
            throughput_ips_ci_high=batch_size / (ci[0] / 1000.0),
            latency_interval_note=None,
        )
    return out


def combine_rounds(
    rounds: list[dict[str, Any]], batch_size: int, rounds_planned: int, percentiles: Sequence[float] = (50.0, 90.0)
) -> dict[str, Any]:
    """One row from the rows of a cell's rounds (``[{"round", "row", "samples_ms"}, …]``).
    ``percentiles``: the suite's ``timing.percentiles``, reported where the pooled samples
    support them (bench.metrics.stats).

    Round 0's row carries the deterministic columns; a round that failed makes the cell's
    status that failure (named by round) while the other rounds' timings are kept."""
    from bench.metrics.stats import summarize

    rounds = sorted(rounds, key=lambda r: r["round"])
    row = dict(rounds[0]["row"])
    for r in rounds[1:]:
        st = r["row"].get("status")
        if st not in MEASURED and row.get("status") in MEASURED:
            row["status"] = st
            row["error"] = f"round {r['round'] + 1} of {rounds_planned}: {r['row'].get('error')}"
    timed = [r for r in rounds if r.get("samples_ms")]
    if timed:
        pooled = [x for r in timed for x in r["samples_ms"]]
        row.update(summarize(pooled, tuple(percentiles)).as_row())
        row.update(between_round_columns([float(np.median(r["samples_ms"])) for r in timed], batch_size, rounds_planned))
        row["timing_target_met"] = all(bool(r["row"].get("timing_target_met")) for r in timed)
    else:
        row.update(rounds=rounds_planned, rounds_ok=0)
    loads = [r["row"].get("other_cpu_pct") for r in timed if r["row"].get("other_cpu_pct") is not None]
    if loads:
        row["other_cpu_pct"] = max(loads)
        row["other_cpu_pct_rounds"] = json.dumps(loads)
        row["load_busy_rounds"] = sum(bool(r["row"].get("load_busy")) for r in timed)
        row["load_busy"] = row["load_busy_rounds"] > 0
    pids = [r["row"].get("worker_pid") for r in rounds if r["row"].get("worker_pid") is not None]
    if pids:
        row["worker_pids"] = json.dumps(pids)
        row.pop("worker_pid", None)
    row["duration_s"] = round(sum(float(r["row"].get("duration_s") or 0) for r in rounds), 3)
    if len(rounds) > 1:
        row["finished_at"] = rounds[-1]["row"].get("finished_at", row.get("finished_at"))
    return row
