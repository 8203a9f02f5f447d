"""The `best` view: fastest variant per model/device/workload whose output matches fp32 eager."""

import pandas as pd
import pytest

from bench.best import best_view, eligibility, format_best, main


def _row(runtime, precision, ms, status="ok", err=None, tol=None, batch=1, model="m", error=None):
    return {"task": "speed", "model": model, "device": "cpu", "batch_size": batch, "img_size": 224, "threads": None,
            "runtime": runtime, "precision": precision, "status": status, "error": error,
            "latency_ms_p50": ms, "throughput_ips": None if ms is None else batch * 1000 / ms,
            "parity_max_abs_err": err, "parity_max_rel_err": err, "parity_tol": tol,
            "cell_key": f"{model}|{runtime}|{precision}|b{batch}"}


def table():
    return pd.DataFrame([
        _row("eager", "fp32", 10.0),
        _row("channels_last", "fp32", 8.0, err=1e-7, tol=1e-3),
        _row("eager", "bf16", 5.0, status="mismatch", err=0.3, tol=0.05, error="output differs from fp32 eager"),
        _row("compile", "fp32", None, status="failed", error="torch.compile failed for this model: boom"),
        _row("channels_last", "bf16", 6.0, err=0.01, tol=0.05),
        _row("eager", "fp16", None, status="skipped", error="fp16 on CPU is not measured"),
        _row("eager", "fp32", None, status="oom", batch=4096, error="out of memory at batch 4096"),
        _row("channels_last", "fp32", None, status="skipped", batch=4096, error="not run: sweep stopped"),
    ])


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
