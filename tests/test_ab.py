"""`archbench ab` (issue #15): two environments interleaved A-B-B-A by round, decided on pairs.

The paired decision rule is tested on seeded synthetic rounds with a CPU hog that switches on
and off during the run (a random telegraph over the A-B-B-A slots; a slot the hog covers is
slowed 35-42% and the load monitor records the share of a core it took), per-process levels,
bimodal calls, and true slowdowns of known size. The command itself runs for real on a tiny
model with two environment settings, asserting structure, never a timing.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.ab import AB_MIN_ROUNDS, AB_THRESHOLD
from bench.compare import build_config, compare_runs, load_run
from bench.runner import run_suite
from tests.conftest import as_list, run_cli, write_suite
from tests.inprocess import InProcessExecutor, speed_suite
from tests.synthetic import ProcessShape, process_samples, with_samples

REPS = 20
TRUE_MS = {"slow": 0.30, "other": 0.45}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    models = {"slow": ("test:cnn", {}), "other": ("test:vit", {})}
    root = tmp_path_factory.mktemp("ab-template")
    return run_suite(speed_suite(models, window_s=0.05), root, executor=InProcessExecutor(), progress=False).run_dir


def hog_timeline(rng: np.random.Generator, slots: int, dwell: float = 4.0) -> np.ndarray:
    """Share of each slot (one worker's timing pass) during which a CPU hog ran: on/off phases
    of random length (mean ``dwell`` slots: 2-6 s phases against ~1 s per tiny-model round),
    switching at random points inside slots."""
    t, on, edges = 0.0, bool(rng.random() < 0.5), []
    cover = np.zeros(slots)
    while t < slots:
        length = rng.exponential(dwell)
        if on:
            edges.append((t, min(slots, t + length)))
        t += length
        on = not on
    for a, b in edges:
        for s in range(int(a), min(slots, int(np.ceil(b)))):
            cover[s] += max(0.0, min(b, s + 1) - max(a, s))
    return np.clip(cover, 0, 1)


def ab_pair(
    template: Path, dest: Path, seed: int, slowdown: float = 1.0, rounds: int = AB_MIN_ROUNDS, hog: bool = True
) -> tuple[Path, Path]:
    """BASE and NEW as `archbench ab` writes them: round r of each cell measured back to back,
    A then B in even rounds, B then A in odd ones; ``slowdown`` multiplies NEW's cost of "slow"."""
    rng = np.random.default_rng(seed)
    slots = 2 * rounds * len(TRUE_MS)
    cover = hog_timeline(rng, slots) if hog else np.zeros(slots)
    base: dict[str, list] = {m: [] for m in TRUE_MS}
    new: dict[str, list] = {m: [] for m in TRUE_MS}
    bl: dict[str, list] = {m: [] for m in TRUE_MS}
    nl: dict[str, list] = {m: [] for m in TRUE_MS}
    slot = 0
    for r in range(rounds):
        for m in sorted(TRUE_MS, key=lambda _: rng.random()):  # shuffled within the round
            order = ("base", "new") if r % 2 == 0 else ("new", "base")
            for side in order:
                f = float(cover[slot])
                slot += 1
                ms = TRUE_MS[m] * (slowdown if (side == "new" and m == "slow") else 1.0)
                x = process_samples(rng, ms, 120, ProcessShape(burst_frac=f))
                (base if side == "base" else new)[m].append(x)
                (bl if side == "base" else nl)[m].append(100.0 * f)
    return with_samples(template, dest / "a", base, bl), with_samples(template, dest / "b", new, nl)


def _judge(a: Path, b: Path):
    cfg = build_config(overrides={"thresholds": {"latency": AB_THRESHOLD, "throughput": AB_THRESHOLD}, "allow_env_change": True})
    cmp = compare_runs(load_run(a, "BASE"), load_run(b, "NEW"), cfg, paired=True)
    return cmp, {r.model: r for r in cmp.results if r.metric == "latency"}


def test_identical_sides_under_a_switching_hog_raise_no_alarm(template, tmp_path):
    alarms, dropped = [], 0
    for i in range(REPS):
        cmp, lat = _judge(*ab_pair(template, tmp_path / str(i), seed=100 + i))
        alarms += [f"rep {i}: {r.model} {r.decision}: {r.reason}" for r in cmp.results if r.decision in ("regressed", "improved")]
        dropped += any("left out" in r.reason for r in lat.values())
        assert cmp.paired and all(r.test == "paired t on log round ratios" for r in lat.values() if r.test)
    assert alarms == []
    assert dropped >= 3  # the hog did switch inside some pairs, and those pairs were left out


def test_ten_percent_slowdown_is_flagged_under_the_hog_and_three_percent_never(template, tmp_path):
    flagged10, flagged3 = 0, []
    for i in range(REPS):
        _, lat = _judge(*ab_pair(template, tmp_path / f"s10-{i}", seed=200 + i, slowdown=1.10))
        # the untouched cell is never called changed (unchanged, or inconclusive where its pairs spread widely)
        flagged10 += lat["slow"].decision == "regressed" and lat["other"].decision in ("unchanged", "inconclusive")
        _, lat3 = _judge(*ab_pair(template, tmp_path / f"s3-{i}", seed=300 + i, slowdown=1.03))
        if lat3["slow"].decision in ("regressed", "improved"):
            flagged3.append(f"rep {i}: {lat3['slow'].change:+.1%} {lat3['slow'].reason}")
    assert flagged10 >= 19
    assert flagged3 == []


def test_pairing_is_what_makes_it_work(template, tmp_path):
    """The same A-B-B-A data judged unpaired (Welch t on round medians): the hog's slots spread
    each side's rounds so widely that a 10% slowdown is rarely significant."""
    paired, unpaired = 0, 0
    for i in range(10):
        a, b = ab_pair(template, tmp_path / str(i), seed=400 + i, slowdown=1.10)
        paired += _judge(a, b)[1]["slow"].decision == "regressed"
        cfg = build_config(
            overrides={"thresholds": {"latency": AB_THRESHOLD}, "allow_env_change": True, "max_other_cpu_pct": 1000}
        )  # keep every round, as the paired rule does
        cmp = compare_runs(load_run(a, "BASE"), load_run(b, "NEW"), cfg)
        unpaired += next(r for r in cmp.results if r.model == "slow" and r.metric == "latency").decision == "regressed"
    assert paired >= 9 and unpaired <= paired - 3, (paired, unpaired)


def test_too_few_quiet_pairs_is_unreliable_not_a_verdict(template, tmp_path):
    a, b = ab_pair(template, tmp_path, seed=9, slowdown=1.25, hog=False)
    alternating = [0, 100] * (AB_MIN_ROUNDS // 2)
    for run, loads in ((a, alternating), (b, alternating[1:] + alternating[:1])):
        import pandas as pd

        t = pd.read_parquet(run / "results.parquet")
        t["other_cpu_pct_rounds"] = json.dumps(loads)
        t.to_parquet(run / "results.parquet")
    cmp, lat = _judge(a, b)
    assert lat["slow"].decision == "not comparable" and lat["slow"].unreliable
    assert (
        f"changed by more than 25% of a core between the two members of {AB_MIN_ROUNDS}/{AB_MIN_ROUNDS} pairs"
        in lat["slow"].reason
    )
    assert any("timing unreliable" in w for w in cmp.warnings) and cmp.exit_code == 0


# ---------------------------------------------------------------------------- the real command


def test_ab_runs_end_to_end_with_two_environment_settings(tmp_path):
    suite = write_suite(
        tmp_path,
        """
        name: abtiny
        models: [test:cnn]
        img_sizes: [32]
        threads: [1]
        metrics: [params, latency]
        timing: {warmup_max_s: 0.1, max_time_s: 0.1, min_samples: 5, ceiling_s: 0}
    """,
    )
    out = tmp_path / "ab.json"
    res = run_cli(
        "ab",
        str(suite),
        "--base",
        sys.executable,
        "--base-env",
        "ARCHBENCH_AB_SIDE=a",
        "--new-env",
        "ARCHBENCH_AB_SIDE=b",
        "--new-env",
        "MKL_VERBOSE=0",
        "--rounds",
        "2",
        "--results-dir",
        str(tmp_path / "r"),
        "--format",
        "json",
        "-o",
        str(out),
        "-q",
    )
    assert res.returncode in (0, 1), res.stderr  # 0 or 1 by timing; 2 would be unusable input
    data = json.loads(out.read_text())
    assert data["paired"] and data["exit_code"] == res.returncode
    ab_dir = next((tmp_path / "r").iterdir())
    assert ab_dir.name.startswith("ab-")
    from bench import load_results, load_samples

    for side, tag in (("base", "a"), ("new", "b")):
        meta = json.loads((ab_dir / side / "run.json").read_text())
        assert meta["ab"]["side"] == side and meta["ab"]["env"]["ARCHBENCH_AB_SIDE"] == tag
        assert meta["rounds"]["count"] == 2 and meta["status"] == "complete"
        row = load_results(ab_dir / side).iloc[0]
        assert row["status"] == "ok" and row["rounds_ok"] == 2 and len(set(as_list(row["worker_pids"]))) == 2
        assert sorted(set(load_samples(ab_dir / side)["round"])) == [0, 1]
    lat = next(r for c in data["cells"] for r in c["results"] if r["metric"] == "latency")
    assert lat["threshold"] == AB_THRESHOLD and lat["n_base"] in (2, None)


def test_ab_bad_input_is_one_message_and_exit_2(tmp_path):
    suite = write_suite(tmp_path, "name: x\nmodels: [test:cnn]\n")
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'no archbench here' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    cases = [
        (["--base", str(tmp_path / "nope")], "no such Python executable or virtualenv folder"),
        (["--base", str(tmp_path)], "not a virtualenv (no bin/python"),
        (["--base", str(fake)], "archbench does not run in this environment"),
        (["--base", sys.executable, "--new-env", "JUSTANAME"], "expected NAME=VALUE"),
        (["--base", sys.executable, "--rounds", "1"], "--rounds 1: must be between 2 and 50"),
    ]
    for args, words in cases:
        res = run_cli("ab", str(suite), *args, "--results-dir", str(tmp_path / "r"))
        assert res.returncode == 2, (args, res.stderr)
        assert words in res.stderr and "Traceback" not in res.stderr, (args, res.stderr)
    assert not (tmp_path / "r").exists()  # nothing written for unusable input
