"""One driver per run folder, and a run.json that always says how the run ended.

:class:`RunLock` holds ``flock`` on ``RUN_DIR/.lock`` for a run's lifetime, so a second
``archbench run --resume`` of the same folder is refused instead of measuring the same cells
twice at once. The kernel drops the lock when the driver dies, however it dies, which is also
how readers tell a live "running" run from one whose driver was killed.

The guardian is a tiny process started beside the driver (``python -m bench.runlock RUN_DIR``)
that waits on a pipe only the driver holds: when the driver ends (even by ``kill -9``) the pipe
closes, the guardian takes the lock and, if run.json still says "running", marks it
"interrupted". It imports neither pandas nor torch.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from bench.errors import UserError

LOCK_NAME = ".lock"


class RunLock:
    def __init__(self, fd: int, path: Path):
        self.fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, run_dir: Path) -> "RunLock":
        path = Path(run_dir) / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise UserError(f"{run_dir}: run folder cannot be written ({err.strerror or err})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise UserError(
                f"{run_dir}: another archbench process (pid {holder}) is running this run; "
                "wait for it to finish (two drivers would measure the same cells at once)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


def is_locked(run_dir: Path) -> bool:
    """Whether a live driver holds the run folder (read-only test: creates nothing)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


DRIVER_GONE = "the driver ended without finishing the run (killed?); finished cells are kept, --resume completes it"


class Guardian:
    """The driver's side of the guardian: start it, and close the pipe when the run is final."""

    def __init__(self, run_dir: Path):
        self._w: int | None
        r, self._w = os.pipe()  # both ends non-inheritable: workers never hold the driver's end
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.runlock", str(run_dir), str(r)],
                pass_fds=(r,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )  # holds no pipe of the driver's caller open
        finally:
            os.close(r)

    def close(self) -> None:
        if self._w is not None:
            os.close(self._w)
            self._w = None
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def _finalise_orphan(run_dir: Path) -> None:
    from bench.atomic import rewrite_in_place, write_bytes_atomic, json_bytes

    lock = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(lock, fcntl.LOCK_EX)  # waits while a driver (this one finishing, or a resume) holds it
    try:
        p = run_dir / "run.json"
        meta = json.loads(p.read_text())
        if not isinstance(meta, dict) or meta.get("status") != "running":
            return
        meta.update(
            status="interrupted", finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), status_note=DRIVER_GONE
        )
        data = json_bytes(meta)
        try:
            write_bytes_atomic(p, data)
        except OSError:
            rewrite_in_place(p, data)
    finally:
        os.close(lock)


def main(argv: list[str]) -> int:
    run_dir, fd = Path(argv[0]), int(argv[1])
    while os.read(fd, 4096):  # the driver never writes; EOF = the driver is gone
        pass
    try:
        _finalise_orphan(run_dir)
    except (OSError, ValueError):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
