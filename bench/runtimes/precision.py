"""The precision axis: which precisions a device runs natively, and autocast for the rest.

Precisions other than fp32 use ``torch.autocast`` (weights stay fp32; eligible ops run in the
lower precision), the way mixed-precision inference is normally deployed from PyTorch. A
precision the device cannot run natively raises :class:`Unsupported`: an emulated number would
mislead.
"""

from __future__ import annotations

import contextlib

import torch

from bench.env import cpu_flags
from bench.errors import Unsupported


def cpu_has_native_bf16() -> bool:
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def check_precision(device: str, precision: str) -> None:
    if precision == "fp32":
        return
    if device == "cpu" and precision == "fp16":
        raise Unsupported("fp16 on CPU is not measured: PyTorch emulates it there, so the number would mislead")
    if device == "cpu" and precision == "bf16" and not cpu_has_native_bf16():
        raise Unsupported("bf16 on this CPU has no native support (no avx512_bf16/amx_bf16)")
    if device == "cuda" and precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise Unsupported("this GPU does not support bf16")


def autocast_context(device: str, precision: str) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device, dtype=dtype)
