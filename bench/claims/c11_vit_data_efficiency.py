"""Claim 11: ViT needs large data and much compute/memory, and is weaker than CNNs on small datasets.

Korean:
    전역 문맥 고려 | 대규모 데이터 필요
    순서 정보 반영 가능 | 학습 자원·메모리 요구 큼
    전이학습 성능 우수 | 작은 데이터셋에선 CNN보다 약함
English:
    (ViT pros | cons) Considers global context | needs large-scale data.
    Can reflect order information | large training resources and memory.
    Excellent transfer learning | weaker than CNNs on small datasets.
Method:
    Also claim 13(b) and 13(c) (CNN strong on small data, ViT strong on large data), merged
    here. Data-efficiency curves with the project's from-scratch trainer
    (bench.accuracy.scratch.train_once): digits at 16×16 (3 channels), training on 10% and
    100% of the training split (stratified, a different subset per seed), the same number
    of optimizer steps for every fraction (AdamW lr 3e-3, weight decay 0.05, cosine
    schedule, batch 64; full 5 epochs' worth of steps, tiny 1), 3 seeds, test accuracy on
    the fixed held-out split. Models of similar size: archbench:resnet18_small (width 8) and
    archbench:vit_small_patch4 (patch 4, dim 64, depth 4, 4 heads). Effect per seed = CNN
    accuracy − ViT accuracy at 10%; second part = the ViT's gain from 10% to 100% minus the
    CNN's. "Large data" itself is out of reach offline (1,437 training digits).
Verdict:
    holds: the 95% interval of the CNN's lead at 10% lies above 0, and the interval of (ViT gain − CNN gain) from 10% to 100% lies above 0.
    holds with caveat: the lead's interval lies above 0 but the ViT is not shown to gain more from data than the CNN.
    does not hold here: the lead's interval lies at or below 0.
    inconclusive: the lead's interval straddles 0.
"""

from __future__ import annotations

from typing import Any
import functools

import torch

from bench.claims import _measure as M
from bench.claims._exp import arm_seed, decide_effect, interval, mean, over_seeds
from bench.claims._plot import COLORS, figure
from bench.claims.base import CAVEAT, FAILS, HOLDS, INCONCLUSIVE, ClaimResult, Decision
from bench.claims.stats import ABOVE, Interval

KIND = "experiment"
REACHABLE_VERDICTS = (HOLDS, CAVEAT, FAILS, INCONCLUSIVE)
WHY_REACHABLE = {
    HOLDS: "ResNet-18-small vs ViT patch 4 when the small set is small enough for the CNN to be near its ceiling "
    "and the budget lets the ViT use the data: tiny, fractions=(0.05, 1.0), epochs=6, 3 seeds: lead +54 points, "
    "ViT gain − CNN gain +16.5 points [+13.1, +19.9] (docs/claims.md)",
    CAVEAT: "the real configuration when the ViT does not gain more from 10× the data (tiny: one epoch's worth of "
    "steps, too few for either to use the extra data)",
    FAILS: "the ViT arm replaced by the CNN with the same initialisation and subset (vit='cnn_same_init'): no lead is left",
    INCONCLUSIVE: "the ViT arm replaced by the CNN (vit=cnn): the arms differ only by seed",
}
FRACTIONS = {"tiny": (0.1, 1.0), "full": (0.1, 1.0)}
EPOCHS = {"tiny": 1, "full": 5}
IMG = 16
CNN = ("archbench:resnet18_small", {"width": 8})
VIT: tuple[str, dict[str, Any]] = ("archbench:vit_small_patch4", {})


def decide(lead_small: Interval, gain_diff: Interval) -> Decision:
    d = decide_effect(lead_small, "accuracy on 10% of the digits, CNN minus ViT")
    if d.verdict != HOLDS or gain_diff.side(0.0) == ABOVE:
        return d
    return Decision(
        CAVEAT,
        (
            f"the CNN leads on little data (lead {lead_small.text(100, unit=' pts')}), but the ViT is "
            f"not shown to gain more from 10× the data: gain difference {gain_diff.text(100, unit=' pts')}; "
            "the large-data regime where a ViT should win cannot be reached offline"
        ),
    )


