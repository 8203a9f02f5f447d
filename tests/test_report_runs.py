"""Run folders written through bench.results for the report tests (helpers only, no tests).

The report is the code under test here, not the measurements: these runs have the layout
and columns a real run has (cell records → consolidate → results.parquet, samples.parquet,
run.json) with published parameter/GMAC/accuracy figures for the default suite's models and
latencies from a simple cost model, so every figure's code path can be exercised in
seconds. The browser tests also render a real run (the ``ci_run`` fixture).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np

from bench import results
from bench.metrics.stats import summarize

# (model, family, params M, GMACs at 224, top-1 % reported) — torchvision / timm model cards.
DEFAULT_MODELS = [
    ("tv:alexnet", "cnn", 61.10, 0.71, 56.52),
    ("tv:vgg16", "cnn", 138.36, 15.47, 71.59),
    ("tv:resnet18", "cnn", 11.69, 1.81, 69.76),
    ("tv:resnet50", "cnn", 25.56, 4.09, 76.13),
    ("tv:convnext_tiny", "cnn", 28.59, 4.46, 82.52),
    ("tv:mobilenet_v2", "mobile", 3.50, 0.30, 71.88),
    ("tv:mobilenet_v3_large", "mobile", 5.48, 0.22, 74.04),
    ("tv:efficientnet_b0", "mobile", 5.29, 0.39, 77.69),
    ("timm:vit_tiny_patch16_224", "vit", 5.72, 1.26, 75.45),
    ("timm:deit_small_patch16_224", "vit", 22.05, 4.61, 79.86),
    ("tv:vit_b_16", "vit", 86.57, 17.56, 81.07),
    ("tv:swin_t", "hybrid", 28.29, 4.49, 81.47),
]
# Fraction of the matmul rate each family reaches on CPU (depthwise convs are memory-bound).
EFFICIENCY = {"cnn": 0.45, "mobile": 0.12, "vit": 0.55, "hybrid": 0.35}
RUNTIME_SPEEDUP = {"eager": 1.0, "channels_last": 1.15, "compile": 1.3, "onnxruntime": 1.4}
DEVICE_RATE = {"cpu": 150.0, "cuda": 20000.0}  # GFLOP/s


def _cell(
    suite: str,
    task: str,
    model: str,
    family: str,
    device: str,
    precision: str,
    runtime: str,
    batch: int,
    img: int,
    threads: int | None,
) -> dict[str, Any]:
    key = "|".join(
        [suite, task, model, device, precision, runtime, f"b{batch}", f"{img}px", f"t{threads if threads is not None else 'all'}"]
    )
    return {
        "suite": suite,
        "task": task,
        "model": model,
        "registry_name": model,
        "family": family,
        "device": device,
        "precision": precision,
        "runtime": runtime,
        "batch_size": batch,
        "img_size": img,
        "threads": threads,
        "key": key,
    }


def _slug(cell: dict[str, Any], i: int) -> str:
    return f"{i:04d}-" + "".join(c if c.isalnum() else "_" for c in cell["model"])[:40]


def write_run(
    root: Path,
    *,
    suite: str = "default",
    run_id: str = "20260101-000000-default-0001",
    started_at: str = "2026-01-01T00:00:00+00:00",
    models: Iterable[tuple] = DEFAULT_MODELS,
    batches: Iterable[int] = (1, 8),
    img_sizes: Iterable[int] = (224,),
    runtimes: Iterable[str] = ("eager",),
    devices: Iterable[str] = ("cpu",),
    accuracy: bool = True,
    failures: bool = True,
    hardware: Any = "measured",
    n_samples: int = 60,
    seed: int = 0,
    busy: bool = False,
    description: str = "",
) -> Path:
    """Write a complete run folder under ``root`` and return it."""
    rng = np.random.default_rng(seed)
    run_dir = Path(root) / run_id
    if hardware == "measured":
        hardware = [
            {
                "device": d,
                "precision": "fp32",
                "threads": None,
                "threads_actual": 2,
                "matmul_gflops": DEVICE_RATE[d],
                "matmul_gflops_max": DEVICE_RATE[d] * 1.05,
                "mem_bw_gbs": 18.0,
                "skipped": None,
            }
            for d in devices
        ]
    meta = {
        "schema_version": results.SCHEMA_VERSION,
        "run_id": run_id,
        "status": "complete",
        "started_at": started_at,
        "finished_at": started_at,
        "suite": {"name": suite, "description": description or f"synthetic {suite} run for the report tests", "path": None},
        "environment": {
            "hostname": "testhost",
            "cpu_model": "Test CPU",
            "cpu_count": 2,
            "python": "3.11",
            "torch": "2.x",
            "torchvision": "0.x",
            "timm": "1.x",
            "git_commit": "0" * 40,
            "git_dirty": False,
            "torch_num_threads_default": 2,
        },
        "load": {
            "loadavg_1m": 3.2 if busy else 0.1,
            "cpu_count": 2,
            "other_procs_cpu_percent": 150.0 if busy else 1.0,
            "busy_procs": ["python[1] 90%"] if busy else [],
            "busy": busy,
            "warning": "machine busy: other processes used 150% CPU; CPU timings from this run are unreliable" if busy else None,
        },
        "conventions": {
            "timing_rule": "median of per-iteration samples after warm-up",
            "flop_convention": {
                "unit": "GMACs: 1e9 multiply-accumulates",
                "counted": ["convolution", "matmul"],
                "not_counted": ["normalisation"],
            },
        },
        "cells_total": 0,
    }
    if hardware is not None:
        meta["hardware"] = hardware
    results.write_json_atomic(run_dir / "run.json", meta)
    i = 0
    for m_i, (name, fam, params_m, gmacs224, top1) in enumerate(models):
        for device in devices:
            for runtime in runtimes:
                for img in img_sizes:
                    # Convolutions scale with pixels; global attention a little faster than that.
                    scale = (img / 224) ** (2.3 if fam in ("vit", "hybrid") else 2.0)
                    gmacs = gmacs224 * scale
                    for batch in batches:
                        cell = _cell(suite, "speed", name, fam, device, "fp32", runtime, batch, img, None)
                        secs = 2 * gmacs * batch / (DEVICE_RATE[device] * EFFICIENCY[fam] * RUNTIME_SPEEDUP.get(runtime, 1.0))
                        p50 = secs * 1e3 + 0.05
                        samples = p50 * rng.lognormal(0.0, 0.04, n_samples)
                        st = summarize(samples).as_row()
                        row = {
                            "status": "ok",
                            "params": int(params_m * 1e6),
                            "params_m": params_m,
                            "gmacs": gmacs,
                            "throughput_ips": batch / (st["latency_ms_p50"] / 1e3),
                            "act_peak_mb": params_m * 4 * 0.3 + batch * img * img * 3 * 4 * 20 / 1e6,
                            "act_total_mb": params_m * 4 + batch * img * img * 3 * 4 * 60 / 1e6,
                            "weight_mb": params_m * 4 * 1e6 / 2**20,
                            "rss_peak_mb": params_m * 4 * 0.5 + batch * img * img * 3 * 4 * 25 / 1e6,
                            "mem_method": "vmhwm-delta",
                            "threads_actual": 2,
                            "timing_target_met": bool(i % 7),
                            "started_at": f"{started_at}#{i:05d}",
                            **st,
                        }
                        row["achieved_gflops"] = 2 * gmacs * row["throughput_ips"]
                        row["ceiling_gflops"] = DEVICE_RATE[device]
                        row["efficiency"] = row["achieved_gflops"] / DEVICE_RATE[device]
                        results.write_cell_record(
                            run_dir, _slug(cell, i), {"cell": cell, "row": row, "samples_ms": list(samples)}
                        )
                        i += 1
        if accuracy:
            source = ("reported", "measured", "scratch")[m_i % 3]
            cell = _cell(suite, "accuracy", name, fam, "cpu", "fp32", "eager", 64, 224, None)
            row = {
                "status": "ok",
                "acc_source": source,
                "acc_dataset": "imagenet-1k val" if source != "scratch" else "digits",
                "top1": top1,
                "top5": min(99.9, top1 + 15),
                "params_m": params_m,
                "gmacs": gmacs224,
                "started_at": f"{started_at}#{i:05d}",
            }
            results.write_cell_record(run_dir, _slug(cell, i), {"cell": cell, "row": row, "samples_ms": []})
            i += 1
    if failures:
        bad = [
            (
                "failed",
                "RuntimeError: shapes cannot be multiplied (1x7 and 8x9)\nTraceback (most recent call last):\n  ...",
                "broken:model",
            ),
            ("oom", "out of memory at batch 64: tried to allocate 2.00 GiB", "tv:vit_b_16"),
            ("timeout", "cell exceeded timeout_s=300 (killed after 300.0 s)", "tv:vgg16"),
            ("skipped", "not run: batch 64 already ran out of memory for this model (sweep stopped)", "tv:vit_b_16"),
            ("mismatch", "onnxruntime output differs from eager: max abs err 0.31 > tol 0.001", "tv:swin_t"),
        ]
        for status, err, name in bad:
            cell = _cell(
                suite, "speed", name, "other" if name.startswith("broken") else "vit", "cpu", "fp32", "eager", 64, 224, None
            )
            results.write_cell_record(
                run_dir,
                _slug(cell, i),
                {"cell": cell, "row": {"status": status, "error": err, "started_at": f"{started_at}#{i:05d}"}},
            )
            i += 1
    meta["cells_total"] = i
    results.write_json_atomic(run_dir / "run.json", meta)
    df = results.consolidate(run_dir)
    meta["status_counts"] = df["status"].value_counts().to_dict()
    results.write_json_atomic(run_dir / "run.json", meta)
    return run_dir
