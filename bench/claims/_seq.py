"""Synthetic sequence tasks for the long-range claims (one-hot tokens, seeded generators).

* recall: a token (one of ``vocab``) is shown at step 0, then ``length - 2`` steps of noise
  on a separate channel, then a "report now" marker on the last step; the class is the
  token (chance = 1/vocab). Tests memory over distance. Inputs have ``vocab + 2`` channels.
* match: label 1 iff token 0 equals token ``distance`` (balanced; other tokens random;
  chance = 0.5). Tests relating two positions a fixed distance apart.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def recall_batch(n: int, length: int, vocab: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = torch.randint(0, vocab, (n,), generator=g)
    x = torch.zeros(n, length, vocab + 2)
    x[torch.arange(n), 0, tokens] = 1.0
    x[:, 1:-1, vocab] = torch.rand(n, length - 2, generator=g)  # distractor noise
    x[:, -1, vocab + 1] = 1.0  # report marker
    return x, tokens


def match_batch(n: int, length: int, distance: int, vocab: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    if not 0 < distance < length:
        raise ValueError(f"distance must be in 1..{length - 1}, got {distance}")
    tokens = torch.randint(0, vocab, (n, length), generator=g)
    label = torch.randint(0, 2, (n,), generator=g)
    other = (tokens[:, 0] + torch.randint(1, vocab, (n,), generator=g)) % vocab  # any token but token 0
    tokens[:, distance] = torch.where(label.bool(), tokens[:, 0], other)
    return F.one_hot(tokens, vocab).float(), label
