"""Per-operator MACs: pure shape arithmetic shared by both counters. Each function returns MACs."""

from __future__ import annotations

import math

# Multiply-adds per output value per channel for grid_sample's interpolation modes
# (0 bilinear, 1 nearest, 2 bicubic). Bilinear: a weighted sum of the 4 neighbours is
# 4 multiply-adds; the 4 weights depend only on the grid point and are shared across
# channels, so they are not counted per channel. Nearest is a gather (0). Bicubic sums
# 4×4 neighbours (16). 3-D (trilinear) sums 8 neighbours.
GRID_SAMPLE_MACS_2D = {0: 4, 1: 0, 2: 16}
GRID_SAMPLE_MACS_3D = {0: 8, 1: 0}


def numel(shape) -> int:
    return math.prod(int(s) for s in shape)


def conv_macs(x_shape, w_shape, out_shape, transposed: bool = False) -> int:
    # w is (C_out, C_in/groups, *k) or, transposed, (C_in, C_out/groups, *k); either way
    # every element on the "many" side meets prod(w_shape[1:]) weights.
    per_elem = numel(w_shape[1:])
    return (numel(x_shape) if transposed else numel(out_shape)) * per_elem


def sdpa_macs(q_shape, k_shape, v_shape) -> int:
    # q (..., L, E), k (..., S, E), v (..., S, Ev): L·S·E for Q·Kᵀ plus L·S·Ev for A·V per
    # batch×head. q's leading dims are used because with grouped-query attention k/v
    # have fewer heads but every query head still does the full products.
    e, s, ev = int(q_shape[-1]), int(k_shape[-2]), int(v_shape[-1])
    return numel(q_shape[:-1]) * s * (e + ev)


def mha_macs(q_shape, k_shape, qkv_weight_shape) -> int:
    # Fused nn.MultiheadAttention: q from query, k and v from key/value, all E×E, then
    # both attention products (2·B·L·S·E) and the E×E output projection.
    e = int(qkv_weight_shape[-1])
    b_l = numel(q_shape[:-1])
    b_s = numel(k_shape[:-1])
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
        terms = [t.replace("...", ell[n_ell - (len(shp) - (len(t) - 3)) :]) for t, shp in zip(terms, shapes)]
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
    return numel(out_shape) * table.get(int(mode), table[0])
