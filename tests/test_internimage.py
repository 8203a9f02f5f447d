"""InternImage / DCNv3 in plain PyTorch: the sampling core, the modules, the paper's sizes.

Reference figures (OpenGVLab/InternImage README, classification table, and the paper's
Table 1): InternImage-T 30 M params, 5 G FLOPs at 224; InternImage-H 1.08 B params,
188 G FLOPs at 224. The paper's "FLOPs" are multiply-accumulates (mmcv's counter), the
same unit as archbench's GMACs.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from bench import registry
from bench.metrics.flops import count_flops
from bench.models import internimage as ii
from bench.models.meta import build_on_meta, count_params_meta

# ----------------------------------------------------------------------- helpers


def _naive_dcnv3(value, offset, mask, groups, k=3, dilation=1, offset_scale=1.0):
    """Loop-by-loop bilinear deformable aggregation, written independently of grid_sample."""
    n, h, w, c = value.shape
    cg = c // groups
    kk = k * k
    out = torch.zeros_like(value)
    taps = [(i - (k - 1) // 2) * dilation for i in range(k)]
    window = [(tx, ty) for tx in taps for ty in taps]  # x-major, as documented

    def pixel(b, y, x, g):
        if 0 <= y < h and 0 <= x < w:
            return value[b, y, x, g * cg : (g + 1) * cg]
        return torch.zeros(cg, dtype=value.dtype)

    for b in range(n):
        for y in range(h):
            for x in range(w):
                for g in range(groups):
                    acc = torch.zeros(cg, dtype=value.dtype)
                    for p, (tx, ty) in enumerate(window):
                        j = (g * kk + p) * 2
                        px = x + offset_scale * (tx + float(offset[b, y, x, j]))
                        py = y + offset_scale * (ty + float(offset[b, y, x, j + 1]))
                        x0, y0 = math.floor(px), math.floor(py)
                        fx, fy = px - x0, py - y0
                        v = (
                            (1 - fx) * (1 - fy) * pixel(b, y0, x0, g)
                            + fx * (1 - fy) * pixel(b, y0, x0 + 1, g)
                            + (1 - fx) * fy * pixel(b, y0 + 1, x0, g)
                            + fx * fy * pixel(b, y0 + 1, x0 + 1, g)
                        )
                        acc = acc + float(mask[b, y, x, g * kk + p]) * v
                    out[b, y, x, g * cg : (g + 1) * cg] = acc
    return out


# ----------------------------------------------------------------------- the sampling core


def test_zero_offsets_equal_a_depthwise_conv_with_the_modulation_as_kernel():
    # With offsets 0 every point sits on the regular k×k grid, so DCNv3 is a depthwise
    # conv whose (per-group) kernel is the modulation — zero padding included.
    torch.manual_seed(0)
    n, h, w, c, groups = 2, 7, 9, 12, 3
    cg = c // groups
    value = torch.randn(n, h, w, c, dtype=torch.float64)
    for dilation in (1, 2):
        weights = torch.randn(groups, 9, dtype=torch.float64).softmax(-1)  # (G, K) x-major
        mask = weights.reshape(1, 1, 1, groups * 9).expand(n, h, w, -1).contiguous()
        offset = torch.zeros(n, h, w, groups * 18, dtype=torch.float64)
        got = ii.dcnv3_sample(value, offset, mask, groups, 3, dilation)

        # conv2d kernel[ky, kx]; point p = ix*3 + iy → kernel = weights.view(G, 3(x), 3(y)).T
        kernel = weights.view(groups, 3, 3).transpose(1, 2)
        kernel = kernel.repeat_interleave(cg, dim=0).unsqueeze(1)  # (C, 1, 3, 3)
        want = F.conv2d(value.permute(0, 3, 1, 2), kernel, padding=dilation, dilation=dilation, groups=c)
        torch.testing.assert_close(got, want.permute(0, 2, 3, 1), rtol=1e-10, atol=1e-10)


def test_offsets_move_the_sampling_point_in_pixels_x_then_y():
    # A 1×1 "window": the output is the input read at (x + dx, y + dy), bilinearly.
    value = torch.arange(1.0, 1.0 + 4 * 5, dtype=torch.float64).view(1, 4, 5, 1)
    ones = torch.ones(1, 4, 5, 1, dtype=torch.float64)

    def sample(dx, dy):
        off = torch.tensor([dx, dy], dtype=torch.float64).expand(1, 4, 5, 2).contiguous()
        return ii.dcnv3_sample(value, off, ones, 1, kernel_size=1)[0, :, :, 0]

    v = value[0, :, :, 0]
    right = sample(1.0, 0.0)
    torch.testing.assert_close(right[:, :-1], v[:, 1:])
    assert torch.all(right[:, -1] == 0)  # read past the right edge: zero padding
    down = sample(0.0, 1.0)
    torch.testing.assert_close(down[:-1], v[1:])
    assert torch.all(down[-1] == 0)
    half = sample(0.5, 0.0)
    torch.testing.assert_close(half[:, :-1], (v[:, :-1] + v[:, 1:]) / 2)
    torch.testing.assert_close(half[:, -1], v[:, -1] / 2)  # half of it is padding


def test_fractional_offsets_match_a_loop_reference():
    torch.manual_seed(1)
    n, h, w, c, groups = 1, 4, 5, 6, 2
    value = torch.randn(n, h, w, c, dtype=torch.float64)
    offset = torch.randn(n, h, w, groups * 18, dtype=torch.float64) * 1.5
    mask = torch.randn(n, h, w, groups, 9, dtype=torch.float64).softmax(-1).reshape(n, h, w, -1)
    got = ii.dcnv3_sample(value, offset, mask, groups, offset_scale=0.7)
    want = _naive_dcnv3(value, offset, mask, groups, offset_scale=0.7)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_groups_must_divide_channels():
    x = torch.zeros(1, 3, 3, 6)
    with pytest.raises(ValueError, match="divisible"):
        ii.dcnv3_sample(x, torch.zeros(1, 3, 3, 4 * 18), torch.zeros(1, 3, 3, 4 * 9), groups=4)
    with pytest.raises(ValueError, match="divisible"):
        ii.DCNv3(channels=6, groups=4)


def test_modulation_is_softmax_normalised_per_group():
    # Identity projections and a constant input: whatever the (random) modulation logits
    # and offsets, each group's weights sum to 1, so interior outputs equal the constant.
    torch.manual_seed(2)
    c, groups = 8, 2
    dcn = ii.DCNv3(c, groups).double()
    with torch.no_grad():
        for lin in (dcn.input_proj, dcn.output_proj):
            lin.weight.copy_(torch.eye(c))
            lin.bias.zero_()
        dcn.mask.weight.normal_(0, 1.0)
        dcn.mask.bias.normal_(0, 1.0)
        dcn.offset.bias.uniform_(-0.3, 0.3)  # stays inside a 1-px margin
    const = torch.arange(1.0, c + 1, dtype=torch.float64)
    x = const.expand(1, 9, 9, c).contiguous()
    y = dcn(x)
    torch.testing.assert_close(y[:, 2:-2, 2:-2], x[:, 2:-2, 2:-2])
    # and the modulation really varies across points (the test would be vacuous otherwise)
    q = dcn.dw_act(dcn.dw_norm(dcn.dw_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)))
    m = dcn.mask(q).view(1, 9, 9, groups, 9).softmax(-1)
    assert m.std() > 0.01
    torch.testing.assert_close(m.sum(-1), torch.ones(1, 9, 9, groups, dtype=torch.float64))


def test_initial_operator_is_a_fixed_grid_average():
    # Offsets and modulation start at zero (uniform 1/9): at init DCNv3 = output_proj(avgpool3x3(input_proj(x))).
    torch.manual_seed(3)
    dcn = ii.DCNv3(8, 2).double().eval()
    x = torch.randn(1, 6, 6, 8, dtype=torch.float64)
    v = dcn.input_proj(x).permute(0, 3, 1, 2)
    pooled = F.avg_pool2d(v, 3, stride=1, padding=1, count_include_pad=True)
    want = dcn.output_proj(pooled.permute(0, 2, 3, 1))
    torch.testing.assert_close(dcn(x), want)


# ----------------------------------------------------------------------- the network


def test_registered_names_and_family():
    for name, size in (("archbench:internimage_t", 224), ("archbench:internimage_h", 224), ("test:internimage", 32)):
        spec = registry.get_spec(name)
        assert spec.family == "hybrid"
        assert spec.default_img_size == size
    assert "test:internimage" in registry.list_names("test:*")


def test_importing_the_module_first_keeps_the_builtin_models():
    # The registry loads its built-ins only while its table is empty; importing this
    # module first must not leave the table holding InternImage alone.
    code = (
        "import bench.models.internimage\n"
        "from bench import registry\n"
        "names = registry.list_names('test:*')\n"
        "assert 'test:cnn' in names and 'test:internimage' in names, names\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_tiny_model_forward_backward_and_stage_shapes():
    torch.manual_seed(4)
    model = registry.create_model("test:internimage")
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params < 30_000
    x = torch.randn(2, 3, 32, 32)
    feats = model.forward_stages(x)
    assert [tuple(f.shape) for f in feats] == [(2, 8, 8, 4), (2, 4, 4, 8), (2, 2, 2, 16), (2, 1, 1, 32)]
    model.train()
    y = model(x)
    assert y.shape == (2, 10) and torch.isfinite(y).all()
    y.square().mean().backward()
    dcn = model.stages[0].blocks[0].dcn
    # offsets and modulation are zero-initialised; their weights must still get gradients
    assert dcn.offset.weight.grad.abs().sum() > 0
    assert dcn.mask.weight.grad.abs().sum() > 0


def test_h_style_head_and_blocks_run_at_odd_sizes():
    # The H configuration (res-post-norm, centre feature scale, 5×5 offset conv, extra
    # stage-3 LayerNorms, attention-pooling head) on the tiny widths; 48 px gives a 3×3
    # stage-3 map, so the ×2 pixel-shuffled stage-4 map (4×4) must be cropped.
    torch.manual_seed(5)
    model = ii.internimage_test(
        dw_kernel_size=5,
        res_post_norm=True,
        center_feature_scale=True,
        level2_post_norm_block_ids=(0,),
        clip_projector=True,
        clip_embed_dim=16,
        clip_heads=2,
        clip_out_dim=8,
    ).eval()
    assert len(model.stages[2].post_norms) == 1
    assert model.stages[0].blocks[0].dcn.dw_conv.kernel_size == (5, 5)
    for size in (32, 48):
        y = model(torch.randn(2, 3, size, size))
        assert y.shape == (2, 10) and torch.isfinite(y).all()


def test_internimage_t_layout_params_and_forward():
    model = registry.create_model("archbench:internimage_t")
    cfg = model.config
    assert (cfg.channels, cfg.depths, cfg.groups) == (64, (4, 4, 18, 4), (4, 8, 16, 32))
    assert [len(s.blocks) for s in model.stages] == [4, 4, 18, 4]
    assert [s.blocks[0].dcn.groups for s in model.stages] == [4, 8, 16, 32]
    assert [s.blocks[0].dcn.channels for s in model.stages] == [64, 128, 256, 512]
    n_params = sum(p.numel() for p in model.parameters())
    # Paper: 30 M, rounded to the nearest million (±1.7 %); ±3 % also covers head details.
    assert abs(n_params / 30e6 - 1) <= 0.03, n_params
    with torch.inference_mode():
        y = model(torch.randn(1, 3, 224, 224))
    assert y.shape == (1, 1000) and torch.isfinite(y).all()


def test_internimage_t_gmacs_vs_paper_and_sampling_is_counted():
    model = build_on_meta("archbench:internimage_t", img_size=224)
    report = count_flops(model, 224, device="meta")
    # Paper: "5G" FLOPs = multiply-accumulates, one significant figure (4.5–5.5 G): ±10 %.
    assert abs(report.gmacs / 5.0 - 1) <= 0.10, report.gmacs
    assert report.uncounted_matmul_ops == []
    # grid_sample is counted at 4 MACs per sampled value (bilinear); the official rule
    # (5·H·W·K·C per DCNv3) adds 1 for the modulation, which is element-wise here.
    sampled = report.by_operator["aten::grid_sampler_2d"] * 1e9
    assert sampled == pytest.approx(0.8 * ii.total_sampling_macs(model, 224), rel=1e-9)


def test_tiny_model_grid_sample_counted_by_both_counters():
    model = registry.create_model("test:internimage")
    report = count_flops(model, 32)  # real CPU: fvcore trace and FlopCounterMode
    assert report.gmacs_check is not None and not report.disagree
    assert report.uncounted_matmul_ops == []
    grid = [v for k, v in report.by_operator.items() if "grid_sampler" in k]
    assert grid and grid[0] * 1e9 == pytest.approx(0.8 * ii.total_sampling_macs(model, 32), rel=1e-9)


def test_internimage_h_params_and_gmacs_on_meta():
    # Official README: InternImage-H, 224×224: 1.08 B params, 188 G FLOPs (MACs).
    n_params = count_params_meta("archbench:internimage_h")
    assert abs(n_params / 1.08e9 - 1) <= 0.02, n_params  # 3 significant figures (±0.5 %) + head
    model = build_on_meta("archbench:internimage_h", img_size=224)
    assert all(p.device.type == "meta" for p in model.parameters())
    report = count_flops(model, 224, device="meta")
    # ±5 %: mmcv's counter also counts norms/activations/elementwise work that archbench does not.
    assert abs(report.gmacs / 188.0 - 1) <= 0.05, report.gmacs
    assert report.uncounted_matmul_ops == []
