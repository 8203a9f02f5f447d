"""How a model is executed for a cell: the runtime axis and the precision axis.

One backend per runtime (:mod:`bench.runtimes.backends`): ``eager``, ``channels_last`` and
``compile`` (:mod:`~bench.runtimes.eager`), ``onnxruntime`` and ``openvino``
(:mod:`~bench.runtimes.onnxruntime`, :mod:`~bench.runtimes.openvino`, both on the ONNX export of
:mod:`~bench.runtimes.export`). Each implements :class:`~bench.runtimes.base.Backend`: a cheap
``check(cell)`` and ``build(model, example, cell) -> (step, info)``, where ``step`` is a
zero-argument callable that runs one timed model call and ``info`` holds facts about the
preparation that become row columns (``compile_s``, ``export_s``, ``runtime_*``). Everything
else (conversion, compilation, export, autocast set-up) happens before, outside the timed region.
A setting the machine cannot honour raises :class:`Unsupported`, which the worker records as a
``skipped`` cell with that reason rather than a misleading number.

:func:`build_cell` is the one way from a cell to its step, used by the worker
(``bench.worker``) and the pytest-benchmark front end (``bench.pytest_front``).

Parity (:mod:`~bench.runtimes.parity`): every variant other than fp32 eager is compared with
fp32 eager on the same input.
"""

from bench.axes import DEPLOYED_RUNTIMES
from bench.errors import Unsupported
from bench.runtimes.backends import BACKENDS, backend_for
from bench.runtimes.base import Backend, Step
from bench.runtimes.build import BuiltCell, build_cell, check_cell, load_model, prepare
from bench.runtimes.parity import PARITY_RULE, PARITY_TOL, Parity, is_reference, parity, reference_output
from bench.runtimes.precision import autocast_context, check_precision, cpu_has_native_bf16

__all__ = [
    "BACKENDS",
    "DEPLOYED_RUNTIMES",
    "PARITY_RULE",
    "PARITY_TOL",
    "Backend",
    "BuiltCell",
    "Parity",
    "Step",
    "Unsupported",
    "autocast_context",
    "backend_for",
    "build_cell",
    "check_cell",
    "check_precision",
    "cpu_has_native_bf16",
    "is_reference",
    "load_model",
    "parity",
    "prepare",
    "reference_output",
]
