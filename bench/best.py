"""The ``best`` view: per model and device, the fastest runtime variant that is still correct.

A variant is a (runtime, precision) pair: eager / channels_last / compile / deployed runtimes
× fp32 / bf16 / fp16. Rows are grouped by model, device, batch size, image size and thread
count (variants are only comparable at the same workload). Within a group, a row is eligible
when it finished with status ``ok`` and either is the fp32 eager reference itself or its
output matched fp32 eager on the same input within the stated tolerance
(``parity_max_rel_err <= parity_tol``, see bench.runtimes.PARITY_RULE). Rows with status
``mismatch`` (failed parity), ``skipped``, ``oom`` or ``failed`` never win; they are listed in
``rejected`` with their reason. The winner is the eligible row with the lowest median latency.

Use: ``python -m bench.best RUN_DIR`` prints the view; :func:`best_view` returns it as a
DataFrame.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

GROUP = ["model", "device", "batch_size", "img_size", "threads"]
BEST_COLUMNS = GROUP + [
    "best_runtime", "best_precision", "latency_ms_p50", "throughput_ips", "eager_fp32_latency_ms_p50",
    "speedup_vs_eager_fp32", "parity_max_abs_err", "parity_max_rel_err", "parity_tol", "n_variants",
    "n_eligible", "best_cell_key", "rejected",
]


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _is_reference(r: pd.Series) -> bool:
    return r.get("runtime") == "eager" and r.get("precision") == "fp32"


def eligibility(r: pd.Series) -> str | None:
    """None when the row may win; otherwise why not."""
    status = r.get("status")
    if status != "ok":
        err = r.get("error")
        return f"{status}" + (f": {str(err)[:120]}" if isinstance(err, str) and err else "")
    if _num(r.get("latency_ms_p50")) is None:
        return "no latency measured"
    if _is_reference(r):
        return None
    err, tol = _num(r.get("parity_max_rel_err")), _num(r.get("parity_tol"))
    if err is None or tol is None:
        return "no parity check against fp32 eager"
    if err > tol:
        return f"parity error {err:.3g} > tolerance {tol:g}"
    return None


def best_view(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, device, batch, image size, threads) naming the fastest correct variant."""
    if df.empty:
        return pd.DataFrame(columns=BEST_COLUMNS)
    speed = df[df["task"] == "speed"] if "task" in df.columns else df
    out = []
    for key, grp in speed.groupby(GROUP, dropna=False, sort=False):
        rejected, eligible = [], []
        for _, r in grp.iterrows():
            why = eligibility(r)
            (rejected.append(f"{r['runtime']}/{r['precision']}: {why}") if why else eligible.append(r))
        ref = grp[(grp["runtime"] == "eager") & (grp["precision"] == "fp32") & (grp["status"] == "ok")]
        ref_ms = _num(ref["latency_ms_p50"].iloc[0]) if len(ref) else None
        row: dict[str, Any] = dict(zip(GROUP, key))
        row.update(n_variants=len(grp), n_eligible=len(eligible), rejected="; ".join(rejected) or None,
                   eager_fp32_latency_ms_p50=ref_ms)
        if eligible:
            # Lowest median wins; on a tie the reference (then fp32) is preferred: no risk for nothing.
            win = min(eligible, key=lambda r: (float(r["latency_ms_p50"]), not _is_reference(r), r["precision"] != "fp32"))
            ms = float(win["latency_ms_p50"])
            row.update(best_runtime=win["runtime"], best_precision=win["precision"], latency_ms_p50=ms,
                       throughput_ips=_num(win.get("throughput_ips")), best_cell_key=win.get("cell_key"),
                       speedup_vs_eager_fp32=(ref_ms / ms) if ref_ms else None,
                       parity_max_abs_err=0.0 if _is_reference(win) else _num(win.get("parity_max_abs_err")),
                       parity_max_rel_err=0.0 if _is_reference(win) else _num(win.get("parity_max_rel_err")),
                       parity_tol=_num(win.get("parity_tol")))
        out.append(row)
    return pd.DataFrame(out).reindex(columns=BEST_COLUMNS)


def best_for_run(run_dir: str | Path) -> pd.DataFrame:
    from bench.results import load_results

    return best_view(load_results(run_dir))


def format_best(best: pd.DataFrame) -> str:
    """Plain-text table for the terminal or a Markdown page."""
    head = ["model", "device", "batch", "best variant", "p50 ms", "eager fp32 ms", "speedup", "max rel err"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def f(v: Any, fmt: str) -> str:
        n = _num(v)
        return "—" if n is None else format(n, fmt)

    for _, r in best.iterrows():
        variant = f"{r['best_runtime']}/{r['best_precision']}" if isinstance(r["best_runtime"], str) else "none eligible"
        lines.append("| " + " | ".join([
            str(r["model"]), str(r["device"]), str(r["batch_size"]), variant, f(r["latency_ms_p50"], ".3f"),
            f(r["eager_fp32_latency_ms_p50"], ".3f"), f(r["speedup_vs_eager_fp32"], ".2f") + "×",
            f(r["parity_max_rel_err"], ".2g")]) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from bench.errors import UserError

    if len(argv) != 1:
        print("usage: python -m bench.best RUN_DIR", file=sys.stderr)
        return 2
    try:
        best = best_for_run(argv[0])
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_best(best))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
