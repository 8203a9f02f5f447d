"""Harness overhead: archbench's reported latency against a bare ``for`` loop, same call, same process.

The bare loop is the least a harness can do: enter ``torch.inference_mode()`` once, call the
model N times, divide the elapsed time by N. archbench (``bench.metrics.timing.measure_latency``
driving the ``step`` from ``bench.runtimes.prepare``) times each call separately and re-enters
inference mode and autocast per call. The ratio of archbench's mean per-call latency to the bare
loop's is the harness overhead as it shows up in archbench's numbers (target ≤ 1.02).

The two are interleaved in rounds, alternating which goes first (A B, B A, …), so drift in
clock speed or background load hits both alike; the reported ratio is the median over rounds.
Both run after one shared warm-up. This is a benchmark, not a test: it asserts nothing.

    .venv/bin/python benchmarks/overhead.py                 # ResNet-18, batch 1, CPU, 1 thread
    .venv/bin/python benchmarks/overhead.py --threads 2 --rounds 20 --iters 50
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
from bench.metrics.timing import TimingConfig, measure_latency  # noqa: E402
from bench.runtimes import prepare  # noqa: E402
from bench.suite import Cell  # noqa: E402


def bare_loop_ms(model: torch.nn.Module, x: torch.Tensor, iters: int) -> float:
    """Mean ms per call of a plain loop: the reference with no harness at all."""
    with torch.inference_mode():
        t0 = time.perf_counter_ns()
        for _ in range(iters):
            model(x)
        t1 = time.perf_counter_ns()
    return (t1 - t0) / 1e6 / iters


def archbench_ms(step, iters: int) -> tuple[float, float]:
    """(mean, median) ms per call as archbench reports them, with exactly ``iters`` samples."""
    cfg = TimingConfig(warmup_min_iters=1, warmup_max_s=1e-9, min_samples=iters, max_samples=iters,
                       max_time_s=1e9, target_rel_iqr=1e-12)  # fixed sample count, like the loop
    res = measure_latency(step, "cpu", cfg)
    s = res.samples_ms
    return statistics.fmean(s), statistics.median(s)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tv:resnet18")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--iters", type=int, default=30, help="model calls per round, for each side")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = registry.create_model(args.model, img_size=args.img_size)
    x = torch.randn(args.batch, 3, args.img_size, args.img_size)
    cell = Cell(suite="overhead", model=args.model, registry_name=args.model, family="cnn", device="cpu",
                precision="fp32", runtime="eager", batch_size=args.batch, img_size=args.img_size, threads=args.threads)
    step, _ = prepare(model, x, cell)
    bare_loop_ms(model, x, max(5, args.iters // 3))  # shared warm-up (allocator, oneDNN primitives)

    ratios_mean, ratios_median, bare_all, ab_all = [], [], [], []
    for r in range(args.rounds):
        if r % 2 == 0:
            bare = bare_loop_ms(model, x, args.iters)
            mean, med = archbench_ms(step, args.iters)
        else:
            mean, med = archbench_ms(step, args.iters)
            bare = bare_loop_ms(model, x, args.iters)
        ratios_mean.append(mean / bare)
        ratios_median.append(med / bare)
        bare_all.append(bare)
        ab_all.append(mean)
        print(f"round {r + 1:2d}: bare {bare:8.3f} ms   archbench mean {mean:8.3f} ms  median {med:8.3f} ms   "
              f"ratio {mean / bare:.4f}", flush=True)

    from bench.env import measure_load

    load = measure_load()
    print()
    print(f"model {args.model}, batch {args.batch}, {args.img_size}px, CPU, {args.threads} thread(s), "
          f"{args.rounds} rounds × {args.iters} calls each side; torch {torch.__version__}")
    print(f"bare loop mean         {statistics.median(bare_all):.3f} ms/call (median over rounds)")
    print(f"archbench mean         {statistics.median(ab_all):.3f} ms/call (median over rounds)")
    print(f"overhead ratio (mean)  {statistics.median(ratios_mean):.4f}   (archbench mean / bare loop mean; target <= 1.02)")
    print(f"ratio (median sample)  {statistics.median(ratios_median):.4f}   (archbench median / bare loop mean)")
    print(f"machine load           {load.loadavg_1m:.2f} load average, other processes {load.other_procs_cpu_percent:.0f}% CPU"
          + (f"  — {load.warning}" if load.warning else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
