"""Small measurement helpers shared by the claim experiments.

Conventions: one MAC = one multiply-add, ``gmacs`` = 1e9 MACs per image, forward only —
the project's convention (:mod:`bench.metrics.flops`, which does the counting for image
inputs: convolutions, matmuls and attention; element-wise ops are not counted). Counting
runs on the ``meta`` device, so full-size and giant models cost no memory. Latency comes from
:func:`bench.metrics.timing.measure_latency` with a short budget and is reported only, never
used by a verdict rule. "Peak live activation memory" is the largest total size of tensors
produced by operators and still referenced at the same moment (weights and the input are not
included); it is exact at the tensor level and deterministic, and also works on ``meta``.
"""

from __future__ import annotations

import copy
import math
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

MB = 1024 * 1024


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def flop_counts(model: nn.Module, x: torch.Tensor) -> tuple[float, dict[str, float]]:
    """(GMACs per image, GMACs per aten op) for one inference forward on ``x``'s shape.

    Square image inputs go through :func:`bench.metrics.flops.count_flops` on the meta
    device (it counts attention whichever SDPA kernel would run; plain FlopCounterMode
    misses the CPU flash-attention kernel). Other inputs (flattened vectors for a lone
    ``nn.Linear``) are counted by FlopCounterMode on the meta device.
    """
    if x.dim() == 4 and x.shape[-1] == x.shape[-2]:
        from bench.metrics.flops import count_flops

        rep = count_flops(model, img_size=int(x.shape[-1]), batch_size=1, in_chans=int(x.shape[1]), device="meta")
        return rep.gmacs, dict(rep.by_operator)
    meta_model = model if _device(model) == "meta" else copy.deepcopy(model).to("meta")
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        meta_model(torch.empty((1, *x.shape[1:]), device="meta"))
    per_op: dict[str, float] = {}
    for op, n in counter.get_flop_counts().get("Global", {}).items():
        per_op[str(op)] = per_op.get(str(op), 0.0) + n / 2e9
    return counter.get_total_flops() / 2e9, per_op


def _device(model: nn.Module) -> str:
    p = next(model.parameters(), None)
    return p.device.type if p is not None else "cpu"


def gmacs(model: nn.Module, x: torch.Tensor) -> float:
    return flop_counts(model, x)[0]


def attention_gmacs(per_op: dict[str, float]) -> float:
    """GMACs of the attention core (softmax(QK^T)V) from a per-op count.

    Fused kernels (``scaled_dot_product_*``) are attention by definition. Batched matmuls
    of two activations (``bmm``) are attention in every model this is applied to (timm
    ViT/Swin); linear layers run as ``addmm``/``mm`` and are not counted.
    """
    return sum(v for k, v in per_op.items() if "scaled_dot_product" in k or k.replace("::", ".").startswith("aten.bmm"))


def on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    """Build a model on the meta device: shapes only, no memory for weights."""
    from bench.registry import build_on_meta

    return build_on_meta(build).eval()


def latency_ms(model: nn.Module, x: torch.Tensor, min_samples: int = 3, max_time_s: float = 1.0) -> float:
    """Median CPU latency of one inference call (short budget; reported, never judged)."""
    from bench.metrics.timing import TimingConfig, measure_latency

    cfg = TimingConfig(
        warmup_min_iters=1,
        warmup_max_s=0.5,
        min_samples=min_samples,
        max_samples=max(min_samples, 20),
        max_time_s=max_time_s,
        target_rel_iqr=0.05,
        min_time_s=0.0,
        percentiles=(),  # a quick median only: no tail is reported, so none needs support
    )
    with torch.inference_mode():
        res = measure_latency(lambda: model(x), "cpu", cfg)
    return float(np.median(res.samples_ms))


def paired_latency_ms(models: Sequence[nn.Module], x: torch.Tensor, rounds: int = 10) -> list[float]:
    """Fastest of ``rounds`` single calls per model, the models taking turns call by call.

    For ratios between models on a shared machine: taking turns exposes every model to
    the same background load, and the minimum is the sample least disturbed by it.
    Reported only; the one verdict that uses a latency ratio (claim 7) uses this.
    """
    import time

    best = [float("inf")] * len(models)
    with torch.inference_mode():
        for m in models:  # warm-up: allocator, kernel selection
            m(x)
        for _ in range(rounds):
            for i, m in enumerate(models):
                t0 = time.perf_counter_ns()
                m(x)
                best[i] = min(best[i], (time.perf_counter_ns() - t0) / 1e6)
    return best


