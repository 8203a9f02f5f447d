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
import os
from pathlib import Path
from typing import Any

import pandas as pd

from bench import schema
from bench.atomic import (_tmp_beside, file_mode, naming_target, write_bytes_atomic, write_json_atomic,  # noqa: F401
                          write_text_atomic)
from bench.errors import UserError

SCHEMA_VERSION = 1

# Column order of results.parquet (bench/schema.py); metrics a cell did not compute are left
# empty (NaN), and a column the schema does not list is kept after them rather than lost.
KEY_COLUMNS = schema.KEY_COLUMNS
METRIC_COLUMNS = schema.METRIC_COLUMNS


def write_table_atomic(df: pd.DataFrame, path: Path) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _tmp_beside(path)
    except OSError as err:
        raise naming_target(err, path) from None
    os.close(fd)
    try:
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise naming_target(err, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cells_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "cells"


def record_problem(rec: Any) -> str | None:
    """Why ``rec`` is not a cell record ({"cell": {...,"key": str}, "row": {...}, "samples_ms": [numbers]}), or None."""
    if not isinstance(rec, dict):
        return f"a record is a JSON object, not {type(rec).__name__}"
    cell, row, samples = rec.get("cell"), rec.get("row"), rec.get("samples_ms", [])
    if not isinstance(cell, dict) or not isinstance(cell.get("key"), str) or not cell["key"]:
        return "'cell' must be an object with a non-empty 'key'"
    if not isinstance(cell.get("model", ""), str):
        return "'cell.model' must be text"
    if not isinstance(row, dict):
        return "'row' must be an object"
    if not isinstance(row.get("status", ""), str):
        return "'row.status' must be text"
    if samples is not None and (not isinstance(samples, list) or
                                not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in samples)):
        return "'samples_ms' must be a list of numbers"
    return None


def read_cell_records(run_dir: Path, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """The run's valid cell records. A record is only ever replaced whole, so an unreadable or
    malformed one is treated as missing (``--resume`` measures it again); each is named in ``problems``."""
    out = []
    for p in sorted(cells_dir(run_dir).glob("*.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            why = f"unreadable ({type(err).__name__})"
        else:
            why = record_problem(rec)
            if why is None:
                out.append(rec)
                continue
        if problems is not None:
            problems.append(f"{p}: {why}; ignored")
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
        row = {k: cell.get(k) for k in KEY_COLUMNS if k in cell and not isinstance(cell.get(k), (dict, list))}
        row["run_id"] = run_id
        row["cell_key"] = cell["key"]
        row.update({k: v for k, v in rec.get("row", {}).items() if k not in schema.RECORD_ONLY})
        if row.get("gmacs") is not None:
            row["gflops"] = 2 * row["gmacs"]
        rows.append(row)
        for i, ms in enumerate(rec.get("samples_ms") or []):
            samples.append({"run_id": run_id, "cell_key": cell["key"], "model": cell.get("model"), "iteration": i,
                            "latency_ms": ms})
    df = pd.DataFrame(rows)
    extra = [c for c in df.columns if c not in KEY_COLUMNS + METRIC_COLUMNS]
    df = df.reindex(columns=KEY_COLUMNS + METRIC_COLUMNS + extra)
    # Lists (e.g. per-seed accuracies) are stored as JSON text so every format can hold them.
    for c in df.columns:
        if df[c].map(lambda v: isinstance(v, (list, dict))).any():
            df[c] = df[c].map(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
    sdf = pd.DataFrame(samples, columns=["run_id", "cell_key", "model", "iteration", "latency_ms"])
    return df, sdf


def frames_from_records(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run's tables built in memory from its cell records; writes nothing."""
    run_dir = Path(run_dir)
    meta = read_run_meta(run_dir)
    return records_to_frames(read_cell_records(run_dir), meta.get("run_id", run_dir.name))


def _stored_rows(run_dir: Path) -> int:
    for name in ("results.parquet", "results.csv"):
        p = run_dir / name
        if p.is_file():
            try:
                return len(pd.read_parquet(p, columns=["cell_key"]) if p.suffix == ".parquet" else pd.read_csv(p, usecols=["cell_key"]))
            except Exception:
                continue
    return 0


def consolidate(run_dir: Path) -> pd.DataFrame:
    """Rebuild results.parquet, results.csv and samples.parquet from the cell records.

    Called by the runner (the one writer of a run folder). Never replaces a table that has rows
    with one built from fewer records (a baseline keeps its tables but no cells/): then the stored
    table is returned untouched.
    """
    run_dir = Path(run_dir)
    df, sdf = frames_from_records(run_dir)
    stored = _stored_rows(run_dir)
    if len(df) < stored:
        return load_results(run_dir)
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
    except (UnicodeDecodeError, RecursionError) as err:
        raise UserError(f"{p}: corrupt run.json ({type(err).__name__})") from None
    if not isinstance(meta, dict) or meta.get("schema_version") != SCHEMA_VERSION:
        got = meta.get("schema_version") if isinstance(meta, dict) else None
        raise UserError(f"{p}: results schema version {got!r} is not supported (this archbench reads {SCHEMA_VERSION})")
    if meta.get("status") == "running":
        from bench.runlock import DRIVER_GONE, is_locked

        if not is_locked(Path(run_dir)):  # no live driver: it was killed before it could say so
            meta = {**meta, "status": "interrupted", "status_note": DRIVER_GONE}
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
        # A read never writes: the tables as stored, else built in memory from the cell records.
        if (p / "results.parquet").is_file():
            p = p / "results.parquet"
        elif (p / "results.csv").is_file():
            p = p / "results.csv"
        elif (p / "run.json").is_file():
            return frames_from_records(p)[0]
        else:
            raise UserError(f"{p}: not a run folder (no results.parquet, results.csv or run.json)")
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
        if cells_dir(run_dir).is_dir() and (run_dir / "run.json").is_file():
            return frames_from_records(run_dir)[1]
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
