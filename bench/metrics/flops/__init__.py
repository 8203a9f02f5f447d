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
  :mod:`~bench.metrics.flops.handlers` (fvcore's defaults also count norms, pooling and upsampling);
* check — ``FlopCounterMode`` with the extra formulas there, converted to MACs.

On the meta device (``device="meta"``, for models too big to materialise) the jit
tracer cannot run, so ``FlopCounterMode`` is the only counter and ``counter`` says so.
Counts are exact shape arithmetic: meta and real tensors give the same numbers.

Modules: :mod:`~bench.metrics.flops.convention` (what is counted, as data),
:mod:`~bench.metrics.flops.formulas` (per-operator MACs, pure shape arithmetic),
:mod:`~bench.metrics.flops.handlers` (those formulas plugged into each counter),
:mod:`~bench.metrics.flops.counter` (:func:`count_flops`), :mod:`~bench.metrics.flops.meta`
(models and weights on the meta device) and :mod:`~bench.metrics.flops.command` (``archbench flops``).
"""

from bench.metrics.flops.command import flops_command
from bench.metrics.flops.convention import (
    CHECK_COUNTER,
    DISAGREE_REL,
    FLOP_CONVENTION,
    PRIMARY_COUNTER,
    ZERO_COST_OPS,
    is_matmul_class,
)
from bench.metrics.flops.counter import FlopReport, UncountedOpsError, count_flops
from bench.metrics.flops.formulas import conv_macs, einsum_macs, grid_sample_macs, mha_macs, sdpa_macs
from bench.metrics.flops.meta import build_on_meta, create_model_on_meta

__all__ = [
    "CHECK_COUNTER",
    "DISAGREE_REL",
    "FLOP_CONVENTION",
    "PRIMARY_COUNTER",
    "ZERO_COST_OPS",
    "FlopReport",
    "UncountedOpsError",
    "build_on_meta",
    "conv_macs",
    "count_flops",
    "create_model_on_meta",
    "einsum_macs",
    "flops_command",
    "grid_sample_macs",
    "is_matmul_class",
    "mha_macs",
    "sdpa_macs",
]
