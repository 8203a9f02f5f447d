"""Run the claim experiments and write ``results/claims/<run_id>/`` and ``reports/claims.html``.

Layout of a run folder::

    claims.json          run id, scale, seed, environment, one record per claim
    c01_fc_vs_conv_params.png ...   one figure per claim

``claims.json`` is rewritten (atomically) after every claim, with ``status: running``
until the last one, so an interrupted run keeps what it measured. A claim whose
experiment raises is recorded with ``error`` and no verdict; the others still run.

Reproducibility: every experiment gets seed :data:`SEED` and runs with
:data:`THREADS` intra-op thread(s) — one thread, because on a shared 2-core machine the
small models here train several times faster single-threaded, and because the thread
count changes floating-point summation order and so the last digits of every trained
number. The environment (versions, CPU, load before the run) is stored with the results.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from bench.claims.base import EXPERIMENTS, Claim, check_scale, load, load_run  # noqa: F401  (load_run: public here)
from bench.errors import UserError

SEED = 0
THREADS = 1
SCHEMA_VERSION = 1


@dataclass
class ClaimRecord:
    """One claim's entry in claims.json."""

    id: int
    slug: str
    title: str
    quote_ko: list[str]
    quote_en: list[str]
    method: str
    rule: str
    verdict: str | None  # one of VERDICTS, or None when the experiment failed to run
    caveat: str = ""
    headline: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    figure: str | None = None  # file name inside the run folder
    elapsed_s: float = 0.0
    error: str | None = None


def select_claims(only: list[int] | None) -> list[int]:
    """Claim ids to run, in order; ``None`` or empty means all."""
    if not only:
        return sorted(EXPERIMENTS)
    bad = [i for i in only if i not in EXPERIMENTS]
    if bad:
        raise UserError(f"--only: unknown claim id(s) {', '.join(map(str, bad))}; "
                        f"claims are numbered {min(EXPERIMENTS)}-{max(EXPERIMENTS)}")
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


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):  # numpy / torch scalars
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def write_json(path: Path, payload: dict) -> None:
    text = json.dumps(payload, indent=1, ensure_ascii=False, default=_json_default, allow_nan=True)
    _atomic_write_bytes(path, text.encode("utf-8"))


def _save_figure(fig: Any, path: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _atomic_write_bytes(path, buf.getvalue())


def _new_run_dir(results_root: Path, scale: str) -> tuple[str, Path]:
    base = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S") + f"-{scale}"
    root = Path(results_root) / "claims"
    root.mkdir(parents=True, exist_ok=True)
    for i in range(100):
        run_id = base if i == 0 else f"{base}-{i}"
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
    return ClaimRecord(claim.id, claim.slug, claim.title, list(claim.quote_ko), list(claim.quote_en), claim.method,
                       claim.rule, None)


def run_claims(
    only: list[int] | None,
    results_root: Path,
    reports_dir: Path,
    scale: str = "full",
    progress: bool = True,
) -> Path:
    """Run the selected claim experiments; write the run folder and ``reports_dir/claims.html``.

    Returns the run folder ``results_root/claims/<run_id>``. ``scale`` is ``"full"`` (the
    real run) or ``"tiny"`` (seconds per claim, for tests). ``progress`` prints one line per
    claim to stderr.
    """
    from bench.claims.report import write_report

    check_scale(scale)
    ids = select_claims(only)
    loaded = [load(i) for i in ids]  # parse every docstring before spending time on runs
    run_id, run_dir = _new_run_dir(Path(results_root), scale)
    started = datetime.now(timezone.utc)
    t_run = time.perf_counter()
    payload: dict[str, Any] = {
        "schema": SCHEMA_VERSION, "run_id": run_id, "scale": scale, "seed": SEED, "status": "running",
        "started_utc": started.isoformat(timespec="seconds"), "finished_utc": None, "total_s": None,
        "environment": environment(), "claims": [],
    }
    records: list[ClaimRecord] = []
    with fixed_threads():
        for n, (claim, module) in enumerate(loaded, 1):
            rec = _record(claim)
            if progress:
                print(f"[claims {n}/{len(loaded)}] {claim.id}. {claim.title}", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                res = module.run(scale, SEED)
                rec.verdict, rec.caveat, rec.headline = res.verdict, res.caveat, res.headline
                rec.numbers, rec.notes = res.numbers, list(res.notes)
                if res.figure is not None:
                    rec.figure = f"{claim.slug}.png"
                    _save_figure(res.figure, run_dir / rec.figure)
            except Exception as err:  # one broken experiment must not lose the others
                rec.error = "".join(traceback.format_exception(type(err), err, err.__traceback__)[-6:])
            rec.elapsed_s = round(time.perf_counter() - t0, 2)
            if progress:
                what = rec.verdict if rec.error is None else f"ERROR: {rec.error.strip().splitlines()[-1]}"
                print(f"    → {what} ({rec.elapsed_s:.1f} s)", file=sys.stderr, flush=True)
            records.append(rec)
            payload["claims"] = [asdict(r) for r in records]
            write_json(run_dir / "claims.json", payload)
    payload["status"] = "complete"
    payload["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    payload["total_s"] = round(time.perf_counter() - t_run, 1)
    write_json(run_dir / "claims.json", payload)
    write_report(run_dir, Path(reports_dir) / "claims.html")
    return run_dir
