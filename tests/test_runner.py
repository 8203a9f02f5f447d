"""The pipeline end to end through the real CLI: run → files → report, faults, resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bench import load_results
from bench.results import SCHEMA_VERSION, load_samples
from tests.conftest import ROOT, as_list, run_cli, write_suite


def test_ci_suite_writes_every_file(ci_run):
    run_dir: Path = ci_run["run_dir"]
    for name in ("results.parquet", "results.csv", "samples.parquet", "run.json"):
        assert (run_dir / name).is_file(), name
    df = load_results(run_dir)
    assert len(df) == 8 and set(df["status"]) == {"ok"}
    assert set(df["family"]) == {"cnn", "mobile", "vit", "hybrid"}
    for col in (
        "params_m",
        "gmacs",
        "latency_ms_p50",
        "latency_ms_mean",
        "latency_ms_min",
        "latency_ms_max",
        "latency_ms_std",
        "throughput_ips",
        "act_peak_mb",
        "rss_peak_mb",
    ):
        assert df[col].notna().all(), col
    assert (df["act_peak_mb"] > 0).all() and "peak_mem_mb" not in df.columns
    assert (df["latency_ms_min"] <= df["latency_ms_p50"]).all()
    assert (df["latency_ms_p50"] <= df["latency_ms_max"]).all()
    # p90 (requested by default) exists exactly where 100 samples support it; else the note says why
    for _, r in df.iterrows():
        if r["n_samples"] >= 100:
            assert r["latency_ms_p50"] <= r["latency_ms_p90"] <= r["latency_ms_max"]
        else:
            assert pd.isna(r["latency_ms_p90"]) and f"p90 empty: {r['n_samples']} samples" in r["latency_note"]
        assert pd.isna(r["latency_ms_p99"]) or r["n_samples"] >= 1000
    assert (df["threads_actual"] == 1).all()
    # throughput is derived from the same samples: batch / median latency
    tp = df["batch_size"] / (df["latency_ms_p50"] / 1000)
    assert (abs(tp - df["throughput_ips"]) / tp < 1e-9).all()
    # CSV and Parquet hold the same table
    csv = pd.read_csv(run_dir / "results.csv")
    assert list(csv["cell_key"]) == list(df["cell_key"])

    samples = load_samples(run_dir)
    counts = samples.groupby("cell_key").size()
    for _, row in df.iterrows():
        assert counts[row["cell_key"]] == row["n_samples"]
        s = samples[samples["cell_key"] == row["cell_key"]]
        # suites/ci.yaml times each cell in 5 worker processes; p50 is the median of their medians
        assert sorted(set(s["round"])) == [0, 1, 2, 3, 4] and row["rounds_ok"] == 5
        assert len(set(as_list(row["worker_pids"]))) == 5
        rounds_p50 = s.groupby("round")["latency_ms"].median()
        assert rounds_p50.median() == pytest.approx(row["latency_ms_p50"])
        assert row["latency_ms_p50_ci_low"] <= row["latency_ms_p50_ci_high"]

    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["schema_version"] == SCHEMA_VERSION and meta["status"] == "complete"
    env = meta["environment"]
    for k in ("cpu_model", "cpu_count", "torch", "torchvision", "timm", "python", "git_commit"):
        assert k in env
    assert meta["suite"]["name"] == "ci" and meta["cells_total"] == 8
    assert "timing_rule" in meta["conventions"]
    assert "loadavg_1m" in meta["load"]


def test_ci_suite_report_and_index(ci_run):
    reports = ci_run["reports"]
    run_id = ci_run["run_dir"].name
    page = reports / f"{run_id}.html"
    assert page.is_file() and (reports / "index.html").is_file() and (reports / "latest.html").is_file()
    html = page.read_text()
    for model in ("test:cnn", "test:mobile", "test:vit", "test:hybrid"):
        assert model in html
    assert "data:image/png;base64," in html
    # Self-contained: nothing loaded from elsewhere. The inlined plotly.js bundle names URLs in
    # its own strings (never fetched; the browser tests block and count requests), so it is
    # taken out before looking.
    from bench.report.explorer import plotly_js

    own = html.replace(str(plotly_js()), "")
    assert "<script src" not in own and "http://" not in own and "https://" not in own
    assert run_id in (reports / "index.html").read_text()
    assert (reports / "latest.html").read_text() == html


def test_report_markdown(ci_run):
    res = run_cli("report", str(ci_run["run_dir"]), "--format", "md")
    assert res.returncode == 0
    assert "| model |" in res.stdout and "test:vit" in res.stdout


FAULTS = """
name: faults
models:
  - {name: "fault:model", alias: raises, kwargs: {mode: raise}}
  - {name: "fault:model", alias: killed, kwargs: {mode: kill}}
  - {name: "fault:model", alias: hangs, kwargs: {mode: hang}}
  - {name: "fault:model", alias: tuple-out, kwargs: {mode: tuple}}
  - {name: "fault:model", alias: hungry, kwargs: {mode: alloc, alloc_mb: 3000}}
  - test:cnn
