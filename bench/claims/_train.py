"""Digits data and a small, deterministic trainer for the claim experiments.

Data: scikit-learn's bundled 8×8 handwritten digits (1,797 images, no download), split 80/20
stratified with a fixed seed, pixels scaled to [0, 1]. :func:`render` upsamples (bilinear)
and zero-pads them to the canvas an experiment needs.

Training: Adam (or SGD) on cross-entropy for a fixed number of steps, batches drawn from a
seeded permutation, no augmentation. Everything a run depends on is seeded, so on the same
machine and thread count the numbers repeat exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Split:
    x_train: torch.Tensor  # N×1×8×8 float in [0, 1]
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


@functools.lru_cache(maxsize=1)
def digits_split(seed: int = 0) -> Split:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=0.2, stratify=d.target, random_state=seed)
    return Split(torch.from_numpy(xtr), torch.from_numpy(ytr).long(), torch.from_numpy(xte), torch.from_numpy(yte).long())


def render(x: torch.Tensor, scale: int = 1, pad: int = 0) -> torch.Tensor:
    """Upsample 8×8 digits by ``scale`` (bilinear) and add a zero border of ``pad`` pixels."""
    if scale != 1:
        x = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    if pad:
        x = F.pad(x, (pad, pad, pad, pad))
    return x


def subset(x: torch.Tensor, y: torch.Tensor, fraction: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A stratified ``fraction`` of (x, y); nested: a smaller fraction is a subset of a larger one."""
    if fraction >= 1.0:
        return x, y
    g = torch.Generator().manual_seed(seed)
    keep: list[torch.Tensor] = []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        keep.append(idx[: max(1, round(fraction * len(idx)))])
    sel = torch.sort(torch.cat(keep)).values
    return x[sel], y[sel]


@dataclass
class TrainLog:
    losses: list[float]
    max_grad_norm: float  # largest total gradient norm seen (before any clipping)

    def final_loss(self, last: int = 20) -> float:
        tail = self.losses[-last:]
        return float(sum(tail) / len(tail))


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    seed: int = 0,
    **opts,
) -> TrainLog:
    """Train in place for ``steps`` optimizer steps on (x, y); batches from a seeded permutation."""
    g = torch.Generator().manual_seed(seed)
    n = len(x)
    state = {"order": torch.randperm(n, generator=g), "pos": 0}

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        if state["pos"] + batch_size > n:
            state["order"], state["pos"] = torch.randperm(n, generator=g), 0
        idx = state["order"][state["pos"] : state["pos"] + batch_size]
        state["pos"] += batch_size
        return x[idx], y[idx]

    return train_stream(model, batch, steps=steps, **opts)


def train_stream(
    model: nn.Module,
    batch: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    *,
    steps: int,
    lr: float = 3e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    clip: float | None = None,
    loss_fn=F.cross_entropy,
) -> TrainLog:
    """Train in place for ``steps`` steps on batches from ``batch()`` (AdamW, or SGD + momentum 0.9)."""
    model.train()
    if optimizer == "adam":
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    losses: list[float] = []
    max_norm = 0.0
    for _ in range(steps):
        xb, yb = batch()
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip else float("inf"))
        max_norm = max(max_norm, float(norm))
        opt.step()
        losses.append(loss.item())
    model.eval()
    return TrainLog(losses, max_norm)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict(model, x) == y).float().mean())
