"""Text outputs of a comparison: rich terminal table, Markdown (PR comment / CI job summary), JSON.

Every output leads with the verdict and any environment difference, then lists the cells
that changed (failing ones first); unchanged metrics are summarised, or listed in full with
``show_all`` (terminal) / inside a collapsed ``<details>`` block (Markdown).
"""

from __future__ import annotations

import json
import math
from typing import Any

from bench import schema
from bench.compare.config import BY_NAME
from bench.compare.core import (
    IMPROVED,
    INCONCLUSIVE,
    MISSING,
    NEW,
    NOT_COMPARABLE,
    REGRESSED,
    UNCHANGED,
    Comparison,
    MetricResult,
)
from bench.formatting import fmt_number

MARK = {REGRESSED: "🔴", IMPROVED: "🟢", INCONCLUSIVE: "❔", UNCHANGED: "⚪", NEW: "🆕", MISSING: "➖", NOT_COMPARABLE: "⚠️"}
RICH_STYLE = {
    REGRESSED: "bold red",
    IMPROVED: "green",
    INCONCLUSIVE: "yellow",
    UNCHANGED: "dim",
    NEW: "cyan",
    MISSING: "yellow",
    NOT_COMPARABLE: "yellow",
}


def fmt_value(r: MetricResult, v: Any) -> str:
    """The shared number format, at the significant digits bench/schema.py gives the column."""
    spec = BY_NAME.get(r.metric)
    sig = schema.column(spec.column).sig if spec else 3
    return fmt_number(v, sig=sig, missing="–")


def fmt_change(r: MetricResult) -> str:
    if r.change is None or (isinstance(r.change, float) and math.isnan(r.change)):
        return ""
    if r.kind == "exact" and r.change == 0:
        return ""
    if r.kind == "accuracy":
        return f"{r.change:+.2f} pt"
    if math.isinf(r.change):
        return "+∞"
    if r.kind == "exact" and r.base is not None and r.new is not None and r.metric == "params":
        return f"{r.new - r.base:+,.0f} ({r.change:+.1%})"
    return f"{r.change:+.1%}"


def fmt_ci(r: MetricResult) -> str:
    if r.ci_low is None or r.ci_high is None:
        return ""
    return f"{r.ci_low - 1:+.1%} … {r.ci_high - 1:+.1%}"


def fmt_p(r: MetricResult) -> str:
    if r.p_value is None:
        return ""
    return f"{r.p_value:.2g}" if r.p_value >= 1e-4 else "<1e-4"


def fmt_decision(r: MetricResult) -> str:
    return r.decision + (" (FAIL)" if r.failed else "")


def _short_pair(a: Any, b: Any, width: int = 60) -> tuple[str, str]:
    """Long values (e.g. the timing rule) shown from where they start to differ."""
    sa, sb = str(a), str(b)
    if len(sa) <= width and len(sb) <= width:
        return sa, sb
    i = 0
    while i < min(len(sa), len(sb)) and sa[i] == sb[i]:
        i += 1
    start = max(0, i - 10)

    def cut(t: str) -> str:
        part = t[start : start + width] or "(ends here)"
        return ("…" if start else "") + part + ("…" if len(t) > start + width else "")

    return cut(sa), cut(sb)


def _env_lines(cmp: Comparison) -> list[str]:
    lines = []
    for d in cmp.env_diffs:
        b, n = _short_pair(d.base, d.new)
        lines.append(f"{d.field} ({d.category}): {b} → {n}")
    if cmp.base.env is None or cmp.new.env is None:
        which = " and ".join(r.label for r in (cmp.base, cmp.new) if r.env is None)
        lines.append(f"environment of {which} unknown (no run.json)")
    return lines


def _env_verdict(cmp: Comparison) -> str:
    if cmp.env_blocks_timing:
        return "latency, throughput and memory are marked not comparable (pass --allow-env-change to compare them anyway)"
    if cmp.timing_env_diffs and cmp.config.allow_env_change:
        return "compared anyway because --allow-env-change was given"
    return "timings are still comparable (none of these fields affects speed)"


