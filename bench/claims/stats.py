"""Mean over seeds with a 95% interval, and where an interval lies relative to a threshold.

The interval is Student's t on the per-seed values (n − 1 degrees of freedom): with 3 seeds
it is mean ± 4.30·s/√3, wide on purpose — a verdict on 3 seeds should need a clear effect.
A claim "holds" only when the interval excludes the opposite; an interval that straddles
the threshold gives "inconclusive".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

from scipy import stats as _st

ABOVE, BELOW, STRADDLES = "above", "below", "straddles"


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float
    hi: float
    n: int
    points: tuple[float, ...]  # the per-seed values, in seed order

    def side(self, threshold: float) -> str:
        """ABOVE when the whole interval is > threshold, BELOW when ≤ threshold, else STRADDLES."""
        if self.lo > threshold:
            return ABOVE
        if self.hi <= threshold:
            return BELOW
        return STRADDLES

    def text(self, scale: float = 1.0, digits: int = 1, unit: str = "") -> str:
        """``+12.3 [8.1, 16.5]`` — mean and 95% interval, scaled (100 for points)."""
        f = f"{{:+.{digits}f}}"
        return f"{f.format(self.mean * scale)}{unit} [{f.format(self.lo * scale)}, {f.format(self.hi * scale)}]"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["points"] = list(self.points)
        return d


def ci95(values: Sequence[float]) -> Interval:
    """Mean and two-sided 95% t-interval of per-seed values (zero width for one value or no spread)."""
    v = [float(x) for x in values]
    if not v:
        raise ValueError("ci95 needs at least one value")
    n = len(v)
    mean = sum(v) / n
    if n == 1:
        return Interval(mean, mean, mean, 1, tuple(v))
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1))
    half = float(_st.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, tuple(v))
