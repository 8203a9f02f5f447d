"""Evaluate pretrained or checkpointed weights on labelled images (``acc_source = measured``).

Weights, in order:
1. ``checkpoint: PATH`` — a local state dict (``.pth``/``.pt``/``.bin`` via ``torch.load``
   with ``weights_only``, or ``.safetensors``) loaded strictly into the registry's model.
2. torchvision weights from the torch hub cache (``$TORCH_HOME/hub/checkpoints``).
3. timm weights from the Hugging Face cache (``$HF_HUB_CACHE``) or the torch hub cache.
The cache is checked before anything is built: missing weights skip the cell at once with
the path that was looked for. Only ``download: true`` lets torchvision/timm fetch them.

Preprocessing is each model's own: ``weights.transforms()`` for torchvision, timm's
``resolve_data_config`` + ``create_transform`` for timm (the model's default input size,
not its larger test size), and for archbench's own models a resize of the shorter side to
``img_size / crop_pct``, a centre crop to ``img_size`` and ImageNet mean/std. The task's
``mean``/``std``/``crop_pct``/``interpolation`` override any of these.

Images that cannot be decoded are counted in ``acc_n_corrupt`` and left out of both the
numerator and the denominator; they never stop the cell.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

import torch

from bench.accuracy.datasets import ImageList, Unavailable, deterministic_subset, scan_imagefolder, scan_imagenet
from bench.errors import UserError
from bench.suite import Cell

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------- weights


def torch_hub_checkpoint(url: str) -> Path:
    """Where torch.hub keeps (or would keep) the file downloaded from ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def _hf_cached_file(repo_id: str, filenames: list[str]) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    for name in filenames:
        found = try_to_load_from_cache(repo_id, name, cache_dir=str(hf_cache_dir()))
        if isinstance(found, str) and os.path.isfile(found):
            return found
    return None


