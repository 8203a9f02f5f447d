#!/usr/bin/env python3
"""Screenshot a report page in headless Chromium (Debian's package, driven by Playwright).

    python scripts/screenshot.py                      # reports/latest.html → reports/screenshot.png
    python scripts/screenshot.py PAGE.html OUT.png [--full-page] [--width 1280] [--height 1400]

Uses the system ``chromium`` (``apt-get install -y chromium`` or scripts/ensure-browser.sh);
it never downloads a browser. The README embeds reports/screenshot.png of a real
``make bench`` report.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(page_path: Path, out_path: Path, width: int = 1280, height: int = 1400, full_page: bool = False) -> list[str]:
    """Write a PNG of ``page_path`` and return the console errors the page logged."""
    from playwright.sync_api import sync_playwright

    exe = find_chromium()
    if exe is None:
        raise RuntimeError("no chromium on PATH: run `bash scripts/ensure-browser.sh` (or apt-get install -y chromium)")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            # A report inlines plotly.js (4.7 MiB): give a loaded machine time to parse it.
            page.set_default_timeout(240_000)
            page.goto(Path(page_path).resolve().as_uri())
            page.wait_for_load_state("load")
            # The explorer draws its Plotly figures after load; it marks <body> when done.
            page.wait_for_function("!document.getElementById('explorer-data') || document.body.dataset.explorer === 'ready'")
            out_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = out_path.with_name(f".{out_path.name}.tmp.png")
            page.screenshot(path=str(tmp), full_page=full_page)
            tmp.replace(out_path)
        finally:
            browser.close()
    return errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", nargs="?", default=str(ROOT / "reports" / "latest.html"))
    ap.add_argument("out", nargs="?", default=str(ROOT / "reports" / "screenshot.png"))
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1400)
    ap.add_argument("--full-page", action="store_true")
    args = ap.parse_args(argv)
    page = Path(args.page)
    if not page.is_file():
        print(f"screenshot: {page}: no such report (run `make bench` or `archbench index` first)", file=sys.stderr)
        return 2
    try:
        errors = screenshot(page, Path(args.out), args.width, args.height, args.full_page)
    except RuntimeError as err:
        print(f"screenshot: {err}", file=sys.stderr)
        return 2
    for e in errors:
        print(f"screenshot: console error: {e}", file=sys.stderr)
    print(f"screenshot: {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
