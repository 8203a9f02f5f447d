"""Run the claim experiments and write ``results/claims/<run_id>/`` and ``reports/claims.html``.

Layout of a run folder::

    claims.json          run id, scale, seeds, environment, one record per claim
    c01_fc_vs_conv_params.png ...   one figure per claim

``claims.json`` is rewritten (atomically) after every claim, with ``status: running``
until the last one, so an interrupted run keeps what it measured. A claim whose
experiment raises is recorded with ``error`` and no verdict; the others still run.

Reproducibility: every experiment gets the seeds :data:`bench.claims.base.SEEDS` (trained
experiments run each one; computed rows use the first where they need random weights) and runs with
:data:`THREADS` intra-op thread(s) — one thread, because on a shared 2-core machine the
small models here train several times faster single-threaded, and because the thread
count changes floating-point summation order and so the last digits of every trained
number. The environment (versions, CPU, load before the run) is stored with the results.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from bench.atomic import write_bytes_atomic, write_json_atomic
from bench.claims.base import EXPERIMENTS, SEEDS, Claim, check_scale, load, load_run  # noqa: F401  (load_run: public here)
from bench.errors import UserError

THREADS = 1
SCHEMA_VERSION = 2  # 2: kinds (computed / experiment), seeds, per-seed points, reachable verdicts


@dataclass
class ClaimRecord:
    """One claim's entry in claims.json."""

    id: int
    slug: str
    title: str
    quote_ko: list[str]
    quote_en: list[str]
    method: str
    rule: str  # experiment: verdict rules; computed: the formula
    kind: str
    reachable_verdicts: list[str]
    why_reachable: dict[str, str]
    verdict: str | None  # one of VERDICTS, or None when the experiment failed to run
    caveat: str = ""
    headline: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    per_seed: list[dict[str, Any]] = field(default_factory=list)
    figure: str | None = None  # file name inside the run folder
    elapsed_s: float = 0.0
    cpu_s: float = 0.0  # CPU time of this process: what the run costs, whatever else the machine is doing
    error: str | None = None


def select_claims(only: list[int] | None) -> list[int]:
    """Claim ids to run, in order; ``None`` or empty means all."""
    if not only:
        return sorted(EXPERIMENTS)
    bad = [i for i in only if i not in EXPERIMENTS]
    if bad:
        raise UserError(
            f"--only: unknown claim id(s) {', '.join(map(str, bad))}; claims are numbered {min(EXPERIMENTS)}-{max(EXPERIMENTS)}"
        )
    return sorted(set(only))


def parse_only(text: str | None) -> list[int] | None:
    """Parse the CLI's ``--only 1,5,7`` (ranges like ``3-6`` allowed)."""
    if text is None or not text.strip():
        return None
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                ids.extend(range(lo, hi + 1))
            else:
                ids.append(int(part))
        except ValueError:
            raise UserError(f"--only: {part!r} is not a claim number; use e.g. --only 1,5,7 or --only 3-6") from None
    return select_claims(ids)


@contextlib.contextmanager
def fixed_threads(n: int = THREADS) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def write_json(path: Path, payload: dict) -> None:
    write_json_atomic(path, payload)


