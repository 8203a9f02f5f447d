"""OpenVINO (CPU plugin) for an exported ONNX model, and the timed ``step`` around it.

The model is read from the same ONNX file ONNX Runtime gets, so the two runtimes are compared on
one graph; the conversion from ONNX to OpenVINO's representation is part of
``runtime_load_s``. Compiled for the CPU device with:

- ``INFERENCE_NUM_THREADS`` = the cell's thread count, ``NUM_STREAMS`` = 1 and
  ``PERFORMANCE_HINT = LATENCY``: one request at a time using all its threads, like eager.
- ``INFERENCE_PRECISION_HINT = f32``: on CPUs with AMX or AVX512-BF16 OpenVINO otherwise runs
  fp32 models in bf16, which would compare a different precision with fp32 eager.

The timed region is one synchronous ``infer`` on an input tensor built beforehand. The output
is copied into a new torch tensor (1000 logits per image: negligible) because OpenVINO reuses
its output buffer on the next call.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import Unsupported
from bench.runtimes.base import Step
from bench.runtimes.export import ExportedBackend

EXTRA_MESSAGE = "openvino is not installed: pip install 'archbench[openvino]'"
PLUGIN = "CPU"


def compile_config(threads: int) -> dict[str, str]:
    return {
        "INFERENCE_NUM_THREADS": str(threads),
        "NUM_STREAMS": "1",
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",
    }


class OpenVinoBackend(ExportedBackend):
    name = "openvino"

    def require(self) -> Any:
        try:
            import openvino
        except ImportError:
            raise Unsupported(EXTRA_MESSAGE) from None
        return openvino

    def check_device(self, device: str) -> None:
        if device != "cpu":
            raise Unsupported(
                f"openvino on {device} is not measured: OpenVINO targets Intel CPUs/GPUs/NPUs, "
                "and archbench runs its CPU plugin only"
            )

    def load(self, onnx_path: Path, example: torch.Tensor, threads: int) -> tuple[Step, dict[str, Any]]:
        """Read and compile ``onnx_path`` for the CPU plugin; return the step and its row columns."""
        ov = self.require()
        config = compile_config(threads)
        t0 = time.perf_counter()
        try:
            core = ov.Core()
            ov_model = core.read_model(str(onnx_path))
            compiled = core.compile_model(ov_model, PLUGIN, config)
        except Exception as err:
            raise RuntimeError(f"openvino could not load the exported model: {type(err).__name__}: {str(err)[:800]}") from err
        load_s = time.perf_counter() - t0
        if len(compiled.inputs) != 1:
            raise RuntimeError(f"exported model has {len(compiled.inputs)} inputs; archbench feeds one image tensor")
        request = compiled.create_infer_request()
        x = example.detach().cpu().contiguous().numpy()
        request.set_input_tensor(ov.Tensor(x))  # wraps the array's memory, set once outside the timed region
        out_port = compiled.outputs[0]

        def step() -> torch.Tensor:
            request.infer()
            return torch.from_numpy(np.array(request.get_tensor(out_port).data, copy=True))

        step.compiled = compiled  # type: ignore[attr-defined]  # for inspection (tests, scripts)
        info = {
            "runtime_version": ov.__version__.split("-")[0],  # "2026.4.1-22982-<hash>-releases/…" → release
            "execution_provider": f"openvino:{PLUGIN}",
            "runtime_threads": threads,
            "graph_opt_level": None,
            "runtime_config": ",".join(f"{k}={v}" for k, v in config.items()),
            "runtime_load_s": round(load_s, 3),
        }
        return step, info
