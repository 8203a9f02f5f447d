"""Claim 6: ResNet's residual connection F(x) + x prevents vanishing gradients and makes deep networks trainable.

Korean:
    → Output = F(x) + x
    → 기울기 소실 방지, 깊은 네트워크 학습 가능
English:
    → Output = F(x) + x
    → Prevents vanishing gradients; deep networks become trainable.
Method:
    Digits (8×8). Networks of equal depth D ∈ {8, 20, 56} 3×3 conv layers (tiny: {4, 12}),
    16 channels, BatchNorm, ReLU, He initialisation, global average pool: "plain" stacks the
    layers; "residual" wraps each pair in an identity shortcut (ResNet basic block). Same
    layers, same data order, same budget: SGD (momentum 0.9, lr 0.05), batch 64, 300 steps
    (tiny: 20), seed 0. Measured: at initialisation, the gradient norm of the first conv
    layer's weights divided by that of the last one (one batch of 256, cross-entropy);
    after training, the training loss (mean of the last 20 steps) and test accuracy.
Verdict:
    holds: at the greatest depth the plain net's gradients vanish (first/last ratio < 0.1) while the residual net's ratio is ≥ 10× larger (G), and the residual net trains clearly better (final loss ≤ half the plain net's and ≥ 0.05 lower) (T).
    holds with caveat: only one of G or T holds (the caveat says which part was not seen).
    does not hold here: neither G nor T holds at the greatest depth.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.claims import _train as T
from bench.claims._nets import DepthNet
from bench.claims._plot import COLORS, figure
from bench.claims.base import CAVEAT, FAILS, HOLDS, ClaimResult, Decision

DEPTHS = {"tiny": [4, 12], "full": [8, 20, 56]}
STEPS = {"tiny": 20, "full": 300}


def decide(plain_ratio: float, resid_ratio: float, plain_loss: float, resid_loss: float) -> Decision:
    g = plain_ratio < 0.1 and resid_ratio >= 10 * plain_ratio
    t = resid_loss <= 0.5 * plain_loss and plain_loss - resid_loss >= 0.05
    if g and t:
        return Decision(HOLDS)
    if t:
        how = (f"grew {plain_ratio:.2g}× from the last layer to the first — it exploded, as BatchNorm stacks do at init "
               "(Yang et al., 2019)" if plain_ratio > 10 else f"kept a first/last-layer ratio of {plain_ratio:.2g}")
        return Decision(CAVEAT, (f"the residual net trains far better (loss {resid_loss:.3f} vs {plain_loss:.3f}), but the "
                                 f"plain net's gradient did not vanish at initialisation: it {how}"))
    if g:
        return Decision(CAVEAT, (f"the plain net's gradient vanishes at init (first/last {plain_ratio:.2g} vs residual "
                                 f"{resid_ratio:.2g}), but in this budget it still trained about as well "
                                 f"(loss {plain_loss:.3f} vs {resid_loss:.3f})"))
    return Decision(FAILS, (f"no vanishing gradient (first/last {plain_ratio:.2g}) and no training gap "
                            f"(loss plain {plain_loss:.3f}, residual {resid_loss:.3f}) at this depth"))


def _layer_grad_norms(model: DepthNet, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    model.train()  # BatchNorm in training mode, as in the first training step
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    norms = [float(c.weight.grad.norm()) for c in model.convs]
    model.zero_grad(set_to_none=True)
    return norms


def run(scale: str, seed: int) -> ClaimResult:
    data = T.digits_split()
    xg, yg = data.x_train[:256], data.y_train[:256]
    rows, curves, grad_profiles = [], {}, {}
    for depth in DEPTHS[scale]:
        for residual in (False, True):
            kind = "residual" if residual else "plain"
            torch.manual_seed(seed)
            model = DepthNet(depth, residual)
            norms = _layer_grad_norms(model, xg, yg)
            log = T.train(model, data.x_train, data.y_train, steps=STEPS[scale], lr=0.05, optimizer="sgd", seed=seed)
            rows.append({"depth": depth, "kind": kind, "grad_first_over_last": norms[0] / norms[-1],
                         "final_train_loss": log.final_loss(), "test_acc": T.accuracy(model, data.x_test, data.y_test)})
            curves[(depth, kind)] = log.losses
            grad_profiles[(depth, kind)] = norms
    deepest = DEPTHS[scale][-1]
    p = next(r for r in rows if r["depth"] == deepest and r["kind"] == "plain")
    r = next(r for r in rows if r["depth"] == deepest and r["kind"] == "residual")
    decision = decide(p["grad_first_over_last"], r["grad_first_over_last"], p["final_train_loss"], r["final_train_loss"])

    fig, (ax1, ax2) = figure(2)
    for kind, c in [("plain", COLORS["other"]), ("residual", COLORS["cnn"])]:
        ax1.semilogy(range(1, deepest + 1), grad_profiles[(deepest, kind)], ".-", color=c, label=kind)
    ax1.set(xlabel="conv layer", ylabel="‖∂L/∂W‖ at init", title=f"Gradient by layer, depth {deepest}")
    ax1.legend()
    styles = ["-", "--", ":"]
    for (depth, kind), losses in curves.items():
        k = max(1, len(losses) // 30)  # smooth over ~30 points
        sm = [sum(losses[i:i + k]) / len(losses[i:i + k]) for i in range(0, len(losses), k)]
        ax2.plot([i * k for i in range(len(sm))], sm, styles[DEPTHS[scale].index(depth) % 3],
                 color=COLORS["cnn"] if kind == "residual" else COLORS["other"], label=f"{kind} {depth}")
    ax2.set(xlabel="step", ylabel="training loss", title="Training loss", yscale="log")
    ax2.legend(fontsize=7)
    headline = (f"depth {deepest}: first/last-layer gradient at init plain {p['grad_first_over_last']:.2g} vs residual "
                f"{r['grad_first_over_last']:.2g}; loss after {STEPS[scale]} steps plain {p['final_train_loss']:.3f} vs "
                f"residual {r['final_train_loss']:.3f} (test acc {p['test_acc']:.3f} vs {r['test_acc']:.3f})")
    return ClaimResult({"runs": rows, "train_steps": STEPS[scale]}, headline, decision, fig)
