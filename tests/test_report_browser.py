"""The report as a person sees it: real pages opened in headless Chromium (Debian's
``chromium`` driven by Playwright for Python; no browser is ever downloaded).

Without chromium these tests skip with a loud reason saying how to install it; with
``ARCHBENCH_REQUIRE_BROWSER=1`` (set it in CI after scripts/ensure-browser.sh) a missing
browser fails instead of skipping.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from bench.report.html import render_run_report
from tests.conftest import ROOT
from tests.test_report_runs import DEFAULT_MODELS, write_run

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = pytest.mark.browser
LOAD_TIMEOUT_MS = 240_000

HOW_TO_INSTALL = (
    "install Debian's chromium with `bash scripts/ensure-browser.sh` (as root: apt-get install -y chromium) "
    "and Playwright for Python with `pip install playwright`; no Playwright browser download is needed"
)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _missing_reason() -> str | None:
    if _chromium() is None:
        return f"REPORT BROWSER TESTS SKIPPED: no chromium on PATH; {HOW_TO_INSTALL}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"REPORT BROWSER TESTS SKIPPED: playwright is not importable; {HOW_TO_INSTALL}"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing_reason()
    if reason:
        if os.environ.get("ARCHBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail(reason.replace("SKIPPED", "FAILED (ARCHBENCH_REQUIRE_BROWSER=1)"))
        print(f"\n{'!' * 80}\n{reason}\n{'!' * 80}", file=sys.stderr)
        warnings.warn(reason, stacklevel=2)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Opened:
    """A page with what it logged: console errors, uncaught exceptions, dialogs, requests.

    Every request that would leave the machine is blocked and recorded in ``blocked`` (a
    report must open offline); the page waits for the explorer's figures when it has them."""

    def __init__(self, browser, path: Path, width: int = 1280, height: int = 1000):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        # Generous waits, not timings: the page inlines 4.7 MiB of plotly.js, and parsing it on a
        # shared 2-core machine under load has taken over 30 s (Playwright's default).
        self.page.set_default_timeout(LOAD_TIMEOUT_MS)
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.route("**/*", self._route)
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")
        self.page.wait_for_function("!document.getElementById('explorer-data') || document.body.dataset.explorer === 'ready'")

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def figures(self) -> list[dict]:
        return self.page.eval_on_selector_all(
            "figure.report-figure",
            """els => els.map(f => {
            const img = f.querySelector("img"), r = img.getBoundingClientRect();
            return {id: f.id, complete: img.complete, natural: [img.naturalWidth, img.naturalHeight],
                    box: [r.width, r.height], caption: (f.querySelector("figcaption") || {}).textContent || ""};
        })""",
        )

    def column(self, table: str, header: str, attr: bool = True) -> list:
        idx = self.page.eval_on_selector_all(
            f"#{table} thead th", "(ths, h) => ths.findIndex(t => t.textContent.trim() === h)", header
        )
        assert idx >= 0, f"no column {header!r} in #{table}"
        js = "(rows, i) => rows.map(r => [r.cells[i].getAttribute('data-v'), r.cells[i].textContent.trim()])"
        vals = self.page.eval_on_selector_all(f"#{table} tbody tr", js, idx)
        return [float(v) for v, _ in vals] if attr else [t for _, t in vals]

    def click_header(self, table: str, header: str) -> None:
        self.page.locator(f"#{table} thead th", has_text=re.compile(rf"^{re.escape(header)}$")).first.click()

    def visible_families(self, table: str = "results") -> list[str]:
        return self.page.eval_on_selector_all(
            f"#{table} tbody tr", "rows => rows.filter(r => r.offsetParent !== null).map(r => r.getAttribute('data-family'))"
        )


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def _expected_figures(html: str) -> list[str]:
    return re.findall(r'<figure id="([^"]+)" class="report-figure">', html)


