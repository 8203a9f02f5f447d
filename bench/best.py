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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

# Rows are comparable when they do the same work: same model, device, batch and input size.
# Runtime, precision and thread count are the choices a deployment makes, so best picks among them.
GROUP = ["model", "device", "batch_size", "img_size"]
BEST_COLUMNS = GROUP + [
    "best_runtime",
    "best_precision",
    "best_threads",
    "latency_ms_p50",
    "latency_ms_iqr",
    "latency_rel_iqr",
    "throughput_ips",
    "act_peak_mb",
    "noisy",
    "eager_fp32_latency_ms_p50",
    "speedup_vs_eager_fp32",
    "parity_max_abs_err",
    "parity_max_rel_err",
    "parity_tol",
    "n_variants",
    "n_eligible",
    "best_cell_key",
    "thread_scaling",
    "rejected",
]
# A thread count counts as slower than a smaller one when its median is this much higher and the
# gap exceeds both rows' IQR: a same-model difference the timing noise does not explain.
INVERSION_MIN_REL = 0.05


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


def _threads_of(r: pd.Series) -> float:
    """The thread count a row ran with: threads_actual when recorded, else threads (None = all cores)."""
    for col in ("threads_actual", "threads"):
        n = _num(r.get(col))
        if n is not None:
            return n
    return math.inf


def _threads_label(r: pd.Series) -> str:
    n = _num(r.get("threads"))
    return str(int(n)) if n is not None else "all"


def _threads_text(r: pd.Series) -> str:
    n = _threads_label(r)
    return "all cores" if n == "all" else f"{n} thread" + ("" if n == "1" else "s")


def is_noisy(r: pd.Series) -> bool:
    """The timing rule did not reach its spread target (``timing_target_met`` false)."""
    flag = r.get("timing_target_met")
    if isinstance(flag, str):
        return flag.strip().lower() == "false"
    try:
        return flag is not None and not pd.isna(flag) and not bool(flag)
    except (TypeError, ValueError):
        return False


def thread_inversions(grp: pd.DataFrame) -> list[str]:
    """Where more threads ran slower than fewer, per runtime/precision, beyond the timing noise."""
    out = []
    ok = grp[(grp["status"] == "ok")]
    for (rt, prec), g in ok.groupby(["runtime", "precision"], sort=False):
        rows = sorted((r for _, r in g.iterrows() if _num(r.get("latency_ms_p50")) is not None), key=_threads_of)
        for lo, hi in zip(rows, rows[1:]):
            if _threads_of(hi) <= _threads_of(lo):
                continue
            a, b = float(lo["latency_ms_p50"]), float(hi["latency_ms_p50"])
            noise = max(_num(lo.get("latency_ms_iqr")) or 0.0, _num(hi.get("latency_ms_iqr")) or 0.0)
            if b > a * (1 + INVERSION_MIN_REL) and b - a > noise:
                out.append(f"{rt}/{prec}: {_threads_text(hi)} {b:.3g} ms, slower than {_threads_text(lo)} {a:.3g} ms")
    return out


def best_view(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, device, batch, image size): the fastest correct runtime/precision/threads."""
    if df.empty:
        return pd.DataFrame(columns=BEST_COLUMNS)
    speed = df[df["task"] == "speed"] if "task" in df.columns else df
    out = []
    for key, grp in speed.groupby(GROUP, dropna=False, sort=False):
        rejected, eligible = [], []
        for _, r in grp.iterrows():
            why = eligibility(r)
            label = f"{r['runtime']}/{r['precision']}" + ("" if _threads_label(r) == "all" else f" t{_threads_label(r)}")
            (rejected.append(f"{label}: {why}") if why else eligible.append(r))
        ref = [
            r
            for _, r in grp.iterrows()
            if _is_reference(r) and r.get("status") == "ok" and _num(r.get("latency_ms_p50")) is not None
        ]
        # The reference is fp32 eager with the most threads: what a plain PyTorch process runs.
        ref_row = max(ref, key=_threads_of) if ref else None
        ref_ms = float(ref_row["latency_ms_p50"]) if ref_row is not None else None
        row: dict[str, Any] = dict(zip(GROUP, key))
        inversions = thread_inversions(grp)
        row.update(
            n_variants=len(grp),
            n_eligible=len(eligible),
            rejected="; ".join(rejected) or None,
            eager_fp32_latency_ms_p50=ref_ms,
            thread_scaling="; ".join(inversions) or None,
        )
        if eligible:
            # Lowest median wins; on a tie the reference (then fp32, then fewer threads) is preferred.
            win = min(
                eligible,
                key=lambda r: (float(r["latency_ms_p50"]), not _is_reference(r), r["precision"] != "fp32", _threads_of(r)),
            )
            ms = float(win["latency_ms_p50"])
            row.update(
                best_runtime=win["runtime"],
                best_precision=win["precision"],
                best_threads=_threads_label(win),
                latency_ms_p50=ms,
                latency_ms_iqr=_num(win.get("latency_ms_iqr")),
                latency_rel_iqr=_num(win.get("latency_rel_iqr")),
                noisy=is_noisy(win),
                throughput_ips=_num(win.get("throughput_ips")),
                act_peak_mb=_num(win.get("act_peak_mb")),
                best_cell_key=win.get("cell_key"),
                speedup_vs_eager_fp32=(ref_ms / ms) if ref_ms else None,
                parity_max_abs_err=0.0 if _is_reference(win) else _num(win.get("parity_max_abs_err")),
                parity_max_rel_err=0.0 if _is_reference(win) else _num(win.get("parity_max_rel_err")),
                parity_tol=_num(win.get("parity_tol")),
            )
        out.append(row)
    return pd.DataFrame(out).reindex(columns=BEST_COLUMNS)


def best_for_run(run_dir: str | Path) -> pd.DataFrame:
    from bench.results import load_results

    return best_view(load_results(run_dir))


@dataclass
class BudgetPick:
    """One model's fastest configuration within the budget, with its accuracy."""

    model: str
    device: str
    batch_size: int
    img_size: int
    runtime: str
    precision: str
    threads: str
    latency_ms_p50: float
    latency_ms_ci95: tuple[float, float] | None  # median's 95% interval from the samples
    act_peak_mb: float | None
    noisy: bool
    top1: float | None
    top1_std: float | None
    acc_source: str | None
    acc_dataset: str | None
    cell_key: str


