"""Claim 13: CNNs are compute-efficient and strong on small data; ViTs learn global context and are strong on large data but costly.

Korean:
    장점 | 연산 효율적, 소량 데이터에도 강함 | 전역 문맥 학습, 대규모 데이터에 강함
    한계 | 장거리 관계 약함 | 학습 비용 큼
English:
    Strengths — CNN: compute-efficient, strong even with little data | ViT: learns global context, strong with large data.
    Limits — CNN: weak at long-range relations | ViT: high training cost.
Method:
    Four checks, each a number measured here (CNN's long-range weakness is claim 9):
    (a) compute: GMACs at 224×224 of ResNet-50 and ViT-S/16 (DeiT-S), two networks of
    similar published ImageNet accuracy (80.4% with the "ResNet strikes back" A1 recipe,
    Wightman et al. 2021; 79.8%, Touvron et al. 2021), counted on the meta device (tiny: the
    same, it costs nothing);
    (b) small data: test accuracy of the CNN and the ViT trained on 10% of the digits
    (claim 11's runs, reused within a run);
    (c) large data: how much each gains from 10% to 100% of the digits (claim 11's runs);
    (d) global context: at initialisation, |∂y/∂input| of one central output unit of the
    last feature map (a fixed random projection of its channels) for ResNet-50 and ViT-S at
    224×224 (tiny: 112×112), and the fraction of input pixels that holds 90% of that
    gradient mass — how much of the image one output already draws on.
Verdict:
    holds: all four hold: (a) ResNet-50 needs fewer GMACs than ViT-S; (b) the CNN beats the ViT by ≥ 3 points at 10%; (c) the ViT gains more accuracy from 10% to 100% than the CNN; (d) ViT's 90%-mass area is ≥ 2× ResNet's.
    holds with caveat: two or three of the four hold (the caveat names the ones that did not).
    does not hold here: at most one holds.
"""

from __future__ import annotations

import numpy as np
import timm
import torch

from bench.claims import _measure as M
from bench.claims._plot import COLORS, figure
from bench.claims.base import CAVEAT, FAILS, HOLDS, ClaimResult, Decision
from bench.claims.c11_vit_data_efficiency import data_efficiency

ERF_SIZE = {"tiny": 112, "full": 224}
NAMES = {"cnn": "resnet50", "vit": "vit_small_patch16_224"}
CHECKS = {
    "a": "ResNet-50 needs fewer GMACs than ViT-S",
    "b": "the CNN beats the ViT by ≥ 3 points on 10% of the data",
    "c": "the ViT gains more from more data than the CNN",
    "d": "ViT's gradient at init spreads over ≥ 2× more of the image",
}


def decide(gmacs: dict[str, float], acc: dict[str, list[float]], erf_area: dict[str, float]) -> Decision:
    ok = {
        "a": gmacs["cnn"] < gmacs["vit"],
        "b": acc["cnn"][0] - acc["vit"][0] >= 0.03,
        "c": acc["vit"][-1] - acc["vit"][0] > acc["cnn"][-1] - acc["cnn"][0],
        "d": erf_area["vit"] >= 2 * erf_area["cnn"],
    }
    failed = [k for k, v in ok.items() if not v]
    if not failed:
        return Decision(HOLDS)
    text = "not seen: " + "; ".join(f"({k}) {CHECKS[k]}" for k in failed)
    return Decision(CAVEAT if len(failed) <= 2 else FAILS, text)


def _erf_area(key: str, size: int, seed: int) -> tuple[float, object]:
    torch.manual_seed(seed)
    kw = {} if key == "cnn" else {"img_size": size}
    model = timm.create_model(NAMES[key], **kw).eval()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, size, size, generator=g)
    feats = model.forward_features(x[:1])
    w = torch.randn(feats.shape[1] if key == "cnn" else feats.shape[-1], generator=g)

    def centre(inp: torch.Tensor) -> torch.Tensor:
        f = model.forward_features(inp)
        if key == "cnn":  # B×C×H×W
            return f[:, :, f.shape[2] // 2, f.shape[3] // 2] @ w
        grid = size // 16  # B×(1+grid²)×C, class token first
        return f[:, 1 + (grid // 2) * grid + grid // 2] @ w

    gm = M.input_grad_map(centre, x)
    return M.mass_area_fraction(gm, 0.9), gm


def run(scale: str, seed: int) -> ClaimResult:
    img = torch.empty(1, 3, 224, 224, device="meta")
    gmacs = {k: M.gmacs(M.on_meta(lambda n=n: timm.create_model(n)), img) for k, n in NAMES.items()}
    r = data_efficiency(scale, seed)
    acc = {k: [r["acc"][k][0], r["acc"][k][-1]] for k in ("cnn", "vit")}
    size = ERF_SIZE[scale]
    erf_area, maps = {}, {}
    for key in NAMES:
        erf_area[key], maps[key] = _erf_area(key, size, seed)
    decision = decide(gmacs, acc, erf_area)

    fig, axes = figure(3, width=3.6)
    labels = {"cnn": "ResNet-50 / CNN", "vit": "ViT-S / ViT"}
    colors = [COLORS["cnn"], COLORS["vit"]]
    axes[0].bar(["ResNet-50", "ViT-S/16"], [gmacs["cnn"], gmacs["vit"]], color=colors)
    axes[0].set(ylabel="GMACs at 224×224", title="(a) compute")
    for i, key in enumerate(("cnn", "vit")):
        axes[1].plot([r["fractions"][0], 1.0], acc[key], "o-", color=colors[i], label=labels[key])
    axes[1].set(xscale="log", xlabel="fraction of training digits", ylabel="test accuracy", title="(b, c) data")
    axes[1].legend(fontsize=7)
    for i, key in enumerate(("cnn", "vit")):
        v = np.sort(maps[key].ravel())[::-1]
        axes[2].plot(np.arange(1, v.size + 1) / v.size, np.cumsum(v) / v.sum(), color=colors[i],
                     label=f"{labels[key].split(' /')[0]}: 90% in {100 * erf_area[key]:.1f}% of pixels")
    axes[2].axhline(0.9, color="k", ls=":", lw=0.8)
    axes[2].set(xscale="log", xlabel="fraction of input pixels (largest |∂y/∂x| first)", ylabel="share of gradient mass",
                title="(d) image share one output draws on")
    axes[2].legend(fontsize=7)
    headline = (f"GMACs ResNet-50 {gmacs['cnn']:.1f} vs ViT-S {gmacs['vit']:.1f}; 10%-data accuracy {acc['cnn'][0]:.3f} vs "
                f"{acc['vit'][0]:.3f}; gain to 100% {acc['cnn'][1] - acc['cnn'][0]:+.3f} vs {acc['vit'][1] - acc['vit'][0]:+.3f}; "
                f"90% of the input gradient at init lies in {100 * erf_area['cnn']:.2g}% vs {100 * erf_area['vit']:.2g}% of the image")
    numbers = {"gmacs_224": gmacs, "test_acc_10pct_100pct": acc, "erf_area_fraction_90": erf_area, "erf_img_size": size,
               "timm_names": NAMES}
    return ClaimResult(numbers, headline, decision, fig)
