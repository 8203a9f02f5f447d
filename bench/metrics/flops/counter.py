"""Counting: run a model under both counters and turn their counts into a :class:`FlopReport`.

Primary counter: fvcore's ``FlopCountAnalysis`` (jit trace) with its handlers replaced by
:mod:`~bench.metrics.flops.handlers`; check counter: ``FlopCounterMode`` with the extra
formulas, FLOPs / 2. On the meta device only the check counter can run, and it becomes the
reported one.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, NamedTuple

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from bench.errors import UserError
from bench.metrics.flops.convention import CHECK_COUNTER, DISAGREE_REL, PRIMARY_COUNTER, ZERO_COST_OPS, is_matmul_class
from bench.metrics.flops.handlers import check_mapping, fvcore_handles
from bench.metrics.flops.meta import meta_state


class UncountedOpsError(RuntimeError):
    """A matrix-class operator ran but neither formula counted it (raised with ``strict=True``)."""


@dataclass
class FlopReport:
    """GMACs of one forward pass at one input size; see :data:`FLOP_CONVENTION`."""

    gmacs: float  # per image, from ``counter``
    gmacs_check: float | None  # per image, from ``check_counter`` (None when it could not run)
    counter: str
    check_counter: str | None
    uncounted_ops: list[str]  # ran, not counted by ``counter`` (zero-cost data movement omitted)
    uncounted_ops_check: list[str]
    uncounted_matmul_ops: list[str]  # matrix-class ops some counter missed: must be empty
    disagree: bool  # counters differ by more than DISAGREE_REL
    by_operator: dict[str, float]  # GMACs per operator, primary counter
    by_operator_check: dict[str, float] = field(default_factory=dict)
    img_size: int = 224
    batch_size: int = 1
    in_chans: int = 3
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)

    @property
    def gflops(self) -> float:
        """2 × gmacs (a multiply-add is two floating-point operations)."""
        return 2.0 * self.gmacs

    @property
    def rel_diff(self) -> float | None:
        if self.gmacs_check is None:
            return None
        scale = max(abs(self.gmacs), abs(self.gmacs_check))
        return 0.0 if scale == 0 else abs(self.gmacs - self.gmacs_check) / scale

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "gflops": self.gflops, "rel_diff": self.rel_diff}

    def as_row(self) -> dict[str, Any]:
        """Results columns (bench/schema.py); ``gflops`` is derived when the table is built."""
        return {
            "gmacs": self.gmacs,
            "gmacs_check": self.gmacs_check,
            "flops_counter": self.counter,
            "flops_check_counter": self.check_counter,
            "flops_disagree": self.disagree,
            "uncounted_ops": ",".join(self.uncounted_ops),
            "uncounted_matmul_ops": ",".join(self.uncounted_matmul_ops),
        }


class Count(NamedTuple):
    """One counter's result for the whole batch."""

    macs: int
    by_op: dict[str, int]  # MACs per operator
    uncounted: list[str]  # operators that ran, not counted (zero-cost data movement omitted)


def _dispatch_name(op) -> str:
    ns, _, name = str(op).partition(".")
    return f"{ns}::{name}" if name else ns


class _OpRecorder(TorchDispatchMode):
    """Sits under FlopCounterMode and records every operator that actually executes."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[_dispatch_name(func._overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def _has_inference_tensors(model: nn.Module) -> bool:
    return any(t.is_inference() for t in [*model.parameters(), *model.buffers()])


@contextlib.contextmanager
def _counting_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode, autograd on, MHA fast path off — restored afterwards.

    The fast-path switch alone keeps nn.MultiheadAttention/TransformerEncoder off their
    fused kernels; autograd is a second guard. Weights created under ``inference_mode``
    cannot take part in autograd at all, so such models are counted with it off.
    """
    training = [m.training for m in model.modules()]
    fast = torch.backends.mha.get_fastpath_enabled()
    grad = not _has_inference_tensors(model)
    model.eval()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        # inference_mode(False) first: enable_grad alone does not leave inference mode.
        with torch.inference_mode(False), torch.set_grad_enabled(grad):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)
        for m, t in zip(model.modules(), training):
            m.training = t


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    return torch.device("cpu"), torch.float32


def _run_fvcore(model: nn.Module, x: torch.Tensor) -> Count:
    from fvcore.nn import FlopCountAnalysis

    fa = FlopCountAnalysis(model, x)
    # fvcore's defaults also count norms, pooling and upsampling; this convention does not.
    fa.clear_op_handles()
    fa.set_op_handle(**fvcore_handles())
    # Its built-in ignore list hides relu/clamp/max as "free"; ours hides data movement only.
    fa._ignored_ops = set(ZERO_COST_OPS)
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    fa.tracer_warnings("none")
    total = int(fa.total())
    by_op = {k: int(v) for k, v in fa.by_operator().items() if v}
    uncounted = sorted(fa.unsupported_ops())
    return Count(total, by_op, uncounted)


