"""Bad input and faults, one row each: the real CLI, the exit code, the words of the message,
and the files that must be exactly as they were afterwards (content and mode).

Each row of CASES started as a defect of issue 20 (a battery of bad inputs against the CLI).
The next defect of this kind is one more row: a name, a setup that prepares the input in a
temp folder and returns the argv, the expected exit code, words the message must contain,
and the folders that must not change. Rows run ``bench.cli.main`` in this process (cheap);
the faults that need real worker processes and signals are the tests after the table.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from bench import results
from bench.cli import main as cli_main
from bench.executor import CellOutcome, Executor, LocalProcessExecutor, worker_env
from bench.runlock import RunLock
from bench.runner import run_suite
from bench.suite import load_suite
from tests.conftest import ROOT, write_suite

SUITE = """
name: bad-inputs
models: [test:cnn, test:mobile]
batch_sizes: [1]
img_sizes: [32]
threads: [1]
metrics: [params, latency]
timing: {warmup_min_iters: 1, warmup_max_s: 0.05, min_samples: 5, max_time_s: 0.05, ceiling_s: 0}
"""


class InProcess(Executor):
    """bench.worker.run_cell in this process: real measurements of tiny models, no start-up cost."""

    def run(self, cell, log_path):
        import torch

        from bench.worker import run_cell

        threads = torch.get_num_threads()
        try:
            rec = run_cell(cell)
        finally:
            torch.set_num_threads(threads)
        return CellOutcome(rec["row"], rec["samples_ms"])


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> dict[str, Path]:
    """One real run of SUITE (2 cells), its suite file, and the rendered report folder."""
    root = tmp_path_factory.mktemp("bad-inputs")
    suite_file = write_suite(root, SUITE)
    summary = run_suite(
        load_suite(suite_file), root / "results", suite_path=str(suite_file), executor=InProcess(), progress=False
    )
    assert summary.counts == {"ok": 2}
    return {"root": root, "suite": suite_file, "run": summary.run_dir}


# ---------------------------------------------------------------------------- the table


@dataclass
class Case:
    name: str
    setup: Callable[[Path, dict], list[str]]  # (tmp folder, fixture) → argv; may leave paths in ctx
    code: int
    words: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()  # keys of ctx naming folders/files that must be byte- and mode-identical
    absent: tuple[str, ...] = ()  # keys of ctx naming paths that must not exist afterwards
    ctx: dict = field(default_factory=dict)


def _copy_run(real: dict, tmp: Path, name: str = "run") -> Path:
    return Path(shutil.copytree(real["run"], tmp / name))


def _baseline_like(real: dict, tmp: Path) -> Path:
    """What `archbench baseline save` keeps from an older archbench: run.json and results.csv only."""
    d = tmp / "base-like"
    d.mkdir()
    for f in ("run.json", "results.csv"):
        shutil.copy2(real["run"] / f, d / f)
    return d


def _suite(tmp: Path, text: str) -> str:
    return str(write_suite(tmp, text, "s.yaml"))


def _edit_table(run: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    df = edit(pd.read_parquet(run / "results.parquet"))
    df.to_parquet(run / "results.parquet", index=False)
    df.to_csv(run / "results.csv", index=False)


def _edit_meta(run: Path, **kw) -> None:
    meta = json.loads((run / "run.json").read_text())
    meta.update(kw)
    (run / "run.json").write_text(json.dumps(meta))


def _rename_model(run: Path, old: str, new: str) -> None:
    def edit(df):
        df["cell_key"] = df["cell_key"].str.replace(old, new, regex=False)
        df["model"] = df["model"].replace(old, new)
        return df

    _edit_table(run, edit)
    sdf = pd.read_parquet(run / "samples.parquet")
    sdf["cell_key"] = sdf["cell_key"].str.replace(old, new, regex=False)
    sdf.to_parquet(run / "samples.parquet", index=False)


def report_baseline_like(tmp, real, ctx):
    ctx["base"] = _baseline_like(real, tmp)
    ctx["made"] = ctx["base"] / "samples.parquet"
    return ["report", str(ctx["base"]), "--reports-dir", str(tmp / "reports")]


def compare_against_baseline_like(tmp, real, ctx):
    ctx["base"] = _baseline_like(real, tmp)
    ctx["made"] = ctx["base"] / "cells"
    return ["compare", str(ctx["base"]), str(real["run"]), "--format", "json", "-o", str(tmp / "c.json")]


def report_run_id_traversal(tmp, real, ctx):
    run = _copy_run(real, tmp / "deep" / "results")
    _edit_meta(run, run_id="../../x")
    ctx["outside"] = tmp / "deep" / "x.html"
    ctx["outside2"] = tmp / "x.html"
    return ["report", str(run), "--reports-dir", str(tmp / "deep" / "reports")]


def alias_bomb(tmp, real, ctx):
    levels = "".join(f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))
    ctx["results"] = tmp / "results"
    return [
        "run",
        _suite(tmp, "a: &a [x, x, x, x, x, x, x, x, x]\n" + levels + "name: bomb\nmodels: [test:cnn]\n"),
        "--results-dir",
        str(ctx["results"]),
    ]


def deep_nesting(tmp, real, ctx):
    ctx["results"] = tmp / "results"
    return ["run", _suite(tmp, "name: deep\nmodels: " + "[" * 50_000), "--results-dir", str(ctx["results"])]


def batch_true(tmp, real, ctx):
    ctx["results"] = tmp / "results"
    return ["run", _suite(tmp, "name: t\nmodels: [test:cnn]\nbatch_sizes: [true]\n"), "--results-dir", str(ctx["results"])]


def batch_text(tmp, real, ctx):
    ctx["results"] = tmp / "results"
    return ["run", _suite(tmp, "name: t\nmodels: [test:cnn]\nbatch_sizes: ['8']\n"), "--results-dir", str(ctx["results"])]


def suite_with(line: str):
    def setup(tmp, real, ctx):
        ctx["results"] = tmp / "results"
        return ["run", _suite(tmp, f"name: t\nmodels: [test:cnn]\n{line}\n"), "--results-dir", str(ctx["results"])]

    return setup


def python_tag(tmp, real, ctx):
    ctx["results"] = tmp / "results"
    return [
        "run",
        _suite(tmp, "name: !!python/object/apply:os.getcwd []\nmodels: [test:cnn]\n"),
        "--results-dir",
        str(ctx["results"]),
    ]


def data_missing(tmp, real, ctx):
    ctx["results"] = tmp / "results"
    text = "name: acc\nmodels: [test:cnn]\naccuracy: [{source: measured, dataset: imagefolder, data_dir: " + str(tmp) + "}]\n"
    return ["run", _suite(tmp, text), "--data", str(tmp / "nonexistent"), "--results-dir", str(ctx["results"])]


def data_unused(tmp, real, ctx):
    ctx["results"] = tmp / "results"
    text = "name: acc\nmodels: [test:cnn]\naccuracy: [{source: reported}]\n"
    return ["run", _suite(tmp, text), "--data", str(tmp), "--results-dir", str(ctx["results"])]


def resume_edited_suite(tmp, real, ctx):
    ctx["run"] = _copy_run(real, tmp)
    edited = real["suite"].read_text().replace("batch_sizes: [1]", "batch_sizes: [1, 2]")
    return ["run", _suite(tmp, edited), "--resume", str(ctx["run"]), "--no-report"]


def resume_locked(tmp, real, ctx):
    ctx["run"] = _copy_run(real, tmp)
    ctx["lock"] = RunLock.acquire(ctx["run"])  # another driver holds the run; released after the call
    ctx["snapshot_after_setup"] = True
    return ["run", str(real["suite"]), "--resume", str(ctx["run"]), "--no-report"]


def reports_dir_unwritable(tmp, real, ctx):
    (tmp / "file").write_text("a file, not a folder")
    ctx["results"] = tmp / "results"
    return ["run", str(real["suite"]), "--results-dir", str(ctx["results"]), "--reports-dir", str(tmp / "file" / "reports")]


def report_output_unwritable(tmp, real, ctx):
    (tmp / "file").write_text("a file, not a folder")
    ctx["run"] = real["run"]
    return ["report", str(real["run"]), "-o", str(tmp / "file" / "r.html")]


def flops_huge_image(tmp, real, ctx):
    return ["flops", "test:cnn", "--img-size", "100000"]


def compare_zero_rows(tmp, real, ctx):
    new = _copy_run(real, tmp, "new")
    _edit_table(new, lambda df: df.iloc[0:0])
    ctx["base"] = real["run"]
    return ["compare", str(real["run"]), str(new)]


def compare_nothing_in_common(tmp, real, ctx):
    new = _copy_run(real, tmp, "new")
    _rename_model(new, "test:cnn", "other-cnn")
    _rename_model(new, "test:mobile", "other-mobile")
    return ["compare", str(real["run"]), str(new)]


def compare_ok_row_without_latency(tmp, real, ctx):
    new = _copy_run(real, tmp, "new")

    def edit(df):
        df.loc[df["model"] == "test:cnn", "latency_ms_p50"] = float("nan")
        return df

    _edit_table(new, edit)
    return ["compare", str(real["run"]), str(new), "--format", "md"]


def compare_markup_names(tmp, real, ctx):
    base, new = _copy_run(real, tmp, "base"), _copy_run(real, tmp, "new")
    for run in (base, new):
        _rename_model(run, "test:cnn", "cnn [/]")
        _edit_meta(run, run_id="[bold]x[/x]")
    return ["compare", str(base), str(new), "--allow-env-change", "--all"]


CASES = [
    # 1. a read never writes: not the tables, not samples.parquet, not cells/
    Case("report on a baseline-like folder", report_baseline_like, 0, ("report:",), ("base",), ("made",)),
    Case("compare against a baseline-like folder", compare_against_baseline_like, 0, (), ("base",), ("made",)),
    # 2. a data-derived file name stays in its folder
    Case("report with run_id ../../x", report_run_id_traversal, 0, ("report:",), (), ("outside", "outside2")),
    # 3. YAML: alias bombs and depth are refused while loading
    Case("suite alias bomb", alias_bomb, 2, ("expands to more than",), (), ("results",)),
    Case("suite nested 50,000 deep", deep_nesting, 2, ("nested more than",), (), ("results",)),
    Case("python tag in a suite", python_tag, 2, ("malformed YAML",), (), ("results",)),
    # 11. strict integers
    Case("batch_sizes: [true]", batch_true, 2, ("batch_sizes[0]", "integer"), (), ("results",)),
    Case("batch_sizes: ['8']", batch_text, 2, ("batch_sizes[0]", "integer"), (), ("results",)),
    Case("timeout_s: .inf", suite_with("timeout_s: .inf"), 2, ("timeout_s", "finite")),
    Case("timeout_s: true", suite_with("timeout_s: true"), 2, ("timeout_s", "valid number")),
    Case("img_sizes: [100000]", suite_with("img_sizes: [100000]"), 2, ("img_sizes", "4096")),
    Case("run --data /nonexistent", data_missing, 2, ("--data", "no such file"), (), ("results",)),
    Case("run --data no task reads", data_unused, 2, ("--data", "no accuracy task"), (), ("results",)),
    # 7, 9. resume validates before writing; one driver per run folder
    Case("resume with an edited suite", resume_edited_suite, 2, ("has changed since this run started",), ("run",)),
    Case("resume a run another driver holds", resume_locked, 2, ("another archbench process",), ("run",)),
    # 10. unwritable outputs: checked before the first cell; one message, exit 2
    Case("run with an unwritable reports folder", reports_dir_unwritable, 2, ("cannot be written",), (), ("results",)),
    Case("report -o where no file can be", report_output_unwritable, 2, ("r.html", "Not a directory"), ("run",)),
    Case("flops --img-size 100000", flops_huge_image, 2, ("out of range", "4096")),
    # 8. compare on nothing is unusable input; an ok row without its latency fails
    Case("compare NEW with zero rows", compare_zero_rows, 2, ("no cells",), ("base",)),
    Case("compare with no cell in common", compare_nothing_in_common, 2, ("no cell in common",)),
    Case("compare ok row with NaN latency", compare_ok_row_without_latency, 1, ("damaged",)),
    # 4. markup in names is printed, not interpreted
    Case("compare with markup in names", compare_markup_names, 0, ("cnn [/]", "[bold]x[/x]")),
]


def _snapshot(path: Path) -> dict[str, tuple[str, int]]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode) for p in files}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, real, tmp_path, capsys):
    ctx: dict = {}
    argv = case.setup(tmp_path, real, ctx)
    before = {k: _snapshot(ctx[k]) for k in case.unchanged}
    capsys.readouterr()
    try:
        try:
            code = cli_main(argv)
        except SystemExit as exit_:  # argparse rejects an argument
            code = exit_.code
    finally:
        if "lock" in ctx:
            ctx["lock"].release()
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == case.code, text
    assert "Traceback" not in text
    for word in case.words:
        assert word in text, f"{word!r} not in: {text}"
    for k in case.unchanged:
        assert _snapshot(ctx[k]) == before[k], f"{k} changed"
    for k in case.absent:
        assert not ctx[k].exists(), f"{ctx[k]} was written"


# ---------------------------------------------------------------------------- storage rules


def test_files_are_written_with_the_usual_mode(real, tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    expected = 0o666 & ~mask
    assert results.file_mode() == expected
    reports = tmp_path / "reports"
    assert cli_main(["report", str(real["run"]), "--reports-dir", str(reports)]) == 0
    written = [p for p in list(real["run"].rglob("*")) + list(reports.rglob("*")) if p.is_file() and p.name != ".lock"]
    assert written and all(p.stat().st_mode & 0o777 == expected for p in written), {
        str(p): oct(p.stat().st_mode) for p in written
    }


def test_consolidate_never_writes_fewer_rows_over_more(real, tmp_path):
    base = _baseline_like(real, tmp_path)
    before = _snapshot(base)
    df = results.consolidate(base)  # no cells/ here: zero records
    assert len(df) == 2 and _snapshot(base) == before


def test_malformed_cell_records_are_skipped_and_named(real, tmp_path):
    run = _copy_run(real, tmp_path)
    good = len(results.read_cell_records(run))
    for name, text in (
        ("list", "[]"),
        ("nokey", '{"cell": {}, "row": {}}'),
        ("rowlist", '{"cell": {"key": "k"}, "row": []}'),
        ("samples", '{"cell": {"key": "k"}, "row": {}, "samples_ms": ["x"]}'),
        ("trunc", '{"cell": '),
    ):
        (run / "cells" / f"zz-{name}.json").write_text(text)
    problems: list[str] = []
    assert len(results.read_cell_records(run, problems)) == good
    assert len(problems) == 5 and all("ignored" in p for p in problems)
    assert len(results.load_results(run)) == 2  # the stored table is read as it is


def test_latest_html_survives_concurrent_index_rebuilds(real, tmp_path):
    from bench.report import update_index

    results_root, reports = real["run"].parent, tmp_path / "reports"
    update_index(results_root, reports)
    errors: list[BaseException] = []

    def rebuild():
        for _ in range(15):
            try:
                update_index(results_root, reports)
            except BaseException as err:  # noqa: BLE001 - any failure is the finding
                errors.append(err)

    threads = [threading.Thread(target=rebuild) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (reports / "latest.html").read_bytes() == (reports / f"{real['run'].name}.html").read_bytes()
    assert not [p for p in reports.iterdir() if p.name.endswith(".tmp")]


def test_run_folders_are_created_exclusively(tmp_path, monkeypatch):
    from bench import runner

    ids = iter(["20990101-000000-s-aaaa", "20990101-000000-s-aaaa", "20990101-000000-s-bbbb"])
    monkeypatch.setattr(runner, "new_run_id", lambda name: next(ids))
    taken = tmp_path / "20990101-000000-s-aaaa"
    taken.mkdir()
    (taken / "run.json").write_text("{}")
    run_dir, run_id = runner._create_run_dir(tmp_path, "s")
    assert run_id.endswith("bbbb") and run_dir.is_dir() and (taken / "run.json").read_text() == "{}"


def test_a_failure_inside_the_run_still_finalises_run_json(tmp_path):
    class Broken(Executor):
        def run(self, cell, log_path):
            raise RuntimeError("executor lost its connection")

    suite_file = write_suite(tmp_path, SUITE)
    with pytest.raises(RuntimeError):
        run_suite(load_suite(suite_file), tmp_path / "r", executor=Broken(), progress=True)
    meta = json.loads(next((tmp_path / "r").iterdir()).joinpath("run.json").read_text())
    assert meta["status"] == "failed" and "lost its connection" in meta["error"]


def test_progress_bar_prints_markup_in_names_as_text(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # the Rich bar, as on a terminal
    suite_file = write_suite(
        tmp_path,
        SUITE.replace(
            "models: [test:cnn, test:mobile]",
            """models:
  - {name: "fault:model", alias: "bad [/x]", kwargs: {mode: raise}}
  - {name: test:cnn, alias: "cnn [/]"}""",
        ),
    )
    # Unescaped, Rich reads `[/x]` as a closing tag and raises MarkupError mid-run: the run
    # would not complete. What the live bar itself printed is not asserted: under load its
    # refresh thread makes that output vary from run to run.
    summary = run_suite(load_suite(suite_file), tmp_path / "r", executor=InProcess(), progress=True)
    assert summary.counts == {"failed": 1, "ok": 1}
    assert json.loads((summary.run_dir / "run.json").read_text())["status"] == "complete"
    # The plain per-cell lines (off a terminal) print the names as text too.
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    capsys.readouterr()
    plain = run_suite(load_suite(suite_file), tmp_path / "p", executor=InProcess(), progress=True)
    assert plain.counts == {"failed": 1, "ok": 1}
    out = capsys.readouterr().out
    assert "bad [/x] b1" in out and ": failed" in out and "cnn [/] b1" in out


def test_threads_above_the_core_count_are_warned(capsys):
    from bench.runner import _warn_threads
    from bench.suite import parse_suite, expand

    cores = len(os.sched_getaffinity(0))
    _warn_threads(expand(parse_suite({"name": "t", "models": ["test:cnn"], "threads": [1, cores + 3]})))
    err = capsys.readouterr().err
    assert f"threads [{cores + 3}] exceed the {cores} cores" in err


def test_only_download_cells_may_reach_the_hub():
    from bench.suite import Cell

    cell = Cell("s", "m", "test:cnn", "cnn", "cpu", "fp32", "eager", 1, 32, 1, task="accuracy")
    assert worker_env(cell, {})["HF_HUB_OFFLINE"] == "1"
    fetch = Cell("s", "m", "test:cnn", "cnn", "cpu", "fp32", "eager", 1, 32, 1, task="accuracy", options={"download": True})
    assert "HF_HUB_OFFLINE" not in worker_env(fetch, {})


def test_compare_markdown_escapes_html_and_backticks():
    from bench.compare.render import _md, _md_code

    text = _md_code("x`</code><img src=x onerror=alert(1)>|*a*")
    assert text.startswith("<code>") and text.endswith("</code>") and text.count("<") == 2
    assert "`" not in text and "|" not in _md("a|b") and "*" not in text


# ---------------------------------------------------------------------------- faults with real processes


def _wait(cond: Callable[[], bool], timeout: float = 120.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (template, forked or fresh worker, guardian)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = set(), [pid]
    while frontier:
        p = frontier.pop()
        kids = {c for c, pp in parent.items() if pp == p} - found
        found |= kids
        frontier.extend(kids)
    return found


HANG = """
name: hang
models: [{name: "fault:model", alias: hangs, kwargs: {mode: hang}}]
img_sizes: [32]
metrics: [params, latency]
timing: {ceiling_s: 0}
timeout_s: 600
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "kill-9"])
def test_killed_driver_leaves_no_worker_no_temp_folder_and_no_running_run(sig, tmp_path):
    tmp_root = tmp_path / "tmp"
    tmp_root.mkdir()
    suite = write_suite(tmp_path, HANG)
    driver = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", str(suite), "--results-dir", str(tmp_path / "r"), "--no-report", "-q"],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The cell's log appears when its worker starts (hang: it then never finishes).
        assert _wait(lambda: list((tmp_path / "r").glob("*/logs/*.log")), 300), "the worker never started"
        workers = _descendants(driver.pid)
        driver.send_signal(sig)
        _, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
    if sig == signal.SIGTERM:
        assert driver.returncode == 128 + signal.SIGTERM and "SIGTERM" in err and "Traceback" not in err
    assert workers
    assert _wait(lambda: not any(Path(f"/proc/{p}").exists() for p in workers), 60), "a child outlived its driver"
    assert _wait(lambda: not list(tmp_root.glob("archbench-cell-*")), 60), list(tmp_root.iterdir())
    run_json = next((tmp_path / "r").iterdir()) / "run.json"
    assert _wait(lambda: json.loads(run_json.read_text())["status"] == "interrupted", 60), run_json.read_text()


