"""act_peak_mb of models on CPU and on the meta device, twice each: the count must not move.

    .venv/bin/python benchmarks/activation_memory.py [MODEL ...] [--batch N]

Defaults to ViT-S/16 and DeiT-S (the same architecture: their counts must be equal) and
ResNet-50. Prints one line per model and device; nothing here is timed, so a busy machine
changes nothing but how long it takes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench import registry  # noqa: E402
from bench.metrics.flops import create_model_on_meta  # noqa: E402
from bench.metrics.memory import MB, activation_bytes  # noqa: E402

DEFAULT = ["timm:vit_small_patch16_224", "timm:deit_small_patch16_224", "tv:resnet50"]


def act_mb(model: torch.nn.Module, device: str, batch: int, size: int) -> tuple[float, float]:
    x = torch.randn(batch, 3, size, size, device=device)
    with torch.inference_mode():
        peak, total = activation_bytes(lambda: model(x))
    return peak / MB, total / MB


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=DEFAULT)
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args()
    print(f"{'model':34} {'device':6} {'act_peak_mb (run 1, run 2)':30} act_total_mb")
    for name in args.models:
        size = registry.get_spec(name).default_img_size
        for device in ("cpu", "meta"):
            model = (registry.create_model(name) if device == "cpu" else create_model_on_meta(name, size)).eval()
            runs = [act_mb(model, device, args.batch, size) for _ in range(2)]
            print(f"{name:34} {device:6} {runs[0][0]:12.4f} {runs[1][0]:12.4f}     {runs[0][1]:12.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
