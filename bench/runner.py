"""Runner: expands a suite, sends each cell to an executor, stores each record as it lands.

The run folder is valid after every cell: an interrupted run keeps every finished cell, and
``run_suite(..., resume=RUN_DIR)`` measures only the cells that have no record yet.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import results
from bench.errors import UserError
from bench.executor import Executor, LocalProcessExecutor
from bench.suite import Cell, Suite, expand, suite_hash


@dataclass
class RunSummary:
    run_dir: Path
    run_id: str
    counts: dict[str, int] = field(default_factory=dict)
    measured: int = 0
    reused: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_id(suite_name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in suite_name)[:40] or "suite"
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{safe}-{secrets.token_hex(2)}"


def all_cells(suite: Suite) -> list[Cell]:
    cells = expand(suite)
    if suite.accuracy:
        from bench.accuracy import expand_accuracy

        cells += expand_accuracy(suite)
    keys = [c.key for c in cells]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise UserError(f"suite {suite.name!r}: two entries produce the same cell {dupes[0]!r}; give one an alias")
    return cells


def _ensure_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise UserError(f"{folder}: output folder cannot be written ({err.strerror or err})") from None


def _conventions() -> dict[str, Any]:
    from bench.metrics.hardware import HARDWARE_RULE
    from bench.metrics.timing import TIMING_RULE
    from bench.runtimes import PARITY_RULE

    from bench.executor import MALLOC_RULE

    conv: dict[str, Any] = {"timing_rule": TIMING_RULE, "hardware_rule": HARDWARE_RULE, "parity_rule": PARITY_RULE,
                            "malloc_rule": MALLOC_RULE}
    try:
        from bench.metrics.flops import FLOP_CONVENTION

        conv["flop_convention"] = FLOP_CONVENTION
    except ImportError:
        pass
    return conv


def sweep_group(cell: Cell) -> tuple:
    """Cells that differ only in batch size: a batch sweep stops at the first out-of-memory."""
    return (cell.model, cell.device, cell.precision, cell.runtime, cell.img_size, cell.threads, cell.task)


def _oom_blocker(cell: Cell, oom_at: dict[tuple, int]) -> str | None:
    group = sweep_group(cell)
    failed = oom_at.get(group)
    if failed is not None and cell.batch_size > failed:
        return f"not run: batch {failed} already ran out of memory for this model (sweep stopped)"
    return None


def run_suite(
    suite: Suite,
    results_root: Path,
    suite_path: str | None = None,
    resume: Path | None = None,
    executor: Executor | None = None,
    progress: bool = True,
) -> RunSummary:
    from bench.env import capture_environment, load_as_dict, measure_load
    from bench.metrics.hardware import efficiency_columns, measure_ceilings

    cells = all_cells(suite)
    executor = executor or LocalProcessExecutor()
    if resume is not None:
        run_dir = Path(resume)
        meta = results.read_run_meta(run_dir)
        if meta.get("suite", {}).get("name") != suite.name:
            raise UserError(
                f"{run_dir}: was a run of suite {meta.get('suite', {}).get('name')!r}, not {suite.name!r}; cannot resume it with this suite"
            )
        _ensure_writable(run_dir)
        run_id = meta["run_id"]
    else:
        run_id = new_run_id(suite.name)
        _ensure_writable(Path(results_root))
        run_dir = Path(results_root) / run_id
        _ensure_writable(run_dir)
        meta = {}

    load = measure_load()
    meta.update(
        schema_version=results.SCHEMA_VERSION,
        run_id=run_id,
        status="running",
        started_at=meta.get("started_at") or _now(),
        suite={"name": suite.name, "description": suite.description, "path": suite_path, "hash": suite_hash(suite),
               "content": suite.model_dump(mode="json")},
        environment=capture_environment(),
        load=load_as_dict(load),
        conventions=_conventions(),
        cells_total=len(cells),
    )
    # A resumed run may finish on other machines: keep every node any of its cells ran on.
    meta["executor"] = executor.describe()
    nodes = {n["node_id"]: n for n in meta.get("nodes", []) + meta["executor"].pop("nodes", [])}
    if nodes:
        meta["nodes"] = list(nodes.values())
    if resume is not None:
        meta.setdefault("resumed_at", []).append(_now())
    results.write_json_atomic(run_dir / "run.json", meta)
    if load.warning:
        print(f"warning: {load.warning}", file=sys.stderr)
    if not meta.get("hardware"):  # a resumed run keeps the ceiling its first cells were scored against
        meta["hardware"] = measure_ceilings(cells, suite.timing.ceiling_s) if suite.timing.ceiling_s > 0 else []
        results.write_json_atomic(run_dir / "run.json", meta)

    done = {rec["cell"]["key"]: rec for rec in results.read_cell_records(run_dir)}
    pending = [c for c in cells if c.key not in done]
    summary = RunSummary(run_dir, run_id, reused=len(cells) - len(pending))
    oom_at: dict[tuple, int] = {}
    for rec in done.values():
        if rec["row"].get("status") == "oom":
            c = rec["cell"]
            oom_at[(c["model"], c["device"], c["precision"], c["runtime"], c["img_size"], c["threads"], c["task"])] = c["batch_size"]

    bar = _Progress(len(cells), summary.reused, enabled=progress)
    interrupted = False
    try:
        for cell, outcome in executor.run_all(pending, lambda c: run_dir / "logs" / f"{c.slug}.log",
                                              lambda c: _oom_blocker(c, oom_at), bar.start):
            row, samples = outcome.row, outcome.samples_ms
            row.update(efficiency_columns(row, cell.device, cell.precision, cell.threads, meta.get("hardware") or []))
            row["finished_at"] = _now()
            if row.get("status") == "oom":
                group = sweep_group(cell)
                oom_at[group] = min(cell.batch_size, oom_at.get(group, cell.batch_size))
            results.write_cell_record(run_dir, cell.slug, {"cell": cell.to_dict(), "row": row, "samples_ms": samples})
            results.consolidate(run_dir)
            summary.measured += 1
            bar.advance(cell, row.get("status", "?"))
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        bar.stop()
        df = results.consolidate(run_dir)
        counts = df["status"].value_counts().to_dict() if len(df) else {}
        summary.counts = {str(k): int(v) for k, v in counts.items()}
        meta.update(
            status="interrupted" if interrupted else "complete",
            finished_at=_now(),
            status_counts=summary.counts,
            cells_done=int(len(df)),
        )
        results.write_json_atomic(run_dir / "run.json", meta)
    return summary


class _Progress:
    """Rich progress bar: cells done / total, current model, elapsed and time left."""

    def __init__(self, total: int, already: int, enabled: bool):
        self.enabled = enabled
        self.t0 = time.time()
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.p = Progress(
            TextColumn("[bold]cells"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("left"), TimeRemainingColumn(), TextColumn("{task.description}"),
        )
        self.task = self.p.add_task("", total=total, completed=already)
        self.p.start()

    def start(self, cell: Cell) -> None:
        if self.enabled:
            self.p.update(self.task, description=f"{cell.model} b{cell.batch_size} {cell.device}/{cell.precision}/{cell.runtime}")

    def advance(self, cell: Cell, status: str) -> None:
        if self.enabled:
            if status != "ok":
                self.p.console.print(f"  {cell.model} b{cell.batch_size}: {status}")
            self.p.advance(self.task)

    def stop(self) -> None:
        if self.enabled:
            self.p.stop()
