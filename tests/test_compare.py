"""`archbench compare` acceptance on real runs of tiny models: no false alarms, real slowdowns caught.

How the 20 repetitions stay honest and affordable
-------------------------------------------------
Every repetition makes three *fresh* runs with the real runner (bench.runner.run_suite,
real run folders, real timing code bench.worker.run_cell):

- ``A``  and ``A2``: the same suite twice                      → compare(A, A2) must report nothing regressed;
- ``B``: the same suite with two models deliberately slowed → compare(A, B) must name exactly the
  ~25% slower cell as regressed, and must not flag the ~3% slower one.

Two things differ from `archbench run`, both for cost and both stated here:

1. Cells run in this process (an Executor calling bench.worker.run_cell) instead of one fresh
   worker process per cell, which would cost ~3 s of interpreter and torch start-up per cell,
   i.e. 6 minutes for 120 cells. The measuring code is the same.
2. The three runs are measured in interleaved rounds (asv's ``--interleave-rounds`` idea):
   each cell in 4 rounds of 0.1 s, in the order A, A2, B, A, A2, B, …, one at a time, never
   two at once, all on one measuring thread; each run pools its rounds' samples. This machine (2 cores) is shared with
   other jobs whose phases of load last seconds and slow most calls by 30-40% (measured):
   interleaving makes a phase fall on all three runs alike, as it would on two runs of a CI
   job on one quiet runner. What load remains uneven is the noise the decision rule
   (threshold + Mann–Whitney U + fast-tail noise guard) has to withstand.

The slowed models: ``test:cnn`` with ``extra_work`` 2 → 3 (one more 128×128 matmul+tanh per
call; measured +25% on this machine), and — because one such iteration is already ~30% of a
short call — a local wrapper ``test:fine_cost`` adding two 32×32 matmul+tanh steps (~6 µs
each) to ``test:cnn(extra_work=3)``: measured +3%. Calls stay well under a millisecond, short
enough that a scheduler time slice rarely splits one. The measured ratios are printed (-s).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import shutil
import statistics
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from bench import registry
from bench.compare import build_config, compare_paths, compare_runs, load_run
from bench.compare.stats import bootstrap_median_ratio_ci, compare_samples, mann_whitney_p, quiet_latency
from bench.executor import CellOutcome, Executor
from bench.models.tiny import TinyCNN
from bench.runner import all_cells, run_suite
from bench.suite import TimingSpec, parse_suite

REPS = 20


class FineCost(nn.Module):
    """test:cnn(extra_work=3) plus ``steps`` 32×32 matmul+tanh steps: a slowdown in ~1.5% increments."""

    def __init__(self, steps: int = 0, num_classes: int = 10):
        super().__init__()
        self.net = TinyCNN(num_classes=num_classes, extra_work=3)
        self.small = nn.Parameter(torch.randn(32, 32) * 0.05, requires_grad=False)
        self.steps = steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acc = self.small
        for _ in range(self.steps):
            acc = torch.tanh(acc @ self.small)
        return self.net(x) + 0.0 * acc.mean()


def _register_fine_cost() -> None:
    registry.list_names("test:*")  # load the built-ins first (their loader is not thread-safe)
    registry.register("test:fine_cost", FineCost, "cnn", 32, 10, "tiny CNN + fine-grained extra cost (tests)")


class InProcessExecutor(Executor):
    """Runs bench.worker.run_cell in this process.

    With a turnstile, several runs take strict turns; with ``rounds`` > 1 each cell is
    measured in that many rounds (each a full run_cell with 1/rounds of the time budget),
    the turn passing to the other runs between rounds, and the rounds' samples are pooled —
    asv's "interleaved rounds", so a phase of load on the machine falls on every run alike.
    """

    def __init__(self, turnstile: "Turnstile | None" = None, index: int = 0, rounds: int = 1,
                 measurer: ThreadPoolExecutor | None = None):
        self.turnstile, self.index, self.rounds, self.measurer = turnstile, index, rounds, measurer

    def run(self, cell, log_path):
        from bench.metrics.stats import summarize
        from bench.worker import run_cell

        timing = dict(cell.timing)
        timing["max_time_s"] = timing["max_time_s"] / self.rounds
        timing["min_samples"] = max(10, timing["min_samples"] // self.rounds)
        part = dataclasses.replace(cell, timing=timing)
        row, samples = None, []
        for _ in range(self.rounds):
            if self.turnstile is not None:
                self.turnstile.acquire(self.index)
            # One measuring OS thread for all runs, as one worker process would be: the
            # scheduler cannot place one run's thread on a busier core than another's.
            rec = self.measurer.submit(run_cell, part).result() if self.measurer else run_cell(part)
            row = row or rec["row"]
            samples += rec["samples_ms"]
            if rec["row"].get("status") != "ok":
                return CellOutcome(rec["row"], rec["samples_ms"])
        if samples and self.rounds > 1:
            row.update(summarize(samples).as_row())
            row["throughput_ips"] = cell.batch_size / (row["latency_ms_p50"] / 1000.0)
        return CellOutcome(row, samples)


class Turnstile:
    """Strict rotation between runs: a run's next cell waits until every other run measured its own.

    The turn passes when a run asks for its *next* cell, so its bookkeeping after a cell
    (writing tables) never overlaps another run's measurement.
    """

    def __init__(self, n: int):
        self.n, self.turn = n, 0
        self.cv = threading.Condition()
        self.active = [True] * n
        self.started = [False] * n

    def _pass(self, i: int) -> None:
        for k in range(1, self.n + 1):
            j = (i + k) % self.n
            if self.active[j]:
                self.turn = j
                break
        self.cv.notify_all()

    def acquire(self, i: int) -> None:
        with self.cv:
            if self.started[i]:
                self._pass(i)
            self.started[i] = True
            self.cv.notify_all()
            self.cv.wait_for(lambda: self.turn == i and all(s or not a for s, a in zip(self.started, self.active)))

    def finish(self, i: int) -> None:
        with self.cv:
            self.active[i], self.started[i] = False, True
            if self.turn == i:
                self._pass(i)
            self.cv.notify_all()


def run_lockstep(suites, roots, rounds: int = 4) -> list[Path]:
    for s in suites:
        all_cells(s)  # resolve models before the threads start
    ts = Turnstile(len(suites))
    measurer = ThreadPoolExecutor(max_workers=1)
    out: list[Path | None] = [None] * len(suites)
    errors: list[BaseException] = []

    def go(i: int) -> None:
        try:
            out[i] = run_suite(suites[i], roots[i], executor=InProcessExecutor(ts, i, rounds, measurer),
                               progress=False).run_dir
        except BaseException as err:  # re-raised in the main thread
            errors.append(err)
        finally:
            ts.finish(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(suites))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    measurer.shutdown()
    if errors:
        raise errors[0]
    return [p for p in out if p is not None]


def speed_suite(models: dict[str, tuple[str, dict]], metrics=("params", "latency"), window_s: float = 0.4, name="cmp"):
    timing = dict(warmup_min_iters=10, warmup_max_s=0.1, min_samples=40, max_samples=5000, max_time_s=window_s,
                  target_rel_iqr=0.001)  # always spend the window: comparable sample counts
    if "ceiling_s" in TimingSpec.model_fields:
        timing["ceiling_s"] = 0
    entries = [{"name": n, "alias": alias, "kwargs": kw} for alias, (n, kw) in models.items()]
    return parse_suite({"name": name, "models": entries, "threads": [1], "metrics": list(metrics), "timing": timing})


BASE_MODELS = {"slow25": ("test:cnn", {"extra_work": 2}), "slow3": ("test:fine_cost", {"steps": 0})}
SLOW_MODELS = {"slow25": ("test:cnn", {"extra_work": 3}), "slow3": ("test:fine_cost", {"steps": 2})}


@pytest.fixture(scope="module")
def reps(tmp_path_factory) -> list[tuple[Path, Path, Path]]:
    """REPS repetitions of three fresh lock-step runs (A, A2, B); see the module docstring."""
    _register_fine_cost()
    threads_before = torch.get_num_threads()
    root = tmp_path_factory.mktemp("compare-reps")
    out = []
    # Any full garbage collection around a measurement walks every object of this pytest
    # process (~0.25 s each, measured), where a fresh worker has almost none: freezing what
    # exists now keeps in-process cells as cheap as worker cells.
    gc.freeze()
    try:
        for i in range(REPS):
            a, a2, b = run_lockstep([speed_suite(BASE_MODELS), speed_suite(BASE_MODELS), speed_suite(SLOW_MODELS)],
                                    [root / f"{i}" / "a", root / f"{i}" / "a2", root / f"{i}" / "b"])
            out.append((a, a2, b))
    finally:
        gc.unfreeze()
        torch.set_num_threads(threads_before)
    return out


def _latency(cmp, model):
    return next(r for r in cmp.results if r.model == model and r.metric == "latency")


def test_same_suite_twice_reports_nothing_regressed(reps):
    alarms, changes = [], []
    for i, (a, a2, _) in enumerate(reps):
        cmp = compare_paths(a, a2)
        assert cmp.env_diffs == [] or all(not d.affects_timing for d in cmp.env_diffs)
        timing = [r for r in cmp.results if r.metric in ("latency", "throughput")]
        assert len(timing) == 4 and all(r.decision != "not comparable" for r in timing)
        changes += [r.change for r in timing if r.metric == "latency"]
        bad = [f"rep {i}: {r.cell} {r.metric} {r.decision}: {r.reason}" for r in cmp.results if r.decision == "regressed"]
        alarms += bad
        if not bad:
            assert cmp.exit_code == 0
    print(f"\nsame suite twice: {len(alarms)}/{REPS} repetitions with a false alarm; latency change "
          f"min {min(changes):+.1%} median {statistics.median(changes):+.1%} max {max(changes):+.1%}")
    assert alarms == []


def test_25_percent_slowdown_is_regressed_with_the_right_cell_named(reps):
    misses, measured = [], []
    for i, (a, _, b) in enumerate(reps):
        cmp = compare_paths(a, b)
        r25 = _latency(cmp, "slow25")
        measured.append(r25.change)
        failing = {(r.model, r.metric) for r in cmp.failures}
        if failing != {("slow25", "latency"), ("slow25", "throughput")} or cmp.exit_code != 1:
            misses.append(f"rep {i}: failing={sorted(failing)}; slow25 {r25.change:+.1%}: {r25.reason}")
        # The regressed cell is the first one in every output (changed cells first).
        assert cmp.cells[0].model == "slow25"
    print(f"\n~25% slowdown (extra_work 2→3): caught in {REPS - len(misses)}/{REPS}; measured latency change "
          f"min {min(measured):+.1%} median {statistics.median(measured):+.1%} max {max(measured):+.1%}")
    assert misses == []


def test_3_percent_slowdown_is_not_regressed(reps):
    flagged, measured = [], []
    for i, (a, _, b) in enumerate(reps):
        cmp = compare_paths(a, b)
        r3 = _latency(cmp, "slow3")
        measured.append(r3.change)
        tp = next(r for r in cmp.results if r.model == "slow3" and r.metric == "throughput")
        if r3.decision == "regressed" or tp.decision == "regressed":
            flagged.append(f"rep {i}: {r3.change:+.1%}: {r3.reason}")
    print(f"\n~3% slowdown (2 fine steps): flagged in {len(flagged)}/{REPS}; measured latency change "
          f"min {min(measured):+.1%} median {statistics.median(measured):+.1%} max {max(measured):+.1%}")
    assert flagged == []


def test_threshold_and_significance_both_required(reps):
    """The same real samples under stricter and looser settings: each condition can veto alone."""
    a, _, b = reps[0]
    base, new = load_run(a, "BASE"), load_run(b, "NEW")
    loose = compare_runs(base, new, build_config(overrides={"thresholds": {"latency": "60%", "throughput": "60%"}}))
    assert _latency(loose, "slow25").decision == "unchanged" and "within ±60%" in _latency(loose, "slow25").reason
    # Five samples a side: the exact two-sided Mann–Whitney U p-value cannot go below
    # 2/C(10,5) ≈ 0.0079, so at alpha 0.001 significance alone vetoes the change, whatever
    # the data (with all samples p can underflow to 0.0, which beats any alpha).
    few_base = dataclasses.replace(base, samples={k: v[:5] for k, v in base.samples.items()})
    few_new = dataclasses.replace(new, samples={k: v[:5] for k, v in new.samples.items()})
    strict = compare_runs(few_base, few_new, build_config(overrides={
        "alpha": 0.001, "thresholds": {"latency": "1%"}, "noise_guard": False}))
    r = _latency(strict, "slow25")
    assert r.decision == "unchanged" and "not significant" in r.reason, r.reason
    tight = compare_runs(base, new, build_config(overrides={"thresholds": {"latency": "1%"}}))
    assert _latency(tight, "slow25").decision == "regressed"


def test_suite_compare_section_and_cli_overrides(reps, tmp_path):
    """NEW's suite `compare:` section sets thresholds; command-line flags win over it."""
    a, _, b = reps[1]
    b2 = tmp_path / "b"
    shutil.copytree(b, b2)
    meta = json.loads((b2 / "run.json").read_text())
    meta["suite"]["content"]["compare"] = {"thresholds": {"latency": "50%", "throughput": "50%"}, "allow_change": ["gmacs"]}
    (b2 / "run.json").write_text(json.dumps(meta))
    cmp = compare_paths(a, b2)
    assert cmp.config.threshold("latency") == 0.5 and cmp.config.allow_change == ["gmacs"]
    assert _latency(cmp, "slow25").decision == "unchanged" and cmp.exit_code == 0
    cmp = compare_paths(a, b2, overrides={"thresholds": {"latency": 0.10}})
    assert _latency(cmp, "slow25").decision == "regressed"
    meta["suite"]["content"]["compare"] = {"thresholds": {"latncy": "5%"}}
    (b2 / "run.json").write_text(json.dumps(meta))
    from bench.errors import UserError

    with pytest.raises(UserError, match="latncy"):
        compare_paths(a, b2)


