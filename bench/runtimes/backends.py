"""The runtime name → backend table (the ``runtimes`` axis of a suite)."""

from __future__ import annotations

from bench.errors import Unsupported
from bench.runtimes.base import Backend
from bench.runtimes.eager import EAGER_VARIANTS, EagerBackend
from bench.runtimes.onnxruntime import OnnxRuntimeBackend
from bench.runtimes.openvino import OpenVinoBackend

BACKENDS: dict[str, Backend] = {
    **{name: EagerBackend(name) for name in EAGER_VARIANTS},
    "onnxruntime": OnnxRuntimeBackend(),
    "openvino": OpenVinoBackend(),
}


def backend_for(runtime: str) -> Backend:
    try:
        return BACKENDS[runtime]
    except KeyError:
        raise Unsupported(f"runtime {runtime!r} is not available in this build of archbench") from None
