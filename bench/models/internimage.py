"""InternImage (Wang et al., CVPR 2023) in plain PyTorch, with DCNv3 built on ``F.grid_sample``.

InternImage is in neither timm nor torchvision, and the official code needs a compiled
CUDA operator for its core op, DCNv3. This module rebuilds the classification network
from the paper so it runs anywhere PyTorch runs (CPU, CUDA, the meta device):

* stem: two 3×3 stride-2 convs (C/2 then C channels), LayerNorm after each, GELU between;
* four stages of InternImage blocks with channels C, 2C, 4C, 8C; a 3×3 stride-2 conv +
  LayerNorm downsamples between stages;
* block: ``x + DCNv3(LN(x))`` then ``x + MLP(LN(x))`` (MLP ratio 4, GELU); InternImage-H
  instead normalises each branch output ("res-post-norm") and adds LayerNorms after
  every 6th block of stage 3;
* head: 1×1 conv to 1.5×8C + BatchNorm + GELU, average pool, linear (T); the H model
  uses the paper's attention-pooling ("CLIP projector") head instead.

Tensors inside the stages are channels-last ``(N, H, W, C)`` so LayerNorm and the linear
projections act on the last dimension; the model takes and returns ordinary tensors
(``(N, 3, H, W)`` in, ``(N, num_classes)`` out).

Conventions of :func:`dcnv3_sample` (the deformable aggregation):
    offsets are in pixels of the feature map, ``(dx, dy)`` pairs; the K = k×k sampling
    points of each group are ordered x-major (point ``p = ix * k + iy``), the same
    layout as the official operator, so weights could be ported; sampling outside the
    map reads zeros (the official operator pads with zeros too).

Deliberate differences from the official code are listed in docs/internimage.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

_LN_EPS = 1e-6  # the official model's LayerNorm epsilon


# --------------------------------------------------------------------------- DCNv3 core


def dcnv3_sample(
    value: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor,
    groups: int,
    kernel_size: int = 3,
    dilation: int = 1,
    offset_scale: float = 1.0,
) -> torch.Tensor:
    """Deformable aggregation of DCNv3 (stride 1, "same" padding), in plain PyTorch.

    For every output position ``p0`` and group ``g``::

        y[p0, g] = sum_k  mask[p0, g, k] * value_g(p0 + offset_scale * (p_k + offset[p0, g, k]))

    where ``p_k`` runs over the regular k×k grid (dilated), ``value_g`` is bilinearly
    interpolated (zeros outside the map) and ``mask`` is already normalised over k.

    Args:
        value: ``(N, H, W, C)`` projected input, channels-last.
        offset: ``(N, H, W, groups * K * 2)`` pixel offsets, ``(dx, dy)`` per point.
        mask: ``(N, H, W, groups * K)`` modulation weights (softmax over K in DCNv3).
    Returns:
        ``(N, H, W, C)``.
    """
    n, h, w, c = value.shape
    if c % groups:
        raise ValueError(f"channels ({c}) must be divisible by groups ({groups})")
    cg = c // groups
    k = kernel_size * kernel_size
    dev, dt = value.device, value.dtype

    # Regular grid of the window, x-major like the official op: (K, 2) as (dx, dy).
    taps = (torch.arange(kernel_size, device=dev, dtype=dt) - (kernel_size - 1) // 2) * dilation
    tx, ty = torch.meshgrid(taps, taps, indexing="ij")
    window = torch.stack((tx.reshape(-1), ty.reshape(-1)), dim=-1)

    # Pixel-centre coordinates of every output position: (H, W, 1, 1, 2).
    ys = torch.arange(h, device=dev, dtype=dt)
    xs = torch.arange(w, device=dev, dtype=dt)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    centres = torch.stack((gx, gy), dim=-1).view(1, h, w, 1, 1, 2)

    off = offset.view(n, h, w, groups, k, 2)
    loc = centres + offset_scale * (window.view(1, 1, 1, 1, k, 2) + off)  # (N, H, W, G, K, 2) pixels

    # Pixel index i has its centre at (2i + 1) / size - 1 when align_corners=False.
    size = torch.tensor([w, h], device=dev, dtype=dt)
    grid = (2.0 * loc + 1.0) / size - 1.0
    grid = grid.view(n, h * w, groups, k, 2).permute(0, 2, 1, 3, 4).reshape(n * groups, h * w, k, 2)

    v = value.view(n, h, w, groups, cg).permute(0, 3, 4, 1, 2).reshape(n * groups, cg, h, w)
    sampled = F.grid_sample(v, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # sampled: (N*G, Cg, H*W, K). Weighted sum over the K points as multiply + sum: an
    # einsum/bmm would be visible to FLOP counters but needs a transposed copy of this,
    # the largest tensor of the block, and measured ~2× slower at stage 1 on CPU. The
    # cost it hides is 1 of the official 5 MACs per sample (0.4% of InternImage-T).
    m = mask.view(n, h * w, groups, k).permute(0, 2, 1, 3).reshape(n * groups, 1, h * w, k)
    out = (sampled * m).sum(dim=-1)
    return out.view(n, groups, cg, h, w).permute(0, 3, 4, 1, 2).reshape(n, h, w, c)


def dcnv3_sampling_macs(channels: int, height: int, width: int, kernel_size: int = 3) -> int:
    """MACs of one DCNv3 aggregation by the official counting rule: ``5 · H·W · K · C``.

    Four multiply-adds for the bilinear interpolation of each sampled value plus one for
    the modulation weight (OpenGVLab/InternImage, ``detection/get_flops.py``,
    ``dcnv3_flops``). The projections and the offset/mask branch are ordinary
    linear/conv layers and are counted by any FLOP counter.
    """
    return 5 * height * width * kernel_size * kernel_size * channels


def _softmax_last(x: torch.Tensor) -> torch.Tensor:
    """Softmax over a short last dimension (the K=9 points).

    Same result as ``x.softmax(-1)``; written out because PyTorch's CPU softmax kernel
    vectorises along the reduced dimension, which is 9 wide here (measured ~5× slower).
    """
    e = (x - x.amax(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


class DCNv3(nn.Module):
    """DCNv3 operator: input projection, offset/modulation branch, deformable sampling, output projection.

    The offset/modulation branch is depthwise conv → LayerNorm → GELU → two linear heads;
    the modulation logits are softmax-normalised over the K points of each group.
    ``center_feature_scale`` (InternImage-H) blends the sampled features with the
    projected input through a per-group sigmoid gate.
    """

    def __init__(
        self,
        channels: int,
        groups: int,
        kernel_size: int = 3,
        dw_kernel_size: int | None = None,
        dilation: int = 1,
        offset_scale: float = 1.0,
        center_feature_scale: bool = False,
    ):
        super().__init__()
        if channels % groups:
            raise ValueError(f"channels ({channels}) must be divisible by groups ({groups})")
        dwk = dw_kernel_size or kernel_size
        k = kernel_size * kernel_size
        self.channels, self.groups = channels, groups
        self.kernel_size, self.dilation, self.offset_scale = kernel_size, dilation, offset_scale
        self.input_proj = nn.Linear(channels, channels)
        self.dw_conv = nn.Conv2d(channels, channels, dwk, padding=(dwk - 1) // 2, groups=channels)
        self.dw_norm = nn.LayerNorm(channels, eps=_LN_EPS)
        self.dw_act = nn.GELU()
        self.offset = nn.Linear(channels, groups * k * 2)
        self.mask = nn.Linear(channels, groups * k)
        self.output_proj = nn.Linear(channels, channels)
        # Same parameter count as the official (groups × channels weight + groups bias).
        self.center_scale = nn.Linear(channels, groups) if center_feature_scale else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Zero offsets and uniform modulation at init: the op starts as a fixed-grid
        # average, as in the paper's code. Projections: Xavier, zero bias.
        for lin in (self.offset, self.mask):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        for lin in (self.input_proj, self.output_proj):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        if self.center_scale is not None:
            nn.init.zeros_(self.center_scale.weight)
            nn.init.zeros_(self.center_scale.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, _ = x.shape
        value = self.input_proj(x)
        q = self.dw_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        q = self.dw_act(self.dw_norm(q))
        offset = self.offset(q)
        mask = _softmax_last(self.mask(q).view(n, h, w, self.groups, -1)).reshape(n, h, w, -1)
        out = dcnv3_sample(value, offset, mask, self.groups, self.kernel_size, self.dilation, self.offset_scale)
        if self.center_scale is not None:
            gate = self.center_scale(q).sigmoid().repeat_interleave(self.channels // self.groups, dim=-1)
            out = out * (1 - gate) + value * gate
        return self.output_proj(out)


# --------------------------------------------------------------------------- network


class _LayerNorm2d(nn.LayerNorm):
    """LayerNorm over channels of an ``(N, C, H, W)`` tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class _Mlp(nn.Sequential):
    def __init__(self, dim: int, ratio: float):
        hidden = int(dim * ratio)
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class InternImageBlock(nn.Module):
    """``x + DCNv3(LN(x))``, ``x + MLP(LN(x))``; optional layer scale or res-post-norm (H)."""

    def __init__(
        self,
        dim: int,
        groups: int,
        mlp_ratio: float = 4.0,
        dw_kernel_size: int | None = None,
        offset_scale: float = 1.0,
        layer_scale: float | None = None,
        res_post_norm: bool = False,
        center_feature_scale: bool = False,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=_LN_EPS)
        self.dcn = DCNv3(dim, groups, 3, dw_kernel_size, 1, offset_scale, center_feature_scale)
        self.norm2 = nn.LayerNorm(dim, eps=_LN_EPS)
        self.mlp = _Mlp(dim, mlp_ratio)
        if layer_scale is not None:
            self.gamma1 = nn.Parameter(torch.full((dim,), float(layer_scale)))
            self.gamma2 = nn.Parameter(torch.full((dim,), float(layer_scale)))
        else:
            self.gamma1 = self.gamma2 = None
        self.post1 = nn.LayerNorm(dim, eps=_LN_EPS) if res_post_norm else nn.Identity()
        self.post2 = nn.LayerNorm(dim, eps=_LN_EPS) if res_post_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.post1(self.dcn(self.norm1(x)))
        if self.gamma1 is not None:
            a = self.gamma1 * a
        x = x + a
        b = self.post2(self.mlp(self.norm2(x)))
        if self.gamma2 is not None:
            b = self.gamma2 * b
        return x + b


