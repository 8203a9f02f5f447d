"""How a model is executed for a cell: the runtime axis and the precision axis.

``prepare(model, example, cell)`` returns a zero-argument ``step`` that runs one timed model
call; everything else (conversion, compilation, autocast set-up) happens before, outside the
timed region. A setting the device cannot honour raises :class:`Unsupported`, which the worker
records as a ``skipped`` cell with that reason rather than a misleading number.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import torch

from bench.env import cpu_flags


class Unsupported(Exception):
    """This cell's device/precision/runtime combination cannot run here (a reason, not a bug)."""


def check_precision(device: str, precision: str) -> None:
    if precision == "fp32":
        return
    if device == "cpu" and precision == "fp16":
        raise Unsupported("fp16 on CPU is not measured: PyTorch emulates it there, so the number would mislead")
    if device == "cpu" and precision == "bf16" and not (cpu_flags() & {"avx512_bf16", "amx_bf16"}):
        raise Unsupported("bf16 on this CPU has no native support (no avx512_bf16/amx_bf16)")
    if device == "cuda" and precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise Unsupported("this GPU does not support bf16")


def autocast_context(device: str, precision: str) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device, dtype=dtype)


def prepare(model: torch.nn.Module, example: torch.Tensor, device: str, precision: str, runtime: str) -> Callable[[], Any]:
    check_precision(device, precision)
    if runtime == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        example = example.contiguous(memory_format=torch.channels_last)
    elif runtime == "compile":
        model = torch.compile(model)
    elif runtime != "eager":
        raise Unsupported(f"runtime {runtime!r} is not available in this build of archbench")

    def step() -> Any:
        with torch.inference_mode(), autocast_context(device, precision):
            return model(example)

    return step
