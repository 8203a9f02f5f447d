"""The one sanitiser for file names derived from data (run ids, model aliases, suite names).

A name taken from a suite, a run.json or a results table may hold ``/``, ``..``, a NUL or
markup; whatever it holds, the file it names must stay inside its folder.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_filename(text: object, max_len: int = 80, fallback: str = "x") -> str:
    """``text`` reduced to letters, digits, ``.``, ``_`` and ``-``: never empty, never a path,
    never hidden (no leading dot, so neither ``.`` nor ``..``), at most ``max_len`` characters."""
    safe = _UNSAFE.sub("_", str(text))[:max_len].lstrip(".")
    return safe or fallback
