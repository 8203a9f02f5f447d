"""Runner: expands a suite, sends each cell to an executor, stores each record as it lands.

The run folder is valid after every cell: an interrupted run keeps every finished cell, and
``run_suite(..., resume=RUN_DIR)`` measures only the cells (and rounds) that have no record yet.

Each cell is timed in ``timing.rounds`` worker processes (bench.rounds): all cells' round 1,
then all cells' round 2, …, each round in its own shuffled order (seed in run.json), so a
phase of load on the machine lands on one round of many cells, not on every round of one.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
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
from bench.rounds import MEASURED, combine_rounds, round_order
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
    if meta.get("schema_version") != results.SCHEMA_VERSION:
        raise UserError(
            f"{run_dir}: written with results schema {meta.get('schema_version')}, this archbench writes "
            f"{results.SCHEMA_VERSION}; start a new run instead of resuming it"
        )
    if old.get("name") != suite.name:
        raise UserError(
            f"{run_dir}: was a run of suite {old.get('name')!r}, not {suite.name!r}; cannot resume it with this suite"
        )
    if old.get("hash") and old["hash"] != suite_hash(suite):
        raise UserError(
            f"{run_dir}: suite {suite.name!r} has changed since this run started (hash {old['hash']} → "
            f"{suite_hash(suite)}); resuming would mix cells of two suites. Resume with the suite as it was "
            f"(run.json keeps it under suite.content) or start a new run"
        )


def _warn_threads(cells: list[Cell]) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    over = sorted({c.threads for c in cells if c.threads and c.threads > cores})
    if over:
        print(
            f"warning: threads {over} exceed the {cores} cores this process may use; those cells oversubscribe "
            "the CPU and measure contention, not the model",
            file=sys.stderr,
        )


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
    from bench.executor import MALLOC_RULE
    from bench.load import LOAD_RULE
    from bench.metrics.hardware import HARDWARE_RULE
    from bench.metrics.timing import TIMING_RULE
    from bench.rounds import ROUNDS_RULE
    from bench.runtimes import PARITY_RULE

    conv: dict[str, Any] = {
        "timing_rule": TIMING_RULE,
        "hardware_rule": HARDWARE_RULE,
        "parity_rule": PARITY_RULE,
        "malloc_rule": MALLOC_RULE,
        "rounds_rule": ROUNDS_RULE,
        "load_rule": LOAD_RULE,
    }
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
    """Measure every cell of ``suite`` into a new run folder under ``results_root``, or the
    cells (and rounds) that the run in ``resume`` has no record of yet."""
    cells = all_cells(suite)
    _warn_threads(cells)
    executor = executor or LocalProcessExecutor()
    # Everything is validated before the first byte is written (resume included).
    if resume is not None:
        run_dir, run_id, meta, lock = _reopen_run(Path(resume), suite)
    else:
        run_dir, run_id, meta, lock = _open_new_run(Path(results_root), suite)
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


def _open_new_run(results_root: Path, suite: Suite) -> tuple[Path, str, dict[str, Any], RunLock]:
    ensure_writable(results_root)
    run_dir, run_id = _create_run_dir(results_root, suite.name)
    return run_dir, run_id, {}, RunLock.acquire(run_dir)


def _reopen_run(run_dir: Path, suite: Suite) -> tuple[Path, str, dict[str, Any], RunLock]:
    """The run to resume, locked, with its run.json (checked to be a run of this very suite)."""
    meta = results.read_run_meta(run_dir)
    _check_resumable(run_dir, meta, suite)
    lock = RunLock.acquire(run_dir)
    try:  # read again under the lock: a driver that just finished may have rewritten it
        meta = results.read_run_meta(run_dir)
        _check_resumable(run_dir, meta, suite)
        run_id = meta["run_id"]
    except BaseException:
        lock.release()
        raise
    meta.pop("status_note", None)
    return run_dir, run_id, meta, lock


def _run_locked(
    suite: Suite,
    cells: list[Cell],
    run_dir: Path,
    run_id: str,
    meta: dict[str, Any],
    suite_path: str | None,
    resumed: bool,
    executor: Executor,
    progress: bool,
) -> RunSummary:
    from bench.env import measure_load

    load = measure_load()
    _describe_run(meta, suite, cells, run_id, suite_path, executor, resumed, load)
    summary = RunSummary(run_dir, run_id)
    state: _Rounds | None = None
    ended = "complete"
    error: str | None = None
    # From the first "running" on, whatever happens ends in the finally block below.
    try:
        results.write_json_atomic(run_dir / "run.json", meta)
        if load.warning:
            print(f"warning: {load.warning}", file=sys.stderr)
        rounds, seed = _settle_ceilings_and_rounds(run_dir, meta, suite, cells)
        state = _Rounds(run_dir, meta, cells, rounds, seed, summary, progress)
        for r in range(rounds):
            state.run_round(r, executor)
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM/SIGHUP (bench.cli turns them into this)
        ended = "interrupted"
        raise
    except BaseException as err:
        ended, error = "failed", f"{type(err).__name__}: {err}"[:2000]
        raise
    finally:
        try:
            executor.close()
        except Exception:  # closing must never hide how the run ended
            pass
        shutil.rmtree(run_dir / EXPORT_CACHE, ignore_errors=True)  # exported graphs are scratch, not results
        _finalise(run_dir, meta, summary, ended, error)
        if state is not None:
            state.bar.stop()
    return summary


def _describe_run(
    meta: dict[str, Any],
    suite: Suite,
    cells: list[Cell],
    run_id: str,
    suite_path: str | None,
    executor: Executor,
    resumed: bool,
    load: Any,
) -> None:
    """run.json's account of the run as it starts: suite, environment, load, conventions, executor."""
    from bench.env import capture_environment, load_as_dict

    meta.update(
        schema_version=results.SCHEMA_VERSION,
        run_id=run_id,
        status="running",
        started_at=meta.get("started_at") or _now(),
        suite={
            "name": suite.name,
            "description": suite.description,
            "path": suite_path,
            "hash": suite_hash(suite),
            "content": suite.model_dump(mode="json"),
        },
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


def _settle_ceilings_and_rounds(run_dir: Path, meta: dict[str, Any], suite: Suite, cells: list[Cell]) -> tuple[int, int]:
    """The hardware ceilings rows are scored against, and the rounds' count and order seed;
    a resumed run keeps those its first cells had."""
    from bench.metrics.hardware import measure_ceilings

    if not meta.get("hardware"):
        meta["hardware"] = measure_ceilings(cells, suite.timing.ceiling_s) if suite.timing.ceiling_s > 0 else []
        results.write_json_atomic(run_dir / "run.json", meta)
    rounds = suite.timing.rounds
    seed = (meta.get("rounds") or {}).get("seed")
    if seed is None:
        seed = suite.timing.rounds_seed if suite.timing.rounds_seed is not None else secrets.randbelow(2**31)
    meta["rounds"] = {"count": rounds, "seed": seed}
    results.write_json_atomic(run_dir / "run.json", meta)
    return rounds, seed


class _Rounds:
    """A run's cells in rounds: each cell's stored record, the batch sweeps an out-of-memory
    stopped, and what happens to each row as it lands (record, tables, progress)."""

    def __init__(
        self, run_dir: Path, meta: dict[str, Any], cells: list[Cell], rounds: int, seed: int, summary: RunSummary, progress: bool
    ):
        self.run_dir, self.meta, self.cells, self.rounds, self.seed, self.summary = run_dir, meta, cells, rounds, seed, summary
        problems: list[str] = []
        self.done = {rec["cell"]["key"]: rec for rec in results.read_cell_records(run_dir, problems)}
        for line in problems:
            print(f"warning: {line}", file=sys.stderr)
        summary.reused = sum(1 for c in cells if _complete(self.done.get(c.key), c, rounds))
        self.oom_at: dict[tuple, int] = {}
        for rec in self.done.values():
            if rec["row"].get("status") == "oom":
                c = rec["cell"]
                self.oom_at[
                    (
                        c.get("model"),
                        c.get("device"),
                        c.get("precision"),
                        c.get("runtime"),
                        c.get("img_size"),
                        c.get("threads"),
                        c.get("task"),
                    )
                ] = c.get("batch_size")
        self.last_tables = 0.0
        measured = [c for c in cells if not is_lookup(c)]  # table lookups are not work to show
        self.bar = _Progress(
            sum(_planned_rounds(c, rounds) for c in measured),
            sum(len(_rounds_of(self.done.get(c.key))) for c in measured),
            enabled=progress,
        )

    def todo(self, r: int) -> list[Cell]:
        """Round ``r``'s cells in its shuffled order: those planned for it and not yet recorded."""
        out: list[Cell] = []
        for cell in round_order(self.cells, r, self.seed):
            rec = self.done.get(cell.key)
            if r in _rounds_of(rec) or r >= _planned_rounds(cell, self.rounds):
                continue
            if r > 0 and (rec is None or rec["row"].get("status") not in MEASURED):
                self.bar.skip()  # a cell that failed or was skipped in round 0 is not timed again
                continue
            out.append(cell)
        return out

    def run_round(self, r: int, executor: Executor) -> None:
        todo = self.todo(r)
        for cell in todo:
            if is_lookup(cell):
                self.record(cell, lookup_row(cell), [], r)
        # The executor yields cells as they finish: in order here, in completion order on a cluster.
        by_key = {c.key: c for c in todo if not is_lookup(c)}
        jobs = [
            dataclasses.replace(c, options={**c.options, "round": r, **export_cache_option(c, self.run_dir)})
            for c in by_key.values()
        ]

        def log_path(c: Cell) -> Path:
            return self.run_dir / "logs" / (f"{c.slug}.log" if r == 0 else f"{c.slug}.r{r + 1}.log")

        def blocker(c: Cell) -> str | None:
            return _oom_blocker(c, self.oom_at) if r == 0 else None

        def on_start(c: Cell) -> None:
            self.bar.start(c, r, self.rounds)

        for job, outcome in executor.run_all(jobs, log_path, blocker, on_start):
            self.record(by_key[job.key], outcome.row, outcome.samples_ms, r)

    def record(self, cell: Cell, row: dict[str, Any], samples: list[float], r: int) -> None:
        """Store round ``r`` of ``cell`` and the rounds combined (the record is the source of truth)."""
        from bench.metrics.hardware import efficiency_columns

        rec = self.done.get(cell.key)
        row.setdefault("started_at", _now())
        row["finished_at"] = _now()
        planned = _planned_rounds(cell, self.rounds)
        per_round = [x for x in (rec or {}).get("rounds", []) if x["round"] != r]
        per_round.append({"round": r, "row": row, "samples_ms": samples})
        combined = combine_rounds(per_round, cell.batch_size, planned, cell.timing.get("percentiles") or (50.0, 90.0))
        combined.update(efficiency_columns(combined, cell.device, cell.precision, cell.threads, self.meta.get("hardware") or []))
        if combined.get("status") == "oom":
            group = sweep_group(cell)
            self.oom_at[group] = min(cell.batch_size, self.oom_at.get(group, cell.batch_size))
        rec = {"cell": cell.to_dict(), "row": combined, "rounds": sorted(per_round, key=lambda x: x["round"])}
        self.done[cell.key] = rec
        results.write_cell_record(self.run_dir, cell.slug, rec)  # the source of truth, after every round
        if time.time() - self.last_tables > 10:  # the derived tables: rebuilt every 10 s and at the end
            results.consolidate(self.run_dir)
            self.last_tables = time.time()
        if r == planned - 1 or row.get("status") not in MEASURED:
            self.summary.measured += 1
        if not is_lookup(cell):
            self.bar.advance(cell, row.get("status", "?"), combined)


EXPORT_CACHE = "onnx-cache"


def export_cache_option(cell: Cell, run_dir: Path) -> dict[str, str]:
    """Deployed-runtime cells share one ONNX export per model, input shape and exporter within a
    run (bench.runtimes.export), so thread settings and rounds of the same model do not export again."""
    from bench.runtimes import DEPLOYED_RUNTIMES

    return {"export_cache": str(run_dir / EXPORT_CACHE)} if cell.runtime in DEPLOYED_RUNTIMES else {}


def is_lookup(cell: Cell) -> bool:
    """A reported-accuracy cell reads a published figure: no model runs, so no worker and no progress."""
    return cell.task == "accuracy" and cell.options.get("source") == "reported"


def lookup_row(cell: Cell) -> dict[str, Any]:
    """The published accuracy, looked up in this process; a lookup has no batch or threads."""
    from bench.accuracy import run_accuracy_cell

    t0 = time.time()
    try:
        row = run_accuracy_cell(cell, progress=False)
    except Exception as err:  # one cell's fault is its status, never the run's
        row = {"status": "failed", "error": f"{type(err).__name__}: {err}"[:2000]}
    row.update(batch_size=None, threads=None, duration_s=round(time.time() - t0, 3))
    return row


def _planned_rounds(cell: Cell, rounds: int) -> int:
    """Only timed speed cells get more than one round; accuracy and size-only cells run once."""
    return rounds if cell.task == "speed" and "latency" in cell.metrics else 1


def _rounds_of(rec: dict[str, Any] | None) -> set[int]:
    if rec is None:
        return set()
    if "rounds" not in rec:
        return {0}  # a record written before rounds existed: one complete round
    return {int(x["round"]) for x in rec["rounds"]}


def _complete(rec: dict[str, Any] | None, cell: Cell, rounds: int) -> bool:
    if rec is None:
        return False
    if rec["row"].get("status") not in MEASURED or "rounds" not in rec:
        return True
    return len(_rounds_of(rec)) >= _planned_rounds(cell, rounds)


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


def cell_label(cell: Cell) -> str:
    """How progress lines name a cell: every axis that varies in a suite, threads included."""
    threads = f"t{cell.threads}" if cell.threads else "t-all"
    label = f"{cell.model} b{cell.batch_size} {cell.img_size}px {cell.device}/{cell.precision}/{cell.runtime} {threads}"
    if cell.task != "speed":
        label += f" {cell.task} {cell.options.get('variant', '')}".rstrip()
    return label


class _Progress:
    """Progress: on a terminal a Rich bar (cells done / total, current cell, elapsed, time
    left); otherwise (CI logs, pipes) one plain line per finished cell, flushed at once."""

    def __init__(self, total: int, already: int, enabled: bool):
        self.enabled = enabled
        self.t0 = time.time()
        self.total, self.done = total, already
        self.plain = enabled and not sys.stdout.isatty()
        self.cell_t0 = self.t0
        if not enabled or self.plain:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.p = Progress(
            TextColumn("[bold]cell rounds"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            TextColumn("{task.description}"),
        )
        self.task = self.p.add_task("", total=total, completed=already)
        self.p.start()

    # Model names and statuses are data (a suite alias may be `cnn [/]`): escaped, never read as markup.
    def start(self, cell: Cell, round_no: int = 0, rounds: int = 1) -> None:
        self.cell_t0 = time.time()
        self.where = f" round {round_no + 1}/{rounds}" if rounds > 1 else ""
        if self.enabled and not self.plain:
            from rich.markup import escape

            self.p.update(self.task, description=escape(cell_label(cell) + self.where))

    def skip(self) -> None:
        """A planned round that will not run (its cell failed in round 1)."""
        self.done += 1
        if self.enabled and not self.plain:
            self.p.advance(self.task)

    def advance(self, cell: Cell, status: str, row: dict[str, Any] | None = None) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.plain:
            p50 = (row or {}).get("latency_ms_p50")
            top1 = (row or {}).get("top1")
            what = f" p50 {p50:.3g} ms" if isinstance(p50, (int, float)) else ""
            what += f" top-1 {top1:.3g}%" if isinstance(top1, (int, float)) else ""
            print(
                f"[{self.done}/{self.total}] {cell_label(cell)}{getattr(self, 'where', '')}: {status}{what} "
                f"({time.time() - self.cell_t0:.1f} s)",
                flush=True,
            )
            return
        if status != "ok":
            from rich.markup import escape

            self.p.console.print(escape(f"  {cell_label(cell)}: {status}"))
        self.p.advance(self.task)

    def stop(self) -> None:
        if self.enabled and not self.plain:
            try:
                self.p.stop()
            except Exception:  # the display must never hide how the run ended
                pass
