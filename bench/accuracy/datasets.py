"""Datasets for the accuracy tasks: small tensors for training, image lists for evaluation.

Training data (``scratch``) is held as tensors in memory:
- ``digits``: scikit-learn's bundled handwritten digits (1,797 real 8×8 grey images,
  10 classes, no download), scaled to [0, 1], upsampled to ``img_size`` with bilinear
  interpolation and repeated to 3 channels. The held-out split (20 %, stratified) is fixed
  by ``split_seed`` and is the same for every model and every training seed.
- ``cifar10``: the python-pickle release (``cifar-10-batches-py``) read from ``data_dir``;
  fetched with torchvision only when the suite says ``download: true``.

Evaluation data (``measured``) is a list of (path, label) read lazily:
- ``imagefolder``: one sub-folder per class, classes in sorted order (torchvision's rule).
- ``imagenet``: either wnid sub-folders (``n01440764/…``) or a flat validation folder with
  a label file; labels follow the standard 1000-class order (sorted wnids), which is the
  order of every ImageNet-1k head in torchvision and timm.
A ``limit`` takes the same subset on every machine: images ordered by a hash of their
relative path, first ``limit`` kept.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp", ".gif")


class Unavailable(Exception):
    """Data or weights a cell needs are not on this machine: the cell is skipped, not failed."""


@dataclass
class TensorSplit:
    """Images as a tensor (N, C, H, W) — float in [0, 1] or uint8 — and int64 labels."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class TrainData:
    name: str
    train: TensorSplit
    test: TensorSplit
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    img_size: int


def _stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    train_idx, test_idx = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=seed)
    return np.sort(train_idx), np.sort(test_idx)


def _resize(x: torch.Tensor, img_size: int) -> torch.Tensor:
    if x.shape[-1] == img_size and x.shape[-2] == img_size:
        return x
    return F.interpolate(x, size=(img_size, img_size), mode="bilinear", align_corners=False)


def _channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    xf = x.float() / 255.0 if x.dtype == torch.uint8 else x
    mean = xf.mean(dim=(0, 2, 3))
    std = xf.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def load_digits(img_size: int = 32, split_seed: int = 0, test_fraction: float = 0.2) -> TrainData:
    """scikit-learn digits as 3-channel ``img_size``² tensors with a fixed stratified split."""
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)  # values 0..16
    images = _resize(images, img_size).clamp(0.0, 1.0).repeat(1, 3, 1, 1).contiguous()
    y = torch.from_numpy(bunch.target.astype(np.int64))
    train_idx, test_idx = _stratified_split(bunch.target, test_fraction, split_seed)
    train = TensorSplit(images[train_idx], y[train_idx])
    test = TensorSplit(images[test_idx], y[test_idx])
    mean, std = _channel_stats(train.x)
    return TrainData("digits", train, test, 10, mean, std, img_size)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as fh:
        entry = pickle.load(fh, encoding="latin1")
    data = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    return data, labels


def load_cifar10(data_dir: str | None, img_size: int = 32, download: bool = False) -> TrainData:
    """CIFAR-10 from ``data_dir/cifar-10-batches-py``; Unavailable when absent and not downloading."""
    if not data_dir:
        raise Unavailable("dataset cifar10 needs data_dir (the folder holding cifar-10-batches-py)")
    root = Path(data_dir).expanduser()
    folder = root / "cifar-10-batches-py"
    if not folder.is_dir() and download:
        from torchvision.datasets import CIFAR10

        root.mkdir(parents=True, exist_ok=True)
        CIFAR10(str(root), train=True, download=True)
    if not folder.is_dir():
        raise Unavailable(f"CIFAR-10 not found: {folder} does not exist (set download: true to fetch it)")
    names = [f"data_batch_{i}" for i in range(1, 6)]
    missing = [n for n in names + ["test_batch"] if not (folder / n).is_file()]
    if missing:
        raise Unavailable(f"CIFAR-10 at {folder} is incomplete: missing {', '.join(missing)}")
    try:
        parts = [_read_cifar_batch(folder / n) for n in names]
        x_test, y_test = _read_cifar_batch(folder / "test_batch")
    except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as err:
        raise UserError(f"CIFAR-10 at {folder} could not be read: {err}") from None
    x_train = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    y_train = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    train = TensorSplit(x_train, y_train)  # uint8, resized per batch (keeps memory at 150 MB)
    test = TensorSplit(torch.from_numpy(x_test), torch.from_numpy(y_test))
    mean, std = _channel_stats(train.x)
    return TrainData("cifar10", train, test, 10, mean, std, img_size)


