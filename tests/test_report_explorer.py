"""The report's interactive explorer (bench/report/explorer.py + templates/explorer.*.j2).

Payload and page checks run without a browser; the behaviour a reader sees — hover, controls,
the budget picker, legend toggles, the scrolling table, no requests, no console errors — is
checked in Debian's chromium (same launch as tests/test_report_browser.py; those tests skip
loudly without it). Runs are constructed (tests/test_report_runs.py), so every expectation is
computed from the run's own tables, never from a timing measured here.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import results
from bench.report.data import ReportData
from bench.report.explorer import build_explorer, plotly_js, script_json
from bench.report.html import render_run_report, update_index
from tests.test_report_runs import DEFAULT_MODELS, write_run

HOSTILE = ["<img src=x onerror=alert(1)>", "cnn [/]", "a & b <b>bold</b> $x$"]
HOSTILE_MODELS = [
    (HOSTILE[0], "cnn", 10.0, 2.0, 70.0),
    (HOSTILE[1], "mobile", 3.0, 0.3, 60.0),
    (HOSTILE[2], "vit", 20.0, 6.0, 80.0),
]


def _load(run_dir: Path) -> ReportData:
    return ReportData(results.load_results(run_dir), results.load_samples(run_dir), results.read_run_meta(run_dir))


def _payload(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page, re.S)
    assert m, "no explorer payload in the page"
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def two_devices(tmp_path_factory) -> Path:
    """The default suite's shape on two devices: 12 models × batch 1, 8 × cpu, cuda + accuracy."""
    return write_run(
        tmp_path_factory.mktemp("xp-two-dev"),
        suite="explore",
        run_id="20260103-000000-explore-0003",
        devices=("cpu", "cuda"),
        failures=False,
    )


@pytest.fixture(scope="module")
def two_devices_page(two_devices, tmp_path_factory) -> Path:
    return render_run_report(two_devices, tmp_path_factory.mktemp("xp-page") / "explore.html", strict=True)


# ── without a browser ────────────────────────────────────────────────────────────────────


def test_controls_only_where_the_run_has_choices_and_default_to_the_reference(two_devices):
    ex = build_explorer(_load(two_devices))
    shown = {c.key: c for c in ex.shown_controls}
    assert sorted(shown) == ["batch", "device"]
    assert shown["device"].values == ["cpu", "cuda"] and shown["device"].default == "cpu"
    assert shown["batch"].values == [1, 8] and shown["batch"].default == 1
    fixed = {c.key: c.default for c in ex.controls if not c.shown}
    assert fixed == {"precision": "fp32", "runtime": "eager", "threads": 2, "img": 224}
    assert ex.n_rows == 12 * 2 * 2 and ex.has_accuracy


def test_payload_rows_carry_accuracy_interval_and_samples(two_devices, two_devices_page):
    payload = _payload(two_devices_page.read_text())
    df = results.load_results(two_devices)
    speed = df[df["task"] == "speed"]
    assert len(payload["rows"]) == len(speed)
    row = next(r for r in payload["rows"] if r["model"] == "tv:resnet50" and r["device"] == "cpu" and r["batch"] == 8)
    want = speed[(speed["model"] == "tv:resnet50") & (speed["device"] == "cpu") & (speed["batch_size"] == 8)].iloc[0]
    assert row["p50"] == pytest.approx(want["latency_ms_p50"]) and row["gmacs"] == pytest.approx(want["gmacs"])
    acc = df[(df["task"] == "accuracy") & (df["model"] == "tv:resnet50")].iloc[0]
    assert row["top1"] == pytest.approx(acc["top1"]) and row["acc_source"] == acc["acc_source"] != ""
    assert row["ci"]["kind"] == "95% CI of the median" and row["ci"]["lo"] < row["p50"] < row["ci"]["hi"]
    assert row["samples"][0][0] == "0" and len(row["samples"][0][1]) == want["n_samples"]  # one round, round 0
    assert payload["ceilings"] == [
        {"device": d, "precision": "fp32", "threads": 2, "gflops": g, "kernel": "matmul", "mem_bw_gbs": 18.0}
        for d, g in (("cpu", 150.0), ("cuda", 20000.0))
    ]
    assert payload["labels"]["mem"] == "activation peak (MiB)" and payload["mem_unit"] == "MiB"