def test_width_change_is_caught_as_params_and_gmacs_change(tmp_path):
    """One layer's width (16 → 20 channels) changes params, GMACs and weight size: a different model."""
    models_a = {"net": ("test:cnn", {"width": 16})}
    models_b = {"net": ("test:cnn", {"width": 20})}
    a = run_suite(speed_suite(models_a, metrics=("params", "flops")), tmp_path / "a", executor=InProcessExecutor(),
                  progress=False).run_dir
    b = run_suite(speed_suite(models_b, metrics=("params", "flops")), tmp_path / "b", executor=InProcessExecutor(),
                  progress=False).run_dir
    cmp = compare_paths(a, b)
    by_metric = {r.metric: r for r in cmp.results}
    # TinyCNN params: conv 3→w (27w) + BN (2w) + conv w→2w (18w²) + BN (4w) + head (2w·10 + 10)
    expected = {w: 27 * w + 2 * w + 18 * w * w + 4 * w + 20 * w + 10 for w in (16, 20)}
    assert by_metric["params"].base == expected[16] and by_metric["params"].new == expected[20]
    for m in ("params", "gmacs", "weight_mb"):
        assert by_metric[m].decision == "regressed" and by_metric[m].failed, by_metric[m]
        assert "allow with --allow-change" in by_metric[m].reason
    assert by_metric["gmacs"].new > by_metric["gmacs"].base
    assert cmp.exit_code == 1
    allowed = compare_paths(a, b, overrides={"allow_change": "params,gmacs,weight_mb"})
    assert allowed.exit_code == 0 and all(not r.failed for r in allowed.results)
    # the same run against itself: identical deterministic metrics
    same = compare_paths(a, a)
    assert {r.metric: r.decision for r in same.results}["params"] == "unchanged" and same.exit_code == 0


