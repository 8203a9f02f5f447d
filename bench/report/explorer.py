"""The report's interactive explorer: Plotly figures that follow a few controls, and
"pick for my budget".

Python prepares one JSON payload per page (speed rows with their accuracy joined in, the raw
timing samples per cell and round, the measured hardware ceilings, the controls); the static
script ``templates/explorer.js.j2`` builds every Plotly trace from it in the browser, so a
control or a budget only re-filters data that is already in the page. The plotly.js bundle
of the installed ``plotly`` package is inlined once per page: nothing is fetched.

Safety: the payload sits in a ``<script type="application/json">`` element with ``<``, ``>``,
``&`` and the two JavaScript line separators written as ``\\uXXXX`` escapes, so no string
from a file can close the element; the script reads it with ``JSON.parse`` and HTML-escapes
every string it hands to Plotly (hover labels and tick labels are HTML-ish there) and sets
every other string as ``textContent``.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from bench import schema
from bench.metrics.stats import median_ci
from bench.report.data import ReportData, not_met, short_name
from bench.report.figures import FAMILY_COLORS, FAMILY_LABELS, SOURCE_LABELS

# Controls in the order they are shown: (payload key, results column); labels from bench/schema.py.
AXES = [
    (key, col, schema.column(col).table_header)
    for key, col in (
        ("device", "device"),
        ("precision", "precision"),
        ("runtime", "runtime"),
        ("threads", "threads_actual"),
        ("img", "img_size"),
        ("batch", "batch_size"),
    )
]
# Plotted values: payload key → results column, for axis titles and hover labels with units.
# "mem" is the activation peak; runs from before it have only the resident-set peak.
VALUES = {
    "params_m": "params_m",
    "gmacs": "gmacs",
    "p50": "latency_ms_p50",
    "tput": "throughput_ips",
    "mem": "act_peak_mb",
    "top1": "top1",
}


def memory_column(d: ReportData) -> str:
    """The memory the report plots: ``act_peak_mb``, or ``rss_peak_mb`` for older runs (as the static figure)."""
    return "act_peak_mb" if d.speed["act_peak_mb"].notna().any() else "rss_peak_mb"


# Samples kept per cell and round: a box plot of 1,000 evenly spaced quantiles is the box
# plot of the raw samples, and a long adaptive run cannot bloat the page.
MAX_SAMPLES = 1000


@dataclass
class Control:
    key: str
    label: str
    values: list[Any]
    default: Any

    @property
    def shown(self) -> bool:
        return len(self.values) > 1


@dataclass
class Explorer:
    """What the template needs: the payload, the controls and whether there is anything to plot."""

    payload: Markup  # JSON, safe to place inside <script type="application/json">
    mem_label: str = ""  # "activation peak (MiB)"
    mem_unit: str = ""
    controls: list[Control] = field(default_factory=list)
    n_rows: int = 0
    has_accuracy: bool = False

    @property
    def empty(self) -> bool:
        return self.n_rows == 0

    @property
    def shown_controls(self) -> list[Control]:
        return [c for c in self.controls if c.shown]


def _round_label(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _thin(values: np.ndarray) -> list[float]:
    v = values[np.isfinite(values)]
    if len(v) > MAX_SAMPLES:
        v = np.quantile(v, np.linspace(0, 1, MAX_SAMPLES))
    return [float(f"{x:.5g}") for x in v]


def _samples_by_cell(samples: pd.DataFrame | None) -> dict[str, list[tuple[str | None, np.ndarray]]]:
    """cell_key → [(round label or None, latencies)], rounds in their natural order."""
    if samples is None or samples.empty or "cell_key" not in samples or "latency_ms" not in samples:
        return {}
    lat = pd.to_numeric(samples["latency_ms"], errors="coerce")
    frame = samples.assign(latency_ms=lat)
    has_round = "round" in frame.columns and frame["round"].notna().any()
    out: dict[str, list[tuple[str | None, np.ndarray]]] = {}
    for key, g in frame.groupby("cell_key", sort=False):
        if has_round and g["round"].notna().any():
            parts: list[tuple[str | None, np.ndarray]] = [
                (_round_label(r), gg["latency_ms"].to_numpy(float)) for r, gg in g.groupby("round", sort=True)
            ]
        else:
            parts = [(None, g["latency_ms"].to_numpy(float))]
        out[str(key)] = parts
    return out


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _text(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _axis_value(v: Any) -> Any:
    """Control values: whole numbers as ints, missing as None, texts as they are."""
    f = _num(v) if not isinstance(v, str) else None
    if f is not None:
        return int(f) if f.is_integer() else f
    if isinstance(v, str):
        return v
    return None


def _default(key: str, values: list[Any]) -> Any:
    """The report's reference configuration (bench/report/data.py): cpu, fp32, eager, the most
    threads, the smallest input and batch."""
    if not values:
        return None
    prefer = {"device": "cpu", "precision": "fp32", "runtime": "eager"}.get(key)
    if prefer in values:
        return prefer
    nums = [v for v in values if isinstance(v, (int, float))]
    if key == "threads" and nums:
        return max(nums)
    if key in ("img", "batch") and nums:
        return min(nums)
    return values[0]


def _sort_values(values: set[Any]) -> list[Any]:
    return sorted(values, key=lambda v: (v is None, isinstance(v, str), v if v is not None else 0))


def _interval(parts: list[tuple[str | None, np.ndarray]], row: pd.Series) -> dict[str, Any] | None:
    """The p50's interval and what it is: the run's own interval over the rounds when it has one
    (bench.rounds: Student t on the log round medians), else the distribution-free 95% CI of the
    median of a single round's samples (bench.metrics.stats.median_ci)."""
    lo, hi = _num(row.get("latency_ms_p50_ci_low")), _num(row.get("latency_ms_p50_ci_high"))
    rounds = [(r, v[np.isfinite(v)]) for r, v in parts]
    rounds = [(r, v) for r, v in rounds if len(v)]
    if lo is not None and hi is not None:
        return {"lo": lo, "hi": hi, "kind": f"95% interval over {len(rounds) or 'the'} rounds"}
    if len(rounds) >= 2:
        # Rounds without the run's interval (an older run): the spread of the round medians.
        meds = [float(np.median(v)) for _, v in rounds]
        return {"lo": min(meds), "hi": max(meds), "kind": f"range of {len(rounds)} round medians"}
    if not rounds or len(rounds[0][1]) < 2:
        return None
    lo, hi = median_ci(rounds[0][1])
    return {"lo": lo, "hi": hi, "kind": "95% CI of the median"}


