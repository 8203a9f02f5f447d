"""Small-image variants of one CNN, one mobile CNN and one ViT, for training from scratch.

ImageNet architectures shrink a 224-pixel image 32× before the head; on 32×32 inputs that
leaves a single pixel after the second stage. These variants keep the architecture's
building blocks and change only what the input size forces, and each name says so:

- ``archbench:resnet18_small`` — ResNet-18's layout (four stages of two basic blocks)
  with a 3×3 stride-1 stem and no max-pool, stage widths ``w, 2w, 4w, 8w`` (``width``,
  default 16, a quarter of ResNet-18's 64) so it trains on two CPU cores in seconds.
- ``archbench:mobilenetv2_small`` — torchvision's MobileNetV2 (inverted residuals,
  depthwise 3×3, linear bottlenecks) at ``width_mult`` 0.5 with a stride-1 stem, so a
  32×32 input reaches the head at 2×2 instead of 1×1.
- ``archbench:vit_small_patch4`` — timm's VisionTransformer with 4-pixel patches (64
  patches on 32×32, plus the class token), ``embed_dim`` 64, 4 blocks, 4 heads.

All take ``num_classes``, ``in_chans`` and ``img_size`` so the scratch trainer can build
them uniformly; the CNNs accept any input size and ignore ``img_size``.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.models.catalog import CATALOG


class _BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers with an identity (or 1×1 projection) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class SmallResNet18(nn.Module):
    """ResNet-18 block layout (2-2-2-2) with a small-image stem: 3×3 stride 1, no max-pool."""

    def __init__(self, num_classes: int = 10, width: int = 16, in_chans: int = 3, img_size: int = 32):
        super().__init__()
        del img_size  # fully convolutional: any input size works
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        blocks: list[nn.Module] = []
        cin = width
        for i, cout in enumerate((width, width * 2, width * 4, width * 8)):
            stride = 1 if i == 0 else 2
            blocks += [_BasicBlock(cin, cout, stride), _BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # Zero the last BN of each residual branch so every block starts as the identity
        # (the "zero-γ" trick): training from scratch converges faster and more evenly.
        for m in self.modules():
            if isinstance(m, _BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))


def mobilenetv2_small(num_classes: int = 10, width_mult: float = 0.5, in_chans: int = 3, img_size: int = 32) -> nn.Module:
    """torchvision MobileNetV2 with its first convolution made stride 1 (total stride 16)."""
    from torchvision.models import MobileNetV2
    from torchvision.ops.misc import Conv2dNormActivation

    del img_size
    model = MobileNetV2(num_classes=num_classes, width_mult=width_mult)
    first = model.features[0]
    out_ch = first[0].out_channels
    model.features[0] = Conv2dNormActivation(in_chans, out_ch, stride=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6)
    nn.init.kaiming_normal_(model.features[0][0].weight, mode="fan_out")
    return model


def vit_small_patch4(
    num_classes: int = 10,
    img_size: int = 32,
    patch_size: int = 4,
    embed_dim: int = 64,
    depth: int = 4,
    num_heads: int = 4,
    mlp_ratio: float = 2.0,
    in_chans: int = 3,
) -> nn.Module:
    """timm VisionTransformer sized for 32×32 inputs: 4-pixel patches, class token, learned positions."""
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        img_size=img_size,
        patch_size=patch_size,
        in_chans=in_chans,
        num_classes=num_classes,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=mlp_ratio,
    )


# The names these builders are registered under, as bench/models/catalog.py lists them.
SMALL_MODELS: tuple[str, ...] = tuple(e.name for e in CATALOG if e.builder.startswith(f"{__name__}:"))
