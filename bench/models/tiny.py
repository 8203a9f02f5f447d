"""Tiny test models, one per family, so every code path runs on CPU in seconds.

Each has a few thousand parameters and takes a 3×32×32 image by default. ``extra_work``
adds real matmul work (not a sleep) so tests can make a model measurably slower;
``width`` changes a layer so tests can make params/GMACs change.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _extra(x: torch.Tensor, work: nn.Parameter | None, repeats: int) -> torch.Tensor:
    # Real compute whose result feeds the output, so it cannot be optimised away.
    if work is None or repeats <= 0:
        return x
    acc = work
    for _ in range(repeats):
        acc = torch.tanh(acc @ work)
    return x + 0.0 * acc.mean()


class TinyCNN(nn.Module):
    """Plain conv → BN → ReLU → max-pool stack with a linear head (family ``cnn``)."""

    def __init__(self, num_classes: int = 10, width: int = 16, in_chans: int = 3, extra_work: int = 0):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, width * 2, 3, padding=1, bias=False),
            nn.BatchNorm2d(width * 2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(width * 2, num_classes)
        self.extra_work = extra_work
        self.work = nn.Parameter(torch.randn(128, 128) * 0.05, requires_grad=False) if extra_work else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return _extra(self.head(x), self.work, self.extra_work)


class _InvertedResidual(nn.Module):
    def __init__(self, chans: int, expand: int = 4):
        super().__init__()
        hidden = chans * expand
        self.block = nn.Sequential(
            nn.Conv2d(chans, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False),  # depthwise
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, chans, 1, bias=False),  # pointwise projection
            nn.BatchNorm2d(chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class TinyMobile(nn.Module):
    """MobileNetV2-style inverted residuals with depthwise convolutions (family ``mobile``)."""

    def __init__(self, num_classes: int = 10, width: int = 8, in_chans: int = 3, extra_work: int = 0):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU6(inplace=True),
        )
        self.blocks = nn.Sequential(_InvertedResidual(width), _InvertedResidual(width))
        self.head = nn.Linear(width, num_classes)
        self.extra_work = extra_work
        self.work = nn.Parameter(torch.randn(128, 128) * 0.05, requires_grad=False) if extra_work else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return _extra(self.head(x), self.work, self.extra_work)


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int = 2):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        x = x + self.proj(attn.transpose(1, 2).reshape(b, n, c))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """Patch embedding, class token, learnable positions, two pre-norm blocks (family ``vit``)."""

    def __init__(
        self,
        num_classes: int = 10,
        img_size: int = 32,
        patch_size: int = 8,
        dim: int = 32,
        depth: int = 2,
        heads: int = 2,
        in_chans: int = 3,
        extra_work: int = 0,
    ):
        super().__init__()
        self.patch = nn.Conv2d(in_chans, dim, patch_size, stride=patch_size)
        n = (img_size // patch_size) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[_Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        self.extra_work = extra_work
        self.work = nn.Parameter(torch.randn(128, 128) * 0.05, requires_grad=False) if extra_work else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.norm(self.blocks(x))
        return _extra(self.head(x[:, 0]), self.work, self.extra_work)


class TinyHybrid(nn.Module):
    """Convolutional stem followed by one self-attention block over the feature map (family ``hybrid``)."""

    def __init__(self, num_classes: int = 10, width: int = 16, heads: int = 2, in_chans: int = 3, extra_work: int = 0):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.GELU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
        )
        self.block = _Block(width, heads)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)
        self.extra_work = extra_work
        self.work = nn.Parameter(torch.randn(128, 128) * 0.05, requires_grad=False) if extra_work else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).flatten(2).transpose(1, 2)
        x = self.norm(self.block(x)).mean(dim=1)
        return _extra(self.head(x), self.work, self.extra_work)