def _accuracy_by_model(df: pd.DataFrame) -> dict[str, pd.Series]:
    from bench.accuracy.summary import one_accuracy_per_model

    acc = one_accuracy_per_model(df)
    return {r["model"]: r for _, r in acc.iterrows()}


def within_budget(
    df: pd.DataFrame,
    samples: pd.DataFrame | None,
    budget_ms: float | None = None,
    budget_mb: float | None = None,
    batch_size: int | None = None,
) -> list[BudgetPick]:
    """Every model with an eligible configuration inside the budget, most accurate first.

    Per model the fastest eligible row (any runtime, precision, threads) at ``batch_size``
    (default: the run's smallest) whose p50 ≤ ``budget_ms`` and activation peak (act_peak_mb) ≤ ``budget_mb``.
    Models without an accuracy figure come last (they cannot be ranked by accuracy).
    """
    from bench.metrics.stats import median_ci

    speed = df[df["task"] == "speed"] if "task" in df.columns else df
    if speed.empty:
        return []
    batch = batch_size if batch_size is not None else int(pd.to_numeric(speed["batch_size"]).min())
    acc = _accuracy_by_model(df)
    picks = []
    for (model, device), grp in speed[pd.to_numeric(speed["batch_size"]) == batch].groupby(["model", "device"], sort=False):
        fits = []
        for _, r in grp.iterrows():
            if eligibility(r) is not None:
                continue
            ms, mb = float(r["latency_ms_p50"]), _num(r.get("act_peak_mb"))
            if budget_ms is not None and ms > budget_ms:
                continue
            if budget_mb is not None and (mb is None or mb > budget_mb):
                continue
            fits.append(r)
        if not fits:
            continue
        win = min(fits, key=lambda r: (float(r["latency_ms_p50"]), not _is_reference(r), _threads_of(r)))
        ci = None
        if samples is not None and len(samples):
            s = samples.loc[samples["cell_key"] == win.get("cell_key"), "latency_ms"].to_numpy()
            if len(s):
                ci = median_ci(s)
        a = acc.get(model)
        picks.append(
            BudgetPick(
                model=str(model),
                device=str(device),
                batch_size=batch,
                img_size=int(win["img_size"]),
                runtime=str(win["runtime"]),
                precision=str(win["precision"]),
                threads=_threads_label(win),
                latency_ms_p50=float(win["latency_ms_p50"]),
                latency_ms_ci95=ci,
                act_peak_mb=_num(win.get("act_peak_mb")),
                noisy=is_noisy(win),
                top1=None if a is None else _num(a["top1"]),
                top1_std=None if a is None else _num(a.get("top1_std")),
                acc_source=None if a is None else str(a["acc_source"]),
                acc_dataset=None if a is None else str(a.get("acc_dataset") or "") or None,
                cell_key=str(win.get("cell_key")),
            )
        )
    return sorted(picks, key=lambda p: (p.top1 is None, -(p.top1 or 0.0), p.latency_ms_p50))


