"""Peak memory of inference, measured in its own pass (never while timing).

CPU: the increase of the process's peak resident set (Linux ``VmHWM``) during inference over
the resident set after the model was built. The peak counter is reset first by writing ``5``
to ``/proc/self/clear_refs``, so the model-loading peak does not leak into the number. Where
that is unavailable, a background thread samples RSS with psutil (coarser; the method is
recorded). The C allocator keeps freed heap pages resident, so memory that earlier work
(FLOP counting traces the model; a compiling first call) freed would otherwise be reused
without raising RSS and the peak would be underestimated: before the baseline is read, Python's
garbage is collected and glibc's ``malloc_trim(0)`` hands free heap pages back to the kernel.
The worker also runs this pass before its own first timed-path call.

CUDA: ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` after
``reset_peak_memory_stats`` (``peak_mem_mb`` / ``peak_reserved_mb``). ``weights_mem_mb`` is the
size of the parameters and buffers as stored on the device (passed in by the caller; without
it, the memory allocated before the pass, which also holds the input), and ``weights_share`` is
its fraction of the allocated peak.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

MB = 1024 * 1024


@dataclass
class MemoryResult:
    peak_mem_mb: float
    method: str
    baseline_mem_mb: float | None = None
    peak_reserved_mb: float | None = None
    weights_mem_mb: float | None = None
    weights_share: float | None = None  # weights_mem_mb / peak_mem_mb (CUDA)

    def as_row(self) -> dict[str, Any]:
        """Results columns (bench/schema.py)."""
        return {"peak_mem_mb": self.peak_mem_mb, "mem_method": self.method, "mem_baseline_mb": self.baseline_mem_mb,
                "peak_reserved_mb": self.peak_reserved_mb, "weights_mem_mb": self.weights_mem_mb,
                "weights_share": self.weights_share}


def _proc_status_kb(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.M)
    return int(m.group(1)) if m else None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _release_free_heap() -> bool:
    """Return freed heap pages to the kernel (glibc only); True when it could be done."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
        return True
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return False


def measure_cpu_memory(step: Callable[[], Any], iters: int = 2) -> MemoryResult:
    _release_free_heap()
    if _reset_peak_rss() and _proc_status_kb("VmHWM") is not None:
        base_kb = _proc_status_kb("VmRSS") or 0
        for _ in range(iters):
            step()
        peak_kb = _proc_status_kb("VmHWM") or base_kb
        return MemoryResult(max(0.0, (peak_kb - base_kb) / 1024), "vmhwm-delta", base_kb / 1024)
    return _measure_cpu_memory_sampled(step, iters)


def _measure_cpu_memory_sampled(step: Callable[[], Any], iters: int) -> MemoryResult:
    import psutil

    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = base
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, proc.memory_info().rss)
            done.wait(0.001)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    try:
        for _ in range(iters):
            step()
    finally:
        done.set()
        t.join()
    peak = max(peak, proc.memory_info().rss)
    return MemoryResult(max(0.0, (peak - base) / MB), "rss-sampled", base / MB)


def module_bytes(model: Any) -> int:
    """Bytes of a module's parameters and buffers, at the dtype they are stored in."""
    seen: set[int] = set()
    total = 0
    for t in [*model.parameters(), *model.buffers()]:
        if id(t) not in seen:  # tied weights count once
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def measure_cuda_memory(step: Callable[[], Any], iters: int = 2, weights_bytes: int | None = None) -> MemoryResult:
    import torch

    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    weights = before if weights_bytes is None else weights_bytes
    torch.cuda.reset_peak_memory_stats()
    for _ in range(iters):
        step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    return MemoryResult(
        peak_mem_mb=peak / MB,
        method="cuda-allocator",
        baseline_mem_mb=before / MB,
        peak_reserved_mb=torch.cuda.max_memory_reserved() / MB,
        weights_mem_mb=weights / MB,
        weights_share=weights / peak if peak > 0 else None,
    )


def measure_memory(step: Callable[[], Any], device: str, iters: int = 2, weights_bytes: int | None = None) -> MemoryResult:
    if device == "cuda":
        return measure_cuda_memory(step, iters, weights_bytes)
    res = measure_cpu_memory(step, iters)
    if weights_bytes is not None:
        res.weights_mem_mb = weights_bytes / MB
    return res
