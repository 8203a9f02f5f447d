"""Markdown summary of a run for terminals and CI job summaries (GitHub-flavoured tables).

The top table is the report's headline (one row per model in its best measured
configuration, fastest first), followed by the failed and skipped cells with their reasons. Text from
files is made table-safe: pipes escaped, newlines flattened, HTML-significant characters
replaced by entities (job summaries render Markdown as HTML).
"""

from __future__ import annotations

from pathlib import Path

from bench import results
from bench.report.data import ReportData
from bench.report.html import failed_cells, summary_table, takeaways


def _esc(text: object) -> str:
    s = str(text).replace("\r", " ").replace("\n", " ")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("|", "\\|").replace("`", "'")


def render_markdown(run_dir: Path) -> str:
    run_dir = Path(run_dir)
    meta = results.read_run_meta(run_dir)
    d = ReportData(results.load_results(run_dir), results.load_samples(run_dir), meta)
    suite = (meta.get("suite") or {}).get("name", "")
    out = [f"### archbench · {_esc(suite)} · {_esc(meta.get('run_id', run_dir.name))}", ""]
    env = meta.get("environment") or {}
    counts = ", ".join(f"{_esc(k)} {v}" for k, v in d.df["status"].value_counts().items())
    out.append(
        f"{_esc(env.get('cpu_model', '?'))} · {env.get('cpu_count', '?')} cores · torch {_esc(env.get('torch', '?'))}"
        + (f" · {_esc(env['gpu_name'])}" if env.get("gpu_name") else "")
        + f" · {len(d.df)} cells ({counts})"
    )
    warning = (meta.get("load") or {}).get("warning")
    if warning:
        out += ["", f"> ⚠ {_esc(warning)}"]
    tips = takeaways(d)
    if tips:
        out += [""] + [f"- {_esc(t)}" for t in tips]
    summ = summary_table(d)
    n_text = 2 + len(summ.get("axes", [])) + (1 if any(h == "device" for h, _ in summ["header"]) else 0)
    if summ["rows"]:
        out += [
            "",
            "| " + " | ".join(_esc(h) for h, _ in summ["header"]) + " |",
            "|" + "|".join("---" if i < n_text else "--:" for i in range(len(summ["header"]))) + "|",
        ]
        for r in summ["rows"]:
            texts = [c["text"] for c in r["cells"]]
            flags = (" ★" if r["pareto"] else "") + (" (noisy)" if r["noisy"] else "")
            texts[0] = texts[0] + flags
            out.append("| " + " | ".join(_esc(t) for t in texts) + " |")
        note = (
            "Best configuration per model (fastest whose output matches fp32 eager"
            + (f", across {', '.join(summ['axes'])}" if summ.get("axes") else "")
            + "): smallest batch for latency"
        )
        if summ["throughput_batches"]:
            note += f"; throughput and activation memory at batch {', '.join(str(b) for b in summ['throughput_batches'])}"
        if summ["has_acc"]:
            note += "; ★ = on the accuracy/latency Pareto front"
        out += ["", note + "."] + [f"\n{_esc(n)}" for n in summ.get("notes", [])]
    bad = failed_cells(d.df)
    if bad:
        out += [
            "",
            f"**Failed / skipped cells ({len(bad)})**",
            "",
            "| model | status | configuration | reason |",
            "|---|---|---|---|",
        ]
        for f in bad:
            out.append(f"| {_esc(f['model'])} | {_esc(f['status'])} | {_esc(f['config'])} | {_esc(f['reason'][:300])} |")
    return "\n".join(out) + "\n"
