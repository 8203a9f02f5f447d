"""Eager PyTorch vs ONNX Runtime, same machine, same process, interleaved: latency at batch 1 on CPU.

For each model: build it (random weights), export it with archbench's exporter
(``bench.runtimes.export``, opset 18) and load it in an ONNX Runtime CPU session with
archbench's settings (``bench.runtimes.onnxruntime``: intra-op threads = eager's thread count,
inter-op 1, ORT_ENABLE_ALL). Both sides warm up, then run in rounds that alternate which goes
first (eager ORT, ORT eager, …), so drift in clock speed or background load hits both alike.
Every call is timed on its own (``perf_counter_ns``, garbage collector paused); the figures are
medians over all calls of each side, and the ratio is eager / ORT (> 1: ONNX Runtime is faster).
The outputs of the two sides on the same input are compared before timing (max abs error,
top-1 agreement). This is a benchmark, not a test: it asserts nothing.

    .venv/bin/python benchmarks/eager_vs_onnxruntime.py
    .venv/bin/python benchmarks/eager_vs_onnxruntime.py --models tv:resnet18 --rounds 20 --iters 10 --threads 1
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench import registry  # noqa: E402
from bench.runtimes.export import export_onnx, resolve_threads  # noqa: E402
from bench.runtimes.onnxruntime import OnnxRuntimeBackend  # noqa: E402

ORT = OnnxRuntimeBackend()

DEFAULT_MODELS = ["tv:resnet50", "tv:mobilenet_v3_large", "timm:vit_tiny_patch16_224"]


def time_calls(fn, iters: int) -> list[float]:
    """``iters`` calls of ``fn``, each timed separately, in ms."""
    out = []
    for _ in range(iters):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def compare_model(name: str, batch: int, threads: int, rounds: int, iters: int, warmup: int) -> dict:
    torch.manual_seed(0)
    size = registry.get_spec(name).default_img_size
    model = registry.create_model(name, img_size=size)
    x = torch.randn(batch, 3, size, size)

    def eager() -> torch.Tensor:
        with torch.inference_mode():
            return model(x)

    with tempfile.TemporaryDirectory(prefix="archbench-onnx-") as tmp:
        export = export_onnx(model, x, Path(tmp))
        ort_step, info = ORT.load(export.path, x, threads)

    ref, out = eager(), ort_step()
    max_abs = float((out - ref).abs().max())
    top1 = float((out.argmax(1) == ref.argmax(1)).float().mean())

    time_calls(eager, warmup)
    time_calls(ort_step, warmup)
    eager_ms: list[float] = []
    ort_ms: list[float] = []
    round_ratios: list[float] = []
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            if r % 2 == 0:
                e = time_calls(eager, iters)
                o = time_calls(ort_step, iters)
            else:
                o = time_calls(ort_step, iters)
                e = time_calls(eager, iters)
            eager_ms += e
            ort_ms += o
            round_ratios.append(statistics.median(e) / statistics.median(o))
    finally:
        gc.enable()
    e_med, o_med = statistics.median(eager_ms), statistics.median(ort_ms)
    return {
        "model": name,
        "img": size,
        "eager_ms": e_med,
        "ort_ms": o_med,
        "ratio": e_med / o_med,
        "ratio_lo": min(round_ratios),
        "ratio_hi": max(round_ratios),
        "max_abs": max_abs,
        "top1": top1,
        "exporter": export.exporter,
        "export_s": export.export_s,
        "onnx_mb": export.file_mb,
        "provider": info["execution_provider"],
        "n": len(eager_ms),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="both sides; default: torch's default (all cores)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--iters", type=int, default=10, help="calls per round, for each side")
    ap.add_argument("--warmup", type=int, default=5, help="untimed calls per side before the rounds")
    args = ap.parse_args(argv)

    ort = ORT.require()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = resolve_threads(args.threads)
    rows = []
    for name in args.models:
        row = compare_model(name, args.batch, threads, args.rounds, args.iters, args.warmup)
        rows.append(row)
        print(
            f"{name}: eager {row['eager_ms']:.2f} ms, onnxruntime {row['ort_ms']:.2f} ms, eager/ORT {row['ratio']:.2f}x",
            flush=True,
        )

    from bench.env import measure_load

    load = measure_load()
    print()
    print(
        f"CPU, batch {args.batch}, fp32, {threads} thread(s) on both sides; {args.rounds} interleaved rounds x "
        f"{args.iters} calls per side; torch {torch.__version__}, onnxruntime {ort.__version__}"
    )
    head = (
        f"{'model':28s} {'px':>4s} {'eager ms':>9s} {'ORT ms':>9s} {'eager/ORT':>9s} {'per-round range':>16s} "
        f"{'max|diff|':>9s} {'top-1':>5s} {'exporter':>8s} {'export s':>8s} {'onnx MB':>8s}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['model']:28s} {r['img']:4d} {r['eager_ms']:9.2f} {r['ort_ms']:9.2f} {r['ratio']:8.2f}x "
            f"{r['ratio_lo']:7.2f}-{r['ratio_hi']:.2f}x {r['max_abs']:9.1e} {r['top1']:5.2f} {r['exporter']:>8s} "
            f"{r['export_s']:8.1f} {r['onnx_mb']:8.1f}"
        )
    print("(medians over all timed calls; eager/ORT > 1 means ONNX Runtime is faster; top-1 = agreement of arg-max)")
    print(
        f"machine load: {load.loadavg_1m:.2f} load average, other processes {load.other_procs_cpu_percent:.0f}% CPU"
        + (f"  — {load.warning}" if load.warning else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
