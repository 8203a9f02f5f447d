"""How a model is executed for a cell: the runtime axis and the precision axis.

``prepare(model, example, cell)`` returns ``(step, info)``: a zero-argument ``step`` that runs
one timed model call, and a dict of facts about the preparation that become row columns (for
``compile``: ``compile_s``, the first call's wall time, which includes tracing and code
generation and is therefore kept out of the steady-state latency). Everything else
(conversion, compilation, autocast set-up) happens before, outside the timed region. A setting
the device cannot honour raises :class:`Unsupported`, which the worker records as a
``skipped`` cell with that reason rather than a misleading number.

Runtimes:

- ``eager``: the module as built, called under ``torch.inference_mode()``.
- ``channels_last``: weights and input converted to NHWC memory format.
- ``compile``: ``torch.compile`` with its default backend (inductor) and mode.
- ``onnxruntime`` / ``openvino``: exported and run by ``bench.deploy.prepare_deployed``
  (imported only for those cells), so they share the timing and parity path.

Precisions other than fp32 use ``torch.autocast`` (weights stay fp32; eligible ops run in the
lower precision), the way mixed-precision inference is normally deployed from PyTorch.

Parity: every variant other than fp32 eager is compared with fp32 eager on the same input
(:func:`parity`). The error is measured relative to the largest reference logit, and the cell
passes when ``max|out - ref| <= PARITY_TOL[precision] * max|ref|``.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from bench.axes import DEPLOYED_RUNTIMES
from bench.env import cpu_flags
from bench.errors import Unsupported  # noqa: F401  (part of this module's API)

# Tolerance on max|out - ref| / max|ref| against fp32 eager, by the variant's precision.
# fp32 variants only reorder floating-point work (NHWC kernels, fused code), so they must agree
# to ~1e-6 in practice; 1e-3 leaves room without hiding a real bug. fp16 keeps 11 significant
# bits and bf16 8, so logits drift by about 0.1% and 0.5-1.5% respectively on the test and
# torchvision models (measured); the bounds are several times that.
PARITY_TOL = {"fp32": 1e-3, "fp16": 1e-2, "bf16": 5e-2}
PARITY_RULE = (
    "max|out - ref| <= tol * max|ref|, ref = fp32 eager on the same input and weights; "
    f"tol by precision: {PARITY_TOL}"
)



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


def prepare(model: torch.nn.Module, example: torch.Tensor, cell: Any) -> tuple[Callable[[], Any], dict[str, Any]]:
    """Make the timed ``step`` for ``cell`` (which needs ``device``, ``precision``, ``runtime``).

    ``model`` may be converted in place (channels_last); it stays usable as the fp32 eager
    reference once converted back to contiguous format (see :func:`reference_output`).
    """
    device, precision, runtime = cell.device, cell.precision, cell.runtime
    check_precision(device, precision)
    if runtime in DEPLOYED_RUNTIMES:
        try:
            from bench.deploy import prepare_deployed
        except ImportError as err:
            raise Unsupported(f"runtime {runtime!r} is not available: {err}") from None
        deployed, deployed_info = prepare_deployed(model, example, cell)
        return deployed, dict(deployed_info or {})

    info: dict[str, Any] = {}
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

    if runtime == "compile":
        # torch.compile is lazy: the first call traces and generates code. It is timed here,
        # apart from the steady state, and must run under the same inference_mode/autocast
        # state as the timed calls or they would recompile.
        t0 = time.perf_counter()
        try:
            step()
            if device == "cuda":
                torch.cuda.synchronize()
        except Exception as err:
            if "out of memory" in str(err).lower() or isinstance(err, MemoryError):
                raise
            raise RuntimeError(f"torch.compile failed for this model: {type(err).__name__}: {str(err)[:800]}") from err
        info["compile_s"] = round(time.perf_counter() - t0, 3)
    return step, info


def reference_output(model: torch.nn.Module, example: torch.Tensor) -> torch.Tensor:
    """fp32 eager output of ``model`` on ``example`` (contiguous memory format, no autocast)."""
    model = model.to(memory_format=torch.contiguous_format)
    with torch.inference_mode():
        out = model(example.contiguous())
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"model output is a {type(out).__name__}, not a tensor")
    return out.float()


def is_reference(precision: str, runtime: str) -> bool:
    return precision == "fp32" and runtime == "eager"


@dataclass
class Parity:
    max_abs_err: float
    max_rel_err: float  # max_abs_err / max|ref|
    top1_agree: float  # fraction of rows whose arg-max class matches the reference
    tol: float
    ok: bool
    note: str | None = None

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"parity_max_abs_err": self.max_abs_err, "parity_max_rel_err": self.max_rel_err,
               "parity_top1_agree": self.top1_agree, "parity_tol": self.tol}
        if self.note:
            row["parity_note"] = self.note
        return row


def parity(out: torch.Tensor, ref: torch.Tensor, precision: str) -> Parity:
    """Compare a variant's output with the fp32 eager reference (both on the same input)."""
    tol = PARITY_TOL[precision]
    out = out.detach().float().reshape(ref.shape[0], -1).cpu()
    ref = ref.detach().float().reshape(ref.shape[0], -1).cpu()
    if out.shape != ref.shape:
        return Parity(math.inf, math.inf, 0.0, tol, False, f"output shape {tuple(out.shape)} != reference {tuple(ref.shape)}")
    if not torch.isfinite(out).all():
        return Parity(math.inf, math.inf, float((out.argmax(1) == ref.argmax(1)).float().mean()), tol, False,
                      "output has NaN or inf values")
    abs_err = float((out - ref).abs().max())
    scale = float(ref.abs().max())
    note = None
    if scale == 0.0:
        rel_err = 0.0 if abs_err == 0.0 else math.inf
        note = "reference output is all zeros (e.g. a zero-initialised head): parity is uninformative"
    else:
        rel_err = abs_err / scale
    top1 = float((out.argmax(1) == ref.argmax(1)).float().mean())
    return Parity(abs_err, rel_err, top1, tol, rel_err <= tol, note)
