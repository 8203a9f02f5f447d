"""The model catalog: one declarative list the registry loads once; duplicates are errors; one
public way to build any model on the meta device."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench import registry
from bench.models import catalog
from bench.models.catalog import CATALOG, Entry


def test_every_local_model_comes_from_the_catalog_and_builds():
    names = [e.name for e in CATALOG]
    assert len(names) == len(set(names))
    local = registry._local_specs()
    for e in CATALOG:
        spec = local[e.name]
        assert (spec.family, spec.default_img_size, spec.num_classes) == (e.family, e.default_img_size, e.num_classes)
        assert f"{spec.builder.__module__}:{spec.builder.__name__}" == e.builder
    m = registry.create_model("test:cnn", img_size=32)
    assert m(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_a_duplicate_name_in_the_catalog_is_an_error(monkeypatch):
    dup = Entry("test:cnn", "bench.models.tiny:TinyViT", "vit", 32, 10, "a second test:cnn")
    monkeypatch.setattr(catalog, "CATALOG", (*CATALOG, dup))
    monkeypatch.setattr(registry, "_LOCAL", {})
    monkeypatch.setattr(registry, "_CATALOG_LOADED", False)
    with pytest.raises(ValueError, match="lists 'test:cnn' twice"):
        registry.list_names("test:*")


def test_register_is_idempotent_for_the_same_model_and_refuses_a_different_one(monkeypatch):
    registry.list_names("test:*")
    monkeypatch.setattr(registry, "_LOCAL", dict(registry._LOCAL))  # undone after the test

    class Extra(nn.Linear):
        def __init__(self, **_):
            super().__init__(4, 2)

    registry.register("test:extra", Extra, "cnn", 32, 2, "a test-only model")
    registry.register("test:extra", Extra, "cnn", 32, 2, "a test-only model")  # same again: fine
    with pytest.raises(ValueError, match="already registered"):
        registry.register("test:extra", nn.Identity, "cnn", 32, 2, "another model, same name")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("test:cnn", Extra, "cnn", 32, 10, "shadowing a catalog model")


def test_build_on_meta_takes_a_name_or_a_builder_and_allocates_nothing():
    by_name = registry.build_on_meta("test:vit", img_size=32)
    by_builder = registry.build_on_meta(lambda: nn.Sequential(nn.Linear(1000, 1000), nn.ReLU()))
    for m in (by_name, by_builder):
        assert {p.device.type for p in m.parameters()} == {"meta"}
    assert sum(p.numel() for p in by_builder.parameters()) == 1000 * 1000 + 1000
    # same count as on the CPU
    assert sum(p.numel() for p in by_name.parameters()) == sum(
        p.numel() for p in registry.create_model("test:vit", img_size=32).parameters()
    )
    with pytest.raises(TypeError, match="registry name"):
        registry.build_on_meta(lambda: nn.Identity(), img_size=32)
    # the names other modules import are this one function
    from bench.metrics import flops
    from bench.models import meta

    assert flops.build_on_meta is meta.build_on_meta is registry.build_on_meta