def _run_flop_counter(model: nn.Module, x: torch.Tensor, weights: dict | None) -> Count:
    """FlopCounterMode over one forward; ``weights`` (meta tensors) stand in for the model's own when given."""
    from torch.utils.flop_counter import FlopCounterMode

    mapping = check_mapping()
    recorder = _OpRecorder()
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    # The recorder is entered first so it sits below the counter: it sees the operators
    # the counter finally executes, after the counter's own decompositions.
    with recorder, counter:
        if weights is None:
            model(x)
        else:
            torch.func.functional_call(model, weights, (x,))
    flops = counter.get_flop_counts().get("Global", {})
    by_op = {_dispatch_name(k): int(v) // 2 for k, v in flops.items() if v}
    counted = {_dispatch_name(k) for k in counter.flop_registry}
    uncounted = sorted(op for op in recorder.ops if op not in counted and op not in ZERO_COST_OPS)
    return Count(counter.get_total_flops() // 2, by_op, uncounted)


def count_flops(
    model: nn.Module,
    img_size: int,
    batch_size: int = 1,
    in_chans: int = 3,
    device: str = "cpu",
    strict: bool = False,
) -> FlopReport:
    """Count the forward-pass GMACs of ``model`` on a ``batch_size×in_chans×img×img`` input.

    ``device`` is where the input is made: the model must already live there, except for
    ``"meta"``, which also accepts a model with real weights (they are swapped for meta
    tensors without touching the model). ``gmacs`` is per image (total / batch size).
    The model is run in eval mode with the MHA fast path off and autograd enabled (off for
    weights created under ``inference_mode``, noted in ``notes``); its training flags and
    the global fast-path setting are restored afterwards. ``strict=True`` raises
    :class:`UncountedOpsError` when a matrix-class operator went uncounted.
    """
    if int(img_size) <= 0 or int(batch_size) <= 0 or int(in_chans) <= 0:
        raise UserError(f"img_size, batch_size and in_chans must be positive, got {img_size}, {batch_size}, {in_chans}")
    model_device, dtype = _model_device_dtype(model)
    meta = torch.device(device).type == "meta" or model_device.type == "meta"
    want = torch.device(device)
    if not meta and (model_device.type != want.type or want.index not in (None, model_device.index)):
        raise ValueError(f"model is on {model_device} but count_flops was asked for device={device!r}; move it first")

    notes: list[str] = []
    if _has_inference_tensors(model):
        notes.append(
            "weights are inference tensors (built under inference_mode): counted with autograd off, MHA fast path still disabled"
        )
    primary: Count | None = None
    shape = (batch_size, in_chans, img_size, img_size)
    with _counting_mode(model):
        if meta:
            weights = None if model_device.type == "meta" else meta_state(model)
            with torch.device("meta"):
                x = torch.empty(*shape, dtype=dtype)
                check = _run_flop_counter(model, x, weights)
            notes.append("meta device: the jit tracer behind fvcore cannot run, FlopCounterMode is the only counter")
        else:
            x = torch.randn(*shape, device=model_device, dtype=dtype)
            try:
                primary = _run_fvcore(model, x)
            except Exception as err:  # a model the jit tracer cannot follow still gets a count
                notes.append(
                    f"fvcore failed ({type(err).__name__}: {str(err).splitlines()[0][:200]}); FlopCounterMode is the only counter"
                )
            check = _run_flop_counter(model, x, None)

    report = _report(primary, check, batch_size)
    report.img_size, report.batch_size, report.in_chans = int(img_size), int(batch_size), int(in_chans)
    report.device = "meta" if meta else str(model_device)
    report.notes = notes
    if strict and report.uncounted_matmul_ops:
        raise UncountedOpsError(f"matrix-class operators ran but were not counted: {', '.join(report.uncounted_matmul_ops)}")
    return report


def _report(primary: Count | None, check: Count, batch_size: int) -> FlopReport:
    """Both counts as a report, per image in GMACs; the check counter reports alone when the
    primary could not run."""

    def g(n: int) -> float:
        return n / batch_size / 1e9

    def gops(d: dict[str, int]) -> dict[str, float]:
        return {k: g(v) for k, v in sorted(d.items(), key=lambda kv: -kv[1])}

    if primary is None:
        return FlopReport(
            gmacs=g(check.macs),
            gmacs_check=None,
            counter=CHECK_COUNTER,
            check_counter=None,
            uncounted_ops=check.uncounted,
            uncounted_ops_check=[],
            uncounted_matmul_ops=sorted(op for op in check.uncounted if is_matmul_class(op)),
            disagree=False,
            by_operator=gops(check.by_op),
        )
    report = FlopReport(
        gmacs=g(primary.macs),
        gmacs_check=g(check.macs),
        counter=PRIMARY_COUNTER,
        check_counter=CHECK_COUNTER,
        uncounted_ops=primary.uncounted,
        uncounted_ops_check=check.uncounted,
        uncounted_matmul_ops=sorted({op for op in primary.uncounted + check.uncounted if is_matmul_class(op)}),
        disagree=False,
        by_operator=gops(primary.by_op),
        by_operator_check=gops(check.by_op),
    )
    report.disagree = (report.rel_diff or 0.0) > DISAGREE_REL
    return report
