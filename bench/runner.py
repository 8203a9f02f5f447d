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
from bench.names import safe_filename
from bench.runlock import Guardian, RunLock
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
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{safe_filename(suite_name, 40, 'suite')}-{secrets.token_hex(2)}"


def _create_run_dir(results_root: Path, suite_name: str) -> tuple[Path, str]:
    """A new run folder, created exclusively: a colliding id is drawn again, never adopted."""
    for _ in range(100):
        run_id = new_run_id(suite_name)
        run_dir = Path(results_root) / run_id
        try:
            run_dir.mkdir()
        except FileExistsError:
            continue
        except OSError as err:
            raise UserError(f"{results_root}: output folder cannot be written ({err.strerror or err})") from None
        return run_dir, run_id
    raise UserError(f"{results_root}: could not create a new run folder (100 names taken)")


def _check_resumable(run_dir: Path, meta: dict[str, Any], suite: Suite) -> None:
    """Before anything is written: the folder must be a run of this very suite."""
    old = meta.get("suite") or {}
    if old.get("name") != suite.name:
        raise UserError(f"{run_dir}: was a run of suite {old.get('name')!r}, not {suite.name!r}; cannot resume it with this suite")
    if old.get("hash") and old["hash"] != suite_hash(suite):
        raise UserError(f"{run_dir}: suite {suite.name!r} has changed since this run started (hash {old['hash']} → "
                        f"{suite_hash(suite)}); resuming would mix cells of two suites. Resume with the suite as it was "
                        f"(run.json keeps it under suite.content) or start a new run")


def _warn_threads(cells: list[Cell]) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    over = sorted({c.threads for c in cells if c.threads and c.threads > cores})
    if over:
        print(f"warning: threads {over} exceed the {cores} cores this process may use; those cells oversubscribe "
              "the CPU and measure contention, not the model", file=sys.stderr)


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


def ensure_writable(folder: Path) -> None:
    """Create ``folder`` if needed and prove a file can be written there (a UserError if not)."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
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
    cells = all_cells(suite)
    _warn_threads(cells)
    executor = executor or LocalProcessExecutor()
    # Everything is validated before the first byte is written (resume included).
    if resume is not None:
        run_dir = Path(resume)
        meta = results.read_run_meta(run_dir)
        _check_resumable(run_dir, meta, suite)
        lock = RunLock.acquire(run_dir)
        run_id = meta["run_id"]
        meta.pop("status_note", None)
    else:
        ensure_writable(Path(results_root))
        run_dir, run_id = _create_run_dir(Path(results_root), suite.name)
        lock = RunLock.acquire(run_dir)
        meta = {}
    try:
        guardian = Guardian(run_dir)
    except BaseException:
        lock.release()
        raise
    try:
        return _run_locked(suite, cells, run_dir, run_id, meta, suite_path, resume is not None, executor, progress)
    finally:
        lock.release()
        guardian.close()


def _run_locked(suite: Suite, cells: list[Cell], run_dir: Path, run_id: str, meta: dict[str, Any],
                suite_path: str | None, resumed: bool, executor: Executor, progress: bool) -> RunSummary:
    from bench.env import capture_environment, load_as_dict, measure_load
    from bench.metrics.hardware import efficiency_columns, measure_ceilings

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
    if resumed:
        meta.setdefault("resumed_at", []).append(_now())
    summary = RunSummary(run_dir, run_id)
    bar: _Progress | None = None
    ended = "complete"
    error: str | None = None
    # From the first "running" on, whatever happens ends in the finally block below.
    try:
        results.write_json_atomic(run_dir / "run.json", meta)
        if load.warning:
            print(f"warning: {load.warning}", file=sys.stderr)
        if not meta.get("hardware"):  # a resumed run keeps the ceiling its first cells were scored against
            meta["hardware"] = measure_ceilings(cells, suite.timing.ceiling_s) if suite.timing.ceiling_s > 0 else []
            results.write_json_atomic(run_dir / "run.json", meta)

        problems: list[str] = []
        done = {rec["cell"]["key"]: rec for rec in results.read_cell_records(run_dir, problems)}
        for line in problems:
            print(f"warning: {line}", file=sys.stderr)
        pending = [c for c in cells if c.key not in done]
        summary.reused = len(cells) - len(pending)
        oom_at: dict[tuple, int] = {}
        for rec in done.values():
            if rec["row"].get("status") == "oom":
                c = rec["cell"]
                oom_at[(c.get("model"), c.get("device"), c.get("precision"), c.get("runtime"), c.get("img_size"),
                        c.get("threads"), c.get("task"))] = c.get("batch_size")

        bar = _Progress(len(cells), summary.reused, enabled=progress)
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
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM/SIGHUP (bench.cli turns them into this)
        ended = "interrupted"
        raise
    except BaseException as err:
        ended, error = "failed", f"{type(err).__name__}: {err}"[:2000]
        raise
    finally:
        _finalise(run_dir, meta, summary, ended, error)
        if bar is not None:
            bar.stop()
    return summary


def _finalise(run_dir: Path, meta: dict[str, Any], summary: RunSummary, ended: str, error: str | None) -> None:
    """Write run.json's final status; runs while an exception may be on its way out, so it must not raise."""
    try:
        df = results.consolidate(run_dir)
        counts = df["status"].value_counts().to_dict() if len(df) else {}
        done = int(len(df))
    except Exception:  # e.g. a full disk: count the records instead of rewriting the tables
        recs = results.read_cell_records(run_dir)
        counts = {}
        for rec in recs:
            st = rec["row"].get("status", "?")
            counts[st] = counts.get(st, 0) + 1
        done = len(recs)
    summary.counts = {str(k): int(v) for k, v in counts.items()}
    meta.update(status=ended, finished_at=_now(), status_counts=summary.counts, cells_done=done)
    if error:
        meta["error"] = error
    else:
        meta.pop("error", None)
    from bench.atomic import json_bytes, rewrite_in_place

    data = json_bytes(meta)
    try:
        results.write_bytes_atomic(run_dir / "run.json", data)
    except OSError:
        try:
            rewrite_in_place(run_dir / "run.json", data)
        except OSError:
            pass  # the guardian will mark it interrupted


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

    # Model names and statuses are data (a suite alias may be `cnn [/]`): escaped, never read as markup.
    def start(self, cell: Cell) -> None:
        if self.enabled:
            from rich.markup import escape

            self.p.update(self.task, description=escape(f"{cell.model} b{cell.batch_size} {cell.device}/{cell.precision}/{cell.runtime}"))

    def advance(self, cell: Cell, status: str) -> None:
        if self.enabled:
            if status != "ok":
                from rich.markup import escape

                self.p.console.print(escape(f"  {cell.model} b{cell.batch_size}: {status}"))
            self.p.advance(self.task)

    def stop(self) -> None:
        if self.enabled:
            try:
                self.p.stop()
            except Exception:  # the display must never hide how the run ended
                pass
