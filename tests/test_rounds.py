"""Rounds (issue #15): each cell timed in several worker processes, and what a row says about them.

The statistics are tested on seeded synthetic rounds (tests/synthetic.py: per-process levels,
jitter, bimodal calls); the plumbing on real runs of tiny models through the real CLI, asserting
structure (how many processes, which columns, which files), never a measured time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bench import load_results, load_samples
from bench.compare import compare_paths, load_run
from bench.results import SCHEMA_VERSION
from bench.rounds import ONE_ROUND_NOTE, between_round_columns, combine_rounds, log_t_interval, round_order
from bench.runner import all_cells
from bench.suite import parse_suite
from tests.conftest import ROOT, as_list, run_cli, write_suite
from tests.synthetic import ProcessShape, rounds_samples


def _cells():
    suite = parse_suite(
        {
            "name": "r",
            "models": ["test:cnn", "test:vit", "test:mobile", "test:hybrid"],
            "batch_sizes": [1, 4, 16],
            "img_sizes": [32],
            "threads": [1],
        }
    )
    return all_cells(suite)


def test_round_order_is_a_seeded_shuffle_that_keeps_batch_sweeps_ascending():
    cells = _cells()
    first = [c.key for c in round_order(cells, 0, seed=5)]
    assert first == [c.key for c in round_order(cells, 0, seed=5)]  # recorded seed → same order
    assert sorted(first) == sorted(c.key for c in cells)  # every cell once
    orders = {tuple(c.key for c in round_order(cells, r, seed=5)) for r in range(4)}
    assert len(orders) == 4  # each round its own order
    assert first != [c.key for c in round_order(cells, 0, seed=6)]
    for r in range(4):
        seen: dict[str, int] = {}
        for c in round_order(cells, r, seed=5):
            assert c.batch_size > seen.get(c.model, 0), "an out-of-memory batch must still stop the larger ones"
            seen[c.model] = c.batch_size


def test_one_round_has_no_interval_and_says_why_never_zero():
    cols = between_round_columns([1.25], batch_size=4, rounds_planned=1)
    assert cols["latency_ms_p50"] == 1.25 and cols["throughput_ips"] == pytest.approx(4 / 1.25e-3)
    assert cols["latency_ms_p50_ci_low"] is None and cols["latency_ms_p50_ci_high"] is None
    assert cols["latency_between_round_cv"] is None and cols["latency_interval_note"] == ONE_ROUND_NOTE
    assert log_t_interval([1.0]) is None


def test_between_round_columns_from_round_medians():
    med = [10.0, 10.4, 9.8, 10.1, 10.6]
    cols = between_round_columns(med, batch_size=2, rounds_planned=5)
    assert cols["latency_ms_p50"] == 10.1  # median of the round medians
    logs = np.log(med)
    from scipy.stats import t

    half = t.ppf(0.975, 4) * logs.std(ddof=1) / math.sqrt(5)
    assert cols["latency_ms_p50_ci_low"] == pytest.approx(math.exp(logs.mean() - half))
    assert cols["latency_ms_p50_ci_high"] == pytest.approx(math.exp(logs.mean() + half))
    assert cols["latency_between_round_cv"] == pytest.approx(np.std(med, ddof=1) / np.mean(med))
    assert cols["throughput_ips_ci_low"] == pytest.approx(2 / (cols["latency_ms_p50_ci_high"] / 1000))
    assert json.loads(cols["latency_ms_p50_rounds"]) == med and cols["latency_interval_note"] is None


@pytest.mark.parametrize("rounds, next_at_least", [(3, 0.90), (5, 0.85)])
def test_interval_covers_the_true_level_and_the_next_runs_median(rounds, next_at_least):
    """Seeded runs whose processes settle at levels spread 5% around the truth: the 95% interval
    holds the true level in about 95% of runs. The next run's median has its own error, so a
    confidence interval holds it less often than the truth: about 93% with 3 rounds (t = 4.30)
    and 88% with 5 (t = 2.78) in theory; the issue's acceptance rule (>= 90%) is met with the
    default suites' 3 rounds."""
    rng = np.random.default_rng(15 + rounds)
    shape = ProcessShape(offset_sd=0.05)
    truth, cover_truth, cover_next, n = 20.0, 0, 0, 400
    runs = []
    for _ in range(n + 1):
        rs = rounds_samples(rng, truth, rounds=rounds, n=60, shape=shape)
        runs.append(between_round_columns([float(np.median(r)) for r in rs], 1, rounds))
    # the level every run measures: the truth stretched by the jitter and the bimodal mode
    level = float(np.median([r["latency_ms_p50"] for r in runs]))
    for cur, nxt in zip(runs, runs[1:]):
        cover_truth += cur["latency_ms_p50_ci_low"] <= level <= cur["latency_ms_p50_ci_high"]
        cover_next += cur["latency_ms_p50_ci_low"] <= nxt["latency_ms_p50"] <= cur["latency_ms_p50_ci_high"]
    assert 0.91 <= cover_truth / n <= 0.99
    assert cover_next / n >= next_at_least


