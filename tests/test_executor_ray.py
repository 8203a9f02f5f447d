"""RayExecutor on a real Ray: a local cluster started by the CLI, and two nodes simulated on
this machine (ray.cluster_utils.Cluster). Never asserts on measured latencies."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from bench import load_results
from bench.cli import main
from bench.executor import LocalProcessExecutor
from bench.suite import load_suite, parse_suite
from tests.conftest import ROOT, run_cli

ray = pytest.importorskip("ray", reason="Ray is the optional extra archbench[ray] (make test installs it)")

from bench.executor_ray import TIMING_RESOURCE, RayExecutor, is_timing_cell, local_runtime_env  # noqa: E402
from bench.runner import all_cells  # noqa: E402

# Set before the simulated cluster starts, so its raylets, Ray workers and cell processes
# all carry it: lets the test find any cell process this test left behind.
MARKER = f"archbench-ray-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def two_nodes():
    from ray.cluster_utils import Cluster

    os.environ["ARCHBENCH_TEST_MARKER"] = MARKER
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 2, "resources": {TIMING_RESOURCE: 1}, "include_dashboard": False}
    )
    cluster.add_node(num_cpus=2, resources={TIMING_RESOURCE: 1})
    ray.init(address=cluster.address, runtime_env=local_runtime_env(), log_to_driver=False)
    cluster.wait_for_nodes()
    try:
        yield RayExecutor(poll_s=0.1)
    finally:
        ray.shutdown()
        cluster.shutdown()
        os.environ.pop("ARCHBENCH_TEST_MARKER", None)


def test_ci_suite_through_a_local_ray_cluster_matches_the_local_executor(ci_run, tmp_path):
    """The CLI starts a local Ray cluster for the run and shuts it down; params/GMACs equal a
    local run's; threads are what the suite asked for (Ray's OMP_NUM_THREADS=1 does not leak)."""
    res = run_cli(
        "run", str(ROOT / "suites" / "ci.yaml"), "--executor", "ray", "--results-dir", str(tmp_path / "r"), "--no-report", "-q"
    )
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout
    run_dir = next((tmp_path / "r").iterdir())
    ray_df = load_results(run_dir).set_index("cell_key")
    local_df = load_results(ci_run["run_dir"]).set_index("cell_key")
    assert sorted(ray_df.index) == sorted(local_df.index) and set(ray_df["status"]) == {"ok"}
    for col in ("params", "gmacs", "gmacs_check", "uncounted_ops", "threads_actual", "batch_size_actual"):
        assert ray_df[col].to_dict() == local_df.loc[ray_df.index, col].to_dict(), col
    assert ray_df["latency_ms_p50"].notna().all() and ray_df["node_id"].notna().all()

    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["executor"]["kind"] == "ray" and meta["status"] == "complete"
    assert [n["node_id"] for n in meta["nodes"]] == list(ray_df["node_id"].unique())
    assert meta["nodes"][0]["timing_slots"] == 1 and meta["nodes"][0]["cpu_model"] == ray_df["node_cpu_model"].iloc[0]
    rounds = load_suite(ROOT / "suites" / "ci.yaml").timing.rounds
    assert len(list((run_dir / "logs").glob("*.log"))) == 8 * rounds  # one log per cell and round, as locally
    for rec in (run_dir / "cells").glob("*.json"):  # every round of a cell ran on one node, with its own worker
        rs = json.loads(rec.read_text())["rounds"]
        assert len(rs) == rounds and len({r["row"]["node_id"] for r in rs}) == 1

    # Stopping the driver keeps finished cells; --resume completes the rest, here locally.
    gone = sorted((run_dir / "cells").glob("*.json"))[0]
    key = json.loads(gone.read_text())["cell"]["key"]
    gone.unlink()
    res = run_cli("run", str(ROOT / "suites" / "ci.yaml"), "--resume", str(run_dir), "--no-report", "-q")
    assert res.returncode == 0, res.stderr[-3000:]
    again = load_results(run_dir).set_index("cell_key")
    assert len(again) == 8 and set(again["status"]) == {"ok"}
    assert again.loc[key, "params"] == local_df.loc[key, "params"]
    assert "measured 1, kept 7" in res.stdout
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["executor"]["kind"] == "local" and len(meta["nodes"]) == 1  # the Ray nodes stay listed


def _cells(tmp_path: Path):
    suite = parse_suite(
        {
            "name": "ray-faults",
            "devices": ["cpu"],
            "batch_sizes": [1],
            "img_sizes": [32],
            "threads": [1],
            "models": [
                {"name": "fault:model", "alias": "fine", "kwargs": {"mode": "ok"}},
                {"name": "fault:model", "alias": "killed", "kwargs": {"mode": "kill"}},
                {"name": "fault:model", "alias": "hangs", "kwargs": {"mode": "hang"}},
                {"name": "test:cnn", "alias": "cnn-a"},
                {"name": "test:cnn", "alias": "cnn-b"},
                # min_gpu_mem_gb on CPU: params/GMACs on the meta device, nothing timed
                *({"name": "test:vit", "alias": f"meta-{i}", "min_gpu_mem_gb": 1} for i in range(3)),
            ],
            "timing": {"warmup_min_iters": 1, "min_samples": 5, "max_time_s": 0.2, "ceiling_s": 0},
            "timeout_s": 600,
        }
    )
    # The hanging cell alone gets a short timeout (the others may be slow on a busy machine).
    return [replace(c, timeout_s=20) if c.model == "hangs" else c for c in all_cells(suite)]


def test_faults_and_placement_on_two_simulated_nodes(two_nodes, tmp_path):
    cells = _cells(tmp_path)
    started = []
    outcomes = {
        c.model: o
        for c, o in two_nodes.run_all(
            cells, lambda c: tmp_path / "logs" / f"{c.slug}.log", on_start=lambda c: started.append(c.model)
        )
    }
    rows = {m: o.row for m, o in outcomes.items()}
    status = {m: r["status"] for m, r in rows.items()}
    assert status["killed"] == "crashed" and "SIGKILL" in rows["killed"]["error"]
    assert status["hangs"] == "timeout" and "cancelled its Ray task" in rows["hangs"]["error"]
    assert {status[m] for m in ("fine", "cnn-a", "cnn-b")} == {"ok"}
    assert {status[f"meta-{i}"] for i in range(3)} == {"skipped"}  # skipped for latency, with params/GMACs
    assert all(rows[f"meta-{i}"]["gmacs"] > 0 for i in range(3))
    assert sorted(started) == sorted(c.model for c in cells)
    assert len({r["node_id"] for r in rows.values()}) == 2  # both nodes took cells

    # Two timed cells never overlap on one node; cells that time nothing do run side by side.
    timed = {c.model for c in cells if is_timing_cell(c)}
    assert timed == {"fine", "killed", "hangs", "cnn-a", "cnn-b"}
    for node in {r["node_id"] for r in rows.values()}:
        spans = sorted((rows[m]["cell_start_unix_s"], rows[m]["cell_end_unix_s"]) for m in timed if rows[m]["node_id"] == node)
        for (_s1, e1), (s2, _e2) in zip(spans, spans[1:]):
            assert e1 <= s2, f"timed cells overlapped on node {node[:8]}: {spans}"
    light = [(rows[m]["cell_start_unix_s"], rows[m]["cell_end_unix_s"]) for m in rows if m.startswith("meta-")]
    assert any(s2 < e1 and s1 < e2 for i, (s1, e1) in enumerate(light) for (s2, e2) in light[i + 1 :])

    # The hung cell's worker died with its cancelled Ray task: no process of this test is left.
    psutil = pytest.importorskip("psutil")
    deadline = time.time() + 30
    while True:
        left = []
        for p in psutil.process_iter(["pid", "cmdline"]):
            try:
                if "bench.worker" in " ".join(p.info["cmdline"] or []) and p.environ().get("ARCHBENCH_TEST_MARKER") == MARKER:
                    left.append(p.info["pid"])
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        if not left or time.time() > deadline:
            break
        time.sleep(1)
    assert not left, f"cell worker processes left running: {left}"


def test_threads_null_gets_torch_default_not_rays_one(two_nodes, tmp_path):
    suite = parse_suite(
        {"name": "ray-threads", "models": ["test:cnn"], "img_sizes": [32], "threads": [None], "metrics": ["params"]}
    )
    cell = all_cells(suite)[0]
    ray_row = two_nodes.run(cell, tmp_path / "ray.log").row
    local_row = LocalProcessExecutor().run(cell, tmp_path / "local.log").row
    assert ray_row["status"] == local_row["status"] == "ok"
    assert ray_row["threads_actual"] == local_row["threads_actual"]
    assert (tmp_path / "ray.log").is_file()


def test_without_ray_installed_the_cli_names_the_install_command(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    rc = main(["run", str(ROOT / "suites" / "ci.yaml"), "--executor", "ray", "--results-dir", str(tmp_path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "pip install 'archbench[ray]'" in err and "Traceback" not in err


def test_ray_address_without_the_ray_executor_is_refused(capsys, tmp_path):
    rc = main(["run", str(ROOT / "suites" / "ci.yaml"), "--ray-address", "auto", "--results-dir", str(tmp_path)])
    assert rc == 2 and "--executor ray" in capsys.readouterr().err


def test_suite_may_choose_the_executor():
    suite = load_suite(ROOT / "suites" / "ci.yaml")
    assert suite.executor == "local"
    assert parse_suite({"name": "x", "models": ["test:cnn"], "executor": "ray"}).executor == "ray"