def test_real_run_report_in_chromium(ci_run, browser, tmp_path):
    """A report of a real tiny run: loads cleanly, figures drawn, sort and filter work, screenshot."""
    reports = tmp_path / "reports"
    shutil.copytree(ci_run["reports"], reports)  # a tmp copy of the run's reports/ folder
    page_path = reports / f"{ci_run['run_dir'].name}.html"
    render_run_report(ci_run["run_dir"], page_path, strict=True)
    html = page_path.read_text()
    want = _expected_figures(html)
    assert {"fig-lat-gmacs", "fig-lat-dist", "fig-throughput", "fig-family-size"} <= set(want)

    o = Opened(browser, page_path)
    assert o.errors == [], o.errors
    assert o.blocked == [] and all(u.startswith(("file:", "data:")) for u in o.requests), o.requests  # opens offline
    figs = o.figures()
    assert [f["id"] for f in figs] == want
    for f in figs:
        assert f["complete"] and f["natural"][0] > 100 and f["natural"][1] > 100, f
        assert f["box"][0] > 100 and f["box"][1] > 100, f
        assert len(f["caption"].split()) >= 8, f  # a sentence, not a label

    # Sorting: numeric on numbers, both directions, rows really move.
    before = o.column("results", "latency p50 (ms)")
    o.click_header("results", "latency p50 (ms)")
    asc = o.column("results", "latency p50 (ms)")
    assert asc == sorted(before)
    o.click_header("results", "latency p50 (ms)")
    desc = o.column("results", "latency p50 (ms)")
    assert desc == sorted(before, reverse=True) and desc != asc
    assert o.page.get_attribute("#results thead th:has-text('latency p50 (ms)')", "aria-sort") == "descending"
    o.click_header("results", "batch")
    batches = o.column("results", "batch")
    assert batches == sorted(batches) and batches[0] < batches[-1]  # numeric: 1 before 4
    o.click_header("results", "model")
    models = o.column("results", "model", attr=False)
    assert models == sorted(models)

    # Family filter hides that family's rows (in every filterable table) and the count follows.
    assert sorted(set(o.visible_families())) == ["cnn", "hybrid", "mobile", "vit"]
    o.page.uncheck(".famfilter[value='vit']")
    shown = o.visible_families()
    assert "vit" not in shown and len(shown) == 6
    assert "vit" not in o.visible_families("summary")
    assert o.page.text_content("#rowcount") == "6 of 8 rows"
    o.page.uncheck(".famfilter[value='cnn']")
    assert sorted(set(o.visible_families())) == ["hybrid", "mobile"]
    o.page.check(".famfilter[value='vit']")
    o.page.check(".famfilter[value='cnn']")
    assert len(o.visible_families()) == 8
    o.page.uncheck(".devfilter[value='cpu']")
    assert o.visible_families() == [] and o.page.text_content("#rowcount") == "0 of 8 rows"
    o.page.check(".devfilter[value='cpu']")
    assert o.errors == [], o.errors

    shot = reports / "screenshot-test.png"
    o.page.screenshot(path=str(shot), full_page=True)
    width, height = _png_size(shot)
    assert width == 1280 and height > 2000 and shot.stat().st_size > 50_000
    o.page.close()

    # The README's helper: reports/latest.html → reports/screenshot.png, through the same browser.
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "screenshot.py"), str(reports / "latest.html"), str(reports / "screenshot.png")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert _png_size(reports / "screenshot.png") == (1280, 1400)


def test_every_figure_kind_renders_in_chromium(browser, tmp_path):
    """A run with every axis swept (sizes, runtimes, devices, batches, accuracy): all nine static figures (the roofline too)."""
    run = write_run(
        tmp_path,
        suite="all-axes",
        run_id="all-axes-1",
        models=DEFAULT_MODELS[::4],
        batches=(1, 8),
        img_sizes=(224, 384),
        runtimes=("eager", "compile"),
        devices=("cpu", "cuda"),
        n_samples=15,
    )
    page_path = render_run_report(run, tmp_path / "all.html", strict=True)
    o = Opened(browser, page_path)
    figs = o.figures()
    assert len(figs) == 9 and all(f["complete"] and min(f["natural"] + f["box"]) > 100 for f in figs), figs
    # Sorting the accuracy table by top-1 (numbers) and the summary by throughput.
    o.click_header("accuracy-table", "top-1 (%)")
    top1 = o.column("accuracy-table", "top-1 (%)")
    assert top1 == sorted(top1) and len(top1) == 3
    o.click_header("summary", "img/s")
    tput = o.column("summary", "img/s")
    assert tput == sorted(tput)
    o.page.uncheck(".devfilter[value='cuda']")
    devices = o.page.eval_on_selector_all(
        "#results tbody tr", "rs => rs.filter(r => r.offsetParent !== null).map(r => r.dataset.device)"
    )
    assert devices and set(devices) == {"cpu"}
    assert o.errors == [], o.errors
    o.page.close()


def test_hostile_names_stay_text_in_chromium(browser, tmp_path):
    suite = "<script>alert(1)</script>"
    model = '<img src=x onerror="alert(2)">'
    run = write_run(
        tmp_path,
        suite=suite,
        run_id="xss-1",
        models=[(model, "vit", 1.0, 0.5, 70.0)] + DEFAULT_MODELS[:1],
        batches=(1,),
        failures=False,
    )
    page_path = render_run_report(run, tmp_path / "xss.html", strict=True)
    o = Opened(browser, page_path)
    assert o.dialogs == [] and o.errors == [], (o.dialogs, o.errors)
    assert o.page.text_content("h1 .suite") == suite
    assert suite in o.page.title()
    assert model in o.page.text_content("#results")
    assert o.page.eval_on_selector_all("img", "imgs => imgs.filter(i => !i.src.startsWith('data:')).length") == 0
    o.page.close()
