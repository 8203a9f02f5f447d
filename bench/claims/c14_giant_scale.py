"""Claim 14: DINOv2 has about 1 billion parameters; InternImage-H is a large convolution/transformer hybrid.

Korean:
    DINOv2 (Meta): 10억 파라미터, 자기지도학습
    InternImage-H: Conv+Transformer 하이브리드
English:
    DINOv2 (Meta): 1 billion parameters, self-supervised learning.
    InternImage-H: a Conv+Transformer hybrid.
Method:
    Build timm's vit_giant_patch14_dinov2 (DINOv2 ViT-g/14) and archbench:internimage_h (the
    project's plain-PyTorch InternImage-H) on the meta device — no memory for weights — and
    count parameters and forward GMACs (DINOv2 at its native 518 px, InternImage-H at 224 px;
    tiny: both at 224). For InternImage-H, split its GMACs by operator (dense convolution,
    deformable sampling, linear layers, dot-product attention) and list the modules that
    compute dot-product attention, separating the backbone (its four stages) from the head.
    "Self-supervised" is how DINOv2 was trained and cannot be measured on an untrained model.
    A parameter count and an operator census are arithmetic (computed, not judged).
Formula:
    params = Σ numel(p) over the built module's parameters; GMACs by operator from bench.metrics.flops on the meta device; attention modules = those computing softmax(QKᵀ)V.
"""

from __future__ import annotations

from typing import Any
from torch import nn

from bench.claims import _measure as M
from bench.claims._plot import COLORS, figure
from bench.claims.base import COMPUTED, ClaimResult, Decision

KIND = "computed"

DINO = "timm:vit_giant_patch14_dinov2"
INTERN = "archbench:internimage_h"
DINO_SIZE = {"tiny": 224, "full": 518}
INTERN_SIZE = 224
OP_GROUPS = {
    "dense convolution": ("convolution",),
    "deformable sampling (DCNv3)": ("grid_sampler",),
    "linear layers": ("addmm", "aten::mm", "aten.mm", "matmul", "linear"),
    "dot-product attention": ("bmm", "scaled_dot_product"),
}


def _group_ops(by_op: dict[str, float]) -> dict[str, float]:
    out = {g: 0.0 for g in OP_GROUPS}
    out["other"] = 0.0
    for op, v in by_op.items():
        for g, keys in OP_GROUPS.items():
            if any(k in op for k in keys):
                out[g] += v
                break
        else:
            out["other"] += v
    return out


def _attention_modules(model: nn.Module) -> list[str]:
    return [
        n for n, m in model.named_modules() if n and (isinstance(m, nn.MultiheadAttention) or "Attention" in type(m).__name__)
    ]


def run(scale: str, seeds: tuple[int, ...] = (0,)) -> ClaimResult:
    from bench.errors import UserError
    from bench.metrics.flops import count_flops, create_model_on_meta

    dsize = DINO_SIZE[scale]
    dino = create_model_on_meta(DINO, img_size=dsize)
    dino_params = M.params(dino)
    dino_rep = count_flops(dino, dsize, device="meta")
    intern: dict[str, Any] | None = None
    try:
        im = create_model_on_meta(INTERN)
    except UserError:
        im = None
    if im is not None:
        rep = count_flops(im, INTERN_SIZE, device="meta")
        attn = _attention_modules(im)
        groups = _group_ops(rep.by_operator)
        intern = {
            "params": M.params(im),
            "gmacs": rep.gmacs,
            "gmacs_by_kind": groups,
            "has_conv": groups["dense convolution"] + groups["deformable sampling (DCNv3)"] > 0,
            "attention_modules": attn,
            "backbone_attention_modules": [n for n in attn if n.startswith("stages")],
        }

    fig, (ax1, ax2) = figure(2)
    names = ["DINOv2 ViT-g/14"] + (["InternImage-H"] if intern else [])
    params = [dino_params / 1e9] + ([intern["params"] / 1e9] if intern else [])
    ax1.bar(names, params, color=[COLORS["vit"], COLORS["hybrid"]][: len(names)])
    ax1.axhline(1.0, color="k", ls=":", lw=0.8, label="1 B")
    ax1.set(ylabel="parameters (B)", title="Built on the meta device")
    ax1.legend(fontsize=8)
    if intern:
        g = {k: v for k, v in intern["gmacs_by_kind"].items() if v > 0}
        ax2.barh(list(g), list(g.values()), color=COLORS["hybrid"])
        ax2.set(xscale="log", xlabel=f"GMACs at {INTERN_SIZE}×{INTERN_SIZE}", title="InternImage-H compute by operator")
        ax2.tick_params(axis="y", labelsize=7)
    else:
        ax2.text(0.5, 0.5, "InternImage-H not available", ha="center", va="center")
        ax2.set_axis_off()
    headline = f"DINOv2 ViT-g/14 {dino_params / 1e9:.2f} B params ({dino_rep.gmacs:.0f} GMACs at {dsize}px)"
    if intern:
        headline += (
            f"; InternImage-H {intern['params'] / 1e9:.2f} B params ({intern['gmacs']:.0f} GMACs at 224px), "
            f"self-attention modules in its backbone: {len(intern['backbone_attention_modules'])}"
        )
    numbers = {
        "dinov2": {"name": DINO, "params": dino_params, "gmacs": dino_rep.gmacs, "img_size": dsize},
        "internimage_h": intern,
    }
    return ClaimResult(numbers, headline, Decision(COMPUTED), fig)