devices: [cpu, cuda]
batch_sizes: [1, 2]
metrics: [params, latency, memory]
timing: {min_samples: 5, max_time_s: 0.2, warmup_max_s: 0.2}
timeout_s: 8
memory_limit_mb: 1500
"""


def test_faults_are_recorded_and_the_suite_goes_on(tmp_path):
    import torch

    suite = write_suite(tmp_path, FAULTS)
    res = run_cli("run", str(suite), "--results-dir", str(tmp_path / "r"), "--reports-dir", str(tmp_path / "p"), "-q")
    assert res.returncode == 0, res.stderr
    df = load_results(next((tmp_path / "r").iterdir()))
    cpu = df[df["device"] == "cpu"].set_index(["model", "batch_size"])
    assert cpu.loc[("raises", 1), "status"] == "failed"
    assert "deliberate failure" in cpu.loc[("raises", 1), "error"]
    assert cpu.loc[("killed", 1), "status"] == "crashed" and "SIGKILL" in cpu.loc[("killed", 1), "error"]
    assert cpu.loc[("hangs", 1), "status"] == "timeout" and "timeout of 8 s" in cpu.loc[("hangs", 1), "error"]
    assert cpu.loc[("tuple-out", 1), "status"] == "failed" and "not a tensor" in cpu.loc[("tuple-out", 1), "error"]
    # out of memory under the worker's cap; the larger batch of the sweep is not attempted
    assert cpu.loc[("hungry", 1), "status"] == "oom" and "batch 1" in cpu.loc[("hungry", 1), "error"]
    assert cpu.loc[("hungry", 2), "status"] == "skipped" and "sweep stopped" in cpu.loc[("hungry", 2), "error"]
    assert cpu.loc[("test:cnn", 1), "status"] == "ok" and cpu.loc[("test:cnn", 2), "status"] == "ok"
    # the params measured before a fault are kept
    assert cpu.loc[("raises", 1), "params"] > 0
    cuda = df[df["device"] == "cuda"]
    if not torch.cuda.is_available():
        assert set(cuda["status"]) == {"skipped"}
        assert cuda["error"].str.contains("no CUDA device").all()
    html = next((tmp_path / "p").glob("2*.html")).read_text()
    assert "deliberate failure inside forward()" in html


def test_nothing_could_run_exits_nonzero(tmp_path):
    suite = write_suite(
        tmp_path,
        """
        name: broken
        models: [{name: "fault:model", kwargs: {mode: raise}}]
        metrics: [latency]
        timeout_s: 30
    """,
    )
    res = run_cli("run", str(suite), "--results-dir", str(tmp_path / "r"), "--reports-dir", str(tmp_path / "p"), "-q")
    assert res.returncode == 1
    assert "failed 1" in res.stdout


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = run_cli("run", str(ROOT / "suites" / "ci.yaml"), "--results-dir", str(blocker / "results"), "-q")
    assert res.returncode == 2
    assert "cannot be written" in res.stderr and "Traceback" not in res.stderr


SMALL = """
name: small
models: [test:cnn, test:mobile, test:vit]
metrics: [params, latency]
threads: [1]
timing: {rounds: 2, min_samples: 5, max_time_s: 0.2, warmup_max_s: 0.2}
"""


def test_resume_measures_only_missing_cells(tmp_path):
    suite = write_suite(tmp_path, SMALL)
    args = ["--results-dir", str(tmp_path / "r"), "--reports-dir", str(tmp_path / "p"), "-q"]
    assert run_cli("run", str(suite), *args).returncode == 0
    run_dir = next((tmp_path / "r").iterdir())
    cells = sorted((run_dir / "cells").glob("*.json"))
    assert len(cells) == 3
    kept = {p.name: p.read_bytes() for p in cells[1:]}
    cells[0].unlink()  # as if the run had stopped before this cell
    res = run_cli("run", str(suite), "--resume", str(run_dir), *args)
    assert res.returncode == 0 and "measured 1, kept 2" in res.stdout
    for name, data in kept.items():
        assert (run_dir / "cells" / name).read_bytes() == data  # finished cells untouched
    assert len(load_results(run_dir)) == 3
    # resuming with a different suite is refused
    other = write_suite(tmp_path, SMALL.replace("name: small", "name: other"), "other.yaml")
    res = run_cli("run", str(other), "--resume", str(run_dir), *args)
    assert res.returncode == 2 and "cannot resume" in res.stderr


def test_interrupted_run_keeps_finished_cells_and_resumes(tmp_path):
    suite = write_suite(tmp_path, SMALL.replace("max_time_s: 0.2", "max_time_s: 2.0"))
    results_dir = tmp_path / "r"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            str(suite),
            "--results-dir",
            str(results_dir),
            "--reports-dir",
            str(tmp_path / "p"),
            "-q",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell without job control starts background commands with SIGINT ignored, and the
        # ignore is inherited through exec: `make test &` would make this Ctrl-C a no-op (rc 0).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300  # the template's imports take a minute on a loaded 2-core machine
    while time.time() < deadline and not list(results_dir.glob("*/cells/*.json")):
        time.sleep(0.2)
    assert list(results_dir.glob("*/cells/*.json")), "no cell finished in time"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    run_dir = next(results_dir.iterdir())
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "interrupted"
    done = load_results(run_dir)
    assert 1 <= len(done) < 3 and set(done["status"]) == {"ok"}
    assert not list(run_dir.rglob("*.tmp"))  # no half-written file left behind
    res = run_cli(
        "run", str(suite), "--resume", str(run_dir), "--results-dir", str(results_dir), "--reports-dir", str(tmp_path / "p"), "-q"
    )
    assert res.returncode == 0
    done = load_results(run_dir)
    assert len(done) == 3 and set(done["rounds_ok"]) == {2}  # every round of every cell, none twice
    assert all(len(set(as_list(p))) == 2 for p in done["worker_pids"])


def test_model_too_big_for_this_machine_reports_meta_counts(tmp_path):
    # min_gpu_mem_gb above any GPU: params/GMACs come from the meta device, latency is skipped.
    suite = write_suite(
        tmp_path,
        """
        name: giant
        models: [{name: test:vit, alias: pretend-giant, min_gpu_mem_gb: 100000}]
    """,
    )
    res = run_cli("run", str(suite), "--results-dir", str(tmp_path / "r"), "--reports-dir", str(tmp_path / "p"), "-q")
    df = load_results(next((tmp_path / "r").iterdir()))
    row = df.iloc[0]
    assert row["status"] == "skipped" and "meta device" in row["error"] and ">= 100000 GB" in row["error"]
    from bench import registry
    from bench.metrics.flops import count_flops
    from bench.metrics.params import count_params

    real = registry.create_model("test:vit")
    assert row["params"] == count_params(real).total
    assert row["gmacs"] == pytest.approx(count_flops(real, 32).gmacs, rel=1e-6)
    assert pd.isna(row["latency_ms_p50"])
    assert res.returncode == 1  # nothing could be timed


def test_malloc_setting_reaches_the_worker_and_is_recorded(tmp_path, ci_run):
    # Default: steady thresholds; `malloc: system` leaves glibc's defaults. Both recorded per row.
    assert set(load_results(ci_run["run_dir"])["malloc"]) == {"steady"}
    meta = json.loads((ci_run["run_dir"] / "run.json").read_text())
    assert "MALLOC_MMAP_THRESHOLD_" in meta["conventions"]["malloc_rule"]
    suite = write_suite(
        tmp_path,
        """
        name: sysmalloc
        models: [test:cnn]
        metrics: [latency]
        malloc: system
        timing: {min_samples: 5, max_time_s: 0.2, warmup_max_s: 0.2}
    """,
    )
    env_clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            str(suite),
            "--results-dir",
            str(tmp_path / "r"),
            "--reports-dir",
            str(tmp_path / "p"),
            "-q",
        ],
        cwd=ROOT,
        env=env_clean,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert set(load_results(next((tmp_path / "r").iterdir()))["malloc"]) == {"system"}
