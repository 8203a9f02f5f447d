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

from bench import schema
from bench.errors import UserError

SCHEMA_VERSION = 1

# Column order of results.parquet (bench/schema.py); metrics a cell did not compute are left
# empty (NaN), and a column the schema does not list is kept after them rather than lost.
KEY_COLUMNS = schema.KEY_COLUMNS
METRIC_COLUMNS = schema.METRIC_COLUMNS


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
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results and reports are meant to be shared
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
        row.update({k: v for k, v in rec.get("row", {}).items() if k not in schema.RECORD_ONLY})
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
    return df, sdf


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
    if not isinstance(meta, dict) or meta.get("schema_version") != SCHEMA_VERSION:
        got = meta.get("schema_version") if isinstance(meta, dict) else None
        raise UserError(f"{p}: results schema version {got!r} is not supported (this archbench reads {SCHEMA_VERSION})")
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
            return pd.read_parquet(p)
        if p.suffix == ".csv":
            return pd.read_csv(p)
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
