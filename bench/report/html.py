"""Self-contained HTML run report (Jinja2, autoescaped) and the reports index.

Everything a page needs is inside it: CSS, the small sort/filter script, the plotly.js bundle
and the explorer's script are inlined, static figures are base64 PNGs. Table rows carry their
family/device and sort values in HTML attributes, which autoescaping covers; the explorer's
data is one JSON element escaped for ``<script>`` (bench/report/explorer.py), so a model,
suite or error text from a file can never become markup or code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from bench import results, schema, templating
from bench.formatting import fmt_number as fmt  # noqa: F401  (re-exported: the report's formatter)
from bench.formatting import is_missing as _missing
from bench.report.data import FAMILIES, ReportData, ceiling_entries, hardware_label, not_met, short_name
from bench.report.explorer import build_explorer, plotly_js, plotly_version
from bench.report.figures import FAMILY_COLORS, FAMILY_LABELS, build_figures


@dataclass(frozen=True)
class Column:
    key: str  # column of the results table
    header: str  # with its unit
    numeric: bool = True
    scale: float = 1.0  # displayed value = stored value * scale
    title: str = ""  # tooltip: what the number is


def col(key: str, header: str = "") -> Column:
    """A report column as bench/schema.py describes it (``header`` overrides its table header)."""
    c = schema.column(key)
    title = "" if c.kind in ("key", "provenance") else c.description
    return Column(key, header or c.table_header, c.numeric, c.scale, title)


# The full results table; a column no row filled is left out, and a key column with one
# value for every row is shown once above the table instead.
TABLE_COLUMNS = [
    col(k)
    for k in (
        "model",
        "family",
        "device",
        "precision",
        "runtime",
        "batch_size",
        "img_size",
        "threads_actual",
        "params_m",
        "gmacs",
        "latency_ms_p50",
        "latency_ms_p50_ci_low",
        "latency_ms_p50_ci_high",
        "latency_ms_p90",
        "latency_ms_p99",
        "latency_rel_iqr",
        "n_samples",
        "latency_note",
        "throughput_ips",
        "throughput_ips_pipelined",
        "act_peak_mb",
        "rss_peak_mb",
        "cuda_peak_alloc_mb",
        "efficiency",
        "efficiency_note",
        "ceiling_kernel",
        "energy_j_per_img",
        "top1",
        "acc_source",
    )
]
# Derived for the report (bench.report.data.hardware_label), not a results column: the machine a
# row ran on, shown once above the table unless the run spans different machines.
HARDWARE_COLUMN = Column("hardware", "hardware", False, title="the machine (CPU, or GPU for CUDA rows) the cell ran on")
CONSTANT_SHOWN_ONCE = {"hardware", "device", "precision", "runtime", "img_size", "threads_actual", "batch_size"}

ACC_COLUMNS = [
    col("model"),
    col("family"),
    col("acc_source", "source"),
    col("acc_dataset"),
    col("img_size"),
    col("top1"),
    col("top1_std"),
    col("top5"),
    col("acc_n_images"),
]

ENV_KEYS = [
    ("hostname", "host"),
    ("cpu_model", "CPU"),
    ("cpu_count", "CPU cores"),
    ("gpu_name", "GPU"),
    ("gpu_mem_gb", "GPU memory (GB)"),
    ("gpu_driver", "GPU driver"),
    ("cuda_version", "CUDA"),
    ("cudnn_version", "cuDNN"),
    ("tf32_matmul", "TF32 matmul"),
    ("platform", "OS"),
    ("python", "Python"),
    ("torch", "torch"),
    ("torchvision", "torchvision"),
    ("timm", "timm"),
    ("fvcore", "fvcore"),
    ("numpy", "numpy"),
    ("onnxruntime", "onnxruntime"),
    ("archbench", "archbench"),
    ("torch_num_threads_default", "torch threads (default)"),
    ("git_commit", "git commit"),
    ("git_dirty", "uncommitted changes"),
]


def _env() -> jinja2.Environment:
    return templating.environment("bench.report")


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or _missing(v):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _cells(r: pd.Series, cols: list[Column]) -> list[dict[str, Any]]:
    out = []
    for c in cols:
        v = r.get(c.key)
        num = _number(v) if c.numeric else None
        if num is not None and c.scale != 1.0:
            num = num * c.scale
        text = fmt(num) if c.numeric else ("" if _missing(v) else str(v))
        if c.key == "model":
            text = str(v)
        if c.key == "family":
            text = FAMILY_LABELS.get(str(v), str(v))
        if c.key == "efficiency" and num is not None and num > 100 * (1 + 1e-9):
            text += " †"  # above the measured ceiling: the efficiency_note column says why
        out.append({"text": text, "v": num, "numeric": c.numeric, "key": c.key})
    return out


def _visible(df: pd.DataFrame, cols: list[Column], constant_once: set[str]) -> tuple[list[Column], list[tuple[str, str]]]:
    shown, constants = [], []
    for c in cols:
        if c.key not in df.columns:
            continue
        vals = df[c.key]
        filled = vals[~vals.map(_missing)]
        if filled.empty and c.key not in ("model", "family"):
            continue
        if c.key in constant_once and len(df) > 1 and filled.nunique() == 1 and len(filled) == len(df):
            constants.append((c.header, fmt(filled.iloc[0]) if c.numeric else str(filled.iloc[0])))
            continue
        shown.append(c)
    return shown, constants


def results_table(d: ReportData) -> dict[str, Any]:
    """Speed rows with each model's accuracy joined in, for the sortable, filterable table."""
    sp = d.speed.copy()
    if not d.acc.empty and len(sp):
        acc = d.acc.set_index("model")
        for col in ("top1", "acc_source"):
            joined = sp["model"].map(acc[col])
            sp[col] = sp[col].where(~sp[col].map(_missing), joined)
    # A run that spans machines (RayExecutor) groups its rows by hardware first.
    sp["hardware"] = [hardware_label(r) for _, r in sp.iterrows()] if len(sp) else []
    sp = sp.sort_values(
        ["hardware", "family", "model", "device", "runtime", "precision", "img_size", "batch_size"],
        key=lambda s: s.map({f: i for i, f in enumerate(FAMILIES)}).fillna(9) if s.name == "family" else s,
    )
    cols, constants = _visible(sp, [HARDWARE_COLUMN, *TABLE_COLUMNS], CONSTANT_SHOWN_ONCE)
    rows = [
        {"family": r["family"], "device": r["device"], "cells": _cells(r, cols), "noisy": not_met(r.get("timing_target_met"))}
        for _, r in sp.iterrows()
    ]
    return {"columns": cols, "rows": rows, "constants": constants}


