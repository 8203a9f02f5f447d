"""Run storage: one folder per run, appended cell by cell, read back as pandas.

Layout of ``results/<run_id>/``::

    run.json          environment, suite, conventions, status counts (schema_version)
    cells/<slug>.json one record per cell: {"cell": …, "row": …, "rounds": [{"round", "row", "samples_ms"}, …]}
    results.parquet   one row per cell, wide, units in column names   (rebuilt after each cell)
    results.csv       the same table as CSV
    samples.parquet   every timing sample, long format (cell_key, round, iteration, latency_ms)
    logs/<slug>.log   the worker's output

Every file is written to a temporary name and renamed, so a crash or Ctrl-C leaves either
the old file or the new one, never half of one. The per-cell records are the source of
truth; the tables are derived from them and can always be rebuilt (``consolidate``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from bench import schema
from bench.atomic import (  # noqa: F401  (re-exported: results' writers are the atomic ones)
    _tmp_beside,  # noqa: F401
    file_mode,  # noqa: F401
    naming_target,  # noqa: F401
    write_bytes_atomic,
    write_json_atomic,  # noqa: F401
    write_text_atomic,  # noqa: F401
)
from bench.errors import UserError

# 2: cells timed in rounds (samples gain ``round``, rows the between-round columns, records a
# ``rounds`` list). Version 1 runs (one process per cell) are read as one round each.
# 3: peak_mem_mb (a CPU resident-set delta, or an absolute CUDA allocator peak) split into
#    act_peak_mb, rss_peak_mb and cuda_peak_alloc_mb / cuda_peak_reserved_mb / cuda_weights_mb;
#    older tables are upgraded on read (upgrade_table).
SCHEMA_VERSION = 3
READABLE_SCHEMA_VERSIONS = (1, 2, 3)
# Every axis of a sample's cell, so samples.parquet is analysable without a join.
SAMPLE_COLUMNS = [
    "run_id",
    "cell_key",
    "task",
    "model",
    "device",
    "precision",
    "runtime",
    "batch_size",
    "img_size",
    "threads",
    "round",
    "iteration",
    "latency_ms",
]

# Column order of results.parquet (bench/schema.py); metrics a cell did not compute are left
# empty (NaN), and a column the schema does not list is kept after them rather than lost.
KEY_COLUMNS = schema.KEY_COLUMNS
METRIC_COLUMNS = schema.METRIC_COLUMNS

# Schema 1/2 memory columns → schema 3, by the device of the row (see upgrade_table).
_V1_CPU = {"peak_mem_mb": "rss_peak_mb", "mem_baseline_mb": "rss_baseline_mb"}
_V1_CUDA = {"peak_mem_mb": "cuda_peak_alloc_mb", "peak_reserved_mb": "cuda_peak_reserved_mb", "weights_mem_mb": "cuda_weights_mb"}
_V1_DROPPED = ("peak_mem_mb", "peak_reserved_mb", "weights_mem_mb", "mem_baseline_mb", "weights_share")


def upgrade_table(df: pd.DataFrame) -> pd.DataFrame:
    """Read a schema-1/2 table as schema 3: its ``peak_mem_mb`` was the resident-set delta on CPU
    rows (now ``rss_peak_mb``) and the allocator peak on CUDA rows (now ``cuda_peak_alloc_mb``).
    It had no activation count, so ``act_peak_mb`` stays absent (compare says not comparable)."""
    if "peak_mem_mb" not in df.columns:
        return df
    df = df.copy()
    if any(c in df.columns and df[c].notna().any() for c in ("rss_peak_mb", "cuda_peak_alloc_mb")):
        return df.drop(columns=[c for c in _V1_DROPPED if c in df.columns])  # already schema 2
    device = df["device"] if "device" in df.columns else pd.Series("cpu", index=df.index)
    for old, new in _V1_CPU.items():
        if old in df.columns:
            df[new] = df[old].where(device != "cuda")
    for old, new in _V1_CUDA.items():
        if old in df.columns:
            df[new] = df[old].where(device == "cuda")
    return df.drop(columns=[c for c in _V1_DROPPED if c in df.columns])


def write_table_atomic(df: pd.DataFrame, path: Path) -> None:
    """A results table, serialised in memory and written by the one atomic writer."""
    path = Path(path)
    # Every writer stores the schema's types, so a list column never mixes JSON text and lists.
    if path.suffix == ".parquet":
        data = typed(df).to_parquet(None, index=False)
    else:
        data = _csv_ready(typed(df)).to_csv(None, index=False).encode("utf-8")
    write_bytes_atomic(path, data)


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
    if samples is not None and not _numbers(samples):
        return "'samples_ms' must be a list of numbers"
    rounds = rec.get("rounds")
    if rounds is not None:
        if not isinstance(rounds, list) or not all(
            isinstance(r, dict)
            and isinstance(r.get("round"), int)
            and not isinstance(r.get("round"), bool)
            and isinstance(r.get("row"), dict)
            and _numbers(r.get("samples_ms") or [])
            for r in rounds
        ):
            return "'rounds' must be a list of {round: int, row: object, samples_ms: [numbers]}"
    return None


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)


def read_cell_records(run_dir: Path, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """The run's valid cell records. A record is only ever replaced whole, so an unreadable or
    malformed one is treated as missing (``--resume`` measures it again); each is named in ``problems``."""
    out: list[dict[str, Any]] = []
    for p in sorted(cells_dir(run_dir).glob("*.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            why: str | None = f"unreadable ({type(err).__name__})"
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


def _as_list(v: Any) -> list | None:
    if isinstance(v, list):
        return v
    if hasattr(v, "tolist") and not isinstance(v, str):  # numpy array from parquet
        return list(v.tolist())
    if v is None or (isinstance(v, float) and v != v):
        return None
    text = str(v).strip()
    if text.startswith("["):
        try:
            got = json.loads(text)
            return got if isinstance(got, list) else [got]
        except ValueError:
            pass
    return [x for x in text.split(",") if x] if text else []


def _as_bool(v: Any) -> Any:
    if isinstance(v, str):
        return {"true": True, "false": False}.get(v.strip().lower(), pd.NA)
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return pd.NA
    return bool(v)


def typed(df: pd.DataFrame) -> pd.DataFrame:
    """The schema's types, whatever the frame was read from (records, Parquet or CSV).

    int → pandas ``Int64`` (empty where not measured, never a float ``1.0``), float → float64,
    bool → ``boolean``, datetime → UTC timestamps, list → Python lists. Columns the schema does
    not know are left as they are.
    """
    df = df.copy()
    for c in df.columns:
        col = schema.BY_NAME.get(c)
        if col is None:
            continue
        try:
            if col.dtype == "int":
                num = pd.to_numeric(df[c], errors="coerce")
                df[c] = num.round().astype("Int64") if num.notna().any() else num.astype("Int64")
            elif col.dtype == "float":
                df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
            elif col.dtype == "bool":
                df[c] = df[c].map(_as_bool).astype("boolean")
            elif col.dtype == "datetime":
                df[c] = pd.to_datetime(df[c], utc=True, errors="coerce", format="ISO8601")
            elif col.dtype == "list":
                df[c] = df[c].map(_as_list).astype(object)
        except (TypeError, ValueError):
            continue  # a column that cannot take its type keeps what it has, rather than losing the table
    return df


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """CSV holds text: list columns become JSON text (``typed`` turns them back into lists)."""
    out = df.copy()
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, (list, dict))).any():
            out[c] = out[c].map(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
    return out


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
            if row.get("params"):
                row["macs_per_param"] = row["gmacs"] * 1e9 / row["params"]
        rows.append(row)
        axes = {k: cell.get(k) for k in ("task", "model", "device", "precision", "runtime", "batch_size", "img_size", "threads")}
        per_round = rec.get("rounds")
        if per_round is None:  # schema 1 record: one process, one round
            per_round = [{"round": 0, "samples_ms": rec.get("samples_ms") or []}]
        for rnd in sorted(per_round, key=lambda x: x["round"]):
            for i, ms in enumerate(rnd.get("samples_ms") or []):
                samples.append(
                    {"run_id": run_id, "cell_key": cell["key"], **axes, "round": rnd["round"], "iteration": i, "latency_ms": ms}
                )
    df = pd.DataFrame(rows)
    extra = [c for c in df.columns if c not in KEY_COLUMNS + METRIC_COLUMNS]
    df = df.reindex(columns=KEY_COLUMNS + METRIC_COLUMNS + extra)
    sdf = pd.DataFrame(samples, columns=SAMPLE_COLUMNS)
    sdf = sdf.astype(
        {
            "batch_size": "Int64",
            "img_size": "Int64",
            "threads": "Int64",
            "round": "int64",
            "iteration": "int64",
            "latency_ms": "float64",
        }
    )
    return typed(upgrade_table(df)), sdf


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
                return len(
                    pd.read_parquet(p, columns=["cell_key"]) if p.suffix == ".parquet" else pd.read_csv(p, usecols=["cell_key"])
                )
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
        return load_results(run_dir, join_accuracy=False)
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
    if not isinstance(meta, dict) or meta.get("schema_version") not in READABLE_SCHEMA_VERSIONS:
        got = meta.get("schema_version") if isinstance(meta, dict) else None
        readable = ", ".join(map(str, READABLE_SCHEMA_VERSIONS))
        raise UserError(f"{p}: results schema version {got!r} is not supported (this archbench reads {readable})")
    if meta.get("status") == "running":
        from bench.runlock import DRIVER_GONE, is_locked

        if not is_locked(Path(run_dir)):  # no live driver: it was killed before it could say so
            meta = {**meta, "status": "interrupted", "status_note": DRIVER_GONE}
    return meta


def _run_dir_of(path: Path) -> Path:
    path = Path(path)
    return path if path.is_dir() else path.parent


def load_results(path: str | Path, join_accuracy: bool = True) -> pd.DataFrame:
    """Read runs back as one DataFrame, typed by bench/schema.py (the same from Parquet or CSV).

    ``path``: a run folder, its results.parquet or results.csv, or a folder of run folders
    (e.g. ``results/``), concatenated with their ``run_id``. With ``join_accuracy`` each speed row
    also carries its model's accuracy (``top1``, ``top5``, ``top1_std``, ``acc_source``,
    ``acc_dataset``; measured beats scratch beats reported), so analyses need no merge; the
    accuracy rows themselves stay in the table.
    """
    p = Path(path)
    if p.is_dir() and not (p / "run.json").is_file() and not (p / "results.parquet").is_file():
        runs = list_runs(p)
        if runs:
            frames = [load_results(r, join_accuracy=join_accuracy) for r in reversed(runs)]  # oldest first
            return pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else frames[0]
    df = typed(_read_table(p))
    return with_accuracy(df) if join_accuracy else df


def with_accuracy(df: pd.DataFrame) -> pd.DataFrame:
    """Speed rows get their model's accuracy columns (see :func:`load_results`)."""
    if "task" not in df.columns or "model" not in df.columns or not (df["task"] == "accuracy").any():
        return df
    from bench.accuracy.summary import one_accuracy_per_model

    acc = one_accuracy_per_model(df)
    if acc.empty:
        return df
    df = df.copy()
    acc = acc.set_index(["run_id", "model"] if "run_id" in acc.columns and acc["run_id"].notna().all() else ["model"])
    keys = list(acc.index.names)
    speed = df["task"] == "speed"
    idx = pd.MultiIndex.from_frame(df.loc[speed, keys]) if len(keys) > 1 else pd.Index(df.loc[speed, keys[0]])
    for c in ("top1", "top5", "top1_std", "acc_source", "acc_dataset"):
        if c not in acc.columns:
            continue
        if c not in df.columns:
            df[c] = pd.Series(pd.NA, index=df.index, dtype=acc[c].dtype)
        joined = acc[c].reindex(idx).to_numpy()
        cur = df.loc[speed, c]
        df.loc[speed, c] = cur.where(cur.notna(), pd.Series(joined, index=cur.index))
    return df


def _read_table(path: str | Path) -> pd.DataFrame:
    """One run's table as stored: a run folder, its results.parquet or its results.csv."""
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
        if cells_dir(run_dir).is_dir() and (run_dir / "run.json").is_file():
            return frames_from_records(run_dir)[1]
        return pd.DataFrame(columns=SAMPLE_COLUMNS)
    try:
        sdf = pd.read_parquet(p)
    except Exception as err:
        raise UserError(f"{p}: unreadable samples file ({type(err).__name__}: {err})") from None
    if "round" not in sdf.columns:  # schema 1: every cell's samples came from one process
        sdf.insert(min(3, len(sdf.columns)), "round", 0)
    return sdf


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
