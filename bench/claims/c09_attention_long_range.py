"""Claim 9: Self-attention relates distant positions; CNNs are weak at long-range dependencies.

Korean:
    장거리 의존성 부족 | 멀리 떨어진 패턴 간 관계 파악 어려움
    Attention은 긴 거리 관계 학습의 핵심 메커니즘
English:
    (CNN limitation) Lack of long-range dependency: hard to relate patterns that are far apart.
    Attention is the key mechanism for learning long-distance relations.
Method:
    Match task on sequences of 64 tokens (4 symbols, one-hot; tiny: 16): the label is 1 iff
    token 0 equals token d = L − 1 (balanced, other tokens random; chance 50%). Every model
    predicts from its output at position 0. Judged arms at equal parameters: one
    self-attention block with learned absolute positions (dim 32, 2 heads) against a 1-D CNN
    whose reach exceeds d — a stack of kernel-3 convs with dilations 1, 2, 4, … (reach
    = sum of dilations ≥ L), its width chosen so its parameter count matches the attention
    model's. A CNN that cannot see token d could not be fair evidence about convolution.
    Same budget: Adam lr 3e-3, batch 64 (full 200 steps, tiny 150), fresh seeded batches,
    3 seeds; test accuracy on 2,000 sequences. Effect per seed = accuracy(attention) −
    accuracy(CNN).
Verdict:
    holds: the 95% interval of the accuracy effect (attention − CNN) lies above 2 points.
    does not hold here: the interval lies at or below 2 points.
    inconclusive: the interval straddles 2 points.
"""

from __future__ import annotations

import torch

from bench.claims import _train as T
from bench.claims._exp import arm_seed, decide_effect, interval, mean, over_seeds
from bench.claims._nets import SeqAttention, SeqConv
from bench.claims._plot import COLORS, figure
from bench.claims._seq import match_batch
from bench.claims.base import FAILS, HOLDS, INCONCLUSIVE, ClaimResult, Decision
from bench.claims.stats import Interval

KIND = "experiment"
REACHABLE_VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)
WHY_REACHABLE = {
    HOLDS: "the real configuration, when the CNN that can see token d does not learn the relation in the budget "
    "(or reference='cnn_local': a CNN of reach 4 that cannot see it)",
    FAILS: "a short relation (distance=1, steps=200), which the CNN learns as well as attention",
    INCONCLUSIVE: "a short relation with a budget too short to learn it reliably (distance=2, steps=80): the seeds disagree",
}
LENGTH = {"tiny": 16, "full": 64}
STEPS = {"tiny": 150, "full": 200}
VOCAB = 4
MARGIN = 0.02  # "weak" needs more than a 2-point gap
LABELS = {"attention": "self-attention", "cnn_global": "CNN, reach > d", "cnn_local": "CNN, reach 4"}


def decide(effect: Interval) -> Decision:
    return decide_effect(effect, "accuracy at distance L−1, attention minus CNN", margin=MARGIN)


def _dilations(kind: str, length: int) -> tuple[int, ...]:
    if kind == "cnn_local":
        return (1, 1, 1, 1)
    dil: list[int] = []
    d = 1
    while sum(dil) < length:  # reach = sum(dilations) ≥ L > d
        dil.append(d)
        d *= 2
    return tuple(dil)


def _params(m) -> int:
    return sum(p.numel() for p in m.parameters())


def _build(kind: str, length: int, target: int | None = None):
    if kind == "attention":
        return SeqAttention(VOCAB, 2, length, dim=32, depth=1, heads=2)
    dil = _dilations(kind, length)
    width = min(range(4, 129), key=lambda w: abs(_params(SeqConv(VOCAB, 2, w, dil)) - (target or 0)))
    return SeqConv(VOCAB, 2, width, dil)


def run(
    scale: str,
    seeds: tuple[int, ...],
    treatment: str = "attention",
    reference: str = "cnn_global",
    steps: int | None = None,
    reported: tuple[str, ...] | None = None,
    distance: int | None = None,
) -> ClaimResult:
    length, steps = LENGTH[scale], steps or STEPS[scale]
    d = distance or length - 1
    target = _params(_build("attention", length))
    reported = () if reported is None else reported
    arms = [treatment, reference, *reported]
    shapes = {a: _build(a, length, target) for a in dict.fromkeys(arms)}
    info = {a: {"params": _params(m), "reach": getattr(m, "reach", length - 1)} for a, m in shapes.items()}

    def one(seed: int) -> dict:
        test_x, test_y = match_batch(2000, length, d, VOCAB, torch.Generator().manual_seed(10_000 + seed))
        row = {}
        for i, kind in enumerate(arms):
            torch.manual_seed(arm_seed(seed, i))
            model = _build(kind, length, target)
            g = torch.Generator().manual_seed(arm_seed(seed, i))
            T.train_stream(model, lambda g=g: match_batch(64, length, d, VOCAB, g), steps=steps, lr=3e-3)  # type: ignore[misc]  # lambda default
            row[f"acc_{i}_{kind}"] = T.accuracy(model, test_x, test_y)
        row["effect"] = row[f"acc_0_{treatment}"] - row[f"acc_1_{reference}"]
        return row

    rows = over_seeds(seeds, one)
    effect = interval(rows, "effect")
    decision = decide(effect)

    fig, ax = figure(1, width=4.6)
    colors = [COLORS["vit"], COLORS["cnn"], COLORS["other"]]
    for i, kind in enumerate(arms):
        ys = [r[f"acc_{i}_{kind}"] for r in rows]
        ax.plot([i] * len(ys), ys, "o", color=colors[i % 3], alpha=0.7)
        ax.plot([i + 0.15], [sum(ys) / len(ys)], "s", color="k")
    ax.axhline(0.5, color="k", ls=":", lw=0.8)
    ax.set(
        xticks=range(len(arms)),
        xticklabels=[f"{LABELS[a]}\n{info[a]['params']:,} p" for a in arms],
        ylabel="test accuracy",
        ylim=(0.4, 1.03),
        title=f"token 0 == token {d}? (L={length})",
    )
    ax.tick_params(axis="x", labelsize=7)
    desc = ", ".join(
        f"{LABELS[a]} ({info[a]['params']:,} params, reach {info[a]['reach']}) {mean(rows, f'acc_{i}_{a}'):.3f}"
        for i, a in enumerate(arms)
    )
    headline = (
        f"accuracy at distance {d} of L={length}, {LABELS[treatment]} − {LABELS[reference]}: "
        f"{effect.text(100, unit=' pts')} over {effect.n} seeds ({desc})"
    )
    numbers = {
        "length": length,
        "distance": d,
        "arms": arms,
        "models": info,
        "effect": effect.as_dict(),
        "train_steps": steps,
        "margin": MARGIN,
    }
    return ClaimResult(numbers, headline, decision, fig, per_seed=rows)
