"""Latency measurement: warm-up until stable, then adaptive sampling.

Rule (stored in run.json as TIMING_RULE):
1. Warm-up runs at least ``warmup_min_iters`` iterations and continues until the last three
   iteration times lie within 10% of their median, or ``warmup_max_s`` is spent.
2. Measurement times every iteration separately and keeps every sample. It stops as soon
   as it has ``min_samples`` and the relative IQR (IQR / median) is at most
   ``target_rel_iqr``; otherwise when ``max_time_s`` or ``max_samples`` is reached, and then
   the result is flagged ``timing_target_met = False``.
3. The timed region is only the model call. On CPU the clock is ``time.perf_counter_ns``
   (monotonic); on CUDA each iteration is bracketed by CUDA events and the end event is
   synchronized before the next iteration, so queued kernels are never mistaken for speed.
4. Python's cyclic garbage collector is paused for warm-up and measurement (as ``timeit``
   does), so a collection triggered by the harness's own bookkeeping never lands inside a
   sample. (No full collection is forced first: with torch, torchvision and timm loaded it
   costs about 0.3 s and is not needed for that.)

The harness adds one Python call and two clock reads per iteration to the model call;
``benchmarks/overhead.py`` measures the total against a bare ``for`` loop.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from bench.metrics.stats import rel_iqr

TIMING_RULE = (
    "warm-up >= warmup_min_iters until the last 3 iterations are within 10% of their median "
    "(or warmup_max_s); then per-iteration samples until n >= min_samples and IQR/median <= "
    "target_rel_iqr, else stop at max_time_s or max_samples and flag timing_target_met=false; "
    "timed region = model call only; CPU: perf_counter_ns; CUDA: events + synchronize; "
    "gc paused while timing"
)


class TimingConfig(BaseModel):
    """The measurement budget of the rule above; a suite's ``timing:`` block is this plus the
    ceiling measurement's ``ceiling_s`` (bench.suite.TimingSpec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # StrictInt: YAML's `true` or "8" is not a count
    warmup_min_iters: StrictInt = Field(default=3, ge=0)
    warmup_max_s: float = Field(default=10.0, gt=0)
    min_samples: StrictInt = Field(default=10, ge=1)
    max_samples: StrictInt = Field(default=500, ge=1)
    max_time_s: float = Field(default=5.0, gt=0)
    target_rel_iqr: float = Field(default=0.05, gt=0)

    @model_validator(mode="after")
    def _min_le_max(self) -> "TimingConfig":
        if self.min_samples > self.max_samples:
            raise ValueError(f"min_samples ({self.min_samples}) must not exceed max_samples ({self.max_samples})")
        return self

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "TimingConfig":
        """Build from a suite's ``timing`` block; keys for other stages (``ceiling_s``) are ignored."""
        return cls(**{k: v for k, v in (d or {}).items() if k in TimingConfig.model_fields})


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
        return {"warmup_iters": self.warmup_iters, "warmup_s": round(self.warmup_s, 3),
                "warmup_stable": self.warmup_stable, "timing_target_met": self.target_met,
                "timing_stop_reason": self.stop_reason, "timing_clock": self.clock}


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
    t_meas = time.perf_counter()
    while True:
        samples.append(clock.time_once(step))
        n = len(samples)
        if n >= cfg.min_samples and rel_iqr(samples) <= cfg.target_rel_iqr:
            res.target_met, res.stop_reason = True, "target_met"
            break
        if n >= cfg.max_samples:
            res.stop_reason = "max_samples"
            break
        if time.perf_counter() - t_meas >= cfg.max_time_s and n >= cfg.min_samples:
            res.stop_reason = "time_budget"
            break
    res.wall_s = time.perf_counter() - t_start
