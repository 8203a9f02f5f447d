"""Every model defined inside archbench, as data: the ``test:``, ``fault:`` and ``archbench:``
names. ``bench.registry`` loads this list once (a duplicate name is an error) and imports each
builder only then, so model modules never import the registry and the registry never depends on
import order. torchvision and timm models are not listed: the registry asks those libraries.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    name: str  # "source:arch"
    builder: str  # "module:callable", imported when the registry loads
    family: str  # cnn, mobile, vit, hybrid
    default_img_size: int
    num_classes: int
    description: str


CATALOG: tuple[Entry, ...] = (
    Entry("test:cnn", "bench.models.tiny:TinyCNN", "cnn", 32, 10, "tiny conv/BN/ReLU/max-pool stack"),
    Entry("test:mobile", "bench.models.tiny:TinyMobile", "mobile", 32, 10, "tiny inverted-residual, depthwise convs"),
    Entry("test:vit", "bench.models.tiny:TinyViT", "vit", 32, 10, "tiny ViT, patch 8, 2 blocks, SDPA attention"),
    Entry("test:hybrid", "bench.models.tiny:TinyHybrid", "hybrid", 32, 10, "tiny conv stem + one attention block"),
    Entry(
        "fault:model", "bench.models.faults:FaultModel", "cnn", 32, 10, "misbehaves on purpose (mode=raise|kill|hang|tuple|alloc)"
    ),
    # "hybrid": InternImage keeps a CNN's layout (conv stem, strided-conv downsampling, 4-stage
    # pyramid, 3×3 windows) but its core op is attention-like: input-dependent sampling positions
    # with softmax-normalised, data-dependent weights, inside pre-norm transformer blocks.
    Entry(
        "archbench:internimage_t",
        "bench.models.internimage:internimage_t",
        "hybrid",
        224,
        1000,
        "InternImage-T, plain-PyTorch DCNv3 (grid_sample); paper: 30M params, 5G FLOPs @224",
    ),
    Entry(
        "archbench:internimage_h",
        "bench.models.internimage:internimage_h",
        "hybrid",
        224,
        1000,
        "InternImage-H, plain-PyTorch DCNv3; paper: 1.08B params, 188G FLOPs @224 (GPU/meta only)",
    ),
    Entry(
        "test:internimage",
        "bench.models.internimage:internimage_test",
        "hybrid",
        32,
        10,
        "tiny InternImage (C=4, 1 block per stage), DCNv3 via grid_sample",
    ),
    # Small-image variants trained from scratch by the accuracy tasks (bench/accuracy/small_models.py).
    Entry(
        "archbench:resnet18_small",
        "bench.accuracy.small_models:SmallResNet18",
        "cnn",
        32,
        10,
        "ResNet-18 layout for small images: 3x3 stride-1 stem, no max-pool, widths 16-32-64-128",
    ),
    Entry(
        "archbench:mobilenetv2_small",
        "bench.accuracy.small_models:mobilenetv2_small",
        "mobile",
        32,
        10,
        "torchvision MobileNetV2, width 0.5, stride-1 stem (32x32 -> 2x2 before the head)",
    ),
    Entry(
        "archbench:vit_small_patch4",
        "bench.accuracy.small_models:vit_small_patch4",
        "vit",
        32,
        10,
        "timm ViT with 4-pixel patches on 32x32 (64 tokens + class), dim 64, depth 4, 4 heads",
    ),
)
