"""Harness overhead: archbench's reported latency against a bare ``for`` loop, same call, same process.

The bare loop is the least a harness can do: enter ``torch.inference_mode()`` once, call the
model N times, divide the elapsed time by N. archbench (``bench.metrics.timing.measure_latency``
driving the ``step`` from ``bench.runtimes.prepare``) times each call separately and re-enters
inference mode and autocast per call. The ratio of archbench's mean per-call latency to the bare
loop's is the harness overhead as it shows up in archbench's numbers (target ≤ 1.02).

The two are interleaved in rounds, alternating which goes first (A B, B A, …), so drift in
clock speed or background load hits both alike; the reported ratio is the median over rounds.
Background load only ever adds time, so the ratio of each side's best round is printed too:
on a shared machine it is the steadier of the two.
Both run after one shared warm-up. This is a benchmark, not a test: it asserts nothing.

On a noisy machine the ResNet-18 ratio wobbles by a few percent either way, far more than
the overhead itself. So the harness's own cost is also measured directly, in microseconds
per call, on a model that does almost nothing (``nn.Identity`` on a one-element tensor),
where the difference between archbench and the bare loop is all harness; divided by the
model's latency it gives the overhead the ratio would show on a quiet machine.

    .venv/bin/python benchmarks/overhead.py                 # ResNet-18, batch 1, CPU, 1 thread
    .venv/bin/python benchmarks/overhead.py --threads 2 --rounds 40 --iters 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench import registry  # noqa: E402
from bench.metrics.timing import TimingConfig, _CpuClock, measure_latency  # noqa: E402
from bench.runtimes import prepare  # noqa: E402
from bench.suite import Cell  # noqa: E402


def bare_loop_ms(model: torch.nn.Module, x: torch.Tensor, iters: int, cpu: list | None = None) -> float:
    """Mean ms per call of a plain loop: the reference with no harness at all."""
    with torch.inference_mode():
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        for _ in range(iters):
            model(x)
        t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
    if cpu is not None:
        cpu.append((c1 - c0) / 1e6 / iters)
    return (t1 - t0) / 1e6 / iters


class CpuTimeRecordingClock(_CpuClock):
    """archbench's CPU clock, also noting this thread's CPU time per timed call. CPU time is
    what the call itself cost, which other processes on the machine cannot inflate."""

    def __init__(self) -> None:
        self.cpu_ms: list[float] = []

    def time_once(self, step) -> float:
        c0 = time.thread_time_ns()
        ms = super().time_once(step)
        self.cpu_ms.append((time.thread_time_ns() - c0) / 1e6)
        return ms


def archbench_ms(step, iters: int, cpu: list | None = None) -> tuple[float, float]:
    """(mean, median) ms per call as archbench reports them, with exactly ``iters`` samples;
    ``cpu`` receives the mean CPU ms of the timed calls."""
    cfg = TimingConfig(
        warmup_min_iters=1, warmup_max_s=1e-9, min_samples=iters, max_samples=iters, max_time_s=1e9, target_rel_iqr=1e-12
    )  # fixed sample count, like the loop
    clock = CpuTimeRecordingClock()
    res = measure_latency(step, "cpu", cfg, clock)
    if cpu is not None:
        cpu.append(statistics.fmean(clock.cpu_ms[-iters:]))
    s = res.samples_ms
    return statistics.fmean(s), statistics.median(s)


def harness_cost_us(iters: int, rounds: int) -> tuple[float, float, float]:
    """(bare µs/call, archbench µs/call, difference) on a no-op model, medians over rounds."""
    model = torch.nn.Identity()
    x = torch.zeros(1)
    cell = Cell(
        suite="overhead",
        model="identity",
        registry_name="identity",
        family="cnn",
        device="cpu",
        precision="fp32",
        runtime="eager",
        batch_size=1,
        img_size=1,
        threads=None,
    )
    step, _ = prepare(model, x, cell)
    bare, ours = [], []
    for r in range(rounds):
        pair = (
            lambda: bare.append(bare_loop_ms(model, x, iters) * 1000),
            lambda: ours.append(archbench_ms(step, iters)[0] * 1000),
        )
        for f in pair if r % 2 == 0 else pair[::-1]:
            f()
    b, o = statistics.median(bare), statistics.median(ours)
    return b, o, o - b


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tv:resnet18")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--iters", type=int, default=10, help="model calls per round, for each side")
    ap.add_argument("--probe-iters", type=int, default=20000, help="calls per round of the no-op harness probe")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = registry.create_model(args.model, img_size=args.img_size)
    x = torch.randn(args.batch, 3, args.img_size, args.img_size)
    cell = Cell(
        suite="overhead",
        model=args.model,
        registry_name=args.model,
        family="cnn",
        device="cpu",
        precision="fp32",
        runtime="eager",
        batch_size=args.batch,
        img_size=args.img_size,
        threads=args.threads,
    )
    step, _ = prepare(model, x, cell)
    bare_loop_ms(model, x, max(5, args.iters // 3))  # shared warm-up (allocator, oneDNN primitives)

    ratios_mean, ratios_median, bare_all, ab_all = [], [], [], []
    cpu_bare: list[float] = []
    cpu_ab: list[float] = []
    for r in range(args.rounds):
        if r % 2 == 0:
            bare = bare_loop_ms(model, x, args.iters, cpu_bare)
            mean, med = archbench_ms(step, args.iters, cpu_ab)
        else:
            mean, med = archbench_ms(step, args.iters, cpu_ab)
            bare = bare_loop_ms(model, x, args.iters, cpu_bare)
        ratios_mean.append(mean / bare)
        ratios_median.append(med / bare)
        bare_all.append(bare)
        ab_all.append(mean)
        print(
            f"round {r + 1:2d}: bare {bare:8.3f} ms   archbench mean {mean:8.3f} ms  median {med:8.3f} ms   "
            f"ratio {mean / bare:.4f}",
            flush=True,
        )

    from bench.env import measure_load

    probe_bare, probe_ours, cost_us = harness_cost_us(args.probe_iters, args.rounds)

    load = measure_load()
    print()
    print(
        f"model {args.model}, batch {args.batch}, {args.img_size}px, CPU, {args.threads} thread(s), "
        f"{args.rounds} rounds × {args.iters} calls each side; torch {torch.__version__}"
    )
    print(f"bare loop mean         {statistics.median(bare_all):.3f} ms/call (median over rounds)")
    print(f"archbench mean         {statistics.median(ab_all):.3f} ms/call (median over rounds)")
    print(f"overhead ratio (mean)  {statistics.median(ratios_mean):.4f}   (archbench mean / bare loop mean; target <= 1.02)")
    print(f"ratio of best rounds   {min(ab_all) / min(bare_all):.4f}   (fastest archbench round / fastest bare round)")
    if args.threads == 1:  # with one intra-op thread all the model's work is on this thread
        cpu_ratio = statistics.median(a / b for a, b in zip(cpu_ab, cpu_bare))
        print(
            f"CPU-time ratio         {cpu_ratio:.4f}   (CPU time per timed call vs per bare-loop call; immune to other processes)"
        )
    print(f"ratio (median sample)  {statistics.median(ratios_median):.4f}   (archbench median / bare loop mean)")
    model_ms = statistics.median(bare_all)
    print(
        f"harness cost per call  {cost_us:.2f} µs (no-op model: bare {probe_bare:.2f} µs, archbench {probe_ours:.2f} µs) "
        f"= {cost_us / 1000 / model_ms * 100:.4f}% of {args.model}'s latency → noise-free ratio "
        f"{1 + cost_us / 1000 / model_ms:.5f}"
    )
    print(
        f"machine load           {load.loadavg_1m:.2f} load average, other processes {load.other_procs_cpu_percent:.0f}% CPU"
        + (f"  — {load.warning}" if load.warning else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
