"""Model registry: one namespace over archbench's own models, torchvision and timm.

Names are ``source:arch`` — ``tv:resnet50``, ``timm:vit_tiny_patch16_224``, ``test:cnn``,
``archbench:internimage_t``. Patterns are fnmatch globs over those names
(``timm:vit_*_patch16_224``). Every model carries a family tag (``cnn``, ``mobile``,
``vit``, ``hybrid``) decided by the rules in :data:`FAMILY_RULES`, so tables and plots
can colour by family. Models are always built with random weights unless a caller
asks for pretrained ones explicitly: speed never needs a download.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from bench.axes import FAMILIES
from bench.errors import UserError

# First match wins; patterns are matched against the architecture name (after the prefix).
# Why these tags: "mobile" = CNNs designed around depthwise/grouped convs for edge devices;
# "hybrid" = convolution and attention (or deformable sampling) mixed in one backbone;
# Swin, DINOv2 and EVA are transformers over patches, so "vit".
FAMILY_RULES: list[tuple[str, str]] = [
    ("mobilevit*", "hybrid"),
    ("mobile*", "mobile"),
    ("efficientnet*", "mobile"),
    ("tf_efficientnet*", "mobile"),
    ("mnasnet*", "mobile"),
    ("shufflenet*", "mobile"),
    ("squeezenet*", "mobile"),
    ("ghostnet*", "mobile"),
    ("lcnet*", "mobile"),
    ("fbnet*", "mobile"),
    ("mixnet*", "mobile"),
    ("tinynet*", "mobile"),
    ("repvit*", "mobile"),
    ("internimage*", "hybrid"),
    ("coat*", "hybrid"),
    ("levit*", "hybrid"),
    ("convit*", "hybrid"),
    ("maxvit*", "hybrid"),
    ("coatnet*", "hybrid"),
    ("fastvit*", "hybrid"),
    ("efficientformer*", "hybrid"),
    ("edgenext*", "hybrid"),
    ("vit_*_r[0-9]*", "hybrid"),  # ViTs on a ResNet stem (timm's R26/R50 hybrids)
    ("vit_*resnet*", "hybrid"),
    ("vit_*_r_s[0-9]*", "hybrid"),  # vit_tiny_r_s16_p8: ResNet stem, stride 16
    ("vit_*", "vit"),
    ("deit*", "vit"),
    ("swin*", "vit"),
    ("eva*", "vit"),
    ("beit*", "vit"),
    ("cait*", "vit"),
    ("xcit*", "vit"),
    ("pit_*", "vit"),
    ("twins*", "vit"),
    ("flexivit*", "vit"),
    ("*dinov2*", "vit"),
    ("*", "cnn"),
]


def family_for(arch: str) -> str:
    for pattern, family in FAMILY_RULES:
        if fnmatch.fnmatchcase(arch, pattern):
            return family
    return "cnn"


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one model without building it."""

    name: str  # "source:arch"
    source: str  # "tv", "timm", "test", "archbench"
    arch: str
    family: str
    default_img_size: int = 224
    num_classes: int = 1000
    description: str = ""
    builder: Callable[..., Any] | None = field(default=None, compare=False, repr=False)


# Models defined inside archbench (bench/models/catalog.py, loaded on first use) and any a
# caller adds with register().
_LOCAL: dict[str, ModelSpec] = {}
_LOAD_LOCK = threading.Lock()
_CATALOG_LOADED = False


def register(
    name: str,
    builder: Callable[..., Any],
    family: str,
    default_img_size: int = 224,
    num_classes: int = 1000,
    description: str = "",
) -> ModelSpec:
    """Add a local model. Registering a name again with the same builder is a no-op; with a
    different one it is an error (two models must never hide behind one name)."""
    source, _, arch = name.partition(":")
    if not arch or source in ("tv", "timm"):
        raise ValueError(f"local model names look like 'test:x' or 'archbench:x', got {name!r}")
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    spec = ModelSpec(name, source, arch, family, default_img_size, num_classes, description, builder)
    old = _LOCAL.get(name)
    if old is not None and (old.builder is not builder or old != spec):
        raise ValueError(f"model {name!r} is already registered ({old.description or old.builder})")
    _LOCAL[name] = spec
    return spec


