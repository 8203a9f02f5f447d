"""Worker process: measures exactly one cell and writes its record.

Run as ``python -m bench.worker JOB.json OUT.json``. Running each cell in a fresh process
isolates crashes, memory blow-ups and leaked threads from the rest of the suite; the parent
(bench.executor) enforces the timeout and records a killed worker.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.results import write_json_atomic
from bench.suite import Cell

if TYPE_CHECKING:
    from bench.runtimes import BuiltCell


def _is_oom(err: BaseException) -> bool:
    if isinstance(err, MemoryError):
        return True
    name = type(err).__name__
    text = str(err).lower()
    return (
        name == "OutOfMemoryError"
        or "out of memory" in text
        or "can't allocate memory" in text
        or "cannot allocate memory" in text
    )


def _data_mb() -> float | None:
    """This process's private data (VmData: heap and private mappings, what RLIMIT_DATA counts)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmData:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _apply_memory_limit(limit_mb: int | None) -> str | None:
    """Cap the worker's heap; returns why the cell is ``oom`` already when the cap is below what
    the worker holds before measuring anything (a forked worker would otherwise reuse its free
    heap and never notice a cap of 1 MB)."""
    if not limit_mb:
        return None
    import resource

    held = _data_mb()
    if held is not None and held > limit_mb:
        return (
            f"out of memory under memory_limit_mb={limit_mb}: the worker holds {held:.0f} MB of data "
            "(interpreter, torch) before building the model"
        )
    # RLIMIT_DATA caps heap growth (malloc/mmap of private memory) without counting the
    # large virtual reservations shared libraries make, which RLIMIT_AS would trip over.
    limit = limit_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    return None


def measure_speed_cell(cell: Cell, row: dict[str, Any]) -> list[float]:
    """Fill ``row`` with this cell's metrics; return the latency samples (ms).

    Order, each pass separate: build → params/GMACs → prepare the runtime variant
    (bench.runtimes.build_cell; compile time recorded as ``compile_s``) → memory pass (before
    any other inference, see bench.metrics.memory) → one call to check the output → timing →
    parity against fp32 eager on the same input (non-reference variants; a failure becomes
    status ``mismatch``, the timings are kept for the record).
    """
    from bench.runtimes import build_cell, check_cell, is_reference, load_model

    if cell.options.get("min_gpu_mem_gb"):
        if _gpu_mem_gb(cell.device) < cell.options["min_gpu_mem_gb"]:
            return _measure_on_meta(cell, row)
    check_cell(cell)  # a cell that cannot run here is skipped before its model is built
    if cell.device == "cuda":
        _apply_tf32(cell.options.get("tf32", "off"), row)
    t0 = time.perf_counter()
    model = load_model(cell)
    row["build_s"] = round(time.perf_counter() - t0, 3)

    # Rounds after the first (bench.runner) only time: params, GMACs, weight size, memory and
    # parity were measured once, in round 0, and do not change between processes.
    first = int(cell.options.get("round", 0) or 0) == 0
    if first:
        row.update(_counted_row(model, cell))

    if not ({"latency", "memory"} & set(cell.metrics)):
        return []
    # The same random input (made on the device before anything is timed) feeds the variant
    # and the fp32 eager reference.
    built = build_cell(cell, model)
    row.update(built.info)
    if "memory" in cell.metrics and first:
        _memory_pass(built, cell, row)
    out = _first_output(built.step, cell, row)
    samples = _timing_pass(built.step, cell, row, first) if "latency" in cell.metrics else []
    if first and not is_reference(cell.precision, cell.runtime):
        model, example = built.model, built.example
        del built  # drop the variant (compiled graph, deployed session) before the reference runs
        _parity_pass(out, model, example, cell, row)
    return samples


def _memory_pass(built: BuiltCell, cell: Cell, row: dict[str, Any]) -> None:
    from bench.axes import DEPLOYED_RUNTIMES
    from bench.metrics.memory import measure_memory, module_bytes

    row.update(measure_memory(built.step, cell.device, weights_bytes=module_bytes(built.model)).as_row())
    if cell.runtime not in DEPLOYED_RUNTIMES:  # an exported graph's buffers are not PyTorch tensors
        row.update(_act_columns(built.model, built.example, cell.device, cell.precision))


