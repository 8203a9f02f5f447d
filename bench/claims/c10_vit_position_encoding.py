"""Claim 10: Learnable position encodings must be retrained when the input size changes; sinusoidal ones are robust to it; relative ones encode distance.

Korean:
    학습형(learnable) | 데이터 특화, 재학습 필요
    사인파형(sinusoidal) | 규칙 기반, 해상도 변화에 강함
    상대 위치(relative) | 위치 간 거리 정보 반영
English:
    Learnable: specific to the data; must be retrained.
    Sinusoidal: rule-based; robust to changes of resolution.
    Relative: reflects the distance between positions.
Method:
    Digits upsampled to 16×16; a ViT (patch 4 → 4×4 tokens, dim 48, depth 3, 3 heads) that
    classifies from a class token (so blank tokens are not averaged into the prediction),
    trained with the same budget (AdamW lr 3e-3, weight decay 0.05, batch 64; full 250
    steps, tiny 60), 3 seeds, once per position encoding: learnable absolute, 2-D sinusoidal
    (fixed, integer patch coordinates) and none (the control). Without retraining, each is
    evaluated with the same digit centred on a 24×24 canvas (6×6 tokens): the trained tokens
    keep their content and their coordinates — the learned table is placed on them (not
    stretched) and its edge repeated onto the new ring; sinusoidal coordinates are
    centre-aligned and simply extend to the ring. Drop = accuracy at 16 − accuracy at 24.
    Effect per seed = drop(learnable) − drop(sinusoidal). The control must hold up: if the
    model without any position encoding drops as much as the effect, the size change itself,
    not the encoding, is what hurts. Reported (full): relative (a learned per-head bias per
    2-D offset, offsets beyond the trained range clipped) and the learned table stretched
    bicubically (the usual fix).
Verdict:
    holds: the 95% interval of the effect (learnable drop − sinusoidal drop) lies above 0 and the control's mean drop is smaller than the effect's mean.
    does not hold here: the interval lies at or below 0.
    inconclusive: the interval straddles 0, or the control without position encoding drops as much as the effect.
"""

from __future__ import annotations

import torch

from bench.claims import _measure as M
from bench.claims import _train as T
from bench.claims._exp import arm_seed, decide_effect, interval, mean, over_seeds
from bench.claims._nets import SmallViT
from bench.claims._plot import COLORS, figure
from bench.claims.base import FAILS, HOLDS, INCONCLUSIVE, ClaimResult, Decision
from bench.claims.stats import Interval

KIND = "experiment"
REACHABLE_VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)
WHY_REACHABLE = {
    HOLDS: "the real configuration, when the placed learned table loses more than sinusoidal and the control holds up",
    FAILS: "the learnable arm built as the sinusoidal one, same initialisation (learnable_as='sinusoidal'): no "
    "difference is left",
    INCONCLUSIVE: "mean pooling instead of a class token (pool='mean'): the blank ring is averaged into every "
    "prediction and the control without positions drops as much",
}
STEPS = {"tiny": 60, "full": 250}
TRAIN_SIDE, TEST_SIDE = 16, 24
KINDS = ["learnable", "sinusoidal", "none"]


def decide(effect: Interval, control: Interval) -> Decision:
    return decide_effect(
        effect,
        "accuracy drop on the 24×24 canvas, learnable minus sinusoidal",
        control=control,
        control_what="the drop without any position encoding",
    )


def _arms(scale: str, learnable_at_24: str) -> list[tuple[str, str, str]]:
    arms = [("learnable", "learnable", learnable_at_24), ("sinusoidal", "sinusoidal", ""), ("none", "none", "")]
    if scale == "full":
        arms += [("relative", "relative", ""), ("learnable, stretched", "learnable", "stretch")]
    return arms


def run(
    scale: str,
    seeds: tuple[int, ...],
    learnable_at_24: str = "place",
    align_sinusoidal: bool = True,
    pool: str = "cls",
    learnable_as: str = "learnable",
) -> ClaimResult:
    data = T.digits_split()
    xtr = T.render(data.x_train, 2)
    x16 = T.render(data.x_test, 2)
    x24 = T.render(data.x_test, 2, (TEST_SIDE - TRAIN_SIDE) // 2)
    arms = _arms(scale, learnable_at_24)
    trained = sorted({kind for _, kind, _ in arms}, key=[a[1] for a in arms].index)

    def one(seed: int) -> dict:
        row = {}
        for i, kind in enumerate(trained):
            pos = learnable_as if kind == "learnable" else kind  # counterfactual: the "learnable" arm built otherwise
            si = arm_seed(seed, trained.index(pos) if pos in trained else i)
            torch.manual_seed(si)
            model = SmallViT(img_size=TRAIN_SIDE, patch=4, dim=48, depth=3, heads=3, pos=pos, pool=pool)
            T.train(model, xtr, data.y_train, steps=STEPS[scale], lr=3e-3, weight_decay=0.05, seed=si)
            acc16 = T.accuracy(model, x16, data.y_test)
            for name, k, mode in arms:
                if k != kind:
                    continue
                model.larger_grid, model.align = mode or "place", align_sinusoidal
                row[f"drop_{name}"] = acc16 - T.accuracy(model, x24, data.y_test)
                row[f"acc16_{name}"] = acc16
        row["effect"] = row["drop_learnable"] - row["drop_sinusoidal"]
        return row

    rows = over_seeds(seeds, one)
    effect, control = interval(rows, "effect"), interval(rows, "drop_none")
    decision = decide(effect, control)

    fig, ax = figure(1, width=5.0)
    names = [a[0] for a in arms]
    colors = {"learnable": COLORS["vit"], "sinusoidal": COLORS["cnn"], "none": COLORS["other"], "relative": COLORS["mobile"]}
    for i, name in enumerate(names):
        ys = [100 * r[f"drop_{name}"] for r in rows]
        ax.plot([i] * len(ys), ys, "o", color=colors.get(name, COLORS["hybrid"]), alpha=0.7)
        ax.plot([i + 0.15], [sum(ys) / len(ys)], "s", color="k")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(
        xticks=range(len(names)),
        xticklabels=[n.replace(", ", "\n") for n in names],
        ylabel="accuracy lost 16 → 24 px canvas (points)",
        title=f"Per seed and mean ({pool} pooling)",
    )
    ax.tick_params(axis="x", labelsize=7)
    setup = [] if learnable_at_24 == "place" else [f"learned table {learnable_at_24}ed"]
    setup += [] if align_sinusoidal else ["sinusoidal coordinates from 0"]
    setup += [] if pool == "cls" else [f"{pool} pooling"]
    headline = (
        f"{'(' + ', '.join(setup) + ') ' if setup else ''}accuracy lost on a 24 px canvas, learnable − sinusoidal: "
        f"{effect.text(100, unit=' pts')} over {effect.n} seeds; mean drops "
        + ", ".join(f"{n} {100 * mean(rows, 'drop_' + n):.1f}" for n in names)
        + " pts (accuracy at 16 px: "
        + ", ".join(f"{n} {mean(rows, 'acc16_' + n):.3f}" for n in names[:3])
        + ")"
    )
    numbers = {
        "arms": names,
        "effect": effect.as_dict(),
        "control_drop_none": control.as_dict(),
        "train_steps": STEPS[scale],
        "pool": pool,
        "learnable_at_24": learnable_at_24,
        "align_sinusoidal": align_sinusoidal,
        "params": {k: M.params(SmallViT(img_size=16, patch=4, dim=48, depth=3, heads=3, pos=k, pool=pool)) for k in trained},
    }
    return ClaimResult(numbers, headline, decision, fig, per_seed=rows)