# ---------------------------------------------------------------------------- rules on real tables


def _real_pair(reps):
    a, a2, _ = reps[2]
    return load_run(a, "BASE"), load_run(a2, "NEW")


def test_memory_threshold_and_floor(reps):
    base, new = _real_pair(reps)
    key = base.table["cell_key"].iloc[0]
    cases = [(100.0, 104.0, "unchanged"), (100.0, 106.0, "regressed"), (100.0, 90.0, "improved"),
             (0.2, 0.9, "unchanged"),  # +350% but under the CPU floor: allocator jitter
             (17.04, 18.13, "unchanged"),  # two identical CLI runs of test:cnn b4 measured this
             (2.0, 7.0, "regressed")]
    for b_mb, n_mb, want in cases:
        base.table.loc[base.table["cell_key"] == key, "rss_peak_mb"] = b_mb
        new.table.loc[new.table["cell_key"] == key, "rss_peak_mb"] = n_mb
        cmp = compare_runs(base, new, build_config())
        r = next(r for r in cmp.results if r.cell_key == key and r.metric == "rss_memory")
        assert r.decision == want, (b_mb, n_mb, r.reason)
        assert r.failed == (want == "regressed")


def test_activation_memory_is_compared_exactly_and_old_runs_are_not_comparable(reps):
    base, new = _real_pair(reps)
    key = base.table["cell_key"].iloc[0]
    # two real runs of the same suite count the same activation bytes
    acts = [run.table.loc[run.table["cell_key"] == key, "act_peak_mb"].iloc[0] for run in (base, new)]
    assert acts[0] > 0 and acts[0] == acts[1]
    judged = {r.metric: r for r in compare_runs(base, new, build_config()).results if r.cell_key == key}
    assert judged["memory"].decision == "unchanged"
    # a deterministic count has no noise floor: 1 KiB more is a regression that fails
    new.table.loc[new.table["cell_key"] == key, "act_peak_mb"] = acts[0] + 1 / 1024
    r = next(r for r in compare_runs(base, new, build_config()).results if r.cell_key == key and r.metric == "memory")
    assert r.decision == "regressed" and r.failed
    # a BASE written before act_peak_mb existed (results schema 1) cannot be judged on it
    base.table = base.table.drop(columns=["act_peak_mb"])
    r = next(r for r in compare_runs(base, new, build_config()).results if r.cell_key == key and r.metric == "memory")
    assert r.decision == "not comparable" and not r.failed and "act_peak_mb" in r.reason