class _LiveTensors(TorchDispatchMode):
    """Tracks bytes of operator outputs that are still referenced; keeps the peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._refs: dict[int, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = {t.untyped_storage()._cdata for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._track(t, inputs)
        return out

    def _track(self, t: torch.Tensor, inputs: set[int]) -> None:
        storage = t.untyped_storage()
        key, nbytes = storage._cdata, storage.nbytes()
        if key in inputs and key not in self._refs:
            return  # a view or in-place result of a weight or the input: not an activation
        if key not in self._refs:  # views and in-place results share a storage: count it once
            self._refs[key] = 0
            self.live += nbytes
            self.peak = max(self.peak, self.live)
        self._refs[key] += 1
        weakref.finalize(t, self._release, key, nbytes)

    def _release(self, key: int, nbytes: int) -> None:
        self._refs[key] -= 1
        if self._refs[key] == 0:
            del self._refs[key]
            self.live -= nbytes


def peak_live_mb(model: nn.Module, x: torch.Tensor) -> float:
    """Peak live activation memory (MiB) of one inference forward (see module docstring)."""
    mode = _LiveTensors()
    with torch.no_grad(), mode:
        out = model(x)
        del out
    return mode.peak / MB


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Exponent b of y ~ x^b between the last two points."""
    return math.log(ys[-1] / ys[-2]) / math.log(xs[-1] / xs[-2])


# ---------------------------------------------------------------- receptive fields
@dataclass(frozen=True)
class RFLayer:
    name: str
    kind: str  # "conv" or "pool"
    rf: int  # theoretical receptive field (pixels, one side)
    jump: int  # input pixels between neighbouring outputs


def _first(v: Any) -> int:
    return int(v[0] if isinstance(v, (tuple, list)) else v)


def theoretical_rf(model: nn.Module, img_size: int, in_chans: int = 3, skip: tuple[str, ...] = ("downsample",)) -> list[RFLayer]:
    """Receptive field after every conv/pool layer along the main path, in execution order.

    Recurrence (one spatial axis): ``rf += (k - 1) * dilation * jump``; ``jump *= stride``.
    Layers whose qualified name contains a ``skip`` token (ResNet's 1×1 projection shortcuts)
    lie on a parallel path and are left out: the widest path through a residual net is the
    main path. Only the execution order is observed, so a model built on ``meta`` costs nothing.
    """
    order: list[tuple[str, nn.Module]] = []
    hooks = []
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)) and not any(s in name for s in skip):
            hooks.append(mod.register_forward_hook(lambda m, i, o, name=name: order.append((name, m))))
    device = next(model.parameters()).device  # build the model on "meta" to make this free
    try:
        with torch.no_grad():
            model(torch.zeros(1, in_chans, img_size, img_size, device=device))
    finally:
        for h in hooks:
            h.remove()
    rf, jump, out = 1, 1, []
    for name, m in order:
        k = _first(m.kernel_size)
        d = _first(getattr(m, "dilation", 1))
        s = _first(m.stride)
        rf += (k - 1) * d * jump
        jump *= s
        out.append(RFLayer(name, "conv" if isinstance(m, nn.Conv2d) else "pool", rf, jump))
    return out


def input_grad_map(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> np.ndarray:
    """Mean |d out / d input| over batch and channels, as an H×W map.

    ``forward`` maps the input batch to one scalar per sample (e.g. the centre unit of a
    feature map); samples are independent in eval mode, so one backward of the sum gives each
    sample's gradient.
    """
    x = x.clone().requires_grad_(True)
    forward(x).sum().backward()
    return x.grad.abs().mean(dim=(0, 1)).numpy()


def centred_square_side(grad_map: np.ndarray, mass: float = 0.95) -> int:
    """Side of the smallest square centred on the map that holds ``mass`` of its total."""
    h, w = grad_map.shape
    total = grad_map.sum()
    cy, cx = h // 2, w // 2
    for r in range(max(h, w)):
        win = grad_map[max(0, cy - r) : cy + r + 1, max(0, cx - r) : cx + r + 1]
        if win.sum() >= mass * total:
            return min(2 * r + 1, max(h, w))
    return max(h, w)


def mass_area_fraction(grad_map: np.ndarray, mass: float = 0.9) -> float:
    """Smallest fraction of pixels (largest first) holding ``mass`` of the total gradient."""
    v = np.sort(grad_map.ravel())[::-1]
    c = np.cumsum(v)
    n = int(np.searchsorted(c, mass * c[-1])) + 1
    return n / v.size
