"""Rules of runs that span machines, without Ray: which cells take a timing slot, compare's
environment guard per node, and the report grouping timing rows by hardware."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.compare import build_config, compare_runs
from bench.compare.core import NOT_COMPARABLE, RunData
from bench.report.data import hardware_label
from bench.runner import all_cells
from bench.suite import parse_suite


def _cells(**extra):
    suite = parse_suite(
        {"name": "s", "models": ["test:cnn", {"name": "test:vit", "min_gpu_mem_gb": 8}], "devices": ["cpu", "cuda"], **extra}
    )
    return {(c.model, c.device, c.task, c.options.get("source")): c for c in all_cells(suite)}


def test_only_cells_that_time_or_train_take_a_timing_slot():
    from bench.executor_ray import TIMING_RESOURCE, is_timing_cell, placement

    cells = _cells(
        accuracy=[{"source": "reported"}, {"source": "scratch", "dataset": "digits", "models": ["test:cnn"], "seeds": [0, 1, 2]}]
    )
    by = {k: c for k, c in cells.items()}
    cpu = by[("test:cnn", "cpu", "speed", None)]
    assert is_timing_cell(cpu) and placement(cpu, 0) == {"num_cpus": 1, "resources": {TIMING_RESOURCE: 1}}
    meta_cpu = by[("test:vit", "cpu", "speed", None)]  # giant-model rule: meta device on CPU
    assert not is_timing_cell(meta_cpu) and placement(meta_cpu, 0) == {"num_cpus": 1}
    cuda = by[("test:cnn", "cuda", "speed", None)]
    assert placement(cuda, 2) == {"num_cpus": 1, "num_gpus": 1}
    assert placement(cuda, 0) == {"num_cpus": 1}  # no GPU anywhere: the worker records it skipped
    reported = [c for k, c in by.items() if k[2] == "accuracy" and k[3] == "reported"]
    scratch = [c for k, c in by.items() if k[2] == "accuracy" and k[3] == "scratch"]
    assert reported and not any(is_timing_cell(c) for c in reported)
    assert scratch and all(is_timing_cell(c) for c in scratch)
    params_only = next(iter(_cells(metrics=["params", "flops"]).values()))
    assert not is_timing_cell(params_only)


ENV = {
    "hostname": "driver",
    "machine": "x86_64",
    "cpu_model": "EPYC",
    "cpu_count": 2,
    "python": "3.11.7",
    "torch": "2.14.1",
    "cuda_available": False,
}


def _run(label: str, node_of: dict[str, str] | None, nodes: dict[str, dict] | None, shift: float) -> RunData:
    rng = np.random.default_rng(0 if label == "BASE" else 1)
    keys = ["s|speed|a|cpu|fp32|eager|b1|32px|t1", "s|speed|b|cpu|fp32|eager|b1|32px|t1"]
    # 5 rounds (worker processes) per cell, 40 samples each, 1% noise
    rounds = {k: {r: 10.0 * shift * (1 + 0.01 * rng.standard_normal(40)) for r in range(5)} for k in keys}
    samples = {k: np.concatenate(list(rs.values())) for k, rs in rounds.items()}
    table = pd.DataFrame(
        {
            "cell_key": keys,
            "model": ["a", "b"],
            "device": "cpu",
            "status": "ok",
            "batch_size": 1,
            "threads_actual": 1,
            "params": 100,
            "latency_ms_p50": [float(np.median(samples[k])) for k in keys],
            "throughput_ips": [1000 / float(np.median(samples[k])) for k in keys],
        }
    )
    meta = {"run_id": label, "status": "complete", "suite": {"name": "s"}, "environment": dict(ENV)}
    if node_of:
        table["node_id"] = [node_of[m] for m in table["model"]]
        meta["nodes"] = [{**ENV, "node_id": nid, **env} for nid, env in nodes.items()]
    return RunData(label, Path(label), meta, table, samples, rounds)


def test_compare_guards_each_cell_by_the_node_that_ran_it():
    nodes = {"n1": {"hostname": "w1"}, "n2": {"hostname": "w2", "cpu_model": "Xeon"}}
    base = _run("BASE", {"a": "n1", "b": "n1"}, {"n1": nodes["n1"]}, 1.0)
    new = _run("NEW", {"a": "n1", "b": "n2"}, nodes, 1.3)  # 30% slower everywhere
    cmp = compare_runs(base, new, build_config({}))
    lat = {r.model: r for r in cmp.results if r.metric == "latency"}
    assert lat["a"].decision == "regressed"  # same node in both runs: judged
    assert lat["b"].decision == NOT_COMPARABLE and "cpu_model" in lat["b"].reason and "nodes" in lat["b"].reason
    assert {d.field for d in cmp.env_diffs} == {"hostname", "cpu_model"}
    # the params of the cell that moved machines are still compared exactly
    assert any(r.model == "b" and r.metric == "params" and r.decision == "unchanged" for r in cmp.results)


def test_local_run_against_a_cluster_run_on_the_same_machine_is_comparable():
    base = _run("BASE", None, None, 1.0)
    new = _run("NEW", {"a": "n1", "b": "n1"}, {"n1": {"hostname": "driver"}}, 1.0)
    cmp = compare_runs(base, new, build_config({}))
    assert not any(r.decision == NOT_COMPARABLE for r in cmp.results)


def test_hardware_label_groups_by_machine_kind_not_host():
    a = {"node_cpu_model": "EPYC", "node_hostname": "w1", "device": "cpu"}
    b = {"node_cpu_model": "EPYC", "node_hostname": "w2", "device": "cpu"}
    g = {"node_cpu_model": "EPYC", "node_gpu_name": "H200", "device": "cuda"}
    assert hardware_label(a) == hardware_label(b) == "EPYC"
    assert hardware_label(g) == "H200 (host EPYC)"
    assert hardware_label({"device": "cpu"}) is None


def test_report_table_groups_rows_by_hardware_when_a_run_spans_machines():
    from bench.report.data import ReportData
    from bench.report.html import results_table

    df = pd.DataFrame(
        {
            "cell_key": [f"s|speed|m{i}|cpu|fp32|eager|b1|32px|t1" for i in range(4)],
            "task": "speed",
            "model": ["m0", "m1", "m2", "m3"],
            "family": "cnn",
            "device": "cpu",
            "precision": "fp32",
            "runtime": "eager",
            "batch_size": 1,
            "img_size": 32,
            "threads_actual": 1,
            "status": "ok",
            "latency_ms_p50": [1.0, 2.0, 3.0, 4.0],
            "node_cpu_model": ["Xeon", "EPYC", "Xeon", "EPYC"],
        }
    )
    t = results_table(ReportData(df, pd.DataFrame()))
    assert t["columns"][0].key == "hardware"
    order = [[c["text"] for c in r["cells"][:2]] for r in t["rows"]]
    assert order == [["EPYC", "m1"], ["EPYC", "m3"], ["Xeon", "m0"], ["Xeon", "m2"]]
    one = results_table(ReportData(df.assign(node_cpu_model="EPYC"), pd.DataFrame()))
    assert ("hardware", "EPYC") in one["constants"] and one["columns"][0].key != "hardware"
