"""The axes of a benchmark as types: one definition of the allowed families, devices,
precisions, runtimes and speed metrics, shared by the suite model, the registry and the
runtimes. Imports nothing heavy, so any module may use it."""

from __future__ import annotations

from typing import Literal, get_args

Family = Literal["cnn", "mobile", "vit", "hybrid"]
Device = Literal["cpu", "cuda"]
Precision = Literal["fp32", "bf16", "fp16"]
Runtime = Literal["eager", "channels_last", "compile", "onnxruntime", "openvino"]
Metric = Literal["params", "flops", "latency", "memory"]

FAMILIES: tuple[Family, ...] = get_args(Family)
DEVICES: tuple[Device, ...] = get_args(Device)
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
METRICS: tuple[Metric, ...] = get_args(Metric)
# Runtimes that run an exported ONNX graph outside PyTorch (bench.runtimes.export).
DEPLOYED_RUNTIMES: tuple[Runtime, ...] = ("onnxruntime", "openvino")
