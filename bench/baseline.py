"""Named baselines: a run's tables copied under ``results/baselines/NAME/``.

A baseline keeps only what `archbench compare` reads — run.json, results.parquet,
results.csv and samples.parquet — plus ``baseline.json`` (where and when it was saved).
Worker logs and per-cell records are left behind, so a committed baseline stays small.

Saving is atomic: the files are copied into a hidden temporary folder beside the target,
which is then renamed into place; an existing baseline is replaced only with ``force``, and
the old one is removed only after the new one is in place.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench import results
from bench.errors import UserError

DEFAULT_ROOT = Path("results") / "baselines"
BASELINE_FILES = ("run.json", "results.parquet", "results.csv", "samples.parquet")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class SavedBaseline:
    name: str
    path: Path
    run_id: str
    cells: int
    files: list[str]
    replaced: bool


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise UserError(
            f"baseline name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. 'ci', 'main-2025-06', 'torch2.5')"
        )
    return name


def save_baseline(run_dir: str | Path, name: str, root: str | Path = DEFAULT_ROOT, force: bool = False) -> SavedBaseline:
    """Copy a finished run to ``root/name``. Raises UserError for a bad run, name or clash."""
    run_dir = Path(run_dir)
    check_name(name)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a run folder")
    meta = results.read_run_meta(run_dir)  # also rejects corrupt and other-schema runs
    table = results.load_results(run_dir, join_accuracy=False)  # the tables as stored (or rebuilt from records)
    results.load_samples(run_dir)  # an unreadable samples file is a reason not to bless the run
    if meta.get("status") not in (None, "complete"):
        raise UserError(
            f"{run_dir}: run is {meta.get('status')!r}, not complete; finish it with "
            f"`archbench run SUITE --resume {run_dir}` before saving it as a baseline"
        )
    if len(table) == 0:
        raise UserError(f"{run_dir}: run has no cells; nothing to save")
    root = Path(root)
    target = root / name
    if target.exists() and not force:
        raise UserError(f"{target}: baseline {name!r} exists; pass --force to replace it")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=root))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a baseline is shared like any results folder
        copied = []
        for fname in BASELINE_FILES:
            src = run_dir / fname
            if src.is_file():
                shutil.copy2(src, tmp / fname)
                (tmp / fname).chmod(0o644)  # run files are written private (mkstemp); baselines are shared
                copied.append(fname)
        results.write_json_atomic(
            tmp / "baseline.json",
            {
                "name": name,
                "run_id": meta.get("run_id"),
                "source": str(run_dir),
                "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "files": copied,
            },
        )
        (tmp / "baseline.json").chmod(0o644)
        replaced = target.exists()
        old = None
        if replaced:
            # Move the old baseline aside first, so the name never points at half of one.
            old = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=root))
            os.replace(target, old / name)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SavedBaseline(name, target, str(meta.get("run_id")), int(len(table)), copied + ["baseline.json"], replaced)


def list_baselines(root: str | Path = DEFAULT_ROOT) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and (d / "run.json").is_file())
