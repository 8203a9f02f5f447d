"""Claim 5: VGG stacks 3×3 filters — two 3×3 layers see what one 5×5 sees with fewer weights — and has many parameters and heavy compute.

Korean:
    3×3 필터 반복, 깊이로 성능 향상
    단점: 파라미터 많고 연산량 큼
English:
    Repeated 3×3 filters; performance gained through depth.
    Drawback: many parameters and heavy computation.
Method:
    (a) At C = 256 channels on a 56×56 map: two stacked 3×3 convs vs one 5×5, three 3×3 vs one
    7×7 — parameters, GMACs and receptive field computed from the real modules (meta device).
    (b) torchvision VGG-16 against ResNet-50 (a later network of similar or better ImageNet
    accuracy: 71.6% vs 76.1% top-1 in torchvision's published v1 weights) and AlexNet:
    parameters and GMACs at 224×224 on the meta device, the share of VGG-16's parameters in
    its FC head, and (reported, not judged) CPU latency at batch 1 (tiny: at 64×64).
Verdict:
    holds: (a) each 3×3 stack has the receptive field of the big kernel with fewer parameters, (b) VGG-16 has ≥ 3× the parameters and ≥ 2× the GMACs of ResNet-50, and most of its parameters are not in the FC head.
    holds with caveat: (a) and (b) hold but most (> 50%) of VGG-16's parameters sit in the three FC layers rather than in the 3×3 stacks.
    does not hold here: (a) or (b) fails.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from bench.claims import _measure as M
from bench.claims._plot import COLORS, figure
from bench.claims.base import CAVEAT, FAILS, HOLDS, ClaimResult, Decision

C, HW = 256, 56
LATENCY_SIZE = {"tiny": 64, "full": 224}


def decide(stacks: list[dict], vgg: dict, resnet: dict, vgg_fc_share: float) -> Decision:
    for s in stacks:
        if s["stack_rf"] != s["big_rf"] or s["stack_params"] >= s["big_params"]:
            return Decision(FAILS, f"{s['name']}: RF {s['stack_rf']} vs {s['big_rf']}, params {s['stack_params']} vs {s['big_params']}")
    p, g = vgg["params"] / resnet["params"], vgg["gmacs"] / resnet["gmacs"]
    if p < 3 or g < 2:
        return Decision(FAILS, f"VGG-16 has {p:.1f}× the params and {g:.1f}× the GMACs of ResNet-50")
    if vgg_fc_share > 0.5:
        return Decision(CAVEAT, (f"{100 * vgg_fc_share:.0f}% of VGG-16's parameters are in its 3 FC layers, not in the "
                                 "3×3 stacks; the stacks are where the compute goes"))
    return Decision(HOLDS)


def _stack(n: int) -> nn.Sequential:
    return nn.Sequential(*[nn.Conv2d(C, C, 3, padding=1, bias=False) for _ in range(n)])


def run(scale: str, seed: int) -> ClaimResult:
    torch.manual_seed(seed)
    x = torch.empty(1, C, HW, HW, device="meta")
    stacks = []
    for n, k in [(2, 5), (3, 7)]:
        small = M.on_meta(lambda n=n: _stack(n))
        big = M.on_meta(lambda k=k: nn.Sequential(nn.Conv2d(C, C, k, padding=k // 2, bias=False)))
        rf = lambda m: M.theoretical_rf(m, HW, in_chans=C)[-1].rf  # noqa: E731
        stacks.append({
            "name": f"{n}×3×3 vs {k}×{k}", "stack_params": M.params(small), "big_params": M.params(big),
            "stack_gmacs": M.gmacs(small, x), "big_gmacs": M.gmacs(big, x), "stack_rf": rf(small), "big_rf": rf(big),
        })

    img = torch.empty(1, 3, 224, 224, device="meta")
    nets = {}
    for name in ["alexnet", "vgg16", "resnet50"]:
        m = M.on_meta(lambda n=name: torchvision.models.get_model(n))
        nets[name] = {"params": M.params(m), "gmacs": M.gmacs(m, img)}
    vgg_meta = M.on_meta(lambda: torchvision.models.vgg16())
    vgg_fc_share = sum(M.params(m) for m in vgg_meta.classifier.modules() if isinstance(m, nn.Linear)) / nets["vgg16"]["params"]
    s = LATENCY_SIZE[scale]
    xr = torch.randn(1, 3, s, s)
    for name in ["vgg16", "resnet50"]:
        nets[name]["latency_ms"] = M.latency_ms(torchvision.models.get_model(name).eval(), xr)
    decision = decide(stacks, nets["vgg16"], nets["resnet50"], vgg_fc_share)

    fig, (ax1, ax2) = figure(2)
    labels = ["2×3×3", "5×5", "3×3×3", "7×7"]
    vals = [stacks[0]["stack_params"], stacks[0]["big_params"], stacks[1]["stack_params"], stacks[1]["big_params"]]
    ax1.bar(labels, [v / 1e6 for v in vals], color=[COLORS["cnn"], COLORS["other"]] * 2)
    for i, r in enumerate([stacks[0]["stack_rf"], stacks[0]["big_rf"], stacks[1]["stack_rf"], stacks[1]["big_rf"]]):
        ax1.text(i, vals[i] / 1e6, f"RF {r}", ha="center", va="bottom", fontsize=8)
    ax1.set(ylabel="parameters (M)", title=f"Same receptive field, {C} channels")
    names = list(nets)
    ax2.scatter([nets[n]["gmacs"] for n in names], [nets[n]["params"] / 1e6 for n in names], color=COLORS["cnn"])
    for n in names:
        ax2.annotate(n, (nets[n]["gmacs"], nets[n]["params"] / 1e6), fontsize=8, xytext=(3, 3), textcoords="offset points")
    ax2.set(xlabel="GMACs at 224×224", ylabel="parameters (M)", title="Whole networks")
    v, r = nets["vgg16"], nets["resnet50"]
    headline = (f"2×3×3 uses {stacks[0]['stack_params'] / stacks[0]['big_params']:.2f}× the weights of 5×5 at equal RF; "
                f"VGG-16 {v['params'] / 1e6:.1f} M params / {v['gmacs']:.1f} GMACs vs ResNet-50 {r['params'] / 1e6:.1f} M / "
                f"{r['gmacs']:.1f} ({100 * vgg_fc_share:.0f}% of VGG's params in FC)")
    numbers = {"stacks": stacks, "networks": nets, "vgg16_fc_param_share": vgg_fc_share, "latency_img_size": s}
    return ClaimResult(numbers, headline, decision, fig)
