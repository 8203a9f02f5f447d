"""GMACs: every torchvision classifier against its own metadata, ViTs against the closed
form, single layers against hand arithmetic, and the holes that used to be silent.

Cost plan (2 shared cores): the full torchvision walk runs on the meta device, where
counting is exact shape arithmetic and nothing is allocated; real tensors (needed by the
fvcore jit tracer) are used on a set of small models that covers every operator family.
"""

from __future__ import annotations

import contextlib
import json
from fractions import Fraction

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn

from bench.errors import UserError
from bench.metrics.flops import (
    CHECK_COUNTER,
    FLOP_CONVENTION,
    PRIMARY_COUNTER,
    UncountedOpsError,
    build_on_meta,
    count_flops,
    einsum_macs,
    flops_command,
    is_matmul_class,
)
from bench.metrics.params import count_params

TV_MODELS = tvm.list_models(module=tvm)


def _tolerance(published: float) -> float:
    # torchvision prints _ops with 3 decimals, so 0.057 stands for anything in
    # [0.0565, 0.0575): half a unit of the last digit, or 0.5 %, whichever is larger.
    return max(0.005 * published, 0.0005 + 1e-12)


def _tv_weight_variants(name: str):
    """(weights enum, eval crop, builder kwargs) for each published weight of ``name``."""
    for w in tvm.get_model_weights(name):
        crop = int(w.transforms.keywords["crop_size"])
        kwargs = {"num_classes": len(w.meta["categories"] or range(1000))}
        if name.startswith("vit_"):
            kwargs["image_size"] = crop  # the 384/518 SWAG weights have larger position tables
        if name == "googlenet":
            kwargs["aux_logits"] = False  # torchvision drops the aux heads when it loads weights
        yield w, crop, kwargs


def _assert_fully_counted(report, where: str) -> None:
    assert not report.uncounted_matmul_ops, f"{where}: matrix-class ops not counted: {report.uncounted_matmul_ops}"


# --------------------------------------------------------------------------- torchvision walk


def test_walk_covers_the_installed_torchvision():
    assert len(TV_MODELS) >= 70, TV_MODELS  # torchvision 0.29 registers 80 classifiers
    assert {"vit_b_16", "vit_h_14", "swin_t", "maxvit_t", "regnet_y_128gf", "resnet50"} <= set(TV_MODELS)


@pytest.mark.slow
@pytest.mark.parametrize("name", TV_MODELS)
def test_torchvision_params_and_gmacs_match_weight_metadata(name):
    for weights, crop, kwargs in _tv_weight_variants(name):
        model = build_on_meta(lambda kwargs=kwargs: tvm.get_model(name, weights=None, **kwargs))
        where = f"{name} {weights.name} @{crop}"
        assert count_params(model).total == weights.meta["num_params"], where
        report = count_flops(model, crop, device="meta")
        assert report.counter == CHECK_COUNTER and report.gmacs_check is None
        ref = weights.meta["_ops"]
        assert abs(report.gmacs - ref) <= _tolerance(ref), f"{where}: {report.gmacs:.5f} vs published {ref}"
        _assert_fully_counted(report, where)


# Real tensors, so the primary (fvcore) counter runs too, on the cheapest model of each
# operator family: depthwise conv + squeeze-excite + hardswish (MobileNetV3), channel
# shuffle (ShuffleNetV2), fire modules (SqueezeNet), grouped conv + SE (RegNetY), plain
# residual conv (ResNet), 7×7 depthwise + LayerNorm + linear MLP (ConvNeXt), windowed
# attention with explicit matmul and relative bias (Swin). nn.MultiheadAttention (ViT)
# is covered by the no_grad/inference_mode test below, einsum by test_einsum_is_exact;
# every other model is covered exactly by the meta walk above.
REAL_SUBSET = [
    "mobilenet_v3_small",
    "shufflenet_v2_x0_5",
    "squeezenet1_1",
    "regnet_y_400mf",
    "resnet18",
    "convnext_tiny",
    "swin_t",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL_SUBSET)
