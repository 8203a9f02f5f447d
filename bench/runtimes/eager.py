"""PyTorch in the worker's process: the ``eager``, ``channels_last`` and ``compile`` runtimes.

- ``eager``: the module as built, called under ``torch.inference_mode()``.
- ``channels_last``: weights and input converted to NHWC memory format.
- ``compile``: ``torch.compile`` with its default backend (inductor) and mode. Its first call
  (tracing and code generation) is timed apart, as ``compile_s``, and kept out of the
  steady-state latency.

Every variant runs under the cell's precision (:mod:`bench.runtimes.precision`: autocast for
bf16/fp16, refused where the device has no native support).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from bench.runtimes.base import Step
from bench.runtimes.precision import autocast_context, check_precision

if TYPE_CHECKING:
    from bench.suite import Cell

EAGER_VARIANTS = ("eager", "channels_last", "compile")


@dataclass(frozen=True)
class EagerBackend:
    """One PyTorch variant; ``name`` is one of :data:`EAGER_VARIANTS`."""

    name: str

    def check(self, cell: Cell) -> None:
        check_precision(cell.device, cell.precision)

    def build(self, model: torch.nn.Module, example: torch.Tensor, cell: Cell) -> tuple[Step, dict[str, Any]]:
        """The step for this variant. ``model`` may be converted in place (channels_last); it stays
        usable as the fp32 eager reference once converted back to contiguous format
        (:func:`bench.runtimes.parity.reference_output`)."""
        device, precision = cell.device, cell.precision
        if self.name == "channels_last":
            model = model.to(memory_format=torch.channels_last)
            example = example.contiguous(memory_format=torch.channels_last)
        elif self.name == "compile":
            model = torch.compile(model)

        def step() -> Any:
            with torch.inference_mode(), autocast_context(device, precision):
                return model(example)

        if self.name == "compile":
            return step, {"compile_s": _first_compiled_call(step, device)}
        return step, {}


def _first_compiled_call(step: Step, device: str) -> float:
    """Seconds of the first call, which traces and generates code (torch.compile is lazy).

    It runs through ``step`` itself, so under the same inference_mode/autocast state as the
    timed calls; otherwise those would recompile.
    """
    t0 = time.perf_counter()
    try:
        step()
        if device == "cuda":
            torch.cuda.synchronize()
    except Exception as err:
        if "out of memory" in str(err).lower() or isinstance(err, MemoryError):
            raise
        raise RuntimeError(f"torch.compile failed for this model: {type(err).__name__}: {str(err)[:800]}") from err
    return round(time.perf_counter() - t0, 3)
