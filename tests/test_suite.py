import pytest

from bench.errors import UserError
from bench.suite import expand, load_suite, parse_suite
from tests.conftest import ROOT, run_cli, write_suite


def test_shipped_suites_validate_and_expand():
    for path in sorted((ROOT / "suites").glob("*.yaml")):
        suite = load_suite(path)
        assert suite.name
    ci = load_suite(ROOT / "suites" / "ci.yaml")
    cells = expand(ci)
    assert len(cells) == 4 * 2  # four test models × two batch sizes
    assert {c.family for c in cells} == {"cnn", "mobile", "vit", "hybrid"}


def test_cell_keys_are_stable_and_unique():
    s = parse_suite({"name": "k", "models": ["test:cnn", "test:vit"], "batch_sizes": [1, 4], "img_sizes": [32, 64]})
    keys = [c.key for c in expand(s)]
    assert len(keys) == len(set(keys)) == 8
    assert "k|speed|test:cnn|cpu|fp32|eager|b1|32px|tall" in keys
    assert keys == [c.key for c in expand(s)]  # deterministic order


def test_glob_expands_over_registry():
    s = parse_suite({"name": "g", "models": ["test:*"]})
    names = {c.model for c in expand(s)}
    assert {"test:cnn", "test:mobile", "test:vit", "test:hybrid"} <= names


def test_alias_and_kwargs_make_a_distinct_model():
    s = parse_suite({"name": "a", "models": ["test:cnn", {"name": "test:cnn", "alias": "cnn-wide", "kwargs": {"width": 32}}]})
    cells = expand(s)
    assert [c.model for c in cells] == ["test:cnn", "cnn-wide"]
    assert cells[1].model_kwargs == {"width": 32}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("name: x\nmodels: [test:cnn]\nbatch_sizes: [0]\n", "batch_sizes"),
        ("name: x\nmodels: [test:cnn]\nimg_sizes: [-32]\n", "img_sizes"),
        ("name: x\nmodels: [test:cnn]\ndevices: [tpu]\n", "devices[0]"),
        ("name: x\nmodels: [test:cnn]\nprecision: [fp32]\n", "precision: unknown field"),
        ("name: x\nmodels: []\n", "models"),
        ("models: [test:cnn]\n", "name"),
        ("- just\n- a list\n", "a suite must be a YAML mapping"),
    ],
)
def test_invalid_fields_name_file_and_field(tmp_path, text, fragment):
    p = write_suite(tmp_path, text)
    with pytest.raises(UserError) as e:
        load_suite(p)
    assert str(p) in str(e.value)
    assert fragment in str(e.value)


def test_malformed_yaml_names_line(tmp_path):
    p = write_suite(tmp_path, "name: x\nmodels: [test:cnn\nbatch_sizes: [1]\n")
    with pytest.raises(UserError) as e:
        load_suite(p)
    assert "malformed YAML" in str(e.value) and "line" in str(e.value)


def test_unknown_model_and_empty_glob(tmp_path):
    with pytest.raises(UserError, match="unknown model 'tv:resnet5000'"):
        expand(parse_suite({"name": "x", "models": ["tv:resnet5000"]}))
    with pytest.raises(UserError, match="matches no registered model"):
        expand(parse_suite({"name": "x", "models": ["timm:no_such_arch_*"]}))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("name: x\nmodels: [test:cnn\n", "malformed YAML"),
        ("name: x\nmodels: [test:cnn]\nbatch_sizes: [0]\n", "batch sizes must be positive"),
        ("name: x\nmodels: [nope:nothing]\n", "unknown model"),
        ("name: x\nmodels: ['timm:zzz_*']\n", "matches no registered model"),
    ],
)
def test_cli_bad_suite_exits_2_without_traceback(tmp_path, text, fragment):
    p = write_suite(tmp_path, text)
    res = run_cli("run", str(p), "--results-dir", str(tmp_path / "r"), "--reports-dir", str(tmp_path / "p"), "-q")
    assert res.returncode == 2
    assert fragment in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_missing_suite_file(tmp_path):
    res = run_cli("run", str(tmp_path / "nope.yaml"))
    assert res.returncode == 2 and "suite file not found" in res.stderr


