"""Parity: every variant other than fp32 eager is compared with fp32 eager on the same input.

The error is measured relative to the largest reference logit, and the cell passes when
``max|out - ref| <= PARITY_TOL[precision] * max|ref|`` (:data:`PARITY_RULE`, stored in run.json).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

# Tolerance on max|out - ref| / max|ref| against fp32 eager, by the variant's precision.
# fp32 variants only reorder floating-point work (NHWC kernels, fused code), so they must agree
# to ~1e-6 in practice; 1e-3 leaves room without hiding a real bug. fp16 keeps 11 significant
# bits and bf16 8, so logits drift by about 0.1% and 0.5-1.5% respectively on the test and
# torchvision models (measured); the bounds are several times that.
PARITY_TOL = {"fp32": 1e-3, "fp16": 1e-2, "bf16": 5e-2}
PARITY_RULE = f"max|out - ref| <= tol * max|ref|, ref = fp32 eager on the same input and weights; tol by precision: {PARITY_TOL}"


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
        row: dict[str, Any] = {
            "parity_max_abs_err": self.max_abs_err,
            "parity_max_rel_err": self.max_rel_err,
            "parity_top1_agree": self.top1_agree,
            "parity_tol": self.tol,
        }
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
        return Parity(
            math.inf, math.inf, float((out.argmax(1) == ref.argmax(1)).float().mean()), tol, False, "output has NaN or inf values"
        )
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
