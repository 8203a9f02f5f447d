"""`archbench list` and name lookup: every match shown and counted, closest spellings, bare names."""

import json

import pytest

from bench import registry
from bench.errors import UserError
from tests.conftest import run_cli


def test_list_shows_every_match_with_full_names_when_piped():
    res = run_cli("list", "timm:vit_*")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0].split("\t") == ["name", "family", "source", "default_img", "params_m"]
    names = [line.split("\t")[0] for line in lines[1:]]
    expected = registry.list_names("timm:vit_*")
    assert names == expected and len(names) > 200  # no cap
    assert f"{len(expected)} models matching 'timm:vit_*'" in res.stderr
    assert "Warning" not in res.stderr


def test_list_json_family_and_published_params():
    res = run_cli("list", "tv:regnet_*", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert {r["name"] for r in rows} == set(registry.list_names("tv:regnet_*"))
    r = next(r for r in rows if r["name"] == "tv:regnet_y_400mf")
    assert r["params_m"] == pytest.approx(4.344144) and r["params_from"] == "library metadata"
    res = run_cli("list", "tv:*", "--family", "mobile", "--json")
    rows = json.loads(res.stdout)
    assert rows and {r["family"] for r in rows} == {"mobile"}
    assert "tv:mobilenet_v2" in {r["name"] for r in rows} and "tv:resnet50" not in {r["name"] for r in rows}


def test_list_params_counts_without_metadata():
    res = run_cli("list", "test:*", "--params", "--json")
    rows = json.loads(res.stdout)
    assert all(r["params_m"] and r["params_from"] == "counted (meta device)" for r in rows)


@pytest.mark.parametrize(
    "typo, first",
    [
        ("tv:resnet5", "tv:resnet50"),
        ("timm:vit_smal_patch16_224", "timm:vit_small_patch16_224"),
        ("tv:mobilenetv2", "tv:mobilenet_v2"),
    ],
)
def test_typos_suggest_the_closest_spelling(typo, first):
    with pytest.raises(UserError) as err:
        registry.get_spec(typo)
    assert f"Did you mean: {first}" in str(err.value)


def test_a_bare_name_with_one_match_resolves_and_says_which(capsys):
    assert registry.get_spec("vit_small_patch16_224").name == "timm:vit_small_patch16_224"
    assert "resolved to timm:vit_small_patch16_224" in capsys.readouterr().err
    with pytest.raises(UserError, match="ambiguous: tv:resnet50, timm:resnet50"):
        registry.get_spec("resnet50")


def test_unknown_pattern_is_exit_2_with_closest_names():
    res = run_cli("list", "tv:resnet5")
    assert res.returncode == 2 and "tv:resnet50" in res.stderr and "Traceback" not in res.stderr


def test_version():
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.startswith("archbench ")
