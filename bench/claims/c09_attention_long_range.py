"""Claim 9: Self-attention relates distant positions; CNNs are weak at long-range dependencies.

Korean:
    장거리 의존성 부족 | 멀리 떨어진 패턴 간 관계 파악 어려움
    Attention은 긴 거리 관계 학습의 핵심 메커니즘
English:
    (CNN limitation) Lack of long-range dependency: hard to relate patterns that are far apart.
    Attention is the key mechanism for learning long-distance relations.
Method:
    Match task on sequences of 64 tokens (4 symbols, one-hot; tiny: 16): the label is 1 iff
    token 0 equals token d (balanced, other tokens random; chance 50%), for d ∈ {2, 8, 32,
    63} (tiny: {2, 15}), one model trained per d. Every model predicts from its output at
    position 0. Models: a CNN of four 3×3 conv layers (reach 4 positions), a dilated CNN
    (dilations 1…32, reach 63 — it can see every position), and one self-attention block
    with learned absolute positions (dim 32, 2 heads). Same budget: Adam lr 3e-3, batch 64,
    300 steps (tiny: 40), fresh seeded batches; test accuracy on 2,000 sequences.
Verdict:
    holds: attention is ≥ 85% accurate at the largest distance, the CNN is ≤ 65% there but ≥ 85% at the smallest distance, and the dilated CNN is < 85% at the largest distance.
    holds with caveat: the same, except that the CNN also fails at the smallest distance, or the dilated CNN solves the largest distance (the caveat says which).
    does not hold here: attention is < 85% at the largest distance, or the CNN is > 65% there.
"""

from __future__ import annotations

import torch

from bench.claims import _train as T
from bench.claims._nets import SeqAttention, SeqConv
from bench.claims._plot import COLORS, figure
from bench.claims._seq import match_batch
from bench.claims.base import CAVEAT, FAILS, HOLDS, ClaimResult, Decision

LENGTH = {"tiny": 16, "full": 64}
DISTANCES = {"tiny": [2, 15], "full": [2, 8, 32, 63]}
STEPS = {"tiny": 40, "full": 300}
VOCAB = 4
LABELS = {"cnn": "CNN (reach 4)", "dilated": "dilated CNN (reach 63)", "attention": "self-attention"}


def decide(acc: dict[str, list[float]]) -> Decision:
    att, cnn, dil = acc["attention"], acc["cnn"], acc["dilated"]
    if att[-1] < 0.85:
        return Decision(FAILS, f"attention did not learn the longest relation ({att[-1]:.2f})")
    if cnn[-1] > 0.65:
        return Decision(FAILS, f"the CNN handled the longest relation ({cnn[-1]:.2f})")
    why = []
    if cnn[0] < 0.85:
        why.append(f"the CNN failed even at the shortest distance ({cnn[0]:.2f}), so distance is not shown to be the cause")
    if dil[-1] >= 0.85:
        why.append(f"a dilated CNN whose reach covers the distance also solves it ({dil[-1]:.2f}): the weakness is a small "
                   "receptive field, not convolution as such")
    return Decision(CAVEAT, "; ".join(why)) if why else Decision(HOLDS)


def _build(kind: str, length: int, scale: str):
    if kind == "cnn":
        return SeqConv(VOCAB, 2, 32, (1, 1, 1, 1))
    if kind == "dilated":
        dil = (1, 2, 4, 8, 16, 32) if scale == "full" else (1, 2, 4, 8)
        return SeqConv(VOCAB, 2, 32, dil)
    return SeqAttention(VOCAB, 2, length, dim=32, depth=1, heads=2)


def run(scale: str, seed: int) -> ClaimResult:
    length, dists = LENGTH[scale], DISTANCES[scale]
    acc: dict[str, list[float]] = {k: [] for k in LABELS}
    reach = {}
    for d in dists:
        test_x, test_y = match_batch(2000, length, d, VOCAB, torch.Generator().manual_seed(seed + 1))
        for kind in LABELS:
            torch.manual_seed(seed)
            model = _build(kind, length, scale)
            reach[kind] = getattr(model, "reach", length - 1)
            g = torch.Generator().manual_seed(seed)
            T.train_stream(model, lambda: match_batch(64, length, d, VOCAB, g), steps=STEPS[scale], lr=3e-3)
            acc[kind].append(T.accuracy(model, test_x, test_y))
    decision = decide(acc)

    fig, ax = figure(1, width=5.0)
    colors = {"cnn": COLORS["cnn"], "dilated": COLORS["mobile"], "attention": COLORS["vit"]}
    for kind in LABELS:
        ax.plot(dists, acc[kind], "o-", color=colors[kind], label=LABELS[kind])
    ax.axvline(reach["cnn"], color=COLORS["cnn"], ls=":", lw=0.8)
    ax.axhline(0.5, color="k", ls=":", lw=0.8, label="chance")
    ax.set(xscale="log", xticks=dists, xticklabels=[str(d) for d in dists], ylim=(0.4, 1.03),
           xlabel="distance d between the related tokens", ylabel="test accuracy", title=f"Is token 0 == token d? (L={length})")
    ax.legend(fontsize=7)
    headline = (f"at distance {dists[-1]}: attention {acc['attention'][-1]:.2f}, CNN {acc['cnn'][-1]:.2f} "
                f"(CNN {acc['cnn'][0]:.2f} at distance {dists[0]}), dilated CNN {acc['dilated'][-1]:.2f}")
    numbers = {"length": length, "distances": dists, "test_acc": acc, "reach": reach, "train_steps": STEPS[scale]}
    return ClaimResult(numbers, headline, decision, fig)