def accuracy_table(d: ReportData) -> dict[str, Any]:
    acc = d.df[(d.df["status"] == "ok") & (d.df["task"] == "accuracy")]
    cols, constants = _visible(acc, ACC_COLUMNS, set())
    rows = [
        {"family": r["family"], "device": r["device"], "cells": _cells(r, cols), "noisy": False}
        for _, r in acc.sort_values(["top1"], ascending=False).iterrows()
    ]
    return {"columns": cols, "rows": rows, "constants": constants}


def summary_table(d: ReportData) -> dict[str, Any]:
    """The headline: one row per model (and device) in its reference configuration."""
    srows = d.summary()
    has_acc = any(not math.isnan(s.top1) for s in srows)
    has_eff = any(not math.isnan(s.efficiency) for s in srows)
    multi = len({s.device for s in srows}) > 1
    axes = d.varied_axes()
    axis_help = {
        "runtime": "runtime of the fastest correct configuration",
        "precision": "its precision",
        "threads": "its CPU thread count (all = every core)",
    }

    def h(key: str, tip: str) -> tuple[str, str]:  # headers from bench/schema.py, tooltips say which batch
        return schema.column(key).short_header, tip

    header = (
        [("model", ""), ("family", "")]
        + ([("device", "")] if multi else [])
        + [(a, axis_help[a]) for a in axes]
        + [
            h("params_m", "parameters, millions"),
            h("gmacs", "1e9 multiply-accumulates per image"),
            h(
                "latency_ms_p50",
                "median latency at the smallest batch (with the 95% interval over the rounds, "
                "where the cell was timed in several processes)",
            ),
            h("latency_ms_p90", "90th-percentile latency; empty with fewer than 100 samples (10 beyond it)"),
            h("latency_rel_iqr", "spread of the timing samples"),
            h("throughput_ips", "throughput at the largest batch"),
            h("act_peak_mb", "activation peak (live tensors above weights and input) at the largest batch"),
        ]
        + (
            [h("efficiency", "achieved GFLOP/s at the largest batch over the measured ceiling (max of matmul, 3x3 conv)")]
            if has_eff
            else []
        )
        + ([h("top1", ""), h("acc_source", "measured / scratch / reported")] if has_acc else [])
    )
    rows = []
    notes: dict[str, str] = {}
    for s in srows:
        nums: list[tuple[Any, bool]] = [
            (s.params_m, True),
            (s.gmacs, True),
            (s.latency_ms_p50, True),
            (s.latency_ms_p90, True),
            (s.latency_rel_iqr * schema.column("latency_rel_iqr").scale, True),
            (s.throughput_ips, True),
            (s.act_peak_mb, True),
        ]
        if has_eff:
            nums.append((s.efficiency * schema.column("efficiency").scale, True))
        if s.latency_note and math.isnan(s.latency_ms_p90):
            notes.setdefault("p90", "p90 — empty: fewer than 100 samples, so fewer than 10 beyond the 90th percentile")
        if has_eff and s.efficiency > 1:
            notes.setdefault("eff", f"eff. † — {s.efficiency_note or 'above the measured ceiling'}")
        if has_acc:
            nums += [(s.top1, True), (s.acc_source, False)]
        cells: list[dict[str, Any]] = [
            {"text": s.model, "v": None, "numeric": False, "key": "model"},
            {"text": FAMILY_LABELS.get(s.family, s.family), "v": None, "numeric": False, "key": "family"},
        ]
        if multi:
            cells.append({"text": s.device, "v": None, "numeric": False, "key": "device"})
        for a in axes:
            cells.append({"text": getattr(s, a), "v": None, "numeric": False, "key": a})
        for i, (v, numeric) in enumerate(nums):
            n = _number(v) if numeric else None
            text = fmt(n) if numeric else str(v or "")
            if i == 2 and s.p50_ci:  # the median's 95% interval over the rounds
                text += f" ({fmt(s.p50_ci[0])}–{fmt(s.p50_ci[1])})"
            if i == 3 and math.isnan(s.latency_ms_p90) and not math.isnan(s.latency_ms_p50):
                text = "n/a"  # unsupported percentile: marked, never an interpolated maximum
            if has_eff and i == 7 and s.efficiency > 1:
                text += " †"  # efficiency above the measured ceiling, explained below the table
            cells.append({"text": text, "v": n, "numeric": numeric, "key": ""})
        rows.append(
            {
                "family": s.family,
                "device": s.device,
                "cells": cells,
                "noisy": s.noisy,
                "pareto": s.pareto,
                "tput_batch": s.throughput_batch,
            }
        )
    batches = sorted({int(s.throughput_batch) for s in srows if not math.isnan(s.throughput_batch)})
    return {
        "header": header,
        "rows": rows,
        "has_acc": has_acc,
        "throughput_batches": batches,
        "axes": axes,
        "notes": list(notes.values()),
    }


