"""The report's content, without a browser: figures per data shape, tables, escaping,
Markdown, the index. Browser checks are in test_report_browser.py."""

from __future__ import annotations

import html as htmllib
import re
import time
from pathlib import Path

import pandas as pd
import pytest

from bench import results
from bench.report.data import ReportData, matmul_ceiling_gflops, pareto_front
from bench.report.explorer import plotly_js
from bench.report.figures import FAMILY_COLORS, build_figures
from bench.report.html import fmt, page_name, render_run_report, update_index
from bench.report.markdown import render_markdown
from tests.test_report_runs import DEFAULT_MODELS, write_run

PLOTLY_JS = str(plotly_js())
XSS_SUITE = "<script>alert(1)</script>"
XSS_MODEL = '<img src=x onerror="alert(2)">$\\x$|m'
XSS_ERROR = "</script><script>alert(3)</script> & <b>bold</b>\nsecond line"


@pytest.fixture(scope="module")
def default_like(tmp_path_factory) -> Path:
    """The default suite's shape: 12 models × batch 1, 8 + accuracy rows + failed cells."""
    return write_run(tmp_path_factory.mktemp("default-like"))


@pytest.fixture(scope="module")
def rich(tmp_path_factory) -> Path:
    """Every axis swept: sizes, runtimes, devices, batches — every figure applies."""
    return write_run(
        tmp_path_factory.mktemp("rich"),
        suite="rich",
        run_id="20260102-000000-rich-0002",
        models=DEFAULT_MODELS[::3],
        batches=(1, 4, 16),
        img_sizes=(224, 384, 512),
        runtimes=("eager", "compile", "onnxruntime"),
        devices=("cpu", "cuda"),
        n_samples=20,
    )


