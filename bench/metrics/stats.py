"""Summary statistics of timing samples (kept apart from measuring and from presenting)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


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
    latency_cv: float
    latency_rel_iqr: float

    def as_row(self) -> dict[str, float]:
        return asdict(self)


def rel_iqr(samples_ms: np.ndarray | list[float]) -> float:
    a = np.asarray(samples_ms, dtype=float)
    if a.size < 2:
        return math.inf
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return float((q3 - q1) / med) if med > 0 else math.inf


def summarize(samples_ms: np.ndarray | list[float]) -> LatencyStats:
    a = np.asarray(samples_ms, dtype=float)
    if a.size == 0:
        raise ValueError("no samples to summarize")
    q1, p50, q3, p90, p99 = np.percentile(a, [25, 50, 75, 90, 99])
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
        latency_cv=std / mean if mean > 0 else math.nan,
        latency_rel_iqr=float((q3 - q1) / p50) if p50 > 0 else math.nan,
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
