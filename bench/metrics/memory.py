"""Inference memory, three measurements named by what they measure (each in its own pass,
never while timing).

``act_peak_mb`` — activations, counted at the tensor level. One eager forward runs under a
:class:`ActivationTracker` (a ``TorchDispatchMode``): every storage an operator returns that did
not exist before is added to the live total when it appears and subtracted when Python frees
it (a weakref finalizer on the storage), and the peak of that total is kept. Weights, buffers
and the input exist before the forward, so they are not counted; views and in-place results
share a storage and count once; scratch memory inside a kernel (oneDNN/cuDNN workspaces) is
not a tensor and is not counted. It depends only on the model, batch, image size and precision
(and the operators PyTorch dispatches), not on the device's allocator or the process's
history: identical run to run and, for the same operators, on CPU, CUDA and the meta device.

``rss_peak_mb`` (CPU) — what the operating system sees: the increase of the process's peak
resident set (Linux ``VmHWM``) during inference over the resident set after the model was
built. It includes everything the process touched: lazily loaded library code, oneDNN
scratch, allocator arenas and fragmentation, so it is larger and noisier than
``act_peak_mb``. The peak counter is reset first by writing ``5`` to ``/proc/self/clear_refs``;
where that is unavailable a background thread samples RSS with psutil (coarser; recorded in
``rss_method``). The C allocator keeps freed heap pages resident, so before the baseline is
read Python's garbage is collected and glibc's ``malloc_trim(0)`` hands free heap pages back.

CUDA — ``cuda_peak_alloc_mb`` / ``cuda_peak_reserved_mb``: ``torch.cuda.max_memory_allocated``
/ ``max_memory_reserved`` after ``reset_peak_memory_stats``, absolute (weights, input and the
caching allocator's rounding included); ``cuda_weights_mb``: the parameters and buffers as
stored on the device.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

MB = 1024 * 1024


@dataclass
class MemoryResult:
    """One memory pass: ``rss_*`` on CPU, ``cuda_*`` on CUDA (the other family stays None)."""

    method: str
    rss_peak_mb: float | None = None
    rss_baseline_mb: float | None = None
    cuda_peak_alloc_mb: float | None = None
    cuda_peak_reserved_mb: float | None = None
    cuda_weights_mb: float | None = None

    def as_row(self) -> dict[str, Any]:
        """Results columns (bench/schema.py)."""
        if self.method.startswith("cuda"):
            return {
                "cuda_peak_alloc_mb": self.cuda_peak_alloc_mb,
                "cuda_peak_reserved_mb": self.cuda_peak_reserved_mb,
                "cuda_weights_mb": self.cuda_weights_mb,
                "mem_method": self.method,
            }
        return {"rss_peak_mb": self.rss_peak_mb, "rss_baseline_mb": self.rss_baseline_mb, "mem_method": self.method}


class ActivationTracker(TorchDispatchMode):
    """Live bytes of the storages created by operators while the mode is active, and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live_bytes = 0
        self.peak_bytes = 0
        self.storages = 0  # distinct storages created
        self.total_bytes = 0  # bytes of every storage created: the forward's activation writes
        self._sizes: dict[int, int] = {}

    def _freed(self, key: int) -> None:
        self.live_bytes -= self._sizes.pop(key, 0)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            st = t.untyped_storage()
            key = st._cdata  # the StorageImpl's address: one key per storage while it lives
            if key in self._sizes:
                continue
            nbytes = st.nbytes()
            self._sizes[key] = nbytes
            self.live_bytes += nbytes
            self.storages += 1
            self.total_bytes += nbytes
            weakref.finalize(st, self._freed, key)
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        return out


def activation_bytes(forward: Callable[[], Any]) -> tuple[int, int]:
    """(peak live bytes, total bytes) of the tensors ``forward`` creates (see the module docstring)."""
    tracker = ActivationTracker()
    with tracker:
        out = forward()
    del out
    return tracker.peak_bytes, tracker.total_bytes


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
        return MemoryResult("vmhwm-delta", rss_peak_mb=max(0.0, (peak_kb - base_kb) / 1024), rss_baseline_mb=base_kb / 1024)
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
    return MemoryResult("rss-sampled", rss_peak_mb=max(0.0, (peak - base) / MB), rss_baseline_mb=base / MB)


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
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    weights = before if weights_bytes is None else weights_bytes
    torch.cuda.reset_peak_memory_stats()
    for _ in range(iters):
        step()
    torch.cuda.synchronize()
    return MemoryResult(
        "cuda-allocator",
        cuda_peak_alloc_mb=torch.cuda.max_memory_allocated() / MB,
        cuda_peak_reserved_mb=torch.cuda.max_memory_reserved() / MB,
        cuda_weights_mb=weights / MB,
    )


def measure_memory(step: Callable[[], Any], device: str, iters: int = 2, weights_bytes: int | None = None) -> MemoryResult:
    """The device's own memory figures (resident set on CPU, allocator on CUDA) for ``step``."""
    if device == "cuda":
        return measure_cuda_memory(step, iters, weights_bytes)
    return measure_cpu_memory(step, iters)
