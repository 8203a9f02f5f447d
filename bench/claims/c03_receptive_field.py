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
    4 random inputs, y = the centre unit (all channels) of each stage's output, and the side
    of the smallest centred square holding 95% of that gradient mass.
Verdict:
    holds: the theoretical RF never shrinks with depth and grows ≥ 10× from the first to the last layer in every model (A), the effective RF grows from the first to the last ResNet stage (B), and at the last stage it covers ≥ 50% of the side of the theoretical RF (capped at the image) (C).
    holds with caveat: A and B hold but C does not (the network can see far but in practice looks near the centre).
    does not hold here: A or B fails.
"""

from __future__ import annotations

import numpy as np
import torch
import torchvision

from bench.claims import _measure as M
from bench.claims._plot import COLORS, figure
from bench.claims.base import CAVEAT, FAILS, HOLDS, ClaimResult, Decision

MODELS = {"tiny": ["alexnet", "vgg11", "resnet18"], "full": ["alexnet", "vgg16", "resnet50"]}
ERF_SIZE = {"tiny": 96, "full": 224}
STAGES = ["layer1", "layer2", "layer3", "layer4"]


def decide(trf: dict[str, list[int]], erf: list[int], trf_at_stages: list[int], img: int) -> Decision:
    for name, rfs in trf.items():
        if any(b < a for a, b in zip(rfs, rfs[1:])) or rfs[-1] < 10 * rfs[0]:
            return Decision(FAILS, f"{name}'s theoretical receptive field does not grow ≥ 10× with depth")
    if erf[-1] <= erf[0]:
        return Decision(FAILS, f"the effective receptive field did not grow ({erf[0]} → {erf[-1]} px)")
    cap = min(trf_at_stages[-1], img)
    if erf[-1] >= 0.5 * cap:
        return Decision(HOLDS)
    return Decision(CAVEAT, (f"the effective receptive field of the last stage is {erf[-1]} px, "
                             f"{100 * erf[-1] / cap:.0f}% of the theoretical {cap} px: gradient mass concentrates "
                             "near the centre, so deep units see far less than their theoretical field"))


def run(scale: str, seed: int) -> ClaimResult:
    torch.manual_seed(seed)
    trf: dict[str, list[int]] = {}
    layers: dict[str, list[M.RFLayer]] = {}
    for name in MODELS[scale]:
        meta = M.on_meta(lambda n=name: torchvision.models.get_model(n))
        layers[name] = M.theoretical_rf(meta, 224)
        trf[name] = [la.rf for la in layers[name]]

    resnet_name = MODELS[scale][-1]
    img = ERF_SIZE[scale]
    resnet = torchvision.models.get_model(resnet_name).eval()
    x = torch.randn(4, 3, img, img, generator=torch.Generator().manual_seed(seed))
    maps, erf = [], []
    for stage in STAGES:
        def centre(inp, stage=stage):
            h = inp
            for part in ["conv1", "bn1", "relu", "maxpool"] + STAGES[: STAGES.index(stage) + 1]:
                h = getattr(resnet, part)(h)
            return h[:, :, h.shape[2] // 2, h.shape[3] // 2].sum(dim=1)
        g = M.input_grad_map(centre, x)
        maps.append(g)
        erf.append(M.centred_square_side(g, 0.95))
    stage_trf = []
    for stage in STAGES:
        stage_trf.append(max(la.rf for la in layers[resnet_name] if la.name.startswith(stage)))
    decision = decide(trf, erf, stage_trf, img)

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
    axes[2].imshow(np.log10(maps[-1] + 1e-12), cmap="magma")
    axes[2].set(title=f"log10 |∂y/∂x|, {resnet_name} layer4 centre", xticks=[], yticks=[])
    axes[2].grid(False)
    headline = ("theoretical RF " + ", ".join(f"{n} {r[-1]} px" for n, r in trf.items())
                + f"; {resnet_name} effective RF by stage {erf} px at {img}×{img}")
    numbers = {
        "theoretical_rf_final_px": {n: r[-1] for n, r in trf.items()},
        "theoretical_rf_by_layer_px": trf,
        f"{resnet_name}_stage_theoretical_rf_px": stage_trf,
        f"{resnet_name}_stage_effective_rf_px": erf,
        "erf_img_size": img,
    }
    return ClaimResult(numbers, headline, decision, fig)
