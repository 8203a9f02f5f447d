"""Published ImageNet-1k accuracy of exact pretrained weights (``acc_source = reported``).

- torchvision: each weight enum carries its own figures,
  ``weights.meta["_metrics"]["ImageNet-1K"]["acc@1" / "acc@5"]``, measured by torchvision
  with that weight's own transforms; the weight's ``recipe`` link is kept as the reference.
- timm: ``bench/data/reported_accuracy_timm.csv`` — one row per (model, weights tag) with
  top-1, top-5, the resolution and crop they were measured at, and the source of the
  figure. timm's table evaluates some weights at a larger test resolution than their
  default input size (e.g. ``resnet50.a1_in1k`` at 288 px); ``acc_img_size`` says which.

Nothing here runs a model or touches the network. These numbers are what the authors
published; archbench shows them as such and never as measured.
"""

from __future__ import annotations

import csv
import math
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.accuracy.datasets import Unavailable
from bench.errors import UserError

TIMM_TABLE = "reported_accuracy_timm.csv"
TIMM_COLUMNS = ("model", "tag", "top1", "top5", "img_size", "crop_pct", "interpolation", "source")


@dataclass(frozen=True)
class ReferenceRow:
    model: str  # timm architecture name
    tag: str  # timm pretrained tag
    top1: float  # percent, ImageNet-1k validation
    top5: float | None
    img_size: int
    crop_pct: float | None
    interpolation: str
    source: str


@functools.lru_cache(maxsize=1)
def timm_reference_table() -> dict[tuple[str, str], ReferenceRow]:
    # A path beside the package, not importlib.resources: the editable install can make
    # ``bench`` a namespace package when Python starts outside the checkout.
    text = (Path(__file__).resolve().parent.parent / "data" / TIMM_TABLE).read_text(encoding="utf-8")
    rows: dict[tuple[str, str], ReferenceRow] = {}
    reader = csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    if tuple(reader.fieldnames or ()) != TIMM_COLUMNS:
        raise ValueError(f"{TIMM_TABLE}: columns must be {TIMM_COLUMNS}, got {reader.fieldnames}")
    for r in reader:
        row = ReferenceRow(
            model=r["model"],
            tag=r["tag"],
            top1=float(r["top1"]),
            top5=float(r["top5"]) if r["top5"] else None,
            img_size=int(r["img_size"]),
            crop_pct=float(r["crop_pct"]) if r["crop_pct"] else None,
            interpolation=r["interpolation"],
            source=r["source"],
        )
        rows[(row.model, row.tag)] = row
    return rows


def tv_weights(arch: str, tag: str | None):
    """The torchvision weight enum member for ``arch`` (``tag`` = enum name, default DEFAULT)."""
    from torchvision.models import get_model_weights

    try:
        enum = get_model_weights(arch)
    except (ValueError, KeyError):
        raise Unavailable(f"tv:{arch} has no pretrained weights in torchvision") from None
    if not tag:
        return enum.DEFAULT
    try:
        return enum[tag]
    except KeyError:
        names = ", ".join(w.name for w in enum)
        raise UserError(f"tv:{arch} has no weights {tag!r}; torchvision offers: {names}") from None


def timm_default_tag(arch: str) -> str:
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch)
    if cfg is None or not getattr(cfg, "tag", None):
        raise Unavailable(f"timm:{arch} has no pretrained weights in timm")
    return str(cfg.tag)


def reported_accuracy(registry_name: str, weights: str | None = None) -> dict[str, Any]:
    """The published top-1/top-5 (percent) for a model's weights, as row fields."""
    from bench import registry

    spec = registry.get_spec(registry_name)
    if spec.source == "tv":
        w = tv_weights(spec.arch, weights)
        metrics = w.meta.get("_metrics", {}).get("ImageNet-1K")
        # Feature-extractor weights (vgg16 IMAGENET1K_FEATURES) carry NaN: nothing was published.
        if not metrics or math.isnan(float(metrics.get("acc@1", math.nan))):
            raise Unavailable(f"tv:{spec.arch} {w.name}: torchvision publishes no ImageNet-1K accuracy for these weights")
        crop = getattr(w.transforms, "keywords", {}).get("crop_size")
        return {
            "top1": float(metrics["acc@1"]),
            "top5": float(metrics["acc@5"]) if "acc@5" in metrics else None,
            "acc_weights": w.name,
            "acc_img_size": int(crop) if crop else None,
            "acc_ref": f"torchvision {type(w).__name__}.{w.name} metadata; recipe {w.meta.get('recipe', 'n/a')}",
        }
    if spec.source == "timm":
        tag = weights or timm_default_tag(spec.arch)
        row = timm_reference_table().get((spec.arch, tag))
        if row is None:
            raise Unavailable(
                f"no published figure for timm:{spec.arch}.{tag} in bench/data/{TIMM_TABLE} "
                "(add a row with the number's source to report it)"
            )
        return {
            "top1": row.top1,
            "top5": row.top5,
            "acc_weights": tag,
            "acc_img_size": row.img_size,
            "acc_ref": row.source,
        }
    raise Unavailable(
        f"{registry_name}: archbench's own models are built with random weights; no published ImageNet figure applies"
    )
