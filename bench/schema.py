"""Every column of ``results.parquet`` as data: one place that says what each number means.

The readers take from here what they need instead of keeping their own lists: the results
table's column order (:data:`KEY_COLUMNS` + :data:`METRIC_COLUMNS`), ``archbench compare``'s
labels, units and directions, the report's headers and tooltips, the accuracy rows' fields, and
``docs/columns.md`` (``python -m bench.schema --markdown``). A test runs a real cell through the
worker and fails when it writes a column that is not listed here.

Adding a column: one :class:`Column` below, in the place it should appear in the table, then
``python -m bench.schema --markdown > docs/columns.md``.

This module imports nothing heavy (no torch, no pandas) so any module may read it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Iterable, Literal

Kind = Literal["key", "deterministic", "timing", "memory", "energy", "accuracy", "provenance"]
Dtype = Literal["str", "int", "float", "bool", "list", "datetime"]

KIND_MEANING: dict[str, str] = {
    "key": "identifies the cell (what was measured, in which configuration)",
    "deterministic": "the same on every machine for the same model and input size (counted, not timed)",
    "timing": "wall-clock measurement: depends on the machine, its load and the library stack",
    "memory": "memory measurement: depends on the device, allocator and library stack",
    "energy": "energy from the hardware's counters (NVML, RAPL): depends on the machine and its load",
    "accuracy": "model quality on a dataset, with its source (reported / measured / scratch)",
    "provenance": "how the number was obtained (methods, settings, versions, bookkeeping)",
}


@dataclass(frozen=True)
class Column:
    """One column of the results table."""

    name: str
    kind: Kind
    dtype: Dtype
    description: str
    unit: str = ""  # "" for counts, flags and text
    label: str = ""  # human name with unit (compare, docs); defaults to ``name``
    header: str = ""  # results-table header in the report; defaults to ``label``
    short: str = ""  # compact header of the report's headline table; defaults to ``header``
    higher_is_better: bool | None = None  # None: not a quality (text, settings, bookkeeping)
    scale: float = 1.0  # shown value = stored value × scale (fractions shown as %)
    sig: int = 3  # significant digits shown where a precise reading matters (compare)
    task: str = ""  # "accuracy": a field of every accuracy row; "": any row that measured it

    @property
    def numeric(self) -> bool:
        return self.dtype in ("int", "float")

    @property
    def title(self) -> str:
        return self.label or self.name

    @property
    def table_header(self) -> str:
        return self.header or self.title

    @property
    def short_header(self) -> str:
        return self.short or self.table_header


def _c(name: str, kind: Kind, dtype: Dtype, description: str, **kw: object) -> Column:
    return Column(name, kind, dtype, description, **kw)  # type: ignore[arg-type]


# Order here is the column order of results.parquet.
COLUMNS: tuple[Column, ...] = (
    # --- the cell ---------------------------------------------------------------------------
    _c("run_id", "key", "str", "run folder name: start time, suite and a short random tag"),
    _c("cell_key", "key", "str", "stable key of the cell: suite|task|model|device|precision|runtime|batch|size|threads"),
    _c("suite", "key", "str", "suite name"),
    _c("task", "key", "str", "speed (params, GMACs, latency, memory) or accuracy"),
    _c("model", "key", "str", "model as named in the suite (its alias when one was given)", label="model"),
    _c("registry_name", "key", "str", "registry name the model was built from (tv:, timm:, test:, archbench:)"),
    _c("family", "key", "str", "architecture family (cnn, mobile, vit, hybrid, ...)", label="family"),
    _c("device", "key", "str", "cpu or cuda", label="device"),
    _c("precision", "key", "str", "fp32, bf16 or fp16 (autocast; weights stay fp32)", label="precision"),
    _c("runtime", "key", "str", "eager, channels_last, compile, onnxruntime or openvino", label="runtime"),
    _c("batch_size", "key", "int", "images per forward pass", label="batch"),
    _c("img_size", "key", "int", "input height = width in pixels", unit="px", label="input (px)"),
    _c("threads", "key", "int", "CPU threads requested by the suite (empty: all cores)"),
    # --- outcome ----------------------------------------------------------------------------
    _c(
        "status",
        "provenance",
        "str",
        "ok, failed, crashed, oom, timeout, skipped or mismatch (variant output differs from fp32 eager)",
        label="status",
    ),
    _c("error", "provenance", "str", "why the cell is not ok (first line: the reason)"),
    # --- size ---------------------------------------------------------------------------------
    _c(
        "params",
        "deterministic",
        "int",
        "parameters (count, including non-trainable ones)",
        label="params",
        higher_is_better=False,
    ),
    _c("params_m", "deterministic", "float", "parameters, millions", unit="M", label="params (M)", higher_is_better=False),
    _c("trainable_params", "deterministic", "int", "parameters with requires_grad", higher_is_better=False),
    _c(
        "weight_mb",
        "deterministic",
        "float",
        "size of parameters and buffers at the cell's precision (MiB)",
        unit="MiB",
        label="weights (MiB)",
        higher_is_better=False,
    ),
    _c(
        "gmacs",
        "deterministic",
        "float",
        "1e9 multiply-accumulates per image, forward pass, batch 1 (docs/flops.md)",
        unit="GMACs",
        label="GMACs",
        header="GMACs / img",
        higher_is_better=False,
        sig=4,
    ),
    _c(
        "gflops",
        "deterministic",
        "float",
        "2 × gmacs (one MAC = two floating-point operations)",
        unit="GFLOPs",
        higher_is_better=False,
    ),
    _c(
        "macs_per_param",
        "deterministic",
        "float",
        "multiply-accumulates per parameter per image (gmacs × 1e9 / params): how often each weight is reused "
        "(convolutions over positions, transformers over tokens)",
        label="MACs / param",
    ),
    _c("gmacs_check", "deterministic", "float", "GMACs from the cross-check counter (FlopCounterMode)", unit="GMACs"),
    _c("flops_counter", "provenance", "str", "counter that produced gmacs"),
    _c("flops_check_counter", "provenance", "str", "counter that produced gmacs_check"),
    _c("flops_disagree", "deterministic", "bool", "the two counters differ by more than 1%"),
    _c("uncounted_ops", "deterministic", "list", "operators in the graph that no counter handles"),
    _c("uncounted_matmul_ops", "deterministic", "list", "uncounted operators that do multiply-accumulates (should be empty)"),
    # --- latency --------------------------------------------------------------------------------
    _c(
        "latency_ms_p50",
        "timing",
        "float",
        "median latency of one forward pass of the whole batch",
        unit="ms",
        label="latency p50 (ms)",
        short="p50 (ms)",
        higher_is_better=False,
    ),
    _c("latency_ms_mean", "timing", "float", "mean latency of one forward pass", unit="ms", higher_is_better=False),
    _c(
        "latency_ms_p90",
        "timing",
        "float",
        "90th-percentile latency; empty with fewer than 100 samples (10 beyond it)",
        unit="ms",
        label="p90 (ms)",
        higher_is_better=False,
    ),
    _c(
        "latency_ms_p99",
        "timing",
        "float",
        "99th-percentile latency; empty with fewer than 1,000 samples (10 beyond it)",
        unit="ms",
        label="p99 (ms)",
        higher_is_better=False,
    ),
    _c("latency_ms_min", "timing", "float", "fastest sample", unit="ms", higher_is_better=False),
    _c("latency_ms_max", "timing", "float", "slowest sample", unit="ms", higher_is_better=False),
    _c("latency_ms_std", "timing", "float", "standard deviation of the samples", unit="ms"),
    _c("latency_ms_iqr", "timing", "float", "interquartile range of the samples", unit="ms"),
    _c(
        "latency_ms_mad",
        "timing",
        "float",
        "median absolute deviation of the samples from their median: a spread that a few slow calls barely move, "
        "unlike latency_ms_std",
        unit="ms",
    ),
    _c("latency_cv", "timing", "float", "std / mean of the samples", unit="fraction"),
    _c(
        "latency_rel_iqr",
        "timing",
        "float",
        "spread of the samples: interquartile range over the median (the stopping rule's target)",
        unit="fraction",
        label="IQR / p50 (%)",
        scale=100,
    ),
    _c("n_samples", "provenance", "int", "timing samples taken (every one is kept in samples.parquet)", label="samples (n)"),
    _c("timing_target_met", "provenance", "bool", "the spread reached target_rel_iqr before a time/sample limit"),
    _c("timing_stop_reason", "provenance", "str", "why sampling stopped: target_met, max_samples or time_budget"),
    _c("warmup_iters", "provenance", "int", "warm-up iterations before sampling"),
    _c("warmup_s", "timing", "float", "warm-up wall time", unit="s"),
    _c(
        "latency_note",
        "provenance",
        "str",
        "requested percentiles left empty (fewer than 10 samples beyond them) or a median from fewer than 20 samples",
        label="percentile note",
    ),
    _c(
        "throughput_ips",
        "timing",
        "float",
        "batch size / median latency",
        unit="img/s",
        label="throughput (img/s)",
        short="img/s",
        higher_is_better=True,
    ),
    _c(
        "throughput_ips_pipelined",
        "timing",
        "float",
        "CUDA: images/s over blocks of back-to-back calls with one synchronisation per block (median of blocks)",
        unit="img/s",
        label="pipelined (img/s)",
        higher_is_better=True,
    ),
    _c("pipelined_block_calls", "provenance", "int", "calls per block for throughput_ips_pipelined (~200 ms)"),
    _c("pipelined_blocks", "provenance", "int", "blocks timed for throughput_ips_pipelined"),
    _c("tf32", "provenance", "str", "CUDA: TF32 for fp32 matmuls and cuDNN convolutions (the suite's tf32: off/on)"),
    # --- rounds (bench.rounds): each cell timed in several worker processes ---------------------
    _c("rounds", "provenance", "int", "worker processes (rounds) the cell was planned to be timed in (timing.rounds)"),
    _c("rounds_ok", "provenance", "int", "rounds that produced samples"),
    _c(
        "latency_ms_p50_ci_low",
        "timing",
        "float",
        "lower end of the 95% interval of the cell's latency level: Student t on the log round medians "
        "(empty with one round: process-to-process variation unknown)",
        unit="ms",
        label="p50 95% CI low (ms)",
    ),
    _c(
        "latency_ms_p50_ci_high", "timing", "float", "upper end of the same 95% interval", unit="ms", label="p50 95% CI high (ms)"
    ),
    _c(
        "latency_between_round_cv",
        "timing",
        "float",
        "std / mean of the round medians (process-to-process spread)",
        unit="fraction",
        label="between-round CV (%)",
        scale=100,
    ),
    _c("latency_interval_note", "provenance", "str", "why latency_ms_p50_ci_low/high are empty (one round)"),
    _c("latency_ms_p50_rounds", "timing", "list", "median latency of each round, in round order", unit="ms"),
    _c("throughput_ips_ci_low", "timing", "float", "batch / latency_ms_p50_ci_high", unit="img/s"),
    _c("throughput_ips_ci_high", "timing", "float", "batch / latency_ms_p50_ci_low", unit="img/s"),
    # --- load watched during every timing pass (bench.load) -------------------------------------
    _c(
        "other_cpu_pct",
        "provenance",
        "float",
        "CPU other processes used during the timing pass, % of one core (the busiest round's)",
        unit="%",
    ),
    _c("other_cpu_pct_rounds", "provenance", "list", "other_cpu_pct of each timed round, aligned with latency_ms_p50_rounds"),
    _c("load_busy", "provenance", "bool", "some round was timed while other processes used more than 25% of a core"),
    _c("load_busy_rounds", "provenance", "int", "rounds timed while other processes used more than 25% of a core"),
    _c("worker_pids", "provenance", "list", "process id of each round's worker: one process per round"),
    # --- memory -----------------------------------------------------------------------------------
    _c(
        "act_peak_mb",
        "deterministic",
        "float",
        "peak bytes of live tensors during one eager forward above the weights and the input, counted tensor by "
        "tensor (TorchDispatchMode); the same run to run and on CPU, CUDA and meta (empty for ONNX/OpenVINO)",
        unit="MiB",
        label="activation peak (MiB)",
        header="activations (MiB)",
        short="act. (MiB)",
        higher_is_better=False,
    ),
    _c(
        "act_total_mb",
        "deterministic",
        "float",
        "bytes of every tensor one eager forward creates (each activation written once); the roofline's traffic estimate",
        unit="MiB",
    ),
    _c(
        "rss_peak_mb",
        "memory",
        "float",
        "CPU: growth of the process's peak resident set during inference over the loaded model; includes "
        "allocator arenas, oneDNN scratch and lazily loaded library code, so larger and noisier than act_peak_mb",
        unit="MiB",
        label="resident peak (MiB)",
        higher_is_better=False,
    ),
    _c("rss_baseline_mb", "memory", "float", "CPU: resident set before the inference pass", unit="MiB"),
    _c(
        "cuda_peak_alloc_mb",
        "memory",
        "float",
        "CUDA: torch.cuda.max_memory_allocated during inference, absolute (weights and input included)",
        unit="MiB",
        label="CUDA allocated peak (MiB)",
        header="CUDA alloc. peak (MiB)",
        higher_is_better=False,
    ),
    _c(
        "cuda_peak_reserved_mb",
        "memory",
        "float",
        "CUDA: max memory reserved by the caching allocator",
        unit="MiB",
        higher_is_better=False,
    ),
    _c("cuda_weights_mb", "memory", "float", "CUDA: parameters and buffers as stored on the device", unit="MiB"),
    _c(
        "mem_method",
        "provenance",
        "str",
        "how the resident/allocator figure was measured: vmhwm-delta, rss-sampled or cuda-allocator",
    ),
    # --- energy ---------------------------------------------------------------------------------
    _c(
        "energy_j_per_img",
        "energy",
        "float",
        "joules per image over repeated calls: NVML total energy (GPU board) or RAPL (CPU packages, idle and other "
        "processes included)",
        unit="J",
        label="energy (J/img)",
        higher_is_better=False,
    ),
    _c("energy_note", "provenance", "str", "why energy_j_per_img is empty (no powercap, permission denied, no NVML)"),
    _c("energy_source", "provenance", "str", "counter read: nvml or rapl"),
    _c("energy_window_s", "provenance", "float", "length of the energy measurement window", unit="s"),
    _c("energy_calls", "provenance", "int", "model calls in the energy window"),
    _c("energy_updates", "provenance", "int", "times the energy counter changed in the window"),
    # --- deployed runtimes (ONNX Runtime, OpenVINO) --------------------------------------------
    _c("onnx_opset", "provenance", "int", "ONNX opset of the exported graph"),
    _c("onnx_exporter", "provenance", "str", "exporter that produced the graph (dynamo or torchscript)"),
    _c("onnx_export_note", "provenance", "str", "why the fallback exporter was used"),
    _c("export_s", "timing", "float", "wall time of the ONNX export", unit="s"),
    _c("onnx_file_mb", "deterministic", "float", "size of the exported ONNX file", unit="MiB"),
    _c(
        "onnx_export_reused",
        "provenance",
        "bool",
        "the graph came from this run's earlier export of the same model and input shape (export_s is that export's)",
    ),
    _c("execution_provider", "provenance", "str", "ONNX Runtime execution provider / OpenVINO plugin"),
    _c("runtime_version", "provenance", "str", "version of the deployed runtime"),
    _c("runtime_threads", "provenance", "int", "intra-op threads the deployed runtime was given"),
    _c("graph_opt_level", "provenance", "str", "ONNX Runtime graph optimisation level"),
    _c("runtime_config", "provenance", "str", "the deployed runtime's session settings"),
    _c("runtime_load_s", "timing", "float", "wall time to load/compile the exported graph", unit="s"),
    # --- accuracy ---------------------------------------------------------------------------------
    _c(
        "acc_source",
        "accuracy",
        "str",
        "reported (published), measured (pretrained weights on your data) or scratch (trained here)",
        label="acc. source",
        short="acc. source",
        task="accuracy",
    ),
    _c("acc_dataset", "accuracy", "str", "dataset the accuracy is on", label="dataset", task="accuracy"),
    _c("top1", "accuracy", "float", "top-1 accuracy", unit="%", label="top-1 (%)", higher_is_better=True, sig=4, task="accuracy"),
    _c("top5", "accuracy", "float", "top-5 accuracy", unit="%", label="top-5 (%)", higher_is_better=True, sig=4, task="accuracy"),
    _c(
        "top1_std",
        "accuracy",
        "float",
        "standard deviation of top-1 over seeds (scratch)",
        unit="pp",
        label="± std (pp)",
        task="accuracy",
    ),
    _c("acc_n_images", "accuracy", "int", "test images evaluated", label="images (n)", task="accuracy"),
    _c("top1_seeds", "accuracy", "list", "top-1 of each seed (scratch)", unit="%", task="accuracy"),
    _c("acc_n_corrupt", "provenance", "int", "test images that could not be read and were skipped", task="accuracy"),
    _c("acc_corrupt_files", "provenance", "list", "the first unreadable test images", task="accuracy"),
    _c("acc_n_available", "provenance", "int", "images found in the data folder before any limit", task="accuracy"),
    _c("acc_n_train", "provenance", "int", "training images (scratch)", task="accuracy"),
    _c(
        "train_fraction",
        "provenance",
        "float",
        "fraction of the training set used (data-efficiency runs)",
        unit="fraction",
        task="accuracy",
    ),
    _c("train_steps", "provenance", "int", "optimiser steps per seed (scratch)", task="accuracy"),
    _c("train_time_s", "timing", "float", "training wall time, all seeds (scratch)", unit="s", task="accuracy"),
    _c("eval_time_s", "timing", "float", "evaluation wall time (measured)", unit="s", task="accuracy"),
    _c("acc_weights", "provenance", "str", "weights the accuracy belongs to (tag, file or 'random init')", task="accuracy"),
    _c("acc_img_size", "provenance", "int", "input size the accuracy was obtained at", unit="px", task="accuracy"),
    _c("acc_ref", "provenance", "str", "where a reported figure comes from", task="accuracy"),
    # --- how the cell ran ---------------------------------------------------------------------------
    _c("threads_actual", "provenance", "int", "CPU threads torch used in the worker", label="threads"),
    _c("malloc", "provenance", "str", "steady (freed memory kept in the heap) or system (glibc defaults)"),
    _c("batch_size_actual", "provenance", "int", "rows of the model's output (must equal batch_size)"),
    _c("build_s", "provenance", "float", "wall time to build the model", unit="s"),
    _c("duration_s", "provenance", "float", "wall time of the whole cell in its worker", unit="s"),
    _c("started_at", "provenance", "datetime", "when the cell started (UTC)"),
    _c("finished_at", "provenance", "datetime", "when the cell finished (UTC)"),
    # --- where the cell ran (RayExecutor; empty for local runs, whose machine is run.json's) -----------
    _c("node_hostname", "provenance", "str", "host name of the cluster node that ran the cell"),
    _c("node_id", "provenance", "str", "Ray node id; run.json's `nodes` holds each node's environment"),
    _c("node_cpu_model", "provenance", "str", "CPU model of the node that ran the cell"),
    _c("node_gpu_name", "provenance", "str", "first GPU of the node that ran the cell (empty: none)"),
    _c("cell_start_unix_s", "provenance", "float", "node clock when the cell's worker process started", unit="s"),
    _c("cell_end_unix_s", "provenance", "float", "node clock when the cell's worker process ended", unit="s"),
    # --- variants, parity, hardware ceiling, timing provenance (issue 9) ------------------------------
    _c(
        "compile_s",
        "timing",
        "float",
        "torch.compile: wall time of the first call (tracing + code generation)",
        unit="s",
        higher_is_better=False,
    ),
    _c("parity_max_abs_err", "deterministic", "float", "max |output − fp32 eager output| on the same input"),
    _c("parity_max_rel_err", "deterministic", "float", "parity_max_abs_err / max |fp32 eager output|"),
    _c("parity_top1_agree", "deterministic", "float", "fraction of rows whose arg-max class matches fp32 eager", unit="fraction"),
    _c("parity_tol", "provenance", "float", "tolerance on parity_max_rel_err for this precision"),
    _c("parity_note", "provenance", "str", "why parity failed or is uninformative"),
    _c("achieved_gflops", "timing", "float", "2 × gmacs × throughput_ips", unit="GFLOP/s", higher_is_better=True),
    _c(
        "ceiling_gflops",
        "provenance",
        "float",
        "measured ceiling: the faster of a large matmul and a large 3×3 convolution on this device, precision and "
        "thread count at the start of the run",
        unit="GFLOP/s",
    ),
    _c("ceiling_kernel", "provenance", "str", "which probe set ceiling_gflops: matmul or conv3x3", label="ceiling kernel"),
    _c(
        "ceiling_theoretical_gflops",
        "provenance",
        "float",
        "CPU: cores × clock × vector lanes × 2 (FMA) × 2 pipes (assumed) from the CPU flags; an upper bound",
        unit="GFLOP/s",
    ),
    _c(
        "efficiency",
        "timing",
        "float",
        "achieved GFLOP/s (2 x GMACs x img/s) over the measured ceiling (ceiling_gflops)",
        unit="fraction",
        label="efficiency (% of ceiling)",
        short="eff. (%)",
        scale=100,
        higher_is_better=True,
    ),
    _c(
        "efficiency_note", "provenance", "str", "why an efficiency above 100% can happen (set only then)", label="efficiency note"
    ),
    _c("warmup_stable", "provenance", "bool", "warm-up ended because the last three iterations agreed within 10%"),
    _c("timing_clock", "provenance", "str", "clock of the samples (perf_counter_ns or cuda events)"),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
if len(BY_NAME) != len(COLUMNS):  # a programming error, caught on import
    raise RuntimeError("bench.schema: duplicate column name")

KEY_COLUMNS: list[str] = [c.name for c in COLUMNS if c.kind == "key"]
METRIC_COLUMNS: list[str] = [c.name for c in COLUMNS if c.kind != "key"]
# Written by the worker for the log only; never a table column.
RECORD_ONLY = frozenset({"traceback", "worker_pid", "round"})


def column(name: str) -> Column:
    """The schema entry of ``name``; KeyError names the column."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"results column {name!r} is not in bench/schema.py") from None


