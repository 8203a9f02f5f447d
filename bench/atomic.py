"""Atomic file writes, importable without pandas or torch (the run guardian uses them).

Every file is written to a unique temporary name beside its target and renamed over it, so a
crash, Ctrl-C or full disk leaves either the old file or the new one, never half of one, and
two writers of the same file never share a temporary name.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    # Read without changing it where Linux allows (os.umask() is set-and-return, racy in threads).
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give: 0666 & ~umask (0644 under the usual umask)."""
    return 0o666 & ~_umask()


def _tmp_beside(path: Path) -> tuple[int, str]:
    # mkstemp gives a unique name but mode 0600; the file is opened up to the usual mode before
    # it is renamed into place, so a web server or a colleague can read it.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


def naming_target(err: OSError, path: Path) -> OSError:
    """The same error, naming the file the user asked for rather than its temporary twin."""
    if isinstance(err, FileExistsError):  # from mkdir: a file sits where a folder of the path should be
        import errno

        return NotADirectoryError(errno.ENOTDIR, "Not a directory (a file is in the way of its folder)", str(path))
    return type(err)(err.errno, err.strerror or str(err), str(path))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _tmp_beside(path)
    except OSError as err:
        raise naming_target(err, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise naming_target(err, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
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


def json_bytes(obj: Any) -> bytes:
    return json.dumps(_clean_json(obj), indent=2, default=_json_default, ensure_ascii=False).encode("utf-8")


def write_json_atomic(path: Path, obj: Any) -> None:
    write_bytes_atomic(Path(path), json_bytes(obj))


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(Path(path), text.encode("utf-8"))


def rewrite_in_place(path: Path, data: bytes) -> None:
    """Last resort when the disk is full: overwrite an existing small file's own blocks (the new
    text is about as long as the old), so run.json can still say how the run ended."""
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate()
        f.flush()
        os.fsync(f.fileno())
