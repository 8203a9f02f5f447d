"""From a cell to its timed step: the one path the worker and the pytest-benchmark front end share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from bench.errors import Unsupported
from bench.runtimes.backends import backend_for
from bench.runtimes.base import Step
from bench.runtimes.precision import check_precision

if TYPE_CHECKING:
    from bench.suite import Cell


def check_cell(cell: Cell) -> None:
    """What every runtime needs, checked before any model is built: the runtime has a backend,
    the device exists here and runs the cell's precision natively. Raises Unsupported. (The
    backend's own checks run in :func:`prepare`, once the model exists, so a skipped deployed
    cell still records the model's params and GMACs.)"""
    backend_for(cell.runtime)
    if cell.device == "cuda" and not torch.cuda.is_available():
        raise Unsupported("cuda requested but no CUDA device is available on this machine")
    check_precision(cell.device, cell.precision)


def load_model(cell: Cell) -> torch.nn.Module:
    """The cell's model in eval mode, on CPU, with the weights every process gets (seed 0)."""
    from bench import registry

    torch.manual_seed(0)
    return registry.create_model(cell.registry_name, img_size=cell.img_size, **cell.model_kwargs)


def prepare(model: torch.nn.Module, example: torch.Tensor, cell: Cell) -> tuple[Step, dict[str, Any]]:
    """The cell's runtime backend: its checks, then its ``(step, info)`` for ``model`` on ``example``."""
    backend = backend_for(cell.runtime)
    backend.check(cell)
    step, info = backend.build(model, example, cell)
    return step, dict(info)


@dataclass
class BuiltCell:
    model: torch.nn.Module  # on the cell's device; the fp32 eager reference for parity
    example: torch.Tensor  # the input as made (contiguous); the step may hold a converted copy
    step: Step  # one timed model call
    info: dict[str, Any]  # row columns from the preparation (compile_s, export_s, runtime_*, ...)


def build_cell(cell: Cell, model: torch.nn.Module | None = None) -> BuiltCell:
    """Everything before the first timed call: checks, the model (built by :func:`load_model`
    unless given) moved to the cell's device, a random input of the cell's shape made there, and
    the runtime's step. Raises Unsupported for a cell that cannot run here."""
    check_cell(cell)
    if model is None:
        model = load_model(cell)
    device = torch.device(cell.device)
    model = model.to(device)
    example = torch.randn(cell.batch_size, 3, cell.img_size, cell.img_size, device=device)
    step, info = prepare(model, example, cell)
    return BuiltCell(model, example, step, info)
