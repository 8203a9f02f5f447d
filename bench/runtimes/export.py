"""The ONNX export every deployed runtime starts from, its per-run cache, and the backend base
they share (:class:`ExportedBackend`, subclassed by ``onnxruntime`` and ``openvino``).

A deployed cell (see docs/runtimes.md): the cheap checks first (runtime package installed,
``cpu``, ``fp32``; else :class:`bench.errors.Unsupported`, recorded as ``skipped`` with the
``pip install 'archbench[...]'`` line or the reason), then the export (into the run's cache,
``cell.options["export_cache"]`` set by the runner, or a temporary folder removed once the
runtime has loaded the model), then the runtime's session, all outside the timed region.
``step()`` runs one inference and returns the logits as a ``torch.Tensor``, so the worker's
parity check against fp32 eager treats every runtime alike. A model that cannot be exported or
loaded raises an ordinary exception (recorded as ``failed`` with the reason).

Threads: the cell's ``threads``; when that is unset (all cores), the count eager PyTorch uses
in the same worker (``torch.get_num_threads()``), so both sides of a comparison get the same
cores.

``info`` columns: ``onnx_opset``, ``onnx_exporter``, ``export_s``, ``onnx_file_mb``
(``onnx_export_note`` when the fallback exporter was used), ``onnx_export_reused`` (cached
cells), and the runtime's ``execution_provider``, ``runtime_version``, ``runtime_threads``,
``graph_opt_level``, ``runtime_config``, ``runtime_load_s``.

Export conventions (recorded in the row as ``onnx_*`` / ``export_s`` columns):

- Opset :data:`ONNX_OPSET` (18) for every model and both exporters, so rows compare the same
  operator set. 18 is the lowest opset the torch.export-based exporter targets natively, and
  ONNX Runtime (>= 1.14) and OpenVINO (>= 2023.0) both run it.
- Exporter: ``torch.onnx.export(..., dynamo=True)`` (torch.export + ONNX Script translation),
  the default and maintained path in torch 2.14; it handled every model we tried, including
  torchvision's ViT whose ``nn.MultiheadAttention`` fast path the TorchScript exporter cannot
  translate under ``no_grad``. If it fails, the deprecated TorchScript exporter
  (``dynamo=False``) is tried once and the first failure is kept in ``onnx_export_note``.
- Static shapes: the exported graph has exactly the cell's batch size and image size (no dynamic
  axes), which is what a deployed model for one input shape looks like and lets the runtime
  plan memory and fuse for that shape.
- Weights inside the ``.onnx`` file unless they exceed :data:`EXTERNAL_DATA_BYTES` (protobuf's
  2 GiB limit), then beside it; ``onnx_file_mb`` counts both.
- Export runs in eval mode, on CPU, and never changes the model's parameters or buffers.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from bench.errors import Unsupported
from bench.runtimes.base import Step

if TYPE_CHECKING:
    from bench.suite import Cell

ONNX_OPSET = 18
EXTERNAL_DATA_BYTES = 1_800_000_000  # below protobuf's 2 GiB message limit, with headroom
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
MB = 1024 * 1024
EXTRA_HINT = "pip install 'archbench[onnx]'"


class ExportError(RuntimeError):
    """Neither exporter could turn this model into ONNX (a fault of the model, recorded as failed)."""


@dataclass
class ExportResult:
    path: Path
    opset: int
    exporter: str  # "dynamo" (torch.export-based) or "torchscript" (legacy)
    export_s: float
    file_mb: float  # the .onnx file plus any external-data files written beside it
    note: str | None = None  # why the first exporter was not used, when it was not

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "onnx_opset": self.opset,
            "onnx_exporter": self.exporter,
            "export_s": round(self.export_s, 3),
            "onnx_file_mb": round(self.file_mb, 3),
        }
        if self.note:
            row["onnx_export_note"] = self.note
        return row


def _param_bytes(model: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))


def _dir_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / MB


def _export_dynamo(model: torch.nn.Module, example: torch.Tensor, path: Path, external: bool) -> None:
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter translates through ONNX Script)
    except ImportError as err:
        raise ImportError(f"the torch.export-based ONNX exporter needs onnxscript ({EXTRA_HINT})") from err
    with torch.no_grad():
        prog = torch.onnx.export(
            model,
            (example,),
            None,
            dynamo=True,
            opset_version=ONNX_OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            verbose=False,
            optimize=True,
        )
    if prog is None:
        raise ExportError("torch.onnx.export(dynamo=True) returned no program")
    prog.save(str(path), external_data=external)


def _export_torchscript(model: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    # Deliberately not under no_grad: with grad disabled nn.MultiheadAttention takes a fused
    # fast path (aten::_native_multi_head_attention) that this exporter cannot translate.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            do_constant_folding=True,
        )


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _short(err: BaseException, limit: int = 500) -> str:
    """One line saying why an exporter failed: the cause, not the exporter's how-to-report advice."""
    text = _ANSI.sub("", str(err))
    head = text.strip().splitlines()[0] if text.strip() else ""
    if "## Exception summary" in text:
        # The torch.export-based exporter wraps the cause in a page of advice; keep its first
        # line (which stage failed) and the summary of the underlying exception.
        summary = text.split("## Exception summary", 1)[1].strip().split("\n\n")[0]
        head = f"{head.split('. ')[0]}: {summary}"
    text = " ".join(head.split())
    return f"{type(err).__name__}: {text[:limit]}"


