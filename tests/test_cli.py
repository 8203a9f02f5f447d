"""The CLI wiring of the stage modules: each subcommand reaches its module and exits right."""

import json

from tests.conftest import run_cli


def test_flops_json_counts_attention():
    res = run_cli("flops", "timm:vit_tiny_patch16_224", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for key in ("model", "img_size", "params", "gmacs", "gmacs_check", "uncounted_ops"):
        assert key in out
    assert abs(out["gmacs"] - 1.2537) < 0.0005 and out["params"] == 5_717_416


def test_flops_unknown_model_is_exit_2():
    res = run_cli("flops", "tv:nope")
    assert res.returncode == 2 and "unknown model" in res.stderr and "Traceback" not in res.stderr


def test_claims_subcommand_runs_one_claim(tmp_path):
    res = run_cli(
        "claims",
        "--only",
        "4",
        "--scale",
        "tiny",
        "--results-dir",
        str(tmp_path / "r"),
        "--reports-dir",
        str(tmp_path / "p"),
        "-q",
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "p" / "claims.html").is_file()
    runs = list((tmp_path / "r" / "claims").iterdir())
    data = json.loads((runs[0] / "claims.json").read_text())
    assert "AlexNet" in json.dumps(data, ensure_ascii=False)
    assert "| computed | **computed** |" in res.stdout  # claim 4 is arithmetic: a computed row, never judged
    # tiny verdicts are smoke tests: the terminal says so, and the footer names the --reports-dir used
    assert "these verdicts say nothing about the claims" in res.stderr and "scale tiny" in res.stdout
    assert str(tmp_path / "p" / "claims.html") in res.stdout


def test_claims_bad_only_is_exit_2(tmp_path):
    res = run_cli("claims", "--only", "1,x", "--results-dir", str(tmp_path))
    assert res.returncode == 2 and "not a claim number" in res.stderr


def test_best_view_of_a_real_run(ci_run):
    res = run_cli("best", str(ci_run["run_dir"]))
    assert res.returncode == 0, res.stderr
    for model in ("test:cnn", "test:mobile", "test:vit", "test:hybrid"):
        assert model in res.stdout
    assert "eager/fp32" in res.stdout  # the only variant in the CI suite wins by default


def _subparsers(parser, path=()):
    import argparse

    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, (*path, name))


def test_every_help_page_renders():
    # argparse %-formats help strings only when --help is asked for: a stray "%" in one
    # (e.g. an f-string printing "5%") is a traceback on `archbench ab --help`, found by users.
    from bench.cli import build_parser

    pages = dict(_subparsers(build_parser()))
    assert {("run",), ("compare",), ("ab",), ("claims",), ("baseline", "save")} <= set(pages)
    for path, parser in pages.items():
        text = parser.format_help()
        assert parser.prog.endswith(" ".join(path)) and "usage:" in text, path
        assert "%%" not in text, f"unescaped percent sign in {' '.join(path)} --help"
