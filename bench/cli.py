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

from bench.errors import UserError

DEFAULT_RESULTS = Path("results")
DEFAULT_REPORTS = Path("reports")


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from bench import registry

    pattern = args.pattern or "*"
    specs = registry.list_models(pattern) if args.pattern else [s for s in registry.list_models("test:*")] + registry.list_models("archbench:*")
    if not specs:
        raise UserError(f"no registered model matches {pattern!r}")
    from rich.markup import escape

    table = Table(title=escape(f"models matching {pattern!r}") if args.pattern else "archbench's own models (give a PATTERN to search tv: and timm:)")
    for col in ("name", "family", "source", "default img", "params (M)"):
        table.add_column(col, justify="right" if col in ("default img", "params (M)") else "left")
    for spec in specs[: args.limit]:
        params = ""
        if not args.no_params:
            params = _meta_params(spec.name)
        table.add_row(spec.name, spec.family, spec.source, str(spec.default_img_size), params)
    Console().print(table)
    if len(specs) > args.limit:
        print(f"… {len(specs) - args.limit} more; narrow the pattern or raise --limit")
    return 0


def _meta_params(name: str) -> str:
    """Parameter count without allocating weights (meta device)."""
    import torch

    from bench import registry

    try:
        with torch.device("meta"):
            model = registry.create_model(name)
        return f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}"
    except Exception:
        return "?"


def cmd_run(args: argparse.Namespace) -> int:
    from bench.runner import run_suite
    from bench.suite import load_suite

    from bench.runner import ensure_writable

    suite = load_suite(args.suite)
    if args.data:
        suite = _override_data(suite, args.data)
    if not args.no_report:
        ensure_writable(Path(args.reports_dir))  # before the first cell, not after the whole run
    executor = make_executor(args.executor or suite.executor, args.ray_address)
    try:
        summary = run_suite(suite, Path(args.results_dir), suite_path=str(args.suite),
                            resume=Path(args.resume) if args.resume else None, progress=not args.quiet,
                            executor=executor)
    finally:
        executor.close()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()))
    print(f"run {summary.run_id}: {summary.total} cells ({counts}); measured {summary.measured}, kept {summary.reused}")
    print(f"results: {summary.run_dir}/results.parquet (+ results.csv, samples.parquet, run.json)")
    if not args.no_report:
        from bench.report import render_run_report, update_index

        page = render_run_report(summary.run_dir, Path(args.reports_dir) / f"{summary.run_id}.html")
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
    if new.accuracy == suite.accuracy and not any(t.get("data_dir") == data for t in suite.accuracy):
        raise UserError(f"--data {data}: no accuracy task of suite {suite.name!r} reads a dataset from disk "
                        "(only measured/scratch tasks on imagefolder, imagenet or cifar10 do)")
    return new


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
    from bench.best import best_for_run, format_best

    print(format_best(best_for_run(Path(args.run_dir))))
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    from bench.claims import claims_table_markdown, parse_only, run_claims

    run_dir = run_claims(parse_only(args.only), Path(args.results_dir), Path(args.reports_dir), scale=args.scale,
                         progress=not args.quiet)
    print(claims_table_markdown(run_dir))
    print(f"claims: {run_dir}  report: {Path(args.reports_dir) / 'claims.html'}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.compare.command import compare_command

    return compare_command(args)


def cmd_baseline(args: argparse.Namespace) -> int:
    from bench.compare.command import baseline_command

    return baseline_command(args)


def add_executor_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--executor", choices=["local", "ray"], default=None,
                   help="where cells run: this machine, one at a time (default), or a Ray cluster "
                        "(pip install 'archbench[ray]'; docs/scale-out.md)")
    s.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster to use (default: $RAY_ADDRESS, else a local cluster started for the run)")


MAX_IMG_SIZE = 4096  # a 4096² input is already 200 MB per image in fp32; larger ones exhaust memory


def _img_size(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of pixels") from None
    if not 1 <= v <= MAX_IMG_SIZE:
        raise argparse.ArgumentTypeError(f"{v} is out of range: image sizes are 1 to {MAX_IMG_SIZE} pixels")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="archbench", description="Benchmark vision architectures side by side.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="list registered models (name, family, source, params)")
    s.add_argument("pattern", nargs="?", help="fnmatch glob, e.g. 'timm:vit_*_patch16_224' or 'resnet*'")
    s.add_argument("--limit", type=int, default=200)
    s.add_argument("--no-params", action="store_true", help="skip building models for their parameter count")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("run", help="run a suite file")
    s.add_argument("suite", help="suite YAML file, e.g. suites/default.yaml")
    s.add_argument("--resume", metavar="RUN_DIR", help="complete only the missing cells of an earlier run")
    s.add_argument("--results-dir", default=str(DEFAULT_RESULTS))
    s.add_argument("--reports-dir", default=str(DEFAULT_REPORTS))
    s.add_argument("--data", help="dataset path for the suite's measured-accuracy tasks (overrides data_dir)")
    s.add_argument("--no-report", action="store_true")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_executor_args(s)
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("report", help="write the HTML (or Markdown) report of a run")
    s.add_argument("run_dir")
    s.add_argument("-o", "--output", help="output file (default reports/<run_id>.html, or stdout for md)")
    s.add_argument("--format", choices=["html", "md"], default="html")
    s.add_argument("--reports-dir", default=str(DEFAULT_REPORTS))
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("index", help="rebuild reports/index.html and reports/latest.html")
    s.add_argument("--results-dir", default=str(DEFAULT_RESULTS))
    s.add_argument("--reports-dir", default=str(DEFAULT_REPORTS))
    s.add_argument("--rerender", action="store_true", help="re-render every run's page")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("flops", help="parameters and GMACs of one model, with the cross-check")
    s.add_argument("model")
    s.add_argument("--img-size", type=_img_size)
    s.add_argument("--json", action="store_true")
    s.add_argument("--device", default="cpu", choices=["cpu", "cuda", "meta"],
                   help="meta: no weights in memory (FlopCounterMode only), for billion-parameter models")
    s.set_defaults(func=cmd_flops)

    s = sub.add_parser("best", help="per model and device, the fastest variant whose outputs match fp32 eager")
    s.add_argument("run_dir")
    s.set_defaults(func=cmd_best)

    s = sub.add_parser("claims", help="measure the lecture notes' claims (writes reports/claims.html)")
    s.add_argument("--only", default=None, help="claim numbers, e.g. 1,5,7 or 3-6")
    s.add_argument("--scale", choices=["tiny", "full"], default="full")
    s.add_argument("--results-dir", default=str(DEFAULT_RESULTS))
    s.add_argument("--reports-dir", default=str(DEFAULT_REPORTS))
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=cmd_claims)

    from bench.compare.command import add_baseline_parser, add_compare_parser

    add_compare_parser(sub, cmd_compare)
    add_baseline_parser(sub, cmd_baseline)
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