@functools.lru_cache(maxsize=8)
def data_efficiency(
    scale: str,
    seeds: tuple[int, ...],
    fractions: tuple[float, ...] | None = None,
    cnn_width: int = 8,
    vit_is_cnn: bool = False,
    epochs: int | None = None,
    same_init: bool = False,
) -> dict:
    """Train both models at every fraction and seed; cached so a run computes it once."""
    from bench.accuracy.datasets import load_digits
    from bench.accuracy.scratch import TrainSettings, train_once
    from bench.metrics.flops import create_model_on_meta

    fractions = tuple(fractions or FRACTIONS[scale])
    data = load_digits(img_size=IMG)
    settings = TrainSettings(epochs=epochs or EPOCHS[scale], batch_size=64, lr=3e-3, weight_decay=0.05, budget="steps")
    models = {"cnn": (CNN[0], {**CNN[1], "width": cnn_width}), "vit": VIT}
    if vit_is_cnn:
        models["vit"] = models["cnn"]
    out: dict = {"fractions": list(fractions), "models": {k: v[0] for k, v in models.items()}, "params": {}, "gmacs": {}}
    for key, (name, kw) in models.items():
        meta = create_model_on_meta(name, img_size=IMG, num_classes=10, **kw)
        out["params"][key] = M.params(meta)
        out["gmacs"][key] = M.gmacs(meta, torch.empty(1, 3, IMG, IMG, device="meta"))

    def one(seed: int) -> dict:
        row = {}
        for i, (key, (name, kw)) in enumerate(models.items()):
            for f in fractions:
                r = train_once(name, data, settings, arm_seed(seed, 0 if same_init else i), fraction=f, model_kwargs=kw)
                row[f"acc_{key}_{f:g}"] = r.top1 / 100
                row[f"n_train_{f:g}"] = r.n_train
                out["steps"] = r.steps
        lo, hi = f"{fractions[0]:g}", f"{fractions[-1]:g}"
        row["lead_small"] = row[f"acc_cnn_{lo}"] - row[f"acc_vit_{lo}"]
        row["gain_diff"] = (row[f"acc_vit_{hi}"] - row[f"acc_vit_{lo}"]) - (row[f"acc_cnn_{hi}"] - row[f"acc_cnn_{lo}"])
        return row

    out["rows"] = over_seeds(seeds, one)
    return out


def run(
    scale: str,
    seeds: tuple[int, ...],
    fractions: tuple[float, ...] | None = None,
    cnn_width: int = 8,
    vit: str = "vit",
    epochs: int | None = None,
) -> ClaimResult:
    r = data_efficiency(
        scale, tuple(seeds), fractions, cnn_width, vit in ("cnn", "cnn_same_init"), epochs, vit == "cnn_same_init"
    )
    rows, fr = r["rows"], r["fractions"]
    lead, gain = interval(rows, "lead_small"), interval(rows, "gain_diff")
    decision = decide(lead, gain)
    lo, hi = f"{fr[0]:g}", f"{fr[-1]:g}"

    fig, ax = figure(1, width=5.0)
    for key, c, mk in (("cnn", COLORS["cnn"], "o"), ("vit", COLORS["vit"], "s")):
        for row in rows:
            ax.plot([row[f"n_train_{f:g}"] for f in fr], [row[f"acc_{key}_{f:g}"] for f in fr], mk + "-", color=c, alpha=0.35)
        ax.plot(
            [rows[0][f"n_train_{f:g}"] for f in fr],
            [mean(rows, f"acc_{key}_{f:g}") for f in fr],
            mk + "-",
            color=c,
            lw=2,
            label=f"{r['models'][key]} ({r['params'][key] / 1e3:.0f} k params, {1e3 * r['gmacs'][key]:.1f} MMACs)",
        )
    ax.set(xscale="log", xlabel="training images", ylabel="test accuracy", title=f"Digits {IMG}×{IMG}, {r['steps']} steps each")
    ax.legend(fontsize=6)
    setup = [] if cnn_width == 8 else [f"CNN width {cnn_width}"]
    setup += [] if vit == "vit" else ["ViT arm = CNN"]
    headline = (
        f"{'(' + ', '.join(setup) + ') ' if setup else ''}CNN − ViT accuracy with {100 * fr[0]:g}% of the digits: "
        f"{lead.text(100, unit=' pts')} over {lead.n} seeds (means {mean(rows, 'acc_cnn_' + lo):.3f} vs "
        f"{mean(rows, 'acc_vit_' + lo):.3f}); with {100 * fr[-1]:g}%: {mean(rows, 'acc_cnn_' + hi):.3f} vs "
        f"{mean(rows, 'acc_vit_' + hi):.3f}; ViT gain − CNN gain {gain.text(100, unit=' pts')}"
    )
    numbers = {
        "fractions": fr,
        "models": r["models"],
        "params": r["params"],
        "gmacs": r["gmacs"],
        "steps": r["steps"],
        "lead_small": lead.as_dict(),
        "gain_diff": gain.as_dict(),
        "img_size": IMG,
    }
    return ClaimResult(numbers, headline, decision, fig, per_seed=rows)