def _load_catalog() -> None:
    """Register every entry of bench/models/catalog.py once; a duplicate name is an error."""
    import importlib

    from bench.models.catalog import CATALOG

    seen: set[str] = set()
    for e in CATALOG:
        if e.name in seen:
            raise ValueError(f"bench/models/catalog.py lists {e.name!r} twice")
        seen.add(e.name)
        module, _, attr = e.builder.partition(":")
        builder = getattr(importlib.import_module(module), attr)
        register(e.name, builder, e.family, e.default_img_size, e.num_classes, e.description)


@functools.lru_cache(maxsize=1)
def _tv_names() -> tuple[str, ...]:
    from bench.model_index import library_index

    return tuple(sorted(library_index("tv")))


@functools.lru_cache(maxsize=1)
def _timm_names() -> tuple[str, ...]:
    from bench.model_index import library_index

    return tuple(sorted(library_index("timm")))


def _local_specs() -> dict[str, ModelSpec]:
    global _CATALOG_LOADED
    if not _CATALOG_LOADED:
        with _LOAD_LOCK:
            if not _CATALOG_LOADED:
                _load_catalog()
                _CATALOG_LOADED = True
    return _LOCAL


def _tv_spec(arch: str) -> ModelSpec:
    from bench.model_index import library_index

    return ModelSpec(f"tv:{arch}", "tv", arch, family_for(arch), library_index("tv")[arch]["img"])


def _timm_spec(arch: str) -> ModelSpec:
    from bench.model_index import library_index

    return ModelSpec(f"timm:{arch}", "timm", arch, family_for(arch), library_index("timm")[arch]["img"])


def published_params(name: str) -> int | None:
    """A parameter count the library publishes as data (torchvision weight metadata), else None."""
    from bench.model_index import library_index

    source, _, arch = name.partition(":")
    if source not in ("tv", "timm"):
        return None
    return (library_index(source).get(arch) or {}).get("params")


def get_spec(name: str) -> ModelSpec:
    """Look up one model by name; raises UserError naming the closest names when unknown.

    A bare architecture name (no ``source:`` prefix) that exactly one source knows resolves to
    that model, and stderr says which; one that several sources know is refused with the choices.
    """
    source, sep, arch = name.partition(":")
    if source not in ("tv", "timm"):
        local = _local_specs()
        if name in local:
            return local[name]
    if sep and source == "tv" and arch in _tv_names():
        return _tv_spec(arch)
    if sep and source == "timm" and arch in _timm_names():
        return _timm_spec(arch)
    if not sep and name:
        hits = [n for n in list_names(name) if n.split(":", 1)[1] == name]
        if len(hits) == 1:
            _say_resolved(name, hits[0])
            return get_spec(hits[0])
        if hits:
            raise UserError(
                f"model {name!r} is ambiguous: {', '.join(hits)}. Names carry a source prefix: "
                "tv:NAME, timm:NAME, test:NAME, archbench:NAME."
            )
    near = closest_names(name)
    hint = f" Did you mean: {', '.join(near)}?" if near else ""
    if not sep:
        hint += " Names carry a source prefix: tv:NAME, timm:NAME, test:NAME, archbench:NAME."
    raise UserError(f"unknown model {name!r}.{hint} See `archbench list PATTERN`.")


_SAID: set[str] = set()


def _say_resolved(bare: str, full: str) -> None:
    import sys

    if bare not in _SAID:
        _SAID.add(bare)
        print(f"archbench: {bare!r} resolved to {full} (the only registered model of that name)", file=sys.stderr)


def closest_names(name: str, n: int = 5) -> list[str]:
    """Registered names closest in spelling to ``name``, across every source.

    Compared both as full names and by architecture part, so ``resnet5`` finds ``tv:resnet50``
    and ``timm:resnet50``, and ``tv:resnet5`` puts ``tv:resnet50`` first.
    """
    import difflib

    if not name:
        return []
    names = list_names("*")
    source, sep, arch = name.partition(":")
    query = arch if sep else name
    by_arch: dict[str, list[str]] = {}
    for full in names:
        by_arch.setdefault(full.split(":", 1)[1], []).append(full)
    arch_hits = difflib.get_close_matches(query, list(by_arch), n=n, cutoff=0.6)
    out: list[str] = []
    for a in arch_hits:
        fulls = by_arch[a]
        # The source the user typed first, then the others.
        fulls = sorted(fulls, key=lambda f: f.split(":", 1)[0] != source)
        out += fulls
    return out[:n]


