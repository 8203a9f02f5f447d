"""Claim 8: RNNs suffer vanishing/exploding gradients; LSTM's gates keep long-range information.

Korean:
    한계: 기울기 소실/폭발 문제
    RNN의 장기 의존성 문제 해결
    Cell State로 정보 흐름 유지
English:
    Limitation (RNN): the vanishing/exploding gradient problem.
    (LSTM) solves the RNN's long-term dependency problem.
    Keeps information flowing through the cell state.
Method:
    Recall task: one of 8 tokens at step 0, noise on a separate channel for T − 2 steps, a
    "report" marker at the last step; predict the token (chance 12.5%). T ∈ {10, 40}
    (tiny: {5, 20}). 32 hidden units: a tanh RNN with orthogonal recurrent weights (its
    standard remedy) and an LSTM whose forget-gate bias is 1 (Gers et al. 2000; Jozefowicz et
    al. 2015) — the same for every T, so the initialisation knows nothing of the task length.
    Same budget: Adam lr 0.01, batch 64 (full 150 steps, tiny 60), gradient clipping at norm
    1, fresh seeded batches, 3 seeds; test accuracy on 1,000 sequences. Effect per seed =
    accuracy(LSTM) − accuracy(RNN) at the longest T. Reported, not judged: a budget sweep at
    the longest T (full: 1× and 2× the steps) — whether the gap is a matter of budget — and
    the largest gradient norm seen before clipping.
Verdict:
    holds: the 95% interval of the accuracy effect (LSTM − RNN at the longest T) lies above 0.
    does not hold here: the interval lies at or below 0.
    inconclusive: the interval straddles 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
import torch

from bench.claims import _train as T
from bench.claims._exp import arm_seed, decide_effect, interval, mean, over_seeds
from bench.claims._nets import SeqRNN
from bench.claims._plot import COLORS, figure
from bench.claims._seq import recall_batch
from bench.claims.base import FAILS, HOLDS, INCONCLUSIVE, ClaimResult, Decision
from bench.claims.stats import Interval

KIND = "experiment"
REACHABLE_VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)
WHY_REACHABLE = {
    HOLDS: "an LSTM whose forget gate starts open for the task's length (treatment='lstm_chrono', chrono init) "
    "against an RNN with PyTorch's default init (reference='rnn_default'), at a length that RNN cannot bridge "
    "(tiny: lengths=(60,), steps=150)",
    FAILS: "an LSTM with PyTorch's default gate initialisation (treatment='lstm_default'): it learns the recall more "
    "slowly than the RNN in the same budget",
    INCONCLUSIVE: "treatment = reference (treatment='rnn') at a length the RNN only sometimes bridges (tiny: "
    "lengths=(60,), steps=100): the arms differ only by seed",
}
LENGTHS = {"tiny": [5, 20], "full": [10, 40]}
STEPS = {"tiny": 60, "full": 150}
SWEEP = {"tiny": [], "full": [2.0]}  # extra budgets (× STEPS) at the longest T, reported
VOCAB, HIDDEN = 8, 32
MODELS = {
    "rnn": ("rnn", "orthogonal"),
    "lstm": ("lstm", "forget1"),
    "lstm_default": ("lstm", "default"),
    "lstm_chrono": ("lstm", "chrono"),
    "rnn_default": ("rnn", "default"),
}
LABELS = {
    "rnn": "RNN (orthogonal)",
    "lstm": "LSTM (forget bias 1)",
    "lstm_default": "LSTM (default init)",
    "lstm_chrono": "LSTM (chrono init, horizon T)",
    "rnn_default": "RNN (default init)",
}


def decide(effect: Interval) -> Decision:
    return decide_effect(effect, "recall accuracy at the longest T, LSTM minus RNN")


def _train_eval(key: str, length: int, steps: int, seed: int, test) -> tuple[float, float]:
    kind, init = MODELS[key]
    torch.manual_seed(seed)
    model = SeqRNN(kind, VOCAB + 2, VOCAB, HIDDEN, init=init, horizon=length)
    g = torch.Generator().manual_seed(seed)
    log = T.train_stream(model, lambda: recall_batch(64, length, VOCAB, g), steps=steps, lr=1e-2, clip=1.0)
    return T.accuracy(model, *test), log.max_grad_norm


def run(
    scale: str,
    seeds: tuple[int, ...],
    treatment: str = "lstm",
    reference: str = "rnn",
    lengths: Sequence[int] | None = None,
    steps: int | None = None,
) -> ClaimResult:
    lengths, steps = list(lengths or LENGTHS[scale]), steps or STEPS[scale]
    arms = [treatment, reference]

    def one(seed: int) -> dict:
        row: dict[str, Any] = {}
        for length in lengths:
            test = recall_batch(1000, length, VOCAB, torch.Generator().manual_seed(10_000 + seed))
            for i, key in enumerate(arms):
                acc, gmax = _train_eval(key, length, steps, arm_seed(seed, i), test)
                row[f"acc_T{length}_{i}_{key}"] = acc
                row[f"max_grad_T{length}_{i}"] = gmax
            for f in SWEEP[scale]:
                for i, key in enumerate(arms):
                    row[f"acc_T{length}_{i}_{key}_x{f:g}"] = (
                        _train_eval(key, length, int(steps * f), arm_seed(seed, i), test)[0] if length == lengths[-1] else None
                    )
        t = lengths[-1]
        row["effect"] = row[f"acc_T{t}_0_{treatment}"] - row[f"acc_T{t}_1_{reference}"]
        return {k: v for k, v in row.items() if v is not None}

    rows = over_seeds(seeds, one)
    effect = interval(rows, "effect")
    decision = decide(effect)

    t = lengths[-1]
    fig, (ax1, ax2) = figure(2)
    colors = [COLORS["cnn"], COLORS["other"]]
    for i, key in enumerate(arms):
        ax1.plot(lengths, [mean(rows, f"acc_T{n}_{i}_{key}") for n in lengths], "o-", color=colors[i], label=LABELS[key])
        budgets = sorted([1.0, *SWEEP[scale]])
        ys = [mean(rows, f"acc_T{t}_{i}_{key}" + ("" if b == 1.0 else f"_x{b:g}")) for b in budgets]
        ax2.plot([int(steps * b) for b in budgets], ys, "o-", color=colors[i], label=LABELS[key])
    ax1.axhline(1 / VOCAB, color="k", ls=":", lw=0.8, label="chance")
    ax1.set(xlabel="sequence length T", ylabel="test accuracy (mean of seeds)", title=f"Recall after T steps ({steps} steps)")
    ax1.legend(fontsize=7)
    ax2.set(xscale="log", xlabel="training steps", ylabel="test accuracy", title=f"Budget sweep at T={t}")
    ax2.legend(fontsize=7)
    headline = (
        f"recall accuracy at T={t}, {LABELS[treatment]} − {LABELS[reference]}: {effect.text(100, unit=' pts')} "
        f"over {effect.n} seeds (means {mean(rows, f'acc_T{t}_0_{treatment}'):.2f} vs "
        f"{mean(rows, f'acc_T{t}_1_{reference}'):.2f}; at T={lengths[0]} "
        f"{mean(rows, f'acc_T{lengths[0]}_0_{treatment}'):.2f} vs {mean(rows, f'acc_T{lengths[0]}_1_{reference}'):.2f})"
    )
    if SWEEP[scale]:
        headline += "; budget sweep " + ", ".join(
            f"{int(steps * f)} steps {mean(rows, f'acc_T{t}_0_{treatment}_x{f:g}'):.2f} vs {mean(rows, f'acc_T{t}_1_{reference}_x{f:g}'):.2f}"
            for f in SWEEP[scale]
        )
    numbers = {
        "lengths": lengths,
        "arms": arms,
        "effect": effect.as_dict(),
        "train_steps": steps,
        "budget_sweep_factors": SWEEP[scale],
        "hidden": HIDDEN,
    }
    return ClaimResult(numbers, headline, decision, fig, per_seed=rows)