def _first_output(step: Any, cell: Cell, row: dict[str, Any]) -> Any:
    """One call whose output is checked (a tensor, one row per image) and kept for parity."""
    import torch

    out = step()
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"model output is a {type(out).__name__}, not a tensor; archbench times classifiers returning logits")
    row["batch_size_actual"] = int(out.shape[0]) if out.dim() else 0
    if row["batch_size_actual"] != cell.batch_size:
        raise ValueError(
            f"model returned {row['batch_size_actual']} outputs for a batch of {cell.batch_size}; "
            "archbench never reports a reduced batch as the requested one"
        )
    return out.detach().float().clone()  # the variant may reuse its buffer


def _timing_pass(step: Any, cell: Cell, row: dict[str, Any], first: bool) -> list[float]:
    """Latency samples and their summary; in round 0 also pipelined throughput (CUDA) and energy."""
    from bench.load import CpuWatch
    from bench.metrics.stats import summarize
    from bench.metrics.timing import TimingConfig, measure_block_throughput, measure_latency

    cfg = TimingConfig.from_dict(cell.timing)
    with CpuWatch() as watch:  # other processes' CPU use during this timing pass
        res = measure_latency(step, cell.device, cfg)
    row.update(watch.reading.as_row())
    samples = res.samples_ms
    row.update(summarize(samples, cfg.percentiles).as_row())
    row.update(res.as_row())
    row["throughput_ips"] = cell.batch_size / (row["latency_ms_p50"] / 1000.0)
    # Once per cell (round 0), like memory: a pipelined-throughput pass and an energy window.
    if cell.device == "cuda" and first:
        row.update(measure_block_throughput(step, cell.batch_size, row["latency_ms_p50"]).as_row())
    energy_s = float(cell.timing.get("energy_s", 1.0))
    if energy_s > 0 and first:
        from bench.metrics.energy import energy_for_cell

        row.update(energy_for_cell(step, cell.device, cell.batch_size, energy_s).as_row())
    return samples


def _parity_pass(out: Any, model: Any, example: Any, cell: Cell, row: dict[str, Any]) -> None:
    from bench.runtimes import parity, reference_output

    par = parity(out, reference_output(model, example), cell.precision)
    row.update(par.as_row())
    if not par.ok:
        why = par.note or f"max error {par.max_rel_err:.3g} of the largest logit > tolerance {par.tol:g}"
        row.update(status="mismatch", error=f"output differs from fp32 eager: {why}")


def _apply_tf32(setting: str, row: dict[str, Any]) -> None:
    """Set TF32 for both matmuls and cuDNN convolutions, so fp32 CNNs and ViTs run the same math."""
    import torch

    on = setting == "on"
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on
    row["tf32"] = "on" if on else "off"


def _act_columns(model: Any, example: Any, device: str, precision: str) -> dict[str, float]:
    """act_peak_mb and act_total_mb of one eager forward at the cell's precision (bench.metrics.memory)."""
    import torch

    from bench.metrics.memory import MB, activation_bytes
    from bench.runtimes.precision import autocast_context

    def forward() -> Any:
        with torch.inference_mode(), autocast_context(device, precision):
            return model(example)

    peak, total = activation_bytes(forward)
    return {"act_peak_mb": peak / MB, "act_total_mb": total / MB}


def _counted_row(model: Any, cell: Cell, device: str = "cpu", always_params: bool = False) -> dict[str, Any]:
    """The deterministic columns: parameter counts, weight size and GMACs (batch 1, input made on
    ``device``, where the model lives)."""
    out: dict[str, Any] = {}
    if always_params or "params" in cell.metrics:
        from bench.metrics.params import size_row

        out.update(size_row(model, cell.precision))
    if "flops" in cell.metrics:
        from bench.metrics.flops import count_flops

        out.update(count_flops(model, img_size=cell.img_size, batch_size=1, device=device).as_row())
    return out


def _gpu_mem_gb(device: str) -> float:
    import torch

    if device != "cuda" or not torch.cuda.is_available():
        return 0.0
    return torch.cuda.get_device_properties(0).total_memory / 1024**3


