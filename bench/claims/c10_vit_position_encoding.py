"""Claim 10: Learnable position encodings must be retrained when the resolution changes; sinusoidal ones are robust to it; relative ones encode distance.

Korean:
    학습형(learnable) | 데이터 특화, 재학습 필요
    사인파형(sinusoidal) | 규칙 기반, 해상도 변화에 강함
    상대 위치(relative) | 위치 간 거리 정보 반영
English:
    Learnable: specific to the data; must be retrained.
    Sinusoidal: rule-based; robust to changes of resolution.
    Relative: reflects the distance between positions.
Method:
    Digits upsampled to 16×16; a ViT (patch 4 → 4×4 tokens, dim 48, depth 3, 3 heads,
    mean-pooled head) trained four times with the same budget (AdamW lr 3e-3, batch 64,
    600 steps; tiny: 40) differing only in position encoding: learnable absolute, 2-D
    sinusoidal (fixed, integer patch coordinates), relative (a learned per-head bias for each
    2-D offset, Swin-style), and none (control). Without any retraining, each model is then
    evaluated at larger inputs with more tokens. Learnable positions are resized bicubically
    (the usual fix: the trained table has the wrong size), sinusoidal ones are computed for
    the new grid, relative offsets beyond the trained range are clipped.
    Two ways to grow the input: (A, judged) a larger canvas — the same 16×16 digit centred
    on 24×24 and 32×32 (6×6 and 8×8 tokens; tiny: 24 only), so every patch looks as in
    training and only the positions change; (B, reported) the digit itself upsampled to
    24×24 and 32×32, as when a ViT is run at a higher resolution. B also changes what each
    patch contains, which is why it is not the judged test: a first version of this
    experiment judged B and its no-position control lost 55 points, so B measures patch
    content as much as position encoding.
Verdict:
    holds: on the 24×24 canvas (A) the sinusoidal model loses ≤ 5 accuracy points and loses less than the learnable model.
    holds with caveat: the sinusoidal model loses less than the learnable one, but more than 5 points.
    does not hold here: the sinusoidal model loses as much as or more than the learnable one.
"""

from __future__ import annotations

import torch

from bench.claims import _measure as M
from bench.claims import _train as T
from bench.claims._nets import SmallViT
from bench.claims._plot import COLORS, figure
from bench.claims.base import CAVEAT, FAILS, HOLDS, ClaimResult, Decision

STEPS = {"tiny": 40, "full": 600}
CANVAS = {"tiny": [16, 24], "full": [16, 24, 32]}
KINDS = ["learnable", "sinusoidal", "relative", "none"]


def decide(drop: dict[str, float]) -> Decision:
    """``drop`` = accuracy at 16×16 minus accuracy on the 24×24 canvas, per encoding."""
    s, l = drop["sinusoidal"], drop["learnable"]
    if s >= l:
        control = ""
        if "none" in drop and drop["none"] >= 0.5 * s:
            control = (f"; the control without any position encoding lost {100 * drop['none']:.1f} points too, so at this "
                       "scale the change of input size itself, not the kind of encoding, does most of the damage")
        return Decision(FAILS, f"on a larger canvas sinusoidal positions lost {100 * s:.1f} points, learnable ones "
                               f"{100 * l:.1f}{control}")
    if s <= 0.05:
        return Decision(HOLDS)
    return Decision(CAVEAT, (f"sinusoidal positions lose less than learnable ones ({100 * s:.1f} vs {100 * l:.1f} points) "
                             "but are not robust: positions beyond the trained grid are still new to the model"))


def run(scale: str, seed: int) -> ClaimResult:
    data = T.digits_split()
    xtr = T.render(data.x_train, 2)
    sizes = CANVAS[scale]
    canvas = {s: T.render(data.x_test, 2, (s - 16) // 2) for s in sizes}
    upscaled = {s: T.render(data.x_test, s // 8) for s in sizes}
    acc_a: dict[str, dict[int, float]] = {}
    acc_b: dict[str, dict[int, float]] = {}
    params = {}
    for kind in KINDS:
        torch.manual_seed(seed)
        model = SmallViT(img_size=16, patch=4, dim=48, depth=3, heads=3, pos=kind)
        T.train(model, xtr, data.y_train, steps=STEPS[scale], lr=3e-3, weight_decay=0.05, seed=seed)
        acc_a[kind] = {s: T.accuracy(model, x, data.y_test) for s, x in canvas.items()}
        acc_b[kind] = {s: T.accuracy(model, x, data.y_test) for s, x in upscaled.items()}
        params[kind] = M.params(model)
    drop = {k: acc_a[k][16] - acc_a[k][24] for k in KINDS}
    drop_b = {k: acc_b[k][16] - acc_b[k][24] for k in KINDS}
    decision = decide(drop)

    fig, (ax1, ax2) = figure(2)
    colors = {"learnable": COLORS["vit"], "sinusoidal": COLORS["cnn"], "relative": COLORS["mobile"], "none": COLORS["other"]}
    for ax, acc, title in [(ax1, acc_a, "(A) same digit, larger canvas"), (ax2, acc_b, "(B) digit upsampled")]:
        for kind in KINDS:
            ax.plot(sizes, [acc[kind][s] for s in sizes], "o-" if kind != "none" else "o:", color=colors[kind], label=kind)
        ax.set(xticks=sizes, xlabel="test input side (px; trained at 16)", ylabel="test accuracy", title=title, ylim=(0, 1.02))
    ax1.legend(fontsize=8)
    headline = ("accuracy lost on a 24 px canvas: " + ", ".join(f"{k} {100 * drop[k]:.1f}" for k in KINDS)
                + " pts; with the digit upsampled to 24 px: " + ", ".join(f"{k} {100 * drop_b[k]:.1f}" for k in KINDS) + " pts")
    numbers = {
        "test_acc_canvas": {k: {str(s): v for s, v in a.items()} for k, a in acc_a.items()},
        "test_acc_upsampled": {k: {str(s): v for s, v in a.items()} for k, a in acc_b.items()},
        "drop_canvas_16_to_24": drop, "drop_upsampled_16_to_24": drop_b,
        "params": params, "train_steps": STEPS[scale],
    }
    return ClaimResult(numbers, headline, decision, fig)
