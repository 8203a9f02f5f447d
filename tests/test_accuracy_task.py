"""Accuracy tasks in suites: validation messages, expansion into cells, the --data override."""

from __future__ import annotations

import pytest

from bench import registry
from bench.accuracy import expand_accuracy, override_data_dir, parse_tasks
from bench.accuracy.small_models import SMALL_MODELS
from bench.errors import UserError
from bench.suite import parse_suite


def suite_with(*tasks, models=("tv:resnet18", "timm:vit_tiny_patch16_224", "test:cnn")) -> object:
    return parse_suite({"name": "acc", "models": list(models), "accuracy": list(tasks)})


def error_of(*tasks) -> str:
    with pytest.raises(UserError) as info:
        expand_accuracy(suite_with(*tasks))
    return str(info.value)


def test_unknown_source_names_field_and_allowed_values():
    msg = error_of({"source": "guessed"})
    assert "suite 'acc'" in msg and "accuracy[0].source" in msg
    assert "'measured', 'scratch' or 'reported'" in msg and "'guessed'" in msg


def test_unknown_field_is_reported_with_its_path():
    msg = error_of({"source": "reported"}, {"source": "reported", "name": "x", "epoch": 3})
    assert "accuracy[1].epoch: unknown field" in msg


def test_field_for_another_source_is_refused():
    msg = error_of({"source": "measured", "epochs": 5})
    assert "accuracy[0]" in msg and "'epochs' does not apply to source 'measured'" in msg and "scratch" in msg


def test_dataset_must_fit_source():
    msg = error_of({"source": "scratch", "models": ["archbench:resnet18_small"], "dataset": "imagenet"})
    assert "dataset 'imagenet' does not fit source 'scratch'" in msg and "digits, cifar10" in msg


def test_scratch_needs_three_seeds_and_explicit_models():
    assert "at least 3 seeds" in error_of({"source": "scratch", "models": ["archbench:resnet18_small"], "seeds": [0, 1]})
    assert "models listed explicitly" in error_of({"source": "scratch"})


def test_bad_fractions_and_negative_limit():
    msg = error_of({"source": "scratch", "models": ["archbench:resnet18_small"], "fractions": [0.5, 1.5]})
    assert "accuracy[0].fractions" in msg and "(0, 1]" in msg
    assert "accuracy[0].limit" in error_of({"source": "measured", "limit": 0})


def test_unknown_model_in_task_names_its_position():
    msg = error_of({"source": "reported", "models": ["tv:resnet18", "tv:no_such_net"]})
    assert "accuracy[0].models[1]" in msg and "no_such_net" in msg


def test_repeated_model_needs_a_task_name():
    msg = error_of({"source": "reported"}, {"source": "reported", "models": ["tv:resnet18"]})
    assert "accuracy[1] repeats model 'tv:resnet18' of accuracy[0]" in msg and "'name'" in msg
    cells = expand_accuracy(
        suite_with({"source": "reported"}, {"source": "reported", "name": "again", "models": ["tv:resnet18"]})
    )
    assert len(cells) == 4


def test_reported_defaults_to_every_suite_model_and_keeps_aliases():
    suite = parse_suite(
        {
            "name": "acc",
            "models": [{"name": "tv:resnet18", "alias": "ResNet-18"}, "timm:vit_tiny_patch16_224"],
            "accuracy": [{"source": "reported"}],
        }
    )
    cells = expand_accuracy(suite)
    assert [c.model for c in cells] == ["ResNet-18", "timm:vit_tiny_patch16_224"]
    assert {c.task for c in cells} == {"accuracy"}
    assert [c.family for c in cells] == ["cnn", "vit"]
    assert all(c.options["source"] == "reported" and c.options["dataset"] == "imagenet" for c in cells)


def test_scratch_expands_one_cell_per_model_and_fraction_with_distinct_variants():
    suite = suite_with(
        {"source": "reported"},
        {
            "source": "scratch",
            "models": ["archbench:resnet18_small", "archbench:vit_small_patch4"],
            "fractions": [0.1, 0.25, 0.5, 1.0],
        },
    )
    cells = expand_accuracy(suite)
    scratch = [c for c in cells if c.options["source"] == "scratch"]
    assert len(scratch) == 8
    assert [c.options["fraction"] for c in scratch[:4]] == [0.1, 0.25, 0.5, 1.0]
    assert scratch[0].options["variant"] == "scratch/digits/f0.1"
    assert {c.img_size for c in scratch} == {16}  # digits default resolution
    assert {c.batch_size for c in scratch} == {32}
    assert scratch[0].options["seeds"] == [0, 1, 2]
    # (model, variant) identifies a cell; Cell.key must include options["variant"].
    ids = [(c.key, c.options["variant"]) for c in cells]
    assert len(set(ids)) == len(ids)