def _measure_on_meta(cell: Cell, row: dict[str, Any]) -> list[float]:
    """A giant model where it cannot run: params and GMACs without allocating its weights
    (meta device, FlopCounterMode), then the cell is ``skipped`` for latency/memory."""
    from bench.metrics.flops import create_model_on_meta
    from bench.metrics.params import weight_size_mb

    model = create_model_on_meta(cell.registry_name, cell.img_size, **cell.model_kwargs)
    fp32_gib = weight_size_mb(model, "fp32") / 1024
    # Parameters are counted whatever the suite's metrics: the skip reason quotes them.
    row.update(_counted_row(model, cell, device="meta", always_params=True))
    if "memory" in cell.metrics and cell.precision == "fp32":  # counting tensor bytes needs no real memory
        import torch

        example = torch.empty(cell.batch_size, 3, cell.img_size, cell.img_size, device="meta")
        row.update(_act_columns(model, example, "cpu", "fp32"))
        row["mem_method"] = "act on meta only"
    need = cell.options["min_gpu_mem_gb"]
    where = "no CUDA device here" if _gpu_mem_gb(cell.device) == 0 else f"this GPU has {_gpu_mem_gb(cell.device):.0f} GB"
    row.update(
        status="skipped",
        error=(
            f"latency/memory need a CUDA GPU with >= {need:g} GB (fp32 weights alone are {fp32_gib:.1f} GiB); "
            f"{where}. params and GMACs were computed on the meta device without allocating weights"
        ),
    )
    return []


def run_cell(cell: Cell) -> dict[str, Any]:
    """Measure a cell and return its record; never raises for faults of the measured model."""
    import torch

    row: dict[str, Any] = {"status": "ok", "error": None}
    samples: list[float] = []
    if cell.threads:
        torch.set_num_threads(cell.threads)
    row["threads_actual"] = torch.get_num_threads()
    row["worker_pid"] = os.getpid()  # rounds are separate processes; this shows it
    row["malloc"] = (
        "steady" if os.environ.get("MALLOC_MMAP_THRESHOLD_") and os.environ.get("MALLOC_TRIM_THRESHOLD_") else "system"
    )
    started = time.time()
    try:
        if cell.task == "accuracy":
            from bench.accuracy import run_accuracy_cell

            row.update(run_accuracy_cell(cell))
        else:
            samples = measure_speed_cell(cell, row)
    except Exception as err:  # one cell's fault is recorded, not propagated
        from bench.errors import Unsupported

        if isinstance(err, Unsupported):
            row.update(status="skipped", error=str(err))
        elif _is_oom(err):
            cap = f" under memory_limit_mb={cell.memory_limit_mb}" if cell.memory_limit_mb else ""
            row.update(status="oom", error=f"out of memory at batch {cell.batch_size}{cap}: {str(err)[:300]}")
        else:
            row.update(status="failed", error=f"{type(err).__name__}: {err}"[:2000])
            row["traceback"] = traceback.format_exc(limit=8)[-4000:]
    row["duration_s"] = round(time.time() - started, 3)
    return {"row": row, "samples_ms": samples}


def watch_parent(fd: int, tmp_dir: Path) -> None:
    """Die with the driver: a daemon thread blocks on a pipe whose write end only the driver
    holds. EOF (the driver exited, or was killed with -9) → remove the job's temp folder and
    SIGKILL this worker's process group (the worker leads it). Costs no polling while measuring."""
    import shutil
    import signal
    import threading

    def wait() -> None:
        try:
            while os.read(fd, 4096):
                pass
        except OSError:
            return  # not a pipe we can watch (started by hand): nothing to die with
        shutil.rmtree(tmp_dir, ignore_errors=True)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=wait, name="archbench-parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    job_path, out_path = Path(argv[0]), Path(argv[1])
    fd = os.environ.pop("ARCHBENCH_PARENT_FD", None)
    if fd is not None:
        watch_parent(int(fd), job_path.parent)
    job = json.loads(job_path.read_text())
    cell = Cell.from_dict(job["cell"])
    if not cell.options.get("download"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub from inside a measurement
    too_small = _apply_memory_limit(cell.memory_limit_mb)
    if too_small:
        record = {"row": {"status": "oom", "error": too_small, "duration_s": 0.0}, "samples_ms": []}
    else:
        record = run_cell(cell)
    write_json_atomic(out_path, record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