class InternImageStage(nn.Module):
    """Blocks at one resolution, extra LayerNorms after chosen blocks (H), a closing LayerNorm."""

    def __init__(self, dim: int, depth: int, groups: int, post_norm_block_ids: tuple[int, ...] = (), **block_kw):
        super().__init__()
        self.blocks = nn.ModuleList([InternImageBlock(dim, groups, **block_kw) for _ in range(depth)])
        self.post_norm_block_ids = tuple(post_norm_block_ids)
        self.post_norms = nn.ModuleList([nn.LayerNorm(dim, eps=_LN_EPS) for _ in self.post_norm_block_ids])
        self.norm = nn.LayerNorm(dim, eps=_LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i in self.post_norm_block_ids:
                x = self.post_norms[self.post_norm_block_ids.index(i)](x)
        return self.norm(x)


@dataclass(frozen=True)
class InternImageConfig:
    """Architecture settings; the named variants below are the paper's (Table 1 / official configs)."""

    channels: int = 64
    depths: tuple[int, ...] = (4, 4, 18, 4)
    groups: tuple[int, ...] = (4, 8, 16, 32)
    mlp_ratio: float = 4.0
    dw_kernel_size: int | None = None  # None: same as the sampling kernel (3)
    offset_scale: float = 1.0
    layer_scale: float | None = None
    res_post_norm: bool = False
    center_feature_scale: bool = False
    level2_post_norm_block_ids: tuple[int, ...] = ()  # stage-3 blocks followed by an extra LN
    cls_scale: float = 1.5  # conv head widens 8C by this factor (T/S/B/L/XL)
    clip_projector: bool = False  # attention-pooling head (H/G)
    clip_embed_dim: int = 1024  # width the two last stages are projected to before pooling
    clip_heads: int = 16
    clip_out_dim: int = 768


INTERNIMAGE_T = InternImageConfig()
# InternImage-H: official classification config internimage_h_jointto1k_224.yaml
INTERNIMAGE_H = InternImageConfig(
    channels=320,
    depths=(6, 6, 32, 6),
    groups=(10, 20, 40, 80),
    dw_kernel_size=5,
    res_post_norm=True,
    center_feature_scale=True,
    level2_post_norm_block_ids=(5, 11, 17, 23, 29),
    clip_projector=True,
)
# A few thousand parameters, for CPU tests at 32 px (stem /4 → 8, 4, 2, 1 px per stage).
INTERNIMAGE_TEST = InternImageConfig(channels=4, depths=(1, 1, 1, 1), groups=(1, 2, 2, 4), mlp_ratio=2.0)


class _AttentionPool(nn.Module):
    """InternImage-H head: one query (the token mean) cross-attends to all tokens."""

    def __init__(self, dim: int, heads: int, out_dim: int):
        super().__init__()
        self.heads = heads
        self.norm_q = nn.LayerNorm(dim, eps=_LN_EPS)
        self.norm_k = nn.LayerNorm(dim, eps=_LN_EPS)
        self.norm_v = nn.LayerNorm(dim, eps=_LN_EPS)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, out_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        n, s, c = tokens.shape
        hd = c // self.heads
        q = self.q(self.norm_q(tokens.mean(dim=1, keepdim=True))).view(n, 1, self.heads, hd).transpose(1, 2)
        k = self.k(self.norm_k(tokens)).view(n, s, self.heads, hd).transpose(1, 2)
        v = self.v(self.norm_v(tokens)).view(n, s, self.heads, hd).transpose(1, 2)
        # Explicit matmuls (not SDPA) so every FLOP counter sees the attention.
        attn = (q @ k.transpose(-2, -1) * hd**-0.5).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(n, c))


