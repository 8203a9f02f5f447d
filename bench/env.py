"""The environment a run was measured in: machine, devices, library versions, load.

Stored in run.json so a reader (and `archbench compare`) can tell whether two runs are
comparable, and so a busy machine is never silently behind a set of timings.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def git_commit(repo: Path | None = None) -> tuple[str | None, bool | None]:
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return (sha or None), (bool(dirty) if sha else None)
    except (OSError, subprocess.SubprocessError):
        return None, None


@dataclass
class LoadSnapshot:
    """How busy the machine was just before measuring."""

    loadavg_1m: float
    cpu_count: int
    other_procs_cpu_percent: float  # summed over other processes during a short window
    busy_procs: list[str] = field(default_factory=list)
    busy: bool = False
    warning: str | None = None


BUSY_PROCS_LISTED = 10


def measure_load(window_s: float = 0.5, threshold: float = 0.25) -> LoadSnapshot:
    """Sample other processes' CPU use for ``window_s``; busy when they use more than
    ``threshold`` of one core, or the 1-minute load average exceeds the core count.

    Other processes' CPU use is the direct signal (this process and its children are
    excluded). The load average is only a backstop: it also counts this process and whatever
    ran here during the last minute (earlier archbench workers included), so it must exceed
    the number of cores, i.e. more runnable tasks than cores, before it alone means busy."""
    import psutil

    me = os.getpid()
    mine = {me, *(c.pid for c in psutil.Process(me).children(recursive=True))}
    procs = []
    for p in psutil.process_iter(["pid", "name"]):
        if p.info["pid"] in mine:
            continue
        try:
            p.cpu_percent(None)
            procs.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    time.sleep(window_s)
    total = 0.0
    busy: list[tuple[float, str]] = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += pct
        if pct >= 10:
            busy.append((pct, f"{p.info['name']}[{p.info['pid']}] {pct:.0f}%"))
    ncpu = os.cpu_count() or 1
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    is_busy = total / 100 > threshold or load1 > ncpu
    warning = None
    if is_busy:
        top = "; busiest: " + ", ".join(b for _, b in sorted(busy, reverse=True)[:3]) if busy else ""
        warning = (
            f"machine busy: other processes used {total:.0f}% CPU, load average {load1:.2f} on {ncpu} cores{top}; "
            "CPU timings from this run are unreliable"
        )
    return LoadSnapshot(
        load1, ncpu, round(total, 1), [b for _, b in sorted(busy, reverse=True)[:BUSY_PROCS_LISTED]], is_busy, warning
    )


def gpu_info() -> dict[str, Any]:
    try:
        import torch

        if not torch.cuda.is_available():
            return {"cuda_available": False}
        props = torch.cuda.get_device_properties(0)
        driver = None
        try:
            driver = (
                subprocess.run(
                    ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                )
                .stdout.strip()
                .splitlines()[0]
            )
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
        return {
            "cuda_available": True,
            "gpu_name": props.name,
            "gpu_count": torch.cuda.device_count(),
            "gpu_mem_gb": round(props.total_memory / 1024**3, 1),
            "gpu_driver": driver,
            "cuda_version": torch.version.cuda,
            "cudnn_version": torch.backends.cudnn.version(),
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "tf32_cudnn": torch.backends.cudnn.allow_tf32,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "settings_note": "TF32/cuDNN settings are recorded as PyTorch's defaults left them; archbench never changes them",
        }
    except Exception as err:  # a broken CUDA install must not stop a CPU run
        return {"cuda_available": False, "cuda_error": str(err)}


def capture_environment() -> dict[str, Any]:
    import torch

    sha, dirty = git_commit()
    flags = cpu_flags()
    env = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_bf16_native": bool(flags & {"avx512_bf16", "amx_bf16"}),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "timm": _version("timm"),
        "fvcore": _version("fvcore"),
        "numpy": _version("numpy"),
        "onnxruntime": _version("onnxruntime"),
        "archbench": _version("archbench"),
        "torch_num_threads_default": torch.get_num_threads(),
        "git_commit": sha,
        "git_dirty": dirty,
    }
    env.update(gpu_info())
    return env


def load_as_dict(snap: LoadSnapshot) -> dict[str, Any]:
    return asdict(snap)
