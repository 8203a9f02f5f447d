"""What torchvision and timm register, kept as a small JSON file per library version.

Importing timm imports torch, torchvision and torch._dynamo: seconds on a quiet machine, tens
of seconds on a busy one. Listing or validating names needs none of that, so the first lookup
writes ``models-<lib>-<version>.json`` (architecture → native image size, published parameter
count) under ``$ARCHBENCH_CACHE_DIR`` (default ``~/.cache/archbench``), and later lookups read
it. The file is keyed by the installed version (read from package metadata, no import), so an
upgrade rebuilds it; a cache that cannot be written is simply not kept.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

INDEX_FORMAT = 1
LIBRARIES = {"tv": "torchvision", "timm": "timm"}


def cache_dir() -> Path:
    return Path(os.environ.get("ARCHBENCH_CACHE_DIR") or Path.home() / ".cache" / "archbench")


def _build_tv() -> dict[str, dict[str, Any]]:
    import torchvision.models as tvm
    from torchvision.models import get_model_weights

    out = {}
    for arch in tvm.list_models(module=tvm):
        img = 299 if arch.startswith("inception") else 224
        try:
            params = get_model_weights(arch).DEFAULT.meta.get("num_params")
        except Exception:  # an architecture without published weights has no metadata
            params = None
        out[arch] = {"img": img, "params": int(params) if params else None}
    return out


def _build_timm() -> dict[str, dict[str, Any]]:
    import timm

    out = {}
    for arch in timm.list_models():
        # The pretrained config ships in timm's code (DINOv2: 518, *_384: 384); reading it downloads nothing.
        try:
            size = timm.get_pretrained_cfg_value(arch, "input_size")
        except Exception:
            size = None
        out[arch] = {"img": int(size[-1]) if size else 224, "params": None}
    return out


@functools.lru_cache(maxsize=None)
def library_index(source: str) -> dict[str, dict[str, Any]]:
    """{architecture: {"img": native size, "params": published count or None}} for ``tv``/``timm``."""
    lib = LIBRARIES[source]
    try:
        version = metadata.version(lib)
    except metadata.PackageNotFoundError:
        version = None
    path = cache_dir() / f"models-{lib}-{version}-f{INDEX_FORMAT}.json"
    if version:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            pass
    index = _build_tv() if source == "tv" else _build_timm()
    if version:
        _write(path, index)
    return index


def _write(path: Path, index: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(index, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError:
        pass  # read-only home: rebuild next time
