"""Page size and render time of the HTML report with its explorer (docs/report.md).

    .venv/bin/python benchmarks/report_page.py [RUN_DIR] [--repeat 3]

Without RUN_DIR it builds a default-suite-shaped run (12 models × batch 1, 8, accuracy rows,
5 failed cells: tests/test_report_runs.py) in a temporary folder. Prints the page size with
its parts (plotly.js, static PNGs, explorer payload, the rest), the in-process render time
(``render_run_report``) and, in Debian's chromium, the time from navigation to the parsed
page (DOMContentLoaded) and to the explorer's figures drawn. Timings depend on the machine
and its load: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report.explorer import plotly_js  # noqa: E402
from bench.report.html import render_run_report  # noqa: E402


def parts(page: str) -> dict[str, int]:
    bundle = len(str(plotly_js()).encode())
    pngs = sum(len(m) for m in re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]+", page))
    payload = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page, re.S)
    pay = len(payload.group(1).encode()) if payload else 0
    total = len(page.encode())
    return {
        "total": total,
        "plotly.js": bundle,
        "static PNGs": pngs,
        "explorer payload": pay,
        "rest": total - bundle - pngs - pay,
    }


def browser_times(page_path: Path, repeat: int) -> list[dict[str, float]]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        for _ in range(repeat):
            pg = b.new_page(viewport={"width": 1280, "height": 1000})
            pg.set_default_timeout(600_000)
            pg.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort())
            pg.goto(page_path.resolve().as_uri())
            pg.wait_for_selector("body[data-explorer=ready]", timeout=300_000)
            t = pg.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
                return {dcl: n.domContentLoadedEventEnd, drawn: window.archbenchExplorer.drawn_ms,
                        ready: performance.now()}; }""")
            out.append(t)
            pg.close()
        b.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="archbench-report-page-"))
    if args.run_dir:
        run = Path(args.run_dir)
    else:
        from tests.test_report_runs import write_run

        run = write_run(tmp / "results")
    out = tmp / "page.html"
    renders = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        render_run_report(run, out)
        renders.append(time.perf_counter() - t0)
    page = out.read_text()
    print(f"run: {run}")
    print(f"load average before timing: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for k, v in parts(page).items():
        print(f"  {k:>17}: {v / 1024:8.0f} KiB")
    print(
        f"render_run_report: median {statistics.median(renders):.2f} s of {args.repeat} ({', '.join(f'{r:.2f}' for r in renders)})"
    )
    sys.stdout.flush()
    times = browser_times(out, args.repeat)
    for key, label in (
        ("dcl", "parsed (DOMContentLoaded)"),
        ("drawn", "explorer drawing"),
        ("ready", "navigation → figures drawn"),
    ):
        vals = [t[key] / 1000 for t in times]
        print(f"chromium {label}: median {statistics.median(vals):.2f} s ({', '.join(f'{v:.2f}' for v in vals)})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
