"""Latency measurement: warm-up until stable, then adaptive sampling.

Rule (stored in run.json as TIMING_RULE):
1. Warm-up runs at least ``warmup_min_iters`` iterations and continues until the last three
   iteration times lie within 10% of their median, or ``warmup_max_s`` is spent.
2. Measurement times every iteration separately and keeps every sample. It stops as soon
   as all of these hold: at least ``min_samples``; at least the samples each requested
   percentile needs (``percentiles``, default p50 and p90: 10 samples beyond the percentile,
   so p90 → 100, p99 → 1,000; bench.metrics.stats); at least ``min_time_s`` of timed calls
   (the sum of the samples, capped at ``max_time_s``, so a fast model is not judged on a
   fraction of a second); and a relative IQR (IQR / median) of at most ``target_rel_iqr``.
   Otherwise it stops when ``max_time_s`` (wall time, once ``min_samples`` are in) or
   ``max_samples`` is reached; ``timing_target_met`` is False when the spread target was not
   met, and a percentile left without support is empty with the reason in ``latency_note``.
3. The timed region is only the model call. On CPU the clock is ``time.perf_counter_ns``
   (monotonic); on CUDA each iteration is bracketed by CUDA events and the end event is
   synchronized before the next iteration, so queued kernels are never mistaken for speed.
4. Python's cyclic garbage collector is paused for warm-up and measurement (as ``timeit``
   does), so a collection triggered by the harness's own bookkeeping never lands inside a
   sample. (No full collection is forced first: with torch, torchvision and timm loaded it
   costs about 0.3 s and is not needed for that.)

5. On CUDA, ``throughput_ips_pipelined`` is measured apart from the per-call samples: blocks of
   back-to-back calls with one synchronisation per block (events around the block), as a
   serving loop runs them; ``throughput_ips`` stays batch / per-call median.

The harness adds one Python call and two clock reads per iteration to the model call;
``benchmarks/overhead.py`` measures the total against a bare ``for`` loop.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from bench.config import TimingConfig
from bench.metrics.stats import rel_iqr

# TimingConfig (the settings of one pass) is declared once, in the suite's config tree: a suite's
# ``timing:`` block is a TimingSpec, which adds the run-level fields. The worker builds one per
# cell with ``TimingConfig.from_dict(cell.timing)``.

TIMING_RULE = (
    "warm-up >= warmup_min_iters until the last 3 iterations are within 10% of their median "
    "(or warmup_max_s); then per-iteration samples until n >= min_samples, n >= the support of every "
    "requested percentile (10 samples beyond it: p90 needs 100, p99 1000), timed calls sum to >= "
    "min_time_s (capped at max_time_s) and IQR/median <= target_rel_iqr, else stop at max_time_s "
    "or max_samples (timing_target_met=false if the spread target was missed); percentiles without "
    "support are empty with latency_note; timed region = model call only; CPU: perf_counter_ns; "
    "CUDA: events + synchronize per call, plus throughput_ips_pipelined from blocks of back-to-back "
    "calls with one synchronize per block; gc paused while timing"
)


@dataclass
class TimingResult:
    samples_ms: list[float] = field(default_factory=list)
    warmup_iters: int = 0
    warmup_s: float = 0.0
    warmup_stable: bool = False
    target_met: bool = False
    stop_reason: str = ""
    wall_s: float = 0.0
    clock: str = ""

    def as_row(self) -> dict[str, Any]:
        """Columns describing how the samples were taken (the statistics come from stats)."""
        return {
            "warmup_iters": self.warmup_iters,
            "warmup_s": round(self.warmup_s, 3),
            "warmup_stable": self.warmup_stable,
            "timing_target_met": self.target_met,
            "timing_stop_reason": self.stop_reason,
            "timing_clock": self.clock,
        }


def _stable(last: list[float]) -> bool:
    if len(last) < 3:
        return False
    med = float(np.median(last[-3:]))
    return med > 0 and all(abs(x - med) <= 0.10 * med for x in last[-3:])


class _CpuClock:
    name = "perf_counter_ns"

    def time_once(self, step: Callable[[], Any]) -> float:
        t0 = time.perf_counter_ns()
        step()
        return (time.perf_counter_ns() - t0) / 1e6


class _CudaClock:
    name = "cuda_event"

    def __init__(self) -> None:
        import torch

        self._torch = torch
        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)

    def time_once(self, step: Callable[[], Any]) -> float:
        self._start.record()
        step()
        self._end.record()
        self._end.synchronize()
        return float(self._start.elapsed_time(self._end))


def measure_latency(step: Callable[[], Any], device: str, cfg: TimingConfig, clock: Any = None) -> TimingResult:
    """Time ``step`` (one model call) by the rule in the module docstring.

    ``clock`` (an object with ``time_once(step) -> ms``) exists so tests can drive the
    stopping rule with known durations; by default the device's real clock is used.
    """
    if clock is None:
        clock = _CudaClock() if device == "cuda" else _CpuClock()
    if device == "cuda":
        import torch

        torch.cuda.synchronize()  # nothing queued before timing starts may be billed to it
    res = TimingResult(clock=getattr(clock, "name", type(clock).__name__))
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _warm_and_sample(step, clock, cfg, res)
    finally:
        if gc_was_enabled:
            gc.enable()
    return res


def _warm_and_sample(step: Callable[[], Any], clock: Any, cfg: TimingConfig, res: TimingResult) -> None:
    t_start = time.perf_counter()
    warm: list[float] = []
    while True:
        warm.append(clock.time_once(step))
        spent = time.perf_counter() - t_start
        if len(warm) >= cfg.warmup_min_iters and _stable(warm):
            res.warmup_stable = True
            break
        if spent >= cfg.warmup_max_s and len(warm) >= cfg.warmup_min_iters:
            break
    res.warmup_iters = len(warm)
    res.warmup_s = time.perf_counter() - t_start

    samples = res.samples_ms
    need = cfg.samples_needed()
    min_timed_ms = 1000.0 * min(cfg.min_time_s, cfg.max_time_s)
    timed_ms = 0.0
    t_meas = time.perf_counter()
    while True:
        ms = clock.time_once(step)
        samples.append(ms)
        timed_ms += ms
        n = len(samples)
        # Cheap checks first: the spread is only computed once count and time allow a stop.
        if n >= need and timed_ms >= min_timed_ms and rel_iqr(samples) <= cfg.target_rel_iqr:
            res.stop_reason = "target_met"
            break
        if n >= cfg.max_samples:
            res.stop_reason = "max_samples"
            break
        if time.perf_counter() - t_meas >= cfg.max_time_s and n >= cfg.min_samples:
            res.stop_reason = "time_budget"
            break
    res.target_met = len(samples) >= cfg.min_samples and rel_iqr(samples) <= cfg.target_rel_iqr
    res.wall_s = time.perf_counter() - t_start


@dataclass
class BlockThroughput:
    """Images per second from blocks of back-to-back calls, one synchronisation per block."""

    throughput_ips_pipelined: float
    pipelined_block_calls: int
    pipelined_blocks: int

    def as_row(self) -> dict[str, Any]:
        return {
            "throughput_ips_pipelined": self.throughput_ips_pipelined,
            "pipelined_block_calls": self.pipelined_block_calls,
            "pipelined_blocks": self.pipelined_blocks,
        }


def block_calls_for(per_call_ms: float, block_ms: float = 200.0, max_calls: int = 1000) -> int:
    """Calls per block so a block lasts about ``block_ms`` (at least 2, so calls overlap)."""
    if not per_call_ms or per_call_ms <= 0 or per_call_ms != per_call_ms:
        return 2
    return int(max(2, min(max_calls, round(block_ms / per_call_ms))))


def measure_block_throughput(
    step: Callable[[], Any],
    batch_size: int,
    per_call_ms: float,
    blocks: int = 5,
    timer: Callable[[Callable[[], Any]], float] | None = None,
) -> BlockThroughput:
    """Median images/s over ``blocks`` blocks of back-to-back ``step`` calls.

    The default timer brackets a whole block with CUDA events and synchronises once at its
    end, so the host queues call k+1 while the GPU runs call k, as a serving loop does.
    ``timer(fn) -> ms`` lets tests drive it with known durations."""
    k = block_calls_for(per_call_ms)
    if timer is None:
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def timer(fn: Callable[[], Any]) -> float:
            torch.cuda.synchronize()
            start.record()
            fn()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end))

    def block() -> None:
        for _ in range(k):
            step()

    rates = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(blocks):
            ms = timer(block)
            rates.append(batch_size * k / (ms / 1000.0) if ms > 0 else math.inf)
    finally:
        if gc_was_enabled:
            gc.enable()
    return BlockThroughput(float(np.median(rates)), k, blocks)
