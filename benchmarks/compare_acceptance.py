"""`archbench compare` on real runs of tiny models: false-alarm and detection rates.

This is the real-run acceptance experiment that used to live in tests/test_compare.py. It
measures wall-clock time on the machine it runs on, so it is evidence, not a gate (issue #13):
it prints rates and asserts nothing. The decision rules themselves are tested on synthetic
samples in tests/test_compare.py. Results with their command are recorded in docs/compare.md.

Every repetition makes three fresh runs with the real runner (bench.runner.run_suite, real run
folders, real timing code bench.worker.run_cell):

- ``A`` and ``A2``: the same suite twice → compare(A, A2) should report nothing regressed;
- ``B``: the same suite with two models deliberately slowed → compare(A, B) should name the
  ~25% slower cell as regressed and leave the ~3% slower one alone.

Cells run in this process (one measuring thread) instead of one worker process per cell (which
would cost ~3 s of start-up per cell), and the three runs are measured in interleaved rounds in
the order A, A2, B, A, A2, B, … so a phase of load falls on all three alike. That is the most
favourable setting for a single-process rule: what it cannot see is the level at which a fresh
process settles, which moves more than these slowdowns on some machines (issue #15).

The slowed models: ``test:cnn`` with ``extra_work`` 2 → 3 (one more 128×128 matmul+tanh per
call, ~+25%), and ``test:fine_cost``: test:cnn(extra_work=3) plus two 32×32 matmul+tanh steps
(~+3%).

    .venv/bin/python benchmarks/compare_acceptance.py            # 20 repetitions (~4 min on 2 cores)
    .venv/bin/python benchmarks/compare_acceptance.py --reps 5
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import statistics
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from bench import registry  # noqa: E402
from bench.compare import compare_paths  # noqa: E402
from bench.executor import CellOutcome, Executor  # noqa: E402
from bench.models.tiny import TinyCNN  # noqa: E402
from bench.runner import all_cells, run_suite  # noqa: E402
from tests.inprocess import speed_suite  # noqa: E402


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


class LockstepExecutor(Executor):
    """Runs bench.worker.run_cell in this process.

    With a turnstile, several runs take strict turns; with ``rounds`` > 1 each cell is
    measured in that many rounds (each a full run_cell with 1/rounds of the time budget),
    the turn passing to the other runs between rounds, and the rounds' samples are pooled —
    asv's "interleaved rounds", so a phase of load on the machine falls on every run alike.
    """

    def __init__(
        self, turnstile: "Turnstile | None" = None, index: int = 0, rounds: int = 1, measurer: ThreadPoolExecutor | None = None
    ):
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
            out[i] = run_suite(suites[i], roots[i], executor=LockstepExecutor(ts, i, rounds, measurer), progress=False).run_dir
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


BASE_MODELS = {"slow25": ("test:cnn", {"extra_work": 2}), "slow3": ("test:fine_cost", {"steps": 0})}
SLOW_MODELS = {"slow25": ("test:cnn", {"extra_work": 3}), "slow3": ("test:fine_cost", {"steps": 2})}


def _latency(cmp, model):
    return next(r for r in cmp.results if r.model == model and r.metric == "latency")


def _spread(values: list[float]) -> str:
    return f"min {min(values):+.1%} median {statistics.median(values):+.1%} max {max(values):+.1%}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20, help="repetitions of the three lock-step runs (default 20)")
    ap.add_argument("--window-s", type=float, default=0.4, help="timing window per cell and run (default 0.4 s)")
    args = ap.parse_args(argv)
    _register_fine_cost()
    torch.set_num_threads(1)
    alarms, same_changes, caught, slow_changes, flagged3, changes3 = 0, [], 0, [], 0, []
    with tempfile.TemporaryDirectory(prefix="archbench-cmp-") as tmp:
        root = Path(tmp)
        # A full garbage collection walks every object of this process; freezing what exists
        # now keeps in-process cells as cheap as a fresh worker's.
        gc.freeze()
        for i in range(args.reps):
            a, a2, b = run_lockstep(
                [
                    speed_suite(BASE_MODELS, window_s=args.window_s),
                    speed_suite(BASE_MODELS, window_s=args.window_s),
                    speed_suite(SLOW_MODELS, window_s=args.window_s),
                ],
                [root / f"{i}" / "a", root / f"{i}" / "a2", root / f"{i}" / "b"],
            )
            same = compare_paths(a, a2)
            alarms += any(r.decision == "regressed" for r in same.results)
            same_changes += [r.change for r in same.results if r.metric == "latency"]
            slow = compare_paths(a, b)
            failing = {(r.model, r.metric) for r in slow.failures}
            caught += failing == {("slow25", "latency"), ("slow25", "throughput")}
            slow_changes.append(_latency(slow, "slow25").change)
            r3 = _latency(slow, "slow3")
            flagged3 += r3.decision == "regressed"
            changes3.append(r3.change)
            print(
                f"rep {i + 1}/{args.reps}: same {_latency(same, 'slow25').change:+.1%}/"
                f"{_latency(same, 'slow3').change:+.1%}  25% {slow_changes[-1]:+.1%}  3% {r3.change:+.1%}",
                flush=True,
            )
        gc.unfreeze()
    print(f"\nsame suite twice: {alarms}/{args.reps} repetitions with a false alarm; latency change {_spread(same_changes)}")
    print(f"~25% slowdown (extra_work 2→3): caught in {caught}/{args.reps}; measured {_spread(slow_changes)}")
    print(f"~3% slowdown (2 fine steps): flagged in {flagged3}/{args.reps}; measured {_spread(changes3)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
