"""ONNX Runtime session for an exported model, and the timed ``step`` around it.

Session settings (recorded in the row):

- ``intra_op_num_threads`` = the cell's thread count (see :func:`bench.runtimes.export.resolve_threads`),
  ``inter_op_num_threads`` = 1 and sequential execution: a classifier is one chain of operators,
  so the threads go into each operator, as in eager PyTorch.
- ``graph_optimization_level = ORT_ENABLE_ALL`` (constant folding, node fusions such as
  Conv+BN+ReLU, attention and GELU fusion, layout transformations): the setting a deployment uses.
- Execution provider: ``CPUExecutionProvider``. Other providers are not measured (CUDA cells are
  skipped with a reason): archbench installs the CPU build only.

The timed region is one ``session.run`` on a feed built beforehand. The input array shares
memory with the example tensor; the output array is wrapped as a tensor without a copy.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from bench.errors import Unsupported
from bench.runtimes.base import Step
from bench.runtimes.export import ExportedBackend

EXTRA_MESSAGE = "onnxruntime is not installed: pip install 'archbench[onnx]'"
GRAPH_OPT_LEVEL = "ORT_ENABLE_ALL"
PROVIDER = "CPUExecutionProvider"


class OnnxRuntimeBackend(ExportedBackend):
    name = "onnxruntime"

    def require(self) -> Any:
        try:
            import onnxruntime
        except ImportError:
            raise Unsupported(EXTRA_MESSAGE) from None
        return onnxruntime

    def check_device(self, device: str) -> None:
        if device != "cpu":
            raise Unsupported(
                f"onnxruntime on {device} is not measured: archbench runs ONNX Runtime's CPU "
                "execution provider only (the GPU build, onnxruntime-gpu, is not part of its extras)"
            )

    def session_options(self, threads: int) -> Any:
        ort = self.require()
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, GRAPH_OPT_LEVEL)
        so.log_severity_level = 3  # errors only; warnings about unused initializers are noise here
        return so

    def load(self, onnx_path: Path, example: torch.Tensor, threads: int) -> tuple[Step, dict[str, Any]]:
        """Load ``onnx_path`` into a CPU session; return the step and the row columns it adds."""
        ort = self.require()
        t0 = time.perf_counter()
        try:
            sess = ort.InferenceSession(str(onnx_path), self.session_options(threads), providers=[PROVIDER])
        except Exception as err:
            raise RuntimeError(f"onnxruntime could not load the exported model: {type(err).__name__}: {str(err)[:800]}") from err
        load_s = time.perf_counter() - t0
        inputs = sess.get_inputs()
        if len(inputs) != 1:
            raise RuntimeError(f"exported model has {len(inputs)} inputs; archbench feeds one image tensor")
        feed = {inputs[0].name: example.detach().cpu().contiguous().numpy()}
        out_name = sess.get_outputs()[0].name
        run = sess.run

        def step() -> torch.Tensor:
            return torch.from_numpy(run([out_name], feed)[0])

        step.session = sess  # type: ignore[attr-defined]  # for inspection (tests, scripts); not used when timing
        info = {
            "runtime_version": ort.__version__,
            "execution_provider": sess.get_providers()[0],
            "runtime_threads": threads,
            "graph_opt_level": GRAPH_OPT_LEVEL,
            "runtime_config": f"intra_op={threads},inter_op=1,sequential,{GRAPH_OPT_LEVEL}",
            "runtime_load_s": round(load_s, 3),
        }
        return step, info
