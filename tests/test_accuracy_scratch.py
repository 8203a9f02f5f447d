"""``scratch`` accuracy: training from random init on real digits, deterministic, with the sweep."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from bench.accuracy import expand_accuracy, run_accuracy_cell
from bench.accuracy.datasets import load_digits, stratified_fraction
from bench.accuracy.scratch import TrainSettings, random_shift, train_once
from bench.suite import parse_suite

# The scratch task of suites/default.yaml: every budget setting at its default.
DEFAULT_SCRATCH = {
    "source": "scratch",
    "dataset": "digits",
    "models": ["archbench:resnet18_small", "archbench:mobilenetv2_small", "archbench:vit_small_patch4"],
}


def scratch_cells(task: dict, models=None) -> list:
    t = dict(task)
    if models is not None:
        t["models"] = models
    return expand_accuracy(parse_suite({"name": "s", "models": ["test:cnn"], "accuracy": [t]}))


def test_digits_split_is_real_fixed_and_stratified():
    d = load_digits(16)
    assert len(d.train) + len(d.test) == 1797 and len(d.test) == 360
    assert d.train.x.shape[1:] == (3, 16, 16) and float(d.train.x.max()) <= 1.0
    assert torch.equal(d.test.y, load_digits(16).test.y)  # same held-out images every time
    counts = torch.bincount(d.test.y, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37


def test_stratified_fraction_keeps_every_class_and_depends_on_seed():
    y = load_digits(8).train.y
    a, b, c = stratified_fraction(y, 0.1, 0), stratified_fraction(y, 0.1, 0), stratified_fraction(y, 0.1, 1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.bincount(y[a], minlength=10).min() >= 13 and 140 <= len(a) <= 148
    assert len(stratified_fraction(y, 1.0, 0)) == len(y)


def test_random_shift_translates_each_image_with_zero_fill():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6) + 1
    g = torch.Generator().manual_seed(3)
    out = random_shift(x, 2, g)
    g2 = torch.Generator().manual_seed(3)
    dy = torch.randint(0, 5, (2,), generator=g2) - 2
    dx = torch.randint(0, 5, (2,), generator=g2) - 2
    for i in range(2):
        # out[r, c] = x[r + dy, c + dx] where that pixel exists, else 0
        for r in range(6):
            for c in range(6):
                rr, cc = r + int(dy[i]), c + int(dx[i])
                want = x[i, 0, rr, cc] if 0 <= rr < 6 and 0 <= cc < 6 else 0.0
                assert float(out[i, 0, r, c]) == float(want)


def test_training_is_deterministic_for_a_seed_on_cpu():
    data = load_digits(16)
    s = TrainSettings(epochs=1, augment="shift")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a = train_once("archbench:vit_small_patch4", data, s, seed=5)
        b = train_once("archbench:vit_small_patch4", data, s, seed=5)
        c = train_once("archbench:vit_small_patch4", data, s, seed=6)
    finally:
        torch.set_num_threads(before)
    assert (a.top1, a.top5, a.final_loss) == (b.top1, b.top5, b.final_loss)
    assert a.final_loss != c.final_loss
    assert a.steps == b.steps == 45 and a.n_train == 1437


def test_resnet_variant_reaches_95_percent_on_digits_within_the_default_budget():
    (cell,) = scratch_cells({**DEFAULT_SCRATCH, "threads": 1}, models=["archbench:resnet18_small"])
    assert cell.img_size == 16 and cell.options["epochs"] == 10 and cell.options["seeds"] == [0, 1, 2]
    row = run_accuracy_cell(cell, progress=False)
    assert row["status"] == "ok", row["error"]
    assert row["top1"] >= 95.0 and min(row["top1_seeds"]) >= 93.0, row["top1_seeds"]
    assert len(row["top1_seeds"]) == 3 and row["top1_std"] == float(np.std(row["top1_seeds"], ddof=1))
    assert row["acc_source"] == "scratch" and row["acc_dataset"] == "digits" and row["acc_n_images"] == 360
    assert row["acc_n_train"] == 1437 and row["train_fraction"] == 1.0 and row["train_time_s"] > 0
    assert row["acc_weights"] == "random init" and row["top5"] >= row["top1"]


def test_data_efficiency_fraction_trains_on_a_stratified_subset_with_equal_steps():
    task = {**DEFAULT_SCRATCH, "fractions": [0.1, 1.0], "epochs": 1, "threads": 1}
    cells = scratch_cells(task, models=["archbench:vit_small_patch4"])
    assert [c.options["variant"] for c in cells] == ["scratch/digits/f0.1", "scratch/digits/f1"]
    row = run_accuracy_cell(cells[0], progress=False)
    assert row["status"] == "ok" and row["train_fraction"] == 0.1 and 140 <= row["acc_n_train"] <= 148
    assert row["train_steps"] == 45  # the same optimizer steps as one epoch of the full split
    assert row["acc_n_images"] == 360  # always tested on the full held-out split


def write_fake_cifar(root: Path, per_batch: int = 20) -> None:
    """The python-pickle layout of CIFAR-10 with a handful of random images per batch."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": data, "labels": labels}, fh)


def test_cifar10_is_read_from_data_dir_and_skipped_when_absent(tmp_path):
    task = {"source": "scratch", "dataset": "cifar10", "models": ["test:cnn"], "epochs": 1, "threads": 1}
    (cell,) = scratch_cells({**task, "data_dir": str(tmp_path / "none")})
    row = run_accuracy_cell(cell, progress=False)
    assert (
        row["status"] == "skipped" and "cifar-10-batches-py does not exist" in row["error"] and "download: true" in row["error"]
    )
    write_fake_cifar(tmp_path / "c10")
    (cell,) = scratch_cells({**task, "data_dir": str(tmp_path / "c10")})
    assert cell.img_size == 32
    row = run_accuracy_cell(cell, progress=False)
    assert row["status"] == "ok", row["error"]
    assert row["acc_n_train"] == 100 and row["acc_n_images"] == 20 and 0.0 <= row["top1"] <= 100.0
