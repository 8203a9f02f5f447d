"""What the report shows, prepared once from a run's tables: clean columns, the reference
configuration per model, the accuracy join, the summary table and the hardware ceiling.

Conventions:
- A run's rows are ``task == "speed"`` (params, GMACs, latency, memory) or
  ``task == "accuracy"`` (``top1``/``top5`` in percent, ``acc_source`` in
  {measured, scratch, reported}). Accuracy joins speed by model name.
- The *reference configuration* of a (model, device) pair is the one the headline
  figures use: runtime ``eager`` when present, precision ``fp32`` when present, the
  smallest input size, the most threads, and the smallest batch for latency (the largest
  batch for throughput).
- Any column may be missing (old runs, other suites, CSV input): the frame is reindexed
  so every column the report reads exists, empty where the run did not measure it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench.axes import FAMILIES

NUMERIC_COLUMNS = [
    "batch_size",
    "img_size",
    "threads",
    "threads_actual",
    "params",
    "params_m",
    "gmacs",
    "gflops",
    "latency_ms_p50",
    "latency_ms_p50_ci_low",
    "latency_ms_p50_ci_high",
    "latency_ms_mean",
    "latency_ms_p90",
    "latency_ms_p99",
    "latency_ms_min",
    "latency_ms_max",
    "latency_ms_iqr",
    "latency_cv",
    "latency_rel_iqr",
    "n_samples",
    "throughput_ips",
    "throughput_ips_pipelined",
    "act_peak_mb",
    "act_total_mb",
    "rss_peak_mb",
    "cuda_peak_alloc_mb",
    "cuda_peak_reserved_mb",
    "cuda_weights_mb",
    "weight_mb",
    "top1",
    "top5",
    "top1_std",
    "acc_n_images",
    "duration_s",
    "achieved_gflops",
    "ceiling_gflops",
    "ceiling_theoretical_gflops",
    "efficiency",
    "compile_s",
    "energy_j_per_img",
]
TEXT_COLUMNS = [
    "run_id",
    "cell_key",
    "suite",
    "task",
    "model",
    "family",
    "device",
    "precision",
    "runtime",
    "status",
    "error",
    "acc_source",
    "acc_dataset",
    "timing_stop_reason",
    "mem_method",
    "latency_note",
    "ceiling_kernel",
    "efficiency_note",
    "energy_note",
    "tf32",
]


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def clean_results(df: pd.DataFrame) -> pd.DataFrame:
    """Every column the report reads, with numbers as floats and texts as strings."""
    df = df.copy()
    for c in NUMERIC_COLUMNS:
        df[c] = pd.to_numeric(df[c], errors="coerce") if c in df.columns else np.nan
        df[c] = df[c].astype(float)
    for c in TEXT_COLUMNS:
        df[c] = df[c].map(_text) if c in df.columns else ""
    df["family"] = df["family"].map(lambda f: f if f in FAMILIES else "other")
    df["task"] = df["task"].replace("", "speed")
    df["status"] = df["status"].replace("", "ok")
    if "timing_target_met" not in df.columns:
        df["timing_target_met"] = np.nan
    return df.reset_index(drop=True)


def speed_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["status"] == "ok") & (df["task"] == "speed")]


def accuracy_rows(df: pd.DataFrame) -> pd.DataFrame:
    """One accuracy per model (bench.accuracy.summary.one_accuracy_per_model)."""
    from bench.accuracy.summary import one_accuracy_per_model

    return one_accuracy_per_model(df)


def _prefer(group: pd.DataFrame, col: str, preferred: Any) -> pd.DataFrame:
    if (group[col] == preferred).any():
        return group[group[col] == preferred]
    first = group[col].iloc[0]
    return group[group[col] == first]


def reference_rows(speed: pd.DataFrame, batch: str = "min") -> pd.DataFrame:
    """One row per (model, device) in the reference configuration (see module docstring);
    ``batch`` "min" for latency, "max" for throughput."""
    speed = speed.dropna(subset=["latency_ms_p50"]) if "latency_ms_p50" in speed else speed
    out = []
    for _, g in speed.groupby(["model", "device"], sort=False):
        g = _prefer(g, "runtime", "eager")
        g = _prefer(g, "precision", "fp32")
        if g["img_size"].notna().any():
            g = g[g["img_size"] == g["img_size"].min()]
        if g["threads_actual"].notna().any():
            g = g[g["threads_actual"] == g["threads_actual"].max()]
        pick = g["batch_size"].idxmin() if batch == "min" else g["batch_size"].idxmax()
        out.append(g.loc[pick] if not pd.isna(pick) else g.iloc[0])
    return pd.DataFrame(out) if out else speed.iloc[0:0]


def headline_rows(speed: pd.DataFrame, batch: str = "min") -> pd.DataFrame:
    """One row per (model, device): the best configuration the run measured at the smallest input
    size and the smallest batch ("min", fastest p50) or the largest batch ("max", most img/s).

    Every measured axis competes (runtime, precision, threads); a non-reference variant only
    when its output matched fp32 eager (bench.best.eligibility), so a wrong answer never heads
    the table.
    """
    from bench.best import eligibility

    speed = speed.dropna(subset=["latency_ms_p50"]) if "latency_ms_p50" in speed else speed
    out = []
    for _, g in speed.groupby(["model", "device"], sort=False):
        g = g[[eligibility(r) is None for _, r in g.iterrows()]]
        if g.empty:
            continue
        if g["img_size"].notna().any():
            g = g[g["img_size"] == g["img_size"].min()]
        g = g[g["batch_size"] == (g["batch_size"].min() if batch == "min" else g["batch_size"].max())]
        pick = g["latency_ms_p50"].idxmin() if batch == "min" else g["throughput_ips"].fillna(-1).idxmax()
        out.append(g.loc[pick])
    return pd.DataFrame(out) if out else speed.iloc[0:0]


def same_config(speed: pd.DataFrame, ref: pd.Series) -> pd.DataFrame:
    """Speed rows of ``ref``'s model and device in its runtime/precision/size/threads."""
    m = (speed["model"] == ref["model"]) & (speed["device"] == ref["device"])
    for c in ("runtime", "precision", "img_size", "threads_actual"):
        m &= (speed[c] == ref[c]) if not pd.isna(ref[c]) else speed[c].isna()
    return speed[m]


