"""Claim 12: Swin's windowed attention makes attention efficient — cost linear in image area instead of quadratic.

Korean:
    Swin Transformer: 윈도우 단위 지역 Attention → 효율성 개선
English:
    Swin Transformer: local attention within windows → better efficiency.
Method:
    timm ViT-S/16, Swin-T (window 7) and ResNet-50 — similar cost at 224×224 — built at
    224, 448, 672 and 896 px (tiny: 224 and 448). Counted per image on the meta device:
    total GMACs and the GMACs of the attention core (QKᵀ and AV products). Measured on the
    CPU at 224 and 448 px: peak live activation memory of inference
    (tensor level, batch 1, with the attention kernel PyTorch really picks on CPU). Growth
    is the exponent b in cost ∝ area^b between the two largest sizes (1 = linear in area,
    2 = quadratic). CPU latency (1 thread, batch 1) at 224 px is
    reported only.
    Complexity exponents of counted MACs are arithmetic (computed, not judged); the
    activation-memory exponent is exact at the tensor level and deterministic, so it is
    shown the same way.
Formula:
    attention MACs: ViT 2·N²·d per block with N = HW/256 tokens (∝ area²); Swin 2·N·M²·d per block with M² = 49 tokens per window (∝ area); exponent b = log(c₂/c₁) / log(area₂/area₁) between the two largest sizes.
"""

from __future__ import annotations

from typing import Any
import timm
import torch

from bench.claims import _measure as M
from bench.claims._plot import COLORS, figure
from bench.claims.base import COMPUTED, ClaimResult, Decision

KIND = "computed"

SIZES = {"tiny": [224, 448], "full": [224, 448, 672, 896]}
MEMORY_SIZES = {"tiny": [224, 448], "full": [224, 448]}
LATENCY_SIZES = {"tiny": [224], "full": [224]}
MODELS = {"vit": "vit_small_patch16_224", "swin": "swin_tiny_patch4_window7_224", "resnet": "resnet50"}
LABELS = {"vit": "ViT-S/16", "swin": "Swin-T", "resnet": "ResNet-50"}


def _build(key: str, size: int, device: str = "meta"):
    kw = {} if key == "resnet" else {"img_size": size}
    if device == "meta":
        return M.on_meta(lambda: timm.create_model(MODELS[key], **kw))
    return timm.create_model(MODELS[key], **kw).eval()


def run(scale: str, seeds: tuple[int, ...] = (0,)) -> ClaimResult:
    seed = seeds[0]
    torch.manual_seed(seed)
    sizes, mem_sizes = SIZES[scale], MEMORY_SIZES[scale]
    areas, mem_areas = [s * s for s in sizes], [s * s for s in mem_sizes]
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in MODELS}
    for key in MODELS:
        for s in sizes:
            total, per_op = M.flop_counts(_build(key, s), torch.empty(1, 3, s, s, device="meta"))
            rows[key].append({"size": s, "gmacs": total, "attention_gmacs": M.attention_gmacs(per_op)})
    for key in MODELS:
        for s in sorted(set(mem_sizes) | set(LATENCY_SIZES[scale])):
            m = _build(key, s, "cpu")
            x = torch.randn(1, 3, s, s, generator=torch.Generator().manual_seed(seed))
            row = next(r for r in rows[key] if r["size"] == s)
            if s in mem_sizes:
                row["peak_act_mb"] = M.peak_live_mb(m, x)
            if s in LATENCY_SIZES[scale]:
                row["latency_ms"] = M.latency_ms(m, x)
    exp = lambda key, field, xs: M.loglog_slope(xs, [r[field] for r in rows[key] if field in r])  # noqa: E731
    attn_exp = {k: exp(k, "attention_gmacs", areas) for k in ("vit", "swin")}
    gmac_exp = {k: exp(k, "gmacs", areas) for k in MODELS}
    mem_exp = {k: exp(k, "peak_act_mb", mem_areas) for k in MODELS}

    fig, axes = figure(3, width=3.6)
    colors = {"vit": COLORS["vit"], "swin": COLORS["hybrid"], "resnet": COLORS["cnn"]}
    for key in MODELS:
        axes[0].loglog(areas, [r["gmacs"] for r in rows[key]], "o-", color=colors[key], label=LABELS[key])
        axes[2].loglog(
            mem_areas,
            [r["peak_act_mb"] for r in rows[key] if "peak_act_mb" in r],
            "o-",
            color=colors[key],
            label=f"{LABELS[key]} (exp {mem_exp[key]:.2f})",
        )
        if key != "resnet":
            axes[1].loglog(
                areas,
                [r["attention_gmacs"] for r in rows[key]],
                "o-",
                color=colors[key],
                label=f"{LABELS[key]} (exp {attn_exp[key]:.2f})",
            )
    for ax, t, yl, ss in [
        (axes[0], "Total GMACs", "GMACs", sizes),
        (axes[1], "Attention core (QKᵀ, AV)", "GMACs", sizes),
        (axes[2], "Peak activation memory (CPU)", "MiB", mem_sizes),
    ]:
        ax.set(title=t, ylabel=yl, xlabel="image area (px²)", xticks=[s * s for s in ss], xticklabels=[f"{s}²" for s in ss])
        ax.minorticks_off()
        ax.legend(fontsize=7)
    big = sizes[-1]
    v, sw = rows["vit"][-1], rows["swin"][-1]
    headline = (
        f"attention cost grows as area^{attn_exp['vit']:.2f} in ViT-S and area^{attn_exp['swin']:.2f} in Swin-T; "
        f"at {big}px ViT-S {v['gmacs']:.0f} GMACs vs Swin-T {sw['gmacs']:.0f} vs ResNet-50 {rows['resnet'][-1]['gmacs']:.0f}; "
        f"CPU activation memory grows as area^{mem_exp['vit']:.2f} (ViT-S) and area^{mem_exp['swin']:.2f} (Swin-T)"
    )
    numbers = {
        "by_model": rows,
        "attention_exponent": attn_exp,
        "gmac_exponent": gmac_exp,
        "memory_exponent": mem_exp,
        "timm_names": MODELS,
    }
    return ClaimResult(numbers, headline, Decision(COMPUTED), fig)
