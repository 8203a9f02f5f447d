"""The headline ("At a glance", Markdown summary) honours every axis the run measured."""

import pandas as pd

from bench import results
from bench.report.data import ReportData
from bench.report.markdown import render_markdown


def _speed(model, runtime, threads, ms, batch=1, met=True, iqr=0.05):
    parity = {} if runtime == "eager" else {"parity_max_rel_err": 1e-6, "parity_tol": 1e-3}
    return {
        "task": "speed",
        "model": model,
        "family": "mobile",
        "device": "cpu",
        "precision": "fp32",
        "runtime": runtime,
        "batch_size": batch,
        "img_size": 224,
        "threads": threads,
        "threads_actual": threads or 2,
        "status": "ok",
        "latency_ms_p50": ms,
        "latency_ms_p99": ms * 1.1,
        "latency_ms_iqr": iqr,
        "latency_rel_iqr": iqr / ms,
        "timing_target_met": met,
        "throughput_ips": batch * 1000 / ms,
        "act_peak_mb": 40.0,
        "params_m": 5.5,
        "gmacs": 0.22,
        "cell_key": f"{model}|{runtime}|t{threads}|b{batch}",
        **parity,
    }


def _run(tmp_path, rows):
    run = tmp_path / "run"
    results.write_json_atomic(
        run / "run.json",
        {"schema_version": results.SCHEMA_VERSION, "run_id": "r-axes", "suite": {"name": "axes"}, "environment": {}},
    )
    results.write_table_atomic(pd.DataFrame(rows), run / "results.parquet")
    return run


def test_headline_takes_the_best_runtime_and_threads_and_says_so(tmp_path):
    rows = [
        _speed("tv:mobilenet_v3_large", "eager", None, 19.6),
        _speed("tv:mobilenet_v3_large", "eager", 1, 15.0),
        _speed("tv:mobilenet_v3_large", "onnxruntime", 1, 5.86),
        _speed("tv:mobilenet_v3_large", "onnxruntime", None, 6.4),
        _speed("tv:resnet50", "eager", None, 35.0),
        _speed("tv:resnet50", "onnxruntime", 1, 30.0, met=False),
        # an onnxruntime row that failed parity must never head the table
        {**_speed("tv:resnet50", "onnxruntime", None, 1.0), "status": "mismatch"},
    ]
    run = _run(tmp_path, rows)
    d = ReportData(results.load_results(run), results.load_samples(run), results.read_run_meta(run))
    s = {r.model: r for r in d.summary()}
    mob = s["tv:mobilenet_v3_large"]
    assert (mob.runtime, mob.threads, mob.latency_ms_p50) == ("onnxruntime", "1", 5.86)
    assert "all cores 19.6 ms, slower than 1 thread 15 ms" in mob.thread_scaling
    assert s["tv:resnet50"].latency_ms_p50 == 30.0 and s["tv:resnet50"].noisy
    md = render_markdown(run)
    assert "| model | family | runtime | threads |" in md
    assert "| tv:mobilenet_v3_large | mobile CNN | onnxruntime | 1 |" in md
    assert "Fastest: tv:mobilenet_v3_large at 5.86 ms (p50, batch 1, onnxruntime/fp32, threads 1)" in md
    assert "More threads ran slower: tv:mobilenet_v3_large (eager/fp32: all cores 19.6 ms" in md
    assert "| tv:resnet50 (noisy) |" in md


def test_a_single_configuration_adds_no_axis_columns(tmp_path):
    run = _run(tmp_path, [_speed("test:cnn", "eager", None, 1.0), _speed("test:vit", "eager", None, 2.0)])
    md = render_markdown(run)
    assert "| model | family | params (M) |" in md and "runtime" not in md.split("| model |")[1].splitlines()[0]
