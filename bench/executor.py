"""Executors turn a cell into a finished record. The runner only talks to this interface,
so running cells on other machines later means a new Executor, not a new runner.

:class:`LocalProcessExecutor` gives every cell (every round of a cell, see bench.runner) its
own worker process and enforces the cell's timeout. Workers are forked from a template
process that has already imported torch/torchvision/timm (bench.template), so a round costs
its measurement rather than an interpreter start; if the template cannot start, workers are
fresh interpreters (``python -m bench.worker``), as before. Cells run one at a time: two
timed workers sharing cores would measure each other.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import select
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
        """Measure one cell; faults of the cell become its status, never an exception.

        A cell timed in rounds arrives once per round, with ``cell.options["round"]`` = 0, 1, …
        (bench.runner); the worker skips the deterministic measurements after round 0."""

    def close(self) -> None:  # noqa: B027  (optional hook: a no-op unless the executor holds something)
        """Release what the executor holds (processes, connections); the runner calls it at the end."""

    def run_all(
        self,
        cells: Iterable[Cell],
        log_path: Callable[[Cell], Path],
        blocker: Callable[[Cell], str | None] = lambda c: None,
        on_start: Callable[[Cell], None] = lambda c: None,
    ) -> Iterator[tuple[Cell, CellOutcome]]:
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
    env.update(thread_env(cell))
    return env


def thread_env(cell: Cell) -> dict[str, str]:
    # A fresh interpreter reads these before torch loads, so pools are sized right from the
    # start; a forked worker gets them for libraries that read them later, and run_cell calls
    # torch.set_num_threads before the first operator (the template never ran one).
    if not cell.threads:
        return {}
    return {"OMP_NUM_THREADS": str(cell.threads), "MKL_NUM_THREADS": str(cell.threads)}


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
    removed: list[Path] = []
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


class TemplateError(RuntimeError):
    """The template process could not start or stopped answering."""


class TemplateProcess:
    """One ``python -m bench.template`` process for one environment; forks a worker per request."""

    def __init__(self, python: str, env: dict[str, str], start_timeout_s: float = 300.0):
        from bench.template import PREFIX

        self.prefix = PREFIX
        self._pending = b""  # bytes read from the template's stdout past the last whole line
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [python, "-m", "bench.template"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            env=env,
            start_new_session=True,
        )
        kind, rest = self._read(start_timeout_s)
        if kind != "ready":
            raise TemplateError(f"template process did not start ({kind} {rest})")
        self.info = json.loads(rest)

    def _stderr(self) -> str:
        try:
            self._err.seek(0)
            return self._err.read().decode(errors="replace")[-1500:].strip()
        except (OSError, ValueError):
            return ""

    def _read(self, timeout_s: float | None) -> tuple[str, str]:
        """Next protocol line as (kind, rest); ``("timeout", "")`` when none came in time.

        Lines are split from raw reads here, not by a buffered ``readline``: "started" and "done"
        of a quick worker often arrive in one read, and a line left in a file object's buffer is
        invisible to ``select``, which would then wait out the cell's whole timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        assert self.proc.stdout is not None  # Popen(stdout=PIPE)
        fd = self.proc.stdout.fileno()
        while True:
            newline = self._pending.find(b"\n")
            if newline < 0:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select([fd], [], [], left)
                if not ready:
                    return "timeout", ""
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise TemplateError(f"template process exited (code {self.proc.poll()}): {self._stderr()}")
                self._pending += chunk
                continue
            line = self._pending[: newline + 1].decode(errors="replace")
            self._pending = self._pending[newline + 1 :]
            if line.startswith(self.prefix):
                kind, _, rest = line[len(self.prefix) :].strip().partition(" ")
                return kind, rest

    def start(self, job: Path, out: Path, log: Path, env: dict[str, str]) -> int:
        req = {"job": str(job), "out": str(out), "log": str(log), "env": env}
        assert self.proc.stdin is not None  # Popen(stdin=PIPE)
        try:
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as err:
            raise TemplateError(f"template process is gone ({err}): {self._stderr()}") from None
        kind, rest = self._read(60)
        if kind != "started":
            raise TemplateError(f"template did not fork a worker ({kind} {rest}): {self._stderr()}")
        return int(rest)

    def wait(self, pid: int, timeout_s: float | None) -> int | None:
        """The worker's return code, or None when it is still running after ``timeout_s``."""
        kind, rest = self._read(timeout_s)
        if kind == "timeout":
            return None
        if kind != "done" or int(rest.split()[0]) != pid:
            raise TemplateError(f"unexpected answer from the template: {kind} {rest}")
        return int(rest.split()[1])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None  # Popen(stdin=PIPE)
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                self.proc.wait()
        self._err.close()


