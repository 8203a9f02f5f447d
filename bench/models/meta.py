"""Parameters and GMACs of giant models without allocating their weights.

Everything here builds models on PyTorch's ``meta`` device: tensors carry shape and
dtype but no storage, so a 1-billion-parameter model costs a few MB of Python objects
and about a second to build, and the claim "about 1 B parameters" can be checked on a
laptop. Counts are exact: parameter shapes and FLOP formulas are pure shape arithmetic,
so the meta device gives the same numbers as real weights. Latency and memory cannot be
measured this way; those need a real device with enough memory.
"""

from __future__ import annotations

from typing import Any

from bench.registry import build_on_meta  # re-exported: the one way to build on meta


def count_params_meta(name: str, img_size: int | None = None, **kwargs: Any) -> int:
    """Number of parameters of registry model ``name``, counted on the meta device.

    Shared (tied) parameters are counted once. ``img_size`` matters for models whose
    position embeddings depend on the input size (ViTs: DINOv2 at 518 px has ~1.7 M more
    parameters than at 224 px for ViT-g/14).
    """
    model = build_on_meta(name, img_size=img_size, **kwargs)
    return sum(p.numel() for p in model.parameters())


def gmacs_meta(name: str, img_size: int | None = None, **kwargs: Any) -> float:
    """Forward GMACs per image of registry model ``name`` at ``img_size`` (default: the model's), on meta."""
    from bench.metrics.flops import count_flops
    from bench.registry import get_spec

    size = int(img_size or get_spec(name).default_img_size)
    model = build_on_meta(name, img_size=size, **kwargs)
    return count_flops(model, size, device="meta").gmacs