def test_checkpoint_rules():
    assert "list exactly one model" in error_of({"source": "measured", "checkpoint": "x.pth", "models": ["test:cnn", "test:vit"]})
    msg = error_of({"source": "reported", "models": [{"name": "test:cnn", "checkpoint": "x.pth"}]})
    assert "only for source 'measured'" in msg


def test_per_model_weights_tag_goes_into_options_and_variant():
    cells = expand_accuracy(
        suite_with({"source": "reported", "models": [{"name": "tv:resnet50", "weights": "IMAGENET1K_V1"}, "tv:resnet18"]})
    )
    assert cells[0].options["weights"] == "IMAGENET1K_V1" and cells[0].options["variant"] == "reported/imagenet/w=IMAGENET1K_V1"
    assert cells[1].options["weights"] is None


def test_non_mapping_task_is_a_user_error():
    with pytest.raises(UserError, match=r"accuracy\[0\]: Input should be a valid dictionary"):
        suite_with("reported")


def test_data_override_replaces_data_dir_only_where_data_is_read_from_disk():
    suite = suite_with(
        {"source": "measured", "dataset": "imagenet", "data_dir": "/old", "label_file": "val.txt"},
        {"source": "scratch", "models": ["archbench:resnet18_small"]},
        {"source": "scratch", "name": "c10", "dataset": "cifar10", "models": ["archbench:resnet18_small"]},
        {"source": "reported"},
    )
    new = override_data_dir(suite, "/data/imagenet/val")
    tasks = parse_tasks(new)
    assert tasks[0].data_dir == "/data/imagenet/val" and tasks[0].label_file == "val.txt"
    assert tasks[1].data_dir is None  # digits ships with scikit-learn
    assert tasks[2].data_dir == "/data/imagenet/val"
    assert tasks[3].source == "reported" and not hasattr(new.accuracy[3], "data_dir")
    assert suite.accuracy[0].data_dir == "/old"  # the original suite is untouched


def test_small_variants_are_registered_with_families_and_build():
    import torch

    assert set(SMALL_MODELS) <= set(registry.list_names("archbench:*"))
    assert registry.get_spec("test:cnn").family == "cnn"  # built-ins still there
    families = {n: registry.get_spec(n).family for n in SMALL_MODELS}
    assert families == {
        "archbench:resnet18_small": "cnn",
        "archbench:mobilenetv2_small": "mobile",
        "archbench:vit_small_patch4": "vit",
    }
    for name in SMALL_MODELS:
        for size in (16, 32):
            m = registry.create_model(name, img_size=size, num_classes=10)
            assert m(torch.zeros(2, 3, size, size)).shape == (2, 10)


def test_shipped_accuracy_suites_expand_and_take_the_data_override(tmp_path):
    from pathlib import Path

    from bench.suite import load_suite

    root = Path(__file__).resolve().parent.parent / "suites"
    eff = load_suite(root / "data-efficiency.yaml")
    cells = expand_accuracy(eff)
    assert len(cells) == 12 and {c.options["fraction"] for c in cells} == {0.1, 0.25, 0.5, 1.0}
    assert {c.family for c in cells} == {"cnn", "mobile", "vit"}
    imnet = load_suite(root / "accuracy-imagenet.yaml")
    cells = expand_accuracy(override_data_dir(imnet, str(tmp_path)))
    measured = [c for c in cells if c.options["source"] == "measured"]
    reported = [c for c in cells if c.options["source"] == "reported"]
    assert len(measured) == len(reported) == len(imnet.models)
    assert {c.options["data_dir"] for c in measured} == {str(tmp_path)} and measured[0].options["limit"] == 5000


def test_pareto_front_and_data_efficiency_curves():
    from bench.accuracy.summary import data_efficiency, pareto_mask

    # (latency, top-1): b is slower and worse than a → dominated; nan never on the front
    costs = [1.0, 2.0, 3.0, 0.5, float("nan"), 3.0]
    accs = [70.0, 65.0, 80.0, 60.0, 99.0, 80.0]
    assert pareto_mask(costs, accs) == [True, False, True, True, False, True]
    rows = [
        {"model": "v", "acc_source": "scratch", "status": "ok", "train_fraction": 1.0, "top1": 92.0, "top1_std": 2.0},
        {"model": "v", "acc_source": "scratch", "status": "ok", "train_fraction": 0.1, "top1": 40.0, "top1_std": 5.0},
        {"model": "v", "acc_source": "reported", "status": "ok", "top1": 75.0},
        {"model": "r", "acc_source": "scratch", "status": "failed", "train_fraction": 0.1, "top1": None},
    ]
    assert data_efficiency(rows) == {"v": [(0.1, 40.0, 5.0), (1.0, 92.0, 2.0)]}
