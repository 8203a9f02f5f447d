"""The one decision rule shape the trained experiments share, and the seed loop.

An experiment measures, for every seed, an *effect*: the treatment arm minus the reference
arm, signed so that a positive effect is what the claim predicts. Over the seeds it has a
mean and a 95% interval (:func:`bench.claims.stats.ci95`), and

* ``holds``               — the whole interval lies above ``margin``;
* ``does not hold here``  — the whole interval lies at or below ``margin``;
* ``inconclusive``        — the interval straddles ``margin`` (the seeds disagree), or a
  control arm moved as much as the treatment (so the effect cannot be put down to it).

Modules add a ``holds with caveat`` on top where the claim has a second, named part.
"""

from __future__ import annotations

from typing import Callable

from bench.claims.base import FAILS, HOLDS, INCONCLUSIVE, Decision
from bench.claims.stats import ABOVE, BELOW, Interval, ci95


def arm_seed(seed: int, arm: int) -> int:
    """Each arm of each seed gets its own generator seed: arms are independent samples."""
    return 1000 * seed + arm


def decide_effect(
    effect: Interval,
    what: str,
    margin: float = 0.0,
    scale: float = 100.0,
    unit: str = " pts",
    control: Interval | None = None,
    control_what: str = "",
) -> Decision:
    """The shared rule. ``what`` names the effect in words; numbers are shown ×``scale``."""
    shown = f"{what}: {effect.text(scale, unit=unit)} (mean [95% interval] over {effect.n} seeds)"
    if control is not None and effect.mean > margin and control.mean >= effect.mean:
        return Decision(
            INCONCLUSIVE, f"{shown}, but the control ({control_what}) moved as much: {control.text(scale, unit=unit)}"
        )
    side = effect.side(margin)
    if side == ABOVE:
        return Decision(HOLDS)
    if side == BELOW:
        return Decision(FAILS, f"{shown}: the interval lies at or below {margin * scale:g}{unit}")
    return Decision(INCONCLUSIVE, f"{shown}: the interval straddles {margin * scale:g}{unit}")


def over_seeds(seeds: tuple[int, ...], one: Callable[[int], dict]) -> list[dict]:
    """Run ``one(seed)`` for every seed; each returns a flat dict of that seed's judged numbers."""
    return [{"seed": s, **one(s)} for s in seeds]


def interval(rows: list[dict], key: str) -> Interval:
    return ci95([r[key] for r in rows])


def mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)