def of_kind(*kinds: Kind) -> list[str]:
    return [c.name for c in COLUMNS if c.kind in kinds]


def task_fields(task: str) -> list[str]:
    """Columns every row of ``task`` carries (empty where a source has no value), in order."""
    return [c.name for c in COLUMNS if c.task == task]


# Percentiles a suite requests beyond p50/p90/p99 (timing.percentiles), e.g. latency_ms_p99_9.
PERCENTILE_COLUMN = re.compile(r"latency_ms_p\d+(_\d+)?")


def unknown(names: Iterable[str]) -> list[str]:
    """Names (e.g. a row's keys) that the schema does not list, in their order."""
    return [n for n in names if n not in BY_NAME and n not in RECORD_ONLY and not PERCENTILE_COLUMN.fullmatch(n)]


def markdown() -> str:
    """``docs/columns.md``: what each number in results.parquet means."""
    out = [
        "# Results columns",
        "",
        "What each number in `results/<run_id>/results.parquet` (and `results.csv`) means, in table order.",
        "Generated from `bench/schema.py` by `python -m bench.schema --markdown > docs/columns.md`;",
        "a test fails when this file and the schema disagree.",
        "",
        "Kinds:",
        "",
    ]
    out += [f"- **{k}**: {v}" for k, v in KIND_MEANING.items()]
    out += [
        "",
        "Better: ↑ higher is better, ↓ lower is better (only where the direction is a quality).",
        "",
        "Memory and file sizes (`*_mb` columns) are MiB, 2²⁰ bytes — the unit of torchvision's published",
        "checkpoint sizes — and every table, figure and message spells them MiB.",
        "",
        "Types are the same whether a run is read from results.parquet or results.csv (`bench.load_results`):",
        "int columns are pandas `Int64` (empty where not measured), bool `boolean`, datetime UTC timestamps,",
        "list columns Python lists (JSON text inside the CSV).",
        "",
        "| column | kind | type | unit | better | label | what it is |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in COLUMNS:
        better = "" if c.higher_is_better is None else ("↑" if c.higher_is_better else "↓")
        desc = c.description.replace("|", "\\|")
        out.append(f"| `{c.name}` | {c.kind} | {c.dtype} | {c.unit} | {better} | {c.title} | {desc} |")
        if c.name == "latency_ms_p99":
            out.append(
                "| `latency_ms_p<q>` | timing | float | ms | ↓ | | any other percentile in the suite's "
                "timing.percentiles (99.9 → `latency_ms_p99_9`); empty without 10 samples beyond it |"
            )
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    if argv != ["--markdown"]:
        print("usage: python -m bench.schema --markdown", file=sys.stderr)
        return 2
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
