"""Template process: imports torch/torchvision/timm once, then forks one worker per round.

Run as ``python -m bench.template`` by bench.executor.TemplateProcess. A fresh interpreter
costs ~3 s of start-up and imports per worker on a 2-core machine (more under load); a fork of
this process costs milliseconds, so timing a cell in R rounds (R worker processes) costs R
measurements, not R interpreter starts.

The template never runs a tensor operator, so no intra-op thread pool (OpenMP, MKL) exists
when it forks: each child sizes its pool from ``torch.set_num_threads`` on its first operator,
exactly as a fresh process would. Each child starts its own session (so a timeout kills its
whole group), writes its output to the cell's log file and runs ``bench.worker.main``.

Protocol (one JSON object per line): stdin gets ``{"job", "out", "log", "env"}``; stdout
answers ``PREFIX started PID`` and, when the child ends, ``PREFIX done PID RC`` (RC < 0: killed
by that signal). Other lines on stdout (a library printing at import) are ignored by the reader.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

PREFIX = "archbench-template:"
# Imported once here; everything a worker needs that is slow to import.
PRELOAD = (
    "torch",
    "torchvision",
    "timm",
    "numpy",
    "pandas",
    "bench.worker",
    "bench.registry",
    "bench.metrics.timing",
    "bench.metrics.flops",
    "bench.models.tiny",
    "bench.suite",
    "bench.results",
    "bench.metrics.stats",
    "bench.metrics.memory",
    "bench.metrics.params",
    "bench.runtimes",
)


def _say(*parts: object) -> None:
    sys.stdout.write(" ".join([PREFIX, *map(str, parts)]) + "\n")
    sys.stdout.flush()


def _child(req: dict) -> int:
    os.setsid()  # own process group: the executor kills the group on a timeout
    # The template's stdin is a pipe only the driver writes to, and it writes nothing while a
    # worker runs: EOF on it means the driver is gone, so the worker dies with it (bench.worker.watch_parent).
    watch = os.dup(0)
    os.environ["ARCHBENCH_PARENT_FD"] = str(watch)
    log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    os.environ.update(req.get("env") or {})
    from bench import worker

    return worker.main([req["job"], req["out"]])


def serve() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            if name in ("torch", "bench.worker"):
                raise
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else -1
    _say("ready", json.dumps({"pid": os.getpid(), "python": sys.executable, "threads_at_fork": threads}))
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(req)
            except SystemExit as ex:
                code = ex.code if isinstance(ex.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        _say("started", pid)
        _, status = os.waitpid(pid, 0)
        rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        _say("done", pid, rc)


if __name__ == "__main__":
    serve()
