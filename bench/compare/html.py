"""Self-contained HTML comparison: BASE and NEW side by side, changed cells first.

Jinja2 with autoescaping (model names, error messages and paths are user data); the page
has inline CSS only, no scripts and no external links, so it can be attached to a CI job.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from bench import results, templating
from bench.compare.core import Comparison
from bench.compare.render import _env_lines, _env_verdict, fmt_ci, fmt_change, fmt_decision, fmt_p, fmt_value


def _env() -> jinja2.Environment:
    return templating.environment("bench.compare")


def render_html(cmp: Comparison) -> str:
    cells = []
    for c in cmp.cells:
        rows = [
            {
                "label": r.label,
                "base": fmt_value(r, r.base),
                "new": fmt_value(r, r.new),
                "change": fmt_change(r),
                "ci": fmt_ci(r),
                "p": fmt_p(r),
                "decision": fmt_decision(r),
                "decision_class": r.decision.replace(" ", "-"),
                "reason": r.reason,
            }
            for r in c.results
        ]
        cells.append({"label": c.label, "failed": c.failed, "changed": c.changed or c.rank < 4, "rows": rows})
    first = [c for c, cc in zip(cells, cmp.cells) if cc.rank < 4]
    rest = [c for c, cc in zip(cells, cmp.cells) if cc.rank >= 4]
    cfg = cmp.config
    thr = ", ".join(f"{k} {v:.0%}" for k, v in cfg.thresholds.items())
    guard = f", and the fastest calls (p{cfg.quiet_quantile * 100:g}) moved past it too" if cfg.noise_guard else ""
    test = "paired t on the rounds' log ratios" if cmp.paired else "Welch t on log round medians"
    rules = (
        f"Latency/throughput: a change counts when the ratio of medians of round medians passes its threshold ({thr}), "
        f"{test} gives p < {cfg.alpha:g} and its {cfg.confidence:.0%} interval excludes no change{guard}; throughput "
        f"follows latency. One-round runs: Mann–Whitney U on samples, {cfg.confidence:.0%} bootstrap interval "
        f"({cfg.bootstrap_resamples} resamples, seed {cfg.seed}), threshold ≥ {cfg.one_round_threshold:.0%}. Memory: activation peak (act_peak_mb, a tensor count) must not change; resident (CPU) and "
        f"allocator (CUDA) peaks: threshold and a floor of {cfg.cpu_memory_floor_mb:g} MiB on CPU, {cfg.memory_floor_mb:g} MiB "
        f"on CUDA. Accuracy: drop of more than "
        f"{cfg.accuracy_drop_points:g} points. Params, GMACs and weight size must not change"
        + (f" (allowed: {', '.join(cfg.allow_change)})" if cfg.allow_change else "")
        + "."
    )
    return (
        _env()
        .get_template("compare.html.j2")
        .render(
            suite=cmp.new.suite_name or "?",
            failed=bool(cmp.exit_code),
            verdict="regression" if cmp.exit_code else "no regression",
            summary=cmp.summary_line(),
            runs=[cmp.base.info(), cmp.new.info()],
            env_lines=_env_lines(cmp),
            env_verdict=_env_verdict(cmp),
            warnings=cmp.warnings,
            join_note=cmp.join_note,
            first=first,
            rest=rest,
            ci_label=f"{cfg.confidence:.0%} CI",
            rules=rules,
        )
    )


def write_html(cmp: Comparison, path: Path) -> Path:
    path = Path(path)
    results.write_text_atomic(path, render_html(cmp))
    return path