def test_memory_limit_too_small_is_recorded_as_oom(tmp_path):
    from bench.suite import expand, parse_suite

    cell = expand(
        parse_suite(
            {
                "name": "m",
                "models": ["test:cnn"],
                "img_sizes": [32],
                "memory_limit_mb": 1,
                "metrics": ["params"],
                "timeout_s": 300,
            }
        )
    )[0]
    forked = LocalProcessExecutor()
    try:
        out = forked.run(cell, tmp_path / "cell.log")
    finally:
        forked.close()
    assert out.row["status"] == "oom", out.row
    assert "memory_limit_mb=1" in out.row["error"]
    fresh = LocalProcessExecutor(use_template=False).run(cell, tmp_path / "fresh.log")
    assert fresh.row["status"] == "oom" and "memory_limit_mb=1" in fresh.row["error"], fresh.row


def test_full_disk_is_one_message_and_exit_74(real, tmp_path):
    """A real write failure: the report is written under RLIMIT_FSIZE (the kernel refuses the
    write with EFBIG, as a full disk refuses it with ENOSPC)."""
    import resource

    reports = tmp_path / "reports"
    reports.mkdir()
    old = reports / f"{real['run'].name}.html"
    old.write_text("the previous report")

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    proc = subprocess.run(
        [sys.executable, "-m", "bench", "report", str(real["run"]), "--reports-dir", str(reports)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=300,
    )
    assert proc.returncode == 74, proc.stderr
    assert "File too large" in proc.stderr and "Traceback" not in proc.stderr
    assert str(old) in proc.stderr  # names the file asked for, not its temporary twin
    assert old.read_text() == "the previous report" and [p.name for p in reports.iterdir()] == [old.name]
