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
    "report" marker at the last step; predict the token (chance 12.5%). T ∈ {20, 50, 100}
    (tiny: {5, 10}). Models with 32 hidden units: a tanh RNN with orthogonal recurrent
    weights (its standard remedy), an LSTM with chrono initialisation (forget gate opened,
    Tallec & Ollivier 2018), and an LSTM with PyTorch's default initialisation. Same budget
    for all: Adam lr 0.01, batch 64, 300 steps (tiny: 30), gradient clipping at norm 1, fresh
    seeded batches. Measured: test accuracy on 1,000 sequences; the largest gradient norm
    seen before clipping; at initialisation, ‖∂L/∂x_0‖ / ‖∂L/∂x_{T−1}‖ (how much of the
    loss's gradient reaches the first input).
Verdict:
    holds: at the longest T the (chrono) LSTM is ≥ 10 points more accurate than the RNN (A) and ≥ 90% accurate (B), the RNN loses ≥ 10 points from the shortest to the longest T (C), and the default-initialised LSTM is also ≥ 90% accurate at the longest T (D).
    holds with caveat: A and C hold but B or D does not (the caveat says which).
    does not hold here: A or C fails.
"""

from __future__ import annotations

import torch

from bench.claims import _train as T
from bench.claims._nets import SeqRNN
from bench.claims._plot import COLORS, figure
from bench.claims._seq import recall_batch
from bench.claims.base import CAVEAT, FAILS, HOLDS, ClaimResult, Decision

LENGTHS = {"tiny": [5, 10], "full": [20, 50, 100]}
STEPS = {"tiny": 30, "full": 300}
VOCAB, HIDDEN = 8, 32
MODELS = {"rnn": ("rnn", "orthogonal"), "lstm": ("lstm", "chrono"), "lstm_default": ("lstm", "default")}
LABELS = {"rnn": "RNN (orthogonal)", "lstm": "LSTM (chrono init)", "lstm_default": "LSTM (default init)"}


def decide(acc: dict[str, list[float]]) -> Decision:
    rnn, lstm, lstm_d = acc["rnn"], acc["lstm"], acc["lstm_default"]
    a = lstm[-1] >= rnn[-1] + 0.10
    b = lstm[-1] >= 0.90
    c = rnn[-1] <= rnn[0] - 0.10
    d = lstm_d[-1] >= 0.90
    if not a:
        return Decision(FAILS, f"at the longest length the LSTM ({lstm[-1]:.2f}) is not clearly ahead of the RNN ({rnn[-1]:.2f})")
    if not c:
        return Decision(FAILS, f"the RNN did not degrade with length ({rnn[0]:.2f} → {rnn[-1]:.2f})")
    if b and d:
        return Decision(HOLDS)
    why = []
    if not b:
        why.append(f"the LSTM also degrades ({lstm[-1]:.2f} at the longest length)")
    if not d:
        why.append(f"the advantage needs the forget gate initialised open: with PyTorch's default init the LSTM "
                   f"reached only {lstm_d[-1]:.2f} at the longest length in the same budget")
    return Decision(CAVEAT, "; ".join(why))


def _grad_reach(model: SeqRNN, x: torch.Tensor, y: torch.Tensor) -> float:
    x = x.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    g = x.grad.norm(dim=(0, 2))
    model.zero_grad(set_to_none=True)
    return float(g[0] / g[-1])


def run(scale: str, seed: int) -> ClaimResult:
    lengths = LENGTHS[scale]
    acc: dict[str, list[float]] = {k: [] for k in MODELS}
    max_grad: dict[str, list[float]] = {k: [] for k in MODELS}
    reach: dict[str, list[float]] = {k: [] for k in MODELS}
    for length in lengths:
        test_x, test_y = recall_batch(1000, length, VOCAB, torch.Generator().manual_seed(seed + 1))
        for key, (kind, init) in MODELS.items():
            torch.manual_seed(seed)
            model = SeqRNN(kind, VOCAB + 2, VOCAB, HIDDEN, init=init, horizon=length)
            reach[key].append(_grad_reach(model, test_x[:256], test_y[:256]))
            g = torch.Generator().manual_seed(seed)
            log = T.train_stream(model, lambda: recall_batch(64, length, VOCAB, g), steps=STEPS[scale], lr=1e-2, clip=1.0)
            acc[key].append(T.accuracy(model, test_x, test_y))
            max_grad[key].append(log.max_grad_norm)
    decision = decide(acc)

    fig, (ax1, ax2) = figure(2)
    colors = {"rnn": COLORS["other"], "lstm": COLORS["cnn"], "lstm_default": COLORS["mobile"]}
    for key in MODELS:
        ax1.plot(lengths, acc[key], "o-", color=colors[key], label=LABELS[key])
        ax2.semilogy(lengths, reach[key], "o-", color=colors[key], label=LABELS[key])
    ax1.axhline(1 / VOCAB, color="k", ls=":", lw=0.8, label="chance")
    ax1.set(xlabel="sequence length T", ylabel="test accuracy", title=f"Recall after T steps ({STEPS[scale]} steps)")
    ax1.legend(fontsize=7)
    ax2.set(xlabel="sequence length T", ylabel="‖∂L/∂x₀‖ / ‖∂L/∂x_T‖", title="Gradient reaching step 0, at init")
    ax2.legend(fontsize=7)
    t = lengths[-1]
    headline = (f"recall at T={t}: LSTM {acc['lstm'][-1]:.2f}, RNN {acc['rnn'][-1]:.2f} (RNN {acc['rnn'][0]:.2f} at "
                f"T={lengths[0]}), default-init LSTM {acc['lstm_default'][-1]:.2f}; RNN max grad norm {max(max_grad['rnn']):.0f}")
    numbers = {"lengths": lengths, "test_acc": acc, "max_grad_norm": max_grad, "grad_reach_at_init": reach,
               "train_steps": STEPS[scale], "hidden": HIDDEN}
    return ClaimResult(numbers, headline, decision, fig)
