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
from bench.claims.base import CAVEAT, FAILS, HOLDS, load_run
from bench.formatting import fmt_number
from bench.results import write_bytes_atomic

VERDICT_CLASS = {HOLDS: "holds", CAVEAT: "caveat", FAILS: "fails", None: "error"}


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
            if all(not isinstance(x.get(c), (dict, list)) or isinstance(x.get(c), list) and len(x.get(c)) <= 3
                   for x in v for c in cols):
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
        claims.append({
            **c,
            "css": VERDICT_CLASS.get(c["verdict"], "error"),
            "quotes": list(zip(c["quote_ko"], c["quote_en"])),
            "figure_uri": _figure_data_uri(run_dir, c.get("figure")),
            "blocks": number_blocks(c.get("numbers") or {}),
            "rule_lines": [ln.strip() for ln in c["rule"].splitlines() if ln.strip()],
        })
    counts = {v: sum(1 for c in claims if c["verdict"] == v) for v in (HOLDS, CAVEAT, FAILS)}
    errors = sum(1 for c in claims if c["verdict"] is None)
    env = data.get("environment", {})
    template = _environment(run_dir).get_template("claims.html.j2")
    return template.render(run=data, claims=claims, counts=counts, errors=errors, env=env,
                           link_index=link_index, link_latest=link_latest,
                           has_base_css=(Path(__file__).parent.parent / "report" / "templates" / "base.css.j2").is_file())


def write_report(run_dir: Path, out_path: Path) -> Path:
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    html = render_report(run_dir, link_index=(out_path.parent / "index.html").is_file(),
                         link_latest=(out_path.parent / "latest.html").is_file())
    write_bytes_atomic(out_path, html.encode("utf-8"))
    return out_path


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def claims_table_markdown(run_dir: Path) -> str:
    """Markdown table for the README: claim | verdict | headline number."""
    data = load_run(Path(run_dir))
    lines = ["| # | Claim (lecture notes) | Verdict | Headline number |", "|---|---|---|---|"]
    for c in data["claims"]:
        verdict = c["verdict"] or "error (not measured)"
        lines.append(f"| {c['id']} | {_md_cell(c['title'])} | **{verdict}** | {_md_cell(c.get('headline') or c.get('error') or '')} |")
    lines.append("")
    lines.append(f"Run `{data['run_id']}` (scale {data['scale']}, seed {data['seed']}, "
                 f"{data.get('total_s') or '?'} s); caveats and methods in `reports/claims.html`.")
    return "\n".join(lines) + "\n"
