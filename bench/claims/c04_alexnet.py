"""Claim 4: AlexNet has 8 layers (5 conv + 3 FC) with ReLU activations, and about 61 M parameters.

Korean:
    8층 구조 (5 Conv + 3 FC)
    ReLU 활성화 함수 최초 도입
English:
    An 8-layer structure (5 conv + 3 FC).
    First to introduce the ReLU activation function.
Method:
    Build torchvision's AlexNet on the meta device and walk its modules: count Conv2d and
    Linear layers and the activation types, parameters per layer, and GMACs per layer at
    224×224. Where the parameters sit is the FC share of the total. ("First to introduce"
    is history, not something a model can show; the measurable part is that every
    activation is a ReLU.)
    A census of a built model is arithmetic, not an experiment: the row shows the counts.
    torchvision's AlexNet is the single-GPU variant of Krizhevsky (2014, "One weird trick"):
    conv1 has 64 filters, not the 2012 paper's 96; ReLU was used before AlexNet (Nair &
    Hinton, 2010) — AlexNet made it standard.
Formula:
    params = Σ_conv (k²·C_in·C_out + C_out) + Σ_fc (n_in·n_out + n_out); MACs per layer = k²·C_in·C_out·H_out·W_out (conv) or n_in·n_out (fc).
"""

from __future__ import annotations

import torchvision
from torch import nn

from bench.claims import _measure as M
from bench.claims._plot import COLORS, figure
from bench.claims.base import COMPUTED, ClaimResult, Decision

KIND = "computed"

PAPER_PARAMS_M = 61.0  # as the claim states; Krizhevsky et al. (2012) write "60 million"
PAPER_CONV1_FILTERS = 96


def run(scale: str, seeds: tuple[int, ...] = (0,)) -> ClaimResult:
    import torch

    model = M.on_meta(lambda: torchvision.models.alexnet())
    x = torch.empty(1, 3, 224, 224, device="meta")
    layers = []
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            layers.append({"name": name, "kind": "conv" if isinstance(mod, nn.Conv2d) else "fc", "params": M.params(mod)})
    # GMACs per layer: run each layer on its real input shape via hooks.
    shapes: dict[str, tuple] = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, tuple(i[0].shape)))
        for n, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    mods = dict(model.named_modules())
    for la in layers:
        la["gmacs"] = M.gmacs(mods[la["name"]], torch.empty(shapes[la["name"]], device="meta"))
    activations = {
        type(m).__name__
        for m in model.modules()
        if isinstance(m, (nn.ReLU, nn.GELU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.SiLU, nn.ReLU6))
    }
    n_conv = sum(la["kind"] == "conv" for la in layers)
    n_fc = sum(la["kind"] == "fc" for la in layers)
    total = M.params(model)
    fc_share = sum(la["params"] for la in layers if la["kind"] == "fc") / total
    conv_mac_share = sum(la["gmacs"] for la in layers if la["kind"] == "conv") / sum(la["gmacs"] for la in layers)
    conv1 = next(m for m in model.modules() if isinstance(m, nn.Conv2d)).out_channels

    fig, (ax1, ax2) = figure(2)
    names = [f"conv{i + 1}" for i in range(n_conv)] + [f"fc{i + 1}" for i in range(n_fc)]
    colors = [COLORS["cnn"] if la["kind"] == "conv" else COLORS["other"] for la in layers]
    ax1.bar(names, [la["params"] / 1e6 for la in layers], color=colors)
    ax1.set(ylabel="parameters (M)", title=f"AlexNet: {total / 1e6:.1f} M params, {100 * fc_share:.0f}% in FC")
    ax2.bar(names, [la["gmacs"] for la in layers], color=colors)
    ax2.set(ylabel="GMACs at 224×224", title=f"{100 * conv_mac_share:.0f}% of MACs in conv layers")
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=8)
    headline = (
        f"{n_conv} conv + {n_fc} FC, activations {'/'.join(sorted(activations))}; conv1 {conv1} filters; "
        f"{total / 1e6:.1f} M params, {100 * fc_share:.1f}% of them in the "
        f"3 FC layers, while {100 * conv_mac_share:.0f}% of the {sum(la['gmacs'] for la in layers):.2f} GMACs are conv"
    )
    numbers = {
        "n_conv": n_conv,
        "n_fc": n_fc,
        "activations": sorted(activations),
        "params_m": total / 1e6,
        "fc_param_share": fc_share,
        "conv_gmac_share": conv_mac_share,
        "conv1_filters": conv1,
        "layers": layers,
    }
    return ClaimResult(numbers, headline, Decision(COMPUTED), fig)