def matmul_ceiling_gflops(
    hardware: Any, device: str, precision: str = "fp32", threads_actual: float | None = None
) -> float | None:
    """The device's measured matmul rate in GFLOP/s from run.json ``hardware``, or None.

    The runner stores a list of ceilings, one per (device, precision, threads) the run used
    (``bench.metrics.hardware.Ceiling``: ``device``, ``precision``, ``threads_actual``,
    ``matmul_gflops``…); the entry with the same thread count wins, else the fastest for the
    device and precision. Dicts are read too: ``{device: {"matmul_gflops": x or {precision: x}}}``
    or ``{"matmul_gflops": x}``. Anything else, or a ceiling not measured, gives None.
    """
    if isinstance(hardware, list):

        def rate(h: dict) -> float | None:  # the measured ceiling (max of matmul and conv); older runs: matmul
            return _pick_rate(h.get("ceiling_gflops"), device, precision) or _pick_rate(h.get("matmul_gflops"), device, precision)

        hits = [
            h
            for h in hardware
            if isinstance(h, dict) and h.get("device") == device and h.get("precision", precision) == precision and rate(h)
        ]
        if not hits:
            return None
        same = [h for h in hits if threads_actual is not None and h.get("threads_actual") == threads_actual]
        best = same or hits
        return max(rate(h) or 0.0 for h in best) or None
    if not isinstance(hardware, dict):
        return None
    scopes: list[dict] = []
    for key in (device, f"{device}:0"):
        if isinstance(hardware.get(key), dict):
            scopes.append(hardware[key])
    for key, v in hardware.items():
        if isinstance(key, str) and key.split(":")[0] == device and isinstance(v, dict) and v not in scopes:
            scopes.append(v)
    scopes.append(hardware)
    for scope in scopes:
        got = _pick_rate(scope.get("matmul_gflops"), device, precision)
        if got is not None:
            return got
    return None


