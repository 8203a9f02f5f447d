"""Summary statistics of timing samples (kept apart from measuring and from presenting).

Percentile support: a percentile q is reported only when at least :data:`TAIL_SUPPORT` (10)
samples lie beyond it, i.e. n >= 10 / min(q, 100 - q) * 100 (p90 → 100 samples, p99 → 1,000,
p99.9 → 10,000). With fewer, the interpolation would be between the last few order
statistics: a maximum labelled as a tail. Such a percentile is left empty (NaN) and
``latency_note`` says why. The median is the exception: it is always reported (it is the
figure throughput and compare are built on) and the note states when it has less than its
support (20 samples).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


TAIL_SUPPORT = 10  # samples that must lie beyond a percentile for it to be reported
STANDARD_PERCENTILES = (50.0, 90.0, 99.0)  # always columns of the table (empty without support)


def samples_for(q: float) -> int:
    """Samples needed so that TAIL_SUPPORT of them lie beyond percentile ``q`` (0 < q < 100)."""
    if not 0 < q < 100:
        raise ValueError(f"percentile must be strictly between 0 and 100, got {q}")
    tail = round(min(q, 100 - q), 9)  # 100 - 99.9 is 0.0999…: round before dividing
    return math.ceil(round(TAIL_SUPPORT * 100 / tail, 6))


def percentile_column(q: float) -> str:
    """Column name of percentile ``q``: 90 → latency_ms_p90, 99.9 → latency_ms_p99_9."""
    text = f"{q:g}".replace(".", "_")
    return f"latency_ms_p{text}"


@dataclass(frozen=True)
class LatencyStats:
    """Distribution summary of per-iteration latencies, all in milliseconds.

    Percentiles use linear interpolation between order statistics (numpy's default).
    ``latency_cv`` is std / mean; ``latency_rel_iqr`` is IQR / median, the robust spread that
    the adaptive stopping rule targets.
    """

    n_samples: int
    latency_ms_mean: float
    latency_ms_p50: float
    latency_ms_p90: float
    latency_ms_p99: float
    latency_ms_min: float
    latency_ms_max: float
    latency_ms_std: float
    latency_ms_iqr: float
    latency_ms_mad: float
    latency_cv: float
    latency_rel_iqr: float
    latency_note: str = ""  # requested percentiles left empty for lack of samples, and why
    extra_percentiles: tuple[tuple[str, float], ...] = ()  # requested ones beyond p50/p90/p99

    def as_row(self) -> dict[str, float | str]:
        row = asdict(self)
        row.pop("extra_percentiles")
        row.update(dict(self.extra_percentiles))
        return row


def rel_iqr(samples_ms: np.ndarray | list[float]) -> float:
    a = np.asarray(samples_ms, dtype=float)
    if a.size < 2:
        return math.inf
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return float((q3 - q1) / med) if med > 0 else math.inf


def supported_percentile(a: np.ndarray, q: float) -> float:
    """Percentile ``q`` of ``a`` when the samples support it (see module docstring), else NaN."""
    return float(np.percentile(a, q)) if a.size >= samples_for(q) else math.nan


def support_note(n: int, requested: tuple[float, ...] | list[float]) -> str:
    """Why requested percentiles are empty (or, for the median, thinly supported); '' if none."""
    parts = []
    for q in sorted(set(float(x) for x in requested)):
        need = samples_for(q)
        if n < need:
            what = "median from" if q == 50 else f"p{q:g} empty:"
            parts.append(f"{what} {n} samples, p{q:g} needs {need} ({TAIL_SUPPORT} beyond it)")
    return "; ".join(parts)


def summarize(samples_ms: np.ndarray | list[float], percentiles: tuple[float, ...] | list[float] = (50.0, 90.0)) -> LatencyStats:
    """Statistics of ``samples_ms``; ``percentiles`` are the ones the suite asked for (they
    decide what the note reports; p50/p90/p99 are columns either way, empty without support)."""
    a = np.asarray(samples_ms, dtype=float)
    if a.size == 0:
        raise ValueError("no samples to summarize")
    q1, p50, q3 = np.percentile(a, [25, 50, 75])
    p90, p99 = supported_percentile(a, 90), supported_percentile(a, 99)
    extra = tuple(
        (percentile_column(q), supported_percentile(a, q))
        for q in sorted(set(float(x) for x in percentiles))
        if q not in STANDARD_PERCENTILES
    )
    mean = float(a.mean())
    std = float(a.std(ddof=1)) if a.size > 1 else 0.0
    return LatencyStats(
        n_samples=int(a.size),
        latency_ms_mean=mean,
        latency_ms_p50=float(p50),
        latency_ms_p90=float(p90),
        latency_ms_p99=float(p99),
        latency_ms_min=float(a.min()),
        latency_ms_max=float(a.max()),
        latency_ms_std=std,
        latency_ms_iqr=float(q3 - q1),
        latency_ms_mad=float(np.median(np.abs(a - p50))),
        latency_cv=std / mean if mean > 0 else math.nan,
        latency_rel_iqr=float((q3 - q1) / p50) if p50 > 0 else math.nan,
        latency_note=support_note(int(a.size), percentiles),
        extra_percentiles=extra,
    )


def median_ci(samples_ms: np.ndarray | list[float], level: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median from order statistics.

    The number of samples below the median is Binomial(n, 1/2); the ranks n/2 ± z·√n/2 bound it
    at ``level`` (normal approximation, fine from ~10 samples). No resampling, so no seed.
    """
    a = np.sort(np.asarray(samples_ms, dtype=float))
    n = a.size
    if n == 0:
        return math.nan, math.nan
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    half = z * math.sqrt(n) / 2
    lo = max(0, int(math.floor(n / 2 - half)) - 1)
    hi = min(n - 1, int(math.ceil(n / 2 + half)) - 1)
    return float(a[lo]), float(a[hi])
