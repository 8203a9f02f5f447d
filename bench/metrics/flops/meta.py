"""The meta device: models and weights with shapes but no storage, for models too big to build.

Counting there is exact shape arithmetic, so meta and real tensors give the same numbers; only
``FlopCounterMode`` can run (the jit tracer behind fvcore needs real tensors).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.registry import build_on_meta  # the one way to build on meta; re-exported by the package

__all__ = ["build_on_meta", "create_model_on_meta", "meta_state"]


def create_model_on_meta(name: str, img_size: int | None = None, **kwargs: Any) -> nn.Module:
    """:func:`bench.registry.create_model` with every weight on the meta device."""
    return build_on_meta(name, img_size=img_size, **kwargs)


def meta_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Meta stand-ins for every parameter and buffer of ``model`` (for ``functional_call``),
    so a model with real weights is counted on meta without being touched."""
    return {
        k: torch.empty_like(v, device="meta").requires_grad_(v.requires_grad)
        for k, v in [*model.named_parameters(), *model.named_buffers()]
    }
