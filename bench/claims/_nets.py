"""The small networks the claim experiments train or count (written for these experiments).

* :class:`SmallCNN` — conv/BN/ReLU stages whose downsampling is max-pool, a stride-2
  convolution, or nothing (then only global average pooling at the end).
* :class:`SmallViT` — patch embedding + pre-norm transformer blocks + mean-pooled head, with
  learnable, 2-D sinusoidal, relative (Swin-style bias table) or no position encoding. At a
  grid other than the training grid, learnable positions are resized bicubically and
  relative offsets beyond the trained range are clipped to it.
* :class:`DepthNet` — a stack of 3×3 conv/BN/ReLU layers, plain or with identity shortcuts
  around every pair (ResNet basic blocks), for equal-depth comparisons.
* :func:`mobilenet_v1` — the MobileNet-v1 body (Howard et al., 2017, Table 1) built with
  depthwise-separable or with standard 3×3 convolutions.
* :class:`SeqConv`, :class:`SeqAttention`, :class:`SeqRNN` — sequence classifiers for the
  long-range tasks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallCNN(nn.Module):
    """``widths`` conv stages; between stages downsample by ``down`` ∈ {maxpool, strided, none}.

    "strided" replaces each max-pool by a learnable 3×3 stride-2 convolution of the same width
    (the lecture's "학습 가능한 축소 방식").
    """

    def __init__(
        self,
        widths=(16, 32, 32),
        down: str = "maxpool",
        in_chans: int = 1,
        num_classes: int = 10,
        head: str = "gap",
        img_size: int = 0,
        bn: bool = True,
    ):
        super().__init__()
        if down not in ("maxpool", "strided", "none"):
            raise ValueError(f"down must be maxpool, strided or none, got {down!r}")
        if head not in ("gap", "flatten"):
            raise ValueError(f"head must be gap or flatten, got {head!r}")
        self.head_kind = head
        layers: list[nn.Module] = []
        cin = in_chans
        side = img_size
        conv = _conv_bn if bn else (lambda a, b, stride=1: nn.Sequential(nn.Conv2d(a, b, 3, stride, 1), nn.ReLU()))
        for i, w in enumerate(widths):
            layers.append(conv(cin, w))
            if i < len(widths) - 1:
                if down == "maxpool":
                    layers.append(nn.MaxPool2d(2))
                    side //= 2
                elif down == "strided":
                    layers.append(conv(w, w, stride=2))
                    side = (side + 1) // 2
            cin = w
        self.features = nn.Sequential(*layers)
        if head == "flatten" and not img_size:
            raise ValueError("a flatten head needs img_size")
        self.head = nn.Linear(cin * side * side if head == "flatten" else cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        return self.head(f.flatten(1) if self.head_kind == "flatten" else f.mean(dim=(2, 3)))


def sincos_2d(h: int, w: int, dim: int, oy: int = 0, ox: int = 0) -> torch.Tensor:
    """Fixed 2-D sine/cosine encodings of integer patch coordinates (y − oy, x − ox): (h*w, dim)."""
    if dim % 4:
        raise ValueError("sinusoidal encoding needs dim divisible by 4")
    quarter = dim // 4
    omega = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float32) / quarter))
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32) - oy, torch.arange(w, dtype=torch.float32) - ox, indexing="ij")
    ey, ex = ys.flatten()[:, None] * omega, xs.flatten()[:, None] * omega
    return torch.cat([ey.sin(), ey.cos(), ex.sin(), ex.cos()], dim=1)


class _RelBias(nn.Module):
    """Learned per-head bias for each 2-D offset (dy, dx), |d| ≤ grid-1 (clipped beyond)."""

    def __init__(self, heads: int, grid: int):
        super().__init__()
        self.grid = grid
        self.table = nn.Parameter(torch.zeros(heads, (2 * grid - 1) ** 2))
        nn.init.trunc_normal_(self.table, std=0.02)

    def forward(self, h: int, w: int) -> torch.Tensor:
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        ys, xs = ys.flatten(), xs.flatten()
        m = self.grid - 1
        dy = (ys[:, None] - ys[None, :]).clamp(-m, m) + m
        dx = (xs[:, None] - xs[None, :]).clamp(-m, m) + m
        return self.table[:, dy * (2 * m + 1) + dx]  # heads × N × N


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int, rel_grid: int | None):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))
        self.rel = _RelBias(heads, rel_grid) if rel_grid else None

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        bias = self.rel(*hw)[None] if self.rel is not None else None
        if bias is not None and n == hw[0] * hw[1] + 1:  # a class token: no offset, no bias
            bias = F.pad(bias, (1, 0, 1, 0))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, c))
        return x + self.mlp(self.norm2(x))


class SmallViT(nn.Module):
    POS = ("learnable", "sinusoidal", "relative", "none")

    def __init__(
        self,
        img_size: int = 16,
        patch: int = 4,
        in_chans: int = 1,
        dim: int = 48,
        depth: int = 3,
        heads: int = 3,
        mlp_ratio: int = 2,
        num_classes: int = 10,
        pos: str = "learnable",
        pool: str = "mean",
    ):
        super().__init__()
        if pos not in self.POS:
            raise ValueError(f"pos must be one of {self.POS}, got {pos!r}")
        if pool not in ("mean", "cls"):
            raise ValueError(f"pool must be mean or cls, got {pool!r}")
        self.pos_kind, self.grid, self.dim, self.pool = pos, img_size // patch, dim, pool
        # At a larger grid: "stretch" resizes the learned table bicubically; "place" puts it on the
        # centre tokens and repeats its edge outward; sinusoidal coordinates are centre-aligned
        # when ``align`` (the trained tokens keep their coordinates), else start at 0.
        self.larger_grid, self.align = "stretch", False
        self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
        self.patch = nn.Conv2d(in_chans, dim, patch, stride=patch)
        self.pos = nn.Parameter(torch.randn(1, self.grid**2, dim) * 0.02) if pos == "learnable" else None
        rel = self.grid if pos == "relative" else None
        self.blocks = nn.ModuleList(_Block(dim, heads, mlp_ratio, rel) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def _positions(self, h: int, w: int) -> torch.Tensor | None:
        if self.pos_kind == "learnable":
            assert self.pos is not None  # built with pos="learnable"
            if (h, w) == (self.grid, self.grid):
                return self.pos
            p = self.pos.reshape(1, self.grid, self.grid, self.dim).permute(0, 3, 1, 2)
            if self.larger_grid == "place":
                oy, ox = (h - self.grid) // 2, (w - self.grid) // 2
                iy = (torch.arange(h) - oy).clamp(0, self.grid - 1)
                ix = (torch.arange(w) - ox).clamp(0, self.grid - 1)
                p = p[:, :, iy][:, :, :, ix]
            else:
                p = F.interpolate(p, size=(h, w), mode="bicubic", align_corners=False)
            return p.permute(0, 2, 3, 1).reshape(1, h * w, self.dim)
        if self.pos_kind == "sinusoidal":
            oy, ox = ((h - self.grid) // 2, (w - self.grid) // 2) if self.align else (0, 0)
            return sincos_2d(h, w, self.dim, oy, ox)[None].to(self.patch.weight.device)
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch(x)
        h, w = t.shape[-2:]
        t = t.flatten(2).transpose(1, 2)
        p = self._positions(h, w)
        if p is not None:
            t = t + p
        if self.cls is not None:  # the class token has no position and is not part of the grid
            t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], dim=1)
        for blk in self.blocks:
            t = blk(t, (h, w))
        t = self.norm(t)
        return self.head(t[:, 0] if self.cls is not None else t.mean(dim=1))


class DepthNet(nn.Module):
    """Stem conv, then ``depth`` 3×3 conv/BN/ReLU layers, GAP, linear head.

    ``residual=True`` groups the layers in pairs with an identity shortcut around each pair
    (``out = relu(F(x) + x)``, the ResNet basic block); the layers themselves are identical.
    Convolutions use He (fan-out, ReLU) initialisation, as in ResNet, unless ``he_init=False``;
    ``bn=False`` drops the BatchNorm after each layer (the stem keeps its own).
    """

    def __init__(
        self,
        depth: int,
        residual: bool,
        width: int = 16,
        in_chans: int = 1,
        num_classes: int = 10,
        bn: bool = True,
        he_init: bool = True,
    ):
        super().__init__()
        if depth % 2:
            raise ValueError("depth must be even (layers are paired into blocks)")
        self.residual = residual
        self.stem = _conv_bn(in_chans, width)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, 1, 1, bias=False) for _ in range(depth))
        self.bns = nn.ModuleList((nn.BatchNorm2d(width) if bn else nn.Identity()) for _ in range(depth))
        self.head = nn.Linear(width, num_classes)
        if he_init:  # otherwise PyTorch's default (kaiming-uniform, a=√5): activations shrink layer by layer
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    trace: list[torch.Tensor] | None = None  # set to [] to keep each block's input (with its gradient)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for i in range(0, len(self.convs), 2):
            if self.trace is not None:
                x.retain_grad()
                self.trace.append(x)
            h = F.relu(self.bns[i](self.convs[i](x)))
            h = self.bns[i + 1](self.convs[i + 1](h))
            x = F.relu(h + x) if self.residual else F.relu(h)
        return self.head(x.mean(dim=(2, 3)))


# MobileNet-v1 body: (output channels, stride) of the 13 depthwise-separable layers.
_MOBILENET_V1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


def mobilenet_v1(separable: bool = True, num_classes: int = 1000) -> nn.Sequential:
    """MobileNet-v1 (width 1.0); ``separable=False`` uses a standard 3×3 conv per layer instead."""
    layers: list[nn.Module] = [_conv_bn(3, 32, stride=2)]
    cin = 32
    for cout, s in _MOBILENET_V1:
        if separable:
            layers += [
                nn.Conv2d(cin, cin, 3, s, 1, groups=cin, bias=False),
                nn.BatchNorm2d(cin),
                nn.ReLU(inplace=True),
                nn.Conv2d(cin, cout, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
        else:
            layers.append(_conv_bn(cin, cout, stride=s))
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


class SeqConv(nn.Module):
    """1-D CNN over token vectors: one conv layer (kernel 3) per entry of ``dilations``.

    The prediction is read from the output at position 0 (zero padding outside the
    sequence), so it can depend on positions 0 .. sum(dilations) only: the one-sided
    receptive field. Receptive field (two-sided) = 1 + 2·sum(dilations).
    """

    def __init__(self, in_dim: int, num_classes: int, width: int = 32, dilations=(1, 1, 1, 1)):
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_dim
        for d in dilations:
            layers += [nn.Conv1d(cin, width, 3, padding=d, dilation=d), nn.ReLU()]
            cin = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)
        self.reach = sum(dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: B×L×in_dim
        return self.head(self.body(x.transpose(1, 2))[:, :, 0])


class SeqAttention(nn.Module):
    """Token embedding + learned absolute positions + transformer blocks; reads position 0."""

    def __init__(self, in_dim: int, num_classes: int, length: int, dim: int = 32, depth: int = 1, heads: int = 2):
        super().__init__()
        self.embed = nn.Linear(in_dim, dim)
        self.pos = nn.Parameter(torch.randn(1, length, dim) * 0.1)
        self.blocks = nn.ModuleList(_Block(dim, heads, 2, None) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.embed(x) + self.pos[:, : x.shape[1]]
        for blk in self.blocks:
            t = blk(t, (1, t.shape[1]))
        return self.head(self.norm(t)[:, 0])


class SeqRNN(nn.Module):
    """Vanilla tanh RNN or LSTM over token vectors; classifies from the last hidden state.

    ``init``: "default" (PyTorch's uniform ±1/sqrt(hidden)); "orthogonal" recurrent weights
    for the RNN (its standard remedy for vanishing/exploding gradients); "chrono" for the LSTM
    (Tallec & Ollivier, 2018: forget-gate bias log(U[1, horizon-1]), input-gate bias its
    negative), which opens the forget gate so the cell starts out remembering; "forget1" for the
    LSTM: forget-gate bias 1 (Gers et al., 2000; Jozefowicz et al., 2015), the same for every T.
    """

    def __init__(self, kind: str, in_dim: int, num_classes: int, hidden: int = 32, init: str = "default", horizon: int = 100):
        super().__init__()
        cls = {"rnn": nn.RNN, "lstm": nn.LSTM}[kind]
        self.rnn = cls(in_dim, hidden, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)
        with torch.no_grad():
            if init == "orthogonal" and kind == "rnn":
                nn.init.orthogonal_(self.rnn.weight_hh_l0)
            elif init == "chrono" and kind == "lstm":
                bf = torch.log(torch.empty(hidden).uniform_(1, max(2, horizon - 1)))
                self.rnn.bias_ih_l0[hidden : 2 * hidden] = bf  # gate order: input, forget, cell, output
                self.rnn.bias_hh_l0[hidden : 2 * hidden] = 0
                self.rnn.bias_ih_l0[:hidden] = -bf
                self.rnn.bias_hh_l0[:hidden] = 0
            elif init == "forget1" and kind == "lstm":  # Gers et al. 2000 / Jozefowicz et al. 2015: bias 1, any T
                self.rnn.bias_ih_l0[hidden : 2 * hidden] = 1.0
                self.rnn.bias_hh_l0[hidden : 2 * hidden] = 0.0
            elif init != "default":
                raise ValueError(f"init {init!r} does not apply to {kind}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def vgg_stack(depth: int, width: int, bn: bool = True, in_chans: int = 1, num_classes: int = 10) -> nn.Sequential:
    """VGG-style: two blocks of ``depth // 2`` 3×3 convs (ReLU; BatchNorm if ``bn``), a max-pool
    between and after them, then global average pool and one linear layer (no FC stack, so the
    parameters sit in the 3×3 stacks). Without BN, convs keep PyTorch's default init."""
    if depth < 2 or depth % 2:
        raise ValueError("depth must be an even number ≥ 2")
    layers: list[nn.Module] = []
    cin = in_chans
    for _block in range(2):
        for _ in range(depth // 2):
            layers += [nn.Conv2d(cin, width, 3, padding=1, bias=not bn)]
            layers += [nn.BatchNorm2d(width), nn.ReLU(inplace=True)] if bn else [nn.ReLU(inplace=True)]
            cin = width
        layers.append(nn.MaxPool2d(2))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


def width_for_params(depth: int, target: int, bn: bool = True) -> int:
    """The width at which :func:`vgg_stack` of ``depth`` has the parameter count closest to ``target``."""

    def count(w: int) -> int:  # the same count as summing vgg_stack's parameters, without building it
        def per(cin: int) -> int:
            return 9 * cin * w + (2 * w if bn else w)

        return per(1) + (depth - 1) * per(w) + 10 * w + 10

    return min(range(2, 257), key=lambda w: abs(count(w) - target))