# --- the config tree: one validation pass, one timing model, sections kept as written -----------


def error_of(**fields) -> str:
    with pytest.raises(UserError) as e:
        parse_suite({"name": "x", "models": ["test:cnn"], **fields})
    return str(e.value)


def test_compare_section_is_typed_and_checked_when_the_suite_loads():
    suite = parse_suite({"name": "x", "models": ["test:cnn"], "compare": {"thresholds": {"latency": "15%"}, "fail_on": "params"}})
    assert suite.compare.threshold("latency") == 0.15 and suite.compare.fail_on == ["params"]
    msg = error_of(compare={"thresholds": {"latncy": "5%"}})
    assert msg.startswith("suite 'x': invalid suite")
    assert "compare.thresholds: no threshold for 'latncy'" in msg and "latency, throughput, memory" in msg
    assert "compare.alpah: unknown field — did you mean alpha?" in error_of(compare={"alpah": 0.05})


def test_accuracy_tasks_are_typed_by_source_when_the_suite_loads():
    from bench.config import MeasuredTask, ReportedTask, ScratchTask

    suite = parse_suite(
        {
            "name": "x",
            "models": ["test:cnn"],
            "accuracy": [
                {"source": "reported"},
                {"source": "measured", "data_dir": "/d"},
                {"source": "scratch", "models": ["test:cnn"]},
            ],
        }
    )
    assert [type(t) for t in suite.accuracy] == [ReportedTask, MeasuredTask, ScratchTask]
    assert [t.dataset for t in suite.accuracy] == ["imagenet", "imagenet", "digits"]  # each source's default
    # A misspelt field of another source says whose field it is; a field of another source says which.
    msg = error_of(accuracy=[{"source": "reported", "epoch": 3}])
    assert "accuracy[0].epoch: unknown field" in msg and "epochs is a field of source scratch" in msg
    assert "field 'limit' does not apply to source 'scratch' (it is for: measured)" in error_of(
        accuracy=[{"source": "scratch", "models": ["test:cnn"], "limit": 5}]
    )


def test_errors_name_one_path_per_problem_without_union_branch_labels():
    msg = error_of(models=["test:cnn", {"name": "test:vit", "alis": "v"}])
    assert msg.splitlines()[1:] == ["  models[1].alis: unknown field — did you mean alias?"]
    assert "accuracy[0].source: Input should be 'measured', 'scratch' or 'reported' (missing)" in error_of(accuracy=[{}])


def test_sections_are_recorded_as_written():
    """run.json's suite content and the suite hash hold what the file set, not every default."""
    from bench.suite import suite_hash

    data = {"name": "x", "models": ["test:cnn"], "accuracy": [{"source": "reported"}], "compare": {"alpha": 0.05}}
    dumped = parse_suite(data).model_dump(mode="json")
    assert dumped["accuracy"] == [{"source": "reported"}] and dumped["compare"] == {"alpha": 0.05}
    assert parse_suite(dumped) == parse_suite(data)  # the record validates back to the same suite
    assert suite_hash(parse_suite(dumped)) == suite_hash(parse_suite(data))


def test_timing_fields_are_declared_once():
    from bench.config import TimingConfig, TimingSpec
    from bench.metrics import timing

    assert timing.TimingConfig is TimingConfig and issubclass(TimingSpec, TimingConfig)
    spec = parse_suite({"name": "x", "models": ["test:cnn"], "timing": {"min_samples": 7, "percentiles": [99, 50]}}).timing
    cfg = TimingConfig.from_dict(spec.model_dump())  # what the worker builds from a cell's timing dict
    assert cfg.min_samples == 7 and cfg.percentiles == (50.0, 99.0) and cfg.max_time_s == spec.max_time_s
    assert set(TimingSpec.model_fields) - set(TimingConfig.model_fields) == {"ceiling_s", "energy_s", "rounds", "rounds_seed"}
    # One pass may ask no tail for support (the claims' quick median); a suite reports at least one percentile.
    assert TimingConfig(percentiles=()).samples_needed() == 10
    assert "timing.percentiles: a suite reports at least one percentile" in error_of(timing={"percentiles": []})
