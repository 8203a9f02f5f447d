"""Executors turn a cell into a finished record. The runner only talks to this interface,
so running cells on other machines later means a new Executor, not a new runner.

:class:`LocalProcessExecutor` starts one fresh worker process per cell (``python -m
bench.worker``) and enforces the cell's timeout. Cells run one at a time: two timed
workers sharing cores would measure each other.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from bench.suite import Cell


# glibc returns large freed blocks to the kernel (mmap threshold, trim threshold), so a model
# whose activations are freed and re-allocated every call pays page faults on each call, and
# how many depends on the process's heap history: MobileNetV3-L at batch 1 on one thread
# measured 13.2-14.8 ms across fresh processes with glibc's defaults, 10.1-10.2 ms with these.
# Fixed thresholds keep freed memory in the heap, as serving allocators (jemalloc, tcmalloc) do.
STEADY_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
MALLOC_RULE = (
    "steady (default): workers run with MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ = 1 GiB, so "
    "freed tensors stay in the heap instead of being unmapped and faulted in again on the next call; "
    "suite `malloc: system` keeps glibc's defaults; each row records its setting in `malloc`"
)


@dataclass
class CellOutcome:
    row: dict[str, Any]
    samples_ms: list[float] = field(default_factory=list)


def _now_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Executor(ABC):
    @abstractmethod
    def run(self, cell: Cell, log_path: Path) -> CellOutcome:
        """Measure one cell; faults of the cell become its status, never an exception."""

    def run_all(self, cells: Iterable[Cell], log_path: Callable[[Cell], Path],
                blocker: Callable[[Cell], str | None] = lambda c: None,
                on_start: Callable[[Cell], None] = lambda c: None) -> Iterator[tuple[Cell, CellOutcome]]:
        """Yield ``(cell, outcome)`` as cells finish. ``blocker(cell)`` is asked right before a
        cell would start (a reason makes it ``skipped``), so it sees every earlier result.
        This default runs them one at a time, in order; executors that run cells concurrently
        (bench.executor_ray) override it and yield in completion order."""
        for cell in cells:
            on_start(cell)
            started = _now_iso()
            reason = blocker(cell)
            outcome = CellOutcome({"status": "skipped", "error": reason}) if reason else self.run(cell, log_path(cell))
            outcome.row.setdefault("started_at", started)
            yield cell, outcome

    def describe(self) -> dict[str, Any]:
        """What run.json records under ``executor`` (for a cluster: its nodes)."""
        return {"kind": "local"}

    def close(self) -> None:
        """Release what the executor holds (a cluster it started)."""


def _tail(path: Path, n: int = 1500) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-n:].strip()


TMP_PREFIX = "archbench-cell-"
# The worker reads this fd; EOF means its driver is gone (bench.worker then removes its temp
# folder and kills its own process group).
PARENT_FD_ENV = "ARCHBENCH_PARENT_FD"


def worker_env(cell: Cell, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a cell's worker runs with."""
    env = {**(os.environ if base is None else base), "PYTHONUNBUFFERED": "1"}
    if not cell.options.get("download"):
        # A missing weight must fail at once, never wait on a network; `download: true` may fetch.
        env["HF_HUB_OFFLINE"] = "1"
    if cell.options.get("malloc", "steady") == "steady":
        for var, value in STEADY_MALLOC_ENV.items():
            env.setdefault(var, value)  # a user's own setting wins
    if cell.threads:
        # Set before torch loads so OpenMP/MKL pools are sized right from the start.
        env["OMP_NUM_THREADS"] = str(cell.threads)
        env["MKL_NUM_THREADS"] = str(cell.threads)
    return env


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_dirs(tmp_root: str | None = None) -> list[Path]:
    """Temp folders of drivers that no longer exist (named archbench-cell-<pid>-…): removed."""
    removed = []
    root = Path(tmp_root or tempfile.gettempdir())
    try:
        entries = list(root.glob(f"{TMP_PREFIX}*"))
    except OSError:
        return removed
    for d in entries:
        m = re.match(rf"{TMP_PREFIX}(\d+)-", d.name)
        if m and d.is_dir() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


_MEMORY_HINTS = ("memoryerror", "cannot allocate memory", "out of memory", "bad_alloc", "can't allocate")


class LocalProcessExecutor(Executor):
    def __init__(self, python: str | None = None, extra_env: dict[str, str] | None = None):
        self.python = python or sys.executable
        self.extra_env = extra_env or {}
        self._proc: subprocess.Popen | None = None
        remove_stale_temp_dirs()

    def run(self, cell: Cell, log_path: Path) -> CellOutcome:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{TMP_PREFIX}{os.getpid()}-") as tmp:
            job = Path(tmp) / "job.json"
            out = Path(tmp) / "out.json"
            job.write_text(json.dumps({"cell": cell.to_dict()}))
            watch_r, watch_w = os.pipe()  # non-inheritable; only the read end is passed on
            env = {**worker_env(cell), **self.extra_env, PARENT_FD_ENV: str(watch_r)}
            started = time.time()
            with open(log_path, "wb") as log:
                try:
                    self._proc = subprocess.Popen(
                        [self.python, "-m", "bench.worker", str(job), str(out)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        pass_fds=(watch_r,),
                        start_new_session=True,  # so a timeout can kill the worker's whole group
                    )
                finally:
                    os.close(watch_r)
                try:
                    rc = self._proc.wait(timeout=cell.timeout_s)
                except subprocess.TimeoutExpired:
                    self._kill()
                    return CellOutcome(
                        {"status": "timeout", "error": f"cell exceeded its timeout of {cell.timeout_s:g} s and was killed",
                         "duration_s": round(time.time() - started, 3)}
                    )
                except BaseException:
                    self._kill()  # Ctrl-C, SIGTERM: leave no orphan worker behind
                    raise
                finally:
                    self._proc = None
                    os.close(watch_w)
            if out.is_file():
                try:
                    rec = json.loads(out.read_text())
                    return CellOutcome(rec["row"], rec.get("samples_ms") or [])
                except (json.JSONDecodeError, KeyError):
                    pass
            if rc < 0:
                sig = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else str(-rc)
                status = "crashed"
                reason = f"worker killed by {sig}"
                if sig == "SIGKILL":
                    reason += " (by another process, or the kernel's out-of-memory killer)"
            else:
                status, reason = "crashed", f"worker exited with code {rc} without a result"
            tail = _tail(log_path)
            if cell.memory_limit_mb and (any(h in tail.lower() for h in _MEMORY_HINTS) or rc == -signal.SIGABRT):
                # Under a suite's memory cap, a worker that dies allocating ran out of memory.
                status = "oom"
                reason = f"out of memory under memory_limit_mb={cell.memory_limit_mb}: " + reason
            if tail:
                reason += f"; last output: {tail[-600:]}"
            return CellOutcome({"status": status, "error": reason, "duration_s": round(time.time() - started, 3)})

    def _kill(self) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._proc.wait()
