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
    crop the digit. Same conv widths (8/16/16, BatchNorm, ReLU), same budget (AdamW lr 3e-3,
    batch 64; full 150 steps, tiny 60), no augmentation, and the same head for both judged
    arms — flatten + fully connected, so neither arm is shift-invariant by construction (a
    global-average-pool head would be, whatever the downsampling): treatment = max-pool
    after stages 1 and 2; reference = no downsampling. Shift consistency = the fraction of
    test images whose predicted class is unchanged when the image is shifted k ∈ {1, 2, 3, 4}
    pixels left, right, up or down (mean over k and directions). Effect per seed =
    consistency(max-pool) − consistency(no downsampling); 3 seeds. Reported, not judged: the
    GMAC cut of max-pool (arithmetic), and a strided-conv arm (each max-pool replaced by a
    3×3 stride-2 conv) with its accuracy and consistency.
Verdict:
    holds: the 95% interval of the consistency effect lies above 0.
    does not hold here: the interval lies at or below 0.
    inconclusive: the interval straddles 0.
"""

from __future__ import annotations

import torch

from bench.claims import _measure as M
from bench.claims import _train as T
from bench.claims._exp import arm_seed, decide_effect, interval, mean, over_seeds
from bench.claims._nets import SmallCNN
from bench.claims._plot import COLORS, figure
from bench.claims.base import FAILS, HOLDS, INCONCLUSIVE, ClaimResult, Decision
from bench.claims.stats import Interval

KIND = "experiment"
REACHABLE_VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)
WHY_REACHABLE = {
    HOLDS: "the real configuration: max-pool vs no downsampling, both with a flatten + FC head",
    FAILS: "reference = a no-downsampling CNN with a global-average-pool head (shift-invariant by construction, "
    "reference='none_gap'): max-pool is then less consistent",
    INCONCLUSIVE: "treatment = the reference architecture (treatment='none'): the two arms differ only by seed",
}
STEPS = {"tiny": 60, "full": 150}
SHIFTS = {"tiny": [2], "full": [1, 2, 3, 4]}
TEST_N = {"tiny": 150, "full": None}  # tiny: the first 150 test images, so tests stay fast
CANVAS, PAD = 24, 4
WIDTHS = (8, 16, 16)
ARMS = {  # name -> (downsampling, head)
    "maxpool": ("maxpool", "flatten"),
    "none": ("none", "flatten"),
    "strided": ("strided", "flatten"),
    "none_gap": ("none", "gap"),
}


def decide(effect: Interval) -> Decision:
    return decide_effect(effect, "shift consistency, max-pool minus no downsampling")


def _shift(x: torch.Tensor, k: int, direction: int) -> torch.Tensor:
    dim = 3 if direction < 2 else 2
    return torch.roll(x, k if direction % 2 == 0 else -k, dims=dim)  # the zero border makes roll a shift


def shift_consistency(model, x: torch.Tensor, k: int) -> float:
    base = T.predict(model, x)
    return sum(float((T.predict(model, _shift(x, k, d)) == base).float().mean()) for d in range(4)) / 4


def _build(arm: str) -> SmallCNN:
    down, head = ARMS[arm]
    return SmallCNN(widths=WIDTHS, down=down, head=head, img_size=CANVAS)


def run(
    scale: str,
    seeds: tuple[int, ...],
    treatment: str = "maxpool",
    reference: str = "none",
    reported: tuple[str, ...] | None = None,
) -> ClaimResult:
    data = T.digits_split()
    xtr, xte = T.render(data.x_train, 2, PAD), T.render(data.x_test[: TEST_N[scale]], 2, PAD)
    yte, shifts = data.y_test[: TEST_N[scale]], SHIFTS[scale]
    reported = (("strided",) if scale == "full" else ()) if reported is None else reported
    arms = [treatment, reference, *reported]
    gm = {a: M.gmacs(_build(a).eval(), xte[:1]) for a in dict.fromkeys(arms)}

    def one(seed: int) -> dict:
        row = {}
        for i, arm in enumerate(arms):
            torch.manual_seed(arm_seed(seed, i))
            model = _build(arm)
            T.train(model, xtr, data.y_train, steps=STEPS[scale], seed=arm_seed(seed, i))
            row[f"acc_{i}_{arm}"] = T.accuracy(model, xte, yte)
            row[f"consistency_{i}_{arm}"] = sum(shift_consistency(model, xte, k) for k in shifts) / len(shifts)
        row["effect"] = row[f"consistency_0_{treatment}"] - row[f"consistency_1_{reference}"]
        return row

    rows = over_seeds(seeds, one)
    effect = interval(rows, "effect")
    decision = decide(effect)

    fig, (ax1, ax2) = figure(2)
    colors = [COLORS["cnn"], COLORS["other"], COLORS["mobile"]]
    for i, arm in enumerate(arms):
        ys = [r[f"consistency_{i}_{arm}"] for r in rows]
        ax1.plot([i] * len(ys), ys, "o", color=colors[i % 3], alpha=0.7)
        ax1.errorbar([i + 0.15], [sum(ys) / len(ys)], fmt="s", color=colors[i % 3])
    ax1.set(
        xticks=range(len(arms)),
        xticklabels=arms,
        ylabel=f"mean shift consistency ({shifts[0]}–{shifts[-1]} px)",
        title="Per seed (dots) and mean",
    )
    ax2.bar(list(gm), [v * 1e3 for v in gm.values()], color=COLORS["cnn"])
    ax2.set(ylabel="MMACs / image", title=f"Compute at {CANVAS}×{CANVAS}")
    cut = gm[reference] / gm[treatment] if gm[treatment] else float("nan")
    headline = (
        f"shift consistency {treatment} − {reference}: {effect.text(100, unit=' pts')} over {effect.n} seeds "
        f"(means {mean(rows, f'consistency_0_{treatment}'):.3f} vs {mean(rows, f'consistency_1_{reference}'):.3f}); "
        f"max-pool cuts MACs {cut:.1f}× (arithmetic)"
    )
    if "strided" in reported:
        i = arms.index("strided")
        headline += (
            f"; strided conv (reported): acc {mean(rows, f'acc_{i}_strided'):.3f} vs max-pool "
            f"{mean(rows, 'acc_0_' + treatment):.3f}, consistency {mean(rows, f'consistency_{i}_strided'):.3f}"
        )
    numbers = {
        "arms": arms,
        "gmacs": gm,
        "effect": effect.as_dict(),
        "train_steps": STEPS[scale],
        "widths": list(WIDTHS),
        "canvas": CANVAS,
        "shifts_px": shifts,
    }
    return ClaimResult(numbers, headline, decision, fig, per_seed=rows)