def _save_figure(fig: Any, path: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    write_bytes_atomic(path, buf.getvalue())


def _new_run_dir(results_root: Path, scale: str) -> tuple[str, Path]:
    from bench.runner import new_run_id

    root = Path(results_root) / "claims"
    root.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        run_id = new_run_id(f"claims-{scale}")
        try:
            (root / run_id).mkdir()
            return run_id, root / run_id
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a fresh run folder under {root}")


def environment() -> dict[str, Any]:
    from bench.env import capture_environment, load_as_dict, measure_load

    env = capture_environment()
    env["torch_num_threads_used"] = THREADS
    try:
        import sklearn

        env["scikit_learn"] = sklearn.__version__
    except ImportError:
        pass
    env["load_before_run"] = load_as_dict(measure_load())
    return env


def _record(claim: Claim) -> ClaimRecord:
    return ClaimRecord(
        claim.id,
        claim.slug,
        claim.title,
        list(claim.quote_ko),
        list(claim.quote_en),
        claim.method,
        claim.rule,
        claim.kind,
        list(claim.reachable),
        dict(claim.why_reachable),
        None,
    )


def _run_one(claim_id: int, scale: str, seeds: tuple[int, ...], run_dir: str) -> dict[str, Any]:
    """Run one row and save its figure; returns its record as a dict (picklable, for worker processes)."""
    claim, module = load(claim_id)
    rec = _record(claim)
    t0, c0 = time.perf_counter(), time.process_time()
    with fixed_threads():
        try:
            res = module.run(scale, tuple(seeds))
            allowed = claim.reachable or ("computed",)
            if res.verdict not in allowed:
                raise RuntimeError(f"{claim.slug} returned {res.verdict!r}, which it does not declare reachable ({allowed})")
            rec.verdict, rec.caveat, rec.headline = res.verdict, res.caveat, res.headline
            rec.numbers, rec.notes, rec.per_seed = res.numbers, list(res.notes), list(res.per_seed)
            if res.figure is not None:
                rec.figure = f"{claim.slug}.png"
                _save_figure(res.figure, Path(run_dir) / rec.figure)
        except Exception as err:  # one broken experiment must not lose the others
            rec.error = "".join(traceback.format_exception(type(err), err, err.__traceback__)[-6:])
    rec.elapsed_s = round(time.perf_counter() - t0, 2)
    rec.cpu_s = round(time.process_time() - c0, 2)
    return asdict(rec)


def run_claims(
    only: list[int] | None,
    results_root: Path,
    reports_dir: Path,
    scale: str = "full",
    progress: bool = True,
    seeds: tuple[int, ...] = SEEDS,
    jobs: int = 1,
) -> Path:
    """Run the selected rows; write the run folder and ``reports_dir/claims.html``.

    Returns the run folder ``results_root/claims/<run_id>``. ``scale`` is ``"full"`` (the
    real run) or ``"tiny"`` (seconds per claim, for tests). ``progress`` prints one line per
    claim to stderr. ``jobs`` > 1 runs rows in that many worker processes (one thread each,
    so the numbers are the same as with ``jobs=1``); claims.json keeps the lecture's order.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed
    import multiprocessing

    from bench.claims.report import write_report

    check_scale(scale)
    if jobs < 1:
        raise UserError(f"--jobs must be ≥ 1, got {jobs}")
    ids = select_claims(only)
    for i in ids:
        load(i)  # parse every docstring and declaration before spending time on runs
    run_id, run_dir = _new_run_dir(Path(results_root), scale)
    started = datetime.now(timezone.utc)
    t_run = time.perf_counter()
    usage0 = _cpu_s()
    payload: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "run_id": run_id,
        "scale": scale,
        "seeds": list(seeds),
        "jobs": jobs,
        "status": "running",
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": None,
        "total_s": None,
        "environment": environment(),
        "claims": [],
    }
    done: dict[int, dict[str, Any]] = {}

    def finish(cid: int, rec: dict[str, Any]) -> None:
        done[cid] = rec
        if progress:
            what = rec["verdict"] if rec["error"] is None else f"ERROR: {rec['error'].strip().splitlines()[-1]}"
            print(
                f"[claims {len(done)}/{len(ids)}] {cid}. {rec['title']}\n    → {what} "
                f"({rec['elapsed_s']:.1f} s wall, {rec['cpu_s']:.1f} s CPU)",
                file=sys.stderr,
                flush=True,
            )
        payload["claims"] = [done[i] for i in ids if i in done]
        write_json(run_dir / "claims.json", payload)

    if jobs == 1:
        for cid in ids:
            finish(cid, _run_one(cid, scale, tuple(seeds), str(run_dir)))
    else:
        ctx = multiprocessing.get_context("spawn")  # no forked torch state
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = {pool.submit(_run_one, cid, scale, tuple(seeds), str(run_dir)): cid for cid in ids}
            for fut in as_completed(futures):
                cid = futures[fut]
                try:
                    finish(cid, fut.result())
                except Exception as err:  # the worker itself died
                    claim, _ = load(cid)
                    rec = asdict(_record(claim))
                    rec["error"] = f"worker process failed: {err!r}"
                    finish(cid, rec)
    payload["status"] = "complete"
    payload["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    payload["total_s"] = round(time.perf_counter() - t_run, 1)
    payload["total_cpu_s"] = round(_cpu_s() - usage0, 1)
    payload["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]  # 1, 5, 15 min: how shared the run was
    write_json(run_dir / "claims.json", payload)
    write_report(run_dir, Path(reports_dir) / "claims.html")
    return run_dir


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (worker processes)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