def _round(r, samples, status="ok", load=0.0, pid=100, **row):
    return {
        "round": r,
        "samples_ms": list(samples),
        "row": {
            "status": status,
            "other_cpu_pct": load,
            "load_busy": load > 25,
            "worker_pid": pid + r,
            "timing_target_met": True,
            "duration_s": 1.0,
            **row,
        },
    }


def test_combine_rounds_pools_samples_and_keeps_round_zero_deterministic_columns():
    rng = np.random.default_rng(3)
    rounds = rounds_samples(rng, 2.0, rounds=3, n=50)
    recs = [_round(0, rounds[0], params=5466, gmacs=0.01, peak_mem_mb=3.0), _round(1, rounds[1], load=60.0), _round(2, rounds[2])]
    row = combine_rounds(recs, batch_size=1, rounds_planned=3)
    assert row["params"] == 5466 and row["gmacs"] == 0.01 and row["peak_mem_mb"] == 3.0
    assert row["n_samples"] == 150 and row["rounds"] == 3 and row["rounds_ok"] == 3
    assert row["latency_ms_p50"] == pytest.approx(np.median([np.median(r) for r in rounds]))
    assert row["latency_ms_min"] == pytest.approx(min(r.min() for r in rounds))
    assert row["other_cpu_pct"] == 60.0 and row["load_busy"] and row["load_busy_rounds"] == 1
    assert json.loads(row["other_cpu_pct_rounds"]) == [0.0, 60.0, 0.0]
    assert json.loads(row["worker_pids"]) == [100, 101, 102] and "worker_pid" not in row
    assert row["duration_s"] == 3.0


def test_a_round_that_fails_marks_the_cell_and_keeps_the_other_rounds():
    rng = np.random.default_rng(4)
    a, b = rounds_samples(rng, 2.0, rounds=2, n=30)
    recs = [_round(0, a), _round(1, []), _round(2, b)]
    recs[1]["row"].update(status="crashed", error="worker killed by SIGKILL")
    row = combine_rounds(recs, batch_size=1, rounds_planned=3)
    assert row["status"] == "crashed" and row["error"].startswith("round 2 of 3: worker killed")
    assert row["rounds_ok"] == 2 and row["n_samples"] == 60


def test_committed_schema_1_baseline_loads_as_one_round_per_cell():
    base = ROOT / "tests" / "data" / "baseline-ci-schema1"  # the CI baseline as first committed (one round a cell)
    samples = load_samples(base)
    assert "round" in samples.columns and set(samples["round"]) == {0}
    run = load_run(base, "BASE")
    assert run.round_samples and all(list(v) == [0] for v in run.round_samples.values())
    cmp = compare_paths(base, base)
    lat = [r for r in cmp.results if r.metric == "latency"]
    assert lat and all(r.decision == "unchanged" and "1 round in BASE and NEW" in r.reason for r in lat)
    assert any("process-to-process variation is unknown" in w for w in cmp.warnings)


