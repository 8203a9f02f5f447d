"""The `archbench compare` and `archbench baseline` subcommands: arguments and actions.

bench/cli.py only registers them (``add_compare_parser`` / ``add_baseline_parser``) and
dispatches to :func:`compare_command` / :func:`baseline_command`. Heavy imports happen
inside the actions so `archbench --help` stays fast.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any, Callable

from bench.errors import UserError


def add_compare_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    s = sub.add_parser(
        "compare",
        help="compare two runs metric by metric (exit 0 ok, 1 regression, 2 unusable input)",
        description="Join BASE and NEW cell by cell and decide per metric: regressed, improved, inconclusive, unchanged, new, "
        "missing or not comparable. Latency/throughput need the threshold and a round-level test p < alpha (Welch t on log round medians; Mann–Whitney U for one-round runs).",
    )
    s.add_argument("base", help="BASE: run folder, results.parquet/results.csv, or a baseline name under results/baselines/")
    s.add_argument("new", help="NEW: run folder or results file, or 'latest' for the newest run in --results-dir")
    s.add_argument(
        "--format",
        choices=["table", "md", "json"],
        default="table",
        help="terminal table (default), Markdown for a PR comment / job summary, or JSON",
    )
    s.add_argument("-o", "--output", help="write the --format output to this file instead of stdout")
    s.add_argument("--html", metavar="FILE", help="also write a self-contained side-by-side HTML report")
    s.add_argument(
        "--fail-on",
        metavar="METRICS",
        help="comma list of metrics that may fail the job (default all: status,params,gmacs,weight_mb,"
        "latency,throughput,memory,top1,top5)",
    )
    s.add_argument(
        "--allow-change", metavar="METRICS", help="deterministic metrics allowed to change, e.g. params,gmacs (or 'all')"
    )
    s.add_argument(
        "--allow-env-change",
        action="store_true",
        help="compare timings even though machine, device, threads or library versions differ",
    )
    s.add_argument(
        "--threshold",
        action="append",
        metavar="METRIC=VALUE",
        default=[],
        help="relative threshold, e.g. latency=15%% or memory=0.1 (repeatable; a bare value sets latency and throughput)",
    )
    s.add_argument("--alpha", type=float, help="significance level of the round-level test (default 0.01)")
    s.add_argument("--accuracy-drop", type=float, metavar="POINTS", help="top-1/top-5 drop that counts (default 0.5)")
    s.add_argument("--all", action="store_true", dest="show_all", help="list unchanged metrics too (terminal table)")
    s.add_argument("--results-dir", default="results", help="where 'latest' is looked up")
    s.add_argument("--baselines-dir", default=None, help="where baseline names are looked up (default RESULTS_DIR/baselines)")
    s.set_defaults(func=func)
    return s


def add_baseline_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    s = sub.add_parser("baseline", help="save or list named baselines (results/baselines/NAME/)")
    bsub = s.add_subparsers(dest="baseline_command", required=True)
    save = bsub.add_parser("save", help="store a finished run as results/baselines/NAME/ (tables and run.json, no logs)")
    save.add_argument("run_dir", help="run folder, e.g. results/20250101-120000-ci-ab12 (or 'latest')")
    save.add_argument("name", help="baseline name, e.g. ci or main")
    save.add_argument("--force", action="store_true", help="replace an existing baseline of that name")
    for p in (save, bsub.add_parser("list", help="list saved baselines")):
        p.add_argument(
            "--results-dir",
            default="results",
            help="results folder: where 'latest' is looked up, and RESULTS_DIR/baselines the default baselines folder",
        )
        p.add_argument("--baselines-dir", default=None, help="baselines folder (default RESULTS_DIR/baselines), as in compare")
        p.add_argument("--root", dest="baselines_dir", help=argparse.SUPPRESS)  # the option's earlier name
    s.set_defaults(func=func)
    return s


def baselines_dir(args: argparse.Namespace) -> Path:
    """--baselines-dir, else the baselines folder inside --results-dir (one rule for save, list, compare)."""
    return Path(args.baselines_dir) if args.baselines_dir else Path(args.results_dir) / "baselines"


def _latest(results_dir: str) -> Path:
    from bench.results import list_runs

    runs = list_runs(Path(results_dir))
    if not runs:
        raise UserError(f"'latest': no run folders under {results_dir}/ (run `archbench run SUITE` first)")
    return runs[0]


def _resolve_base(base: str, baselines_dir: str) -> Path:
    p = Path(base)
    if p.exists():
        return p
    named = Path(baselines_dir) / base
    if "/" not in base and named.is_dir():
        return named
    from bench.baseline import list_baselines

    names = [d.name for d in list_baselines(baselines_dir)]
    hint = f"; saved baselines: {', '.join(names)}" if names else ""
    raise UserError(f"BASE {base}: no such run folder, results file or baseline{hint}")


def _thresholds(items: list[str]) -> dict[str, Any] | None:
    from bench.compare.config import metric_name, parse_fraction

    out: dict[str, float] = {}
    for item in items:
        if "=" in item:
            name, value = item.split("=", 1)
            metric = metric_name(name, "--threshold")
            metric = "memory" if metric in ("rss_memory", "cuda_memory") else metric  # one memory threshold
            if metric not in ("latency", "throughput", "memory"):
                raise UserError(f"--threshold {item}: thresholds apply to latency, throughput and memory")
            out[metric] = parse_fraction(value, f"--threshold {item}")
        else:
            frac = parse_fraction(item, f"--threshold {item}")
            out["latency"] = out["throughput"] = frac
    return out or None


def compare_command(args: argparse.Namespace) -> int:
    from bench.compare import compare_paths
    from bench.compare.config import DETERMINISTIC, metric_list

    base = _resolve_base(args.base, str(baselines_dir(args)))
    new = _latest(args.results_dir) if args.new == "latest" else Path(args.new)
    overrides: dict[str, Any] = {
        "thresholds": _thresholds(args.threshold),
        "alpha": args.alpha,
        "accuracy_drop_points": args.accuracy_drop,
        "fail_on": metric_list(args.fail_on, "--fail-on") if args.fail_on is not None else None,
        "allow_change": metric_list(args.allow_change, "--allow-change", DETERMINISTIC)
        if args.allow_change is not None
        else None,
        "allow_env_change": True if args.allow_env_change else None,
    }
    if args.alpha is not None and not 0 < args.alpha < 1:
        raise UserError(f"--alpha {args.alpha}: must be between 0 and 1 (e.g. 0.01)")
    cmp = compare_paths(base, new, overrides)
    return emit_comparison(cmp, args)


def emit_comparison(cmp: Any, args: argparse.Namespace) -> int:
    """Write a comparison as --format/-o/--html ask (compare and ab share it); return its exit code."""
    from bench.compare import render_json, render_markdown, render_terminal, write_html
    from bench.results import write_text_atomic

    if args.format == "md":
        text = render_markdown(cmp)
    elif args.format == "json":
        text = render_json(cmp) + "\n"
    else:
        text = None
    if text is None:
        if args.output:
            from rich.console import Console

            buf = io.StringIO()
            render_terminal(cmp, args.show_all, Console(file=buf, width=160, color_system=None))
            write_text_atomic(Path(args.output), buf.getvalue())
        else:
            render_terminal(cmp, args.show_all)
    elif args.output:
        write_text_atomic(Path(args.output), text)
    else:
        sys.stdout.write(text)
    if args.html:
        page = write_html(cmp, Path(args.html))
        print(f"html: {page}", file=sys.stderr)
    return cmp.exit_code


def baseline_command(args: argparse.Namespace) -> int:
    from bench.baseline import list_baselines, save_baseline

    root = baselines_dir(args)
    if args.baseline_command == "list":
        found = list_baselines(root)
        if not found:
            print(f"no baselines under {root}/")
        for d in found:
            print(d.name)
        return 0
    run_dir = _latest(args.results_dir) if args.run_dir == "latest" else Path(args.run_dir)
    saved = save_baseline(run_dir, args.name, root, force=args.force)
    verb = "replaced" if saved.replaced else "saved"
    print(f"baseline {saved.name!r} {verb}: {saved.path} (run {saved.run_id}, {saved.cells} cells; {', '.join(saved.files)})")
    return 0
