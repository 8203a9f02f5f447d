"""Self-contained HTML run report (Jinja2, autoescaped) and the reports index."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from bench import results
from bench.report.figures import FAMILY_COLORS, run_figures

TABLE_COLUMNS = [
    ("model", "model"), ("family", "family"), ("device", "device"), ("precision", "precision"),
    ("runtime", "runtime"), ("batch_size", "batch"), ("img_size", "img (px)"), ("params_m", "params (M)"),
    ("gmacs", "GMACs"), ("latency_ms_p50", "latency p50 (ms)"), ("latency_ms_p90", "p90 (ms)"),
    ("latency_ms_p99", "p99 (ms)"), ("latency_cv", "CV"), ("throughput_ips", "throughput (img/s)"),
    ("peak_mem_mb", "peak mem (MB)"), ("top1", "top-1 (%)"), ("acc_source", "acc source"),
]


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("bench.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )


def fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 1:
            return f"{v:.2f}"
        return f"{v:.3f}"
    return str(v)


def table_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for _, r in df.iterrows():
        rows.append({
            "family": r.get("family") or "other",
            "device": r.get("device") or "",
            "cells": [(fmt(r.get(col)), r.get(col) if isinstance(r.get(col), (int, float)) and not (isinstance(r.get(col), float) and math.isnan(r.get(col))) else None)
                      for col, _ in TABLE_COLUMNS if col in df.columns],
        })
    return rows


def render_run_report(run_dir: Path, out_path: Path) -> Path:
    run_dir = Path(run_dir)
    meta = results.read_run_meta(run_dir)
    df = results.load_results(run_dir)
    ok = df[df["status"] == "ok"] if len(df) else df
    bad = df[df["status"] != "ok"] if len(df) else df
    html = _env().get_template("run.html.j2").render(
        meta=meta,
        env=meta.get("environment", {}),
        load=meta.get("load", {}),
        conventions=meta.get("conventions", {}),
        columns=[label for col, label in TABLE_COLUMNS if col in df.columns],
        rows=table_rows(ok.sort_values(["task", "family", "model", "batch_size"]) if len(ok) else ok),
        failed=[{"model": r["model"], "key": r["cell_key"], "status": r["status"], "error": fmt(r.get("error"))} for _, r in bad.iterrows()],
        figures=run_figures(df) if len(df) else [],
        family_colors=FAMILY_COLORS,
        n_cells=len(df),
    )
    results.write_text_atomic(Path(out_path), html)
    return Path(out_path)


def update_index(results_root: Path, reports_dir: Path, rerender: bool = False) -> Path:
    """Render any run lacking a report, write reports/index.html (newest first) and
    reports/latest.html (a copy of the newest run's report)."""
    reports_dir = Path(reports_dir)
    entries = []
    for run_dir in results.list_runs(Path(results_root)):
        try:
            meta = results.read_run_meta(run_dir)
        except Exception:
            continue
        page = reports_dir / f"{meta['run_id']}.html"
        if rerender or not page.is_file():
            render_run_report(run_dir, page)
        env = meta.get("environment", {})
        entries.append({
            "run_id": meta["run_id"], "href": page.name, "date": meta.get("started_at", ""),
            "suite": meta.get("suite", {}).get("name", ""),
            "machine": f"{env.get('hostname', '')} · {env.get('cpu_model', '')}" + (f" · {env['gpu_name']}" if env.get("gpu_name") else ""),
            "status": meta.get("status", ""), "counts": meta.get("status_counts", {}),
        })
    html = _env().get_template("index.html.j2").render(entries=entries)
    index = reports_dir / "index.html"
    results.write_text_atomic(index, html)
    if entries:
        newest = reports_dir / entries[0]["href"]
        tmp = reports_dir / ".latest.html.tmp"
        shutil.copyfile(newest, tmp)
        tmp.replace(reports_dir / "latest.html")
    return index
