"""GMACs of a model's forward pass, counted twice and checked against each other.

Convention (:data:`FLOP_CONVENTION`, stored in run.json and shown in the report): one
fused multiply-add is one MAC; the headline column is ``gmacs`` = 1e9 MACs per image,
forward pass only, eval mode. ``gflops = 2 × gmacs``. This is the unit of torchvision's
"GFLOPS" column, timm's ``infer_gmacs`` and the papers' "FLOPs".

Counted: convolutions (any groups, transposed), matrix products (``linear``, ``addmm``,
``mm``, ``bmm``, ``matmul``, ``einsum``…), attention's two batched products
(Q·Kᵀ and A·V, whatever SDPA kernel runs), the fused ``nn.MultiheadAttention`` kernel
(projections + both products) and bilinear/bicubic ``grid_sample`` (the sampling core of
deformable convolution). Not counted: normalisation, activations, softmax, pooling,
resizing, element-wise arithmetic, bias additions, data movement.

Why two counters, and why the care: on current PyTorch every common counter misses
attention somewhere. fvcore (jit trace) has no handler for
``aten::scaled_dot_product_attention``; ``torch.utils.flop_counter.FlopCounterMode``
(dispatcher) has none for the CPU kernel ``_scaled_dot_product_flash_attention_for_cpu``;
and under ``no_grad``/``inference_mode`` ``nn.MultiheadAttention`` takes a fused fast
path (``_native_multi_head_attention``) that neither counts. Here both counters get the
missing handlers, counting runs with autograd enabled and the MHA fast path switched off,
every operator that was *not* counted is listed, and operators that look like matrix
work but were not counted are listed separately (``uncounted_matmul_ops``) so tests and
``strict=True`` can fail on them.

Counters:

* primary — fvcore's ``FlopCountAnalysis`` (jit trace) with its handlers replaced by
  this module's (fvcore's defaults also count norms, pooling and upsampling);
* check — ``FlopCounterMode`` with this module's extra formulas, converted to MACs.

On the meta device (``device="meta"``, for models too big to materialise) the jit
tracer cannot run, so ``FlopCounterMode`` is the only counter and ``counter`` says so.
Counts are exact shape arithmetic: meta and real tensors give the same numbers.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from bench.errors import UserError
from bench.registry import build_on_meta  # the one way to build on meta; re-exported here

__all__ = [
    "FLOP_CONVENTION",
    "FlopReport",
    "UncountedOpsError",
    "count_flops",
    "build_on_meta",
    "create_model_on_meta",
    "flops_command",
    "is_matmul_class",
]

PRIMARY_COUNTER = "fvcore"
CHECK_COUNTER = "torch.utils.flop_counter.FlopCounterMode"
DISAGREE_REL = 0.01  # counters further apart than this mark the row

# Multiply-adds per output value per channel for grid_sample's interpolation modes
# (0 bilinear, 1 nearest, 2 bicubic). Bilinear: a weighted sum of the 4 neighbours is
# 4 multiply-adds; the 4 weights depend only on the grid point and are shared across
# channels, so they are not counted per channel. Nearest is a gather (0). Bicubic sums
# 4×4 neighbours (16). 3-D (trilinear) sums 8 neighbours.
GRID_SAMPLE_MACS_2D = {0: 4, 1: 0, 2: 16}
GRID_SAMPLE_MACS_3D = {0: 8, 1: 0}

FLOP_CONVENTION: dict[str, Any] = {
    "version": 1,
    "unit": "GMACs: 1e9 multiply-accumulates; one fused multiply-add = 1 MAC; gflops = 2 * gmacs",
    "per": "image (batch 1; counts at larger batch are divided by the batch size)",
    "pass": "forward only, eval mode",
    "counted": [
        "convolution (any groups, transposed): output elements * (C_in/groups) * kernel volume",
        "matrix products (linear, addmm, mm, bmm, baddbmm, matmul, mv, dot, einsum): output elements * contracted size",
        "attention (any scaled_dot_product_attention kernel): Q*K^T + A*V = B*H*L*S*(E + E_v)",
        "nn.MultiheadAttention fused kernel (_native_multi_head_attention): QKV and output projections + both products",
        "grid_sample: bilinear 4, bicubic 16, trilinear 8, nearest 0 MACs per output element per channel",
    ],
    "not_counted": [
        "normalisation (batch/layer/group norm)",
        "activations and softmax",
        "pooling and resizing (interpolate/upsample)",
        "element-wise arithmetic, bias additions, residual additions",
        "data movement (reshape, permute, cat, pad, index)",
    ],
    "primary_counter": f"{PRIMARY_COUNTER} (jit trace) with archbench handlers replacing its defaults",
    "check_counter": f"{CHECK_COUNTER} with archbench formulas for the kernels it lacks, FLOPs / 2",
    "disagree_threshold_rel": DISAGREE_REL,
    "autograd": "enabled while counting (off only for weights created under inference_mode); "
                "nn.MultiheadAttention/TransformerEncoder fast path disabled, so no fused kernel hides attention",
    "meta_device": f"only {CHECK_COUNTER} can run; it becomes the reported counter",
}

# Operators with no arithmetic at all (views, copies, allocation, indexing). They are
# neither counted nor listed as uncounted: listing them would bury the real omissions.
ZERO_COST_OPS: frozenset[str] = frozenset(
    "aten::" + n
    for n in (
        "view view_as _unsafe_view reshape _reshape_alias flatten unflatten permute transpose t "
        "expand expand_as squeeze unsqueeze select slice narrow split split_with_sizes chunk "
        "unbind cat stack contiguous clone copy_ _to_copy to type_as detach alias as_strided "
        "lift_fresh lift_fresh_copy empty empty_like empty_strided new_empty new_empty_strided "
        "zeros zeros_like ones ones_like full full_like fill_ new_zeros new_ones new_full arange "
        "size numel dim Int ScalarImplicit scalar_tensor constant_pad_nd roll index index_select "
        "gather repeat pixel_shuffle channel_shuffle dropout feature_dropout native_dropout "
        "alpha_dropout resolve_conj resolve_neg meshgrid tensor movedim moveaxis swapaxes "
        "unfold diagonal tril triu pad as_strided_ _has_compatible_shallow_copy_type"
    ).split()
)

# Names that mean matrix-class work. An operator matching one of these that no handler
# counted is a hole in the count, not a convention; it lands in ``uncounted_matmul_ops``.
_MATMUL_TOKEN = re.compile(
    r"(?:^|[_:.])(?:mm|bmm|addmm|baddbmm|addbmm|matmul|mv|addmv|dot|vdot|inner|outer|ger|addr|"
    r"einsum|tensordot|kron|linear|bilinear|trilinear|multi_dot|chain_matmul|scaled_mm|"
    r"lstm|gru|rnn_tanh|rnn_relu)(?:$|[_.])"
)
_MATMUL_SUBSTR = ("conv", "attention", "grid_sampler", "transformer_encoder", "deform")


def is_matmul_class(op: str) -> bool:
    """True when ``op`` (``aten::name``) names convolution, matrix, attention or sampling work."""
    name = op.split("::", 1)[-1]
    if name.startswith("upsample"):  # upsample_bilinear2d is resizing, not matrix work
        return False
    if any(s in name for s in _MATMUL_SUBSTR) and not name.startswith("convert"):
        return True
    # PythonOp = an autograd.Function the jit tracer cannot see into: its work is unknown.
    return op.startswith("prim::PythonOp") or bool(_MATMUL_TOKEN.search("_" + name))


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
        return {"gmacs": self.gmacs, "gmacs_check": self.gmacs_check, "flops_counter": self.counter,
                "flops_check_counter": self.check_counter, "flops_disagree": self.disagree,
                "uncounted_ops": ",".join(self.uncounted_ops),
                "uncounted_matmul_ops": ",".join(self.uncounted_matmul_ops)}


# --------------------------------------------------------------------------- formulas
# Pure shape arithmetic shared by both counters. Each returns MACs.


def _numel(shape) -> int:
    return math.prod(int(s) for s in shape)


def conv_macs(x_shape, w_shape, out_shape, transposed: bool = False) -> int:
    # w is (C_out, C_in/groups, *k) or, transposed, (C_in, C_out/groups, *k); either way
    # every element on the "many" side meets prod(w_shape[1:]) weights.
    per_elem = _numel(w_shape[1:])
    return (_numel(x_shape) if transposed else _numel(out_shape)) * per_elem


def sdpa_macs(q_shape, k_shape, v_shape) -> int:
    # q (..., L, E), k (..., S, E), v (..., S, Ev): L·S·E for Q·Kᵀ plus L·S·Ev for A·V per
    # batch×head. q's leading dims are used because with grouped-query attention k/v
    # have fewer heads but every query head still does the full products.
    e, s, ev = int(q_shape[-1]), int(k_shape[-2]), int(v_shape[-1])
    return _numel(q_shape[:-1]) * s * (e + ev)


def mha_macs(q_shape, k_shape, qkv_weight_shape) -> int:
    # Fused nn.MultiheadAttention: q from query, k and v from key/value, all E×E, then
    # both attention products (2·B·L·S·E) and the E×E output projection.
    e = int(qkv_weight_shape[-1])
    b_l = _numel(q_shape[:-1])
    b_s = _numel(k_shape[:-1])
    s = int(k_shape[-2])
    return b_l * e * e + 2 * b_s * e * e + 2 * b_l * s * e + b_l * e * e


def einsum_macs(equation: str, shapes: list) -> int:
    """MACs of ``torch.einsum(equation, *operands)`` along numpy's optimal contraction path.

    Two operands: the product of the sizes of every distinct index (each combination is
    one multiply-add). More operands: the same for each pairwise step of the path. One
    operand (a sum or transpose) does no multiplication. Exact integers — fvcore's own
    einsum handler reads numpy's rounded printout instead.
    """
    import numpy as np

    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    free = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in eq)
    ell = ""
    if "..." in eq:  # give the broadcast dimensions letters of their own
        n_ell = max(len(shp) - (len(t) - 3) for t, shp in zip(terms, shapes) if "..." in t)
        ell = "".join(next(free) for _ in range(n_ell))
        terms = [t.replace("...", ell[n_ell - (len(shp) - (len(t) - 3)):]) for t, shp in zip(terms, shapes)]
        rhs = rhs.replace("...", ell)
    sizes: dict[str, int] = {}
    for t, shp in zip(terms, shapes):
        for c, n in zip(t, shp):
            sizes[c] = max(sizes.get(c, 1), int(n))
    if len(terms) < 2:
        return 0
    if len(terms) == 2:
        return math.prod(sizes[c] for c in set(terms[0]) | set(terms[1]))
    if not arrow:  # implicit output: letters that occur once, sorted
        rhs = "".join(sorted(c for c in set("".join(terms)) if "".join(terms).count(c) == 1))
    views = [np.broadcast_to(np.zeros(()), tuple(int(n) for n in shp)) for shp in shapes]
    path = np.einsum_path(",".join(terms) + "->" + rhs, *views, optimize="optimal")[0][1:]
    live, macs = list(terms), 0
    for step in path:
        picked = [live[i] for i in step]
        for i in sorted(step, reverse=True):
            live.pop(i)
        union = set("".join(picked))
        macs += math.prod(sizes[c] for c in union) * (len(picked) - 1)
        keep = set(rhs).union(*live) if live else set(rhs)
        live.append("".join(sorted(c for c in union if c in keep)))
    return macs


def grid_sample_macs(out_shape, mode: int, dims: int = 2) -> int:
    table = GRID_SAMPLE_MACS_2D if dims == 2 else GRID_SAMPLE_MACS_3D
    return _numel(out_shape) * table.get(int(mode), table[0])


# --------------------------------------------------------------------------- fvcore side


def _jit_shape(v) -> list[int] | None:
    return v.type().sizes() if v.isCompleteTensor() else None


def _jit_const(v):
    return v.toIValue()


def _fv(name: str, fn: Callable[[list, list], int]):
    def handle(inputs, outputs):
        return Counter({name: int(fn(inputs, outputs))})

    return handle


def _fv_matmul(a_index: int):
    # output elements × contracted size, where the contraction is over a's last dim
    def fn(inputs, outputs):
        a = _jit_shape(inputs[a_index])
        return _numel(_jit_shape(outputs[0])) * int(a[-1])

    return fn


def _fv_addbmm(inputs, outputs):
    b1, b2 = _jit_shape(inputs[1]), _jit_shape(inputs[2])
    return _numel(b1) * int(b2[-1])


def _fv_linear(inputs, outputs):
    return _numel(_jit_shape(outputs[0])) * int(_jit_shape(inputs[1])[-1])


def _fv_conv(transposed_index: int | None, transposed: bool = False):
    def fn(inputs, outputs):
        t = bool(_jit_const(inputs[transposed_index])) if transposed_index is not None else transposed
        return conv_macs(_jit_shape(inputs[0]), _jit_shape(inputs[1]), _jit_shape(outputs[0]), t)

    return fn


def _fv_einsum(inputs, outputs):
    equation = _jit_const(inputs[0])
    shapes = [_jit_shape(v) for v in inputs[1].node().inputs()]
    return einsum_macs(equation, shapes)


def _fv_sdpa(inputs, outputs):
    return sdpa_macs(_jit_shape(inputs[0]), _jit_shape(inputs[1]), _jit_shape(inputs[2]))


def _fv_mha(inputs, outputs):
    return mha_macs(_jit_shape(inputs[0]), _jit_shape(inputs[1]), _jit_shape(inputs[5]))


def _fv_grid(dims: int, mode_index: int | None):
    def fn(inputs, outputs):
        mode = _jit_const(inputs[mode_index]) if mode_index is not None else 0
        return grid_sample_macs(_jit_shape(outputs[0]), mode, dims)

    return fn


_SDPA_KERNELS = (
    "scaled_dot_product_attention",
    "_scaled_dot_product_attention_math",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_fused_attention_overrideable",
)


def _fvcore_handles() -> dict[str, Callable]:
    spec: dict[str, Callable[[list, list], int]] = {
        "aten::_convolution": _fv_conv(6),
        "aten::convolution": _fv_conv(6),
        "aten::conv1d": _fv_conv(None),
        "aten::conv2d": _fv_conv(None),
        "aten::conv3d": _fv_conv(None),
        "aten::conv_transpose1d": _fv_conv(None, True),
        "aten::conv_transpose2d": _fv_conv(None, True),
        "aten::conv_transpose3d": _fv_conv(None, True),
        "aten::linear": _fv_linear,
        "aten::mm": _fv_matmul(0),
        "aten::bmm": _fv_matmul(0),
        "aten::matmul": _fv_matmul(0),
        "aten::mv": _fv_matmul(0),
        "aten::dot": _fv_matmul(0),
        "aten::vdot": _fv_matmul(0),
        "aten::addmm": _fv_matmul(1),
        "aten::baddbmm": _fv_matmul(1),
        "aten::addmv": _fv_matmul(1),
        "aten::addbmm": _fv_addbmm,
        "aten::einsum": _fv_einsum,
        "aten::_native_multi_head_attention": _fv_mha,
        "aten::grid_sampler": _fv_grid(2, 2),
        "aten::grid_sampler_2d": _fv_grid(2, 2),
        "aten::grid_sampler_3d": _fv_grid(3, 2),
        "aten::cudnn_grid_sampler": _fv_grid(2, None),
    }
    spec.update({f"aten::{k}": _fv_sdpa for k in _SDPA_KERNELS})
    return {name: _fv(name, fn) for name, fn in spec.items()}


# --------------------------------------------------------------------------- FlopCounterMode side
# FlopCounterMode formulas return FLOPs (2 per MAC); they receive shapes for tensors.


def _fc_sdpa(q, k, v, *args, out_shape=None, **kwargs) -> int:
    return 2 * sdpa_macs(q, k, v)


def _fc_mha(query, key, value, embed_dim, num_head, qkv_weight, *args, out_shape=None, **kwargs) -> int:
    return 2 * mha_macs(query, key, qkv_weight)


def _fc_grid(dims: int, fixed_mode: int | None = None):
    def formula(inp, grid, *args, out_shape=None, **kwargs) -> int:
        mode = fixed_mode if fixed_mode is not None else (args[0] if args else kwargs.get("interpolation_mode", 0))
        return 2 * grid_sample_macs(out_shape, mode, dims)

    return formula


def _fc_matmul(a_index: int):
    def formula(*args, out_shape=None, **kwargs) -> int:
        return 2 * _numel(out_shape) * int(args[a_index][-1])

    return formula


def _check_mapping() -> dict[Any, Callable]:
    aten = torch.ops.aten
    mapping: dict[Any, Callable] = {
        aten._native_multi_head_attention: _fc_mha,
        aten.grid_sampler_2d: _fc_grid(2),
        aten.grid_sampler_3d: _fc_grid(3),
        aten.cudnn_grid_sampler: _fc_grid(2, fixed_mode=0),
        aten.mv: _fc_matmul(0),
        aten.dot: _fc_matmul(0),
        aten.vdot: _fc_matmul(0),
        aten.addmv: _fc_matmul(1),
    }
    if hasattr(aten, "_grid_sampler_2d_cpu_fallback"):
        mapping[aten._grid_sampler_2d_cpu_fallback] = _fc_grid(2)
    from torch.utils.flop_counter import flop_registry

    for name in _SDPA_KERNELS[1:]:
        op = getattr(aten, name, None)
        if op is not None and op not in flop_registry and name != "_scaled_dot_product_attention_math":
            mapping[op] = _fc_sdpa  # the math kernel decomposes into counted bmm/matmul
    return mapping


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


# --------------------------------------------------------------------------- running


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


def _run_fvcore(model: nn.Module, x: torch.Tensor) -> tuple[int, dict[str, int], list[str]]:
    from fvcore.nn import FlopCountAnalysis

    fa = FlopCountAnalysis(model, x)
    # fvcore's defaults also count norms, pooling and upsampling; this convention does not.
    fa.clear_op_handles()
    fa.set_op_handle(**_fvcore_handles())
    # Its built-in ignore list hides relu/clamp/max as "free"; ours hides data movement only.
    fa._ignored_ops = set(ZERO_COST_OPS)
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    fa.tracer_warnings("none")
    total = int(fa.total())
    by_op = {k: int(v) for k, v in fa.by_operator().items() if v}
    uncounted = sorted(fa.unsupported_ops())
    return total, by_op, uncounted


def _run_flop_counter(model: nn.Module, x: torch.Tensor, meta_state: dict | None):
    from torch.utils.flop_counter import FlopCounterMode

    mapping = _check_mapping()
    recorder = _OpRecorder()
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    # The recorder is entered first so it sits below the counter: it sees the operators
    # the counter finally executes, after the counter's own decompositions.
    with recorder, counter:
        if meta_state is None:
            model(x)
        else:
            torch.func.functional_call(model, meta_state, (x,))
    flops = counter.get_flop_counts().get("Global", {})
    by_op = {_dispatch_name(k): int(v) // 2 for k, v in flops.items() if v}
    counted = {_dispatch_name(k) for k in counter.flop_registry}
    uncounted = sorted(op for op in recorder.ops if op not in counted and op not in ZERO_COST_OPS)
    return counter.get_total_flops() // 2, by_op, uncounted


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
        notes.append("weights are inference tensors (built under inference_mode): counted with autograd off, "
                     "MHA fast path still disabled")
    primary: tuple | None = None
    check: tuple | None = None
    with _counting_mode(model):
        if meta:
            meta_state = None
            if model_device.type != "meta":
                meta_state = {
                    k: torch.empty_like(v, device="meta").requires_grad_(v.requires_grad)
                    for k, v in [*model.named_parameters(), *model.named_buffers()]
                }
            with torch.device("meta"):
                x = torch.empty(batch_size, in_chans, img_size, img_size, dtype=dtype)
                check = _run_flop_counter(model, x, meta_state)
            notes.append("meta device: the jit tracer behind fvcore cannot run, FlopCounterMode is the only counter")
        else:
            x = torch.randn(batch_size, in_chans, img_size, img_size, device=model_device, dtype=dtype)
            try:
                primary = _run_fvcore(model, x)
            except Exception as err:  # a model the jit tracer cannot follow still gets a count
                notes.append(f"fvcore failed ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
                             "FlopCounterMode is the only counter")
            check = _run_flop_counter(model, x, None)

    def g(n: int) -> float:
        return n / batch_size / 1e9

    def gops(d: dict[str, int]) -> dict[str, float]:
        return {k: g(v) for k, v in sorted(d.items(), key=lambda kv: -kv[1])}

    if primary is not None:
        report = FlopReport(
            gmacs=g(primary[0]), gmacs_check=g(check[0]),
            counter=PRIMARY_COUNTER, check_counter=CHECK_COUNTER,
            uncounted_ops=primary[2], uncounted_ops_check=check[2],
            uncounted_matmul_ops=sorted({op for op in primary[2] + check[2] if is_matmul_class(op)}),
            disagree=False, by_operator=gops(primary[1]), by_operator_check=gops(check[1]),
        )
        report.disagree = (report.rel_diff or 0.0) > DISAGREE_REL
    else:
        report = FlopReport(
            gmacs=g(check[0]), gmacs_check=None, counter=CHECK_COUNTER, check_counter=None,
            uncounted_ops=check[2], uncounted_ops_check=[],
            uncounted_matmul_ops=sorted(op for op in check[2] if is_matmul_class(op)),
            disagree=False, by_operator=gops(check[1]),
        )
    report.img_size, report.batch_size, report.in_chans = int(img_size), int(batch_size), int(in_chans)
    report.device = "meta" if meta else str(model_device)
    report.notes = notes
    if strict and report.uncounted_matmul_ops:
        raise UncountedOpsError(
            f"matrix-class operators ran but were not counted: {', '.join(report.uncounted_matmul_ops)}"
        )
    return report


# --------------------------------------------------------------------------- building on meta


def create_model_on_meta(name: str, img_size: int | None = None, **kwargs: Any) -> nn.Module:
    """:func:`bench.registry.create_model` with every weight on the meta device."""
    return build_on_meta(name, img_size=img_size, **kwargs)


# --------------------------------------------------------------------------- CLI

# Above this many parameters `archbench flops` counts on the meta device only: building
# and running a billion-parameter model for real costs minutes and gigabytes on a CPU.
META_ONLY_ABOVE_PARAMS = 300_000_000


def _top(by_op: dict[str, float], total: float, n: int = 6) -> str:
    parts = [f"{op} {v:.4f} ({100 * v / total:.1f}%)" if total else f"{op} {v:.4f}" for op, v in list(by_op.items())[:n]]
    more = len(by_op) - n
    return ", ".join(parts) + (f", … {more} more" if more > 0 else "")


def flops_command(model_name: str, img_size: int | None, as_json: bool, *, device: str = "cpu") -> int:
    """``archbench flops MODEL [--img-size N] [--json]``.

    Prints params, GMACs, both counters and uncounted operators (or one JSON object) and
    returns the exit code: 0, or 1 when a matrix-class operator went uncounted. Unknown
    models raise :class:`UserError` (the CLI's exit code 2).
    """
    from bench.metrics.params import count_params, weight_size_mb
    from bench.registry import create_model, get_spec

    spec = get_spec(model_name)
    img = int(img_size or spec.default_img_size)
    model = create_model_on_meta(model_name, img_size=img)
    params = count_params(model)
    if device != "meta" and params.total <= META_ONLY_ABOVE_PARAMS:
        model = create_model(model_name, img_size=img).to(device)
    report = count_flops(model, img, device=device if params.total <= META_ONLY_ABOVE_PARAMS else "meta")
    sizes = {p: round(weight_size_mb(model, p), 3) for p in ("fp32", "bf16")}

    if as_json:
        out = {
            "model": model_name,
            "img_size": img,
            "params": params.total,
            "params_trainable": params.trainable,
            "params_m": params.params_m,
            "weight_size_mb": sizes,
            "gmacs": report.gmacs,
            "gflops": report.gflops,
            "gmacs_check": report.gmacs_check,
            "counter": report.counter,
            "check_counter": report.check_counter,
            "disagree": report.disagree,
            "uncounted_ops": report.uncounted_ops,
            "uncounted_ops_check": report.uncounted_ops_check,
            "uncounted_matmul_ops": report.uncounted_matmul_ops,
            "by_operator": report.by_operator,
            "notes": report.notes,
            "convention": FLOP_CONVENTION,
        }
        print(json.dumps(out, indent=None))
    else:
        rows = [
            ("model", f"{model_name}  ({spec.family})"),
            ("input", f"1×3×{img}×{img}, forward only, eval"),
            ("params", f"{params.params_m:.3f} M  ({params.total:,} total, {params.trainable:,} trainable)"),
            ("weights", f"{sizes['fp32']:.1f} MiB fp32, {sizes['bf16']:.1f} MiB bf16/fp16"),
            ("GMACs", f"{report.gmacs:.4f}  [{report.counter}]   (GFLOPs = 2×GMACs = {report.gflops:.4f})"),
        ]
        if report.gmacs_check is not None:
            verdict = "DISAGREE" if report.disagree else "agree"
            rows.append(("check", f"{report.gmacs_check:.4f}  [{report.check_counter}]  {verdict} "
                                  f"({100 * (report.rel_diff or 0):.3f}% apart)"))
        rows.append(("by operator", _top(report.by_operator, report.gmacs)))
        rows.append(("uncounted", ", ".join(report.uncounted_ops) or "none"))
        if report.gmacs_check is not None:
            rows.append(("uncounted (check)", ", ".join(report.uncounted_ops_check) or "none"))
        if report.uncounted_matmul_ops:
            rows.append(("MISSED", "matrix-class ops not counted: " + ", ".join(report.uncounted_matmul_ops)))
        for note in report.notes:
            rows.append(("note", note))
        rows.append(("convention", "MACs (1 multiply-add = 1), batch 1; norms, activations, pooling, "
                                   "element-wise not counted; see docs/flops.md"))
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            print(f"{k:<{width}}  {v}")
    return 1 if report.uncounted_matmul_ops else 0
