
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