def test_accuracy_drop_in_points_and_reported_never_fails(reps):
    base, new = _real_pair(reps)
    key = base.table["cell_key"].iloc[0]
    for t in (base.table, new.table):
        t["acc_source"] = t["acc_source"].astype(object)
    cases = [("measured", 76.1, 75.5, "regressed", True), ("measured", 76.1, 75.7, "unchanged", False),
             ("scratch", 60.0, 61.0, "improved", False), ("reported", 76.1, 70.0, "regressed", False)]
    for source, b, n, want, fails in cases:
        base.table.loc[base.table["cell_key"] == key, ["top1", "acc_source"]] = [b, source]
        new.table.loc[new.table["cell_key"] == key, ["top1", "acc_source"]] = [n, source]
        cmp = compare_runs(base, new, build_config())
        r = next(r for r in cmp.results if r.cell_key == key and r.metric == "top1")
        assert (r.decision, r.failed) == (want, fails), (source, b, n, r.reason)
        assert r.change == pytest.approx(n - b)
    base.table.loc[base.table["cell_key"] == key, "acc_source"] = "measured"
    cmp = compare_runs(base, new, build_config())
    assert next(r for r in cmp.results if r.cell_key == key and r.metric == "top1").decision == "not comparable"


def test_cell_that_now_fails_is_regressed_and_missing_cells_reported(reps):
    base, new = _real_pair(reps)
    k0, k1 = base.table["cell_key"].iloc[0], base.table["cell_key"].iloc[1]
    new.table.loc[new.table["cell_key"] == k0, ["status", "error"]] = ["oom", "out of memory at batch 1"]
    new.table = new.table[new.table["cell_key"] != k1]
    cmp = compare_runs(base, new, build_config())
    status = {r.cell_key: r for r in cmp.results if r.metric == "status"}
    assert status[k0].decision == "regressed" and status[k0].failed and "out of memory" in status[k0].reason
    assert status[k1].decision == "missing" and not status[k1].failed
    assert cmp.cells[0].key == k0  # failing cell first
    ok = compare_runs(base, new, build_config(overrides={"fail_on": "latency,params"}))
    assert ok.exit_code == 0  # --fail-on leaves status out


