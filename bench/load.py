"""Other processes' CPU use while a cell is timed, measured around every timing pass.

The run-start check (bench.env.measure_load) sees one half-second before the run; a phase
of load that begins later lands on the timings unseen. Around each timing pass the worker
reads the machine's busy CPU time (``/proc/stat``: user, nice, system, irq, softirq, steal)
and its own CPU time (``os.times``, all its threads); the difference over the wall time is the
CPU that *other* processes used meanwhile, in percent of one core (``other_cpu_pct``). It
costs two file reads per pass and needs no sampling thread. Jiffy resolution (10 ms) makes it
±2% of a core over a 0.5 s pass.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

# Other processes using more than this share of one core during a timing pass mark it busy:
# the same limit as the run-start check (bench.env.measure_load, threshold 0.25).
BUSY_OTHER_CPU_PCT = 25.0

LOAD_RULE = (
    "other_cpu_pct: CPU used by other processes during each timing pass, in % of one core "
    "(/proc/stat busy time minus the worker's own CPU time, over the pass's wall time); "
    f"a pass with more than {BUSY_OTHER_CPU_PCT:g}% is busy (load_busy); compare does not decide on busy cells"
)


def _busy_seconds() -> float | None:
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    vals = [int(v) for v in fields[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already inside user)
    busy = vals[0] + vals[1] + vals[2] + sum(vals[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


@dataclass
class LoadReading:
    other_cpu_pct: float | None  # None where /proc/stat is unavailable
    wall_s: float

    @property
    def busy(self) -> bool | None:
        return None if self.other_cpu_pct is None else self.other_cpu_pct > BUSY_OTHER_CPU_PCT

    def as_row(self) -> dict[str, object]:
        return {"other_cpu_pct": None if self.other_cpu_pct is None else round(self.other_cpu_pct, 1), "load_busy": self.busy}


class CpuWatch:
    """``with CpuWatch() as w: ...`` then ``w.reading``: other processes' CPU during the block."""

    def __enter__(self) -> "CpuWatch":
        self._t0 = time.perf_counter()
        self._busy0 = _busy_seconds()
        self._own0 = _own_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        busy1 = _busy_seconds()
        own = _own_seconds() - self._own0
        if self._busy0 is None or busy1 is None or wall <= 0:
            self.reading = LoadReading(None, wall)
            return
        other = max(0.0, (busy1 - self._busy0) - own) / wall * 100
        self.reading = LoadReading(other, wall)