def _load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, zip errors, unsupported objects: all a bad file
        raise UserError(f"checkpoint {path} could not be read as a state dict: {type(err).__name__}: {str(err)[:200]}") from None
    # Training scripts wrap the weights: {"state_dict": …}, {"model": …}; DataParallel adds "module.".
    for key in ("state_dict", "model", "model_state_dict", "module"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"checkpoint {path} holds no state dict (a mapping of parameter names to tensors)")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def load_checkpoint(model: torch.nn.Module, path: str | Path, model_name: str) -> None:
    """Strictly load a state dict; a mismatch becomes one message listing what does not fit."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise Unavailable(f"checkpoint not found: {p}")
    sd = _load_state_dict_file(p)
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in sd and sd[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} of another shape (e.g. {shapes[0]})")
        hint = ""
        if shapes and not missing and not unexpected:
            hint = " If only the classifier differs, set the model's kwargs (e.g. num_classes) to the checkpoint's."
        raise UserError(f"checkpoint {p} does not fit {model_name}: " + "; ".join(parts) + "." + hint)
    model.load_state_dict(sd, strict=True)


def _tv_pretrained(arch: str, tag: str | None, download: bool, kwargs: dict[str, Any]):
    from torchvision import models as tvm

    from bench.accuracy.reported import tv_weights

    w = tv_weights(arch, tag)
    cached = torch_hub_checkpoint(w.url)
    if not cached.is_file() and not download:
        raise Unavailable(
            f"weights tv:{arch} {w.name} are not in the torch hub cache ({cached}); place the file there or set download: true"
        )
    # With the file in the cache, torchvision loads it from disk and never opens a connection.
    model = tvm.get_model(arch, weights=w, **kwargs)
    return model, w.transforms(), f"{w.name}"


def _timm_pretrained(arch: str, tag: str | None, download: bool, kwargs: dict[str, Any]):
    import timm
    from timm.models import get_pretrained_cfg

    from bench.accuracy.reported import timm_default_tag

    tag = tag or timm_default_tag(arch)
    try:
        cfg = get_pretrained_cfg(f"{arch}.{tag}")
    except RuntimeError:
        raise UserError(f"timm:{arch} has no pretrained weights tagged {tag!r} (see timm.list_pretrained('{arch}*'))") from None
    full = f"{arch}.{tag}"
    if download:
        model = timm.create_model(full, pretrained=True, **kwargs)
    else:
        looked: list[str] = []
        found = None
        if cfg.hf_hub_id:
            names = [cfg.hf_hub_filename] if cfg.hf_hub_filename else ["model.safetensors", "pytorch_model.bin"]
            found = _hf_cached_file(cfg.hf_hub_id, names)
            looked.append(f"{cfg.hf_hub_id} in {hf_cache_dir()}")
        if found is None and cfg.url:
            path = torch_hub_checkpoint(cfg.url)
            found = str(path) if path.is_file() else None
            looked.append(str(path))
        if found is None:
            where = " and ".join(looked)
            raise Unavailable(f"weights timm:{full} are not cached (looked for {where}); set download: true to fetch them")
        # A file override makes timm read that file (and convert it as usual), never the hub.
        model = timm.create_model(full, pretrained=True, pretrained_cfg_overlay={"file": found}, **kwargs)
    return model, None, tag


def _data_config_transform(model: torch.nn.Module):
    from timm.data import create_transform, resolve_data_config

    cfg = resolve_data_config({}, model=model)
    return create_transform(**cfg, is_training=False), cfg


def _build_transform(img_size: int, crop_pct: float, interpolation: str, mean, std) -> Callable:
    from torchvision import transforms as T

    mode = T.InterpolationMode(interpolation)
    return T.Compose(
        [
            T.Resize(int(math.floor(img_size / crop_pct)), interpolation=mode),
            T.CenterCrop(img_size),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )


def _preprocess_config(transform: Any, timm_cfg: dict[str, Any] | None, img_size: int) -> dict[str, Any]:
    """The preprocessing in use, as plain numbers (for overrides and for the row)."""
    if timm_cfg is not None:
        return {
            "img_size": int(timm_cfg["input_size"][-1]),
            "crop_pct": float(timm_cfg.get("crop_pct") or 1.0),
            "interpolation": str(timm_cfg.get("interpolation") or "bilinear"),
            "mean": tuple(timm_cfg["mean"]),
            "std": tuple(timm_cfg["std"]),
        }
    if transform is not None and hasattr(transform, "crop_size"):  # torchvision ImageClassification
        crop = int(transform.crop_size[0])
        resize = int(transform.resize_size[0])
        return {
            "img_size": crop,
            "crop_pct": crop / resize,
            "interpolation": transform.interpolation.value,
            "mean": tuple(transform.mean),
            "std": tuple(transform.std),
        }
    return {"img_size": img_size, "crop_pct": 0.875, "interpolation": "bilinear", "mean": IMAGENET_MEAN, "std": IMAGENET_STD}


def load_for_eval(cell: Cell, num_classes: int | None) -> tuple[torch.nn.Module, Callable, str, int]:
    """(model in eval mode, preprocessing, weights description, crop size) for a measured cell."""
    from bench import registry

    opts = cell.options
    spec = registry.get_spec(cell.registry_name)
    kwargs = dict(cell.model_kwargs)
    checkpoint = opts.get("checkpoint")
    transform = None
    timm_cfg = None
    if checkpoint:
        if num_classes is not None:
            kwargs.setdefault("num_classes", num_classes)
        model = registry.create_model(cell.registry_name, img_size=cell.img_size, **kwargs)
        load_checkpoint(model, checkpoint, cell.model)
        desc = f"checkpoint {checkpoint}"
        if spec.source == "tv":
            from bench.accuracy.reported import tv_weights

            try:
                transform = tv_weights(spec.arch, opts.get("weights")).transforms()
            except Unavailable:
                transform = None
        elif spec.source == "timm":
            transform, timm_cfg = _data_config_transform(model)
    elif spec.source == "tv":
        model, transform, desc = _tv_pretrained(spec.arch, opts.get("weights"), bool(opts.get("download")), kwargs)
    elif spec.source == "timm":
        model, _, desc = _timm_pretrained(spec.arch, opts.get("weights"), bool(opts.get("download")), kwargs)
        transform, timm_cfg = _data_config_transform(model)
    else:
        raise UserError(f"{cell.model} has no pretrained weights: give it a checkpoint (checkpoint: PATH) to measure")

    pre = _preprocess_config(transform, timm_cfg, cell.img_size)
    overrides = {k: opts.get(k) for k in ("crop_pct", "interpolation", "mean", "std") if opts.get(k) is not None}
    if opts.get("img_size") is not None:
        overrides["img_size"] = int(opts["img_size"])
    if transform is None or overrides:
        pre.update(overrides)
        transform = _build_transform(pre["img_size"], pre["crop_pct"], pre["interpolation"], pre["mean"], pre["std"])
    return model.eval(), transform, desc, int(pre["img_size"])


# ---------------------------------------------------------------- images


class ImageFiles(torch.utils.data.Dataset):
    """(tensor or None, label, relative path): None marks an image that could not be decoded."""

    def __init__(self, root: Path, items: list[tuple[str, int]], transform: Callable):
        self.root, self.items, self.transform = root, items, transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        from PIL import Image

        rel, label = self.items[i]
        try:
            with Image.open(self.root / rel) as im:
                x = self.transform(im.convert("RGB"))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            # Unreadable, truncated or not an image at all: counted, not fatal.
            return None, label, rel
        return x, label, rel


def collate_skip_corrupt(batch):
    good = [(x, y) for x, y, _ in batch if x is not None]
    bad = [rel for x, _, rel in batch if x is None]
    if not good:
        return None, None, bad
    return torch.stack([x for x, _ in good]), torch.tensor([y for _, y in good]), bad


def scan(cell: Cell) -> ImageList:
    opts = cell.options
    if opts["dataset"] == "imagefolder":
        return scan_imagefolder(opts.get("data_dir"))
    return scan_imagenet(opts.get("data_dir"), opts.get("label_file"))


@torch.inference_mode()
def run_measured(cell: Cell, progress: bool = False) -> dict[str, Any]:
    """Top-1/top-5 (percent) of the cell's weights on its image folder."""
    opts = cell.options
    images = scan(cell)  # first: a missing folder skips before any weights are touched
    items = deterministic_subset(images.items, opts.get("limit"))
    n_classes = images.num_classes if opts["dataset"] == "imagefolder" else None
    model, transform, desc, crop = load_for_eval(cell, n_classes)
    device = cell.device
    model = model.to(device)
    loader = torch.utils.data.DataLoader(
        ImageFiles(images.root, items, transform),
        batch_size=cell.batch_size,
        shuffle=False,
        num_workers=int(opts.get("workers") or 0),
        collate_fn=collate_skip_corrupt,
    )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        interval = 0.5 if sys.stderr.isatty() else 15.0  # a worker's stderr is a log file
        bar = tqdm(
            total=len(items),
            desc=f"{cell.model} eval",
            unit="img",
            leave=False,
            file=sys.stderr,
            dynamic_ncols=True,
            mininterval=interval,
        )
    n = correct1 = correct5 = 0
    corrupt: list[str] = []
    outputs: int | None = None
    t0 = time.perf_counter()
    for xb, yb, bad in loader:
        corrupt += bad
        if xb is not None:
            logits = model(xb.to(device))
            if outputs is None:
                outputs = int(logits.shape[1])
                _check_head(outputs, images, opts["dataset"], cell.model)
            yb = yb.to(device)
            n += len(yb)
            correct1 += int((logits.argmax(1) == yb).sum())
            if outputs >= 5:
                correct5 += int((logits.topk(5, dim=1).indices == yb[:, None]).any(1).sum())
        if bar is not None:
            bar.update(len(bad) + (0 if xb is None else len(xb)))
            if n:
                bar.set_postfix_str(f"top-1 {100.0 * correct1 / n:.2f}%", refresh=False)
    if bar is not None:
        bar.close()
    if n == 0:
        raise UserError(f"no image in {images.root} could be decoded ({len(corrupt)} corrupt, e.g. {corrupt[:3]})")
    return {
        "top1": 100.0 * correct1 / n,
        "top5": 100.0 * correct5 / n if outputs and outputs >= 5 else None,
        "acc_n_images": n,
        "acc_n_corrupt": len(corrupt),
        "acc_corrupt_files": corrupt[:20],
        "acc_n_available": images.n_total,
        "acc_weights": desc,
        "acc_img_size": crop,
        "eval_time_s": time.perf_counter() - t0,
    }


def _check_head(outputs: int, images: ImageList, dataset: str, model: str) -> None:
    if dataset == "imagefolder" and outputs != images.num_classes:
        names = ", ".join(images.class_names[:3]) + (", …" if images.num_classes > 3 else "")
        raise UserError(
            f"class count mismatch: {images.root} has {images.num_classes} classes ({names}) but {model} outputs "
            f"{outputs}. For ImageNet wnid folders use dataset: imagenet; otherwise measure a checkpoint trained on these classes."
        )
    if dataset == "imagenet" and outputs != images.num_classes:
        raise UserError(f"class count mismatch: ImageNet-1k labels need 1000 outputs but {model} outputs {outputs}")
