import pytest
import torch

from bench import registry
from bench.errors import UserError


@pytest.mark.parametrize(
    "name, family", [("test:cnn", "cnn"), ("test:mobile", "mobile"), ("test:vit", "vit"), ("test:hybrid", "hybrid")]
)
def test_tiny_models_are_tiny_and_run(name, family):
    spec = registry.get_spec(name)
    assert spec.family == family
    model = registry.create_model(name)
    n = sum(p.numel() for p in model.parameters())
    assert n < 30_000
    out = model(torch.randn(2, 3, spec.default_img_size, spec.default_img_size))
    assert out.shape == (2, 10)


@pytest.mark.parametrize(
    "arch, family",
    [
        ("resnet50", "cnn"),
        ("alexnet", "cnn"),
        ("vgg16", "cnn"),
        ("convnext_tiny", "cnn"),
        ("mobilenet_v2", "mobile"),
        ("mobilenetv3_large_100", "mobile"),
        ("efficientnet_b0", "mobile"),
        ("vit_tiny_patch16_224", "vit"),
        ("deit_small_patch16_224", "vit"),
        ("swin_t", "vit"),
        ("vit_small_patch14_dinov2", "vit"),
        ("eva02_tiny_patch14_224", "vit"),
        ("mobilevit_s", "hybrid"),
        ("vit_tiny_r_s16_p8_224", "hybrid"),
        ("vit_base_r50_s16_384", "hybrid"),
    ],
)
def test_family_rules(arch, family):
    assert registry.family_for(arch) == family


def test_globs_over_sources():
    vits = registry.list_names("timm:vit_*_patch16_224")
    assert "timm:vit_base_patch16_224" in vits and all(n.startswith("timm:vit_") for n in vits)
    assert "tv:resnet50" in registry.list_names("tv:resnet*")
    bare = registry.list_names("resnet18")
    assert "tv:resnet18" in bare and "timm:resnet18" in bare


def test_unknown_names_are_user_errors():
    with pytest.raises(UserError, match="source prefix"):
        registry.get_spec("resnet50")
    with pytest.raises(UserError, match="unknown model"):
        registry.get_spec("tv:resnet5000")


def test_timm_vit_takes_img_size():
    with torch.device("meta"):
        m = registry.create_model("timm:vit_tiny_patch16_224", img_size=384)
    assert m.pos_embed.shape[1] == (384 // 16) ** 2 + 1


def test_cli_list(tmp_path):
    from tests.conftest import run_cli

    res = run_cli("list", "test:*")
    assert res.returncode == 0
    for name in ("test:cnn", "test:mobile", "test:vit", "test:hybrid"):
        assert name in res.stdout
    res = run_cli("list", "timm:zzz_nothing*")
    assert res.returncode == 2 and "no registered model" in res.stderr