def takeaways(d: ReportData) -> list[str]:
    """A few plain sentences naming the winners, per device."""
    out = []
    srows = [s for s in d.summary() if not math.isnan(s.latency_ms_p50)]
    for dev in sorted({s.device for s in srows}):
        rows = [s for s in srows if s.device == dev]
        on = f" on {dev}" if len({s.device for s in srows}) > 1 else ""
        fast = min(rows, key=lambda s: s.latency_ms_p50)
        how = f", {fast.runtime}/{fast.precision}, threads {fast.threads}" if d.varied_axes() else ""
        out.append(
            f"Fastest{on}: {fast.model} at {fmt(fast.latency_ms_p50)} ms (p50, batch {fmt(fast.batch_size)}{how})"
            + (" — noisy: its spread missed the target" if fast.noisy else "")
            + "."
        )
        tp = [s for s in rows if not math.isnan(s.throughput_ips)]
        if tp:
            best = max(tp, key=lambda s: s.throughput_ips)
            how = f", {best.throughput_config}" if d.varied_axes() else ""
            out.append(
                f"Highest throughput{on}: {best.model}, {fmt(best.throughput_ips)} img/s at batch {fmt(best.throughput_batch)}{how}."
            )
        inverted = [f"{s.model} ({s.thread_scaling})" for s in rows if s.thread_scaling]
        if inverted:
            out.append(f"More threads ran slower{on}: " + "; ".join(inverted) + ".")
        front = [s for s in rows if s.pareto]
        if front:
            out.append(
                f"Best accuracy for the latency{on} (Pareto front, fastest first): "
                + ", ".join(f"{s.model} ({fmt(s.top1)} %, {fmt(s.latency_ms_p50)} ms)" for s in front)
                + "."
            )
        noisy = [s.model for s in rows if s.noisy]
        if noisy:
            out.append(
                f"Timing did not settle{on} (spread above target; read these latencies with care): " + ", ".join(noisy) + "."
            )
    return out


