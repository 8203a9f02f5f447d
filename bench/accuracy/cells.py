"""Run one accuracy cell inside a worker process and return its row fields.

Every row carries ``acc_source`` (reported / measured / scratch) and ``acc_dataset`` so
numbers from different sources are never mixed up. Accuracies are percentages.
``status`` is ``ok``, ``skipped`` (data or weights not on this machine; ``error`` says
what was looked for) or ``failed`` (bad input: ``error`` says what and where).
"""

from __future__ import annotations

import os
from typing import Any

from bench import schema
from bench.accuracy.datasets import Unavailable
from bench.errors import UserError
from bench.suite import Cell

# Every accuracy row has these columns (bench/schema.py), so tables line up whatever the source.
ROW_FIELDS = tuple(schema.task_fields("accuracy"))


def _scratch(cell: Cell, progress: bool) -> dict[str, Any]:
    from bench.accuracy.datasets import load_cifar10, load_digits
    from bench.accuracy.scratch import TrainSettings, train_seeds

    opts = cell.options
    if opts["dataset"] == "digits":
        data = load_digits(cell.img_size, int(opts.get("split_seed", 0)), float(opts.get("test_fraction", 0.2)))
    else:
        data = load_cifar10(opts.get("data_dir"), cell.img_size, bool(opts.get("download")))
    settings = TrainSettings.from_options({**opts, "batch_size": cell.batch_size, "device": cell.device})
    fraction = float(opts.get("fraction") or 1.0)
    label = f"{cell.model} {opts['dataset']} {fraction:.0%}"
    res = train_seeds(cell.registry_name, data, settings, list(opts["seeds"]), fraction, cell.model_kwargs, progress, label)
    return {
        "top1": res.top1,
        "top5": res.top5,
        "top1_std": res.top1_std,
        "top1_seeds": [r.top1 for r in res.seeds],
        "acc_n_images": res.n_test,
        "acc_n_corrupt": 0,
        "acc_n_train": res.seeds[0].n_train,
        "train_time_s": res.train_time_s,
        "train_steps": res.seeds[0].steps,
        "acc_weights": "random init",
        "acc_img_size": cell.img_size,
    }


def run_accuracy_cell(cell: Cell, progress: bool = True) -> dict[str, Any]:
    """Measure (or look up) one accuracy cell; bad input and missing files become the row's status."""
    import torch

    opts = cell.options
    source = opts["source"]
    row: dict[str, Any] = dict.fromkeys(ROW_FIELDS)
    row.update(acc_source=source, acc_dataset=opts["dataset"], train_fraction=opts.get("fraction"), status="ok", error=None)
    if not opts.get("download"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a missing weight must fail at once, never wait on a network
    threads_before = torch.get_num_threads()
    if cell.threads:
        torch.set_num_threads(cell.threads)
    try:
        if source != "reported" and cell.device == "cuda" and not torch.cuda.is_available():
            raise Unavailable("device cuda requested but no CUDA device is available")
        if source == "reported":
            from bench.accuracy.reported import reported_accuracy

            row.update(reported_accuracy(cell.registry_name, opts.get("weights")))
        elif source == "measured":
            from bench.accuracy.measured import run_measured

            row.update(run_measured(cell, progress))
        elif source == "scratch":
            row.update(_scratch(cell, progress))
        else:
            raise UserError(f"unknown accuracy source {source!r}")
    except Unavailable as err:
        row.update(status="skipped", error=str(err))
    except UserError as err:
        row.update(status="failed", error=str(err))
    finally:
        torch.set_num_threads(threads_before)  # in-process callers (tests, notebooks) keep theirs
    return row
