"""Shared fixtures: the real CLI in a subprocess, and one real run of suites/ci.yaml."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 900) -> CliResult:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


class ScriptedClock:
    """Returns scripted durations (ms) instead of reading a clock; still calls the step.

    Lets tests drive the timing rules (warm-up, stopping) with known durations."""

    name = "scripted"

    def __init__(self, durations):
        self.durations = list(durations)
        self.calls = 0

    def time_once(self, step):
        step()
        d = self.durations[min(self.calls, len(self.durations) - 1)]
        self.calls += 1
        return d


def write_suite(folder: Path, text: str, name: str = "suite.yaml") -> Path:
    p = folder / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory) -> dict:
    """One real run of suites/ci.yaml through the CLI, shared by the tests that read it."""
    base = tmp_path_factory.mktemp("ci-run")
    res = run_cli(
        "run",
        str(ROOT / "suites" / "ci.yaml"),
        "--results-dir",
        str(base / "results"),
        "--reports-dir",
        str(base / "reports"),
        "-q",
    )
    assert res.returncode == 0, res.stderr + res.stdout
    run_dirs = [d for d in (base / "results").iterdir() if d.is_dir()]
    assert len(run_dirs) == 1
    return {"base": base, "run_dir": run_dirs[0], "reports": base / "reports", "cli": res}


def as_list(v) -> list:
    """A list column as read back: a list (typed tables), a numpy array (Parquet) or JSON text (CSV)."""
    import json

    if isinstance(v, str):
        return json.loads(v)
    return list(v.tolist() if hasattr(v, "tolist") else v)


# What `make test-fast` skips: the `slow` tests. Listed here, in one place, rather than as
# decorators spread over files: whole modules whose every test runs real multi-cell suites
# through worker processes, trains, exports or builds full-size models, then single tests by
# name (parametrized ones by their function name). Chosen from `pytest --durations` (measured on
# a loaded shared 2-core machine, so only the ranking is meaningful). A name that no longer
# exists in a collected module fails the run, so this list cannot silently go stale.
SLOW_MODULES = {
    "test_runner.py",
    "test_timing_cli.py",
    "test_compare_cli.py",
    "test_deploy.py",
    "test_variants.py",
    "test_seed_models.py",
    "test_accuracy_measured.py",
    "test_report_runs.py",
}
SLOW_TESTS = {
    "test_schema.py": {"test_a_real_run_writes_only_columns_the_schema_knows"},
    "test_registry.py": {"test_cli_list"},
    "test_suite.py": {"test_cli_bad_suite_exits_2_without_traceback"},  # unknown-model cases list every timm name
    "test_internimage.py": {
        "test_internimage_h_params_and_gmacs_on_meta",
        "test_internimage_t_layout_params_and_forward",
        "test_importing_the_module_first_keeps_the_builtin_models",
        "test_internimage_t_gmacs_vs_paper_and_sampling_is_counted",
    },
    "test_report.py": {
        "test_index_newest_first_latest_and_claims_link",
        "test_builders_report_failures_instead_of_crashing",
        "test_rich_run_draws_all_eight_figures_and_runtime_speedups",
        "test_hostile_names_render_as_text",
        "test_cli_report_md",
        "test_default_shaped_run_renders_every_applicable_figure",
    },
    "test_claims.py": {
        "test_experiment_reaches_verdict",
        "test_trained_numbers_repeat_with_the_same_seeds",
        "test_c04_alexnet_census",
        "test_c07_mac_ratio_is_the_formula_and_latency_is_only_reported",
        "test_c12_exponents",
        "test_c14_giant_counts",
        "test_run_claims_writes_run_folder_report_and_table",
        "test_an_undeclared_verdict_or_a_crash_is_recorded_and_the_run_goes_on",
    },
    "test_cli.py": {
        "test_flops_json_counts_attention",
        "test_claims_subcommand_runs_one_claim",
        "test_flops_unknown_model_is_exit_2",
    },
    "test_accuracy_scratch.py": {
        "test_training_is_deterministic_for_a_seed_on_cpu",
        "test_resnet_variant_reaches_95_percent_on_digits_within_the_default_budget",
        "test_data_efficiency_fraction_trains_on_a_stratified_subset_with_equal_steps",
    },
    "test_flops.py": {"test_timm_vit_gmacs_equal_closed_form", "test_meta_device_counts_giant_models_without_weights"},
    "test_compare.py": {
        "test_width_change_is_caught_as_params_and_gmacs_change",
        "test_one_process_per_side_cannot_tell_a_process_level_from_a_change",
        "test_3_percent_slowdown_is_not_regressed",
        "test_25_percent_slowdown_is_regressed_with_the_right_cell_named",
        "test_a_phase_of_load_on_one_round_is_left_out_when_seen_and_withstood_when_not",
        "test_same_code_twice_reports_nothing_regressed",
    },
    "test_timecmd.py": {
        "test_time_one_model_prints_p50_with_spread_and_writes_a_run",
        "test_time_dry_run_lists_the_sweep_and_json_shape",
        "test_run_dry_run_with_set",
    },
    "test_bad_inputs.py": {
        "test_killed_driver_leaves_no_worker_no_temp_folder_and_no_running_run",
        "test_memory_limit_too_small_is_recorded_as_oom",
        "test_full_disk_is_one_message_and_exit_74",
    },
    "test_listing.py": {"test_list_params_counts_without_metadata", "test_unknown_pattern_is_exit_2_with_closest_names"},
    "test_best.py": {"test_best_budget_cli_on_a_constructed_run"},
    "test_rounds.py": {
        "test_rounds_are_separate_processes_with_a_round_column",
        "test_one_round_suite_says_its_interval_is_unknown",
    },
    "test_ab.py": {
        "test_ab_runs_end_to_end_with_two_environment_settings",
        "test_identical_sides_under_a_switching_hog_raise_no_alarm",
        "test_ten_percent_slowdown_is_flagged_under_the_hog_and_three_percent_never",
        "test_pairing_is_what_makes_it_work",
    },
}


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects
def pytest_collection_modifyitems(config, items):
    """Mark the slow tests (above), and any test that needs the shared real run of suites/ci.yaml."""
    seen: dict[str, set[str]] = {}
    for item in items:
        module = item.path.name
        name = getattr(item, "originalname", None) or item.name
        seen.setdefault(module, set()).add(name)
        if module in SLOW_MODULES or name in SLOW_TESTS.get(module, ()) or "ci_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    if any("::" in arg for arg in config.args):
        return  # single tests asked for by id: the rest of their module is not collected
    stale = sorted(f"{m}::{t}" for m, names in SLOW_TESTS.items() if m in seen for t in names - seen[m])
    if stale:
        raise pytest.UsageError(f"tests/conftest.py SLOW_TESTS names tests that do not exist: {', '.join(stale)}")
