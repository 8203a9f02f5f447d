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
    Data-efficiency curves with the project's from-scratch trainer
    (bench.accuracy.scratch.train_once): digits at 16×16 (3 channels), training on 10%, 25%,
    50% and 100% of the training split (stratified; tiny: 10% and 100%), the same number of
    optimizer steps for every fraction (AdamW lr 3e-3, weight decay 0.05, cosine schedule,
    batch 64, 20 epochs' worth of steps; tiny: 1), seed 0, test accuracy on the fixed
    held-out split. Models of similar size: archbench:resnet18_small (width 8) and
    archbench:vit_small_patch4 (patch 4, dim 64, depth 4, 4 heads). Parameters and GMACs are
    counted; training time is reported, not judged. "Large data" itself is out of reach
    offline: the test is whether the CNN's lead is largest on little data and shrinks (or
    turns into a ViT lead) as data grows.
Verdict:
    holds: the CNN leads by ≥ 3 points at 10% and the ViT matches or beats it at 100%.
    holds with caveat: the CNN leads by ≥ 3 points at 10% and its lead is smaller at 100% but still positive (no crossover within this dataset).
    does not hold here: the CNN's lead at 10% is < 3 points, or it does not shrink at 100%.
"""

from __future__ import annotations

import functools

import torch

from bench.claims import _measure as M
from bench.claims._plot import COLORS, figure
from bench.claims.base import CAVEAT, FAILS, HOLDS, ClaimResult, Decision

FRACTIONS = {"tiny": [0.1, 1.0], "full": [0.1, 0.25, 0.5, 1.0]}
EPOCHS = {"tiny": 1, "full": 20}
IMG = 16
MODELS = {"cnn": ("archbench:resnet18_small", {"width": 8}), "vit": ("archbench:vit_small_patch4", {})}


def decide(acc_cnn: list[float], acc_vit: list[float]) -> Decision:
    """Accuracies (fractions of 1) at increasing data fractions, first = smallest, last = 100%."""
    lead_small, lead_full = acc_cnn[0] - acc_vit[0], acc_cnn[-1] - acc_vit[-1]
    if lead_small < 0.03:
        return Decision(FAILS, f"the CNN leads by only {100 * lead_small:.1f} points on the smallest split")
    if lead_full >= lead_small:
        return Decision(FAILS, f"the CNN's lead does not shrink with data ({100 * lead_small:.1f} → {100 * lead_full:.1f} points)")
    if lead_full <= 0:
        return Decision(HOLDS)
    return Decision(CAVEAT, (f"the CNN's lead shrinks from {100 * lead_small:.1f} to {100 * lead_full:.1f} points as data grows, "
                             f"but there is no crossover within the {1437:,} training digits; the large-data regime where "
                             "ViT should win cannot be reached offline"))


@functools.lru_cache(maxsize=4)
def data_efficiency(scale: str, seed: int) -> dict:
    """Train both models at every fraction; cached so claim 13 reuses the same runs."""
    from bench.accuracy.datasets import load_digits
    from bench.accuracy.scratch import TrainSettings, train_once
    from bench.metrics.flops import create_model_on_meta

    data = load_digits(img_size=IMG)
    settings = TrainSettings(epochs=EPOCHS[scale], batch_size=64, lr=3e-3, weight_decay=0.05, budget="steps")
    out: dict = {"fractions": FRACTIONS[scale], "acc": {}, "train_time_s": {}, "params": {}, "gmacs": {}, "n_train": []}
    for key, (name, kw) in MODELS.items():
        meta = create_model_on_meta(name, img_size=IMG, num_classes=10, **kw)
        out["params"][key] = M.params(meta)
        out["gmacs"][key] = M.gmacs(meta, torch.empty(1, 3, IMG, IMG, device="meta"))
        runs = [train_once(name, data, settings, seed, fraction=f, model_kwargs=kw) for f in FRACTIONS[scale]]
        out["acc"][key] = [r.top1 / 100 for r in runs]
        out["train_time_s"][key] = [r.train_time_s for r in runs]
        out["n_train"] = [r.n_train for r in runs]
        out["steps"] = runs[0].steps
    return out


def run(scale: str, seed: int) -> ClaimResult:
    r = data_efficiency(scale, seed)
    acc_c, acc_v = r["acc"]["cnn"], r["acc"]["vit"]
    decision = decide(acc_c, acc_v)
    fracs = r["fractions"]

    fig, ax = figure(1, width=5.0)
    ax.plot(r["n_train"], acc_c, "o-", color=COLORS["cnn"],
            label=f"ResNet-18 small ({r['params']['cnn'] / 1e3:.0f} k params, {1e3 * r['gmacs']['cnn']:.1f} MMACs)")
    ax.plot(r["n_train"], acc_v, "s-", color=COLORS["vit"],
            label=f"ViT patch 4 ({r['params']['vit'] / 1e3:.0f} k params, {1e3 * r['gmacs']['vit']:.1f} MMACs)")
    ax.set(xscale="log", xticks=r["n_train"], xticklabels=[f"{n}\n({int(100 * f)}%)" for n, f in zip(r["n_train"], fracs)],
           xlabel="training images", ylabel="test accuracy", title=f"Digits {IMG}×{IMG}, {r['steps']} steps each")
    ax.legend(fontsize=7)
    headline = (f"CNN vs ViT test accuracy with {int(100 * fracs[0])}% of the data: {acc_c[0]:.3f} vs {acc_v[0]:.3f}; "
                f"with 100%: {acc_c[-1]:.3f} vs {acc_v[-1]:.3f}")
    numbers = {"fractions": fracs, "n_train": r["n_train"], "test_acc": r["acc"], "params": r["params"],
               "gmacs": r["gmacs"], "train_time_s": r["train_time_s"], "steps": r["steps"], "img_size": IMG}
    return ClaimResult(numbers, headline, decision, fig)