def build_explorer(d: ReportData) -> Explorer:
    """The explorer's payload and controls for a run (empty when no speed row finished)."""
    sp = d.speed
    mem_col = memory_column(d)
    plotted = {**VALUES, "mem": mem_col}
    by_cell = _samples_by_cell(d.samples)
    acc = d.acc.set_index("model") if not d.acc.empty else None
    rows = []
    for _, r in sp.iterrows():
        parts = by_cell.get(str(r["cell_key"]), [])
        top1, src, dataset, std = None, "", "", None
        if acc is not None and r["model"] in acc.index:
            a = acc.loc[r["model"]]
            top1, src, dataset, std = _num(a["top1"]), _text(a["acc_source"]), _text(a["acc_dataset"]), _num(a["top1_std"])
        rows.append(
            {
                "model": _text(r["model"]),
                "name": short_name(r["model"]),
                "family": _text(r["family"]),
                **{key: _axis_value(r[col]) for key, col, _ in AXES},
                "params_m": _num(r["params_m"]),
                "gmacs": _num(r["gmacs"]),
                "p50": _num(r["latency_ms_p50"]),
                "ci": _interval(parts, r),
                "tput": _num(r["throughput_ips"]),
                "mem": _num(r[mem_col]),
                "top1": top1,
                "top1_std": std,
                "acc_source": src,
                "acc_dataset": dataset,
                "noisy": not_met(r.get("timing_target_met")),
                "samples": [[rnd, _thin(v)] for rnd, v in parts],
            }
        )
    controls = []
    for key, _, label in AXES:
        axis_values = _sort_values({row[key] for row in rows})  # not `values`: the labels below read that
        controls.append(Control(key, label, axis_values, _default(key, axis_values)))
    ceilings = []
    for h in d.hardware if isinstance(d.hardware, list) else []:
        # The measured ceiling: the faster of matmul and 3×3 conv (bench/metrics/hardware.py); older runs: matmul.
        rate = _num(h.get("ceiling_gflops")) or _num(h.get("matmul_gflops")) if isinstance(h, dict) else None
        if rate or (isinstance(h, dict) and _num(h.get("mem_bw_gbs"))):
            kernel = _text(h.get("ceiling_kernel")) or ("matmul" if _num(h.get("matmul_gflops")) else "")
            ceilings.append(
                {
                    "device": _text(h.get("device")),
                    "precision": _text(h.get("precision")) or "fp32",
                    "threads": _axis_value(h.get("threads_actual")),
                    "gflops": rate,
                    "kernel": {"conv3x3": "3×3 conv"}.get(kernel, kernel),
                    "mem_bw_gbs": _num(h.get("mem_bw_gbs")),
                }
            )
    payload = {
        "rows": rows,
        "controls": [asdict(c) for c in controls],
        "ceilings": ceilings,
        "families": {f: {"label": FAMILY_LABELS[f], "color": FAMILY_COLORS[f]} for f in FAMILY_COLORS},
        "sources": SOURCE_LABELS,
        "labels": {key: schema.column(col).label for key, col in plotted.items()},
        "mem_unit": schema.column(mem_col).unit,
    }
    return Explorer(
        script_json(payload),
        schema.column(mem_col).label,
        schema.column(mem_col).unit,
        controls,
        len(rows),
        any(row["top1"] is not None for row in rows),
    )


def script_json(obj: Any) -> Markup:
    """JSON that can sit inside a ``<script>`` element whatever its strings contain."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return Markup(text)


@functools.lru_cache(maxsize=1)
def plotly_js() -> Markup:
    """The plotly.js bundle shipped inside the ``plotly`` package (no network, no CDN)."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    if "</script" in js.lower():  # would end the inline element early; never the case in the releases we use
        raise RuntimeError("the plotly.js bundle contains '</script' and cannot be inlined")
    return Markup(js)


def plotly_version() -> str:
    import plotly

    return str(plotly.__version__)