def failed_cells(df: pd.DataFrame) -> list[dict[str, Any]]:
    bad = df[df["status"] != "ok"]
    out = []
    for _, r in bad.iterrows():
        err = "" if _missing(r.get("error")) else str(r["error"])
        first = err.strip().splitlines()[0] if err.strip() else "(no reason recorded)"
        config = " · ".join(
            x
            for x in (
                r.get("task") or "",
                r.get("device") or "",
                r.get("precision") or "",
                r.get("runtime") or "",
                f"batch {fmt(r.get('batch_size'))}" if not _missing(r.get("batch_size")) else "",
                f"{fmt(r.get('img_size'))} px" if not _missing(r.get("img_size")) else "",
            )
            if x
        )
        out.append(
            {
                "model": r["model"],
                "family": r["family"],
                "status": r["status"],
                "config": config,
                "key": r.get("cell_key", ""),
                "reason": first[:400],
                "detail": err if len(err) > len(first) or len(first) > 400 else "",
            }
        )
    order = {"failed": 0, "oom": 1, "timeout": 2, "mismatch": 3, "skipped": 4}
    return sorted(out, key=lambda f: (order.get(f["status"], 5), f["model"]))


def _flatten(value: Any) -> list[str] | str:
    if isinstance(value, list):
        return [json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v) for v in value]
    if isinstance(value, dict):
        return [f"{k}: {v}" for k, v in value.items()]
    return str(value)


