"""Claim 5: VGG stacks 3×3 filters and gains accuracy through depth; its drawback is many parameters and heavy compute.

Korean:
    3×3 필터 반복, 깊이로 성능 향상
    단점: 파라미터 많고 연산량 큼
English:
    Repeated 3×3 filters; performance gained through depth.
    Drawback: many parameters and heavy computation.
Method:
    Depth → accuracy at equal parameters: VGG-style stacks (two blocks of 3×3 conv + ReLU +
    BatchNorm, max-pool after each block, global average pool, one linear layer) of 2 and
    8 conv layers (tiny: 2 and 6), each width chosen so the stack has about as many
    parameters as the 2-layer stack at width 32 (≈ 10 k). Digits upsampled to 16×16, same
    budget (AdamW lr 3e-3, batch 64; full 150 steps, tiny 80), 3 seeds. Effect per seed =
    test accuracy(deepest) − test accuracy(shallowest). Reported as arithmetic, not judged:
    two stacked 3×3 convs have the receptive field of one 5×5 with 18/25 of its weights, and
    torchvision's VGG-16 has 138 M parameters / 15.5 GMACs against ResNet-50's 25.6 M / 4.1
    (89% of VGG-16's parameters are in its FC head).
Verdict:
    holds: the 95% interval of the accuracy effect (deep − shallow) lies above 0.
    does not hold here: the interval lies at or below 0.
    inconclusive: the interval straddles 0.
"""

from __future__ import annotations

import functools

import torch
import torchvision
from torch import nn

from bench.claims import _measure as M
from bench.claims import _train as T
from bench.claims._exp import arm_seed, decide_effect, interval, mean, over_seeds
from bench.claims._nets import vgg_stack, width_for_params
from bench.claims._plot import COLORS, figure
from bench.claims.base import FAILS, HOLDS, INCONCLUSIVE, ClaimResult, Decision
from bench.claims.stats import Interval

KIND = "experiment"
REACHABLE_VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)
WHY_REACHABLE = {
    HOLDS: "the real configuration (8 vs 2 layers with BatchNorm at equal parameters) once the deep stack's lead is "
    "clear in every seed; at tiny scale (depths=(2, 4), steps=150) every seed's effect is positive and five "
    "seeds narrow the interval enough to clear 0 (tests/test_claims.py runs it so)",
    FAILS: "the deep stack without BatchNorm (deep_bn=False, PyTorch's default init, as VGG was before BN): "
    "signals shrink layer by layer and the deep stack trains worse in the same budget",
    INCONCLUSIVE: "the deep arm made as shallow as the reference (depths=(2, 2)): the arms differ only by seed",
}
STEPS = {"tiny": 80, "full": 150}
DEPTHS = {"tiny": (2, 6), "full": (2, 8)}
BASE_WIDTH = 32


def decide(effect: Interval) -> Decision:
    return decide_effect(effect, "test accuracy, deepest minus shallowest stack at equal parameters")


@functools.lru_cache(maxsize=1)
def _arithmetic() -> dict:
    x = torch.empty(1, 256, 56, 56, device="meta")
    stack = M.on_meta(
        lambda: nn.Sequential(nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.Conv2d(256, 256, 3, padding=1, bias=False))
    )
    big = M.on_meta(lambda: nn.Conv2d(256, 256, 5, padding=2, bias=False))
    img = torch.empty(1, 3, 224, 224, device="meta")
    nets = {n: M.on_meta(lambda n=n: torchvision.models.get_model(n)) for n in ("vgg16", "resnet50")}  # type: ignore[misc]  # mypy cannot type a lambda default
    fc = sum(M.params(m) for m in nets["vgg16"].classifier.modules() if isinstance(m, nn.Linear))
    return {
        "two_3x3_over_5x5_params": M.params(stack) / M.params(big),
        "two_3x3_rf": M.theoretical_rf(stack, 56, 256)[-1].rf,
        "one_5x5_rf": M.theoretical_rf(big, 56, 256)[-1].rf,
        "vgg16": {"params": M.params(nets["vgg16"]), "gmacs": M.gmacs(nets["vgg16"], img)},
        "resnet50": {"params": M.params(nets["resnet50"]), "gmacs": M.gmacs(nets["resnet50"], img)},
        "vgg16_fc_param_share": fc / M.params(nets["vgg16"]),
        "_unused": x.shape[0],
    }


