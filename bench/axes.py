"""The axes of a benchmark as types: one definition of the allowed families, devices,
precisions, runtimes, speed metrics, executors and accuracy sources, shared by the suite
model, the registry, the runtimes, the CLI and the report. Imports nothing heavy, so any
module may use it."""

from __future__ import annotations

from typing import Literal, get_args

Family = Literal["cnn", "mobile", "vit", "hybrid"]
Device = Literal["cpu", "cuda"]
Precision = Literal["fp32", "bf16", "fp16"]
Runtime = Literal["eager", "channels_last", "compile", "onnxruntime", "openvino"]
Metric = Literal["params", "flops", "latency", "memory"]
Executor = Literal["local", "ray"]
# Where an accuracy number comes from (column acc_source); this order is the report's order too.
AccSource = Literal["measured", "scratch", "reported"]

FAMILIES: tuple[Family, ...] = get_args(Family)
DEVICES: tuple[Device, ...] = get_args(Device)
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
METRICS: tuple[Metric, ...] = get_args(Metric)
EXECUTORS: tuple[Executor, ...] = get_args(Executor)
ACC_SOURCES: tuple[AccSource, ...] = get_args(AccSource)
# Runtimes that run an exported ONNX graph outside PyTorch (bench.runtimes.export).
DEPLOYED_RUNTIMES: tuple[Runtime, ...] = ("onnxruntime", "openvino")
