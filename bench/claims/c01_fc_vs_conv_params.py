"""Claim 1: A fully connected network on an image needs far more parameters than a CNN, which shares filter weights.

Korean:
    파라미터 수 | 매우 많음 | 필터 가중치 공유로 효율적
English:
    Number of parameters — FCN: very many; CNN: efficient, because filter weights are shared.
Method:
    (a) Matched layers: a 3×3 convolution (3 → 64 channels, padding 1) and a fully connected
    layer with exactly the same input (3×H×W) and output (64×H×W), built on the meta device
    at H = W ∈ {8, 32, 224} (tiny: {8, 32}); parameters and MACs counted from the real
    modules.
    (b) On real data: digits rendered at 32×32, a one-hidden-layer MLP (1024 → 128 → 10) and a
    three-stage CNN (8/16/16 channels, max-pool, global average pool) trained with the same
    budget (Adam, fixed steps, seed 0); parameters and test accuracy compared.
Verdict:
    holds: (a) the FC layer has ≥ 100× the parameters of the conv layer at every size, and (b) the CNN has ≤ 1/10 of the MLP's parameters while its test accuracy is at most 2 points lower.
    holds with caveat: (a) holds but (b) does not (the saving costs accuracy on real data).
    does not hold here: (a) fails: the FC layer is less than 100× larger at some size.
"""

from __future__ import annotations

from torch import nn

from bench.claims import _measure as M
from bench.claims import _train as T
from bench.claims._nets import SmallCNN
from bench.claims._plot import COLORS, figure
from bench.claims.base import CAVEAT, FAILS, HOLDS, ClaimResult, Decision

SIZES = {"tiny": [8, 32], "full": [8, 32, 224]}
STEPS = {"tiny": 40, "full": 400}
C_IN, C_OUT = 3, 64


def decide(param_ratios: list[float], cnn_params: int, mlp_params: int, cnn_acc: float, mlp_acc: float) -> Decision:
    if min(param_ratios) < 100:
        return Decision(FAILS, f"the FC layer is only {min(param_ratios):.0f}× the conv layer at one size")
    small = cnn_params * 10 <= mlp_params
    close = cnn_acc >= mlp_acc - 0.02
    if small and close:
        return Decision(HOLDS)
    why = []
    if not small:
        why.append(f"the CNN needed {cnn_params:,} params vs the MLP's {mlp_params:,} (> 1/10)")
    if not close:
        why.append(f"the small CNN is {100 * (mlp_acc - cnn_acc):.1f} points less accurate than the MLP on digits")
    return Decision(CAVEAT, "; ".join(why))


def run(scale: str, seed: int) -> ClaimResult:
    import torch

    torch.manual_seed(seed)
    sizes = SIZES[scale]
    rows = []
    for s in sizes:
        conv = M.on_meta(lambda: nn.Conv2d(C_IN, C_OUT, 3, padding=1))
        fc = M.on_meta(lambda s=s: nn.Linear(C_IN * s * s, C_OUT * s * s))
        x = torch.empty(1, C_IN, s, s, device="meta")
        rows.append({
            "size": s,
            "conv_params": M.params(conv),
            "fc_params": M.params(fc),
            "conv_gmacs": M.gmacs(conv, x),
            "fc_gmacs": M.gmacs(fc, x.flatten(1)),
        })
    ratios = [r["fc_params"] / r["conv_params"] for r in rows]

    data = T.digits_split()
    xtr, xte = T.render(data.x_train, 4), T.render(data.x_test, 4)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 128), nn.ReLU(), nn.Linear(128, 10))
    cnn = SmallCNN(widths=(8, 16, 16), down="maxpool")
    T.train(mlp, xtr, data.y_train, steps=STEPS[scale], seed=seed)
    T.train(cnn, xtr, data.y_train, steps=STEPS[scale], seed=seed)
    mlp_acc, cnn_acc = T.accuracy(mlp, xte, data.y_test), T.accuracy(cnn, xte, data.y_test)
    mlp_p, cnn_p = M.params(mlp), M.params(cnn)

    decision = decide(ratios, cnn_p, mlp_p, cnn_acc, mlp_acc)
    fig, (ax1, ax2) = figure(2)
    ax1.plot(sizes, [r["fc_params"] for r in rows], "o-", color=COLORS["other"], label="fully connected")
    ax1.plot(sizes, [r["conv_params"] for r in rows], "o-", color=COLORS["cnn"], label="3×3 conv")
    ax1.set(xscale="log", yscale="log", xlabel="image side (px)", ylabel="parameters",
            title=f"Matched layer {C_IN}→{C_OUT} channels")
    ax1.legend()
    ax2.bar(["MLP", "CNN"], [mlp_p, cnn_p], color=[COLORS["other"], COLORS["cnn"]])
    ax2.set(yscale="log", ylabel="parameters", title="Digits 32×32")
    for i, (p, a) in enumerate([(mlp_p, mlp_acc), (cnn_p, cnn_acc)]):
        ax2.text(i, p, f"{p:,}\nacc {a:.3f}", ha="center", va="bottom", fontsize=8)
    big = rows[-1]
    headline = (f"at {big['size']}×{big['size']} a matched FC layer has {ratios[-1]:.2g}× the conv's parameters; "
                f"on digits a {cnn_p:,}-param CNN scores {cnn_acc:.3f} vs a {mlp_p:,}-param MLP {mlp_acc:.3f}")
    numbers = {
        "matched_layers": rows,
        "fc_over_conv_param_ratio": dict(zip(map(str, sizes), ratios)),
        "digits_mlp_params": mlp_p, "digits_cnn_params": cnn_p,
        "digits_mlp_acc": mlp_acc, "digits_cnn_acc": cnn_acc,
        "train_steps": STEPS[scale],
    }
    return ClaimResult(numbers, headline, decision, fig)
