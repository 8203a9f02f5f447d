"""`archbench ab`: one suite under two environments in one job, decided on paired rounds.

Two runs made one after the other differ by whatever the machine did in between; here the
two sides are interleaved round by round in A-B-B-A order (round 1: A then B, round 2: B then
A, …), each cell's two members back to back, so drift and phases of load fall on both
members of a pair. The comparison is `archbench compare`'s, paired: round i of BASE against
round i of NEW, a t-test on the pairs' log ratios (bench.compare.stats.paired_log_test), the
default latency threshold 5% (the pairing's precision allows it; override with --threshold).

Sides are a Python (an executable or a virtualenv folder; archbench must import there) plus
environment variables. Uses: a library upgrade (two virtualenvs), an environment flag
(``--new-env OMP_NUM_THREADS=1``, ``ONEDNN_MAX_CPU_ISA=AVX2``, an allocator via ``LD_PRELOAD``),
a change to a model's code (``--base-env PYTHONPATH=/src/old --new-env PYTHONPATH=/src/new``).
Each side is written as an ordinary run folder (``results/ab-…/base``, ``…/new``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.errors import UserError

AB_THRESHOLD = 0.05
# A paired t-test at alpha 0.01 needs enough pairs (t crit 3.2 at 10 pairs), and pairs whose
# members saw different load are left out: on a machine where a neighbour switches on and off
# every few seconds that is a quarter to a third of them. Measured under such a hog
# (benchmarks/rounds_acceptance.py ab, docs/compare.md): at 10 rounds a 10% slowdown was
# flagged 37/40, the misses inconclusive, and 3% never; 16 found the 10% 19/20 but called 3%
# regressed in 2/40. A miss that says "inconclusive" (with the rounds that would settle it)
# is worth more than a wrong verdict.
AB_MIN_ROUNDS = 10


@dataclasses.dataclass
class Side:
    label: str  # "base" / "new"
    python: str
    env: dict[str, str]
    environment: dict[str, Any] = dataclasses.field(default_factory=dict)


def resolve_python(value: str, flag: str) -> str:
    """A Python executable, or a virtualenv folder (its bin/python)."""
    p = Path(value).expanduser()
    if p.is_dir():
        cand = p / "bin" / "python"
        if not cand.exists():
            raise UserError(f"{flag} {value}: a folder but not a virtualenv (no bin/python in it)")
        p = cand
    elif not p.exists():
        import shutil

        found = shutil.which(value)
        if not found:
            raise UserError(f"{flag} {value}: no such Python executable or virtualenv folder")
        p = Path(found)
    if not os.access(p, os.X_OK) or p.is_dir():
        raise UserError(f"{flag} {value}: not an executable file")
    return str(p.absolute())


def parse_env(items: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        if not sep or not key or any(c.isspace() for c in key):
            raise UserError(f"{flag} {item!r}: expected NAME=VALUE, e.g. {flag} OMP_NUM_THREADS=1")
        out[key] = val
    return out


_PROBE = "import json, bench.env as e; print('ARCHBENCH-ENV ' + json.dumps(e.capture_environment(), default=str))"


def probe(side: Side, timeout_s: float = 600) -> dict[str, Any]:
    """The side's environment as archbench records it; a side where archbench cannot run is a UserError."""
    env = {**os.environ, **side.env, "HF_HUB_OFFLINE": "1"}
    try:
        proc = subprocess.run([side.python, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise UserError(f"--{side.label} {side.python}: could not run it ({err})") from None
    for line in proc.stdout.splitlines():
        if line.startswith("ARCHBENCH-ENV "):
            return json.loads(line[len("ARCHBENCH-ENV ") :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    raise UserError(
        f"--{side.label} {side.python}: archbench does not run in this environment "
        f"(exit {proc.returncode}: {tail[0][:300]}); install it there (pip install -e .) or point PYTHONPATH at a checkout"
    )


def run_ab(
    suite: Any, sides: tuple[Side, Side], rounds: int, results_root: Path, suite_path: str | None = None, progress: bool = True
) -> tuple[Path, Path]:
    """Measure the suite on both sides, interleaved A-B-B-A by round; return the two run folders."""
    from bench import results
    from bench.executor import LocalProcessExecutor
    from bench.rounds import MEASURED, combine_rounds, round_order
    from bench.runner import _conventions, _now, _planned_rounds, _Progress, all_cells, new_run_id
    from bench.suite import suite_hash

    cells = [c for c in all_cells(suite) if c.task == "speed"]
    if not cells:
        raise UserError(f"suite {suite.name!r}: no speed cells to time (ab compares latency and throughput)")
    ab_id = "ab-" + new_run_id(suite.name)
    seed = suite.timing.rounds_seed if suite.timing.rounds_seed is not None else secrets.randbelow(2**31)
    done: dict[str, Any]
    dirs, metas, execs, done = {}, {}, {}, {}
    for side in sides:
        d = Path(results_root) / ab_id / side.label
        d.mkdir(parents=True, exist_ok=True)
        meta = {
            "schema_version": results.SCHEMA_VERSION,
            "run_id": f"{ab_id}-{side.label}",
            "status": "running",
            "started_at": _now(),
            "suite": {
                "name": suite.name,
                "description": suite.description,
                "path": suite_path,
                "hash": suite_hash(suite),
                "content": suite.model_dump(mode="json"),
            },
            "environment": side.environment,
            "load": {},
            "conventions": _conventions(),
            "cells_total": len(cells),
            "rounds": {"count": rounds, "seed": seed},
            "ab": {"id": ab_id, "side": side.label, "python": side.python, "env": side.env, "order": "A-B-B-A by round"},
            "hardware": [],
        }
        results.write_json_atomic(d / "run.json", meta)
        dirs[side.label], metas[side.label] = d, meta
        execs[side.label] = LocalProcessExecutor(python=side.python, extra_env=side.env)
        done[side.label] = {}
    bar = _Progress(2 * sum(_planned_rounds(c, rounds) for c in cells), 0, enabled=progress)
    interrupted = False
    try:
        for r in range(rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            for cell in round_order(cells, r, seed):
                for side in order:
                    recs = done[side.label]
                    rec = recs.get(cell.key)
                    if r >= _planned_rounds(cell, rounds) or (
                        r > 0 and (rec is None or rec["row"].get("status") not in MEASURED)
                    ):
                        bar.skip()
                        continue
                    bar.start(cell, r, rounds)
                    started = _now()
                    log = dirs[side.label] / "logs" / f"{cell.slug}.r{r + 1}.log"
                    outcome = execs[side.label].run(dataclasses.replace(cell, options={**cell.options, "round": r}), log)
                    row = outcome.row
                    row.setdefault("started_at", started)
                    row["finished_at"] = _now()
                    per_round = [x for x in (rec or {}).get("rounds", []) if x["round"] != r]
                    per_round.append({"round": r, "row": row, "samples_ms": outcome.samples_ms})
                    combined = combine_rounds(
                        per_round, cell.batch_size, _planned_rounds(cell, rounds), cell.timing.get("percentiles") or (50.0, 90.0)
                    )
                    rec = {"cell": cell.to_dict(), "row": combined, "rounds": sorted(per_round, key=lambda x: x["round"])}
                    recs[cell.key] = rec
                    results.write_cell_record(dirs[side.label], cell.slug, rec)
                    bar.advance(cell, row.get("status", "?"))
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        bar.stop()
        for side in sides:
            execs[side.label].close()
            df = results.consolidate(dirs[side.label])
            counts = df["status"].value_counts().to_dict() if len(df) else {}
            metas[side.label].update(
                status="interrupted" if interrupted else "complete",
                finished_at=_now(),
                status_counts={str(k): int(v) for k, v in counts.items()},
                cells_done=int(len(df)),
            )
            results.write_json_atomic(dirs[side.label] / "run.json", metas[side.label])
    return dirs[sides[0].label], dirs[sides[1].label]


def add_ab_parser(sub: Any, func: Any) -> argparse.ArgumentParser:
    s = sub.add_parser(
        "ab",
        help="run one suite under two environments, interleaved, and compare them (exit 0 ok, 1 regression, 2 bad input)",
        description="Run SUITE with two Pythons/environments interleaved A-B-B-A round by round, then judge NEW "
        "against BASE on the paired per-round ratios (paired t-test + threshold, default 5%).",
    )
    s.add_argument("suite", help="suite YAML file (its speed cells are timed)")
    s.add_argument("--base", required=True, metavar="PY", help="BASE side: a Python executable or a virtualenv folder")
    s.add_argument("--new", metavar="PY", help="NEW side: a Python executable or virtualenv folder (default: this Python)")
    s.add_argument("--base-env", action="append", default=[], metavar="K=V", help="environment variable for BASE (repeatable)")
    s.add_argument("--new-env", action="append", default=[], metavar="K=V", help="environment variable for NEW (repeatable)")
    s.add_argument("--rounds", type=int, help=f"rounds per side (default: the suite's, at least {AB_MIN_ROUNDS})")
    s.add_argument(
        "--threshold",
        action="append",
        metavar="METRIC=VALUE",
        default=[],
        help=f"relative threshold, e.g. latency=3%% (default {AB_THRESHOLD * 100:.0f}%% for latency and throughput)",
    )
    s.add_argument("--alpha", type=float, help="significance level of the paired test (default 0.01)")
    s.add_argument(
        "--format",
        choices=["table", "md", "json"],
        default="table",
        help="table: terminal text; md: Markdown; json: machine-readable",
    )
    s.add_argument("-o", "--output", help="write the --format output to this file instead of stdout")
    s.add_argument("--html", metavar="FILE", help="also write the side-by-side HTML report")
    s.add_argument("--all", action="store_true", dest="show_all", help="list unchanged metrics too (terminal table)")
    s.add_argument("--results-dir", default="results", help="where the two run folders are written (results/ab-…/)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=func)
    return s


def ab_command(args: argparse.Namespace) -> int:
    from bench.compare.command import _thresholds, emit_comparison
    from bench.compare.config import build_config
    from bench.compare.core import compare_runs, load_run
    from bench.suite import load_suite

    suite = load_suite(args.suite)
    if args.rounds is not None and not 2 <= args.rounds <= 50:
        raise UserError(f"--rounds {args.rounds}: must be between 2 and 50 (pairs of rounds are what ab decides on)")
    if args.alpha is not None and not 0 < args.alpha < 1:
        raise UserError(f"--alpha {args.alpha}: must be between 0 and 1 (e.g. 0.01)")
    base = Side("base", resolve_python(args.base, "--base"), parse_env(args.base_env, "--base-env"))
    new = Side("new", resolve_python(args.new, "--new") if args.new else sys.executable, parse_env(args.new_env, "--new-env"))
    if base.python == new.python and base.env == new.env:
        print("note: both sides are the same Python and environment (an A/A run: expect no change)", file=sys.stderr)
    thresholds = _thresholds(args.threshold) or {}
    if "thresholds" not in suite.compare.model_fields_set:  # the suite's own thresholds win over ab's
        thresholds = {"latency": AB_THRESHOLD, "throughput": AB_THRESHOLD, **thresholds}
    for side in (base, new):
        side.environment = probe(side)
    rounds = args.rounds or max(suite.timing.rounds, AB_MIN_ROUNDS)
    t0 = time.time()
    bdir, ndir = run_ab(suite, (base, new), rounds, Path(args.results_dir), str(args.suite), progress=not args.quiet)
    print(f"ab: {rounds} rounds per side in {time.time() - t0:.0f} s; runs {bdir} and {ndir}", file=sys.stderr)
    cfg = build_config(
        suite.compare,
        {"thresholds": thresholds or None, "alpha": args.alpha, "allow_env_change": True},
        source=f"{args.suite}: compare section",
    )
    cmp = compare_runs(load_run(bdir, "BASE"), load_run(ndir, "NEW"), cfg, paired=True)
    return emit_comparison(cmp, args)