def test_rounds_give_a_box_per_round_and_the_round_medians_as_interval(tmp_path):
    run = write_run(tmp_path, models=DEFAULT_MODELS[:2], batches=(1,), failures=False, n_samples=30)
    samples = results.load_samples(run)
    # Three rounds of 10 samples per cell; round 2 of every cell sits 20% higher (another process).
    samples["round"] = samples["iteration"] // 10
    samples.loc[samples["round"] == 2, "latency_ms"] *= 1.2
    results.write_table_atomic(samples, run / "samples.parquet")
    payload = json.loads(str(build_explorer(_load(run)).payload))
    row = payload["rows"][0]
    assert [r for r, _ in row["samples"]] == ["0", "1", "2"] and all(len(v) == 10 for _, v in row["samples"])
    meds = [float(np.median(v)) for _, v in row["samples"]]
    # (the page keeps 5 significant digits per sample)
    assert row["ci"] == {
        "lo": pytest.approx(min(meds), rel=1e-4),
        "hi": pytest.approx(max(meds), rel=1e-4),
        "kind": "range of 3 round medians",
    }
    assert meds[2] > 1.1 * meds[0]
    # When the run computed its own interval over the rounds (bench.rounds), the page shows that one.
    df = results.load_results(run)
    df["latency_ms_p50_ci_low"], df["latency_ms_p50_ci_high"] = df["latency_ms_p50"] * 0.9, df["latency_ms_p50"] * 1.2
    results.write_table_atomic(df, run / "results.parquet")
    row = json.loads(str(build_explorer(_load(run)).payload))["rows"][0]
    want = df[df["cell_key"] == df[df["task"] == "speed"]["cell_key"].iloc[0]].iloc[0]
    assert row["ci"] == {
        "lo": pytest.approx(want["latency_ms_p50"] * 0.9),
        "hi": pytest.approx(want["latency_ms_p50"] * 1.2),
        "kind": "95% interval over 3 rounds",
    }


def test_payload_cannot_close_its_script_element():
    text = str(script_json({"model": "</script><script>alert(1)</script>", "x": "a & b \u2028"}))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"model": "</script><script>alert(1)</script>", "x": "a & b \u2028"}


def test_page_inlines_plotly_once_and_hostile_names_only_as_escaped_text(tmp_path):
    run = write_run(tmp_path, suite="hostile", run_id="xp-hostile-1", models=HOSTILE_MODELS, batches=(1,), failures=False)
    page = render_run_report(run, tmp_path / "h.html", strict=True).read_text()
    bundle = str(plotly_js())
    assert page.count(bundle) == 1 and len(bundle) > 1_000_000
    own = page.replace(bundle, "")
    assert "http://" not in own and "https://" not in own and "<script src" not in own
    for name in HOSTILE[0:1] + ["<b>bold</b>"]:
        assert name not in page  # neither as markup nor raw inside the JSON element
    assert [r["model"] for r in _payload(page)["rows"]] == HOSTILE


def test_report_files_are_readable_by_others(tmp_path):
    res, rep = tmp_path / "results", tmp_path / "reports"
    write_run(res, models=DEFAULT_MODELS[:1], batches=(1,), failures=False, accuracy=False)
    old = os.umask(0o022)  # the usual umask (the writer keeps the user's umask, as open() does)
    try:
        update_index(res, rep)
    finally:
        os.umask(old)
    pages = sorted(p.name for p in rep.iterdir())
    assert pages == ["20260101-000000-default-0001.html", "index.html", "latest.html"]
    assert {oct(p.stat().st_mode & 0o777) for p in rep.iterdir()} == {"0o644"}


def test_a_run_without_speed_rows_has_no_explorer_and_no_bundle(tmp_path):
    acc_only = write_run(tmp_path, suite="acc", run_id="acc-1", models=DEFAULT_MODELS[:3], batches=(), failures=False)
    page = render_run_report(acc_only, tmp_path / "acc.html", strict=True).read_text()
    assert 'id="explorer-data"' not in page and len(page) < 1_000_000


# ── in chromium ──────────────────────────────────────────────────────────────────────────

from tests.test_report_browser import Opened, browser  # noqa: E402,F401  (the shared chromium fixture)


