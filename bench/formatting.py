"""The one number formatter of every page and table (report, Markdown, compare, claims).

Rule: missing (None, NaN, "") → ``missing``; booleans → yes/no; whole numbers → digits with
thousands separators; other floats keep ``sig`` significant digits (at most ``sig`` decimals
below 1, so 0.012345 → 0.012), with separators from 10**(sig-1) up, and in exponent form below
10**-sig. Text is returned as is.
"""

from __future__ import annotations

import math
from typing import Any


def is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v == "")


def fmt_number(v: Any, sig: int = 3, missing: str = "") -> str:
    if is_missing(v):
        return missing
    if isinstance(v, bool):
        return "yes" if v else "no"
    if hasattr(v, "item") and not isinstance(v, (list, tuple, dict, str)):
        v = v.item()  # numpy scalars
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        v = int(v)
    if isinstance(v, int):
        return f"{v:,}"
    if not isinstance(v, float):
        return str(v)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    a = abs(v)
    if a >= 10 ** (sig - 1):
        return f"{v:,.0f}"
    if a >= 10.0**-sig:
        decimals = min(sig - 1 - math.floor(math.log10(a)), sig)
        return f"{v:.{decimals}f}"
    return f"{v:.{sig - 1}g}"