def ceiling_entries(hardware: Any) -> list[dict[str, Any]]:
    """The measured ceilings as a list of dicts (empty when run.json has none)."""
    if isinstance(hardware, list):
        return [h for h in hardware if isinstance(h, dict)]
    return []


def _pick_rate(v: Any, device: str, precision: str, depth: int = 0) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v) if math.isfinite(v) and v > 0 else None
    if isinstance(v, dict) and depth < 2:
        for key in (precision, device, "value", "gflops"):
            if key in v:
                got = _pick_rate(v[key], device, precision, depth + 1)
                if got is not None:
                    return got
    return None


@dataclass
class SummaryRow:
    model: str
    family: str
    device: str
    params_m: float
    gmacs: float
    latency_ms_p50: float
    latency_ms_p90: float  # empty when fewer than 100 samples support it (latency_note)
    latency_rel_iqr: float
    noisy: bool
    batch_size: float
    throughput_ips: float
    throughput_batch: float
    act_peak_mb: float  # at the throughput (largest) batch, where activations dominate
    top1: float
    acc_source: str
    efficiency: float = math.nan  # of the throughput row: achieved GFLOP/s / measured ceiling GFLOP/s
    pareto: bool = False
    efficiency_note: str = ""  # why an efficiency above 100% can happen (bench.metrics.hardware)
    p50_ci: tuple[float, float] | None = None  # 95% interval of the median from the rounds (bench.rounds)
    latency_note: str = ""  # percentiles left empty for lack of samples
    # The configuration that won the latency column (and the throughput column, when it differs).
    runtime: str = ""
    precision: str = ""
    threads: str = ""
    throughput_config: str = ""
    thread_scaling: str = ""  # where more threads ran slower than fewer (bench.best.thread_inversions)