class Explored(Opened):
    """An explorer page (Opened blocks and records every non-local request) and its figures."""

    def trace_points(self, fig: str) -> list[dict]:
        """Every drawn point of a figure's model traces: model, x, y, family, visible."""
        return self.page.evaluate(
            """id => {
            const gd = document.getElementById(id), out = [];
            gd.data.forEach(t => { if (t.meta && t.meta.points) t.customdata.forEach((m, i) =>
                out.push({model: m, x: t.x[i], y: t.y[i], family: t.meta.family, visible: t.visible}))});
            return out; }""",
            fig,
        )

    def budget_pick(self) -> list[str]:
        return self.page.evaluate("""() => document.getElementById('xp-acc').data
            .filter(t => t.meta && t.meta.budget).map(t => t.customdata[0])""")

    def hover_point(self, fig: str, x: float, y: float) -> str:
        """Move the mouse onto data point (x, y) of a figure and return the hover label's text."""
        self.page.locator(f"#{fig}").scroll_into_view_if_needed()
        px = self.page.evaluate(
            """([id, x, y]) => {
            const gd = document.getElementById(id), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const r = gd.getBoundingClientRect();
            return [r.left + xa._offset + xa.c2p(x), r.top + ya._offset + ya.c2p(y)]; }""",
            [fig, x, y],
        )
        # Off the figure first, until the previous label is gone, so the label read is this point's.
        self.page.mouse.move(2, 2)
        self.page.wait_for_function("id => !document.querySelector(`#${id} .hoverlayer .hovertext`)", arg=fig)
        self.page.mouse.move(px[0] - 30, px[1] - 30)
        self.page.mouse.move(px[0], px[1], steps=4)
        self.page.wait_for_selector(f"#{fig} .hoverlayer .hovertext")
        return self.page.text_content(f"#{fig} .hoverlayer")


@pytest.fixture
def explored(browser):  # noqa: F811  (pytest passes the imported fixture)
    opened: list[Explored] = []

    def open_page(path: Path, **kw) -> Explored:
        opened.append(Explored(browser, path, **kw))
        return opened[-1]

    yield open_page
    for o in opened:
        o.page.close()


def _expected(df: pd.DataFrame, device: str, batch: int) -> dict[str, float]:
    sp = df[(df["task"] == "speed") & (df["device"] == device) & (df["batch_size"] == batch)]
    return dict(zip(sp["model"], sp["latency_ms_p50"]))


def _best_within(df: pd.DataFrame, column: str, budget: float) -> str:
    """The budget rule written independently of the page: most accurate model whose value at
    cpu, batch 1 is within the budget (ties: the smaller value)."""
    sp = df[(df["task"] == "speed") & (df["device"] == "cpu") & (df["batch_size"] == 1)]
    acc = df[df["task"] == "accuracy"].set_index("model")["top1"]
    fits = sp[sp[column] <= budget].assign(top1=lambda t: t["model"].map(acc)).dropna(subset=["top1"])
    return fits.sort_values(["top1", column], ascending=[False, True])["model"].iloc[0]


