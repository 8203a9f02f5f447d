"""`--dry-run`: the cells a suite expands to and how long they should take, without running one.

The estimate per cell is, in order of preference, what the same cell key took in the newest
earlier run under the results folder (wall time from start to finish of its record), else a
rule of thumb: per timing round (``timing.rounds`` worker processes), worker start, model build
and counting (:data:`CELL_OVERHEAD_S`) plus the timing budget (``timing.max_time_s``, an upper
bound: adaptive sampling usually stops sooner),
plus an ONNX export once per model and input shape for deployed runtimes, plus compilation for
``compile``. Reported accuracy is a table lookup and costs nothing; scratch training is not
estimated from rules (too model-dependent) unless an earlier run timed it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.axes import DEPLOYED_RUNTIMES
from bench.suite import Cell

# Seconds per speed cell outside the timed loop (fresh worker imports torch, builds the model,
# counts params and GMACs, runs the memory pass). About 4-8 s on the 2-core development machine
# for small models; the figure is a rule of thumb, earlier runs of the same cells replace it.
CELL_OVERHEAD_S = 6.0
EXPORT_S = 5.0  # one ONNX export of a small/medium model
COMPILE_S = 30.0  # torch.compile's first call (inductor)


@dataclass
class CellEstimate:
    cell: Cell
    seconds: float | None
    basis: str  # "earlier run" | "rule of thumb" | "not estimated"


def _row_seconds(row: dict) -> float | None:
    try:
        return max(0.0, (datetime.fromisoformat(row["finished_at"]) - datetime.fromisoformat(row["started_at"])).total_seconds())
    except (KeyError, TypeError, ValueError):
        d = row.get("duration_s")
        return float(d) if isinstance(d, (int, float)) else None


def _record_seconds(rec: dict) -> float | None:
    """Wall time a cell took: the sum of its rounds (rounds of different cells interleave, so the
    combined row's start-to-finish would count other cells' work)."""
    rounds = rec.get("rounds")
    if rounds:
        parts = [_row_seconds(r.get("row") or {}) for r in rounds]
        return sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
    return _row_seconds(rec.get("row") or {})


def earlier_durations(results_root: Path, suite_name: str) -> dict[str, float]:
    """{cell key: seconds} from earlier runs of this suite, the newest run's figure winning."""
    from bench.results import list_runs

    out: dict[str, float] = {}
    for run_dir in reversed(list_runs(results_root)):  # oldest first, so newer overwrite
        try:
            meta = json.loads((run_dir / "run.json").read_text())
        except (OSError, ValueError):
            continue
        if (meta.get("suite") or {}).get("name") != suite_name:
            continue
        for p in (run_dir / "cells").glob("*.json"):
            try:
                rec = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            secs = _record_seconds(rec)
            if secs is not None and rec.get("cell", {}).get("key"):
                out[rec["cell"]["key"]] = secs
    return out


def estimate(cells: list[Cell], results_root: Path, suite_name: str) -> list[CellEstimate]:
    known = earlier_durations(Path(results_root), suite_name) if Path(results_root).is_dir() else {}
    exported: set[tuple] = set()
    out = []
    for c in cells:
        if c.key in known:
            out.append(CellEstimate(c, known[c.key], "earlier run"))
            continue
        if c.task == "accuracy":
            src = c.options.get("source")
            out.append(CellEstimate(c, 0.0, "rule of thumb") if src == "reported" else CellEstimate(c, None, "not estimated"))
            continue
        secs = CELL_OVERHEAD_S
        if "latency" in c.metrics:
            # Each timing round is a fresh worker process (timing.rounds): overhead and budget per round.
            secs = int(c.timing.get("rounds", 1) or 1) * (CELL_OVERHEAD_S + float(c.timing.get("max_time_s", 5.0)))
        if c.runtime in DEPLOYED_RUNTIMES:
            shape = (c.model, c.img_size, c.batch_size, tuple(sorted(c.model_kwargs.items())))
            if shape not in exported:
                exported.add(shape)
                secs += EXPORT_S
        if c.runtime == "compile":
            secs += COMPILE_S
        out.append(CellEstimate(c, secs, "rule of thumb"))
    return out


def format_plan(estimates: list[CellEstimate]) -> str:
    head = ["#", "task", "model", "device", "precision", "runtime", "batch", "img", "threads", "est. s", "basis"]
    lines = ["\t".join(head)]
    for i, e in enumerate(estimates, 1):
        c = e.cell
        lines.append(
            "\t".join(
                str(v)
                for v in (
                    i,
                    c.task if c.task == "speed" else f"{c.task}:{c.options.get('variant', '')}",
                    c.model,
                    c.device,
                    c.precision,
                    c.runtime,
                    c.batch_size,
                    c.img_size,
                    c.threads or "all",
                    "?" if e.seconds is None else f"{e.seconds:.0f}",
                    e.basis,
                )
            )
        )
    known = [e.seconds for e in estimates if e.seconds is not None]
    unknown = sum(e.seconds is None for e in estimates)
    total = sum(known)
    earlier = sum(e.basis == "earlier run" for e in estimates)
    summary = f"{len(estimates)} cells; estimated {_duration(total)}"
    summary += f" ({earlier} from an earlier run of the same cells, {len(known) - earlier} by rule of thumb"
    summary += f", {unknown} not estimated: scratch training)" if unknown else ")"
    return "\n".join(lines) + "\n" + summary


def _duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"
