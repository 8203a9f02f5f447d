"""The `best` view: fastest variant per model/device/workload whose output matches fp32 eager."""

import pandas as pd
import pytest

from bench.best import best_view, eligibility, format_best, main


def _row(runtime, precision, ms, status="ok", err=None, tol=None, batch=1, model="m", error=None):
    return {
        "task": "speed",
        "model": model,
        "device": "cpu",
        "batch_size": batch,
        "img_size": 224,
        "threads": None,
        "runtime": runtime,
        "precision": precision,
        "status": status,
        "error": error,
        "latency_ms_p50": ms,
        "throughput_ips": None if ms is None else batch * 1000 / ms,
        "parity_max_abs_err": err,
        "parity_max_rel_err": err,
        "parity_tol": tol,
        "cell_key": f"{model}|{runtime}|{precision}|b{batch}",
    }


def table():
    return pd.DataFrame(
        [
            _row("eager", "fp32", 10.0),
            _row("channels_last", "fp32", 8.0, err=1e-7, tol=1e-3),
            _row("eager", "bf16", 5.0, status="mismatch", err=0.3, tol=0.05, error="output differs from fp32 eager"),
            _row("compile", "fp32", None, status="failed", error="torch.compile failed for this model: boom"),
            _row("channels_last", "bf16", 6.0, err=0.01, tol=0.05),
            _row("eager", "fp16", None, status="skipped", error="fp16 on CPU is not measured"),
            _row("eager", "fp32", None, status="oom", batch=4096, error="out of memory at batch 4096"),
            _row("channels_last", "fp32", None, status="skipped", batch=4096, error="not run: sweep stopped"),
        ]
    )


def test_fastest_variant_within_tolerance_wins_and_a_mismatch_never_does():
    best = best_view(table())
    assert len(best) == 2
    b1 = best[best["batch_size"] == 1].iloc[0]
    # eager/bf16 is fastest (5 ms) but failed parity; channels_last/bf16 (6 ms) is the fastest correct one
    assert (b1["best_runtime"], b1["best_precision"]) == ("channels_last", "bf16")
    assert b1["latency_ms_p50"] == 6.0 and b1["eager_fp32_latency_ms_p50"] == 10.0
    assert b1["speedup_vs_eager_fp32"] == pytest.approx(10 / 6)
    assert b1["parity_max_rel_err"] == 0.01 and b1["parity_tol"] == 0.05
    assert b1["n_variants"] == 6 and b1["n_eligible"] == 3
    assert "eager/bf16: mismatch" in b1["rejected"] and "compile/fp32: failed" in b1["rejected"]
    assert "eager/fp16: skipped" in b1["rejected"]
    big = best[best["batch_size"] == 4096].iloc[0]
    assert pd.isna(big["best_runtime"]) and big["n_eligible"] == 0 and "eager/fp32: oom" in big["rejected"]


def test_a_row_without_parity_or_beyond_its_tolerance_is_not_eligible():
    assert eligibility(pd.Series(_row("compile", "fp32", 1.0))) == "no parity check against fp32 eager"
    assert "> tolerance" in eligibility(pd.Series(_row("compile", "fp32", 1.0, err=0.01, tol=1e-3)))
    assert eligibility(pd.Series(_row("eager", "fp32", 1.0))) is None  # the reference itself


def test_a_tie_goes_to_the_reference():
    best = best_view(pd.DataFrame([_row("channels_last", "bf16", 7.0, err=0.01, tol=0.05), _row("eager", "fp32", 7.0)]))
    assert (best.iloc[0]["best_runtime"], best.iloc[0]["best_precision"]) == ("eager", "fp32")
    assert best.iloc[0]["parity_max_rel_err"] == 0.0


def test_text_table_and_cli(tmp_path, capsys):
    text = format_best(best_view(table()))
    assert "channels_last/bf16" in text and "none eligible" in text and "1.67×" in text
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main([]) == 2


def _trow(runtime, threads, ms, iqr=0.1, met=True, model="m", batch=1, mem=50.0):
    r = _row(
        runtime,
        "fp32",
        ms,
        err=None if runtime == "eager" else 1e-6,
        tol=None if runtime == "eager" else 1e-3,
        model=model,
        batch=batch,
    )
    r.update(
        threads=threads,
        threads_actual=threads or 2,
        latency_ms_iqr=iqr,
        latency_rel_iqr=iqr / ms,
        timing_target_met=met,
        act_peak_mb=mem,
        cell_key=f"{model}|{runtime}|t{threads}|b{batch}",
    )
    return r


