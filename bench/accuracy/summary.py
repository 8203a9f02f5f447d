"""Small helpers for tables and plots of accuracy rows (pure functions over plain values).

- :func:`pareto_mask` marks the accuracy-vs-cost Pareto front: a point is on it when no
  other point is at least as cheap and at least as accurate, and strictly better in one.
- :func:`data_efficiency` turns ``scratch`` rows of a fractions sweep into one line per
  model: (fraction, mean top-1, std) sorted by fraction, for the data-efficiency curves.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from bench.axes import ACC_SOURCES


def pareto_mask(costs: Sequence[float], accuracies: Sequence[float]) -> list[bool]:
    """True for points on the front (lower cost and higher accuracy are better); NaN never is."""
    pts = list(zip(costs, accuracies))
    ok = [not (math.isnan(float(c)) or math.isnan(float(a))) for c, a in pts]
    out = []
    for i, (c, a) in enumerate(pts):
        if not ok[i]:
            out.append(False)
            continue
        dominated = any(ok[j] and c2 <= c and a2 >= a and (c2 < c or a2 > a) for j, (c2, a2) in enumerate(pts) if j != i)
        out.append(not dominated)
    return out


def data_efficiency(rows: Iterable[dict[str, Any]]) -> dict[str, list[tuple[float, float, float]]]:
    """{model: [(train_fraction, top1 mean, top1 std), …]} from ok ``scratch`` rows."""
    curves: dict[str, list[tuple[float, float, float]]] = {}
    for r in rows:
        if r.get("acc_source") != "scratch" or r.get("status") != "ok" or r.get("top1") is None:
            continue
        frac = float(r.get("train_fraction") or 1.0)
        curves.setdefault(str(r["model"]), []).append((frac, float(r["top1"]), float(r.get("top1_std") or 0.0)))
    return {m: sorted(v) for m, v in curves.items()}


# When a model has several accuracy figures, the one from its own data wins: bench.axes lists
# the sources in that order (measured, scratch, reported).


def one_accuracy_per_model(df: Any) -> Any:
    """The ok accuracy rows with a top-1, one per model (measured beats scratch beats reported)."""
    import pandas as pd

    need = ["model", "status", "task", "top1", "acc_source"]
    d = df.reindex(columns=list(dict.fromkeys(list(df.columns) + need)))
    acc = d[(d["status"] == "ok") & (d["task"] == "accuracy") & pd.to_numeric(d["top1"], errors="coerce").notna()].copy()
    if acc.empty:
        return acc
    rank = {s: i for i, s in enumerate(ACC_SOURCES)}
    acc["_rank"] = acc["acc_source"].map(lambda s: rank.get(s, len(rank)))
    return acc.sort_values(["model", "_rank"]).drop_duplicates("model").drop(columns="_rank")
