"""The formulas plugged into each counter: fvcore's jit-trace handlers (which receive jit values)
and FlopCounterMode's extra formulas (which receive shapes and return FLOPs, 2 per MAC)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

import torch

from bench.metrics.flops.formulas import conv_macs, einsum_macs, grid_sample_macs, mha_macs, numel, sdpa_macs

# --------------------------------------------------------------------------- fvcore side


def _jit_shape(v) -> list[int] | None:
    return v.type().sizes() if v.isCompleteTensor() else None


def _jit_const(v):
    return v.toIValue()


def _fv(name: str, fn: Callable[[list, list], int]):
    def handle(inputs, outputs):
        return Counter({name: int(fn(inputs, outputs))})

    return handle


def _fv_matmul(a_index: int):
    # output elements × contracted size, where the contraction is over a's last dim
    def fn(inputs, outputs):
        a = _jit_shape(inputs[a_index])
        return numel(_jit_shape(outputs[0])) * int(a[-1])

    return fn


def _fv_addbmm(inputs, outputs):
    b1, b2 = _jit_shape(inputs[1]), _jit_shape(inputs[2])
    return numel(b1) * int(b2[-1])


def _fv_linear(inputs, outputs):
    return numel(_jit_shape(outputs[0])) * int(_jit_shape(inputs[1])[-1])


def _fv_conv(transposed_index: int | None, transposed: bool = False):
    def fn(inputs, outputs):
        t = bool(_jit_const(inputs[transposed_index])) if transposed_index is not None else transposed
        return conv_macs(_jit_shape(inputs[0]), _jit_shape(inputs[1]), _jit_shape(outputs[0]), t)

    return fn


def _fv_einsum(inputs, outputs):
    equation = _jit_const(inputs[0])
    shapes = [_jit_shape(v) for v in inputs[1].node().inputs()]
    return einsum_macs(equation, shapes)


def _fv_sdpa(inputs, outputs):
    return sdpa_macs(_jit_shape(inputs[0]), _jit_shape(inputs[1]), _jit_shape(inputs[2]))


def _fv_mha(inputs, outputs):
    return mha_macs(_jit_shape(inputs[0]), _jit_shape(inputs[1]), _jit_shape(inputs[5]))


def _fv_grid(dims: int, mode_index: int | None):
    def fn(inputs, outputs):
        mode = _jit_const(inputs[mode_index]) if mode_index is not None else 0
        return grid_sample_macs(_jit_shape(outputs[0]), mode, dims)

    return fn


_SDPA_KERNELS = (
    "scaled_dot_product_attention",
    "_scaled_dot_product_attention_math",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_fused_attention_overrideable",
)


def fvcore_handles() -> dict[str, Callable]:
    spec: dict[str, Callable[[list, list], int]] = {
        "aten::_convolution": _fv_conv(6),
        "aten::convolution": _fv_conv(6),
        "aten::conv1d": _fv_conv(None),
        "aten::conv2d": _fv_conv(None),
        "aten::conv3d": _fv_conv(None),
        "aten::conv_transpose1d": _fv_conv(None, True),
        "aten::conv_transpose2d": _fv_conv(None, True),
        "aten::conv_transpose3d": _fv_conv(None, True),
        "aten::linear": _fv_linear,
        "aten::mm": _fv_matmul(0),
        "aten::bmm": _fv_matmul(0),
        "aten::matmul": _fv_matmul(0),
        "aten::mv": _fv_matmul(0),
        "aten::dot": _fv_matmul(0),
        "aten::vdot": _fv_matmul(0),
        "aten::addmm": _fv_matmul(1),
        "aten::baddbmm": _fv_matmul(1),
        "aten::addmv": _fv_matmul(1),
        "aten::addbmm": _fv_addbmm,
        "aten::einsum": _fv_einsum,
        "aten::_native_multi_head_attention": _fv_mha,
        "aten::grid_sampler": _fv_grid(2, 2),
        "aten::grid_sampler_2d": _fv_grid(2, 2),
        "aten::grid_sampler_3d": _fv_grid(3, 2),
        "aten::cudnn_grid_sampler": _fv_grid(2, None),
    }
    spec.update({f"aten::{k}": _fv_sdpa for k in _SDPA_KERNELS})
    return {name: _fv(name, fn) for name, fn in spec.items()}


# --------------------------------------------------------------------------- FlopCounterMode side
# FlopCounterMode formulas return FLOPs (2 per MAC); they receive shapes for tensors.


def _fc_sdpa(q, k, v, *args, out_shape=None, **kwargs) -> int:
    return 2 * sdpa_macs(q, k, v)


def _fc_mha(query, key, value, embed_dim, num_head, qkv_weight, *args, out_shape=None, **kwargs) -> int:
    return 2 * mha_macs(query, key, qkv_weight)


def _fc_grid(dims: int, fixed_mode: int | None = None):
    def formula(inp, grid, *args, out_shape=None, **kwargs) -> int:
        mode = fixed_mode if fixed_mode is not None else (args[0] if args else kwargs.get("interpolation_mode", 0))
        return 2 * grid_sample_macs(out_shape, mode, dims)

    return formula


def _fc_matmul(a_index: int):
    def formula(*args, out_shape=None, **kwargs) -> int:
        return 2 * numel(out_shape) * int(args[a_index][-1])

    return formula


def check_mapping() -> dict[Any, Callable]:
    aten = torch.ops.aten
    mapping: dict[Any, Callable] = {
        aten._native_multi_head_attention: _fc_mha,
        aten.grid_sampler_2d: _fc_grid(2),
        aten.grid_sampler_3d: _fc_grid(3),
        aten.cudnn_grid_sampler: _fc_grid(2, fixed_mode=0),
        aten.mv: _fc_matmul(0),
        aten.dot: _fc_matmul(0),
        aten.vdot: _fc_matmul(0),
        aten.addmv: _fc_matmul(1),
    }
    if hasattr(aten, "_grid_sampler_2d_cpu_fallback"):
        mapping[aten._grid_sampler_2d_cpu_fallback] = _fc_grid(2)
    from torch.utils.flop_counter import flop_registry

    for name in _SDPA_KERNELS[1:]:
        op = getattr(aten, name, None)
        if op is not None and op not in flop_registry and name != "_scaled_dot_product_attention_math":
            mapping[op] = _fc_sdpa  # the math kernel decomposes into counted bmm/matmul
    return mapping
