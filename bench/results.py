"""Run storage: one folder per run, appended cell by cell, read back as pandas.

Layout of ``results/<run_id>/``::

    run.json          environment, suite, conventions, status counts (schema_version)
    cells/<slug>.json one record per finished cell: {"cell": …, "row": …, "samples_ms": […]}
    results.parquet   one row per cell, wide, units in column names   (rebuilt after each cell)
    results.csv       the same table as CSV
    samples.parquet   every timing sample, long format (cell_key, iteration, latency_ms)
    logs/<slug>.log   the worker's output

Every file is written to a temporary name and renamed, so a crash or Ctrl-C leaves either
the old file or the new one, never half of one. The per-cell records are the source of
truth; the tables are derived from them and can always be rebuilt (``consolidate``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import UserError

# 2: peak_mem_mb (a CPU resident-set delta, or an absolute CUDA allocator peak) split into
#    act_peak_mb, rss_peak_mb and cuda_peak_alloc_mb / cuda_peak_reserved_mb / cuda_weights_mb.
SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)  # older tables are upgraded on read (upgrade_table)

# Column order of results.parquet; metrics a cell did not compute are left empty (NaN).
KEY_COLUMNS = [
    "run_id", "cell_key", "suite", "task", "model", "registry_name", "family", "device", "precision",
    "runtime", "batch_size", "img_size", "threads",
]
METRIC_COLUMNS = [
    "status", "error",
    "params", "params_m", "trainable_params", "weight_mb",
    "gmacs", "gflops", "gmacs_check", "flops_counter", "flops_check_counter", "flops_disagree", "uncounted_ops", "uncounted_matmul_ops",
    "latency_ms_p50", "latency_ms_mean", "latency_ms_p90", "latency_ms_p99", "latency_ms_min", "latency_ms_max",
    "latency_ms_std", "latency_ms_iqr", "latency_cv", "latency_rel_iqr", "n_samples", "timing_target_met",
    "timing_stop_reason", "warmup_iters", "warmup_s",
    "latency_note", "throughput_ips", "throughput_ips_pipelined", "tf32",
    "act_peak_mb", "act_total_mb", "rss_peak_mb", "cuda_peak_alloc_mb", "cuda_peak_reserved_mb", "cuda_weights_mb", "mem_method",
    "energy_j_per_img", "energy_note",
    "onnx_opset", "onnx_exporter", "onnx_export_note", "export_s", "onnx_file_mb", "execution_provider",
    "runtime_version", "runtime_threads", "graph_opt_level", "runtime_config", "runtime_load_s",
    "acc_source", "acc_dataset", "top1", "top5", "top1_std", "acc_n_images",
    "threads_actual", "malloc", "batch_size_actual", "build_s", "duration_s", "started_at", "finished_at",
    # issue 9: variants, parity, hardware ceiling, timing provenance
    "compile_s", "parity_max_abs_err", "parity_max_rel_err", "parity_top1_agree", "parity_tol",
    "achieved_gflops", "ceiling_gflops", "ceiling_kernel", "efficiency", "efficiency_note", "warmup_stable", "timing_clock",
]

# Schema 1 memory columns → schema 2, by the device of the row (see upgrade_table).
_V1_CPU = {"peak_mem_mb": "rss_peak_mb", "mem_baseline_mb": "rss_baseline_mb"}
_V1_CUDA = {"peak_mem_mb": "cuda_peak_alloc_mb", "peak_reserved_mb": "cuda_peak_reserved_mb",
            "weights_mem_mb": "cuda_weights_mb"}
_V1_DROPPED = ("peak_mem_mb", "peak_reserved_mb", "weights_mem_mb", "mem_baseline_mb", "weights_share")


def upgrade_table(df: pd.DataFrame) -> pd.DataFrame:
    """Read a schema-1 table as schema 2: its ``peak_mem_mb`` was the resident-set delta on CPU
    rows (now ``rss_peak_mb``) and the allocator peak on CUDA rows (now ``cuda_peak_alloc_mb``).
    It had no activation count, so ``act_peak_mb`` stays absent (compare says not comparable)."""
    if "peak_mem_mb" not in df.columns or any(c in df.columns for c in ("rss_peak_mb", "cuda_peak_alloc_mb")):
        return df
    df = df.copy()
    device = df["device"] if "device" in df.columns else pd.Series("cpu", index=df.index)
    for old, new in _V1_CPU.items():
        if old in df.columns:
            df[new] = df[old].where(device != "cuda")
    for old, new in _V1_CUDA.items():
        if old in df.columns:
            df[new] = df[old].where(device == "cuda")
    return df.drop(columns=[c for c in _V1_DROPPED if c in df.columns])



def _tmp_beside(path: Path) -> tuple[int, str]:
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _tmp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    return str(o)


def _clean_json(o: Any) -> Any:
    # JSON has no NaN/inf: store them as null so other tools can read the files.
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean_json(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean_json(v) for v in o]
    return o


def write_json_atomic(path: Path, obj: Any) -> None:
    text = json.dumps(_clean_json(obj), indent=2, default=_json_default, ensure_ascii=False)
    write_bytes_atomic(Path(path), text.encode("utf-8"))


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(Path(path), text.encode("utf-8"))


def write_table_atomic(df: pd.DataFrame, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _tmp_beside(path)
    os.close(fd)
    try:
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cells_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "cells"


def read_cell_records(run_dir: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted(cells_dir(run_dir).glob("*.json")):
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # a record is only ever replaced whole; an unreadable one is treated as missing
    return out


def write_cell_record(run_dir: Path, slug: str, record: dict[str, Any]) -> Path:
    path = cells_dir(run_dir) / f"{slug}.json"
    write_json_atomic(path, record)
    return path


def records_to_frames(records: list[dict[str, Any]], run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, samples = [], []
    # Rows follow the order cells were measured in (records are files, listed by name).
    records = sorted(records, key=lambda r: (r.get("row", {}).get("started_at") or "", r["cell"]["key"]))
    for rec in records:
        cell = rec["cell"]
        row = {k: cell.get(k) for k in KEY_COLUMNS if k in cell}
        row["run_id"] = run_id
        row["cell_key"] = cell["key"]
        row.update({k: v for k, v in rec.get("row", {}).items() if k != "traceback"})
        if row.get("gmacs") is not None:
            row["gflops"] = 2 * row["gmacs"]
        rows.append(row)
        for i, ms in enumerate(rec.get("samples_ms") or []):
            samples.append({"run_id": run_id, "cell_key": cell["key"], "model": cell["model"], "iteration": i, "latency_ms": ms})
    df = pd.DataFrame(rows)
    extra = [c for c in df.columns if c not in KEY_COLUMNS + METRIC_COLUMNS]
    df = df.reindex(columns=KEY_COLUMNS + METRIC_COLUMNS + extra)
    # Lists (e.g. per-seed accuracies) are stored as JSON text so every format can hold them.
    for c in df.columns:
        if df[c].map(lambda v: isinstance(v, (list, dict))).any():
            df[c] = df[c].map(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
    sdf = pd.DataFrame(samples, columns=["run_id", "cell_key", "model", "iteration", "latency_ms"])
    return upgrade_table(df), sdf


def consolidate(run_dir: Path) -> pd.DataFrame:
    """Rebuild results.parquet, results.csv and samples.parquet from the cell records."""
    run_dir = Path(run_dir)
    meta = read_run_meta(run_dir)
    df, sdf = records_to_frames(read_cell_records(run_dir), meta.get("run_id", run_dir.name))
    write_table_atomic(df, run_dir / "results.parquet")
    write_table_atomic(df, run_dir / "results.csv")
    write_table_atomic(sdf, run_dir / "samples.parquet")
    return df


def read_run_meta(run_dir: Path) -> dict[str, Any]:
    p = Path(run_dir) / "run.json"
    if not p.is_file():
        raise UserError(f"{run_dir}: not a run folder (no run.json)")
    try:
        meta = json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{p}: corrupt run.json ({err.msg} at line {err.lineno})") from None
    if not isinstance(meta, dict) or meta.get("schema_version") not in READABLE_SCHEMAS:
        got = meta.get("schema_version") if isinstance(meta, dict) else None
        readable = ", ".join(str(v) for v in READABLE_SCHEMAS)
        raise UserError(f"{p}: results schema version {got!r} is not supported (this archbench reads {readable})")
    return meta


def _run_dir_of(path: Path) -> Path:
    path = Path(path)
    return path if path.is_dir() else path.parent


def load_results(path: str | Path) -> pd.DataFrame:
    """Read a run back as a DataFrame: a run folder, its results.parquet or its results.csv."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such run folder or results file")
    if p.is_dir():
        if (p / "results.parquet").is_file():
            p = p / "results.parquet"
        elif (p / "run.json").is_file():
            return consolidate(p)
        else:
            raise UserError(f"{p}: not a run folder (no results.parquet or run.json)")
    try:
        if p.suffix == ".parquet":
            return upgrade_table(pd.read_parquet(p))
        if p.suffix == ".csv":
            return upgrade_table(pd.read_csv(p))
    except Exception as err:  # pyarrow/pandas raise many types for a damaged file
        raise UserError(f"{p}: unreadable results file ({type(err).__name__}: {err})") from None
    raise UserError(f"{p}: expected a run folder, results.parquet or results.csv")


def load_samples(path: str | Path) -> pd.DataFrame:
    run_dir = _run_dir_of(Path(path))
    p = run_dir / "samples.parquet"
    if not p.is_file():
        return pd.DataFrame(columns=["run_id", "cell_key", "model", "iteration", "latency_ms"])
    try:
        return pd.read_parquet(p)
    except Exception as err:
        raise UserError(f"{p}: unreadable samples file ({type(err).__name__}: {err})") from None


def list_runs(results_root: Path) -> list[Path]:
    """Run folders under ``results_root``, newest first (by start time in run.json)."""
    runs = []
    root = Path(results_root)
    if not root.is_dir():
        return []
    for d in root.iterdir():
        if d.is_dir() and (d / "run.json").is_file():
            try:
                meta = json.loads((d / "run.json").read_text())
            except (OSError, json.JSONDecodeError):
                continue
            runs.append((meta.get("started_at") or "", d))
    return [d for _, d in sorted(runs, key=lambda t: (t[0], t[1].name), reverse=True)]
