"""Claim 7: MobileNet's depthwise-separable convolution cuts computation about 9× (and what that does to latency).

Korean:
    채널별로 분리된 3×3 합성곱 + 1×1 합성곱
    연산량 약 9배 절감, 모델 경량화
English:
    A 3×3 convolution applied to each channel separately + a 1×1 convolution.
    Computation cut by about 9×; a lighter model.
Method:
    (a) Layer: a standard 3×3 conv (C → C) against depthwise 3×3 + pointwise 1×1 at
    C ∈ {32, 64, 128, 256, 512} on a 28×28 map (tiny: {32, 128} on 14×14): GMACs, and CPU
    latency at batch 1 (1 thread; the two variants take turns call by call, 15 calls each,
    and the fastest call counts — the sample least disturbed by other load).
    (b) Network: the MobileNet-v1 body (Howard et al., 2017) built twice, with
    depthwise-separable layers and with standard 3×3 convs in their place (the paper's own
    Table 4 comparison): parameters, GMACs and CPU latency at 224×224 (tiny: 96×96).
    Latency is measured on a possibly shared machine and is the noisiest number here; the
    latency rule has a wide margin for that reason.
    The MAC ratio is arithmetic (computed, not judged). Latency is a measurement on a shared
    machine: it is reported with the paired estimator above, repeated (tiny: 2, full: 3
    times), and the run-to-run range of the network latency ratio is stated; no verdict
    uses it.
Formula:
    MACs(standard)/MACs(separable) = 9·C² / (9·C + C²) = 1 / (1/C + 1/9) per layer (C → C channels, 3×3).
"""

from __future__ import annotations

from typing import Any
import torch
from torch import nn

from bench.claims import _measure as M
from bench.claims._nets import mobilenet_v1
from bench.claims._plot import COLORS, figure
from bench.claims.base import COMPUTED, ClaimResult, Decision

KIND = "computed"

CHANNELS = {"tiny": [32, 128], "full": [32, 64, 128, 256, 512]}
LAYER_HW = {"tiny": 14, "full": 28}
NET_SIZE = {"tiny": 96, "full": 224}
ROUNDS = {"tiny": 5, "full": 15}
REPEATS = {"tiny": 2, "full": 3}  # independent paired measurements, for the run-to-run range


def _separable(c: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False))


def run(scale: str, seeds: tuple[int, ...] = (0,)) -> ClaimResult:
    torch.manual_seed(seeds[0])
    hw = LAYER_HW[scale]
    layers = []
    for c in CHANNELS[scale]:
        std, sep = nn.Conv2d(c, c, 3, padding=1, bias=False).eval(), _separable(c).eval()
        x = torch.randn(1, c, hw, hw)
        std_ms, sep_ms = M.paired_latency_ms([std, sep], x, ROUNDS[scale])
        layers.append(
            {"channels": c, "std_gmacs": M.gmacs(std, x), "sep_gmacs": M.gmacs(sep, x), "std_ms": std_ms, "sep_ms": sep_ms}
        )
    for la in layers:
        la["mac_ratio"], la["latency_ratio"] = la["std_gmacs"] / la["sep_gmacs"], la["std_ms"] / la["sep_ms"]

    s = NET_SIZE[scale]
    x = torch.randn(1, 3, s, s)
    nets: dict[str, dict[str, Any]] = {}
    built = {"separable": mobilenet_v1(separable=True).eval(), "standard": mobilenet_v1(separable=False).eval()}
    repeats = [M.paired_latency_ms(list(built.values()), x, ROUNDS[scale]) for _ in range(REPEATS[scale])]
    for i, (name, m) in enumerate(built.items()):
        ms = sorted(r[i] for r in repeats)
        nets[name] = {
            "params_m": M.params(m) / 1e6,
            "gmacs": M.gmacs(m, x),
            "latency_ms": ms[len(ms) // 2],
            "latency_ms_repeats": [r[i] for r in repeats],
        }
    mac_ratio = nets["standard"]["gmacs"] / nets["separable"]["gmacs"]
    lat_ratios = [r[1] / r[0] for r in repeats]  # built is (separable, standard): standard / separable
    lat_ratio = sorted(lat_ratios)[len(lat_ratios) // 2]

    fig, (ax1, ax2) = figure(2)
    cs = [la["channels"] for la in layers]
    ax1.plot(cs, [la["mac_ratio"] for la in layers], "o-", color=COLORS["mobile"], label="GMAC ratio")
    ax1.plot(cs, [la["latency_ratio"] for la in layers], "s--", color=COLORS["vit"], label="latency ratio")
    ax1.plot(cs, [1 / (1 / c + 1 / 9) for c in cs], ":", color="k", label="theory 1/(1/C + 1/9)")
    ax1.set(xscale="log", xlabel="channels C", ylabel="standard / separable", title=f"One layer, {hw}×{hw}")
    ax1.legend(fontsize=7)
    names = ["standard", "separable"]
    w = 0.38
    ax2.bar([i - w / 2 for i in range(2)], [nets[n]["gmacs"] for n in names], w, color=COLORS["mobile"], label="GMACs")
    ax2b = ax2.twinx()
    ax2b.bar([i + w / 2 for i in range(2)], [nets[n]["latency_ms"] for n in names], w, color=COLORS["vit"], label="latency")
    ax2.set(
        xticks=[0, 1],
        xticklabels=["standard conv", "depthwise-sep."],
        ylabel="GMACs",
        title=f"MobileNet-v1 at {s}×{s}: {mac_ratio:.1f}× MACs, {lat_ratio:.1f}× latency",
    )
    ax2b.set_ylabel("latency (ms, 1 thread)")
    ax2.legend(loc="upper right", fontsize=7)
    ax2b.legend(loc="center right", fontsize=7)
    headline = (
        f"MobileNet-v1 at {s}×{s}: {mac_ratio:.2f}× fewer GMACs ({nets['standard']['gmacs']:.2f} → "
        f"{nets['separable']['gmacs']:.2f}); reported, not judged: 1-thread CPU latency ratio {lat_ratio:.1f}× "
        f"(run-to-run range {min(lat_ratios):.1f}–{max(lat_ratios):.1f}× over {len(lat_ratios)} paired repeats, "
        "shared machine)"
    )
    numbers = {
        "layers": layers,
        "networks": nets,
        "net_gmac_ratio": mac_ratio,
        "net_latency_ratio": lat_ratio,
        "net_latency_ratio_repeats": lat_ratios,
        "layer_hw": hw,
        "net_img_size": s,
    }
    return ClaimResult(numbers, headline, Decision(COMPUTED), fig)