class LocalProcessExecutor(Executor):
    """One worker process per cell (per round), on this machine, one at a time.

    ``python`` and ``extra_env`` describe the environment the workers run in (``archbench ab``
    runs two executors with different ones); ``use_template`` forks workers from a template
    that has the heavy modules imported (the default), otherwise each is a fresh interpreter.
    """

    def __init__(self, python: str | None = None, extra_env: dict[str, str] | None = None, use_template: bool = True):
        self.python = python or sys.executable
        self.extra_env = extra_env or {}
        self.use_template = use_template
        self.template_note: str | None = None  # why workers are fresh interpreters, when they are
        self._templates: dict[tuple, TemplateProcess] = {}
        self._proc: subprocess.Popen | None = None
        remove_stale_temp_dirs()

    def _template(self, cell: Cell) -> TemplateProcess | None:
        if not self.use_template:
            return None
        # The allocator's settings are read when a process starts, so each environment has its
        # own template; per-cell thread counts are set in the forked worker, not here.
        env = {**worker_env(dataclasses.replace(cell, threads=None)), **self.extra_env}
        key = tuple(sorted(env.items()))
        tp = self._templates.get(key)
        if tp is not None and tp.alive():
            return tp
        try:
            tp = TemplateProcess(self.python, env)
        except (TemplateError, OSError) as err:
            self.use_template = False
            self.template_note = f"workers are fresh interpreters: {err}"
            print(f"warning: {self.template_note}", file=sys.stderr)
            return None
        self._templates[key] = tp
        return tp

    def close(self) -> None:
        for tp in self._templates.values():
            tp.close()
        self._templates.clear()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def run(self, cell: Cell, log_path: Path) -> CellOutcome:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # The template (slow to start) first: the job's temp folder exists only while a worker,
        # which removes it should the driver die, is about to run or running.
        tp = self._template(cell)
        with tempfile.TemporaryDirectory(prefix=f"{TMP_PREFIX}{os.getpid()}-") as tmp:
            job = Path(tmp) / "job.json"
            out = Path(tmp) / "out.json"
            job.write_text(json.dumps({"cell": cell.to_dict()}))
            started = time.time()
            rc: int | None = None
            forked = False
            if tp is not None:
                try:
                    rc = self._run_forked(tp, job, out, log_path, thread_env(cell), cell.timeout_s)
                    forked = True
                except TemplateError as err:
                    # The template died (not the worker): measure this cell in a fresh interpreter.
                    tp.close()
                    self._templates = {k: v for k, v in self._templates.items() if v is not tp}
                    print(f"warning: {err}; retrying in a fresh interpreter", file=sys.stderr)
            if not forked:
                rc = self._run_fresh(job, out, log_path, cell)
            if rc is None:
                return CellOutcome(
                    {
                        "status": "timeout",
                        "error": f"cell exceeded its timeout of {cell.timeout_s:g} s and was killed",
                        "duration_s": round(time.time() - started, 3),
                    }
                )
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

    def _run_forked(
        self, tp: TemplateProcess, job: Path, out: Path, log_path: Path, env: dict[str, str], timeout_s: float
    ) -> int | None:
        pid = tp.start(job, out, log_path, env)
        try:
            rc = tp.wait(pid, timeout_s)
            if rc is None:
                self._kill_group(pid)
                tp.wait(pid, 60)
            return rc
        except BaseException:
            self._kill_group(pid)  # Ctrl-C, SIGTERM: leave no orphan worker behind
            raise

    def _run_fresh(self, job: Path, out: Path, log_path: Path, cell: Cell) -> int | None:
        watch_r, watch_w = os.pipe()  # non-inheritable; only the read end is passed on
        env = {**worker_env(cell), **self.extra_env, PARENT_FD_ENV: str(watch_r)}
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
            except BaseException:
                os.close(watch_w)
                raise
            finally:
                os.close(watch_r)
            try:
                return self._proc.wait(timeout=cell.timeout_s)
            except subprocess.TimeoutExpired:
                self._kill()
                return None
            except BaseException:
                self._kill()  # Ctrl-C, SIGTERM: leave no orphan worker behind
                raise
            finally:
                self._proc = None
                os.close(watch_w)

    @staticmethod
    def _kill_group(pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _kill(self) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._proc.wait()
