"""``reported`` accuracy: torchvision's own metadata, and the cited timm table."""

from __future__ import annotations

import math

import pytest
import timm
import torchvision.models as tvm
from timm.models import get_pretrained_cfg

from bench.accuracy import expand_accuracy, run_accuracy_cell
from bench.accuracy.datasets import Unavailable
from bench.accuracy.reported import reported_accuracy, timm_reference_table
from bench.suite import parse_suite


def test_every_torchvision_classifier_reports_its_weight_metadata():
    checked = 0
    for arch in tvm.list_models(module=tvm):
        weights = tvm.get_model_weights(arch)
        for w in weights:
            metrics = w.meta["_metrics"]["ImageNet-1K"]
            if math.isnan(metrics["acc@1"]):  # feature-extractor weights publish no accuracy
                with pytest.raises(Unavailable, match="publishes no ImageNet-1K accuracy"):
                    reported_accuracy(f"tv:{arch}", w.name)
                continue
            row = reported_accuracy(f"tv:{arch}", w.name)
            assert row["top1"] == metrics["acc@1"] and row["top5"] == metrics["acc@5"], (arch, w.name)
            assert row["acc_weights"] == w.name
            checked += 1
        assert reported_accuracy(f"tv:{arch}")["acc_weights"] == weights.DEFAULT.name
    assert checked > 100


def test_default_weights_row_through_a_cell():
    suite = parse_suite(
        {"name": "r", "models": ["tv:resnet50", "timm:resnet50", "test:cnn"], "accuracy": [{"source": "reported"}]}
    )
    rows = [run_accuracy_cell(c, progress=False) for c in expand_accuracy(suite)]
    tv_row, timm_row, test_row = rows
    assert tv_row["status"] == "ok" and tv_row["acc_source"] == "reported" and tv_row["acc_dataset"] == "imagenet"
    assert tv_row["top1"] == tvm.ResNet50_Weights.DEFAULT.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    assert tv_row["acc_weights"] == "IMAGENET1K_V2" and tv_row["acc_img_size"] == 224
    assert "recipe" in tv_row["acc_ref"]
    # timm's default resnet50 weights are a1_in1k: 81.214 / 95.102 at 288 px in timm's results table.
    assert (timm_row["top1"], timm_row["top5"], timm_row["acc_weights"], timm_row["acc_img_size"]) == (
        81.214,
        95.102,
        "a1_in1k",
        288,
    )
    assert "results-imagenet.csv" in timm_row["acc_ref"]
    assert test_row["status"] == "skipped" and "random weights" in test_row["error"] and test_row["top1"] is None


def test_timm_table_rows_name_real_weights_with_sane_numbers_and_a_source():
    table = timm_reference_table()
    assert len(table) >= 100
    for (arch, tag), row in table.items():
        assert arch in timm.list_models(arch), arch
        cfg = get_pretrained_cfg(f"{arch}.{tag}")
        assert cfg is not None and cfg.tag == tag
        assert 50.0 < row.top1 < row.top5 <= 100.0, (arch, tag)
        assert row.img_size >= 96 and row.source.startswith("timm ImageNet-1k validation results")
        # the table's resolution is the weights' default or test resolution, never another
        sizes = {cfg.input_size[-1]} | ({cfg.test_input_size[-1]} if cfg.test_input_size else set())
        assert row.img_size in sizes, (arch, tag, row.img_size, sizes)


def test_default_suite_timm_models_have_reference_rows():
    for arch in ("vit_tiny_patch16_224", "deit_small_patch16_224", "vit_base_patch16_224", "swin_tiny_patch4_window7_224"):
        row = reported_accuracy(f"timm:{arch}")
        assert row["top1"] > 70 and row["acc_weights"] == get_pretrained_cfg(arch).tag


def test_unknown_weights_are_clear():
    suite = parse_suite(
        {
            "name": "r",
            "models": ["tv:resnet18"],
            "accuracy": [
                {"source": "reported", "models": [{"name": "tv:resnet18", "weights": "IMAGENET9K"}]},
                {"source": "reported", "name": "t", "models": [{"name": "timm:resnet18", "weights": "nonexistent_tag"}]},
            ],
        }
    )
    bad_tv, bad_timm = [run_accuracy_cell(c, progress=False) for c in expand_accuracy(suite)]
    assert bad_tv["status"] == "failed" and "no weights 'IMAGENET9K'" in bad_tv["error"] and "IMAGENET1K_V1" in bad_tv["error"]
    assert bad_timm["status"] == "skipped" and "timm:resnet18.nonexistent_tag" in bad_timm["error"]