def export_onnx(
    model: torch.nn.Module, example: torch.Tensor, folder: Path, exporters: tuple[str, ...] = ("dynamo", "torchscript")
) -> ExportResult:
    """Write ``model`` (called on ``example``) to ``folder/model.onnx``; raise ExportError on failure.

    ``exporters`` is the order to try; the first that succeeds is used. Out-of-memory errors are
    re-raised as they are, so the worker records them as ``oom`` rather than an export failure.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    if example.device.type != "cpu":
        raise ExportError("ONNX export runs on CPU tensors; got an input on " + example.device.type)
    model = model.eval()
    external = _param_bytes(model) > EXTERNAL_DATA_BYTES
    failures: list[str] = []
    for exporter in exporters:
        for p in folder.iterdir():  # a failed attempt may leave partial files behind
            if p.is_file():
                p.unlink()
        t0 = time.perf_counter()
        try:
            if exporter == "dynamo":
                _export_dynamo(model, example, path, external)
            elif exporter == "torchscript":
                _export_torchscript(model, example, path)
            else:
                raise ValueError(f"unknown ONNX exporter {exporter!r} (allowed: dynamo, torchscript)")
        except MemoryError:
            raise
        except Exception as err:
            if "out of memory" in str(err).lower():
                raise
            failures.append(f"{exporter} exporter: {_short(err)}")
            continue
        elapsed = time.perf_counter() - t0
        if not path.is_file():
            failures.append(f"{exporter} exporter: wrote no file")
            continue
        note = "; ".join(failures) if failures else None
        return ExportResult(path, ONNX_OPSET, exporter, elapsed, _dir_mb(folder), note)
    raise ExportError(f"ONNX export failed (opset {ONNX_OPSET}): " + " | ".join(failures))


# --------------------------------------------------------------------------- the run's export cache


def export_key(cell: Cell, exporters: tuple[str, ...]) -> str:
    """What makes two exports the same graph with the same weights: the model and its kwargs
    (weights come from torch.manual_seed(0) in every worker), the input shape, the exporter
    order, the opset and the torch version. Threads and rounds are not part of it."""
    blob = json.dumps(
        [cell.registry_name, cell.model_kwargs, cell.batch_size, cell.img_size, list(exporters), ONNX_OPSET, torch.__version__],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached_export(
    model: torch.nn.Module, example: torch.Tensor, cell: Cell, cache: Path, exporters: tuple[str, ...]
) -> tuple[ExportResult, bool]:
    """The export for this cell's model and shape from ``cache``, exporting (once) on a miss.

    An entry is a folder with ``model.onnx`` (+ external data) and ``export.json``; it is
    written under a temporary name and renamed, so a concurrent or killed worker never leaves
    half of one. Returns ``(ExportResult, reused)``; a reused entry keeps the original
    ``export_s``, so the row still says what an export costs.
    """
    folder = cache / export_key(cell, exporters)
    meta = folder / "export.json"
    if meta.is_file():
        try:
            d = json.loads(meta.read_text())
            return ExportResult(
                folder / "model.onnx", d["opset"], d["exporter"], d["export_s"], d["file_mb"], d.get("note")
            ), True
        except (OSError, ValueError, KeyError):
            pass  # a damaged entry is exported again
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=cache))
    try:
        export = export_onnx(model, example, tmp, exporters=exporters)
        (tmp / "export.json").write_text(
            json.dumps(
                {
                    "opset": export.opset,
                    "exporter": export.exporter,
                    "export_s": export.export_s,
                    "file_mb": export.file_mb,
                    "note": export.note,
                }
            )
        )
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


# --------------------------------------------------------------------------- the deployed backends' base


def resolve_threads(threads: int | None) -> int:
    """The intra-op thread count for a cell: its setting, else what eager PyTorch uses here."""
    return int(threads) if threads else torch.get_num_threads()


def exporters_for(cell: Cell) -> tuple[str, ...]:
    """The exporter order to try; ``cell.options["onnx_exporters"]`` may pin it, e.g. ["torchscript"]."""
    exporters = cell.options.get("onnx_exporters", ("dynamo", "torchscript"))
    return (exporters,) if isinstance(exporters, str) else tuple(exporters)


class ExportedBackend:
    """A runtime outside PyTorch that runs the model's ONNX export. Subclasses say how to import
    the runtime (:meth:`require`), which devices it is measured on (:meth:`check_device`) and how
    to load an exported file into a step (:meth:`load`)."""

    name: str

    def require(self) -> Any:
        """Import the runtime package or raise Unsupported naming the extra that installs it."""
        raise NotImplementedError

    def check_device(self, device: str) -> None:
        raise NotImplementedError

    def load(self, onnx_path: Path, example: torch.Tensor, threads: int) -> tuple[Step, dict[str, Any]]:
        """Load ``onnx_path``; return the step and the row columns the runtime adds."""
        raise NotImplementedError

    def check(self, cell: Cell) -> None:
        self.require()
        self.check_device(cell.device)
        if cell.precision != "fp32":
            raise Unsupported(
                f"{self.name} cells run the exported fp32 graph only; {cell.precision} is not measured "
                "(quantised/reduced-precision deployment is a separate conversion)"
            )

    def build(self, model: torch.nn.Module, example: torch.Tensor, cell: Cell) -> tuple[Step, dict[str, Any]]:
        """Export ``model`` (or reuse the run's export) and load it; ``check`` has passed."""
        threads = resolve_threads(cell.threads)
        exporters = exporters_for(cell)
        cache = cell.options.get("export_cache")
        if cache:
            export, reused = cached_export(model, example, cell, Path(cache), exporters)
            step, rt_info = self.load(export.path, example, threads)
            info = {**export.as_row(), "onnx_export_reused": reused}
        else:
            with tempfile.TemporaryDirectory(prefix="archbench-onnx-") as tmp:
                export = export_onnx(model, example, Path(tmp), exporters=exporters)
                step, rt_info = self.load(export.path, example, threads)
            info = export.as_row()
        info.update(rt_info)
        return step, info
