"""The hardware ceiling: what the device can sustain, measured at the start of a run.

Per (device, precision, threads) the run uses, stored in run.json ``hardware``:

- ``matmul_gflops``: dense square matrix multiply (``torch.matmul``, n × n at the run's
  precision as a real dtype, not autocast), 2·n³ floating-point operations per product. The
  median over repeated timed products after a warm-up, i.e. a sustained rate rather than a
  best burst (the best is kept as ``matmul_gflops_max``).
- ``conv_gflops``: a large 3×3 convolution (``torch.nn.functional.conv2d``, 256 → 256
  channels on a 56×56 map, stride 1, padding 1; 2 × MACs flop) at the same dtype, so it runs
  through the backend PyTorch uses for the models' convolutions (oneDNN on CPU, cuDNN on CUDA).
- ``ceiling_gflops`` = the larger of the two, ``ceiling_kernel`` names which: the fastest
  rate this device reaches on the kinds of work the models do. A convolution library may beat
  the matmul rate (e.g. Winograd does fewer multiplies than the MACs counted), which is why a
  matmul-only yardstick let CNNs exceed 100%.
- ``ceiling_theoretical_gflops`` (CPU, where derivable): cores × clock × fp32 lanes of the
  widest vector unit in the CPU flags (AVX-512: 16, AVX2: 8) × 2 (FMA) × 2 FMA pipes; the
  pipe count is not in the flags, so this is an upper bound (parts with one pipe, or Zen 4's
  AVX-512 on 256-bit pipes, reach half). Clock: ``cpuinfo_max_freq`` from sysfs, else
  ``cpu MHz`` from /proc/cpuinfo. bf16 doubles the lanes where ``avx512_bf16`` is present.
- ``mem_bw_gbs``: device memory bandwidth from copying a buffer much larger than the caches
  (``dst.copy_(src)``), counting bytes read plus bytes written (the STREAM "copy" convention:
  2 × buffer size per copy; write-allocate traffic is not counted). Median over repetitions.

On CUDA fp32 these use the TF32 setting of the process (the suite's ``tf32``, off by default).

Each row then gets ``achieved_gflops`` = 2 × GMACs(per image) × images/s and ``efficiency`` =
achieved_gflops / ceiling_gflops for its (device, precision, threads)
(:func:`efficiency_columns`). A row above 1 gets ``efficiency_note`` saying why it can happen;
it is flagged in the report, never shown silently.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Callable, Iterable

import torch

HARDWARE_RULE = (
    "matmul_gflops: median rate of n×n torch.matmul at the precision's dtype (2·n³ flop each) after "
    "warm-up; conv_gflops: median rate of a 3×3 conv2d 256→256 ch on 56×56 (oneDNN/cuDNN, 2·MACs); "
    "ceiling_gflops = max of the two, ceiling_kernel names it; ceiling_theoretical_gflops = cores × "
    "clock × vector lanes × 2 (FMA) × 2 pipes where the CPU flags allow; mem_bw_gbs: median of "
    "dst.copy_(src) on buffers far beyond cache, counting read + written bytes; efficiency = "
    "2·GMACs·images/s / ceiling_gflops at the same device, precision and threads"
)

# 3×3 convolution probe: (in/out channels, spatial size); batch by device.
CONV_CHANNELS, CONV_HW = 256, 56
CONV_BATCH = {"cpu": 1, "cuda": 32}

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
    conv_gflops: float | None = None
    conv_gflops_max: float | None = None
    conv_reps: int = 0
    ceiling_gflops: float | None = None  # max(matmul_gflops, conv_gflops)
    ceiling_kernel: str | None = None  # "matmul" or "conv3x3"
    ceiling_theoretical_gflops: float | None = None
    ceiling_theoretical_note: str | None = None
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


def _repeat(
    fn: Callable[[], Any], device: str, budget_s: float, min_reps: int = 3, max_reps: int = 1000, warmup: int = 2
) -> list[float]:
    timer = _timer(device)
    for _ in range(warmup):
        timer(fn)
    times: list[float] = []
    t_end = time.perf_counter() + budget_s
    while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() < t_end):
        times.append(timer(fn))
    return times


def measure_matmul_gflops(
    device: str, precision: str, n: int | None = None, budget_s: float = 1.0
) -> tuple[float, float, int, int]:
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


def measure_conv_gflops(
    device: str, precision: str, budget_s: float = 1.0, batch: int | None = None, hw: int | None = None
) -> tuple[float, float, int]:
    """(median GFLOP/s, best GFLOP/s, repetitions) of a large 3×3 convolution at ``precision``."""
    import torch.nn.functional as F

    n = batch or CONV_BATCH.get(device, 1)
    c, hw = CONV_CHANNELS, hw or CONV_HW
    dtype = DTYPES[precision]
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(n, c, hw, hw, device=device, generator=g).to(dtype)
    w = (torch.randn(c, c, 3, 3, device=device, generator=g) * 0.05).to(dtype)
    with torch.inference_mode():
        times = _repeat(lambda: F.conv2d(x, w, padding=1), device, budget_s)
    flop = 2.0 * n * c * c * 9 * hw * hw  # padding 1, stride 1: output is hw × hw
    rates = [flop / t / 1e9 for t in times]
    return statistics.median(rates), max(rates), len(rates)


def _cpu_clock_ghz() -> tuple[float | None, str]:
    from pathlib import Path

    try:
        khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text().split()[0])
        return khz / 1e6, "cpuinfo_max_freq"
    except (OSError, ValueError, IndexError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1]) / 1000, "/proc/cpuinfo cpu MHz"
    except (OSError, ValueError):
        pass
    return None, ""


def theoretical_gflops(
    device: str, precision: str, cores: int, flags: set[str] | None = None, clock_ghz: float | None = None
) -> tuple[float | None, str]:
    """(peak GFLOP/s, how it was derived) from the CPU's vector flags, core count and clock;
    (None, why not) where it cannot be derived. See the module docstring for the formula."""
    if device != "cpu":
        return None, f"not derived for {device} (needs the GPU's per-SM FMA rate, not exposed by torch)"
    from bench.env import cpu_flags

    flags = cpu_flags() if flags is None else flags
    lanes = 16 if "avx512f" in flags else 8 if ("avx2" in flags and "fma" in flags) else 4 if "sse2" in flags else 0
    if not lanes:
        return None, "no x86 vector flags to derive it from"
    if precision == "bf16":
        if "avx512_bf16" not in flags:
            return None, "bf16 peak not derivable without avx512_bf16"
        lanes *= 2
    elif precision != "fp32":
        return None, f"{precision} peak not derived on CPU"
    src = "given"
    if clock_ghz is None:
        clock_ghz, src = _cpu_clock_ghz()
    if not clock_ghz:
        return None, "CPU clock unknown"
    peak = cores * clock_ghz * lanes * 2 * 2
    return peak, f"{cores} cores × {clock_ghz:.2f} GHz ({src}) × {lanes} lanes × 2 (FMA) × 2 pipes (assumed)"


def measure_mem_bandwidth_gbs(
    device: str, buffer_mb: float | None = None, budget_s: float = 0.5
) -> tuple[float, float, float, int]:
    """(median GB/s, best GB/s, buffer MiB, repetitions) of a large device-to-device copy."""
    if buffer_mb is None:
        buffer_mb = 1024.0 if device == "cuda" else 256.0  # well past any L3 (incl. 3D V-Cache parts)
    numel = int(buffer_mb * 1024 * 1024) // 4
    src = torch.ones(numel, dtype=torch.float32, device=device)  # written, so every page is resident
    dst = torch.zeros(numel, dtype=torch.float32, device=device)
    with torch.inference_mode():
        times = _repeat(partial(dst.copy_, src), device, budget_s)  # no closure, so `del` below frees both
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


def measure_ceiling(
    device: str,
    precision: str = "fp32",
    threads: int | None = None,
    budget_s: float = 1.0,
    matmul_n: int | None = None,
    buffer_mb: float | None = None,
    conv_hw: int | None = None,
) -> Ceiling:
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
            device, precision, matmul_n, budget_s * 0.4
        )
        ceil.conv_gflops, ceil.conv_gflops_max, ceil.conv_reps = measure_conv_gflops(
            device, precision, budget_s * 0.4, hw=conv_hw
        )
        ceil.ceiling_gflops, ceil.ceiling_kernel = max((ceil.matmul_gflops, "matmul"), (ceil.conv_gflops, "conv3x3"))
        ceil.mem_bw_gbs, ceil.mem_bw_gbs_max, ceil.mem_buffer_mb, ceil.mem_reps = measure_mem_bandwidth_gbs(
            device, buffer_mb, budget_s * 0.2
        )
        import os

        cores = min(ceil.threads_actual, os.cpu_count() or ceil.threads_actual)
        ceil.ceiling_theoretical_gflops, ceil.ceiling_theoretical_note = theoretical_gflops(device, precision, cores)
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
            out.append(
                Ceiling(
                    device, precision, threads, torch.get_num_threads(), skipped=f"{type(err).__name__}: {err}"[:300]
                ).as_dict()
            )
    return out


def find_ceiling(ceilings: list[dict[str, Any]], device: str, precision: str, threads: int | None) -> dict[str, Any] | None:
    for c in ceilings or []:
        if c.get("device") == device and c.get("precision") == precision and c.get("threads") == threads:
            return c
    return None


EFFICIENCY_ABOVE_ONE = (
    "above the measured ceiling: this model's kernels ran faster than the probes (matmul, 3×3 conv), e.g. "
    "a convolution algorithm that does fewer multiplies than the GMACs counted (Winograd/FFT), kernel shapes "
    "that suit the cache better than the probes, or load on the machine while the probes ran"
)


def efficiency_columns(
    row: dict[str, Any], device: str, precision: str, threads: int | None, ceilings: list[dict[str, Any]]
) -> dict[str, Any]:
    """``achieved_gflops``, the ceiling columns and ``efficiency`` for a finished row (empty
    when the row has no GMACs or throughput; no efficiency when the ceiling was not measured)."""
    gmacs, ips = row.get("gmacs"), row.get("throughput_ips")
    if gmacs is None or ips is None or gmacs != gmacs or ips != ips:
        return {}
    out: dict[str, Any] = {"achieved_gflops": 2.0 * float(gmacs) * float(ips)}
    ceil = find_ceiling(ceilings, device, precision, threads) or {}
    rate = ceil.get("ceiling_gflops") or ceil.get("matmul_gflops")  # older run.json: matmul only
    if rate:
        out["ceiling_gflops"] = float(rate)
        out["ceiling_kernel"] = ceil.get("ceiling_kernel") or "matmul"
        if ceil.get("ceiling_theoretical_gflops"):
            out["ceiling_theoretical_gflops"] = float(ceil["ceiling_theoretical_gflops"])
        out["efficiency"] = out["achieved_gflops"] / out["ceiling_gflops"]
        if out["efficiency"] > 1:
            out["efficiency_note"] = EFFICIENCY_ABOVE_ONE
    return out