@pytest.mark.browser
def test_controls_budget_legend_and_table_in_chromium(two_devices, two_devices_page, explored):
    o = explored(two_devices_page, width=1000, height=900)
    df = results.load_results(two_devices)
    # Default view: cpu, batch 1 — the plotted latencies are exactly those rows.
    pts = o.trace_points("xp-gmacs")
    assert {p["model"]: p["y"] for p in pts} == pytest.approx(_expected(df, "cpu", 1))
    assert o.page.text_content("#xp-count") == "12 of 48 measured cells in this configuration"

    # Hovering a point names its model (and its accuracy source).
    resnet = next(p for p in o.trace_points("xp-acc") if p["model"] == "tv:resnet50")
    label = o.hover_point("xp-acc", resnet["x"], resnet["y"])
    assert "resnet50" in label and "top-1 (%): 76.1 (" in label and "95% CI of the median" in label

    # Changing the batch, then the device, re-plots the points from those rows.
    o.page.select_option("#xp-ctl-batch", label="8")
    o.page.wait_for_function("document.getElementById('xp-count').textContent.startsWith('12 of 48')")
    assert {p["model"]: p["y"] for p in o.trace_points("xp-gmacs")} == pytest.approx(_expected(df, "cpu", 8))
    o.page.select_option("#xp-ctl-device", label="cuda")
    cuda8 = _expected(df, "cuda", 8)
    assert {p["model"]: p["y"] for p in o.trace_points("xp-gmacs")} == pytest.approx(cuda8)
    assert {p["model"]: p["x"] for p in o.trace_points("xp-acc")} == pytest.approx(cuda8)
    assert max(cuda8.values()) < min(_expected(df, "cpu", 8).values())  # the points really moved
    o.page.select_option("#xp-ctl-device", label="cpu")
    o.page.select_option("#xp-ctl-batch", label="1")

    # A latency budget highlights the most accurate model within it; so does a memory budget.
    want = _best_within(df, "latency_ms_p50", 35.0)
    assert want == "timm:vit_tiny_patch16_224"  # the constructed run's answer, not a tautology
    o.page.fill("#budget-value", "35")
    assert o.budget_pick() == [want]
    result = o.page.text_content("#budget-result")
    source = df[(df["task"] == "accuracy") & (df["model"] == want)]["acc_source"].iloc[0]
    assert result.startswith("Most accurate within 35 ms: vit_tiny_patch16_224 — top-1 75.5 % (scratch, digits)")
    assert source == "scratch" and "95% CI of the median" in result
    o.page.select_option("#budget-kind", "memory")
    o.page.fill("#budget-value", "20")
    want_mem = _best_within(df, "act_peak_mb", 20.0)
    assert want_mem == "tv:efficientnet_b0" and o.budget_pick() == [want_mem]
    assert "efficientnet_b0" in o.page.text_content("#budget-result")
    o.page.fill("#budget-value", "1")
    assert o.budget_pick() == [] and "No model with an accuracy fits within 1 MiB" in o.page.text_content("#budget-result")

    # A legend click hides a family in every figure; a second click brings it back.
    o.page.locator("#xp-gmacs g.traces", has_text="mobile CNN").click()
    o.page.wait_for_function("window.archbenchExplorer.hidden.mobile === true")
    for fig in ("xp-acc", "xp-params", "xp-tput"):
        hidden = {p["visible"] for p in o.trace_points(fig) if p["family"] == "mobile"}
        shown = {p["visible"] for p in o.trace_points(fig) if p["family"] != "mobile"}
        assert hidden == {"legendonly"} and shown == {True}, fig
    o.page.locator("#xp-acc g.traces", has_text="mobile CNN").click()
    o.page.wait_for_function("window.archbenchExplorer.hidden.mobile === false")

    # The all-results table scrolls inside its box; the first column and the header stay in view.
    box = o.page.evaluate("""() => { const w = document.querySelector('#results').closest('.table-wrap');
        w.scrollIntoView(); w.scrollLeft = 400; w.scrollTop = 200;
        const first = document.querySelector('#results tbody tr:nth-child(12) td:first-child').getBoundingClientRect();
        const head = document.querySelector('#results thead th:nth-child(5)').getBoundingClientRect();
        const r = w.getBoundingClientRect();
        return {wide: w.scrollWidth > w.clientWidth, tall: w.scrollHeight > w.clientHeight, scrolledX: w.scrollLeft,
                firstLeft: first.left - r.left, headTop: head.top - r.top}; }""")
    assert box["wide"] and box["tall"] and box["scrolledX"] > 100, box
    assert abs(box["firstLeft"]) <= 2 and abs(box["headTop"]) <= 2, box

    assert o.blocked == [] and all(u.startswith(("file:", "data:")) for u in o.requests), (o.blocked, o.requests)
    assert o.errors == [] and o.dialogs == [], (o.errors, o.dialogs)


@pytest.mark.browser
def test_hostile_names_are_text_in_hover_and_ticks_in_chromium(tmp_path, explored):
    run = write_run(tmp_path, suite="hostile", run_id="xp-hostile-2", models=HOSTILE_MODELS, batches=(1,), failures=False)
    o = explored(render_run_report(run, tmp_path / "h.html", strict=True))
    for p in o.trace_points("xp-acc"):
        label = o.hover_point("xp-acc", p["x"], p["y"])
        assert p["model"] in label, (p["model"], label)
    # Category ticks of the distribution figure are the raw names, as text.
    ticks = o.page.eval_on_selector_all("#xp-dist .yaxislayer-above .ytick text", "ts => ts.map(t => t.textContent)")
    assert sorted(ticks) == sorted(HOSTILE)
    assert o.page.eval_on_selector_all("#explorer img, .xp-plot b", "els => els.length") == 0
    assert o.blocked == [] and o.errors == [] and o.dialogs == [], (o.blocked, o.errors, o.dialogs)