def format_budget(picks: list[BudgetPick], budget_ms: float | None, budget_mb: float | None) -> str:
    what = " and ".join(
        x
        for x in (
            f"p50 ≤ {budget_ms:g} ms" if budget_ms is not None else "",
            f"activation peak ≤ {budget_mb:g} MiB" if budget_mb is not None else "",
        )
        if x
    )
    ranked = [p for p in picks if p.top1 is not None]
    if not ranked:
        if picks:
            return f"{len(picks)} models fit {what}, but none has an accuracy figure in this run: " + ", ".join(
                p.model for p in picks
            )
        return f"no model fits {what} in this run"
    top = ranked[0]
    lines = [
        f"most accurate within {what}: {top.model} — {_acc_text(top)}, {_lat_text(top)}"
        f" ({top.runtime}/{top.precision}, {top.threads} threads, batch {top.batch_size}, {top.device})"
    ]
    if top.noisy:
        lines.append("  note: its timing did not reach the spread target (noisy); re-measure before relying on the margin")
    lines += [
        "",
        "| model | top-1 % | source | p50 ms | p50 95% CI | act. MiB | runtime/precision | threads |",
        "|---|--:|---|--:|---|--:|---|---|",
    ]
    for p in picks:
        ci = f"{p.latency_ms_ci95[0]:.3f}–{p.latency_ms_ci95[1]:.3f}" if p.latency_ms_ci95 else "—"
        lines.append(
            f"| {p.model} | {'—' if p.top1 is None else f'{p.top1:.2f}'} | {p.acc_source or 'none'} | "
            f"{p.latency_ms_p50:.3f}{' (noisy)' if p.noisy else ''} | {ci} | "
            f"{'—' if p.act_peak_mb is None else f'{p.act_peak_mb:.1f}'} | {p.runtime}/{p.precision} | {p.threads} |"
        )
    return "\n".join(lines)


def _acc_text(p: BudgetPick) -> str:
    std = f" ± {p.top1_std:.2f}" if p.top1_std else ""
    return f"top-1 {p.top1:.2f}%{std} ({p.acc_source}{', ' + p.acc_dataset if p.acc_dataset else ''})"


def _lat_text(p: BudgetPick) -> str:
    ci = f" (95% CI {p.latency_ms_ci95[0]:.3f}–{p.latency_ms_ci95[1]:.3f})" if p.latency_ms_ci95 else ""
    return f"p50 {p.latency_ms_p50:.3f} ms{ci}"


def best_command(args: Any) -> int:
    """`archbench best RUN_DIR [--json] [--budget-ms X] [--budget-mb Y] [--batch N]`."""
    import json
    from dataclasses import asdict

    from bench.errors import UserError
    from bench.results import load_results, load_samples

    df = load_results(args.run_dir)
    if args.budget_ms is None and args.budget_mb is None:
        if args.batch is not None:
            raise UserError("--batch applies to --budget-ms/--budget-mb; without a budget every batch is listed")
        best = best_view(df)
        if args.json:
            print(best.astype(object).where(best.notna(), None).to_json(orient="records", indent=1))
        else:
            print(format_best(best))
        return 0
    for flag, v in (("--budget-ms", args.budget_ms), ("--budget-mb", args.budget_mb)):
        if v is not None and not v > 0:
            raise UserError(f"{flag} must be a positive number, got {v:g}")
    picks = within_budget(df, load_samples(args.run_dir), args.budget_ms, args.budget_mb, args.batch)
    if args.json:
        print(
            json.dumps(
                {
                    "budget_ms": args.budget_ms,
                    "budget_mb": args.budget_mb,
                    "pick": asdict(pick) if (pick := next((p for p in picks if p.top1 is not None), None)) is not None else None,
                    "within_budget": [asdict(p) for p in picks],
                },
                indent=1,
            )
        )
    else:
        print(format_budget(picks, args.budget_ms, args.budget_mb))
    return 0 if any(p.top1 is not None for p in picks) else 1


def format_best(best: pd.DataFrame) -> str:
    """Markdown table for the terminal or a page; flags follow the table."""
    head = [
        "model",
        "device",
        "batch",
        "img",
        "best runtime/precision",
        "threads",
        "p50 ms",
        "IQR %",
        "eager fp32 ms",
        "speedup",
        "max rel err",
        "flags",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def f(v: Any, fmt: str) -> str:
        n = _num(v)
        return "—" if n is None else format(n, fmt)

    notes = []
    for _, r in best.iterrows():
        won = isinstance(r["best_runtime"], str)
        variant = f"{r['best_runtime']}/{r['best_precision']}" if won else "none eligible"
        flags = []
        if won and r["noisy"] is True:
            flags.append("noisy")
        if isinstance(r["thread_scaling"], str):
            flags.append("threads inverted")
            notes.append(f"{r['model']} b{r['batch_size']}: {r['thread_scaling']}")
        lines.append(
            "| "
            + " | ".join(
                [
                    str(r["model"]),
                    str(r["device"]),
                    str(r["batch_size"]),
                    str(r["img_size"]),
                    variant,
                    str(r["best_threads"]) if won else "—",
                    f(r["latency_ms_p50"], ".3f"),
                    f(None if (iqr := _num(r["latency_rel_iqr"])) is None else iqr * 100, ".1f"),
                    f(r["eager_fp32_latency_ms_p50"], ".3f"),
                    f(r["speedup_vs_eager_fp32"], ".2f") + "×",
                    f(r["parity_max_rel_err"], ".2g"),
                    ", ".join(flags),
                ]
            )
            + " |"
        )
    if (best["noisy"] == True).any():  # noqa: E712  (column holds True/False/None)
        lines.append("\nnoisy: the timing did not reach its spread target; a close win may not repeat.")
    if notes:
        lines.append("\nthreads inverted (more threads ran slower, beyond the IQR):")
        lines += [f"- {n}" for n in notes]
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
