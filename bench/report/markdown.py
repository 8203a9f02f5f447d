"""Markdown summary of a run for terminals and CI job summaries."""

from __future__ import annotations

from pathlib import Path

from bench import results
from bench.report.html import fmt

MD_COLUMNS = [("model", "model"), ("family", "family"), ("batch_size", "batch"), ("params_m", "params (M)"),
              ("gmacs", "GMACs"), ("latency_ms_p50", "p50 (ms)"), ("latency_ms_p99", "p99 (ms)"),
              ("throughput_ips", "img/s"), ("peak_mem_mb", "peak MB"), ("top1", "top-1 %"), ("acc_source", "acc source")]


def _esc(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(run_dir: Path) -> str:
    meta = results.read_run_meta(run_dir)
    df = results.load_results(run_dir)
    cols = [(c, label) for c, label in MD_COLUMNS if c in df.columns and df[c].notna().any()]
    out = [f"### archbench · {_esc(meta['suite']['name'])} · `{meta['run_id']}`", ""]
    env = meta.get("environment", {})
    out.append(f"{env.get('cpu_model', '?')} · {env.get('cpu_count', '?')} cores · torch {env.get('torch', '?')}" +
               (f" · {env['gpu_name']}" if env.get("gpu_name") else ""))
    if meta.get("load", {}).get("warning"):
        out += ["", f"> ⚠ {meta['load']['warning']}"]
    ok = df[df["status"] == "ok"]
    out += ["", "| " + " | ".join(label for _, label in cols) + " |", "|" + "---|" * len(cols)]
    for _, r in ok.iterrows():
        out.append("| " + " | ".join(_esc(fmt(r.get(c))) for c, _ in cols) + " |")
    bad = df[df["status"] != "ok"]
    if len(bad):
        out += ["", "**Failed / skipped cells**", "", "| cell | status | reason |", "|---|---|---|"]
        for _, r in bad.iterrows():
            out.append(f"| {_esc(str(r['cell_key']))} | {r['status']} | {_esc(fmt(r.get('error')))[:300]} |")
    return "\n".join(out) + "\n"
