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
``runtime_load_s``; ``onnx_export_reused`` when the run's export cache (``options["export_cache"]``,
set by the runner) already held this model's graph for this input shape. See docs/runtimes.md.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from bench.axes import DEPLOYED_RUNTIMES

DEPLOYED = DEPLOYED_RUNTIMES


def resolve_threads(threads: int | None) -> int:
    """The intra-op thread count for a cell: its setting, else what eager PyTorch uses here."""
    return int(threads) if threads else torch.get_num_threads()


def _backend(runtime: str):
    if runtime == "onnxruntime":
        from bench.deploy import onnxruntime_rt as rt
    elif runtime == "openvino":
        from bench.deploy import openvino_rt as rt  # type: ignore[no-redef]  # either backend module
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
    cache = (getattr(cell, "options", None) or {}).get("export_cache")
    if cache:
        export, reused = cached_export(model, example, cell, Path(cache), exporters)
        step, rt_info = rt.build(export.path, example, threads)
        info = {**export.as_row(), "onnx_export_reused": reused}
    else:
        with tempfile.TemporaryDirectory(prefix="archbench-onnx-") as tmp:
            export = export_onnx(model, example, Path(tmp), exporters=exporters)
            step, rt_info = rt.build(export.path, example, threads)
        info = export.as_row()
    info.update(rt_info)
    return step, info


def export_key(cell: Any, exporters: tuple[str, ...]) -> str:
    """What makes two exports the same graph with the same weights: the model and its kwargs
    (weights come from torch.manual_seed(0) in every worker), the input shape, the exporter
    order, the opset and the torch version. Threads and rounds are not part of it."""
    from bench.deploy.onnx_export import ONNX_OPSET

    blob = json.dumps([cell.registry_name, cell.model_kwargs, cell.batch_size, cell.img_size, list(exporters),
                       ONNX_OPSET, torch.__version__], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached_export(model: torch.nn.Module, example: torch.Tensor, cell: Any, cache: Path,
                  exporters: tuple[str, ...]) -> tuple[Any, bool]:
    """The export for this cell's model and shape from ``cache``, exporting (once) on a miss.

    An entry is a folder with ``model.onnx`` (+ external data) and ``export.json``; it is
    written under a temporary name and renamed, so a concurrent or killed worker never leaves
    half of one. Returns ``(ExportResult, reused)``; a reused entry keeps the original
    ``export_s``, so the row still says what an export costs.
    """
    from bench.deploy.onnx_export import ExportResult, export_onnx

    folder = cache / export_key(cell, exporters)
    meta = folder / "export.json"
    if meta.is_file():
        try:
            d = json.loads(meta.read_text())
            return ExportResult(folder / "model.onnx", d["opset"], d["exporter"], d["export_s"], d["file_mb"],
                                d.get("note")), True
        except (OSError, ValueError, KeyError):
            pass  # a damaged entry is exported again
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=cache))
    try:
        export = export_onnx(model, example, tmp, exporters=exporters)
        (tmp / "export.json").write_text(json.dumps({"opset": export.opset, "exporter": export.exporter,
                                                     "export_s": export.export_s, "file_mb": export.file_mb,
                                                     "note": export.note}))
        try:
            tmp.rename(folder)
        except OSError:  # another worker finished the same export first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
            return cached_export(model, example, cell, cache, exporters)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    export.path = folder / "model.onnx"
    return export, False
