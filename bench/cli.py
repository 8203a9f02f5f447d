"""Command line: `archbench …` and `python -m bench …` are the same program.

Exit codes: 0 success; 1 the command ran but found a problem (e.g. a regression, or every
cell failed); 2 unusable input (bad suite, missing file, unknown model, an output path that
cannot be written); 74 the system failed an input/output (disk full, I/O error); 130
interrupted (Ctrl-C); 143 terminated (SIGTERM), 129 hung up (SIGHUP). See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
from pathlib import Path

from bench.axes import EXECUTORS, FAMILIES
from bench.errors import UserError

DEFAULT_RESULTS = Path("results")
DEFAULT_REPORTS = Path("reports")


def cmd_list(args: argparse.Namespace) -> int:
    from bench.listing import cmd_list as run

    return run(args)


def cmd_run(args: argparse.Namespace) -> int:
    from bench.runner import run_suite
    from bench.suite import load_suite

    from bench.runner import ensure_writable

    suite = load_suite(args.suite, overrides=args.set)
    if args.data:
        suite = _override_data(suite, args.data)
    if args.dry_run:
        from bench.plan import estimate, format_plan
        from bench.runner import all_cells

        print(format_plan(estimate(all_cells(suite), Path(args.results_dir), suite.name)))
        return 0
    if not args.no_report:
        ensure_writable(Path(args.reports_dir))  # before the first cell, not after the whole run
    executor = make_executor(args.executor or suite.executor, args.ray_address)
    try:
        summary = run_suite(
            suite,
            Path(args.results_dir),
            suite_path=str(args.suite),
            resume=Path(args.resume) if args.resume else None,
            progress=not args.quiet,
            executor=executor,
        )
    finally:
        executor.close()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()))
    print(f"run {summary.run_id}: {summary.total} cells ({counts}); measured {summary.measured}, kept {summary.reused}")
    print(f"results: {summary.run_dir}/results.parquet (+ results.csv, samples.parquet, run.json)")
    if not args.no_report:
        from bench.report import render_run_report, update_index
        from bench.report.html import page_name

        page = render_run_report(summary.run_dir, Path(args.reports_dir) / page_name(summary.run_id))
        update_index(Path(args.results_dir), Path(args.reports_dir))
        print(f"report:  {page}  (newest run also at {Path(args.reports_dir) / 'latest.html'})")
    ok = summary.counts.get("ok", 0)
    return 0 if ok or summary.total == 0 else 1


def make_executor(kind: str, ray_address: str | None = None):
    """The executor named by ``--executor`` (or the suite's ``executor:``)."""
    if kind == "ray":
        from bench.executor_ray import RayExecutor

        return RayExecutor(address=ray_address)
    if ray_address:
        raise UserError("--ray-address only applies with --executor ray (or `executor: ray` in the suite)")
    from bench.executor import LocalProcessExecutor

    return LocalProcessExecutor()


def _override_data(suite, data: str):
    if not suite.accuracy:
        raise UserError(f"--data was given but suite {suite.name!r} has no accuracy tasks to apply it to")
    if not Path(data).exists():
        raise UserError(f"--data {data}: no such file or folder")
    from bench.accuracy import override_data_dir

    new = override_data_dir(suite, data)
    if new.accuracy == suite.accuracy and not any(getattr(t, "data_dir", None) == data for t in suite.accuracy):
        raise UserError(
            f"--data {data}: no accuracy task of suite {suite.name!r} reads a dataset from disk "
            "(only measured/scratch tasks on imagefolder, imagenet or cifar10 do)"
        )
    return new


def cmd_time(args: argparse.Namespace) -> int:
    from bench.timecmd import time_command

    return time_command(args)


def cmd_report(args: argparse.Namespace) -> int:
    from bench import results

    run_dir = Path(args.run_dir)
    meta = results.read_run_meta(run_dir)
    if args.format == "md":
        from bench.report.markdown import render_markdown

        text = render_markdown(run_dir)
        if args.output:
            results.write_text_atomic(Path(args.output), text)
        else:
            print(text)
        return 0
    from bench.report import render_run_report
    from bench.report.html import page_name

    # run_id comes from run.json (data): the one sanitiser keeps the page inside the reports folder.
    out = Path(args.output) if args.output else Path(args.reports_dir) / page_name(meta.get("run_id", run_dir.name))
    render_run_report(run_dir, out)
    print(f"report: {out}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from bench.report import update_index

    index = update_index(Path(args.results_dir), Path(args.reports_dir), rerender=args.rerender)
    print(f"index: {index}")
    return 0


def cmd_flops(args: argparse.Namespace) -> int:
    from bench.metrics.flops import flops_command

    return flops_command(args.model, args.img_size, args.json, device=args.device)


def cmd_best(args: argparse.Namespace) -> int:
    from bench.best import best_command

    return best_command(args)


def cmd_claims(args: argparse.Namespace) -> int:
    from bench.claims import claims_table_markdown, parse_only, run_claims

    if args.run_dir is not None:  # render a finished run, run nothing
        if args.format != "md":
            raise UserError("a RUN folder is given: only --format md renders one (the README table)")
        print(claims_table_markdown(Path(args.run_dir)), end="")
        return 0
    run_dir = run_claims(
        parse_only(args.only),
        Path(args.results_dir),
        Path(args.reports_dir),
        scale=args.scale,
        progress=not args.quiet,
        jobs=args.jobs,
    )
    print(claims_table_markdown(run_dir, args.reports_dir))
    if args.scale == "tiny":
        from bench.claims.report import TINY_WARNING

        print(f"archbench: note: {TINY_WARNING}", file=sys.stderr)
    print(f"claims: {run_dir}  report: {Path(args.reports_dir) / 'claims.html'}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.compare.command import compare_command

    return compare_command(args)


def cmd_ab(args: argparse.Namespace) -> int:
    from bench.ab import ab_command

    return ab_command(args)


def cmd_baseline(args: argparse.Namespace) -> int:
    from bench.compare.command import baseline_command

    return baseline_command(args)


def add_executor_args(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=None,
        help="where cells run: this machine, one at a time (default), or a Ray cluster "
        "(pip install 'archbench[ray]'; docs/scale-out.md)",
    )
    s.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="Ray cluster to use (default: $RAY_ADDRESS, else a local cluster started for the run)",
    )


def _img_size(text: str) -> int:
    from bench.suite import MAX_IMG_SIZE

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of pixels") from None
    if not 1 <= v <= MAX_IMG_SIZE:
        raise argparse.ArgumentTypeError(f"{v} is out of range: image sizes are 1 to {MAX_IMG_SIZE} pixels")
    return v


def build_parser() -> argparse.ArgumentParser:
    from bench import __version__

    p = argparse.ArgumentParser(prog="archbench", description="Benchmark vision architectures side by side.")
    p.add_argument("--version", action="version", version=f"archbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="list registered models (name, family, source, params); builds nothing")
    s.add_argument(
        "pattern", nargs="?", help="fnmatch glob, e.g. 'timm:vit_*_patch16_224' or 'resnet*' (default: archbench's own models)"
    )
    s.add_argument("--family", choices=FAMILIES, help="only models of this family")
    s.add_argument(
        "--params",
        action="store_true",
        help="count parameters of models without published metadata (builds each on the meta device; slow)",
    )
    s.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("run", help="run a suite file")
    s.add_argument("suite", help="suite YAML file, e.g. suites/default.yaml")
    s.add_argument("--resume", metavar="RUN_DIR", help="complete only the missing cells of an earlier run")
    s.add_argument("--results-dir", default=str(DEFAULT_RESULTS), help="folder of run folders (default results)")
    s.add_argument("--reports-dir", default=str(DEFAULT_REPORTS), help="folder for HTML reports (default reports)")
    s.add_argument("--data", help="dataset path for the suite's measured-accuracy tasks (overrides data_dir)")
    s.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a suite field, validated like the file (repeatable): batch_sizes=[1,8], "
        "timing.max_time_s=2, runtimes=onnxruntime",
    )
    s.add_argument("--dry-run", action="store_true", help="print the cell matrix and a time estimate; measure nothing")
    s.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_executor_args(s)
    s.set_defaults(func=cmd_run)

    from bench.timecmd import add_time_parser

    add_time_parser(sub, cmd_time)

    s = sub.add_parser("report", help="write the HTML (or Markdown) report of a run")
    s.add_argument("run_dir", help="run folder, e.g. results/20260101-120000-default-ab12")
    s.add_argument("-o", "--output", help="output file (default reports/<run_id>.html, or stdout for md)")
    s.add_argument(
        "--format",
        choices=["html", "md"],
        default="html",
        help="html: self-contained page; md: GitHub-flavoured summary for terminals and CI job summaries",
    )
    s.add_argument("--reports-dir", default=str(DEFAULT_REPORTS), help="folder for HTML reports (default reports)")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("index", help="rebuild reports/index.html and reports/latest.html")
    s.add_argument("--results-dir", default=str(DEFAULT_RESULTS), help="folder of run folders (default results)")
    s.add_argument("--reports-dir", default=str(DEFAULT_REPORTS), help="folder for HTML reports (default reports)")
    s.add_argument("--rerender", action="store_true", help="re-render every run's page")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("flops", help="parameters and GMACs of one model, with the cross-check")
    s.add_argument("model", help="registry name, e.g. tv:resnet50 or timm:vit_tiny_patch16_224")
    s.add_argument("--img-size", type=_img_size, help="input size in pixels (default: the model's native size)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "cuda", "meta"],
        help="meta: no weights in memory (FlopCounterMode only), for billion-parameter models",
    )
    s.set_defaults(func=cmd_flops)

    s = sub.add_parser(
        "best",
        help="per model, the fastest runtime/precision/threads whose outputs match fp32 eager; "
        "or the most accurate model within a latency/memory budget",
    )
    s.add_argument("run_dir", help="run folder (or its results.parquet)")
    s.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    s.add_argument("--budget-ms", type=float, metavar="MS", help="latency budget: p50 at most this many milliseconds")
    s.add_argument(
        "--budget-mb", type=float, metavar="MIB", help="memory budget: activation peak (act_peak_mb) at most this many MiB"
    )
    s.add_argument("--batch", type=int, help="batch size the budget applies to (default: the run's smallest)")
    s.set_defaults(func=cmd_best)

    s = sub.add_parser("claims", help="measure the lecture notes' claims (writes reports/claims.html)")
    s.add_argument(
        "run_dir",
        nargs="?",
        default=None,
        help="a finished run folder results/claims/<run_id>: print its README table (--format md)",
    )
    s.add_argument("--format", choices=["md"], default=None, help="md: the README table of RUN")
    s.add_argument("--jobs", type=int, default=2, help="rows run in this many processes, one thread each (default 2)")
    s.add_argument("--only", default=None, help="claim numbers, e.g. 1,5,7 or 3-6")
    s.add_argument(
        "--scale",
        choices=["tiny", "full"],
        default="full",
        help="full: the real experiments; tiny: toy sizes that only smoke-test the code (verdicts mean nothing)",
    )
    s.add_argument("--results-dir", default=str(DEFAULT_RESULTS), help="folder of run folders (default results)")
    s.add_argument("--reports-dir", default=str(DEFAULT_REPORTS), help="folder for HTML reports (default reports)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    s.set_defaults(func=cmd_claims)

    from bench.compare.command import add_baseline_parser, add_compare_parser

    add_compare_parser(sub, cmd_compare)
    add_baseline_parser(sub, cmd_baseline)
    from bench.ab import add_ab_parser

    add_ab_parser(sub, cmd_ab)
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM/SIGHUP, raised where the program is so they unwind exactly like Ctrl-C: the
    running worker is killed, finished cells are kept and run.json says "interrupted"."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


EXIT_IO = 74  # sysexits EX_IOERR: the system failed a read or write (disk full, I/O error)
_ENV_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def _os_error_message(err: OSError) -> str:
    where = err.filename or ""
    if err.filename2:
        where += f" -> {err.filename2}"
    what = err.strerror or str(err)
    return f"{where}: {what}" if where else what


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, _raise_terminated)
        except ValueError:  # not the main thread (main() called from a thread): keep the default
            pass
    try:
        return _dispatch(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"archbench: error: {err}", file=sys.stderr)
        return err.exit_code
    except Terminated as err:
        print(f"archbench: {err}: stopped; finished cells are saved (resume with --resume RUN_DIR)", file=sys.stderr)
        return 128 + err.signum
    except KeyboardInterrupt:
        print("archbench: interrupted; finished cells are saved (resume with --resume RUN_DIR)", file=sys.stderr)
        return 130
    except OSError as err:
        # A path that cannot be written (read-only, not a folder, no permission) is unusable input;
        # a full disk or an I/O error is the system's failure.
        if err.errno in _ENV_ERRNOS or any(t in str(err) for t in ("No space left", "File too large", "quota exceeded")):
            print(f"archbench: error: {_os_error_message(err)} (nothing half-written was left behind)", file=sys.stderr)
            return EXIT_IO
        print(f"archbench: error: {_os_error_message(err)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("archbench: error: out of memory (try a smaller image size or batch)", file=sys.stderr)
        return 1
    except RecursionError:
        print("archbench: error: input nested too deeply to process", file=sys.stderr)
        return 2