def test_fvcore_and_flop_counter_agree_with_metadata_on_real_tensors(name):
    torch.manual_seed(0)
    weights, crop, kwargs = next(iter(_tv_weight_variants(name)))
    model = tvm.get_model(name, weights=None, **kwargs)
    report = count_flops(model, crop)
    assert report.counter == PRIMARY_COUNTER and report.check_counter == CHECK_COUNTER
    ref = weights.meta["_ops"]
    assert abs(report.gmacs - ref) <= _tolerance(ref), f"{name}: fvcore {report.gmacs:.5f} vs {ref}"
    assert report.gmacs_check == pytest.approx(report.gmacs, rel=1e-6), report.by_operator_check
    assert not report.disagree
    _assert_fully_counted(report, name)


def test_torchvision_vit_keeps_attention_under_no_grad_and_inference_mode():
    # Under no_grad/inference_mode nn.MultiheadAttention takes a fused fast path that used
    # to hide all attention (vit_b_16 came out ≈ 11.3 instead of 17.56). A small
    # torchvision ViT (same code) against the closed form in both contexts...
    small = tvm.VisionTransformer(
        image_size=64, patch_size=16, num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=256, num_classes=10
    )
    expected = vit_macs(64, 64, depth=2, classes=10) / 1e9
    for ctx in (torch.no_grad, torch.inference_mode):
        with ctx():
            report = count_flops(small, 64)
        assert report.gmacs == pytest.approx(expected, rel=1e-12), (ctx.__name__, report.by_operator)
        assert report.gmacs_check == pytest.approx(expected, rel=1e-12)
        assert report.by_operator["aten::scaled_dot_product_attention"] > 0
    assert torch.backends.mha.get_fastpath_enabled()  # the global switch is restored
    # ...and the cheapest published one (vit_b_32, 4.409) against torchvision's metadata,
    # built inside inference_mode: its weights cannot join autograd, the flag still holds.
    with torch.inference_mode():
        report = count_flops(tvm.vit_b_32(), 224)
    ref = tvm.ViT_B_32_Weights.IMAGENET1K_V1.meta["_ops"]
    assert abs(report.gmacs - ref) <= _tolerance(ref) and not report.disagree
    assert any("inference tensors" in n for n in report.notes)


# --------------------------------------------------------------------------- timm ViTs, closed form