@pytest.fixture(scope="module")
def rounds_run(tmp_path_factory) -> Path:
    """A real run through the CLI: 2 tiny cells, 3 rounds each, workers forked from the template."""
    tmp = tmp_path_factory.mktemp("rounds")
    suite = write_suite(
        tmp,
        """
        name: rounds
        models: [test:cnn]
        batch_sizes: [1, 2]
        img_sizes: [32]
        threads: [1]
        timing: {rounds: 3, rounds_seed: 7, warmup_max_s: 0.1, max_time_s: 0.1, min_samples: 5, ceiling_s: 0}
    """,
    )
    res = run_cli("run", str(suite), "--results-dir", str(tmp / "r"), "--reports-dir", str(tmp / "p"), "-q")
    assert res.returncode == 0, res.stderr + res.stdout
    return next((tmp / "r").iterdir())


def test_rounds_are_separate_processes_with_a_round_column(rounds_run):
    df = load_results(rounds_run)
    samples = load_samples(rounds_run)
    assert len(df) == 2 and set(df["status"]) == {"ok"}
    for _, row in df.iterrows():
        pids = as_list(row["worker_pids"])
        assert len(pids) == 3 and len(set(pids)) == 3  # three worker processes, one per round
        s = samples[samples["cell_key"] == row["cell_key"]]
        assert sorted(set(s["round"])) == [0, 1, 2]
        meds = s.groupby("round")["latency_ms"].median()
        assert row["latency_ms_p50"] == pytest.approx(float(np.median(meds)))
        assert as_list(row["latency_ms_p50_rounds"]) == pytest.approx(list(meds), rel=1e-5)
        assert row["latency_ms_p50_ci_low"] <= row["latency_ms_p50_ci_high"] and row["rounds_ok"] == 3
        assert row["n_samples"] == len(s) and row["params"] > 0  # params measured once, in round 0
        assert 0 <= row["other_cpu_pct"] and len(as_list(row["other_cpu_pct_rounds"])) == 3
    logs = sorted(p.name for p in (rounds_run / "logs").iterdir())
    assert len([n for n in logs if n.endswith(".log")]) == 6
    meta = json.loads((rounds_run / "run.json").read_text())
    assert meta["rounds"] == {"count": 3, "seed": 7} and "rounds_rule" in meta["conventions"]
    assert meta["schema_version"] == SCHEMA_VERSION >= 2  # rounds arrived with schema 2
    rec = json.loads(next((rounds_run / "cells").iterdir()).read_text())
    assert [r["round"] for r in rec["rounds"]] == [0, 1, 2]
    assert "params" in rec["rounds"][0]["row"] and "params" not in rec["rounds"][1]["row"]


def test_one_round_suite_says_its_interval_is_unknown(tmp_path):
    suite = write_suite(
        tmp_path,
        """
        name: one
        models: [test:vit]
        img_sizes: [32]
        threads: [1]
        metrics: [latency]
        timing: {rounds: 1, warmup_max_s: 0.1, max_time_s: 0.1, min_samples: 5, ceiling_s: 0}
    """,
    )
    res = run_cli("run", str(suite), "--results-dir", str(tmp_path / "r"), "--no-report", "-q")
    assert res.returncode == 0, res.stderr
    row = load_results(next((tmp_path / "r").iterdir())).iloc[0]
    assert row["rounds"] == 1 and row["latency_interval_note"] == ONE_ROUND_NOTE
    assert math.isnan(row["latency_ms_p50_ci_low"]) and math.isnan(row["latency_ms_p50_ci_high"])


def test_template_reader_returns_lines_that_arrive_in_one_read():
    """A quick worker's "started" and "done" often reach the driver in one read. Both must be
    returned, and the second at once, not after the cell's timeout (a buffered readline left
    "done" where select could not see it, and a fine cell ended as "timeout")."""
    import subprocess
    import sys

    from bench.executor import TemplateProcess
    from bench.template import PREFIX

    both = f"{PREFIX} started 7\n{PREFIX} done 7 0\n"  # one write, under PIPE_BUF: one atomic chunk
    code = f"import sys; sys.stdout.write({both!r}); sys.stdout.flush(); sys.stdin.read()"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        reader = TemplateProcess.__new__(TemplateProcess)  # the protocol reader alone, on a real pipe
        reader.prefix, reader._pending, reader.proc = PREFIX, b"", proc
        assert reader._read(60) == ("started", "7")
        assert reader._read(60) == ("done", "7 0")  # the old reader waited out these 60 s: ("timeout", "")
    finally:
        proc.kill()
        proc.wait()
