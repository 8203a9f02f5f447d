"""The lecture-claims experiments (bench.claims): contract, rules, tiny runs, report.

Every experiment runs for real at scale "tiny" (seconds each); numbers that are pure shape
arithmetic are checked against published values; every verdict rule is shown to be able
to fail on contrived inputs.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from bench.claims import base
from bench.claims import _measure as M
from bench.claims.base import CAVEAT, EXPERIMENTS, FAILS, HOLDS, VERDICTS, Decision, load
from bench.claims.runner import fixed_threads, parse_only, run_claims, select_claims
from bench.errors import UserError

NOTES = Path(__file__).resolve().parents[2] / "shared" / "seed" / "lecture-notes-ko.md"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("*", "").replace("|", " ").replace("`", "")).strip()


# ----------------------------------------------------------------- contract and docstrings
def test_every_claim_has_a_parsed_docstring_with_all_sections():
    assert sorted(EXPERIMENTS) == list(range(1, 15))
    for cid in EXPERIMENTS:
        claim, module = load(cid)
        assert claim.id == cid and claim.slug == EXPERIMENTS[cid]
        assert claim.quote_ko and len(claim.quote_ko) == len(claim.quote_en)
        assert any(re.search(r"[\uac00-\ud7a3]", q) for q in claim.quote_ko), claim.slug  # Hangul present
        assert len(claim.method) > 100
        assert all(re.search(rf"^{v}:", claim.rule, re.M) for v in VERDICTS)
        assert callable(module.run) and callable(module.decide)


@pytest.mark.skipif(not NOTES.is_file(), reason="lecture notes not in this checkout's ../shared/seed")
def test_korean_quotes_are_verbatim_lines_of_the_notes():
    notes = _norm(NOTES.read_text(encoding="utf-8"))
    for cid in EXPERIMENTS:
        claim, _ = load(cid)
        for q in claim.quote_ko:
            assert _norm(q) in notes, f"claim {cid}: {q!r} is not in the notes"


def test_docstring_parser_rejects_missing_rules():
    doc = '''Claim 3: Something.

    Korean:
        한국어
    English:
        English
    Method:
        how
    Verdict:
        holds: a
        holds with caveat: b
    '''
    with pytest.raises(ValueError, match="does not hold here"):
        base.parse_docstring(doc, 3, "x")
    with pytest.raises(ValueError, match="Claim 4"):
        base.parse_docstring(doc, 4, "x")


def test_decision_needs_a_known_verdict_and_a_reason():
    with pytest.raises(ValueError):
        Decision("probably")
    with pytest.raises(ValueError):
        Decision(CAVEAT)  # no caveat text
    assert Decision(HOLDS).caveat == ""


def test_only_and_scale_are_validated():
    assert parse_only("1,5,7") == [1, 5, 7]
    assert parse_only("3-5, 14") == [3, 4, 5, 14]
    assert parse_only(None) is None
    assert select_claims(None) == list(range(1, 15))
    with pytest.raises(UserError, match="unknown claim"):
        parse_only("0,15")
    with pytest.raises(UserError, match="not a claim number"):
        parse_only("one")
    with pytest.raises(UserError, match="scale"):
        base.check_scale("huge")


# ----------------------------------------------------------------- rules can fail
def _mod(cid):
    return load(cid)[1]


def test_rules_give_each_verdict_on_contrived_inputs():
    m = _mod(1)
    assert m.decide([500, 1e5], 1000, 100_000, 0.95, 0.96).verdict == HOLDS
    assert m.decide([500, 1e5], 1000, 100_000, 0.80, 0.96).verdict == CAVEAT
    assert m.decide([50, 1e5], 1000, 100_000, 0.95, 0.96).verdict == FAILS

    m = _mod(2)
    g = {"maxpool": 1.0, "strided": 1.5, "none": 8.0, "vit": 2.0}
    acc = {"maxpool": 0.99, "strided": 0.98, "none": 0.98, "vit": 0.9}
    assert m.decide(g, {"maxpool": 0.95, "strided": 0.8, "none": 0.9, "vit": 0.4}, acc).verdict == HOLDS
    assert m.decide(g, {"maxpool": 0.92, "strided": 0.8, "none": 0.99, "vit": 0.4}, acc).verdict == CAVEAT
    assert m.decide(g, {"maxpool": 0.5, "strided": 0.8, "none": 0.99, "vit": 0.9}, acc).verdict == FAILS
    assert m.decide({**g, "none": 1.5}, {"maxpool": 0.95, "strided": 0.8, "none": 0.9, "vit": 0.4}, acc).verdict == FAILS

    m = _mod(3)
    trf = {"a": [3, 7, 40]}
    assert m.decide(trf, [10, 30, 60, 90], [20, 50, 100, 150], 100).verdict == HOLDS
    assert m.decide(trf, [10, 15, 20, 25], [20, 50, 100, 150], 224).verdict == CAVEAT
    assert m.decide({"a": [3, 7, 5]}, [10, 30, 60, 90], [20, 50, 100, 150], 100).verdict == FAILS
    assert m.decide(trf, [30, 20, 20, 20], [20, 50, 100, 150], 100).verdict == FAILS

    m = _mod(4)
    assert m.decide(5, 3, {"ReLU"}, 61.0, 96).verdict == HOLDS
    assert m.decide(5, 3, {"ReLU"}, 61.1, 64).verdict == CAVEAT
    assert m.decide(5, 2, {"ReLU"}, 61.1, 96).verdict == FAILS
    assert m.decide(5, 3, {"ReLU", "Tanh"}, 61.1, 96).verdict == FAILS
    assert m.decide(5, 3, {"ReLU"}, 40.0, 96).verdict == FAILS

    m = _mod(5)
    ok = [{"name": "s", "stack_rf": 5, "big_rf": 5, "stack_params": 18, "big_params": 25}]
    assert m.decide(ok, {"params": 100, "gmacs": 15}, {"params": 25, "gmacs": 4}, 0.3).verdict == HOLDS
    assert m.decide(ok, {"params": 100, "gmacs": 15}, {"params": 25, "gmacs": 4}, 0.9).verdict == CAVEAT
    assert m.decide(ok, {"params": 30, "gmacs": 15}, {"params": 25, "gmacs": 4}, 0.3).verdict == FAILS
    bad = [{**ok[0], "stack_rf": 3}]
    assert m.decide(bad, {"params": 100, "gmacs": 15}, {"params": 25, "gmacs": 4}, 0.3).verdict == FAILS

    m = _mod(6)
    assert m.decide(0.01, 0.5, 2.0, 0.1).verdict == HOLDS
    assert m.decide(2000.0, 5.0, 2.0, 0.1).verdict == CAVEAT
    assert m.decide(0.01, 0.5, 0.10, 0.09).verdict == CAVEAT
    assert m.decide(1.0, 1.0, 0.10, 0.09).verdict == FAILS

    m = _mod(7)
    assert m.decide(8.5, 7.0).verdict == HOLDS
    assert m.decide(8.5, 2.0).verdict == CAVEAT
    assert m.decide(3.0, 3.0).verdict == FAILS

    m = _mod(8)
    assert m.decide({"rnn": [1.0, 0.5], "lstm": [1.0, 0.99], "lstm_default": [1.0, 0.95]}).verdict == HOLDS
    assert m.decide({"rnn": [1.0, 0.5], "lstm": [1.0, 0.99], "lstm_default": [0.1, 0.1]}).verdict == CAVEAT
    assert m.decide({"rnn": [1.0, 0.95], "lstm": [1.0, 0.99], "lstm_default": [1.0, 0.95]}).verdict == FAILS
    assert m.decide({"rnn": [0.5, 0.5], "lstm": [1.0, 0.99], "lstm_default": [1.0, 0.99]}).verdict == FAILS

    m = _mod(9)
    assert m.decide({"attention": [1, 1], "cnn": [1, 0.5], "dilated": [1, 0.5]}).verdict == HOLDS
    assert m.decide({"attention": [1, 1], "cnn": [1, 0.5], "dilated": [1, 0.95]}).verdict == CAVEAT
    assert m.decide({"attention": [1, 0.6], "cnn": [1, 0.5], "dilated": [1, 0.5]}).verdict == FAILS
    assert m.decide({"attention": [1, 1], "cnn": [1, 0.9], "dilated": [1, 0.5]}).verdict == FAILS

    m = _mod(10)
    assert m.decide({"learnable": 0.3, "sinusoidal": 0.02, "none": 0.01}).verdict == HOLDS
    assert m.decide({"learnable": 0.3, "sinusoidal": 0.2, "none": 0.01}).verdict == CAVEAT
    d = m.decide({"learnable": 0.3, "sinusoidal": 0.5, "none": 0.4})
    assert d.verdict == FAILS and "without any position encoding" in d.caveat

    m = _mod(11)
    assert m.decide([0.9, 0.95, 0.97], [0.7, 0.9, 0.98]).verdict == HOLDS
    assert m.decide([0.9, 0.95, 0.99], [0.7, 0.9, 0.97]).verdict == CAVEAT
    assert m.decide([0.9, 0.99], [0.89, 0.98]).verdict == FAILS
    assert m.decide([0.9, 0.99], [0.8, 0.8]).verdict == FAILS

    m = _mod(12)
    assert m.decide({"swin": 1.0, "vit": 2.0}, {"swin": 1.0}).verdict == HOLDS
    assert m.decide({"swin": 1.0, "vit": 2.0}, {"swin": 1.5}).verdict == CAVEAT
    assert m.decide({"swin": 1.5, "vit": 2.0}, {"swin": 1.0}).verdict == FAILS

    m = _mod(13)
    good = ({"cnn": 4.0, "vit": 4.6}, {"cnn": [0.9, 0.95], "vit": [0.7, 0.9]}, {"cnn": 0.01, "vit": 0.6})
    assert m.decide(*good).verdict == HOLDS
    assert m.decide({"cnn": 5.0, "vit": 4.6}, *good[1:]).verdict == CAVEAT
    assert m.decide({"cnn": 5.0, "vit": 4.6}, {"cnn": [0.7, 0.99], "vit": [0.7, 0.8]}, good[2]).verdict == FAILS

    m = _mod(14)
    hybrid = {"has_conv": True, "backbone_attention_modules": ["stages.0.attn"], "attention_modules": ["stages.0.attn"]}
    assert m.decide(1_100_000_000, hybrid).verdict == HOLDS
    assert m.decide(1_100_000_000, None).verdict == CAVEAT
    assert m.decide(1_100_000_000, {**hybrid, "backbone_attention_modules": []}).verdict == CAVEAT
    assert m.decide(300_000_000, hybrid).verdict == FAILS


# ----------------------------------------------------------------- measurement helpers
def test_theoretical_rf_matches_published_values():
    # Araujo et al., "Computing Receptive Fields of CNNs" (Distill, 2019): VGG-16 212, AlexNet 195.
    import torchvision

    for name, rf in [("vgg16", 212), ("alexnet", 195)]:
        layers = M.theoretical_rf(M.on_meta(lambda n=name: torchvision.models.get_model(n)), 224)
        assert layers[-1].rf == rf and layers[-1].jump == 32
        assert all(b.rf >= a.rf for a, b in zip(layers, layers[1:]))
    dil = nn.Sequential(nn.Conv2d(3, 3, 3, dilation=2), nn.Conv2d(3, 3, 3, stride=2), nn.Conv2d(3, 3, 3))
    assert [la.rf for la in M.theoretical_rf(dil, 32)] == [5, 7, 11]


def test_grad_map_summaries():
    import numpy as np

    g = np.zeros((9, 9))
    g[4, 4] = 1.0
    assert M.centred_square_side(g, 0.95) == 1
    g[0, 0] = 1.0
    assert M.centred_square_side(g, 0.95) == 9
    assert M.mass_area_fraction(np.ones((10, 10)), 0.9) == pytest.approx(0.9)


def test_peak_live_memory_counts_coexisting_activations():
    model = nn.Sequential(nn.Linear(10, 1000), nn.ReLU(), nn.Linear(1000, 10)).eval()
    # Linear output (4000 B) is still referenced when ReLU writes its own 4000 B.
    assert M.peak_live_mb(model, torch.zeros(1, 10)) * M.MB == pytest.approx(8000)
    meta = M.on_meta(lambda: nn.Sequential(nn.Linear(10, 1000), nn.ReLU(), nn.Linear(1000, 10)))
    assert M.peak_live_mb(meta, torch.zeros(1, 10, device="meta")) * M.MB == pytest.approx(8000)


# ----------------------------------------------------------------- every experiment, tiny
@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with fixed_threads():
        yield


@pytest.mark.parametrize("cid", sorted(EXPERIMENTS))
def test_experiment_runs_at_tiny_scale(cid):
    from matplotlib.figure import Figure

    _, module = load(cid)
    res = module.run("tiny", 0)
    assert res.verdict in VERDICTS
    assert res.headline and isinstance(res.figure, Figure)
    json.dumps(res.numbers, default=lambda o: o.item() if hasattr(o, "item") else list(o))
    check = TINY_CHECKS.get(cid)
    if check:
        check(res)


def _c01(res):
    row = next(r for r in res.numbers["matched_layers"] if r["size"] == 32)
    assert row["conv_params"] == 3 * 64 * 9 + 64
    assert row["fc_params"] == (3 * 32 * 32) * (64 * 32 * 32) + 64 * 32 * 32
    assert row["conv_gmacs"] == pytest.approx(32 * 32 * 64 * 27 / 1e9)


def _c03(res):
    assert res.numbers["theoretical_rf_final_px"] == {"alexnet": 195, "vgg11": 150, "resnet18": 435}
    assert res.verdict == HOLDS


def _c04(res):
    n = res.numbers
    assert (n["n_conv"], n["n_fc"], n["params_m"]) == (5, 3, pytest.approx(61.100840))
    assert n["fc_param_share"] == pytest.approx(0.9604, abs=1e-3)
    assert res.verdict == CAVEAT and "64 filters" in res.caveat


def _c05(res):
    n = res.numbers
    assert n["networks"]["vgg16"]["params"] == 138_357_544 and n["networks"]["resnet50"]["params"] == 25_557_032
    assert n["networks"]["vgg16"]["gmacs"] == pytest.approx(15.47, abs=0.01)  # torchvision: 15.47 GFLOPS
    s = n["stacks"][0]
    assert (s["stack_rf"], s["big_rf"]) == (5, 5) and s["stack_params"] / s["big_params"] == pytest.approx(18 / 25)
    assert res.verdict == CAVEAT


def _c07(res):
    for la in res.numbers["layers"]:
        c = la["channels"]
        assert la["mac_ratio"] == pytest.approx(9 * c / (9 + c), rel=1e-9)
    assert 7 <= res.numbers["net_gmac_ratio"] <= 11


def _c12(res):
    assert res.numbers["attention_exponent"]["swin"] == pytest.approx(1.0, abs=0.01)
    assert res.numbers["attention_exponent"]["vit"] > 1.9
    assert res.numbers["gmac_exponent"]["resnet"] == pytest.approx(1.0, abs=0.01)
    assert res.verdict == HOLDS


def _c14(res):
    assert res.numbers["dinov2"]["params"] == pytest.approx(1.13e9, rel=0.01)
    intern = res.numbers["internimage_h"]
    if intern is not None:
        assert intern["params"] == pytest.approx(1.08e9, rel=0.02)  # paper: 1.08 B


TINY_CHECKS = {1: _c01, 3: _c03, 4: _c04, 5: _c05, 7: _c07, 12: _c12, 14: _c14}


# ----------------------------------------------------------------- end to end
def test_run_claims_writes_run_folder_report_and_readme_table(tmp_path):
    run_dir = run_claims([14, 4], tmp_path / "results", tmp_path / "reports", scale="tiny", progress=False)
    assert run_dir.parent == tmp_path / "results" / "claims"
    data = json.loads((run_dir / "claims.json").read_text(encoding="utf-8"))
    assert data["status"] == "complete" and data["scale"] == "tiny"
    assert [c["id"] for c in data["claims"]] == [4, 14]
    assert data["environment"]["torch"] == torch.__version__ and data["environment"]["torch_num_threads_used"] == 1
    for c in data["claims"]:
        assert c["verdict"] in VERDICTS and c["error"] is None
        assert (run_dir / c["figure"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (tmp_path / "reports" / "claims.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2
    assert "8층 구조 (5 Conv + 3 FC)" in html and "An 8-layer structure" in html
    assert "<script" not in html and not re.search(r"""(src|href)=["']https?://""", html)
    assert not list(run_dir.glob(".*.tmp"))

    from bench.claims import claims_table_markdown

    table = claims_table_markdown(run_dir)
    lines = table.splitlines()
    assert lines[0].startswith("| # | Claim") and len([ln for ln in lines if ln.startswith("| 4 ")]) == 1
    assert "61.1 M params" in table and "holds with caveat" in table


def test_a_crashing_experiment_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    _, module = load(4)

    def boom(scale, seed):
        raise RuntimeError("deliberate failure")

    monkeypatch.setattr(module, "run", boom)
    run_dir = run_claims([4, 14], tmp_path / "r", tmp_path / "p", scale="tiny", progress=False)
    claims = json.loads((run_dir / "claims.json").read_text(encoding="utf-8"))["claims"]
    assert claims[0]["verdict"] is None and "deliberate failure" in claims[0]["error"]
    assert claims[1]["verdict"] in VERDICTS
    assert "deliberate failure" in (tmp_path / "p" / "claims.html").read_text(encoding="utf-8")


def test_trained_numbers_repeat_with_the_same_seed():
    _, module = load(9)
    a = module.run("tiny", 0).numbers["test_acc"]
    b = module.run("tiny", 0).numbers["test_acc"]
    assert a == b
    assert not any(math.isnan(v) for vs in a.values() for v in vs)