@dataclass
class ReportData:
    """Everything the figures and tables need, computed once."""

    df: pd.DataFrame
    samples: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.df = clean_results(self.df)
        self.speed = speed_rows(self.df)
        self.acc = accuracy_rows(self.df)
        self.ref = reference_rows(self.speed, "min")
        self.ref_max = reference_rows(self.speed, "max")
        self.head = headline_rows(self.speed, "min")
        self.head_max = headline_rows(self.speed, "max")
        self.devices = sorted(d for d in self.df["device"].unique() if d)
        self.hardware = self.meta.get("hardware") if isinstance(self.meta, dict) else None

    def varied_axes(self) -> list[str]:
        """The configuration axes this run measured more than one value of (headline columns)."""
        out = []
        for c in ("runtime", "precision", "threads"):
            if c in self.speed and self.speed[c].map(lambda v: "all" if pd.isna(v) else str(v)).nunique() > 1:
                out.append(c)
        return out

    @property
    def multi_device(self) -> bool:
        return self.speed["device"].nunique() > 1

    def label(self, row: pd.Series) -> str:
        """Short model name (registry prefix dropped), with the device when several."""
        name = short_name(row["model"])
        return f"{name} ({row['device']})" if self.multi_device else name

    def top1_of(self, model: str) -> tuple[float, str]:
        hit = self.acc[self.acc["model"] == model]
        if hit.empty:
            return math.nan, ""
        return float(hit["top1"].iloc[0]), hit["acc_source"].iloc[0]

    def ceiling(self, device: str, precision: str, threads_actual: float | None = None) -> float | None:
        return matmul_ceiling_gflops(self.hardware, device, precision, threads_actual)

    def summary(self) -> list[SummaryRow]:
        """One row per (model, device), fastest first: the headline table."""
        from bench.best import thread_inversions

        rows = []
        tmax = {(r["model"], r["device"]): r for _, r in self.head_max.iterrows()}
        for _, r in self.head.iterrows():
            big = tmax.get((r["model"], r["device"]), r)
            top1, src = self.top1_of(r["model"])
            noisy = not_met(r.get("timing_target_met"))
            same = self.speed[
                (self.speed["model"] == r["model"])
                & (self.speed["device"] == r["device"])
                & (self.speed["batch_size"] == r["batch_size"])
                & (self.speed["img_size"] == r["img_size"])
            ]
            rows.append(
                SummaryRow(
                    r["model"],
                    r["family"],
                    r["device"],
                    r["params_m"],
                    r["gmacs"],
                    r["latency_ms_p50"],
                    r["latency_ms_p90"],
                    r["latency_rel_iqr"],
                    noisy,
                    r["batch_size"],
                    big["throughput_ips"],
                    big["batch_size"],
                    big["act_peak_mb"],
                    top1,
                    src,
                    big["efficiency"],
                    efficiency_note=big["efficiency_note"],
                    latency_note=r["latency_note"],
                    p50_ci=None
                    if pd.isna(r["latency_ms_p50_ci_low"]) or pd.isna(r["latency_ms_p50_ci_high"])
                    else (float(r["latency_ms_p50_ci_low"]), float(r["latency_ms_p50_ci_high"])),
                    runtime=r["runtime"],
                    precision=r["precision"],
                    threads=threads_text(r),
                    throughput_config=config_text(big),
                    thread_scaling="; ".join(thread_inversions(same)),
                )
            )
        # A model is on the front when no other model on its device is both faster and more accurate.
        for dev in {s.device for s in rows}:
            cand = [s for s in rows if s.device == dev and not math.isnan(s.top1) and not math.isnan(s.latency_ms_p50)]
            for i in pareto_front([(s.latency_ms_p50, s.top1) for s in cand]):
                cand[i].pareto = True
        rows.sort(key=lambda s: (s.device, s.latency_ms_p50 if not math.isnan(s.latency_ms_p50) else math.inf))
        # Models with accuracy but no speed row still belong in the headline.
        have = {s.model for s in rows}
        for _, a in self.acc.iterrows():
            if a["model"] not in have:
                rows.append(
                    SummaryRow(
                        a["model"],
                        a["family"],
                        a["device"],
                        a["params_m"],
                        a["gmacs"],
                        math.nan,
                        math.nan,
                        math.nan,
                        False,
                        math.nan,
                        math.nan,
                        math.nan,
                        math.nan,
                        float(a["top1"]),
                        a["acc_source"],
                    )
                )
        return rows


def hardware_label(row: pd.Series | dict) -> str | None:
    """What a timing row ran on, for grouping runs that span machines (RayExecutor rows carry
    node_*); None for rows measured by the local executor (the run's own machine)."""
    cpu = row.get("node_cpu_model")
    if not isinstance(cpu, str) or not cpu:
        return None
    gpu = row.get("node_gpu_name")
    if row.get("device") == "cuda" and isinstance(gpu, str) and gpu:
        return f"{gpu} (host {cpu})"
    return cpu


def threads_text(r: pd.Series) -> str:
    """A row's thread setting as the suite wrote it: a number, or "all" for all cores."""
    t = r.get("threads")
    return "all" if t is None or (isinstance(t, float) and math.isnan(t)) or t == "" else str(int(float(t)))


def config_text(r: pd.Series) -> str:
    return f"{r['runtime']}/{r['precision']}, threads {threads_text(r)}"


def not_met(flag: Any) -> bool:
    """True when a row says its timing target (spread) was not met; unknown is not a failure."""
    if isinstance(flag, (bool, np.bool_)):
        return not bool(flag)
    return isinstance(flag, str) and flag.strip().lower() == "false"


def short_name(model: str) -> str:
    """``tv:resnet50`` → ``resnet50``; aliases and plain names are kept."""
    return str(model).split(":", 1)[-1] if ":" in str(model) else str(model)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (latency, accuracy) points no other point beats on both, by latency."""
    idx = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in idx:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front