# ---------------------------------------------------------------------------- statistics


def test_bootstrap_ci_is_seeded_and_brackets_the_ratio(reps):
    a, _, b = reps[3]
    sa, sb = load_run(a, "BASE").samples, load_run(b, "NEW").samples
    key = next(k for k in sa if "|slow25|" in k)
    x, y = sa[key], sb[key]
    lo1, hi1 = bootstrap_median_ratio_ci(x, y, 2000, 0.95, seed=7)
    lo2, hi2 = bootstrap_median_ratio_ci(x, y, 2000, 0.95, seed=7)
    assert (lo1, hi1) == (lo2, hi2)
    ratio = np.median(y) / np.median(x)
    assert lo1 <= ratio <= hi1
    wider = bootstrap_median_ratio_ci(x, y, 2000, 0.999, seed=7)
    assert wider[0] <= lo1 and wider[1] >= hi1
    sc = compare_samples(x, y, seed=7)
    assert sc.ratio == pytest.approx(ratio) and sc.p_value == pytest.approx(mann_whitney_p(x, y))
    assert mann_whitney_p(x, x) > 0.5  # a sample set against itself: no evidence at all


def test_noise_guard_ignores_a_burst_of_load_but_not_a_real_slowdown(reps):
    """Real samples; one copy has every other call slowed 30% (as preemption by a neighbour would)."""
    a, _, _ = reps[4]
    x = next(v for k, v in load_run(a, "BASE").samples.items() if "|slow25|" in k)
    burst = x.copy()
    burst[::2] *= 1.30
    sc = compare_samples(x, burst)
    assert sc.ratio > 1.10 and sc.p_value < 0.01  # threshold and Mann–Whitney U alone would cry wolf
    assert sc.quiet_ratio < 1.05
    assert quiet_latency(burst) == pytest.approx(np.quantile(x, 0.10), rel=0.05)
    uniform = compare_samples(x, x * 1.30)  # a real regression slows every call
    assert uniform.quiet_ratio == pytest.approx(1.30)
    base, new = load_run(a, "BASE"), load_run(a, "NEW")
    key = next(k for k in new.samples if "|slow25|" in k)
    new.samples[key] = burst
    new.table.loc[new.table["cell_key"] == key, "latency_ms_p50"] = float(np.median(burst))
    guarded = _latency(compare_runs(base, new, build_config()), "slow25")
    assert guarded.decision == "unchanged" and "load on the machine" in guarded.reason
    unguarded = _latency(compare_runs(base, new, build_config(overrides={"noise_guard": False})), "slow25")
    assert unguarded.decision == "regressed"
