"""The counting convention as data: what one GMAC is, which operators count, which are free.

:data:`FLOP_CONVENTION` is stored in every run.json and shown in the report; docs/flops.md
explains it. :data:`ZERO_COST_OPS` and :func:`is_matmul_class` sort the operators no formula
counted into harmless data movement, ordinary uncounted work and holes in the count.
"""

from __future__ import annotations

import re
from typing import Any

PRIMARY_COUNTER = "fvcore"
CHECK_COUNTER = "torch.utils.flop_counter.FlopCounterMode"
DISAGREE_REL = 0.01  # counters further apart than this mark the row

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