def test_best_chooses_across_threads_and_runtimes_and_flags_inversions_and_noise():
    df = pd.DataFrame(
        [
            _trow("eager", None, 19.6),
            _trow("eager", 1, 12.0),  # 2 threads (all) slower than 1, beyond the IQR
            _trow("onnxruntime", 1, 5.86, iqr=2.6, met=False),
            _trow("onnxruntime", None, 6.0),
        ]
    )
    b = best_view(df).iloc[0]
    assert (b["best_runtime"], b["best_threads"]) == ("onnxruntime", "1") and b["latency_ms_p50"] == 5.86
    assert b["noisy"] is True or b["noisy"] == True  # noqa: E712
    assert b["eager_fp32_latency_ms_p50"] == 19.6  # the reference: eager fp32 on all cores
    assert "eager/fp32: all cores 19.6 ms, slower than 1 thread 12 ms" in b["thread_scaling"]
    assert "onnxruntime" not in b["thread_scaling"]  # 6.0 vs 5.86 is inside the noise
    text = format_best(best_view(df))
    assert "| onnxruntime/fp32 | 1 |" in text and "noisy, threads inverted" in text


def test_a_slower_count_inside_the_iqr_is_not_an_inversion():
    df = pd.DataFrame([_trow("eager", 1, 10.0, iqr=1.0), _trow("eager", 2, 10.8, iqr=1.0)])
    assert pd.isna(best_view(df).iloc[0]["thread_scaling"])


def _acc(model, top1, source="reported", std=None):
    return {
        "task": "accuracy",
        "model": model,
        "device": "cpu",
        "status": "ok",
        "top1": top1,
        "top1_std": std,
        "acc_source": source,
        "acc_dataset": "imagenet",
        "family": "cnn",
        "batch_size": None,
        "img_size": 224,
        "runtime": "eager",
        "precision": "fp32",
        "cell_key": f"{model}|acc",
    }


def test_budget_picks_the_most_accurate_model_that_fits():
    from bench.best import format_budget, within_budget

    df = pd.DataFrame(
        [
            _trow("eager", 1, 8.0, model="small", mem=30),
            _trow("onnxruntime", 1, 3.0, model="small", mem=20),
            _trow("eager", 1, 35.0, model="big", mem=300),
            _trow("onnxruntime", 1, 18.0, model="big", mem=250),
            _trow("eager", 1, 60.0, model="huge", mem=900),
            _trow("eager", 1, 2.0, model="noacc"),
            _acc("small", 72.0),
            _acc("big", 80.9),
            _acc("huge", 85.0),
        ]
    )
    samples = pd.DataFrame({"cell_key": ["big|onnxruntime|t1|b1"] * 21, "latency_ms": [17.0 + 0.1 * i for i in range(21)]})
    picks = within_budget(df, samples, budget_ms=20)
    assert [p.model for p in picks] == ["big", "small", "noacc"]
    top = picks[0]
    assert (top.runtime, top.latency_ms_p50, top.top1, top.acc_source) == ("onnxruntime", 18.0, 80.9, "reported")
    lo, hi = top.latency_ms_ci95
    assert lo < 18.0 < hi and lo >= 17.0 and hi <= 19.0
    assert [p.model for p in within_budget(df, samples, budget_ms=20, budget_mb=100)] == ["small", "noacc"]
    assert "most accurate within p50 ≤ 20 ms: big — top-1 80.90% (reported, imagenet)" in format_budget(picks, 20, None)
    assert "no model fits" in format_budget(within_budget(df, samples, budget_ms=1), 1, None)


def test_best_budget_cli_on_a_constructed_run(tmp_path):
    from bench import results

    run = tmp_path / "run"
    results.write_json_atomic(run / "run.json", {"schema_version": results.SCHEMA_VERSION, "run_id": "r1"})
    df = pd.DataFrame(
        [_trow("eager", 1, 8.0, model="small"), _trow("eager", 1, 35.0, model="big"), _acc("small", 72.0), _acc("big", 80.9)]
    )
    results.write_table_atomic(df, run / "results.parquet")
    from tests.conftest import run_cli

    res = run_cli("best", str(run), "--budget-ms", "20")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("most accurate within p50 ≤ 20 ms: small — top-1 72.00%")
    res = run_cli("best", str(run), "--budget-ms", "20", "--json")
    out = __import__("json").loads(res.stdout)
    assert out["pick"]["model"] == "small" and out["pick"]["acc_source"] == "reported"
    assert run_cli("best", str(run), "--budget-ms", "1").returncode == 1
    assert run_cli("best", str(run), "--budget-ms", "-3").returncode == 2