def method_items(meta: dict[str, Any], d: ReportData) -> dict[str, Any]:
    env = meta.get("environment") or {}
    conv = meta.get("conventions") or {}
    load = meta.get("load") or {}
    machine = [
        (label, fmt(env[k]) if isinstance(env[k], (bool, int, float)) else str(env[k]))
        for k, label in ENV_KEYS
        if k in env and not _missing(env[k])
    ]
    threads = sorted({int(t) for t in d.df["threads_actual"].dropna()})
    flop = conv.get("flop_convention")
    flop_items = (
        [(str(k), _flatten(v)) for k, v in flop.items()]
        if isinstance(flop, dict)
        else ([("convention", str(flop))] if flop else [])
    )
    ceilings = []
    entries = ceiling_entries(meta.get("hardware"))
    for h in entries:
        label = f"{h.get('device', '?')} {h.get('precision', '')} · {h.get('threads_actual', '?')} threads"
        if h.get("matmul_gflops"):
            text = f"matmul {fmt(_number(h['matmul_gflops']))} GFLOP/s"
            if _number(h.get("matmul_gflops_max")):
                text += f" (best {fmt(_number(h['matmul_gflops_max']))})"
            if _number(h.get("conv_gflops")):
                text += f"; 3×3 conv {fmt(_number(h['conv_gflops']))} GFLOP/s"
            if _number(h.get("ceiling_gflops")):
                text += f"; ceiling {fmt(_number(h['ceiling_gflops']))} GFLOP/s ({h.get('ceiling_kernel') or '?'})"
            if _number(h.get("ceiling_theoretical_gflops")):
                text += (
                    f"; theoretical {fmt(_number(h['ceiling_theoretical_gflops']))} GFLOP/s "
                    f"({h.get('ceiling_theoretical_note') or 'from the CPU flags'})"
                )
            if _number(h.get("mem_bw_gbs")):
                text += f"; memory copy {fmt(_number(h['mem_bw_gbs']))} GB/s"
        else:
            text = f"not measured ({h.get('skipped') or 'no reason recorded'})"
        ceilings.append((label, text))
    if not entries:
        for dev in d.devices or ["cpu"]:
            precisions = sorted({p for p in d.speed[d.speed["device"] == dev]["precision"] if p}) or ["fp32"]
            for p in precisions:
                rate = d.ceiling(dev, p)
                ceilings.append((f"{dev} {p}", f"matmul {fmt(rate)} GFLOP/s" if rate else "not measured in this run"))
    hardware_other = []
    hw = meta.get("hardware")
    if isinstance(hw, dict):
        hardware_other = [
            (str(k), json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, (dict, list)) else str(v))
            for k, v in hw.items()
        ]
    other_conv = [(str(k), _flatten(v)) for k, v in conv.items() if k not in ("timing_rule", "flop_convention")]
    for n in meta.get("nodes") or []:  # cells ran on a cluster: every node's machine
        machine.append(
            (
                f"node {str(n.get('node_id', '?'))[:8]}",
                _machine(n) + (f" · archbench {n['git_commit'][:10]}" if n.get("git_commit") else ""),
            )
        )
    return {
        "machine": machine,
        "threads": ", ".join(str(t) for t in threads) if threads else "",
        "load": load,
        "loadavg": fmt(_number(load.get("loadavg_1m"))) if _number(load.get("loadavg_1m")) is not None else "?",
        "busy_procs": [str(p) for p in (load.get("busy_procs") or [])],
        "timing_rule": conv.get("timing_rule", ""),
        "flop": flop_items,
        "ceilings": ceilings,
        "hardware": hardware_other,
        "other_conventions": other_conv,
    }


