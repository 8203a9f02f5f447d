"""Accuracy tasks in a suite: expansion into cells.

A suite's ``accuracy:`` list holds tasks; each task has a ``source`` that says where its
numbers come from (column ``acc_source``):

- ``reported``: the published ImageNet-1k top-1/top-5 of the exact pretrained weights
  (torchvision weight metadata; a cited table for timm). Nothing runs.
- ``measured``: pretrained (or local-checkpoint) weights evaluated on a labelled image set
  on disk — an ImageFolder tree or an ImageNet validation folder.
- ``scratch``: the architecture trained from random initialisation on a small dataset with
  the task's budget, for every seed, and tested on the held-out split.

Each source is its own class in the suite's config tree (:mod:`bench.config`), with only the
fields that apply to it; tasks are validated with the rest of the suite when it loads.

:func:`expand_accuracy` turns every (task, model, fraction) into one :class:`bench.suite.Cell`
with ``task="accuracy"`` and the task's settings in ``Cell.options``. ``options["variant"]``
(``reported/imagenet``, ``scratch/digits/f0.25``, plus the task's ``name`` and weights tag
when given) tells apart cells of the same model; it must be part of ``Cell.key``.
"""

from __future__ import annotations

from typing import Any

from bench.config import AccuracyModel, AccuracyTask, MeasuredTask, ReportedTask, ScratchTask
from bench.errors import UserError
from bench.suite import Cell, Suite, resolve_entries

# The task classes are part of the suite's config tree (bench/config.py), validated when the suite loads.
__all__ = [
    "AccuracyModel",
    "AccuracyTask",
    "MeasuredTask",
    "ReportedTask",
    "ScratchTask",
    "expand_accuracy",
    "override_data_dir",
    "parse_tasks",
]

DISK_DATASETS = ("imagefolder", "imagenet", "cifar10")  # read from data_dir; --data overrides it
# Training resolution when the task gives none: digits (8×8) upsampled 2×, which keeps the
# default suite's three architectures × three seeds within about two minutes on two cores;
# CIFAR-10 at its native 32×32.
SCRATCH_IMG_SIZE = {"digits": 16, "cifar10": 32}


def parse_tasks(suite: Suite) -> list[AccuracyTask]:
    """The suite's accuracy tasks (validated with the suite: a bad one never gets this far)."""
    return list(suite.accuracy)


def _task_entries(suite: Suite, task: AccuracyTask) -> list[AccuracyModel]:
    suite_entries = {e.name: e for e in suite.model_entries()}
    if task.models is None:
        return [AccuracyModel(**e.model_dump()) for e in suite_entries.values()]
    out = []
    for m in task.models:
        if isinstance(m, str):
            # A bare name that the suite lists reuses that line (alias, kwargs), so accuracy
            # rows join the speed rows of the same model.
            base = suite_entries.get(m)
            out.append(AccuracyModel(**base.model_dump()) if base else AccuracyModel(name=m))
        else:
            out.append(m)
    return out


def _resolve(suite: Suite, index: int, entries: list[AccuracyModel]) -> list[tuple[AccuracyModel, str]]:
    return resolve_entries(entries, lambda j: f"suite {suite.name!r}: accuracy[{index}].models[{j}]")


def _variant(task: AccuracyTask, weights: str | None, fraction: float | None) -> str:
    parts: list[str] = [task.source, task.dataset]
    if fraction is not None:
        parts.append(f"f{fraction:g}")
    if weights:
        parts.append(f"w={weights}")
    if task.name:
        parts.append(task.name)
    return "/".join(parts)


def expand_accuracy(suite: Suite) -> list[Cell]:
    """Every accuracy task × model (× training fraction for scratch) as one cell."""
    cells: list[Cell] = []
    owner: dict[tuple[str, str], int] = {}  # (model, variant) → the task that has it
    for i, task in enumerate(suite.accuracy):
        for entry, name in _resolve(suite, i, _task_entries(suite, task)):
            for cell in _task_cells(suite, i, task, entry, name):
                variant = cell.options["variant"]
                if (cell.model, variant) in owner:
                    raise UserError(
                        f"suite {suite.name!r}: accuracy[{i}] repeats model {cell.model!r} of "
                        f"accuracy[{owner[cell.model, variant]}] ({variant}); give one of the tasks a distinct 'name'"
                    )
                owner[cell.model, variant] = i
                cells.append(cell)
    return cells


def _task_cells(suite: Suite, index: int, task: AccuracyTask, entry: AccuracyModel, name: str) -> list[Cell]:
    """The cells of one model of one task: one, or one per training fraction for scratch."""
    from bench import registry

    spec = registry.get_spec(name)
    runs = task if isinstance(task, (MeasuredTask, ScratchTask)) else None
    img = (runs.img_size if runs else None) or entry.img_size
    if img is None and isinstance(task, ScratchTask):
        img = SCRATCH_IMG_SIZE[task.dataset]
    fractions: list[float | None] = list(task.fractions) if isinstance(task, ScratchTask) else [None]
    cells = []
    for fraction in fractions:
        options: dict[str, Any] = task.model_dump(mode="json", exclude={"models"})
        options.update(
            weights=entry.weights or getattr(task, "weights", None),
            checkpoint=entry.checkpoint or getattr(task, "checkpoint", None),
            fraction=fraction,
            variant=_variant(task, entry.weights, fraction),
            task_index=index,
        )
        cells.append(
            Cell(
                suite=suite.name,
                model=entry.alias if entry.alias else name,
                registry_name=name,
                family=entry.family or spec.family,
                device=runs.device if runs else "cpu",
                precision="fp32",
                runtime="eager",
                batch_size=(runs.batch_size if runs else None) or (32 if isinstance(task, ScratchTask) else 64),
                img_size=img or spec.default_img_size,
                threads=runs.threads if runs else None,
                task="accuracy",
                model_kwargs=dict(entry.kwargs),
                metrics=("accuracy",),
                timing={},
                timeout_s=(runs.timeout_s if runs else None) or suite.timeout_s,
                memory_limit_mb=suite.memory_limit_mb,
                options=options,
            )
        )
    return cells


def override_data_dir(suite: Suite, data_dir: str, label_file: str | None = None) -> Suite:
    """The suite with ``data_dir`` (and ``label_file`` when given) replaced in every task that
    reads a dataset from disk (imagefolder, imagenet, cifar10) — what ``--data PATH`` does.

    Tasks on digits and ``reported`` tasks are left as they are. A relative ``label_file``
    kept from the suite is looked up inside the new data folder when it is not found as given.
    """
    tasks: list[AccuracyTask] = []
    for task in suite.accuracy:
        if isinstance(task, (MeasuredTask, ScratchTask)) and task.dataset in DISK_DATASETS:
            update: dict[str, Any] = {"data_dir": data_dir}
            if label_file is not None and isinstance(task, MeasuredTask):
                update["label_file"] = label_file
            task = task.model_copy(update=update)
        tasks.append(task)
    return suite.model_copy(update={"accuracy": tasks})
