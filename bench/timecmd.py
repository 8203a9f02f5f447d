"""`archbench time MODEL`: one model timed from the command line, no suite file.

It builds the suite a user would have written (one model; the given batch sizes, threads,
runtimes, precisions, sizes, device), validates it like a file, and runs it through the same
runner, executor and worker as `archbench run`: the same run folder (results.parquet, CSV,
samples, run.json), the same timing rule. Comma-separated values sweep an axis
(``--threads 1,2``); ``--set`` reaches every other suite field (``--set timing.max_time_s=2``).
The terminal gets p50 with its spread per cell.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from bench.axes import DEVICES, METRICS, PRECISIONS, RUNTIMES


def _csv(kind: type, what: str):
    def parse(text: str) -> list:
        out: list[Any] = []
        for part in text.split(","):
            part = part.strip()
            if kind is int and part in ("all", "null", "none"):
                out.append(None)  # threads: all cores
                continue
            try:
                out.append(kind(part))
            except ValueError:
                raise argparse.ArgumentTypeError(f"{what}: {part!r} is not a valid value") from None
        return out

    return parse


def add_time_parser(sub: Any, func) -> argparse.ArgumentParser:
    s = sub.add_parser("time", help="time one model without a suite file (same measurement and outputs as a one-cell suite)")
    s.add_argument("model", help="registry name, e.g. timm:resnet50, tv:mobilenet_v3_large, test:cnn")
    s.add_argument("--batch", type=_csv(int, "--batch"), default=[1], metavar="N[,N…]", help="batch size(s) (default 1)")
    s.add_argument(
        "--threads",
        type=_csv(int, "--threads"),
        default=[None],
        metavar="N[,N…]",
        help="CPU thread count(s); 'all' = every core (default all)",
    )
    s.add_argument(
        "--runtime",
        type=_csv(str, "--runtime"),
        default=["eager"],
        metavar="NAME[,…]",
        help=f"{', '.join(RUNTIMES)} (default eager)",
    )
    s.add_argument(
        "--precision",
        type=_csv(str, "--precision"),
        default=["fp32"],
        metavar="P[,…]",
        help=f"{', '.join(PRECISIONS)} (default fp32)",
    )
    s.add_argument(
        "--img-size",
        type=_csv(int, "--img-size"),
        default=[None],
        metavar="PX[,…]",
        help="input size(s) in pixels (default: the model's native size)",
    )
    s.add_argument(
        "--device", type=_csv(str, "--device"), default=["cpu"], metavar="DEV[,…]", help=f"{' or '.join(DEVICES)} (default cpu)"
    )
    s.add_argument(
        "--metrics",
        type=_csv(str, "--metrics"),
        default=list(METRICS),
        metavar="M[,…]",
        help=f"{', '.join(METRICS)} (default all four)",
    )
    s.add_argument("--max-time-s", type=float, help="timing budget per cell in seconds (default the suite default, 5)")
    s.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other suite field, validated like a suite file, e.g. timing.target_rel_iqr=0.02",
    )
    s.add_argument("--results-dir", default="results", help="where the run folder is written (default results)")
    s.add_argument("--dry-run", action="store_true", help="print the cells and a time estimate; measure nothing")
    s.add_argument("--json", action="store_true", help="print the measured rows as JSON instead of a table")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    s.set_defaults(func=func)
    return s


def suite_data(args: argparse.Namespace) -> dict[str, Any]:
    short = args.model.split(":", 1)[-1]
    data: dict[str, Any] = {
        "name": "time-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in short)[:40],
        "description": f"archbench time {args.model}",
        "models": [args.model],
        "devices": args.device,
        "batch_sizes": args.batch,
        "img_sizes": args.img_size,
        "precisions": args.precision,
        "runtimes": args.runtime,
        "threads": args.threads,
        "metrics": args.metrics,
    }
    if args.max_time_s is not None:
        data["timing"] = {"max_time_s": args.max_time_s}
    return data


def time_command(args: argparse.Namespace) -> int:
    from bench.runner import all_cells, run_suite
    from bench.suite import apply_overrides, parse_suite

    data = apply_overrides(suite_data(args), args.set)
    suite = parse_suite(data, source="archbench time")
    if args.dry_run:
        from bench.plan import estimate, format_plan

        print(format_plan(estimate(all_cells(suite), Path(args.results_dir), suite.name)))
        return 0
    summary = run_suite(suite, Path(args.results_dir), suite_path=None, progress=not args.quiet)
    from bench.results import load_results

    df = load_results(summary.run_dir)
    rows = [r for r in df.to_dict("records") if r.get("task") == "speed"]
    if args.json:
        keep = (
            "model",
            "device",
            "precision",
            "runtime",
            "batch_size",
            "img_size",
            "threads",
            "status",
            "error",
            "latency_ms_p50",
            "latency_ms_iqr",
            "latency_rel_iqr",
            "latency_ms_p90",
            "latency_ms_p99",
            "latency_note",
            "n_samples",
            "timing_target_met",
            "throughput_ips",
            "act_peak_mb",
            "rss_peak_mb",
            "params_m",
            "gmacs",
        )
        print(json.dumps([{k: _plain(r.get(k)) for k in keep} for r in rows], indent=1))
    else:
        for r in rows:
            print(format_time_row(r))
        print(f"run {summary.run_id}: {summary.run_dir}/results.parquet (+ samples.parquet, run.json)")
    return 0 if summary.counts.get("ok", 0) else 1


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def format_time_row(r: dict[str, Any]) -> str:
    """One line per cell: configuration, then p50 with its spread (IQR, p90/p99), or the failure."""
    threads = r.get("threads")
    threads = "all" if threads is None or (isinstance(threads, float) and math.isnan(threads)) else int(threads)
    config = (
        f"{r['model']} b{int(r['batch_size'])} {int(r['img_size'])}px {r['device']}/{r['precision']}/{r['runtime']}"
        f" threads {threads}"
    )
    p50 = _plain(r.get("latency_ms_p50"))
    if r.get("status") != "ok" or p50 is None:
        why = _plain(r.get("error")) or "no latency measured"
        return f"{config}: {r.get('status')} — {why}"
    iqr = _plain(r.get("latency_ms_iqr")) or 0.0
    rel = _plain(r.get("latency_rel_iqr")) or 0.0
    # A percentile without 10 samples beyond it is empty (bench.metrics.stats): say so, never print a number.
    tails = ", ".join(
        f"{q} {v:.3f} ms" if v is not None else f"{q} n/a"
        for q, v in (("p90", _plain(r.get("latency_ms_p90"))), ("p99", _plain(r.get("latency_ms_p99"))))
    )
    line = f"{config}: p50 {p50:.3f} ms (IQR {iqr:.3f} ms = {rel * 100:.1f}%, {tails}, {int(r['n_samples'])} samples)"
    tput = _plain(r.get("throughput_ips"))
    if tput:
        line += f", {tput:.1f} img/s"
    mem = _plain(r.get("act_peak_mb"))
    if mem is not None:
        line += f", activations {mem:.2f} MiB"
    if r.get("timing_target_met") is False or str(r.get("timing_target_met")).lower() == "false":
        line += "  [noisy: spread above target]"
    return line
