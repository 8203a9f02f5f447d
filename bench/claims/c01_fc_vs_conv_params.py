"""Claim 1: A fully connected network on an image needs far more parameters than a CNN, which shares filter weights.

Korean:
    파라미터 수 | 매우 많음 | 필터 가중치 공유로 효율적
English:
    Number of parameters — FCN: very many; CNN: efficient, because filter weights are shared.
Method:
    Matched layers: a 3×3 convolution (3 → 64 channels, padding 1) and a fully connected
    layer with exactly the same input (3×H×W) and output (64×H×W), built on the meta device
    at H = W ∈ {8, 32, 224} (tiny: {8, 32}); parameters and MACs counted from the real
    modules and checked against the formula. This is arithmetic, not an experiment: the
    ratio is fixed by the shapes, so the row shows the number and its formula.
Formula:
    params(FC) / params(conv) = (C_in·HW·C_out·HW + C_out·HW) / (9·C_in·C_out + C_out), growing as (HW)².
"""

from __future__ import annotations

from typing import Any
from torch import nn

from bench.claims import _measure as M
from bench.claims._plot import COLORS, figure
from bench.claims.base import COMPUTED, ClaimResult, Decision

KIND = "computed"
SIZES = {"tiny": [8, 32], "full": [8, 32, 224]}
C_IN, C_OUT = 3, 64


def formula_ratio(size: int, c_in: int = C_IN, c_out: int = C_OUT) -> float:
    n = size * size
    return (c_in * n * c_out * n + c_out * n) / (9 * c_in * c_out + c_out)


def run(scale: str, seeds: tuple[int, ...] = (0,)) -> ClaimResult:
    import torch

    sizes = SIZES[scale]
    rows: list[dict[str, Any]] = []
    for s in sizes:
        conv = M.on_meta(lambda: nn.Conv2d(C_IN, C_OUT, 3, padding=1))
        fc = M.on_meta(lambda s=s: nn.Linear(C_IN * s * s, C_OUT * s * s))  # type: ignore[misc]  # mypy cannot type a lambda default
        x = torch.empty(1, C_IN, s, s, device="meta")
        rows.append(
            {
                "size": s,
                "conv_params": M.params(conv),
                "fc_params": M.params(fc),
                "conv_gmacs": M.gmacs(conv, x),
                "fc_gmacs": M.gmacs(fc, x.flatten(1)),
            }
        )
    for r in rows:
        r["param_ratio"] = r["fc_params"] / r["conv_params"]
        if r["param_ratio"] != formula_ratio(r["size"]):  # the counted modules must agree with the formula
            raise RuntimeError(f"counted ratio {r['param_ratio']} ≠ formula {formula_ratio(r['size'])} at {r['size']}")

    fig, ax = figure(1, width=4.6)
    ax.plot(sizes, [r["fc_params"] for r in rows], "o-", color=COLORS["other"], label="fully connected")
    ax.plot(sizes, [r["conv_params"] for r in rows], "o-", color=COLORS["cnn"], label="3×3 conv")
    ax.set(
        xscale="log", yscale="log", xlabel="image side (px)", ylabel="parameters", title=f"Matched layer {C_IN}→{C_OUT} channels"
    )
    ax.legend()
    small, big = rows[0], rows[-1]
    headline = (
        f"matched FC/conv parameter ratio {small['param_ratio']:,.0f}× at {small['size']}×{small['size']}, "
        f"{big['param_ratio']:.3g}× at {big['size']}×{big['size']} (3 → 64 channels)"
    )
    numbers = {"matched_layers": rows, "fc_over_conv_param_ratio": {str(r["size"]): r["param_ratio"] for r in rows}}
    return ClaimResult(numbers, headline, Decision(COMPUTED), fig)