def to_model_input(x: torch.Tensor, data: TrainData) -> torch.Tensor:
    """A batch of stored images → normalised float tensor at the task's image size."""
    xf = x.float() / 255.0 if x.dtype == torch.uint8 else x
    xf = _resize(xf, data.img_size)
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)
    return (xf - mean) / std


def stratified_fraction(y: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Indices of ``fraction`` of the samples, the same share from every class (at least one each)."""
    if fraction >= 1.0:
        return torch.arange(len(y))
    g = torch.Generator().manual_seed(seed)
    keep: list[torch.Tensor] = []
    for c in torch.unique(y).tolist():
        idx = torch.nonzero(y == c).flatten()
        n = max(1, int(round(fraction * len(idx))))
        keep.append(idx[torch.randperm(len(idx), generator=g)[:n]])
    return torch.sort(torch.cat(keep)).values


# ---------------------------------------------------------------- evaluation image lists


@dataclass
class ImageList:
    """Labelled image files to evaluate, in a fixed order."""

    root: Path
    items: list[tuple[str, int]]  # (path relative to root, class index)
    num_classes: int  # classes the labels index into (1000 for ImageNet)
    class_names: list[str]
    n_total: int  # images found before ``limit``


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _check_dir(path: str | None, what: str) -> Path:
    if not path:
        raise Unavailable(f"no data_dir given for the {what} (set data_dir in the suite or pass --data PATH)")
    p = Path(path).expanduser()
    if not p.exists():
        raise Unavailable(f"data path does not exist: {p}")
    if not p.is_dir():
        raise UserError(f"data path is not a folder: {p} ({what} expects a folder of images)")
    return p


def _files_under(folder: Path) -> list[str]:
    out = []
    for dirpath, _dirs, files in os.walk(folder, followlinks=True):
        for f in files:
            if _is_image(f):
                out.append(os.path.relpath(os.path.join(dirpath, f), folder))
    return sorted(out)


def _class_dirs(root: Path) -> list[str]:
    return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))


def scan_imagefolder(data_dir: str | None) -> ImageList:
    """Class sub-folders (sorted names → indices 0..C-1), images anywhere below each."""
    root = _check_dir(data_dir, "ImageFolder dataset")
    classes = _class_dirs(root)
    if not classes:
        raise UserError(f"ImageFolder {root} has no class sub-folders: expected ROOT/<class>/<image>.jpg")
    items: list[tuple[str, int]] = []
    for i, c in enumerate(classes):
        items += [(os.path.join(c, f), i) for f in _files_under(root / c)]
    if not items:
        raise UserError(
            f"ImageFolder {root} has {len(classes)} class folders but no images ({', '.join(IMAGE_EXTENSIONS[:4])}, …)"
        )
    return ImageList(root, items, len(classes), classes, len(items))


def imagenet_synsets() -> list[str]:
    """The 1000 ImageNet-1k wnids in class-index order (shipped with timm)."""
    from timm.data import ImageNetInfo

    return list(ImageNetInfo("imagenet-1k").label_names())


def _parse_label(value: str, wnid_index: dict[str, int]) -> int | None:
    token = value.strip().split()[0] if value.strip() else ""
    if token in wnid_index:
        return wnid_index[token]
    if token.lstrip("-").isdigit():
        return int(token)
    return None


def read_label_file(path: str | Path, num_classes: int = 1000) -> dict[str, int]:
    """``filename label`` per line (space, tab or comma separated) → {file stem: class index}.

    ``label`` is a class index 0..999 or a wnid (``n01440764``); a Kaggle
    ``LOC_val_solution.csv`` (``ImageId,PredictionString``) also works, its first wnid is
    the label. Keys are file names without extension, so ``x.JPEG`` and ``x`` both match.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise Unavailable(f"label file does not exist: {p}")
    wnid_index = {w: i for i, w in enumerate(imagenet_synsets())}
    labels: dict[str, int] = {}
    with open(p, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        sep = "," if "," in line else None
        fields = line.split(sep, 1) if sep else line.split(None, 1)
        if len(fields) < 2:
            raise UserError(
                f"label file {p}, line {lineno}: expected 'filename label', got {line.strip()[:60]!r}. "
                "A file with one number per line (the devkit's ILSVRC2012_validation_ground_truth.txt) "
                "uses devkit IDs, not the class order of the models: give 'filename label' pairs instead."
            )
        label = _parse_label(fields[1], wnid_index)
        if label is None:
            if lineno == 1:  # a header such as ImageId,PredictionString
                continue
            raise UserError(
                f"label file {p}, line {lineno}: label {fields[1].strip()[:30]!r} is neither a class index nor an ImageNet wnid"
            )
        if not 0 <= label < num_classes:
            raise UserError(f"label file {p}, line {lineno}: class index {label} is outside 0..{num_classes - 1}")
        labels[Path(fields[0].strip()).stem] = label
    if not labels:
        raise UserError(f"label file {p} has no labels")
    return labels


def scan_imagenet(data_dir: str | None, label_file: str | None) -> ImageList:
    """ImageNet validation images: wnid sub-folders, or a flat folder plus ``label_file``."""
    root = _check_dir(data_dir, "ImageNet validation set")
    synsets = imagenet_synsets()
    wnid_index = {w: i for i, w in enumerate(synsets)}
    subdirs = _class_dirs(root)
    items: list[tuple[str, int]] = []
    if subdirs and not label_file:
        unknown = [d for d in subdirs if d not in wnid_index]
        if unknown:
            raise UserError(
                f"ImageNet folder {root}: sub-folders must be ImageNet wnids (n01440764, …); "
                f"{len(unknown)} are not, e.g. {unknown[:3]}. For other classes use dataset: imagefolder."
            )
        for d in subdirs:
            items += [(os.path.join(d, f), wnid_index[d]) for f in _files_under(root / d)]
    else:
        if not label_file:
            raise UserError(
                f"ImageNet folder {root} has no wnid sub-folders, so it needs label_file: "
                "a text file of 'filename label' lines (label = class index 0..999 or wnid)"
            )
        lf = Path(label_file).expanduser()
        if not lf.is_absolute() and not lf.exists():
            lf = root / lf  # a relative label file may sit inside the data folder
        labels = read_label_file(lf, len(synsets))
        files = _files_under(root)
        if not files:
            raise UserError(f"ImageNet folder {root} has no images")
        unlabelled = [f for f in files if Path(f).stem not in labels]
        if len(unlabelled) == len(files):
            raise UserError(
                f"label file {lf} does not match {root}: none of its {len(labels)} names matches any of the "
                f"{len(files)} images (e.g. image {Path(files[0]).name!r}, label entry {next(iter(labels))!r})"
            )
        if unlabelled:
            raise UserError(
                f"label file {lf} does not match {root}: {len(unlabelled)} of {len(files)} images have no label "
                f"(e.g. {unlabelled[0]!r})"
            )
        items = [(f, labels[Path(f).stem]) for f in files]
    if not items:
        raise UserError(f"ImageNet folder {root} has no images")
    return ImageList(root, items, len(synsets), synsets, len(items))


def deterministic_subset(items: list[tuple[str, int]], limit: int | None) -> list[tuple[str, int]]:
    """The first ``limit`` images by SHA-1 of their relative path, then back in path order.

    Depends only on the file names, so the same images are chosen on every machine and
    every run, and spread over all classes rather than the first few folders.
    """
    if limit is None or limit >= len(items):
        return list(items)
    ranked = sorted(items, key=lambda it: hashlib.sha1(it[0].replace(os.sep, "/").encode()).hexdigest())
    return sorted(ranked[:limit])