@pytest.fixture(scope="module")
def default_page(default_like, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("default-page") / "r.html"
    t0 = time.perf_counter()
    render_run_report(default_like, out, strict=True)
    print(f"\nrender of a default-shaped run (12 models × 2 batches + 12 accuracy + 5 failed): {time.perf_counter() - t0:.1f} s")
    return out.read_text()


def without_plotly(page: str) -> str:
    """The page with the inlined plotly.js bundle cut out (it is third-party code, checked once)."""
    head, sep, rest = page.partition(PLOTLY_JS[:200])
    assert sep, "the plotly.js bundle is not inlined"
    return head + rest[len(PLOTLY_JS) - 200 :]


def _figure_ids(page: str) -> list[str]:
    return re.findall(r'<figure id="([^"]+)" class="report-figure">', page)


def _load(run_dir: Path) -> ReportData:
    return ReportData(results.load_results(run_dir), results.load_samples(run_dir), results.read_run_meta(run_dir))


def test_default_shaped_run_renders_every_applicable_figure(default_page):
    page = default_page
    assert _figure_ids(page) == [
        "fig-acc-latency",
        "fig-lat-gmacs",
        "fig-lat-dist",
        "fig-throughput",
        "fig-memory",
        "fig-roofline",
        "fig-family-size",
    ]
    # The two figures this run cannot support say why instead of vanishing.
    assert "the suite measured a single input size" in page and "the suite measured a single runtime" in page
    # Every figure has a caption; the ceiling line is drawn and named with the measured rate.
    static = page.split('<h2 id="figures">')[1].split('<h2 id="results-section">')[0]
    assert static.count("<figcaption>") == 7
    assert "3×3 convolution (cpu 150 GFLOP/s)" in page
    assert "the line is the roofline from the measured bandwidth 18.0 GB/s (slope) and compute ceiling 150 GFLOP/s" in page
    assert static.count("data:image/png;base64,") == 7
    own = without_plotly(page)  # the bundle itself names URLs in code paths these pages never take
    assert "<script src" not in own and "http://" not in own and "https://" not in own
    # Units in headers, numeric sort keys on numeric cells.
    for header in ("latency p50 (ms)", "throughput (img/s)", "activations (MiB)", "params (M)", "top-1 (%)"):
        assert f">{header}</th>" in page
    rows = re.search(r'<table id="results".*?</table>', page, re.S).group(0)
    assert rows.count("<tr data-family=") == 24  # speed rows; accuracy has its own table
    assert 'data-v="61.1"' in rows  # alexnet's parameters, as a number
    # Accuracy joined to speed rows by model name, with its source.
    assert re.search(r"tv:resnet50.*?76\.1.*?(measured|scratch|reported)", rows, re.S)


def test_rich_run_draws_all_eight_figures_and_runtime_speedups(rich, tmp_path):
    page = render_run_report(rich, tmp_path / "r.html", strict=True).read_text()
    assert _figure_ids(page) == [
        "fig-acc-latency",
        "fig-lat-gmacs",
        "fig-lat-dist",
        "fig-throughput",
        "fig-memory",
        "fig-roofline",
        "fig-resolution",
        "fig-family-size",
        "fig-runtimes",
    ]
    assert "Not drawn for this run" not in page
    assert "224, 384, 512 px" in page
    assert "speed-up of each runtime over eager" in page
    # Both devices' ceilings are named; the device filter offers both.
    assert "cpu 150 GFLOP/s; cuda 20,000 GFLOP/s" in page
    assert 'class="devfilter" value="cpu"' in page and 'class="devfilter" value="cuda"' in page


def test_reference_rows_pick_eager_fp32_smallest_size_and_batch(rich):
    d = _load(rich)
    assert len(d.ref) == len(DEFAULT_MODELS[::3]) * 2  # one per (model, device)
    assert set(d.ref["runtime"]) == {"eager"} and set(d.ref["img_size"]) == {224} and set(d.ref["batch_size"]) == {1}
    assert set(d.ref_max["batch_size"]) == {16}
    summary = d.summary()
    cpu = [s for s in summary if s.device == "cpu"]
    assert [s.latency_ms_p50 for s in cpu] == sorted(s.latency_ms_p50 for s in cpu)


def test_pareto_front_known_points():
    # (latency, accuracy): b is beaten by a (faster and more accurate); d ties c on speed but is worse.
    pts = [(1.0, 70.0), (2.0, 60.0), (3.0, 80.0), (3.0, 75.0), (10.0, 85.0), (12.0, 84.0)]
    assert pareto_front(pts) == [0, 2, 4]


def test_summary_marks_the_pareto_models(default_like):
    d = _load(default_like)
    front = sorted(s.model for s in d.summary() if s.pareto)
    pts = [(s.latency_ms_p50, s.top1) for s in d.summary()]
    for s in d.summary():
        beaten = any(lat < s.latency_ms_p50 and acc > s.top1 for lat, acc in pts)
        assert s.pareto == (not beaten), s.model
    assert "tv:alexnet" in front and "tv:vgg16" not in front  # fastest is always on it; vgg16 is slow and mid-accuracy


@pytest.mark.parametrize(
    "hw, device, precision, threads, want",
    [
        (
            [
                {"device": "cpu", "precision": "fp32", "threads_actual": 2, "matmul_gflops": 120.0},
                {"device": "cpu", "precision": "fp32", "threads_actual": 1, "matmul_gflops": 60.0},
                {"device": "cpu", "precision": "bf16", "threads_actual": 2, "matmul_gflops": 400.0},
            ],
            "cpu",
            "fp32",
            1,
            60.0,
        ),
        ([{"device": "cpu", "precision": "fp32", "threads_actual": 2, "matmul_gflops": 120.0}], "cpu", "fp32", None, 120.0),
        ([{"device": "cuda", "precision": "fp32", "matmul_gflops": None, "skipped": "no GPU"}], "cuda", "fp32", None, None),
        ({"cpu": {"matmul_gflops": {"fp32": 90.5, "bf16": 300}}}, "cpu", "bf16", None, 300.0),
        ({"cuda:0": {"matmul_gflops": 5e4}}, "cuda", "fp32", None, 5e4),
        ({"matmul_gflops": 77}, "cpu", "fp32", None, 77.0),
        ({"matmul_gflops": "fast"}, "cpu", "fp32", None, None),
        (None, "cpu", "fp32", None, None),
        ("garbage", "cpu", "fp32", None, None),
    ],
)
def test_matmul_ceiling_read_defensively(hw, device, precision, threads, want):
    assert matmul_ceiling_gflops(hw, device, precision, threads) == want


def test_no_hardware_means_no_line_and_a_caption_that_says_so(tmp_path):
    run = write_run(tmp_path, models=DEFAULT_MODELS[:3], hardware=None, accuracy=False, failures=False)
    page = render_run_report(run, tmp_path / "r.html", strict=True).read_text()
    assert "no ceiling is drawn because run.json records no measured rate" in page
    assert "no roofline: run.json has no measured ceiling" in page
    assert "not measured in this run" in page


def test_missing_columns_and_empty_runs_still_render(tmp_path):
    # A results table from some other suite with almost nothing in it.
    run = write_run(tmp_path, suite="bare", run_id="bare-1", models=DEFAULT_MODELS[:2], accuracy=False, failures=False)
    thin = pd.DataFrame({"model": ["a", "b"], "status": ["ok", "failed"], "error": [None, "boom"], "cell_key": ["k1", "k2"]})
    results.write_table_atomic(thin, run / "results.parquet")
    page = render_run_report(run, tmp_path / "bare.html", strict=True).read_text()
    assert "boom" in page and "Not drawn for this run" in page
    # A run whose cells all failed, and a run with no cells at all.
    only_bad = pd.DataFrame({"model": ["m"], "status": ["oom"], "error": ["out of memory"], "task": ["speed"]})
    results.write_table_atomic(only_bad, run / "results.parquet")
    page = render_run_report(run, tmp_path / "bad.html", strict=True).read_text()
    assert "out of memory" in page and "No cell finished" in page
    results.write_table_atomic(pd.DataFrame(), run / "results.parquet")
    page = render_run_report(run, tmp_path / "empty.html", strict=True).read_text()
    assert "No figure" in page
    # An accuracy-only run: the accuracy table and the headline, no speed figures needing latency.
    acc_only = write_run(tmp_path, suite="acc", run_id="acc-1", models=DEFAULT_MODELS[:4], batches=(), failures=False)
    page = render_run_report(acc_only, tmp_path / "acc.html", strict=True).read_text()
    assert 'id="accuracy-table"' in page and "76.1" in page
    assert "no model has both an accuracy and a latency" in page


def test_hostile_names_render_as_text(tmp_path):
    run = write_run(
        tmp_path,
        suite=XSS_SUITE,
        run_id="xss-run",
        models=[(XSS_MODEL, "cnn", 1.0, 0.5, 70.0)] + DEFAULT_MODELS[:2],
        description='"><script>alert(4)</script>',
    )
    rec = {
        "cell": {"key": "x|speed|bad", "model": XSS_MODEL, "family": "<b>fam</b>", "device": "<i>dev</i>", "task": "speed"},
        "row": {"status": "failed", "error": XSS_ERROR},
    }
    results.write_cell_record(run, "zz-xss", rec)
    results.consolidate(run)
    page = render_run_report(run, tmp_path / "xss.html", strict=True).read_text()
    # Only our script elements: the table script, the JSON payload, plotly.js and the explorer.
    # None of the injected markup survives as markup.
    assert page.count("<script") == 4 and page.count("</script>") == 4
    assert page.count('<script type="application/json" id="explorer-data">') == 1
    for raw in (XSS_SUITE, "<img src=x", "<b>bold</b>", "<b>fam</b>", "<i>dev</i>"):
        assert raw not in page
    assert htmllib.escape(XSS_SUITE, quote=False) in page
    assert "&lt;img src=x onerror=" in page
    assert "alert(3)" in page  # the error text is shown, as text
    md = render_markdown(run)
    assert "<script>" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "\\|m" in md  # a pipe in a name does not break the table


def test_markdown_top_table_and_failed_cells(default_like):
    md = render_markdown(default_like)
    lines = md.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| model |"))
    rows = [line for line in lines[header + 2 :] if line.startswith("| ")]
    table = rows[:12]
    assert len(table) == 12 and table[0].startswith("| tv:alexnet")  # fastest first
    p50 = [float(r.split("|")[5].strip().replace(",", "")) for r in table]
    assert p50 == sorted(p50)
    assert "**Failed / skipped cells (5)**" in md
    for status in ("failed", "oom", "timeout", "skipped", "mismatch"):
        assert f"| {status} |" in md
    failed = md.split("**Failed")[1]
    assert "shapes cannot be multiplied (1x7 and 8x9) |" in failed and "Traceback" not in failed  # first line only


def test_failed_section_lists_status_reason_and_full_message(default_page):
    section = default_page.split('id="failed"')[1].split('id="method"')[0]
    for status in ("failed", "oom", "timeout", "skipped", "mismatch"):
        assert f'class="st st-{status}">{status}<' in section
    assert "shapes cannot be multiplied (1x7 and 8x9)" in section
    assert "<details><summary>full message</summary>" in section and "Traceback" in section


def test_environment_block(tmp_path):
    run = write_run(tmp_path, models=DEFAULT_MODELS[:2], busy=True, failures=False)
    page = render_run_report(run, tmp_path / "r.html", strict=True).read_text()
    method = page.split('id="method"')[1]
    for text in (
        "Test CPU",
        "CPU cores",
        "torch",
        "threads used",
        "timing rule",
        "FLOP convention",
        "GMACs: 1e9 multiply-accumulates",
        "matmul 150 GFLOP/s",
        "machine busy",
    ):
        assert text in method, text
    assert 'id="load-warning"' in page


def test_family_colours_are_consistent(default_page):
    rows = re.findall(
        r'<tr data-family="(\w+)" data-device="cpu"><td class="text"><span class="fam" style="background: (#\w+)">', default_page
    )
    assert rows and all(FAMILY_COLORS[f] == c for f, c in rows)


def test_index_newest_first_latest_and_claims_link(tmp_path):
    res, rep = tmp_path / "results", tmp_path / "reports"
    old = write_run(
        res,
        suite="older",
        run_id="20260101-000000-older-0001",
        started_at="2026-01-01T00:00:00+00:00",
        models=DEFAULT_MODELS[:1],
        failures=False,
        accuracy=False,
    )
    new = write_run(
        res,
        suite="newer",
        run_id="20260105-000000-newer-0002",
        started_at="2026-01-05T00:00:00+00:00",
        models=DEFAULT_MODELS[2:3],
        failures=False,
        accuracy=False,
    )
    (res / "not-a-run").mkdir()
    index = update_index(res, rep).read_text()
    assert index.index(new.name) < index.index(old.name)
    assert f'href="{new.name}.html"' in index and f'href="{old.name}.html"' in index
    assert "2026-01-05 00:00 UTC" in index and "Test CPU" in index
    assert (rep / "latest.html").read_bytes() == (rep / f"{new.name}.html").read_bytes()
    assert "claims.html" not in index
    (rep / "claims.html").write_text("<html></html>")
    index = update_index(res, rep, rerender=True).read_text()
    assert 'href="claims.html"' in index
    assert 'href="claims.html"' in (rep / "latest.html").read_text()
    assert 'href="index.html"' in (rep / "latest.html").read_text()


def test_page_name_and_fmt():
    assert page_name("20260101-000000-ci-9a47") == "20260101-000000-ci-9a47.html"
    assert page_name("../../etc/passwd") == "_.._etc_passwd.html"
    assert [fmt(v) for v in (None, float("nan"), 1234.5, 12.345, 1.2345, 0.012345, 0.00001234, 8.0, True, "x")] == [
        "",
        "",
        "1,234",
        "12.3",
        "1.23",
        "0.012",
        "1.2e-05",
        "8",
        "yes",
        "x",
    ]


def test_cli_report_md(default_like):
    from tests.conftest import run_cli

    res = run_cli("report", str(default_like), "--format", "md")
    assert res.returncode == 0 and "| model |" in res.stdout and "tv:mobilenet_v3_large" in res.stdout


def test_builders_report_failures_instead_of_crashing(default_like):
    d = _load(default_like)
    d.samples = d.samples.assign(latency_ms="not a number")  # unreadable samples for every cell
    figs, skipped = build_figures(d)
    dist = [s for s in skipped if s.title == "Latency distribution"]
    assert dist and dist[0].reason.startswith("could not be drawn (ValueError")
    assert len(figs) == 6  # the other applicable figures still render
    with pytest.raises(ValueError):
        build_figures(d, strict=True)


def test_summary_marks_unsupported_percentiles_and_flags_efficiency_above_the_ceiling():
    import pandas as pd

    from bench.metrics.hardware import EFFICIENCY_ABOVE_ONE
    from bench.report.html import summary_table

    base = {
        "task": "speed",
        "status": "ok",
        "device": "cpu",
        "precision": "fp32",
        "runtime": "eager",
        "batch_size": 1,
        "img_size": 224,
        "threads_actual": 2,
        "params_m": 1.0,
        "gmacs": 1.0,
        "latency_ms_p50": 5.0,
        "latency_rel_iqr": 0.01,
        "throughput_ips": 200.0,
        "act_peak_mb": 3.0,
    }
    df = pd.DataFrame(
        [
            {
                **base,
                "model": "a",
                "family": "cnn",
                "n_samples": 40,
                "latency_ms_p90": float("nan"),
                "latency_note": "p90 empty: 40 samples, p90 needs 100 (10 beyond it)",
                "efficiency": 1.3,
                "latency_ms_p50_ci_low": 4.5,
                "latency_ms_p50_ci_high": 5.6,
                "efficiency_note": EFFICIENCY_ABOVE_ONE,
            },
            {**base, "model": "b", "family": "vit", "n_samples": 150, "latency_ms_p90": 5.5, "efficiency": 0.4},
        ]
    )
    summ = summary_table(ReportData(df, pd.DataFrame(), {}))
    headers = [h for h, _ in summ["header"]]
    by_model = {r["cells"][0]["text"]: {h: c["text"] for h, c in zip(headers, r["cells"])} for r in summ["rows"]}
    assert by_model["a"]["p90 (ms)"] == "n/a" and by_model["b"]["p90 (ms)"] == "5.50"
    assert by_model["a"]["p50 (ms)"] == "5 (4.50–5.60)" and by_model["b"]["p50 (ms)"] == "5"  # interval over rounds
    assert by_model["a"]["eff. (%)"].endswith("†") and "†" not in by_model["b"]["eff. (%)"]
    assert by_model["a"]["act. (MiB)"] == "3"
    notes = " ".join(summ["notes"])
    assert "fewer than 100 samples" in notes and "above the measured ceiling" in notes
    # the full table flags the row too, with its reason in a column of its own
    from bench.report.html import results_table

    full = results_table(ReportData(df, pd.DataFrame(), {}))
    keys = [c.key for c in full["columns"]]
    rows = {r["cells"][keys.index("model")]["text"]: r["cells"] for r in full["rows"]}
    assert rows["a"][keys.index("efficiency")]["text"] == "130 †"
    assert "above the measured ceiling" in rows["a"][keys.index("efficiency_note")]["text"]
    assert rows["b"][keys.index("efficiency")]["text"] == "40" and rows["b"][keys.index("efficiency_note")]["text"] == ""
