"""pytest-benchmark front end: a pytest module generated from a suite, one ``benchmark`` test per cell.

Teams that already gate CI with pytest-benchmark keep their workflow::

    python -m bench.pytest_front suites/ci.yaml -o benchmarks/test_suite_benchmarks.py
    pytest benchmarks/test_suite_benchmarks.py --benchmark-autosave            # on main: store a baseline
    pytest benchmarks/test_suite_benchmarks.py --benchmark-compare \\
        --benchmark-compare-fail=median:10%                                    # on a branch: gate

Each test builds the cell's model exactly as the archbench worker does (registry, kwargs,
image size, batch, device, precision, runtime, thread count) and hands pytest-benchmark the
same ``step`` callable archbench times: one forward pass under ``torch.inference_mode``.
pytest-benchmark then does its own calibration, rounds and statistics; params/GMACs go to
``extra_info`` so they land in the saved JSON. What it does not do — significance tests,
environment guard, deterministic-metric gate — is `archbench compare`'s job (docs/compare.md).

The generated module embeds the cells (so it runs without the suite file); ``--check`` tells
whether a committed module is still up to date with its suite.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from bench.errors import UserError

GENERATOR = "python -m bench.pytest_front"
CELL_FIELDS = (
    "key",
    "suite",
    "task",
    "model",
    "registry_name",
    "family",
    "device",
    "precision",
    "runtime",
    "batch_size",
    "img_size",
    "threads",
    "model_kwargs",
)


def cell_id(cell: dict[str, Any]) -> str:
    """Readable, ``-k``-friendly id: 'test:cnn-cpu-fp32-eager-b1-32px-t1'."""
    threads = cell.get("threads")
    return (
        f"{cell['model']}-{cell['device']}-{cell['precision']}-{cell['runtime']}-b{cell['batch_size']}-"
        f"{cell['img_size']}px-t{threads if threads is not None else 'all'}"
    )


def _shown_path(path: str | Path) -> str:
    """The suite's path relative to the checkout when inside it, so the header is the same wherever it is generated."""
    root = Path(__file__).resolve().parent.parent
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def generate(suite_path: str | Path) -> str:
    """Source of the pytest module for the suite's speed cells (accuracy tasks are left out)."""
    from bench.suite import expand, load_suite

    suite = load_suite(suite_path)
    # Only what the timed call depends on: timing budgets and metric lists are pytest-benchmark's
    # business here, and leaving them out keeps the module stable when those defaults change.
    cells = [{k: v for k, v in c.to_dict().items() if k in CELL_FIELDS} for c in expand(suite)]
    if not cells:
        raise UserError(f"{suite_path}: suite {suite.name!r} has no speed cells to turn into benchmark tests")
    lines = [
        f'"""pytest-benchmark tests for suite {suite.name!r} ({len(cells)} cells), generated — do not edit.',
        "",
        f"Regenerate: {GENERATOR} {_shown_path(suite_path)} -o <this file>",
        "",
        "Run:     pytest THIS_FILE --benchmark-autosave",
        "Compare: pytest THIS_FILE --benchmark-compare --benchmark-compare-fail=median:10%",
        "Each test times the same model call `archbench run` times (bench.pytest_front.prepare_cell).",
        '"""',
        "",
        "import pytest",
        "",
        "from bench.pytest_front import prepare_cell, cell_id",
        "",
        "CELLS = [",
    ]
    for c in cells:
        lines.append(f"    {c!r},")
    lines += [
        "]",
        "",
        "",
        '@pytest.mark.parametrize("cell", CELLS, ids=[cell_id(c) for c in CELLS])',
        "def test_cell(benchmark, cell):",
        "    step, info = prepare_cell(cell)",
        "    benchmark.group = f\"{cell['suite']} b{cell['batch_size']} {cell['device']}\"",
        "    benchmark.extra_info.update(info)",
        "    benchmark(step)",
        "",
    ]
    return "\n".join(lines)


def prepare_cell(cell_dict: dict[str, Any]) -> tuple[Callable[[], Any], dict[str, Any]]:
    """Build the cell's model and return (``step``, extra_info) through
    :func:`bench.runtimes.build_cell`, as the worker does; skips the test when the machine
    cannot run the cell (no CUDA, no native bf16, missing runtime)."""
    import pytest
    import torch

    from bench.runtimes import Unsupported, build_cell
    from bench.suite import Cell

    cell = Cell.from_dict({k: v for k, v in cell_dict.items() if k in CELL_FIELDS})
    if cell.threads:
        torch.set_num_threads(cell.threads)
    try:
        built = build_cell(cell)
    except Unsupported as err:
        pytest.skip(str(err))
    info = {
        "cell_key": cell.key,
        "params": sum(p.numel() for p in built.model.parameters()),
        "threads": torch.get_num_threads(),
        **built.info,
    }
    return (_synchronized(built.step) if cell.device == "cuda" else built.step), info


def _synchronized(inner: Callable[[], Any]) -> Callable[[], Any]:
    """pytest-benchmark reads a CPU clock: wait for the GPU inside the timed call."""
    import torch

    def step() -> Any:
        out = inner()
        torch.cuda.synchronize()
        return out

    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=GENERATOR, description="Generate a pytest-benchmark module from a suite.")
    p.add_argument("suite", help="suite YAML, e.g. suites/ci.yaml")
    p.add_argument("-o", "--output", help="module to write (default: print to stdout)")
    p.add_argument("--check", action="store_true", help="exit 1 if --output differs from what would be generated")
    args = p.parse_args(argv)
    try:
        text = generate(args.suite)
        if args.check:
            if not args.output:
                raise UserError("--check needs --output FILE (the committed module)")
            current = Path(args.output).read_text() if Path(args.output).is_file() else None
            if current != text:
                print(f"{args.output} is out of date; regenerate: {GENERATOR} {args.suite} -o {args.output}", file=sys.stderr)
                return 1
            print(f"{args.output} is up to date")
            return 0
        if args.output:
            from bench.results import write_text_atomic

            write_text_atomic(Path(args.output), text)
            print(f"wrote {args.output}")
        else:
            sys.stdout.write(text)
        return 0
    except UserError as err:
        print(f"archbench: error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
