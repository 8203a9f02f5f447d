"""Claim 3: The receptive field grows with depth.

Korean:
    CNN이 한 번에 “볼 수 있는” 입력 영역의 크기
    레이어가 깊어질수록 넓어짐 → 더 큰 문맥 이해 가능
English:
    The size of the input region a CNN can "see" at once.
    It widens as layers get deeper → larger context can be understood.
Method:
    Theoretical receptive field after every conv/pool layer of torchvision AlexNet, VGG-16 and
    ResNet-50 (tiny: AlexNet, VGG-11, ResNet-18), from the layers' real kernel sizes, strides
    and dilations in execution order (rf += (k−1)·dilation·jump; jump *= stride; ResNet's
    projection shortcuts lie off the main path). Effective receptive field (Luo et al., 2016)
    of the randomly initialised ResNet at 224×224 (tiny: 96×96): the mean |∂y/∂input| over
    2 random inputs, y = the centre unit (all channels) of each stage's output, and the side
    of the smallest centred square holding 95% of that gradient mass.
    The theoretical RF is arithmetic from the layer shapes, so this row is computed. The
    effective RF depends on random weights: it is reported (mean and range over the run's
    seeds), not judged. It is the same network and measure as claim 13(d): torchvision's
    ResNet, whose residual branches start with random weights. timm's ResNet-50 zeroes the
    last norm of every residual branch at initialisation (zero_init_last=True), which leaves
    stem + shortcuts and an effective RF of about the stem's size; that variant is reported
    beside it (last stage only) so the two numbers are not confused.
Formula:
    rf ← rf + (k − 1)·dilation·jump and jump ← jump·stride, layer by layer along the main path (rf = 1, jump = 1 at the input).
"""

from __future__ import annotations

import numpy as np
import torch
import torchvision

from bench.claims import _measure as M
from bench.claims._plot import COLORS, figure
from bench.claims.base import COMPUTED, ClaimResult, Decision

KIND = "computed"

MODELS = {"tiny": ["alexnet", "vgg11", "resnet18"], "full": ["alexnet", "vgg16", "resnet50"]}
ERF_SIZE = {"tiny": 96, "full": 224}
STAGES = ["layer1", "layer2", "layer3", "layer4"]


def _erf_sides(resnet, img: int, seed: int, stages=STAGES) -> tuple[list[int], list]:
    x = torch.randn(2, 3, img, img, generator=torch.Generator().manual_seed(seed))
    maps, erf = [], []
    for stage in stages:

        def centre(inp, stage=stage):
            h = inp
            for part in ["conv1", "bn1", getattr(resnet, "act1", None) and "act1" or "relu", "maxpool"] + STAGES[
                : STAGES.index(stage) + 1
            ]:
                h = getattr(resnet, part)(h)
            return h[:, :, h.shape[2] // 2, h.shape[3] // 2].sum(dim=1)

        g = M.input_grad_map(centre, x)
        maps.append(g)
        erf.append(M.centred_square_side(g, 0.95))
    return erf, maps


def run(scale: str, seeds: tuple[int, ...] = (0,)) -> ClaimResult:
    import timm

    trf: dict[str, list[int]] = {}
    layers: dict[str, list[M.RFLayer]] = {}
    for name in MODELS[scale]:
        meta = M.on_meta(lambda n=name: torchvision.models.get_model(n))  # type: ignore[misc]  # mypy cannot type a lambda default
        layers[name] = M.theoretical_rf(meta, 224)
        trf[name] = [la.rf for la in layers[name]]

    resnet_name = MODELS[scale][-1]
    img = ERF_SIZE[scale]
    erf_by_seed, maps = [], None
    for seed in seeds:
        torch.manual_seed(seed)
        resnet = torchvision.models.get_model(resnet_name).eval()
        erf_s, maps_s = _erf_sides(resnet, img, seed)
        erf_by_seed.append(erf_s)
        maps = maps if maps is not None else maps_s
    erf = [sorted(v)[len(v) // 2] for v in zip(*erf_by_seed)]  # median over seeds, per stage
    torch.manual_seed(seeds[0])
    timm_zero = timm.create_model(resnet_name, zero_init_last=True).eval()
    erf_zero_last = _erf_sides(timm_zero, img, seeds[0], stages=["layer4"])[0][0]
    stage_trf = []
    for stage in STAGES:
        stage_trf.append(max(la.rf for la in layers[resnet_name] if la.name.startswith(stage)))

    fig, axes = figure(3, width=3.6)
    colors = [COLORS["other"], COLORS["mobile"], COLORS["cnn"]]
    for (name, rfs), c in zip(trf.items(), colors):
        axes[0].plot(range(1, len(rfs) + 1), rfs, ".-", color=c, label=f"{name} (final {rfs[-1]})")
    axes[0].set(xlabel="conv/pool layer (execution order)", ylabel="theoretical RF (px)", title="Theoretical RF")
    axes[0].legend(fontsize=7)
    axes[1].plot(range(1, 5), stage_trf, "o-", color=COLORS["cnn"], label="theoretical")
    axes[1].plot(range(1, 5), erf, "s--", color=COLORS["vit"], label="effective (95% mass)")
    axes[1].axhline(img, color="k", lw=0.8, ls=":", label=f"image {img}px")
    axes[1].set(xlabel=f"{resnet_name} stage", ylabel="side (px)", title="Theoretical vs effective", xticks=[1, 2, 3, 4])
    axes[1].legend(fontsize=7)
    assert maps is not None  # set by the first seed
    axes[2].imshow(np.log10(maps[-1] + 1e-12), cmap="magma")
    axes[2].set(title=f"log10 |∂y/∂x|, {resnet_name} layer4 centre", xticks=[], yticks=[])
    axes[2].grid(False)
    headline = (
        "theoretical RF after the last layer "
        + ", ".join(f"{n} {r[-1]} px" for n, r in trf.items())
        + " (rf += (k−1)·dilation·jump, jump *= stride), never shrinking with depth; reported, not judged: "
        f"{resnet_name} effective RF by stage {erf} px at {img}×{img} (median of {len(seeds)} inits), "
        f"{erf_zero_last} px at the last stage with timm's zero_init_last"
    )
    numbers = {
        "theoretical_rf_final_px": {n: r[-1] for n, r in trf.items()},
        "theoretical_rf_by_layer_px": trf,
        f"{resnet_name}_stage_theoretical_rf_px": stage_trf,
        f"{resnet_name}_stage_effective_rf_px": erf,
        f"{resnet_name}_stage_effective_rf_px_by_seed": erf_by_seed,
        f"timm_{resnet_name}_zero_init_last_effective_rf_px": erf_zero_last,
        "erf_img_size": img,
    }
    return ClaimResult(numbers, headline, Decision(COMPUTED), fig)
