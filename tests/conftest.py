"""Shared fixtures: the real CLI in a subprocess, and one real run of suites/ci.yaml."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 900) -> CliResult:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


class ScriptedClock:
    """Returns scripted durations (ms) instead of reading a clock; still calls the step.

    Lets tests drive the timing rules (warm-up, stopping) with known durations."""

    name = "scripted"

    def __init__(self, durations):
        self.durations = list(durations)
        self.calls = 0

    def time_once(self, step):
        step()
        d = self.durations[min(self.calls, len(self.durations) - 1)]
        self.calls += 1
        return d


def write_suite(folder: Path, text: str, name: str = "suite.yaml") -> Path:
    p = folder / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory) -> dict:
    """One real run of suites/ci.yaml through the CLI, shared by the tests that read it."""
    base = tmp_path_factory.mktemp("ci-run")
    res = run_cli("run", str(ROOT / "suites" / "ci.yaml"), "--results-dir", str(base / "results"),
                  "--reports-dir", str(base / "reports"), "-q")
    assert res.returncode == 0, res.stderr + res.stdout
    run_dirs = [d for d in (base / "results").iterdir() if d.is_dir()]
    assert len(run_dirs) == 1
    return {"base": base, "run_dir": run_dirs[0], "reports": base / "reports", "cli": res}


def as_list(v) -> list:
    """A list column as read back: a list (typed tables), a numpy array (Parquet) or JSON text (CSV)."""
    import json

    if isinstance(v, str):
        return json.loads(v)
    return list(v.tolist() if hasattr(v, "tolist") else v)