def _env_blocked(cmp: Comparison, r: MetricResult) -> bool:
    return (
        cmp.env_blocks_timing
        and r.decision == NOT_COMPARABLE
        and r.reason.startswith(("different environment", "environment of"))
    )


def visible_results(cmp: Comparison, show_all: bool) -> tuple[list[MetricResult], list[MetricResult]]:
    """(rows to show, rows summarised): unchanged rows, and rows the environment banner already
    explains, are summarised unless ``show_all``."""
    shown: list[MetricResult] = []
    hidden: list[MetricResult] = []
    for c in cmp.cells:
        for r in c.results:
            quiet = (r.decision == UNCHANGED and not r.failed) or _env_blocked(cmp, r)
            (hidden if quiet and not show_all else shown).append(r)
    return shown, hidden


def hidden_summary(cmp: Comparison, hidden: list[MetricResult]) -> str:
    env = sum(1 for r in hidden if _env_blocked(cmp, r))
    parts = []
    if len(hidden) - env:
        parts.append(f"{len(hidden) - env} unchanged")
    if env:
        parts.append(f"{env} not comparable (environment differs)")
    return " and ".join(parts) + " metrics"


# ---------------------------------------------------------------------------- terminal


def render_terminal(cmp: Comparison, show_all: bool = False, console: Any = None) -> None:
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    import sys

    # Piped output (CI logs) gets a wide fixed width instead of rich's 80-column fallback.
    from rich.markup import escape as esc
    from rich.text import Text

    # Run ids, machine names, model aliases, errors and reasons are data: escaped, never markup.
    con = console or Console(width=None if sys.stdout.isatty() else 160)
    b, n = cmp.base, cmp.new
    con.print(f"[bold]archbench compare[/]  BASE {esc(b.run_id)}  →  NEW {esc(n.run_id)}")
    con.print(Text(f"  BASE: {b.info()['machine']}   NEW: {n.info()['machine']}", style="dim"))
    env = _env_lines(cmp)
    if env:
        con.print(Panel(Text("\n".join(env) + "\n" + _env_verdict(cmp)), title="environment differs", border_style="yellow"))
    for w in cmp.warnings:
        con.print(f"[yellow]warning:[/] {esc(w)}")
    if cmp.join_note:
        con.print(f"[yellow]note:[/] {esc(cmp.join_note)}")
    shown, hidden = visible_results(cmp, show_all)
    if shown:
        t = Table(show_lines=False)
        for col, just in (
            ("cell", "left"),
            ("metric", "left"),
            ("BASE", "right"),
            ("NEW", "right"),
            ("change", "right"),
            ("95% CI", "right"),
            ("p", "right"),
            ("decision", "left"),
            ("why", "left"),
        ):
            t.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]  # the literals above are valid
        last = None
        for r in shown:
            cell = r.cell if r.cell_key != last else ""
            last = r.cell_key
            t.add_row(
                *(
                    Text(str(v))
                    for v in (cell, r.label, fmt_value(r, r.base), fmt_value(r, r.new), fmt_change(r), fmt_ci(r), fmt_p(r))
                ),
                Text(fmt_decision(r), style=RICH_STYLE[r.decision]),
                Text(str(r.reason)),
            )
        con.print(t)
    if hidden:
        con.print(f"{hidden_summary(cmp, hidden)} not listed (show them with --all)", style="dim")
    style = "bold red" if cmp.exit_code else "bold green"
    con.print(Text(cmp.summary_line(), style=style))


# ---------------------------------------------------------------------------- markdown


_MD_SPECIAL = str.maketrans({c: f"&#{ord(c)};" for c in "&<>`|*[]\\"})


def _md(text: Any) -> str:
    """Data as inert Markdown text: HTML, code spans, emphasis, links and table pipes all escaped
    as character references (which GitHub renders as the characters themselves)."""
    return str(text).translate(_MD_SPECIAL).replace("\r", " ").replace("\n", " ")


def _md_code(text: Any) -> str:
    """Data shown as code: <code> with escaped content (a backtick inside cannot end it)."""
    return f"<code>{_md(text)}</code>"