class InternImage(nn.Module):
    """InternImage classifier; see the module docstring for the layout."""

    def __init__(self, config: InternImageConfig = INTERNIMAGE_T, num_classes: int = 1000, in_chans: int = 3):
        super().__init__()
        cfg = config
        if len(cfg.depths) != len(cfg.groups):
            raise ValueError("depths and groups need one entry per stage")
        self.config = cfg
        c = cfg.channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, c // 2, 3, stride=2, padding=1),
            _LayerNorm2d(c // 2, eps=_LN_EPS),
            nn.GELU(),
            nn.Conv2d(c // 2, c, 3, stride=2, padding=1),
            _LayerNorm2d(c, eps=_LN_EPS),
        )
        block_kw = dict(
            mlp_ratio=cfg.mlp_ratio,
            dw_kernel_size=cfg.dw_kernel_size,
            offset_scale=cfg.offset_scale,
            layer_scale=cfg.layer_scale,
            res_post_norm=cfg.res_post_norm,
            center_feature_scale=cfg.center_feature_scale,
        )
        self.stages = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        n_stages = len(cfg.depths)
        for i, (depth, groups) in enumerate(zip(cfg.depths, cfg.groups)):
            dim = c * 2**i
            extra_ln = cfg.level2_post_norm_block_ids if i == 2 else ()
            self.stages.append(InternImageStage(dim, depth, groups, extra_ln, **block_kw))
            if i < n_stages - 1:
                self.downsamples.append(
                    nn.Sequential(nn.Conv2d(dim, 2 * dim, 3, stride=2, padding=1, bias=False), _LayerNorm2d(2 * dim, eps=_LN_EPS))
                )
        self.num_features = c * 2 ** (n_stages - 1)
        if cfg.clip_projector:
            e = cfg.clip_embed_dim
            # Last stage → 4e channels → pixel-shuffle ×2 to the stage-3 grid; stage 3 → e; summed.
            self.head_x4 = nn.Sequential(nn.Conv2d(self.num_features, e * 4, 1), nn.PixelShuffle(2))
            self.head_x3 = nn.Conv2d(self.num_features // 2, e, 1)
            self.pool = _AttentionPool(e, cfg.clip_heads, cfg.clip_out_dim)
            self.fc_norm = nn.LayerNorm(cfg.clip_out_dim, eps=_LN_EPS)
            head_in = cfg.clip_out_dim
        else:
            width = int(self.num_features * cfg.cls_scale)
            self.conv_head = nn.Sequential(nn.Conv2d(self.num_features, width, 1, bias=False), nn.BatchNorm2d(width), nn.GELU())
            head_in = width
        self.head = nn.Linear(head_in, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, DCNv3):
            m.reset_parameters()  # runs after its Linears (apply is post-order)

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps after each stage, channels-last ``(N, H, W, C)``."""
        x = self.stem(x).permute(0, 2, 3, 1)
        feats = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            feats.append(x)
            if i < len(self.downsamples):
                x = self.downsamples[i](x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return feats

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.forward_stages(x)
        if self.config.clip_projector:
            x4 = self.head_x4(feats[-1].permute(0, 3, 1, 2))
            x3 = self.head_x3(feats[-2].permute(0, 3, 1, 2))
            if x4.shape[-2:] != x3.shape[-2:]:  # odd stage-3 size: crop the upsampled map
                x4 = x4[..., : x3.shape[-2], : x3.shape[-1]]
            tokens = (x4 + x3).flatten(2).transpose(1, 2)
            return self.fc_norm(self.pool(tokens))
        x = self.conv_head(feats[-1].permute(0, 3, 1, 2))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def internimage_t(num_classes: int = 1000, **overrides) -> InternImage:
    """InternImage-T: C=64, depths 4/4/18/4, groups 4/8/16/32 (paper: 30 M params, 5 G FLOPs at 224)."""
    return InternImage(replace(INTERNIMAGE_T, **overrides), num_classes=num_classes)


def internimage_h(num_classes: int = 1000, **overrides) -> InternImage:
    """InternImage-H: C=320, depths 6/6/32/6, groups 10/20/40/80 (paper: 1.08 B params, 188 G FLOPs at 224)."""
    return InternImage(replace(INTERNIMAGE_H, **overrides), num_classes=num_classes)


def internimage_test(num_classes: int = 10, **overrides) -> InternImage:
    """Tiny InternImage (C=4, one block per stage) for fast CPU tests at 32 px."""
    return InternImage(replace(INTERNIMAGE_TEST, **overrides), num_classes=num_classes)


def total_sampling_macs(model: InternImage, img_size: int) -> int:
    """Official-rule MACs of all DCNv3 aggregations of ``model`` at a square ``img_size``."""
    total, side = 0, img_size
    side = (side + 1) // 2
    side = (side + 1) // 2  # the stem halves twice (3×3, stride 2, pad 1)
    for i, stage in enumerate(model.stages):
        dim = model.config.channels * 2**i
        total += len(stage.blocks) * dcnv3_sampling_macs(dim, side, side)
        side = (side + 1) // 2
    return total