def run(
    scale: str, seeds: tuple[int, ...], depths: tuple[int, ...] | None = None, deep_bn: bool = True, steps: int | None = None
) -> ClaimResult:
    steps = steps or STEPS[scale]
    data = T.digits_split()
    xtr, xte = T.render(data.x_train, 2), T.render(data.x_test, 2)
    depths = tuple(depths or DEPTHS[scale])
    target = sum(p.numel() for p in vgg_stack(depths[0], BASE_WIDTH).parameters())
    arms = []  # (depth, width, bn)
    for i, d in enumerate(depths):
        bn = True if i == 0 else deep_bn
        arms.append((d, BASE_WIDTH if i == 0 else width_for_params(d, target, bn), bn))
    params = [sum(p.numel() for p in vgg_stack(*a).parameters()) for a in arms]

    def one(seed: int) -> dict:
        row = {}
        for i, (d, w, bn) in enumerate(arms):
            torch.manual_seed(arm_seed(seed, i))
            model = vgg_stack(d, w, bn)
            T.train(model, xtr, data.y_train, steps=steps, seed=arm_seed(seed, i))
            row[f"acc_depth{d}_{i}"] = T.accuracy(model, xte, data.y_test)
        row["effect"] = row[f"acc_depth{depths[-1]}_{len(depths) - 1}"] - row[f"acc_depth{depths[0]}_0"]
        return row

    rows = over_seeds(seeds, one)
    effect = interval(rows, "effect")
    decision = decide(effect)
    arith = {k: v for k, v in _arithmetic().items() if k != "_unused"}

    fig, ax = figure(1, width=4.6)
    for i, (d, _w, bn) in enumerate(arms):
        ys = [r[f"acc_depth{d}_{i}"] for r in rows]
        ax.plot([d] * len(ys), ys, "o", color=COLORS["cnn"] if bn else COLORS["other"], alpha=0.6)
        ax.plot([d], [sum(ys) / len(ys)], "s", color="k")
    ax.set(
        xlabel="3×3 conv layers (equal parameters)",
        ylabel="test accuracy",
        xticks=list(depths),
        title=f"Depth at ≈{target / 1e3:.0f} k params",
    )
    desc = ", ".join(
        f"{d} layers×{w}{'' if bn else ' no BN'} ({p / 1e3:.1f} k) {mean(rows, f'acc_depth{d}_{i}'):.3f}"
        for i, ((d, w, bn), p) in enumerate(zip(arms, params))
    )
    headline = (
        f"test accuracy deep − shallow: {effect.text(100, unit=' pts')} over {effect.n} seeds ({desc}); "
        f"arithmetic: 2×3×3 = {arith['two_3x3_over_5x5_params']:.2f}× the weights of 5×5 at equal RF, VGG-16 "
        f"{arith['vgg16']['params'] / 1e6:.0f} M params / {arith['vgg16']['gmacs']:.1f} GMACs vs ResNet-50 "
        f"{arith['resnet50']['params'] / 1e6:.1f} M / {arith['resnet50']['gmacs']:.1f}"
    )
    numbers = {
        "arms": [{"depth": d, "width": w, "batchnorm": bn, "params": p} for (d, w, bn), p in zip(arms, params)],
        "effect": effect.as_dict(),
        "train_steps": steps,
        "arithmetic": arith,
    }
    return ClaimResult(numbers, headline, decision, fig, per_seed=rows)