def render_run_report(run_dir: Path, out_path: Path, strict: bool = False) -> Path:
    """Write the run's self-contained HTML page to ``out_path``."""
    run_dir, out_path = Path(run_dir), Path(out_path)
    meta = results.read_run_meta(run_dir)
    df = results.load_results(run_dir)
    samples = results.load_samples(run_dir)
    d = ReportData(df, samples, meta)
    figures, skipped = build_figures(d, strict=strict)
    explorer = build_explorer(d)
    suite = meta.get("suite") or {}
    families = [f for f in (*FAMILIES, "other") if f in set(d.df["family"])]
    counts = d.df["status"].value_counts().to_dict()
    reports_dir = out_path.parent
    html = (
        _env()
        .get_template("run.html.j2")
        .render(
            meta=meta,
            suite_name=str(suite.get("name", "")),
            suite_description=str(suite.get("description") or ""),
            run_id=str(meta.get("run_id", run_dir.name)),
            started=_when(meta.get("started_at")),
            finished=_when(meta.get("finished_at")),
            load=meta.get("load") or {},
            counts=counts,
            n_cells=len(d.df),
            table=results_table(d),
            acc_table=accuracy_table(d),
            summary=summary_table(d),
            takeaways=takeaways(d),
            failed=failed_cells(d.df),
            figures=figures,
            skipped=skipped,
            method=method_items(meta, d),
            families=[(f, FAMILY_LABELS[f], FAMILY_COLORS[f]) for f in families],
            devices=d.devices,
            family_colors=FAMILY_COLORS,
            link_index=(reports_dir / "index.html").is_file() or out_path.name == page_name(meta.get("run_id", "")),
            link_claims=(reports_dir / "claims.html").is_file(),
            explorer=explorer,
            plotly_js=plotly_js() if not explorer.empty else "",
            plotly_version=plotly_version(),
        )
    )
    results.write_text_atomic(out_path, html)
    return out_path


def _machine(env: dict[str, Any]) -> str:
    parts = [str(env.get(k)) for k in ("hostname", "cpu_model") if env.get(k)]
    if env.get("cpu_count"):
        parts.append(f"{env['cpu_count']} cores")
    if env.get("gpu_name"):
        parts.append(str(env["gpu_name"]))
    return " · ".join(parts)


def _when(stamp: object) -> str:
    """'2026-01-05T10:00:00+00:00' → '2026-01-05 10:00 UTC' (other offsets kept as written)."""
    text = str(stamp or "")
    if len(text) < 16 or text[10] != "T":
        return text
    zone = text[19:]
    return f"{text[:10]} {text[11:16]} " + ("UTC" if zone in ("+00:00", "Z", "") else zone)


def page_name(run_id: str) -> str:
    """The report's file name for a run: its id, reduced to characters safe in a path."""
    from bench.names import safe_filename

    return f"{safe_filename(run_id, 120, 'run')}.html"


def index_entries(results_root: Path, reports_dir: Path) -> list[dict[str, Any]]:
    entries = []
    for run_dir in results.list_runs(Path(results_root)):
        try:
            meta = results.read_run_meta(run_dir)
        except Exception:  # a damaged or foreign run.json must not hide the other runs
            continue
        run_id = str(meta.get("run_id") or run_dir.name)
        entries.append(
            {
                "run_dir": run_dir,
                "run_id": run_id,
                "href": page_name(run_id),
                "date": _when(meta.get("started_at")),
                "suite": str((meta.get("suite") or {}).get("name", "")),
                "machine": _machine(meta.get("environment") or {}),
                "status": str(meta.get("status", "")),
                "counts": {str(k): v for k, v in (meta.get("status_counts") or {}).items()},
                "warning": bool((meta.get("load") or {}).get("warning")),
            }
        )
    return entries


def update_index(results_root: Path, reports_dir: Path, rerender: bool = False) -> Path:
    """Render any run lacking a report, write reports/index.html (newest first) and
    reports/latest.html (a copy of the newest run's report)."""
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    entries = index_entries(Path(results_root), reports_dir)
    index = reports_dir / "index.html"
    html = _env().get_template("index.html.j2").render(entries=entries, link_claims=(reports_dir / "claims.html").is_file())
    results.write_text_atomic(index, html)
    for e in entries:
        page = reports_dir / e["href"]
        if rerender or not page.is_file():
            render_run_report(e["run_dir"], page)
    if entries:
        newest = reports_dir / entries[0]["href"]
        # Unique temp name (mkstemp): two index rebuilds at once must not share one.
        results.write_bytes_atomic(reports_dir / "latest.html", newest.read_bytes())
    return index


__all__ = ["render_run_report", "update_index", "fmt", "results_table", "summary_table", "failed_cells", "short_name"]
