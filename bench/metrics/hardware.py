"""The hardware ceiling: what the device can sustain, measured at the start of a run.

Two numbers per (device, precision, threads) the run uses, stored in run.json ``hardware``:

- ``matmul_gflops``: dense square matrix multiply (``torch.matmul``, n × n at the run's
  precision as a real dtype, not autocast), 2·n³ floating-point operations per product. The
  median over repeated timed products after a warm-up, i.e. a sustained rate rather than a
  best burst (the best is kept as ``matmul_gflops_max``). On CUDA fp32 this uses the
  process's TF32 setting for matmuls as it is (off by default), so it is the true fp32 rate;
  cuDNN convolutions may use TF32 by default (recorded in the environment), which lets a
  CNN's fp32 ``efficiency`` exceed what fp32 alone would allow.
- ``mem_bw_gbs``: device memory bandwidth from copying a buffer much larger than the caches
  (``dst.copy_(src)``), counting bytes read plus bytes written (the STREAM "copy" convention:
  2 × buffer size per copy; write-allocate traffic is not counted). Median over repetitions.

Each row then gets ``achieved_gflops`` = 2 × GMACs(per image) × images/s and
``efficiency`` = achieved_gflops / matmul_gflops for its (device, precision, threads)
(:func:`efficiency_columns`): how much of the chip's dense-matmul rate the architecture turns
into useful work. Both are rates at the run's thread count, so a 1-thread cell is compared with
a 1-thread ceiling.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

import torch

HARDWARE_RULE = (
    "matmul_gflops: median rate of n×n torch.matmul at the precision's dtype (2·n³ flop each) "
    "after warm-up; mem_bw_gbs: median of dst.copy_(src) on buffers far beyond cache, counting "
    "read + written bytes; efficiency = 2·GMACs·images/s / matmul_gflops at the same device, "
    "precision and threads"
)

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Ceiling:
    device: str
    precision: str
    threads: int | None  # as requested by the suite (None: the library default)
    threads_actual: int
    matmul_gflops: float | None = None
    matmul_gflops_max: float | None = None
    matmul_n: int | None = None
    matmul_reps: int = 0
    mem_bw_gbs: float | None = None
    mem_bw_gbs_max: float | None = None
    mem_buffer_mb: float | None = None
    mem_reps: int = 0
    duration_s: float = 0.0
    skipped: str | None = None  # why nothing was measured (device or precision unavailable)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _timer(device: str) -> Callable[[Callable[[], Any]], float]:
    """Seconds for one call of ``fn``, measured the way timing.py measures models."""
    if device == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def run(fn: Callable[[], Any]) -> float:
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1000.0

        return run

    def run_cpu(fn: Callable[[], Any]) -> float:
        t0 = time.perf_counter_ns()
        fn()
        return (time.perf_counter_ns() - t0) / 1e9

    return run_cpu


def _repeat(fn: Callable[[], Any], device: str, budget_s: float, min_reps: int = 3, max_reps: int = 1000,
            warmup: int = 2) -> list[float]:
    timer = _timer(device)
    for _ in range(warmup):
        timer(fn)
    times: list[float] = []
    t_end = time.perf_counter() + budget_s
    while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() < t_end):
        times.append(timer(fn))
    return times


def measure_matmul_gflops(device: str, precision: str, n: int | None = None, budget_s: float = 1.0) -> tuple[float, float, int, int]:
    """(median GFLOP/s, best GFLOP/s, n, repetitions) of an n × n matmul at ``precision``."""
    if n is None:
        n = 8192 if device == "cuda" else 1024
    dtype = DTYPES[precision]
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=torch.float32, generator=g).to(dtype)
    b = torch.randn(n, n, device=device, dtype=torch.float32, generator=g).to(dtype)
    c = torch.empty(n, n, device=device, dtype=dtype)
    with torch.inference_mode():
        times = _repeat(lambda: torch.matmul(a, b, out=c), device, budget_s)
    flop = 2.0 * n**3
    rates = [flop / t / 1e9 for t in times]
    return statistics.median(rates), max(rates), n, len(rates)


def measure_mem_bandwidth_gbs(device: str, buffer_mb: float | None = None, budget_s: float = 0.5) -> tuple[float, float, float, int]:
    """(median GB/s, best GB/s, buffer MiB, repetitions) of a large device-to-device copy."""
    if buffer_mb is None:
        buffer_mb = 1024.0 if device == "cuda" else 256.0  # well past any L3 (incl. 3D V-Cache parts)
    numel = int(buffer_mb * 1024 * 1024) // 4
    src = torch.ones(numel, dtype=torch.float32, device=device)  # written, so every page is resident
    dst = torch.zeros(numel, dtype=torch.float32, device=device)
    with torch.inference_mode():
        times = _repeat(lambda: dst.copy_(src), device, budget_s)
    moved = 2.0 * numel * 4  # read src + write dst
    rates = [moved / t / 1e9 for t in times]
    del src, dst
    return statistics.median(rates), max(rates), buffer_mb, len(rates)


def _skip_reason(device: str, precision: str) -> str | None:
    from bench.runtimes import Unsupported, check_precision

    if device == "cuda" and not torch.cuda.is_available():
        return "no CUDA device on this machine"
    try:
        check_precision(device, precision)
    except Unsupported as err:
        return str(err)
    return None


def measure_ceiling(device: str, precision: str = "fp32", threads: int | None = None, budget_s: float = 1.0,
                    matmul_n: int | None = None, buffer_mb: float | None = None) -> Ceiling:
    """Measure the matmul rate and memory bandwidth of ``device`` in about ``budget_s`` seconds
    (two thirds matmul, one third copy). ``threads`` is applied for the measurement only."""
    t0 = time.perf_counter()
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        ceil = Ceiling(device, precision, threads, torch.get_num_threads())
        ceil.skipped = _skip_reason(device, precision)
        if ceil.skipped:
            return ceil
        if device == "cuda":
            torch.cuda.synchronize()
        ceil.matmul_gflops, ceil.matmul_gflops_max, ceil.matmul_n, ceil.matmul_reps = measure_matmul_gflops(
            device, precision, matmul_n, budget_s * 2 / 3)
        ceil.mem_bw_gbs, ceil.mem_bw_gbs_max, ceil.mem_buffer_mb, ceil.mem_reps = measure_mem_bandwidth_gbs(
            device, buffer_mb, budget_s / 3)
        if device == "cuda":
            torch.cuda.empty_cache()  # hand the buffers back before the workers need the memory
    finally:
        torch.set_num_threads(old_threads)
        ceil.duration_s = round(time.perf_counter() - t0, 3)
    return ceil


def ceiling_combos(cells: Iterable[Any]) -> list[tuple[str, str, int | None]]:
    """The distinct (device, precision, threads) of the speed cells that time something."""
    seen: dict[tuple[str, str, int | None], None] = {}
    for c in cells:
        if getattr(c, "task", "speed") == "speed" and "latency" in c.metrics:
            seen[(c.device, c.precision, c.threads)] = None
    return list(seen)


def measure_ceilings(cells: Iterable[Any], budget_s: float = 1.0) -> list[dict[str, Any]]:
    """One :class:`Ceiling` (as a dict, for run.json) per combination the run's cells use."""
    out = []
    for device, precision, threads in ceiling_combos(cells):
        try:
            out.append(measure_ceiling(device, precision, threads, budget_s).as_dict())
        except Exception as err:  # a failed probe must not stop the run; its rows get no efficiency
            out.append(Ceiling(device, precision, threads, torch.get_num_threads(),
                               skipped=f"{type(err).__name__}: {err}"[:300]).as_dict())
    return out


def find_ceiling(ceilings: list[dict[str, Any]], device: str, precision: str, threads: int | None) -> dict[str, Any] | None:
    for c in ceilings or []:
        if c.get("device") == device and c.get("precision") == precision and c.get("threads") == threads:
            return c
    return None


def efficiency_columns(row: dict[str, Any], device: str, precision: str, threads: int | None,
                       ceilings: list[dict[str, Any]]) -> dict[str, Any]:
    """``achieved_gflops``, ``ceiling_gflops`` and ``efficiency`` for a finished row (empty
    when the row has no GMACs or throughput, or the ceiling was not measured)."""
    gmacs, ips = row.get("gmacs"), row.get("throughput_ips")
    if gmacs is None or ips is None or gmacs != gmacs or ips != ips:
        return {}
    out: dict[str, Any] = {"achieved_gflops": 2.0 * float(gmacs) * float(ips)}
    ceil = find_ceiling(ceilings, device, precision, threads)
    if ceil and ceil.get("matmul_gflops"):
        out["ceiling_gflops"] = float(ceil["matmul_gflops"])
        out["efficiency"] = out["achieved_gflops"] / out["ceiling_gflops"]
    return out