def list_names(pattern: str = "*") -> list[str]:
    """All registered names matching an fnmatch glob, local models first."""
    source = pattern.split(":", 1)[0] if ":" in pattern else None
    # archbench's own models import torch to register; a tv:/timm: pattern never needs them.
    names = [] if source in ("tv", "timm") else list(_local_specs())
    if source in (None, "tv") or fnmatch.fnmatchcase("tv", source or "tv"):
        names += [f"tv:{a}" for a in _tv_names()]
    if source in (None, "timm") or fnmatch.fnmatchcase("timm", source or "timm"):
        names += [f"timm:{a}" for a in _timm_names()]
    if ":" not in pattern:
        # A bare pattern matches the architecture part in any source.
        return [n for n in names if fnmatch.fnmatchcase(n.split(":", 1)[1], pattern)]
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def list_models(pattern: str = "*") -> list[ModelSpec]:
    return [get_spec(n) for n in list_names(pattern)]


def create_model(name: str, img_size: int | None = None, pretrained: bool = False, **kwargs: Any):
    """Build a model in eval mode with random weights (unless ``pretrained``).

    ``img_size`` is passed to architectures whose shape depends on it (ViT position
    embeddings, Swin windows); convolutional nets accept any size and ignore it.
    """
    spec = get_spec(name)
    if spec.source == "tv":
        import torchvision.models as tvm

        if img_size and img_size != spec.default_img_size and spec.arch.startswith(("vit_", "swin")):
            if spec.arch.startswith("vit_"):
                kwargs.setdefault("image_size", img_size)
        weights = "DEFAULT" if pretrained else None
        if spec.arch == "googlenet" and not pretrained:
            # Its auxiliary heads never run in eval mode; torchvision's published 6.6 M excludes them.
            kwargs.setdefault("aux_logits", False)
        model = tvm.get_model(spec.arch, weights=weights, **kwargs)
    elif spec.source == "timm":
        import timm

        model = None
        if img_size and img_size != spec.default_img_size:
            try:
                model = timm.create_model(spec.arch, pretrained=pretrained, img_size=img_size, **kwargs)
            except TypeError:
                model = None  # convolutional nets take no img_size: any input size works
        if model is None:
            model = timm.create_model(spec.arch, pretrained=pretrained, **kwargs)
    else:
        if pretrained:
            raise UserError(f"{name} has no pretrained weights")
        if img_size and "img_size" in _accepted_kwargs(spec.builder):
            kwargs.setdefault("img_size", img_size)
        assert spec.builder is not None  # every local model is registered with one
        model = spec.builder(**kwargs)
    return model.eval()


def _accepted_kwargs(fn: Callable[..., Any] | None) -> set[str]:
    import inspect

    if fn is None:
        return set()
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Move every parameter to the meta device the moment a module registers it.

    For builders that compute with tensors (``.tolist()``, ``.item()``) and so cannot run
    under ``torch.device("meta")``: they run on the CPU, but each weight is replaced by a
    meta tensor before any initialiser touches it, so nothing large is ever filled.
    """
    from torch import nn

    original = nn.Module.register_parameter

    def register(self, name, param):
        if param is not None and type(param) is nn.Parameter and param.device.type != "meta":
            param = nn.Parameter(param.detach().to("meta"), requires_grad=param.requires_grad)
        original(self, name, param)

    nn.Module.register_parameter = register  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]


def build_on_meta(model: str | Callable[[], Any], img_size: int | None = None, **kwargs: Any) -> Any:
    """Build a model with every weight on the meta device: shapes only, no memory, no init time.

    ``model`` is a registry name (built by :func:`create_model` with ``img_size`` and
    ``kwargs``) or any zero-argument builder. First under ``torch.device("meta")``; builders
    that compute with tensors while constructing (torchvision's RegNet calls ``.tolist()``)
    fail there and are rerun on the CPU with each parameter moved to meta as it is registered.
    Counts on the result are exact: parameter shapes and FLOP formulas are shape arithmetic.
    """
    import torch

    if isinstance(model, str):
        name = model

        def builder() -> Any:
            return create_model(name, img_size=img_size, **kwargs)
    else:
        if img_size is not None or kwargs:
            raise TypeError("img_size and keyword arguments apply to a registry name, not to a builder")
        builder = model
    try:
        with torch.device("meta"):
            return builder()
    except (NotImplementedError, RuntimeError):
        with _parameters_on_meta():
            built = builder()
        return built.to("meta")
