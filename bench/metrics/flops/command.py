"""``archbench flops MODEL [--img-size N] [--json]``: params and GMACs of one model, printed."""

from __future__ import annotations

import json
from typing import Any

from bench.metrics.flops.convention import FLOP_CONVENTION
from bench.metrics.flops.counter import FlopReport, count_flops
from bench.metrics.flops.meta import create_model_on_meta

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
        print(json.dumps(_as_json(model_name, img, params, sizes, report), indent=None))
    else:
        rows = _text_rows(model_name, spec.family, img, params, sizes, report)
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            print(f"{k:<{width}}  {v}")
    return 1 if report.uncounted_matmul_ops else 0


def _as_json(model_name: str, img: int, params: Any, sizes: dict[str, float], report: FlopReport) -> dict[str, Any]:
    return {
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


def _text_rows(
    model_name: str, family: str, img: int, params: Any, sizes: dict[str, float], report: FlopReport
) -> list[tuple[str, str]]:
    rows = [
        ("model", f"{model_name}  ({family})"),
        ("input", f"1×3×{img}×{img}, forward only, eval"),
        ("params", f"{params.params_m:.3f} M  ({params.total:,} total, {params.trainable:,} trainable)"),
        ("weights", f"{sizes['fp32']:.1f} MiB fp32, {sizes['bf16']:.1f} MiB bf16/fp16"),
        ("GMACs", f"{report.gmacs:.4f}  [{report.counter}]   (GFLOPs = 2×GMACs = {report.gflops:.4f})"),
    ]
    if report.gmacs_check is not None:
        verdict = "DISAGREE" if report.disagree else "agree"
        rows.append(
            (
                "check",
                f"{report.gmacs_check:.4f}  [{report.check_counter}]  {verdict} ({100 * (report.rel_diff or 0):.3f}% apart)",
            )
        )
    rows.append(("by operator", _top(report.by_operator, report.gmacs)))
    rows.append(("uncounted", ", ".join(report.uncounted_ops) or "none"))
    if report.gmacs_check is not None:
        rows.append(("uncounted (check)", ", ".join(report.uncounted_ops_check) or "none"))
    if report.uncounted_matmul_ops:
        rows.append(("MISSED", "matrix-class ops not counted: " + ", ".join(report.uncounted_matmul_ops)))
    for note in report.notes:
        rows.append(("note", note))
    rows.append(
        (
            "convention",
            "MACs (1 multiply-add = 1), batch 1; norms, activations, pooling, element-wise not counted; see docs/flops.md",
        )
    )
    return rows