def vit_macs(dim: int, img: int, patch: int = 16, depth: int = 12, mlp_ratio: int = 4, classes: int = 1000) -> int:
    """Matmul MACs of a class-token ViT: patch conv, per block QKV, Q·Kᵀ, A·V, proj, MLP; head."""
    patches = (img // patch) ** 2
    n = patches + 1
    block = n * dim * 3 * dim + 2 * n * n * dim + n * dim * dim + 2 * n * dim * mlp_ratio * dim
    return patches * dim * 3 * patch * patch + depth * block + dim * classes


VITS = {"vit_tiny_patch16_224": 192, "vit_small_patch16_224": 384, "vit_base_patch16_224": 768}


def test_vit_closed_form_reproduces_the_issue_figures():
    got = [round(vit_macs(d, 224) / 1e9, 4) for d in VITS.values()]
    assert got == [1.2537, 4.5989, 17.5638]


# Real tensors where the forward is cheap; meta (FlopCounterMode) for the heavy ones.
@pytest.mark.parametrize(
    ("arch", "img", "device"),
    [
        ("vit_tiny_patch16_224", 224, "cpu"),
        ("vit_tiny_patch16_224", 384, "cpu"),
        ("vit_small_patch16_224", 224, "cpu"),
        ("vit_small_patch16_224", 384, "meta"),
        ("vit_base_patch16_224", 224, "meta"),
        ("vit_base_patch16_224", 384, "meta"),
    ],
)
def test_timm_vit_gmacs_equal_closed_form(arch, img, device):
    if device == "meta":
        model = build_on_meta(lambda: timm.create_model(arch, img_size=img))
    else:
        model = timm.create_model(arch, img_size=img)
    report = count_flops(model, img, device=device)
    expected = vit_macs(VITS[arch], img) / 1e9
    assert report.gmacs == pytest.approx(expected, rel=1e-12)
    if device == "cpu":
        assert report.counter == PRIMARY_COUNTER
        assert report.gmacs_check == pytest.approx(expected, rel=1e-12)
        # fvcore sees the fused op; on CPU the dispatcher runs the CPU flash kernel
        assert report.by_operator["aten::scaled_dot_product_attention"] > 0
        assert any("scaled_dot_product" in op for op in report.by_operator_check)
    _assert_fully_counted(report, f"{arch}@{img}")


# --------------------------------------------------------------------------- single layers


class _Wrap(nn.Module):
    def __init__(self, fn, *mods: nn.Module):
        super().__init__()
        self.mods = nn.ModuleList(mods)
        self.fn = fn

    def forward(self, x):
        return self.fn(x, *self.mods)


def _both(model: nn.Module, img: int, in_chans: int = 3, batch: int = 1) -> float:
    """Per-image MACs, asserting the two counters agree exactly."""
    report = count_flops(model, img, batch_size=batch, in_chans=in_chans)
    assert report.gmacs_check is not None
    assert report.gmacs == pytest.approx(report.gmacs_check, rel=1e-12), (report.by_operator, report.by_operator_check)
    _assert_fully_counted(report, type(model).__name__)
    return round(report.gmacs * 1e9)


@pytest.mark.parametrize("n_out", [16, 64, 256])
def test_depthwise_separable_costs_one_over_n_plus_one_over_nine(n_out):
    m, hw = 32, 28  # input channels, spatial size; stride 1, padding 1 keeps 28×28
    standard = nn.Conv2d(m, n_out, 3, padding=1, bias=False)
    separable = nn.Sequential(
        nn.Conv2d(m, m, 3, padding=1, groups=m, bias=False),  # depthwise 3×3
        nn.Conv2d(m, n_out, 1, bias=False),  # pointwise 1×1
    )
    std_macs = _both(standard, hw, in_chans=m)
    sep_macs = _both(separable, hw, in_chans=m)
    assert std_macs == hw * hw * m * n_out * 9
    assert sep_macs == hw * hw * m * 9 + hw * hw * m * n_out
    assert Fraction(sep_macs, std_macs) == Fraction(1, n_out) + Fraction(1, 9)


def test_grouped_and_transposed_convolution():
    grouped = nn.Conv2d(8, 16, 3, padding=1, groups=4, bias=False)
    assert _both(grouped, 10, in_chans=8) == 10 * 10 * 16 * (8 // 4) * 9
    up = nn.ConvTranspose2d(8, 4, 2, stride=2)  # each input element meets 4·2·2 weights
    assert _both(up, 10, in_chans=8) == 8 * 10 * 10 * 4 * 2 * 2


def test_batch_size_is_divided_out():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert _both(conv, 16, batch=4) == _both(conv, 16) == 16 * 16 * 8 * 3 * 9


@pytest.mark.parametrize("backend", ["default", "math"])
def test_sdpa_counts_both_products_including_grouped_query(backend):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    b, hq, hkv, n, d = 1, 4, 2, 10, 8

    def attend(x):  # the "image" is 1×(hq·n·d)×1×1, reshaped to (b, heads, tokens, dim)
        q = x.reshape(b, hq, n, d)
        kv = q[:, :hkv]
        return F.scaled_dot_product_attention(q, kv, kv, enable_gqa=True)

    ctx = sdpa_kernel(SDPBackend.MATH) if backend == "math" else contextlib.nullcontext()
    with ctx:
        macs = _both(_Wrap(attend), 1, in_chans=hq * n * d)
    assert macs == 2 * b * hq * n * n * d  # every query head does both products


def test_cpu_flash_kernel_called_directly_is_counted():
    b, h, n, d = 1, 2, 12, 16

    def fwd(x):
        q = x.reshape(b, h, n, d)
        return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, q, q)[0]

    report = count_flops(_Wrap(fwd), 1, in_chans=b * h * n * d)
    assert round(report.gmacs * 1e9) == round(report.gmacs_check * 1e9) == 2 * b * h * n * n * d


def test_fused_multi_head_attention_kernel_is_counted():
    e, heads, n = 16, 4, 9
    mha = nn.MultiheadAttention(e, heads, batch_first=True)

    def fwd(x, mha):
        t = x.reshape(1, n, e)  # call the fused kernel the fast path would have used
        return torch._native_multi_head_attention(
            t,
            t,
            t,
            e,
            heads,
            mha.in_proj_weight,
            mha.in_proj_bias,
            mha.out_proj.weight,
            mha.out_proj.bias,
            need_weights=False,
        )[0]

    expected = 3 * n * e * e + 2 * n * n * e + n * e * e
    fused = count_flops(_Wrap(fwd, mha), 1, in_chans=n * e)
    assert round(fused.gmacs * 1e9) == round(fused.gmacs_check * 1e9) == expected
    # the module itself, under inference_mode, must give the same number
    plain = _Wrap(lambda x, m: m(x.reshape(1, n, e), x.reshape(1, n, e), x.reshape(1, n, e), need_weights=False)[0], mha)
    with torch.inference_mode():
        assert _both(plain, 1, in_chans=n * e) == expected


@pytest.mark.parametrize(("mode", "per_sample"), [("bilinear", 4), ("nearest", 0), ("bicubic", 16)])
def test_grid_sample_convention(mode, per_sample):
    c, h, _w, ho, wo = 6, 8, 8, 5, 7
    grid = nn.Parameter(torch.rand(1, ho, wo, 2) * 2 - 1)

    def fwd(x, holder):
        return F.grid_sample(x, holder.grid, mode=mode, align_corners=False)

    holder = nn.Module()
    holder.grid = grid
    assert _both(_Wrap(fwd, holder), h, in_chans=c) == per_sample * c * ho * wo


def test_deformable_sampling_costs_five_macs_per_point_and_channel():
    # DCNv3's core: bilinear grid_sample of K points per position, then the sum over the
    # K points weighted by the modulation mask. InternImage's own counting rule
    # (detection/get_flops.py, dcnv3_flops) is 5·HW·K·C: 4 for the interpolation, 1 for
    # the weighting. Written as a product the weighting is counted; written as multiply +
    # sum (as bench/models/internimage.py does, for speed) it is element-wise and is not.
    c, hw, k = 8, 6, 9

    def sample(x):
        grid = torch.zeros(1, hw * hw, k, 2)  # (N, HW, K, 2)
        return F.grid_sample(x, grid, mode="bilinear", align_corners=False), torch.ones(1, hw * hw, k)

    def as_einsum(x):
        sampled, mask = sample(x)  # sampled: (N, C, HW, K)
        return torch.einsum("bcsk,bsk->bcs", sampled, mask)

    def as_mul_sum(x):
        sampled, mask = sample(x)
        return (sampled * mask.unsqueeze(1)).sum(-1)

    assert _both(_Wrap(as_einsum), hw, in_chans=c) == 5 * hw * hw * k * c
    assert _both(_Wrap(as_mul_sum), hw, in_chans=c) == 4 * hw * hw * k * c


def test_internimage_grid_sample_is_counted():
    from bench.registry import create_model, list_names

    if "test:internimage" not in list_names("test:*"):
        pytest.skip("bench.models.internimage is not in this checkout")
    model = create_model("test:internimage")
    report = count_flops(model, 32)
    assert report.by_operator.get("aten::grid_sampler", 0) > 0, report.by_operator
    assert not report.disagree, (report.gmacs, report.gmacs_check)
    _assert_fully_counted(report, "test:internimage")
    from bench.models import internimage

    if hasattr(internimage, "total_sampling_macs"):  # 4 of its 5·HW·K·C are grid_sample
        sampled = round(report.by_operator["aten::grid_sampler"] * 1e9)
        assert sampled * 5 == 4 * internimage.total_sampling_macs(model, 32)


def test_einsum_is_exact():
    assert einsum_macs("bhid,bhjd->bhij", [(2, 3, 5, 7), (2, 3, 11, 7)]) == 2 * 3 * 5 * 11 * 7
    assert einsum_macs("ij,jk,kl->il", [(10, 20), (20, 30), (30, 40)]) == 10 * 20 * 30 + 10 * 30 * 40
    assert einsum_macs("...ij,...jk->...ik", [(7, 10, 20), (7, 20, 30)]) == 7 * 10 * 20 * 30
    # fvcore's own handler reads numpy's printout "1.088e+04" here and reports 5440
    model = _Wrap(lambda x, h: torch.einsum("bchw,hwk->bck", x, h.w), nn.Module())
    model.mods[0].w = nn.Parameter(torch.randn(7, 7, 3))
    assert _both(model, 7, in_chans=37) == 37 * 7 * 7 * 3


# --------------------------------------------------------------------------- nothing silent


class _BilinearHead(nn.Module):
    """A conv net whose head is nn.Bilinear: a matrix-class op neither counter knows."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.head = nn.Bilinear(8, 8, 4)

    def forward(self, x):
        f = self.conv(x).mean((2, 3))
        return self.head(f, f)


def test_uncounted_matmul_class_op_fails_loudly():
    report = count_flops(_BilinearHead(), 8)
    assert "aten::bilinear" in report.uncounted_matmul_ops  # fvcore's view
    assert "aten::_trilinear" in report.uncounted_matmul_ops  # the dispatcher's view
    with pytest.raises(UncountedOpsError, match="bilinear"):
        count_flops(_BilinearHead(), 8, strict=True)
    with pytest.raises(AssertionError, match="not counted"):
        _assert_fully_counted(report, "bilinear head")


def test_counters_that_disagree_mark_the_row():
    # fvcore has no tensordot handler; the dispatcher sees the mm it lowers to.
    w = nn.Parameter(torch.randn(3, 4, 4, 5))
    holder = nn.Module()
    holder.w = w
    report = count_flops(_Wrap(lambda x, h: torch.tensordot(x, h.w, dims=3), holder), 4)
    assert report.gmacs == 0 and round(report.gmacs_check * 1e9) == 3 * 4 * 4 * 5
    assert report.disagree
    assert "aten::tensordot" in report.uncounted_matmul_ops


def test_matmul_class_names():
    for op in [
        "aten::bilinear",
        "aten::_trilinear",
        "aten::mm",
        "aten::cudnn_convolution",
        "aten::lstm",
        "aten::_transformer_encoder_layer_fwd",
        "torchvision::deform_conv2d",
        "prim::PythonOp.MyFn",
    ]:
        assert is_matmul_class(op), op
    for op in [
        "aten::upsample_bilinear2d",
        "aten::add",
        "aten::layer_norm",
        "prims::convert_element_type",
        "aten::gelu",
        "aten::softmax",
        "aten::mean",
    ]:
        assert not is_matmul_class(op), op


def test_uncounted_ops_are_listed_and_norms_are_not_counted():
    report = count_flops(tvm.resnet18(), 64)
    assert {"aten::batch_norm", "aten::relu_", "aten::max_pool2d", "aten::add_"} <= set(report.uncounted_ops)
    assert set(report.by_operator) == {"aten::_convolution", "aten::linear"}
    assert "aten::view" not in report.uncounted_ops  # data movement is not noise-listed


# --------------------------------------------------------------------------- sizes, meta, CLI


def test_cnn_cost_grows_with_pixels_and_global_attention_faster():
    from bench.registry import create_model

    cnn = create_model("test:cnn")
    small, big = count_flops(cnn, 32), count_flops(cnn, 64)
    assert big.by_operator["aten::_convolution"] == pytest.approx(4 * small.by_operator["aten::_convolution"], rel=1e-12)
    vit32, vit64 = (count_flops(create_model("test:vit", img_size=s), s) for s in (32, 64))
    n32, n64 = (32 // 8) ** 2 + 1, (64 // 8) ** 2 + 1  # tokens incl. class token
    ratio = vit64.by_operator["aten::scaled_dot_product_attention"] / vit32.by_operator["aten::scaled_dot_product_attention"]
    assert ratio == pytest.approx((n64 / n32) ** 2, rel=1e-12)  # quadratic in tokens
    assert vit64.gmacs / vit32.gmacs > big.gmacs / small.gmacs


def test_meta_device_counts_giant_models_without_weights():
    with torch.device("meta"):
        model = tvm.vit_b_16()
    report = count_flops(model, 224, device="meta")
    assert report.counter == CHECK_COUNTER and report.gmacs_check is None and report.notes
    assert round(report.gmacs, 4) == 17.5638
    # a real model counted on meta is not moved or changed
    real = tvm.resnet18()
    assert count_flops(real, 224, device="meta").gmacs == pytest.approx(1.814073344, rel=1e-12)
    assert next(real.parameters()).device.type == "cpu"


def test_training_flags_restored_and_bad_input_rejected():
    model = tvm.resnet18().train()
    count_flops(model, 32)
    assert all(m.training for m in model.modules())
    with pytest.raises(UserError):
        count_flops(model, 0)


def test_convention_is_machine_readable():
    text = json.dumps(FLOP_CONVENTION)
    assert "MAC" in FLOP_CONVENTION["unit"] and "forward" in FLOP_CONVENTION["pass"]
    assert any("attention" in c for c in FLOP_CONVENTION["counted"])
    assert any("normalisation" in c for c in FLOP_CONVENTION["not_counted"])
    assert json.loads(text) == FLOP_CONVENTION


def test_flops_command_json_and_table(capsys):
    assert flops_command("test:vit", None, True) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"model", "img_size", "params", "gmacs", "gmacs_check", "uncounted_ops"} <= set(out)
    assert out["model"] == "test:vit" and out["img_size"] == 32
    from bench.registry import create_model

    model = create_model("test:vit")
    assert out["params"] == count_params(model).total
    assert out["gmacs"] == pytest.approx(count_flops(model, 32).gmacs, rel=1e-12)
    assert out["gmacs"] == pytest.approx(out["gmacs_check"], rel=1e-12)
    assert flops_command("test:cnn", 64, False) == 0
    table = capsys.readouterr().out
    assert "GMACs" in table and "64" in table and "uncounted" in table
    with pytest.raises(UserError):
        flops_command("tv:not_a_model", None, True)


def test_bf16_model_counts_like_fp32():
    from bench.models.tiny import TinyCNN

    model = TinyCNN()
    fp32 = count_flops(model, 32).gmacs
    bf16 = count_flops(model.to(torch.bfloat16), 32)
    assert bf16.gmacs == fp32 and bf16.gmacs_check == fp32


def test_model_the_tracer_rejects_still_gets_a_stated_count():
    class Logits:  # the jit tracer only accepts tensors and containers of tensors
        def __init__(self, t):
            self.t = t

    class ObjectOut(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return Logits(self.conv(x))

    report = count_flops(ObjectOut(), 10)
    assert report.counter == CHECK_COUNTER and report.gmacs_check is None
    assert any("fvcore failed" in n for n in report.notes), report.notes
    assert round(report.gmacs * 1e9) == 8 * 8 * 4 * 3 * 9
