"""suites/seed.yaml: every architecture of the lecture notes, checked against published figures.

Each model is built (on the meta device for counting, for real for a forward pass) and
its parameter count and GMACs are compared with a published figure. The reference table
below names the source of every figure; docs/seed-models.md shows the same table with
the measured values.

Tolerance policy (relative): a figure printed with 2 significant digits is exact only to
about ±2.5 %, one with 1 digit to ±10 %; on top of rounding, papers differ from timm /
torchvision builds in heads and position-embedding sizes, and FLOP counters differ in
what they count (norms, activations). So: ±1–2 % when the figure comes from the same
implementation (torchvision's weight metadata, timm's model cards), ±5 % for paper
figures with 2 digits, ±10 % for 1-digit figures. Exceptions say why in ``note``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from bench import registry
from bench.metrics.flops import count_flops
from bench.models.meta import build_on_meta, count_params_meta
from bench.suite import expand, load_suite

SEED_SUITE = Path(__file__).resolve().parents[1] / "suites" / "seed.yaml"

TV = "torchvision weight metadata (num_params, _ops), torchvision.models docs"
TIMM_CARD = "timm model card on Hugging Face (Model Stats: Params (M), GMACs)"


@dataclass(frozen=True)
class Ref:
    name: str  # registry name
    alias: str  # the row label in suites/seed.yaml (None for giants not in the suite)
    family: str
    params_m: float  # published parameters, millions
    params_tol: float
    params_src: str
    gmacs: float | None = None  # published GMACs (= the papers' "FLOPs") at ref_img
    gmacs_tol: float | None = None
    gmacs_src: str = ""
    ref_img: int = 224  # resolution the published figures refer to
    forward_img: int = 224  # size of the real forward pass in the test (CPU budget)
    out_dim: int = 1000  # width of the model's output as timm/torchvision build it
    note: str = ""


SEED_REFS: list[Ref] = [
    Ref(
        "tv:alexnet",
        "AlexNet",
        "cnn",
        61.10,
        0.01,
        TV + ": AlexNet_Weights.IMAGENET1K_V1 61,100,840",
        0.714,
        0.02,
        TV,
        forward_img=64,
        note="torchvision's AlexNet is the one-GPU variant (Krizhevsky 2014); the 2012 paper says 60 M",
    ),
    Ref(
        "tv:vgg16",
        "VGG-16",
        "cnn",
        138.0,
        0.05,
        "Simonyan & Zisserman 2015, Table 2 (config D): 138 M",
        15.47,
        0.02,
        TV + ": VGG16_Weights.IMAGENET1K_V1",
        forward_img=64,
    ),
    Ref(
        "tv:resnet18",
        "ResNet-18",
        "cnn",
        11.69,
        0.01,
        TV + ": ResNet18_Weights.IMAGENET1K_V1 11,689,512",
        1.8,
        0.05,
        "He et al. 2016, Table 1: 1.8×10^9 FLOPs (multiply-adds)",
        forward_img=64,
    ),
    Ref(
        "tv:resnet50",
        "ResNet-50",
        "cnn",
        25.56,
        0.01,
        TV + ": ResNet50_Weights.IMAGENET1K_V1 25,557,032",
        4.09,
        0.02,
        TV,
        forward_img=64,
        note="the 2016 paper's 3.8 G is ResNet-50 v1 (stride in the 1×1 conv); torchvision builds v1.5",
    ),
    Ref(
        "timm:mobilenetv1_100",
        "MobileNetV1",
        "mobile",
        4.2,
        0.05,
        "Howard et al. 2017, Table 8 (1.0 MobileNet-224): 4.2 M params",
        0.569,
        0.02,
        "Howard et al. 2017, Table 8: 569 M Mult-Adds",
        forward_img=64,
    ),
    Ref(
        "tv:mobilenet_v2",
        "MobileNetV2",
        "mobile",
        3.4,
        0.05,
        "Sandler et al. 2018, Table 4: 3.4 M",
        0.300,
        0.05,
        "Sandler et al. 2018, Table 4: 300 M MAdds",
        forward_img=64,
    ),
    Ref(
        "tv:mobilenet_v3_small",
        "MobileNetV3-S",
        "mobile",
        2.5,
        0.05,
        "Howard et al. 2019, Table 4 (Small 1.0): 2.5 M",
        0.056,
        0.05,
        "Howard et al. 2019, Table 4: 56 M MAdds",
        forward_img=64,
    ),
    Ref(
        "tv:mobilenet_v3_large",
        "MobileNetV3-L",
        "mobile",
        5.4,
        0.05,
        "Howard et al. 2019, Table 3 (Large 1.0): 5.4 M",
        0.219,
        0.05,
        "Howard et al. 2019, Table 3: 219 M MAdds",
        forward_img=64,
    ),
    Ref(
        "timm:vit_tiny_patch16_224",
        "ViT-Ti/16",
        "vit",
        5.7,
        0.02,
        TIMM_CARD + ": vit_tiny_patch16_224.augreg_in21k_ft_in1k 5.7 M",
        forward_img=112,
        note="the card's 1.1 GMACs omit the attention products (SDPA); with them: 1.25",
    ),
    Ref(
        "timm:vit_small_patch16_224",
        "ViT-S/16",
        "vit",
        22.1,
        0.02,
        TIMM_CARD + ": deit_small_patch16_224.fb_in1k",
        4.6,
        0.02,
        TIMM_CARD + ": deit_small_patch16_224.fb_in1k 4.6 (same network as ViT-S/16)",
        forward_img=112,
    ),
    Ref(
        "timm:vit_base_patch16_224",
        "ViT-B/16",
        "vit",
        86.0,
        0.05,
        "Dosovitskiy et al. 2021, Table 1 (ViT-Base): 86 M",
        17.5,
        0.05,
        "Liu et al. 2021 (Swin), Table 1a: DeiT-B = ViT-B/16, 17.5 G FLOPs",
        forward_img=112,
    ),
    Ref(
        "timm:deit_small_patch16_224",
        "DeiT-S",
        "vit",
        22.0,
        0.05,
        "Touvron et al. 2021 (DeiT), Table 1: 22 M",
        4.6,
        0.05,
        "Liu et al. 2021 (Swin), Table 1a: DeiT-S 4.6 G FLOPs",
        forward_img=112,
    ),
    Ref(
        "timm:swin_tiny_patch4_window7_224",
        "Swin-T",
        "vit",
        28.0,
        0.05,
        "Liu et al. 2021, Table 1a: 28 M",
        4.5,
        0.05,
        "Liu et al. 2021, Table 1a: 4.5 G FLOPs",
        forward_img=224,
        note="forward at 224: the 7×7 windows need a stage-4 grid of whole windows",
    ),
    Ref(
        "timm:swin_small_patch4_window7_224",
        "Swin-S",
        "vit",
        50.0,
        0.05,
        "Liu et al. 2021, Table 1a: 50 M",
        8.7,
        0.05,
        "Liu et al. 2021, Table 1a: 8.7 G FLOPs",
        forward_img=224,
    ),
    Ref(
        "timm:vit_small_patch14_dinov2",
        "DINOv2 ViT-S/14",
        "vit",
        21.0,
        0.05,
        "Oquab et al. 2023 (DINOv2) / facebookresearch/dinov2 README: ViT-S/14 21 M",
        ref_img=224,
        forward_img=112,
        out_dim=384,
        note="feature model (no classifier), counted at 224 px as in the suite",
    ),
    Ref(
        "timm:vit_base_patch14_dinov2",
        "DINOv2 ViT-B/14",
        "vit",
        86.0,
        0.05,
        "DINOv2 README: ViT-B/14 86 M",
        151.7,
        0.02,
        TIMM_CARD + ": vit_base_patch14_dinov2.lvd142m, 151.7 GMACs at 518 px",
        ref_img=518,
        forward_img=112,
        out_dim=768,
        note="figures at the checkpoint's 518 px; the suite runs it at 224",
    ),
    Ref(
        "timm:eva02_tiny_patch14_224",
        "EVA-02-Ti/14",
        "vit",
        5.5,
        0.02,
        TIMM_CARD + ": eva02_tiny_patch14_224.mim_in22k 5.5 M",
        1.7,
        0.05,
        TIMM_CARD + ": eva02_tiny_patch14_224.mim_in22k 1.7 GMACs",
        forward_img=112,
        out_dim=192,
        note="Fang et al. 2023 (EVA-02) print 6 M (1 digit)",
    ),
    Ref(
        "timm:eva02_small_patch14_224",
        "EVA-02-S/14",
        "vit",
        22.0,
        0.05,
        "Fang et al. 2023 (EVA-02), Table: EVA-02-S 22 M",
        forward_img=112,
        out_dim=384,
    ),
    Ref(
        "timm:eva02_base_patch16_clip_224",
        "EVA-02-CLIP-B/16",
        "vit",
        86.0,
        0.05,
        "Sun et al. 2023 (EVA-CLIP): EVA02-CLIP-B/16 image encoder 86 M (149 M with the text tower)",
        forward_img=112,
        out_dim=512,
        note="image tower with its 512-d CLIP projection as the head",
    ),
    Ref(
        "timm:convnext_tiny",
        "ConvNeXt-T",
        "cnn",
        28.0,
        0.05,
        "Liu et al. 2022 (ConvNeXt), Table: 28 M",
        4.5,
        0.05,
        "Liu et al. 2022 (ConvNeXt): 4.5 G FLOPs",
        forward_img=64,
    ),
    Ref(
        "archbench:internimage_t",
        "InternImage-T",
        "hybrid",
        30.0,
        0.03,
        "Wang et al. 2023 (InternImage), Table 1 / OpenGVLab README: 30 M",
        5.0,
        0.10,
        "Wang et al. 2023 / OpenGVLab README: 5 G FLOPs (1 digit)",
        forward_img=64,
        note="archbench's plain-PyTorch build; see docs/internimage.md",
    ),
]

# Built on the meta device only: latency for these needs a GPU with enough memory.
GIANT_REFS: list[Ref] = [
    Ref(
        "timm:vit_giant_patch14_dinov2",
        "DINOv2 ViT-g/14",
        "vit",
        1100.0,
        0.05,
        "DINOv2 README / paper: ViT-g/14 1,100 M",
        1784.2,
        0.02,
        TIMM_CARD + ": vit_giant_patch14_dinov2.lvd142m, 1784.2 GMACs at 518 px",
        ref_img=518,
    ),
    Ref(
        "archbench:internimage_h",
        "InternImage-H",
        "hybrid",
        1080.0,
        0.02,
        "OpenGVLab/InternImage README: InternImage-H 1.08 B",
        188.0,
        0.05,
        "OpenGVLab/InternImage README: 188 G FLOPs at 224 px",
    ),
    Ref(
        "timm:eva_giant_patch14_clip_224",
        "",
        "vit",
        1000.0,
        0.05,
        "Fang et al. 2023 (EVA): the EVA ViT-g/14 image encoder, 1.0 B",
        out_dim=1024,
    ),
]

NOTES_ARCHITECTURES = {
    # Every architecture the notes name, with the suite row that stands for it.
    "AlexNet": ["AlexNet"],
    "VGG": ["VGG-16"],
    "ResNet": ["ResNet-18", "ResNet-50"],
    "MobileNet": ["MobileNetV1", "MobileNetV2", "MobileNetV3-S", "MobileNetV3-L"],
    "ViT": ["ViT-Ti/16", "ViT-S/16", "ViT-B/16", "DeiT-S"],
    "Swin Transformer": ["Swin-T", "Swin-S"],
    "DINOv2": ["DINOv2 ViT-S/14", "DINOv2 ViT-B/14", "DINOv2 ViT-g/14"],
    "EVA-CLIP": ["EVA-02-Ti/14", "EVA-02-S/14", "EVA-02-CLIP-B/16"],
    "ConvNeXt (modern CNN)": ["ConvNeXt-T"],
    "InternImage": ["InternImage-T", "InternImage-H"],
}


def _rel(measured: float, published: float) -> float:
    return measured / published - 1.0


@pytest.fixture(scope="module")
def seed_cells():
    return expand(load_suite(SEED_SUITE))


def test_suite_rows_are_exactly_the_reference_table(seed_cells):
    in_suite = SEED_REFS + [r for r in GIANT_REFS if r.alias]
    rows = {(c.model, c.registry_name) for c in seed_cells}
    assert rows == {(r.alias, r.name) for r in in_suite}
    assert len(seed_cells) == len(in_suite)  # one cell per model: batch 1, fp32, CPU
    runnable = [c for c in seed_cells if not c.options.get("min_gpu_mem_gb")]
    assert {(c.batch_size, c.precision, c.device, c.img_size) for c in runnable} == {(1, "fp32", "cpu", 224)}
    giants = {c.model: c for c in seed_cells if c.options.get("min_gpu_mem_gb")}
    assert set(giants) == {"DINOv2 ViT-g/14", "InternImage-H"}
    wanted = {row for rows_ in NOTES_ARCHITECTURES.values() for row in rows_}
    assert wanted == {c.model for c in seed_cells}


@pytest.mark.parametrize("ref", SEED_REFS + GIANT_REFS, ids=lambda r: r.name)
def test_family_tag(ref, seed_cells):
    assert registry.get_spec(ref.name).family == ref.family
    for cell in seed_cells:
        if cell.registry_name == ref.name:
            assert cell.family == ref.family


@pytest.mark.parametrize("ref", SEED_REFS + GIANT_REFS, ids=lambda r: r.name)
def test_params_match_published(ref):
    n = count_params_meta(ref.name, img_size=ref.ref_img)
    err = _rel(n / 1e6, ref.params_m)
    assert abs(err) <= ref.params_tol, f"{ref.name}: {n / 1e6:.3f} M vs {ref.params_m} M ({err:+.1%}; {ref.params_src})"


GMAC_REFS = [r for r in SEED_REFS + GIANT_REFS if r.gmacs is not None]


@pytest.mark.parametrize("ref", GMAC_REFS, ids=lambda r: r.name)
def test_gmacs_match_published(ref):
    model = build_on_meta(ref.name, img_size=ref.ref_img)
    report = count_flops(model, ref.ref_img, device="meta")
    assert report.uncounted_matmul_ops == []
    err = _rel(report.gmacs, ref.gmacs)
    assert abs(err) <= ref.gmacs_tol, f"{ref.name}: {report.gmacs:.3f} vs {ref.gmacs} GMACs ({err:+.1%}; {ref.gmacs_src})"


@pytest.mark.parametrize("ref", SEED_REFS, ids=lambda r: r.name)
def test_forward_pass_on_cpu(ref):
    # Full-size weights, reduced input where the architecture allows (CPU budget):
    # CNNs take any size; timm ViTs are rebuilt for the smaller grid.
    torch.manual_seed(0)
    model = registry.create_model(ref.name, img_size=ref.forward_img)
    with torch.inference_mode():
        y = model(torch.randn(1, 3, ref.forward_img, ref.forward_img))
    assert tuple(y.shape) == (1, ref.out_dim)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("ref", GIANT_REFS, ids=lambda r: r.name)
def test_giants_build_without_allocating_weights(ref):
    model = build_on_meta(ref.name, img_size=ref.ref_img)
    tensors = list(model.parameters()) + list(model.buffers())
    assert tensors and all(t.device.type == "meta" for t in tensors)
    assert sum(p.numel() for p in model.parameters()) > 0.9e9
