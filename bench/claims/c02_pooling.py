"""Claim 2: Pooling lowers resolution, cutting compute and adding robustness to small shifts; a strided convolution can replace it.

Korean:
    Pooling Layer | 해상도 축소 → 연산 효율 ↑, 위치 강건성 ↑
    위치 변화에 강건, 연산량 절감
    Stride Convolution으로 대체 가능 (학습 가능한 축소 방식)
English:
    Pooling layer: reduces resolution → compute efficiency ↑, robustness to position ↑.
    Robust to changes of position; cuts computation.
    Can be replaced by a strided convolution (a learnable way to downsample).
Method:
    Digits upsampled 2× (16×16) on a 24×24 zero canvas, so shifts of up to 4 pixels never
    crop the digit. Four models with the same conv widths (16/32/32), trained with the same
    budget (Adam, fixed steps, seed 0, no augmentation): max-pool CNN; the same CNN with each
    max-pool replaced by a 3×3 stride-2 convolution; the same CNN without any downsampling
    (global average pooling only); a small ViT (patch 4, dim 48, depth 3, learnable
    positions). GMACs counted per image. Shift consistency at k ∈ {1, 2, 3, 4} pixels = the
    fraction of test images whose predicted class is unchanged when the image is shifted k
    pixels left, right, up or down (averaged over the four directions).
Verdict:
    holds: max-pool cuts GMACs ≥ 2× against no downsampling (A); the max-pool CNN's mean shift consistency beats both the strided-conv CNN and the ViT (B) and is at least that of the no-downsampling CNN (D); the strided-conv CNN's test accuracy is within 3 points of the max-pool CNN (C).
    holds with caveat: A and C hold, and at least one of B or D holds (the caveat names the one that failed).
    does not hold here: A or C fails, or max-pool is less shift-consistent than the strided conv or ViT and than the no-downsampling CNN.
"""

from __future__ import annotations

import torch

from bench.claims import _measure as M
from bench.claims import _train as T
from bench.claims._nets import SmallCNN, SmallViT
from bench.claims._plot import COLORS, figure
from bench.claims.base import CAVEAT, FAILS, HOLDS, ClaimResult, Decision

STEPS = {"tiny": 30, "full": 500}
SHIFTS = [1, 2, 3, 4]
CANVAS, PAD = 24, 4
MODELS = ["maxpool", "strided", "none", "vit"]
LABELS = {"maxpool": "max-pool CNN", "strided": "strided-conv CNN", "none": "no downsampling", "vit": "ViT"}


def decide(gmacs: dict[str, float], consistency: dict[str, float], acc: dict[str, float]) -> Decision:
    a = gmacs["none"] / gmacs["maxpool"] >= 2.0
    c = acc["strided"] >= acc["maxpool"] - 0.03
    b = consistency["maxpool"] > consistency["strided"] and consistency["maxpool"] > consistency["vit"]
    d = consistency["maxpool"] >= consistency["none"]
    if not a:
        return Decision(FAILS, f"max-pool cut GMACs only {gmacs['none'] / gmacs['maxpool']:.2f}×")
    if not c:
        return Decision(FAILS, f"the strided conv lost {100 * (acc['maxpool'] - acc['strided']):.1f} accuracy points")
    if b and d:
        return Decision(HOLDS)
    if b:
        return Decision(CAVEAT, (f"max-pool is more shift-consistent than the strided conv and the ViT, but a CNN that never "
                                 f"downsamples is more consistent still ({consistency['none']:.3f} vs "
                                 f"{consistency['maxpool']:.3f}): the robustness comes from global pooling, "
                                 "and downsampling of any kind costs some of it"))
    if d:
        rival = max(("strided", "vit"), key=lambda k: consistency[k])
        return Decision(CAVEAT, (f"max-pool is at least as consistent as no downsampling, but the {LABELS[rival]} is "
                                 f"more consistent ({consistency[rival]:.3f} vs {consistency['maxpool']:.3f})"))
    return Decision(FAILS, "max-pool was less shift-consistent than the alternatives")


def _shift(x: torch.Tensor, k: int, direction: int) -> torch.Tensor:
    dim = 3 if direction < 2 else 2
    return torch.roll(x, k if direction % 2 == 0 else -k, dims=dim)  # the zero border makes roll a shift


def shift_consistency(model, x: torch.Tensor, k: int) -> float:
    base = T.predict(model, x)
    return sum(float((T.predict(model, _shift(x, k, d)) == base).float().mean()) for d in range(4)) / 4


def _build(kind: str):
    if kind == "vit":
        return SmallViT(img_size=CANVAS, patch=4, dim=48, depth=3, heads=3)
    return SmallCNN(widths=(16, 32, 32), down=kind)


def run(scale: str, seed: int) -> ClaimResult:
    data = T.digits_split()
    xtr, xte = T.render(data.x_train, 2, PAD), T.render(data.x_test, 2, PAD)
    gm, acc, cons_k, cons = {}, {}, {}, {}
    for kind in MODELS:
        torch.manual_seed(seed)
        model = _build(kind)
        gm[kind] = M.gmacs(model.eval(), xte[:1])
        T.train(model, xtr, data.y_train, steps=STEPS[scale], seed=seed)
        acc[kind] = T.accuracy(model, xte, data.y_test)
        cons_k[kind] = [shift_consistency(model, xte, k) for k in SHIFTS]
        cons[kind] = sum(cons_k[kind]) / len(SHIFTS)
    decision = decide(gm, cons, acc)

    fig, (ax1, ax2) = figure(2)
    colors = {"maxpool": COLORS["cnn"], "strided": COLORS["mobile"], "none": COLORS["other"], "vit": COLORS["vit"]}
    for kind in MODELS:
        ax1.plot(SHIFTS, cons_k[kind], "o-", color=colors[kind], label=f"{LABELS[kind]} (acc {acc[kind]:.3f})")
    ax1.set(xlabel="shift (pixels)", ylabel="prediction unchanged (fraction)", title="Shift consistency", xticks=SHIFTS)
    ax1.legend(fontsize=7)
    ax2.bar([LABELS[k].replace(" ", "\n", 1) for k in MODELS], [gm[k] * 1e3 for k in MODELS],
            color=[colors[k] for k in MODELS])
    ax2.set(ylabel="MMACs / image", title=f"Compute at {CANVAS}×{CANVAS}")
    ax2.tick_params(axis="x", labelsize=7)
    headline = (f"max-pool cuts MACs {gm['none'] / gm['maxpool']:.1f}×; mean shift consistency max-pool {cons['maxpool']:.3f}, "
                f"strided {cons['strided']:.3f}, none {cons['none']:.3f}, ViT {cons['vit']:.3f}")
    numbers = {
        "gmacs": gm, "test_acc": acc, "shift_consistency_mean": cons,
        "shift_consistency_by_k": {k: dict(zip(map(str, SHIFTS), v)) for k, v in cons_k.items()},
        "train_steps": STEPS[scale],
    }
    return ClaimResult(numbers, headline, decision, fig)
