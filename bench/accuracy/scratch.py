"""Train from random initialisation with one budget for every architecture, then test.

The budget — epochs, batch size, optimizer, learning rate and schedule, weight decay,
augmentation, seeds — comes from the suite and is identical for every model of a task, so
differences in test accuracy come from the architectures. Conventions:

- ``epochs`` are counted on the full training split. With ``budget: steps`` (default) a
  run on a fraction of the data takes the same number of optimizer steps as the full run
  (it sees its subset more often); with ``budget: epochs`` it takes proportionally fewer.
- Learning rate: linear warm-up over the first 5 % of steps, then cosine decay to 0
  (``schedule: cosine``) or flat (``schedule: constant``).
- Augmentation ``shift``: each training image is translated by a random whole number of
  pixels, up to 1/8 of its side in each direction, filling with background (zero).
- Determinism: the seed fixes the initial weights, the data order, the augmentation and
  the training subset; deterministic kernels are enforced while training, so two runs
  with the same seed on the same CPU and thread count give identical accuracy.
- Test accuracy is measured once, after training, on the held-out split that no model
  ever trains on; nothing is tuned on it.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.nn.functional as F

from bench.accuracy.datasets import TrainData, stratified_fraction, to_model_input


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.05
    optimizer: str = "adamw"  # adamw | sgd
    momentum: float = 0.9  # sgd only
    schedule: str = "cosine"  # cosine | constant
    label_smoothing: float = 0.0
    augment: str = "none"  # none | shift
    budget: str = "steps"  # steps | epochs
    channels_last: bool = True  # faster CPU convolutions (depthwise above all); same numbers
    device: str = "cpu"

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "TrainSettings":
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in options.items() if k in names and v is not None})


@dataclass
class SeedResult:
    seed: int
    top1: float  # percent of held-out images
    top5: float | None
    train_time_s: float
    final_loss: float
    n_train: int
    steps: int


@dataclass
class ScratchResult:
    seeds: list[SeedResult]
    n_test: int

    @property
    def top1(self) -> float:
        return statistics.fmean(r.top1 for r in self.seeds)

    @property
    def top1_std(self) -> float:
        vals = [r.top1 for r in self.seeds]
        return statistics.stdev(vals) if len(vals) > 1 else 0.0

    @property
    def top5(self) -> float | None:
        vals = [r.top5 for r in self.seeds]
        return None if any(v is None for v in vals) else statistics.fmean(vals)  # type: ignore[arg-type]

    @property
    def train_time_s(self) -> float:
        return statistics.fmean(r.train_time_s for r in self.seeds)


@contextmanager
def deterministic(device: str) -> Iterator[None]:
    """Deterministic kernels for the block; the previous setting is restored after."""
    before = torch.are_deterministic_algorithms_enabled()
    warn_before = torch.is_deterministic_algorithms_warn_only_enabled()
    # On CUDA a few kernels have no deterministic version: warn rather than fail there.
    torch.use_deterministic_algorithms(True, warn_only=device != "cpu")
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=warn_before)


def random_shift(x: torch.Tensor, max_shift: int, g: torch.Generator) -> torch.Tensor:
    """Translate each image by its own random (dy, dx) in [-max_shift, max_shift], zero-filled."""
    if max_shift <= 0:
        return x
    b, _c, h, w = x.shape
    padded = F.pad(x, (max_shift, max_shift, max_shift, max_shift))
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=g)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=g)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, :, None]  # (b, h, 1)
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, :]  # (b, 1, w)
    out = padded[torch.arange(b)[:, None, None], :, rows, cols]  # (b, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()


def _batches(n: int, batch_size: int, g: torch.Generator) -> list[torch.Tensor]:
    perm = torch.randperm(n, generator=g)
    chunks = list(perm.split(batch_size))
    # BatchNorm cannot train on a single image; fold a 1-image remainder into the previous batch.
    if len(chunks) > 1 and len(chunks[-1]) < 2:
        chunks[-2] = torch.cat([chunks[-2], chunks.pop()])
    return chunks


def _lr_at(step: int, total: int, base: float, schedule: str) -> float:
    warmup = max(1, int(0.05 * total))
    if step < warmup:
        return base * (step + 1) / warmup
    if schedule == "constant":
        return base
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * progress))


def _optimizer(model: torch.nn.Module, s: TrainSettings) -> torch.optim.Optimizer:
    # No weight decay on biases and norm scales (1-D tensors), the usual practice for all families.
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if s.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=s.lr, momentum=s.momentum, nesterov=True)
    return torch.optim.AdamW(groups, lr=s.lr)


@torch.inference_mode()
def evaluate(model: torch.nn.Module, data: TrainData, device: str, batch_size: int = 256) -> tuple[float, float | None]:
    """Top-1 and top-5 accuracy in percent on the held-out split (top-5 None with < 5 classes)."""
    model.eval()
    correct1 = correct5 = 0
    for i in range(0, len(data.test), batch_size):
        xb = to_model_input(data.test.x[i : i + batch_size], data).to(device)
        yb = data.test.y[i : i + batch_size].to(device)
        logits = model(xb)
        correct1 += int((logits.argmax(1) == yb).sum())
        if data.num_classes >= 5:
            top5 = logits.topk(5, dim=1).indices
            correct5 += int((top5 == yb[:, None]).any(1).sum())
    n = len(data.test)
    return 100.0 * correct1 / n, (100.0 * correct5 / n if data.num_classes >= 5 else None)


def train_once(
    model_name: str,
    data: TrainData,
    settings: TrainSettings,
    seed: int,
    fraction: float = 1.0,
    model_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
    label: str = "",
) -> SeedResult:
    """One training run from random init; returns held-out accuracy and the training time."""
    from bench import registry

    device = settings.device
    g = torch.Generator().manual_seed(seed)
    subset = stratified_fraction(data.train.y, fraction, seed)
    x_train, y_train = data.train.x[subset], data.train.y[subset]
    n_full_batches = len(_batches(len(data.train), settings.batch_size, torch.Generator().manual_seed(0)))
    n_sub_batches = len(_batches(len(subset), settings.batch_size, torch.Generator().manual_seed(0)))
    total_steps = settings.epochs * (n_full_batches if settings.budget == "steps" else n_sub_batches)
    total_epochs = math.ceil(total_steps / n_sub_batches)  # passes over the (sub)set
    max_shift = x_train.shape[-1] // 8 if settings.augment == "shift" else 0

    with deterministic(device):
        torch.manual_seed(seed)
        kwargs = dict(model_kwargs or {})
        kwargs.setdefault("num_classes", data.num_classes)
        model = registry.create_model(model_name, img_size=data.img_size, **kwargs).to(device)
        fmt = torch.channels_last if settings.channels_last else torch.contiguous_format
        model = model.to(memory_format=fmt)
        model.train()
        opt = _optimizer(model, settings)
        bar = _progress_bar(total_steps, label or f"{model_name} seed {seed}", progress)
        step = 0
        epoch = 0
        loss_ema = float("nan")
        t0 = time.perf_counter()
        while step < total_steps:
            epoch += 1
            seen = hit = 0
            for idx in _batches(len(y_train), settings.batch_size, g):
                if step >= total_steps:
                    break
                xb = x_train[idx]
                if max_shift:
                    xb = random_shift(xb.float() / 255.0 if xb.dtype == torch.uint8 else xb, max_shift, g)
                xb = to_model_input(xb, data).to(device).contiguous(memory_format=fmt)
                yb = y_train[idx].to(device)
                for group in opt.param_groups:
                    group["lr"] = _lr_at(step, total_steps, settings.lr, settings.schedule)
                logits = model(xb)
                loss = F.cross_entropy(logits, yb, label_smoothing=settings.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                lv = float(loss.detach())
                loss_ema = lv if math.isnan(loss_ema) else 0.9 * loss_ema + 0.1 * lv
                seen += len(yb)
                hit += int((logits.detach().argmax(1) == yb).sum())
                if bar is not None:
                    bar.update(1)
                    acc = 100.0 * hit / seen
                    bar.set_postfix_str(f"epoch {epoch}/{total_epochs} loss {loss_ema:.3f} train acc {acc:.1f}%", refresh=False)
        if device == "cuda":
            torch.cuda.synchronize()
        train_time_s = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        top1, top5 = evaluate(model, data, device)
    return SeedResult(seed, top1, top5, train_time_s, loss_ema, len(subset), total_steps)


def _progress_bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    # In a worker the stream is a log file: refresh rarely there so the log stays short.
    interval = 0.5 if sys.stderr.isatty() else 15.0
    return tqdm(total=total, desc=desc, unit="step", leave=False, file=sys.stderr, dynamic_ncols=True, mininterval=interval)


def train_seeds(
    model_name: str,
    data: TrainData,
    settings: TrainSettings,
    seeds: list[int],
    fraction: float = 1.0,
    model_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
    label: str = "",
) -> ScratchResult:
    runs = []
    for i, seed in enumerate(seeds):
        tag = f"{label or model_name} seed {seed} ({i + 1}/{len(seeds)})"
        runs.append(train_once(model_name, data, settings, seed, fraction, model_kwargs, progress, tag))
    return ScratchResult(runs, len(data.test))
