"""``reports/claims.html`` (self-contained: figures inlined as base64 PNG, no scripts, no CDN)
and the README table :func:`claims_table_markdown`.

The page reuses the main report's stylesheet (``bench/report/templates/base.css.j2``) so
both look alike. Everything taken from claims.json is autoescaped text.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import templating
from bench.claims.base import CAVEAT, COMPUTED, FAILS, HOLDS, INCONCLUSIVE, VERDICTS, load_run
from bench.formatting import fmt_number
from bench.results import write_bytes_atomic

VERDICT_CLASS = {
    HOLDS: "holds",
    CAVEAT: "caveat",
    FAILS: "fails",
    INCONCLUSIVE: "inconclusive",
    COMPUTED: "computed",
    None: "error",
}


def fmt(v: Any) -> str:
    """Numbers for people (bench.formatting, 4 significant digits); lists and dicts item by item."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}: {fmt(x)}" for k, x in v.items())
    return fmt_number(v, sig=4, missing="nan")


@dataclass
class NumberBlock:
    """A run of key/value rows, or a small table for a list of same-keyed dicts."""

    key: str
    rows: list[tuple[str, str]] | None = None
    columns: list[str] | None = None
    table: list[list[str]] | None = None


def number_blocks(numbers: dict[str, Any]) -> list[NumberBlock]:
    blocks: list[NumberBlock] = []
    kv: list[tuple[str, str]] = []

    def flush() -> None:
        if kv:
            blocks.append(NumberBlock("", rows=list(kv)))
            kv.clear()

    def walk(prefix: str, v: Any, depth: int) -> None:
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            cols = list(dict.fromkeys(k for x in v for k in x))
            if all(
                not isinstance(x.get(c), (dict, list)) or isinstance(x.get(c), list) and len(x.get(c)) <= 3
                for x in v
                for c in cols
            ):
                flush()
                blocks.append(NumberBlock(prefix, columns=cols, table=[[fmt(x.get(c, "")) for c in cols] for x in v]))
                return
        if isinstance(v, dict) and depth < 2 and any(isinstance(x, (dict, list)) for x in v.values()):
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), x, depth + 1)
            return
        kv.append((prefix, fmt(v)))

    for k, v in numbers.items():
        walk(str(k), v, 0)
    flush()
    return blocks


def _figure_data_uri(run_dir: Path, name: str | None) -> str | None:
    if not name:
        return None
    path = run_dir / name
    if not path.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _environment(run_dir: Path) -> Any:
    # claims templates first, then the main report's (its stylesheet)
    return templating.environment("bench.claims", "bench.report", trim=True)


def render_report(run_dir: Path, link_index: bool = False, link_latest: bool = False) -> str:
    """The claims page for one run folder; ``link_*`` add links to the main report's pages."""
    run_dir = Path(run_dir)
    data = load_run(run_dir)
    claims = []
    for c in data["claims"]:
        claims.append(
            {
                **c,
                "css": VERDICT_CLASS.get(c["verdict"], "error"),
                "quotes": list(zip(c["quote_ko"], c["quote_en"])),
                "figure_uri": _figure_data_uri(run_dir, c.get("figure")),
                "blocks": number_blocks(c.get("numbers") or {}),
                "rule_lines": [ln.strip() for ln in c["rule"].splitlines() if ln.strip()],
            }
        )
    counts = {v: sum(1 for c in claims if c["verdict"] == v) for v in VERDICTS}
    errors = sum(1 for c in claims if c["verdict"] is None)
    env = data.get("environment", {})
    template = _environment(run_dir).get_template("claims.html.j2")
    return template.render(
        run=data,
        claims=claims,
        fmt=fmt,
        counts=counts,
        errors=errors,
        env=env,
        link_index=link_index,
        link_latest=link_latest,
        has_base_css=(Path(__file__).parent.parent / "report" / "templates" / "base.css.j2").is_file(),
    )


def write_report(run_dir: Path, out_path: Path) -> Path:
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    html = render_report(
        run_dir, link_index=(out_path.parent / "index.html").is_file(), link_latest=(out_path.parent / "latest.html").is_file()
    )
    write_bytes_atomic(out_path, html.encode("utf-8"))
    return out_path


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


TINY_WARNING = (
    "scale tiny: a smoke test of the claim code on toy sizes; these verdicts say nothing about "
    "the claims (run `archbench claims` without --scale tiny for the measured ones)"
)


def claims_table_markdown(run_dir: Path, reports_dir: Path | str = "reports") -> str:
    """The README table: claim | kind | verdict | number. A pure function of claims.json."""
    data = load_run(Path(run_dir))
    lines = []
    if data.get("scale") == "tiny":
        lines += [f"> **{TINY_WARNING}**", ""]
    lines += [
        "| # | Claim (lecture notes) | Kind | Verdict | Number (computed: formula; experiment: mean [95% interval] over seeds) |",
        "|---|---|---|---|---|",
    ]
    for c in data["claims"]:
        verdict = c["verdict"] or "error (not measured)"
        number = c.get("headline") or c.get("error") or ""
        if c.get("kind") == "computed" and c.get("headline"):
            number += f"; formula: {c['rule']}"
        lines.append(f"| {c['id']} | {_md_cell(c['title'])} | {c.get('kind', '')} | **{verdict}** | {_md_cell(number)} |")
    lines.append("")
    env = data.get("environment", {})
    load_1m = env.get("load_before_run", {}).get("loadavg_1m")
    load = f"{load_1m:.2f}" if isinstance(load_1m, (int, float)) else "?"
    seeds = ", ".join(str(s) for s in data.get("seeds", []))
    end = data.get("loadavg_at_end") or ["?", "?", "?"]
    lines.append(
        f"Run `{data['run_id']}` (scale {data['scale']}, seeds {seeds}, {env.get('torch_num_threads_used', 1)} "
        f"thread; {data.get('total_s') or '?'} s wall, {data.get('total_cpu_s') or '?'} s CPU; load average "
        f"{load} before the run, {end[2]} over the last 15 min at its end, on {env.get('cpu_count', '?')} cores); "
        f"per-seed points, caveats and methods in `results/claims/{data['run_id']}/claims.json` "
        f"and `{Path(reports_dir) / 'claims.html'}`."
    )
    return "\n".join(lines) + "\n"
