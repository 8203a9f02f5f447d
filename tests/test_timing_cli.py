"""End to end through the real CLI: a runtime-variant × batch sweep of a tiny model on a
deliberately busy machine, with a worker memory cap so the huge batch really runs out of memory.

Checks the busy-machine warning (stdout/stderr, run.json, report), the OOM row and the sweep
stopping after it, requested vs actual batch, the hardware ceiling in run.json, efficiency
columns, parity columns and the `best` view on the real rows.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bench import load_results
from bench.best import best_for_run
from bench.env import BUSY_PROCS_LISTED, measure_load
from tests.conftest import ROOT, write_suite

BUSY = "import time\nend = time.time() + {secs}\nwhile time.time() < end:\n    pass\n"


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_busy_loop_is_detected_and_named():
    # Started through a shell that exits at once, so the loop is not our child: measure_load
    # ignores its own process tree, as it must for archbench's workers.
    pid = int(
        subprocess.run(
            ["sh", "-c", f'"{sys.executable}" -c "{BUSY.format(secs=20)}" >/dev/null 2>&1 & echo $!'],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    try:
        time.sleep(0.3)
        snap = measure_load(window_s=0.5)
    finally:
        _kill(pid)
    assert snap.busy and snap.other_procs_cpu_percent >= 25
    assert snap.warning.startswith("machine busy") and "unreliable" in snap.warning
    if len(snap.busy_procs) < BUSY_PROCS_LISTED:  # on a crowded machine it may rank below the listed ones
        assert any(f"[{pid}]" in p for p in snap.busy_procs)


SWEEP = """
name: variant-sweep
models: [test:cnn]
runtimes: [eager, channels_last]
precisions: [fp32]
batch_sizes: [1, 400000, 800000]
threads: [1]
metrics: [params, flops, latency, memory]
timing: {warmup_min_iters: 2, warmup_max_s: 0.2, min_samples: 5, max_time_s: 0.2, ceiling_s: 0.3}
memory_limit_mb: 1500
timeout_s: 90
"""


@pytest.fixture(scope="module")
def busy_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    suite = write_suite(tmp, SWEEP)
    results_dir = tmp / "r"
    busy = subprocess.Popen([sys.executable, "-c", BUSY.format(secs=120)])
    try:
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
                str(tmp / "p"),
                "-q",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The load is measured before run.json is first written; stop the loop then, so the
        # cells themselves are measured on a machine that is quiet again.
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and not list(results_dir.glob("*/run.json")):
            time.sleep(0.1)
        busy.kill()
        out, err = proc.communicate(timeout=600)
    finally:
        busy.kill()
        busy.wait()
    assert proc.returncode == 0, err + out
    run_dir = next(results_dir.iterdir())
    return {
        "run_dir": run_dir,
        "out": out,
        "err": err,
        "reports": tmp / "p",
        "df": load_results(run_dir),
        "meta": json.loads((run_dir / "run.json").read_text()),
    }


def test_busy_machine_warning_reaches_output_run_json_and_report(busy_run):
    assert "warning: machine busy" in busy_run["err"]
    load = busy_run["meta"]["load"]
    assert load["busy"] and load["warning"].startswith("machine busy")
    page = next(busy_run["reports"].glob("2*.html")).read_text()
    assert "machine busy" in page


def test_every_cell_has_a_row_and_the_huge_batch_is_an_oom_that_stops_the_sweep(busy_run):
    df = busy_run["df"].set_index(["runtime", "precision", "batch_size"])
    assert len(df) == 6
    for runtime in ("eager", "channels_last"):
        assert df.loc[(runtime, "fp32", 1), "status"] == "ok"
        assert df.loc[(runtime, "fp32", 400000), "status"] == "oom"
        assert "out of memory at batch 400000" in df.loc[(runtime, "fp32", 400000), "error"]
        skipped = df.loc[(runtime, "fp32", 800000)]
        assert skipped["status"] == "skipped" and "sweep stopped" in skipped["error"]
    ok = busy_run["df"][busy_run["df"]["status"] == "ok"]
    assert (ok["batch_size_actual"] == ok["batch_size"]).all()  # requested and actual both recorded
    assert (ok["threads_actual"] == 1).all()
    assert ok["timing_clock"].eq("perf_counter_ns").all() and ok["n_samples"].ge(5).all()


def test_hardware_ceiling_and_efficiency(busy_run):
    hw = busy_run["meta"]["hardware"]
    fp32 = [h for h in hw if h["precision"] == "fp32"]
    assert len(fp32) == 1 and fp32[0]["threads"] == 1 and fp32[0]["matmul_gflops"] > 0 and fp32[0]["mem_bw_gbs"] > 0
    assert {"timing_rule", "hardware_rule", "parity_rule"} <= set(busy_run["meta"]["conventions"])
    ok = busy_run["df"][(busy_run["df"]["status"] == "ok") & (busy_run["df"]["precision"] == "fp32")]
    achieved = 2 * ok["gmacs"] * ok["throughput_ips"]
    assert (abs(ok["achieved_gflops"] - achieved) <= 1e-9 * achieved).all()
    # the ceiling is the faster of the matmul and 3×3 conv probes, and run.json names which
    assert fp32[0]["ceiling_gflops"] == max(fp32[0]["matmul_gflops"], fp32[0]["conv_gflops"])
    assert fp32[0]["ceiling_kernel"] in ("matmul", "conv3x3") and (ok["ceiling_kernel"] == fp32[0]["ceiling_kernel"]).all()
    assert (abs(ok["efficiency"] - ok["achieved_gflops"] / fp32[0]["ceiling_gflops"]) < 1e-12).all()


def test_parity_columns_and_best_view_on_real_rows(busy_run):
    df = busy_run["df"]
    cl = df[(df["runtime"] == "channels_last") & (df["precision"] == "fp32") & (df["batch_size"] == 1)].iloc[0]
    assert cl["parity_max_rel_err"] <= 1e-5 and cl["parity_top1_agree"] == 1.0
    best = best_for_run(busy_run["run_dir"])
    b1 = best[best["batch_size"] == 1].iloc[0]
    assert b1["n_variants"] == 2 and b1["best_runtime"] in ("eager", "channels_last")
    winner = df[df["cell_key"] == b1["best_cell_key"]].iloc[0]
    eligible = df[(df["batch_size"] == 1) & (df["status"] == "ok")]
    assert winner["latency_ms_p50"] == eligible["latency_ms_p50"].min()
    assert pd_isna(best[best["batch_size"] == 400000].iloc[0]["best_runtime"])


def pd_isna(v) -> bool:
    return v is None or v != v
