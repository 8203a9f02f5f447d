"""The published-figures table: well-formed, faithful to its sources, reproduced by our counters."""

from __future__ import annotations

import math
import re

import pytest
import torchvision.models as tvm

from bench.reference import COLUMNS, ReferenceModel, load_reference, measure_reference, reference_frame

ROWS = load_reference()


def test_table_is_complete_and_sourced():
    assert len(ROWS) >= 12
    assert len({(r.model, r.img_size) for r in ROWS}) == len(ROWS)
    for r in ROWS:
        assert r.source and r.model.split(":")[0] in {"tv", "timm", "archbench"}, r
    families = {r.model.split(":")[1][:4] for r in ROWS}
    assert {"resn", "mobi", "vit_", "swin", "inte"} <= families  # CNN, mobile, ViT, hybrid
    frame = reference_frame()
    assert list(frame.columns) == list(COLUMNS) and len(frame) == len(ROWS)


def test_torchvision_rows_copy_the_installed_metadata_exactly():
    tv_rows = [r for r in ROWS if r.model.startswith("tv:")]
    assert len(tv_rows) >= 8
    for r in tv_rows:
        enum_name, variant = re.search(r"(\w+_Weights)\.(\w+)", r.source).groups()
        weights = getattr(getattr(tvm, enum_name), variant)
        assert r.params_m * 1e6 == pytest.approx(weights.meta["num_params"], abs=0.5), r.model
        assert r.gmacs == weights.meta["_ops"], r.model
        assert r.img_size == weights.transforms.keywords["crop_size"], r.model


def test_vit_rows_are_the_closed_form():
    def vit(dim, img, patch=16, depth=12, classes=1000):
        p = (img // patch) ** 2
        n = p + 1
        block = 3 * n * dim * dim + 2 * n * n * dim + n * dim * dim + 8 * n * dim * dim
        return (p * dim * 3 * patch * patch + depth * block + dim * classes) / 1e9

    dims = {"tiny": 192, "small": 384, "base": 768}
    vit_rows = [r for r in ROWS if r.model.startswith("timm:vit_") and "dinov2" not in r.model]
    assert len(vit_rows) == 4
    for r in vit_rows:
        size = r.model.split("_")[1]
        assert r.gmacs == round(vit(dims[size], r.img_size), 4), r.model


def test_matching_rule_is_rounding_plus_half_a_percent():
    row = ReferenceModel("x:y", 224, params_m=30.0, gmacs=5.0, params_tol_m=0.5, gmacs_tol=0.5, source="s")
    assert row.params_match(30.65) and not row.params_match(30.66)  # 0.5 + 0.15
    assert row.gmacs_match(4.475) and not row.gmacs_match(4.47)  # 0.5 + 0.025
    assert ReferenceModel("x:y", 1, None, 1.0, 0, 0, "s").params_match(123.0)


def test_malformed_tables_are_rejected(tmp_path):
    bad_cols = tmp_path / "a.csv"
    bad_cols.write_text("model,params\nx:y,1\n")
    with pytest.raises(ValueError, match="columns"):
        load_reference(bad_cols)
    no_source = tmp_path / "b.csv"
    no_source.write_text(",".join(COLUMNS) + "\ntv:resnet18,224,11.7,1.8,0,0,,\n")
    with pytest.raises(ValueError, match="line 2"):
        load_reference(no_source)
    nothing = tmp_path / "c.csv"
    nothing.write_text(",".join(COLUMNS) + "\ntv:resnet18,224,,,0,0,paper,\n")
    with pytest.raises(ValueError, match="neither"):
        load_reference(nothing)


@pytest.mark.slow
def test_measured_numbers_reproduce_every_published_row():
    table = measure_reference()
    assert len(table) == len(ROWS)
    measured = table[table.status != "not registered"]
    assert (measured.model.str.startswith(("tv:", "timm:"))).sum() == sum(
        r.model.startswith(("tv:", "timm:")) for r in ROWS
    )  # only archbench's own models may be missing from an install
    bad = measured[measured.status != "ok"]
    assert bad.empty, bad[
        ["model", "img_size", "params_m_published", "params_m_measured", "gmacs_published", "gmacs_measured"]
    ].to_string()
    for _, rec in measured.iterrows():
        if rec.gmacs_published is not None and not math.isnan(rec.gmacs_published):
            assert rec.gmacs_measured > 0
