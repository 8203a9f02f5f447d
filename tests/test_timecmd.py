"""`archbench time`, `run --set`, `--dry-run`, plain progress lines, suggestions on unknown fields."""

import re

import pandas as pd
import pytest

from bench.errors import UserError
from bench.suite import apply_overrides, load_suite, parse_suite
from tests.conftest import ROOT, run_cli


def test_time_one_model_prints_p50_with_spread_and_writes_a_run(tmp_path):
    res = run_cli(
        "time",
        "test:cnn",
        "--batch",
        "2",
        "--threads",
        "1",
        "--max-time-s",
        "0.3",
        "--set",
        "timing.rounds=1",
        "--results-dir",
        str(tmp_path),
    )
    assert res.returncode == 0, res.stderr + res.stdout
    line = next(x for x in res.stdout.splitlines() if x.startswith("test:cnn b2 32px cpu/fp32/eager threads 1:"))
    # p90/p99 print a number only where 100 / 1,000 samples support them, else "n/a"
    assert re.search(r"p50 [\d.]+ ms \(IQR [\d.]+ ms = [\d.]+%, p90 ([\d.]+ ms|n/a), p99 ([\d.]+ ms|n/a), \d+ samples\)", line), (
        line
    )
    n = int(re.search(r"(\d+) samples\)", line).group(1))
    assert ("p90 n/a" in line) == (n < 100) and ("p99 n/a" in line) == (n < 1000)
    # Not a terminal: one plain progress line per finished cell, threads in the label.
    assert re.search(r"^\[1/1\] test:cnn b2 32px cpu/fp32/eager t1: ok", res.stdout, re.M), res.stdout
    run_dir = next(tmp_path.iterdir())
    df = pd.read_parquet(run_dir / "results.parquet")
    assert len(df) == 1 and df["batch_size"].iloc[0] == 2 and df["threads"].iloc[0] == 1
    assert (run_dir / "samples.parquet").is_file() and (run_dir / "run.json").is_file()


def test_time_dry_run_lists_the_sweep_and_json_shape(tmp_path):
    res = run_cli(
        "time", "test:vit", "--threads", "1,2", "--runtime", "eager,onnxruntime", "--dry-run", "--results-dir", str(tmp_path)
    )
    assert res.returncode == 0, res.stderr
    rows = [x.split("\t") for x in res.stdout.splitlines()[1:-1]]
    assert {(r[5], r[8]) for r in rows} == {("eager", "1"), ("eager", "2"), ("onnxruntime", "1"), ("onnxruntime", "2")}
    assert res.stdout.splitlines()[-1].startswith("4 cells; estimated")
    assert not any(tmp_path.iterdir())  # nothing measured, nothing written


def test_time_bad_option_is_exit_2():
    res = run_cli("time", "test:cnn", "--runtime", "tensorrt", "--dry-run")
    assert res.returncode == 2 and "runtimes[0]" in res.stderr and "tensorrt" in res.stderr
    res = run_cli("time", "test:cnn", "--batch", "x")
    assert res.returncode == 2 and "--batch" in res.stderr


def test_set_overrides_are_validated_like_the_file():
    base = {"name": "s", "models": ["test:cnn"], "timing": {"max_time_s": 3}}
    data = apply_overrides(base, ["timing.max_time_s=1.5", "batch_sizes=[1,8]", "runtimes=onnxruntime", "threads=[1, null]"])
    suite = parse_suite(data)
    assert suite.timing.max_time_s == 1.5 and suite.batch_sizes == [1, 8] and suite.runtimes == ["onnxruntime"]
    assert suite.threads == [1, None] and base["timing"]["max_time_s"] == 3  # the original is untouched
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        apply_overrides(base, ["batch_sizes"])
    with pytest.raises(UserError, match=r"timing.max_time: unknown field — did you mean max_time_s\?"):
        load_suite(ROOT / "suites" / "ci.yaml", overrides=["timing.max_time=1"])
    with pytest.raises(UserError, match="batch sizes must be positive"):
        load_suite(ROOT / "suites" / "ci.yaml", overrides=["batch_sizes=0"])


def test_unknown_fields_name_the_closest_one():
    with pytest.raises(UserError) as err:
        parse_suite({"name": "s", "modles": ["test:cnn"], "models": ["test:cnn"]})
    assert "modles: unknown field — did you mean models?" in str(err.value)
    with pytest.raises(UserError) as err:
        parse_suite({"name": "s", "models": [{"nme": "test:cnn"}]})
    assert "nme: unknown field — did you mean name?" in str(err.value)


def test_run_dry_run_with_set(tmp_path):
    res = run_cli("run", str(ROOT / "suites" / "ci.yaml"), "--set", "threads=[1,2]", "--dry-run", "--results-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    threads = {x.split("\t")[8] for x in res.stdout.splitlines()[1:-1]}
    assert threads == {"1", "2"}


def test_dry_run_estimate_uses_an_earlier_run_of_the_same_cells(tmp_path):
    from bench import results
    from bench.plan import estimate
    from bench.runner import all_cells

    suite = parse_suite({"name": "est", "models": ["test:cnn", "test:vit"], "threads": [1]})
    cells = all_cells(suite)
    run = tmp_path / "r1"
    results.write_json_atomic(
        run / "run.json",
        {
            "schema_version": results.SCHEMA_VERSION,
            "run_id": "r1",
            "suite": {"name": "est"},
            "started_at": "2026-01-01T00:00:00+00:00",
        },
    )
    rounds = [
        {"round": i, "row": {"started_at": f"2026-01-01T00:0{i}:00+00:00", "finished_at": f"2026-01-01T00:0{i}:04+00:00"}}
        for i in range(3)
    ]
    results.write_cell_record(run, cells[0].slug, {"cell": cells[0].to_dict(), "row": {"status": "ok"}, "rounds": rounds})
    est = estimate(cells, tmp_path, "est")
    assert (est[0].seconds, est[0].basis) == (12.0, "earlier run")  # 3 rounds × 4 s
    assert est[1].basis == "rule of thumb" and est[1].seconds > 0
