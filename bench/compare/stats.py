"""Statistics for comparing two sets of timing samples.

- Significance: Mann–Whitney U, two-sided, on the raw per-iteration samples. It makes no
  normality assumption (latency distributions are skewed, with a long right tail) and is
  insensitive to a few outliers. The direction of a change comes from the median ratio.
- Size: ratio of medians NEW / BASE, with a percentile bootstrap confidence interval: both
  sample sets are resampled with replacement, independently, ``n_resamples`` times and the
  ratio of the resampled medians is taken each time. The generator is seeded, so the same
  inputs always give the same interval.
- Noise guard: the fast tail of each run, its ``quiet_quantile`` (default the 10th percentile)
  of per-call latency. Other processes on the machine (preemption, cache and SMT contention)
  lengthen some calls and leave the fastest ones nearly untouched; a real regression lengthens
  every call, the fastest included. The ratio of the two fast tails (``quiet_ratio``) is the
  second opinion the decision rule asks for before calling a change.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SampleComparison:
    n_base: int
    n_new: int
    median_base: float
    median_new: float
    ratio: float  # median_new / median_base
    ci_low: float
    ci_high: float
    p_value: float
    quiet_base: float  # fast tail (quiet_quantile) of each run
    quiet_new: float

    @property
    def quiet_ratio(self) -> float:
        return self.quiet_new / self.quiet_base if self.quiet_base > 0 else math.inf


def mann_whitney_p(base: np.ndarray, new: np.ndarray) -> float:
    """Two-sided Mann–Whitney U p-value (normal approximation with tie correction for large n)."""
    from scipy.stats import mannwhitneyu

    base = np.asarray(base, dtype=float)
    new = np.asarray(new, dtype=float)
    if np.ptp(np.concatenate([base, new])) == 0:
        return 1.0  # every sample identical: no evidence of any difference
    return float(mannwhitneyu(new, base, alternative="two-sided").pvalue)


def bootstrap_median_ratio_ci(
    base: np.ndarray, new: np.ndarray, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of median(new) / median(base)."""
    base = np.asarray(base, dtype=float)
    new = np.asarray(new, dtype=float)
    rng = np.random.default_rng(seed)
    ratios = np.empty(n_resamples)
    # Chunks bound the memory of the index matrices for large sample sets.
    chunk = max(1, min(n_resamples, 2_000_000 // max(len(base), len(new), 1)))
    for start in range(0, n_resamples, chunk):
        k = min(chunk, n_resamples - start)
        mb = np.median(base[rng.integers(0, len(base), size=(k, len(base)))], axis=1)
        mn = np.median(new[rng.integers(0, len(new), size=(k, len(new)))], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[start : start + k] = mn / mb
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.nanpercentile(ratios, [tail, 100 - tail])
    return float(lo), float(hi)


def quiet_latency(samples: np.ndarray, quantile: float = 0.10) -> float:
    """The run's fast tail: the ``quantile`` of its samples (linear interpolation)."""
    return float(np.quantile(np.asarray(samples, dtype=float), quantile))


def stable_seed(seed: int, *parts: str) -> int:
    """A per-cell seed that does not depend on Python's randomised str hash."""
    return (seed * 1_000_003 + zlib.crc32("|".join(parts).encode())) % (2**32)


def compare_samples(
    base: np.ndarray,
    new: np.ndarray,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    quiet_quantile: float = 0.10,
) -> SampleComparison:
    base = np.asarray(base, dtype=float)
    new = np.asarray(new, dtype=float)
    base = base[np.isfinite(base)]
    new = new[np.isfinite(new)]
    mb, mn = float(np.median(base)), float(np.median(new))
    ratio = mn / mb if mb > 0 else math.inf
    lo, hi = bootstrap_median_ratio_ci(base, new, n_resamples, confidence, seed)
    qb, qn = quiet_latency(base, quiet_quantile), quiet_latency(new, quiet_quantile)
    return SampleComparison(len(base), len(new), mb, mn, ratio, lo, hi, mann_whitney_p(base, new), qb, qn)


# ---------------------------------------------------------------------------- rounds
#
# Each round is one worker process, and processes settle at their own levels, so the samples
# of one round are replicates of that round only. Between runs the unit of replication is the
# round: a run's latency is the median of its round medians, and a test asks whether the two
# runs' round medians differ by more than their between-round spread explains.


@dataclass(frozen=True)
class RoundComparison:
    """Two runs' cell, compared on round medians (``paired`` when round i of each side was
    measured back to back, as in ``archbench ab``)."""

    n_base: int  # rounds used on each side (pairs, when paired)
    n_new: int
    median_base: float  # median of round medians
    median_new: float
    ratio: float  # median_new / median_base (paired: exp of the mean log ratio of the pairs)
    ci_low: float
    ci_high: float
    p_value: float
    quiet_base: float  # median over rounds of each round's fast tail
    quiet_new: float
    test: str
    paired: bool = False

    @property
    def quiet_ratio(self) -> float:
        return self.quiet_new / self.quiet_base if self.quiet_base > 0 else math.inf


def welch_log_test(base: np.ndarray, new: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Welch's t-test on log values: (p, ci_low, ci_high) for the ratio of geometric means new/base.

    Latency is a ratio scale and process-to-process spread is multiplicative, so logs make the
    two sides' spread comparable whatever their level; Welch allows the spreads to differ."""
    from scipy.stats import t

    lb, ln = np.log(np.asarray(base, dtype=float)), np.log(np.asarray(new, dtype=float))
    diff = float(ln.mean() - lb.mean())
    vb, vn = lb.var(ddof=1) / lb.size, ln.var(ddof=1) / ln.size
    se = math.sqrt(vb + vn)
    if se == 0:  # identical rounds on both sides (only synthetic data gets here)
        return (1.0 if diff == 0 else 0.0), math.exp(diff), math.exp(diff)
    dof = (vb + vn) ** 2 / ((vb**2 / (lb.size - 1) if lb.size > 1 else 0) + (vn**2 / (ln.size - 1) if ln.size > 1 else 0))
    p = float(2 * t.sf(abs(diff) / se, dof))
    half = float(t.ppf(0.5 + confidence / 2, dof)) * se
    return p, math.exp(diff - half), math.exp(diff + half)


def paired_log_test(base: np.ndarray, new: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """One-sample t-test on the paired log ratios log(new_i / base_i): (ratio, p, ci_low, ci_high).

    Pairing cancels what both members of a pair share: the machine's load at that moment,
    thermal state, drift over the run."""
    from scipy.stats import t

    d = np.log(np.asarray(new, dtype=float)) - np.log(np.asarray(base, dtype=float))
    mean = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(d.size)
    if se == 0:
        return math.exp(mean), (1.0 if mean == 0 else 0.0), math.exp(mean), math.exp(mean)
    p = float(2 * t.sf(abs(mean) / se, d.size - 1))
    half = float(t.ppf(0.5 + confidence / 2, d.size - 1)) * se
    return math.exp(mean), p, math.exp(mean - half), math.exp(mean + half)


def compare_rounds(
    base_rounds: list[np.ndarray],
    new_rounds: list[np.ndarray],
    confidence: float = 0.95,
    quiet_quantile: float = 0.10,
    paired: bool = False,
) -> RoundComparison:
    """Round-level comparison. Each list holds one array of per-call samples per round (at least
    two rounds per side; ``paired`` needs the same count, round i of BASE paired with round i of NEW)."""
    mb = np.array([float(np.median(r)) for r in base_rounds])
    mn = np.array([float(np.median(r)) for r in new_rounds])
    qb = float(np.median([quiet_latency(r, quiet_quantile) for r in base_rounds]))
    qn = float(np.median([quiet_latency(r, quiet_quantile) for r in new_rounds]))
    if paired:
        ratio, p, lo, hi = paired_log_test(mb, mn, confidence)
        # the fast tail compared pair by pair too: load both members shared cancels in the ratio
        tails = [quiet_latency(n, quiet_quantile) / quiet_latency(b, quiet_quantile) for b, n in zip(base_rounds, new_rounds)]
        qn = qb * float(np.median(tails))
        return RoundComparison(
            len(mb),
            len(mn),
            float(np.median(mb)),
            float(np.median(mn)),
            ratio,
            lo,
            hi,
            p,
            qb,
            qn,
            "paired t on log round ratios",
            True,
        )
    p, lo, hi = welch_log_test(mb, mn, confidence)
    ratio = float(np.median(mn) / np.median(mb))
    return RoundComparison(
        len(mb), len(mn), float(np.median(mb)), float(np.median(mn)), ratio, lo, hi, p, qb, qn, "Welch t on log round medians"
    )
