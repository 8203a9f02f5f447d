"""Deployed runtimes: the model exported to ONNX and run by ONNX Runtime or OpenVINO.

``prepare_deployed(model, example, cell) -> (step, info)`` is what ``bench.runtimes.prepare``
calls for cells whose runtime is ``onnxruntime`` or ``openvino``. Everything expensive happens
here, outside the timed region: export to a temporary folder (removed once the runtime has
loaded the model), session creation/compilation, and building the input feed. ``step()`` runs
one inference and returns the logits as a ``torch.Tensor`` so the worker's parity check against
fp32 eager treats every runtime alike.

Scope: fp32 on CPU. Other precisions and devices raise :class:`bench.errors.Unsupported`
(recorded as ``skipped`` with the reason); so does a runtime package that is not installed,
with the ``pip install 'archbench[...]'`` line that installs it. A model that cannot be exported
or loaded raises an ordinary exception (recorded as ``failed`` with the reason).

Threads: the cell's ``threads``; when that is unset (all cores), the count eager PyTorch uses
in the same worker (``torch.get_num_threads()``), so both sides of a comparison get the same
cores.

``info`` columns: ``onnx_opset``, ``onnx_exporter``, ``export_s``, ``onnx_file_mb``
(``onnx_export_note`` when the fallback exporter was used), ``execution_provider``,
``runtime_version``, ``runtime_threads``, ``graph_opt_level``, ``runtime_config``,
``runtime_load_s``. See docs/runtimes.md.
"""

from __future__ import annotations

import tempfile
from typing import Any, Callable

import torch

DEPLOYED = ("onnxruntime", "openvino")


def resolve_threads(threads: int | None) -> int:
    """The intra-op thread count for a cell: its setting, else what eager PyTorch uses here."""
    return int(threads) if threads else torch.get_num_threads()


def _backend(runtime: str):
    if runtime == "onnxruntime":
        from bench.deploy import onnxruntime_rt as rt
    elif runtime == "openvino":
        from bench.deploy import openvino_rt as rt
    else:
        raise ValueError(f"runtime {runtime!r} is not a deployed runtime (allowed: {', '.join(DEPLOYED)})")
    return rt


def check_cell(runtime: str, device: str, precision: str):
    """Raise Unsupported unless this runtime can run this cell here; return the backend module."""
    from bench.errors import Unsupported

    rt = _backend(runtime)
    rt.require()
    rt.check_device(device)
    if precision != "fp32":
        raise Unsupported(f"{runtime} cells run the exported fp32 graph only; {precision} is not measured "
                          "(quantised/reduced-precision deployment is a separate conversion)")
    return rt


def prepare_deployed(model: torch.nn.Module, example: torch.Tensor, cell: Any) -> tuple[Callable[[], torch.Tensor], dict[str, Any]]:
    """Export ``model`` to ONNX and load it in ``cell.runtime``; return ``(step, info)``.

    ``cell`` needs ``runtime``, ``device``, ``precision`` and ``threads``. Checks that cost
    nothing (package installed, device, precision) run before the export.
    """
    from bench.deploy.onnx_export import export_onnx

    rt = check_cell(cell.runtime, cell.device, cell.precision)
    threads = resolve_threads(getattr(cell, "threads", None))
    # cell.options["onnx_exporters"] may pin the exporter order, e.g. ["torchscript"]
    exporters = (getattr(cell, "options", None) or {}).get("onnx_exporters", ("dynamo", "torchscript"))
    exporters = (exporters,) if isinstance(exporters, str) else tuple(exporters)
    with tempfile.TemporaryDirectory(prefix="archbench-onnx-") as tmp:
        export = export_onnx(model, example, tmp, exporters=exporters)
        step, rt_info = rt.build(export.path, example, threads)
    info = export.as_row()
    info.update(rt_info)
    return step, info
