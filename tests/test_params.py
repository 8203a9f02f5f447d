"""Parameter counts and weight size, against hand arithmetic and torchvision's metadata."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tvm
from torch import nn

from bench.errors import UserError
from bench.metrics.flops import build_on_meta
from bench.metrics.params import MIB, ParamCount, count_params, weight_size_mb
from bench.models.tiny import TinyCNN

# TinyCNN(width=16, 10 classes): conv 3→16 (3×3, no bias), BN(16), conv 16→32 (3×3, no
# bias), BN(32), linear 32→10 with bias.
TINY_PARAMS = 3 * 16 * 9 + 2 * 16 + 16 * 32 * 9 + 2 * 32 + 32 * 10 + 10
TINY_FLOAT_BUFFERS = 2 * 16 + 2 * 32  # BN running mean and variance


def test_count_params_by_hand():
    count = count_params(TinyCNN())
    assert count == ParamCount(total=TINY_PARAMS, trainable=TINY_PARAMS)
    assert count.params_m == pytest.approx(TINY_PARAMS / 1e6)
    assert count.to_dict()["params_m"] == count.params_m


def test_frozen_parameters_are_total_but_not_trainable():
    model = TinyCNN()
    for p in model.features.parameters():
        p.requires_grad_(False)
    count = count_params(model)
    assert count.total == TINY_PARAMS
    assert count.trainable == 32 * 10 + 10
    assert count.frozen == TINY_PARAMS - 330


def test_tied_weights_count_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(8, 8, bias=False)
            self.unembed = nn.Linear(8, 8, bias=False)
            self.unembed.weight = self.embed.weight

    assert count_params(Tied()).total == 64


def test_buffers_are_not_parameters():
    bn = nn.BatchNorm2d(5)
    assert count_params(bn).total == 10  # weight + bias; running stats are buffers


@pytest.mark.parametrize("name", ["resnet50", "vit_b_16", "swin_t", "mobilenet_v3_small"])
def test_meta_models_match_torchvision_num_params(name):
    model = build_on_meta(lambda: tvm.get_model(name, weights=None))
    assert next(model.parameters()).device.type == "meta"
    assert count_params(model).total == tvm.get_model_weights(name).DEFAULT.meta["num_params"]


def test_weight_size_by_precision():
    model = TinyCNN()
    fp32 = weight_size_mb(model, "fp32")
    assert fp32 == pytest.approx((TINY_PARAMS + TINY_FLOAT_BUFFERS) * 4 / MIB)  # int64 counter left out
    assert weight_size_mb(model, "bf16") == weight_size_mb(model, "fp16") == pytest.approx(fp32 / 2)
    assert weight_size_mb(model, "float32") == fp32 and weight_size_mb(model, "BFloat16") == fp32 / 2


def test_unknown_precision_is_a_user_error():
    with pytest.raises(UserError, match="allowed: fp32, bf16, fp16"):
        weight_size_mb(TinyCNN(), "int4")


@pytest.mark.parametrize("name", ["resnet50", "vit_b_16", "convnext_tiny", "swin_t", "mobilenet_v3_small"])
def test_weight_size_is_just_under_the_published_checkpoint(name):
    # torchvision's _file_size (MiB) is the fp32 checkpoint on disk: our weights plus
    # integer buffers and pickle overhead, so slightly larger, never smaller.
    model = build_on_meta(lambda: tvm.get_model(name, weights=None))
    published = tvm.get_model_weights(name).DEFAULT.meta["_file_size"]
    ours = weight_size_mb(model, "fp32")
    assert 0 <= 1 - ours / published < 0.01, (ours, published)


def test_counts_do_not_need_real_memory():
    with torch.device("meta"):
        model = nn.Linear(100_000, 100_000)  # 10 G parameters, 40 GB at fp32
    assert count_params(model).total == 100_000 * 100_000 + 100_000
    assert weight_size_mb(model, "bf16") == pytest.approx((100_000 * 100_000 + 100_000) * 2 / MIB)