def _md_table(rows: list[MetricResult]) -> list[str]:
    out = ["| cell | metric | BASE | NEW | change | 95% CI | p | decision | why |", "|---|---|---:|---:|---:|---:|---:|---|---|"]
    last = None
    for r in rows:
        cell = _md_code(r.cell) if r.cell_key != last else ""
        last = r.cell_key
        dec = (
            f"{MARK[r.decision]} **{fmt_decision(r)}**"
            if r.decision in (REGRESSED, IMPROVED) or r.failed
            else f"{MARK[r.decision]} {r.decision}"
        )
        out.append(
            f"| {cell} | {_md(r.label)} | {_md(fmt_value(r, r.base))} | {_md(fmt_value(r, r.new))} | "
            f"{_md(fmt_change(r))} | {_md(fmt_ci(r))} | {_md(fmt_p(r))} | {dec} | {_md(_why(r))} |"
        )
    return out


def _why(r: MetricResult) -> str:
    """The reason, minus what the row's other columns already say."""
    if r.decision == UNCHANGED and r.reason in ("identical", "measured in both runs"):
        return ""
    return r.reason


def render_markdown(cmp: Comparison) -> str:
    b, n = cmp.base, cmp.new
    head = "❌ regression" if cmp.exit_code else "✅ no regression"
    out = [f"### archbench compare · {_md(n.suite_name or '?')} · {head}", ""]
    bi, ni = b.info(), n.info()
    out.append(
        f"BASE {_md_code(bi['run_id'])}"
        + (f" (commit {_md_code(str(bi['git_commit'])[:10])})" if bi["git_commit"] else "")
        + f" → NEW {_md_code(ni['run_id'])}"
        + (f" (commit {_md_code(str(ni['git_commit'])[:10])})" if ni["git_commit"] else "")
    )
    out.append("")
    out.append(f"**{_md(cmp.summary_line())}**")
    env = _env_lines(cmp)
    if env:
        out += ["", "> ⚠️ **Environment differs**: " + _md(_env_verdict(cmp))]
        out += [f"> - {_md(line)}" for line in env]
    for w in cmp.warnings:
        out += ["", f"> ⚠️ {_md(w)}"]
    if cmp.join_note:
        out += ["", f"> {_md(cmp.join_note)}"]
    shown, hidden = visible_results(cmp, show_all=False)
    if shown:
        out += [""] + _md_table(shown)
    if hidden:
        out += ["", f"<details><summary>{hidden_summary(cmp, hidden)}</summary>", ""] + _md_table(hidden) + ["", "</details>"]
    cfg = cmp.config
    thr = ", ".join(f"{k} {v:.0%}" for k, v in cfg.thresholds.items())
    guard = f", and the fastest calls (p{cfg.quiet_quantile * 100:g}) moved past it too" if cfg.noise_guard else ""
    test = (
        "a paired t-test on the rounds' log ratios (round i of both sides measured back to back)"
        if cmp.paired
        else "Welch's t-test on the log round medians (one round = one worker process)"
    )
    out += [
        "",
        f"<sub>Rules: latency/throughput change counts when the ratio of medians of round medians passes its "
        f"threshold ({thr}), {test} gives p < {cfg.alpha:g} and its {cfg.confidence:.0%} interval excludes no "
        f"change{guard}; throughput follows latency's verdict; rounds with other processes above "
        f"{cfg.max_other_cpu_pct:g}% of a core are left out; one-round runs: Mann–Whitney U on samples, "
        f"bootstrap interval, threshold ≥ {cfg.one_round_threshold:.0%}; accuracy limit "
        f"{cfg.accuracy_drop_points:g} points; deterministic metrics (params, GMACs, weights) must not change"
        + (f" (allowed: {', '.join(cfg.allow_change)})" if cfg.allow_change else "")
        + ".</sub>",
    ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- json


def render_json(cmp: Comparison) -> str:
    return json.dumps(cmp.to_dict(), indent=2, ensure_ascii=False, default=str, allow_nan=False)
