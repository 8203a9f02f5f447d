"""Accuracy tasks in a suite: validation and expansion into cells.

A suite's ``accuracy:`` list holds tasks; each task has a ``source`` that says where its
numbers come from (column ``acc_source``):

- ``reported``: the published ImageNet-1k top-1/top-5 of the exact pretrained weights
  (torchvision weight metadata; a cited table for timm). Nothing runs.
- ``measured``: pretrained (or local-checkpoint) weights evaluated on a labelled image set
  on disk — an ImageFolder tree or an ImageNet validation folder.
- ``scratch``: the architecture trained from random initialisation on a small dataset with
  the task's budget, for every seed, and tested on the held-out split.

:func:`expand_accuracy` turns every (task, model, fraction) into one :class:`bench.suite.Cell`
with ``task="accuracy"`` and the task's settings in ``Cell.options``. ``options["variant"]``
(``reported/imagenet``, ``scratch/digits/f0.25``, plus the task's ``name`` and weights tag
when given) tells apart cells of the same model; it must be part of ``Cell.key``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bench.axes import Device
from bench.errors import UserError
from bench.suite import Cell, ModelEntry, Suite

Source = Literal["measured", "scratch", "reported"]
Dataset = Literal["digits", "cifar10", "imagefolder", "imagenet"]

DATASETS_FOR: dict[str, tuple[str, ...]] = {
    "reported": ("imagenet",),
    "measured": ("imagefolder", "imagenet"),
    "scratch": ("digits", "cifar10"),
}
DEFAULT_DATASET = {"reported": "imagenet", "measured": "imagenet", "scratch": "digits"}
DISK_DATASETS = ("imagefolder", "imagenet", "cifar10")  # read from data_dir; --data overrides it
# Training resolution when the task gives none: digits (8×8) upsampled 2×, which keeps the
# default suite's three architectures × three seeds within about two minutes on two cores;
# CIFAR-10 at its native 32×32.
SCRATCH_IMG_SIZE = {"digits": 16, "cifar10": 32}

# Which optional fields make sense for which source; setting one elsewhere is an error,
# so a typo'd intent ("epochs" on a measured task) is caught instead of silently ignored.
_ONLY_FOR: dict[str, tuple[str, ...]] = {
    "data_dir": ("measured", "scratch"),
    "download": ("measured", "scratch"),
    "label_file": ("measured",),
    "limit": ("measured",),
    "checkpoint": ("measured",),
    "mean": ("measured",),
    "std": ("measured",),
    "crop_pct": ("measured",),
    "interpolation": ("measured",),
    "workers": ("measured",),
    "img_size": ("measured", "scratch"),
    "batch_size": ("measured", "scratch"),
    "device": ("measured", "scratch"),
    "threads": ("measured", "scratch"),
    "timeout_s": ("measured", "scratch"),
    "epochs": ("scratch",),
    "lr": ("scratch",),
    "weight_decay": ("scratch",),
    "optimizer": ("scratch",),
    "momentum": ("scratch",),
    "schedule": ("scratch",),
    "label_smoothing": ("scratch",),
    "augment": ("scratch",),
    "budget": ("scratch",),
    "channels_last": ("scratch",),
    "seeds": ("scratch",),
    "split_seed": ("scratch",),
    "test_fraction": ("scratch",),
    "fractions": ("scratch",),
    "weights": ("measured", "reported"),
}


class AccuracyModel(ModelEntry):
    """A model line of an accuracy task: the suite's model entry plus which weights."""

    weights: str | None = None  # torchvision enum name (IMAGENET1K_V2) or timm tag (a1_in1k)
    checkpoint: str | None = None  # local state-dict file, for ``measured``


class AccuracyTask(BaseModel):
    """One ``accuracy:`` entry. Defaults give the budget used by ``suites/default.yaml``."""

    model_config = ConfigDict(extra="forbid")

    source: Source
    name: str | None = Field(default=None, min_length=1)  # tells apart two tasks on the same models
    models: list[AccuracyModel | str] | None = None  # None: every model of the suite
    dataset: Dataset | None = None  # default per source: imagenet / imagenet / digits
    data_dir: str | None = None
    label_file: str | None = None
    limit: int | None = Field(default=None, gt=0)  # evaluate a fixed subset of this many images
    download: bool = False  # allow fetching weights / CIFAR-10 from the network
    weights: str | None = None  # weights for every model of the task (a model line may override)
    checkpoint: str | None = None  # a local checkpoint (only with one model)
    img_size: int | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, gt=0)
    device: Device = "cpu"
    threads: int | None = Field(default=None, gt=0)
    timeout_s: float | None = Field(default=None, gt=0)
    # measured: preprocessing overrides (default: each model's own data config)
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    crop_pct: float | None = Field(default=None, gt=0, le=1)
    interpolation: Literal["nearest", "bilinear", "bicubic"] | None = None
    workers: int = Field(default=0, ge=0)  # image-decoding processes
    # scratch: the training budget, identical for every model of the task
    epochs: int = Field(default=10, ge=1)
    lr: float = Field(default=3e-3, gt=0)
    weight_decay: float = Field(default=0.05, ge=0)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = Field(default=0.9, ge=0, lt=1)
    schedule: Literal["cosine", "constant"] = "cosine"
    label_smoothing: float = Field(default=0.0, ge=0, lt=1)
    augment: Literal["none", "shift"] = "none"
    budget: Literal["steps", "epochs"] = "steps"
    channels_last: bool = True
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    split_seed: int = 0
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    fractions: list[float] = Field(default_factory=lambda: [1.0], min_length=1)

    @field_validator("fractions")
    @classmethod
    def _fractions_in_range(cls, v: list[float]) -> list[float]:
        bad = [f for f in v if not 0 < f <= 1]
        if bad:
            raise ValueError(f"fractions of the training split must be in (0, 1], got {bad}")
        if len(set(v)) != len(v):
            raise ValueError(f"fractions must not repeat, got {v}")
        return v

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct, got {v}")
        return v

    @model_validator(mode="after")
    def _fits_source(self) -> "AccuracyTask":
        src = self.source
        misplaced = sorted(f for f in self.model_fields_set if f in _ONLY_FOR and src not in _ONLY_FOR[f])
        if misplaced:
            f = misplaced[0]
            raise ValueError(f"field '{f}' does not apply to source '{src}' (it is for: {', '.join(_ONLY_FOR[f])})")
        if self.dataset is None:
            self.dataset = DEFAULT_DATASET[src]  # type: ignore[assignment]
        if self.dataset not in DATASETS_FOR[src]:
            raise ValueError(f"dataset '{self.dataset}' does not fit source '{src}' (allowed: {', '.join(DATASETS_FOR[src])})")
        if src == "scratch":
            if len(self.seeds) < 3:
                raise ValueError(f"scratch needs at least 3 seeds to report mean ± std, got {self.seeds}")
            if not self.models:
                raise ValueError("scratch needs its models listed explicitly (small-image variants such as archbench:resnet18_small)")
        if self.checkpoint and self.models is not None and len(self.models) != 1:
            raise ValueError("checkpoint belongs to one model: list exactly one model, or put checkpoint on a model line")
        if self.checkpoint and self.models is None:
            raise ValueError("checkpoint belongs to one model: list that model under models")
        if (self.mean is None) != (self.std is None):
            raise ValueError("give mean and std together")
        return self


def _format_errors(suite_name: str, index: int, err: ValidationError) -> str:
    from bench.suite import validation_error_lines

    lines = validation_error_lines(err, prefix=f"accuracy[{index}]", model=AccuracyTask)
    return f"suite {suite_name!r}: invalid accuracy task\n" + "\n".join(lines)


def parse_tasks(suite: Suite) -> list[AccuracyTask]:
    """Validate every ``accuracy:`` entry; problems raise UserError naming ``accuracy[i].field``."""
    tasks = []
    for i, raw in enumerate(suite.accuracy):
        if not isinstance(raw, dict):
            raise UserError(f"suite {suite.name!r}: accuracy[{i}] must be a mapping with at least 'source'")
        try:
            tasks.append(AccuracyTask.model_validate(raw))
        except ValidationError as err:
            raise UserError(_format_errors(suite.name, i, err)) from None
    return tasks


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
    from bench.suite import resolve_entries

    return resolve_entries(entries, lambda j: f"suite {suite.name!r}: accuracy[{index}].models[{j}]")


def _variant(task: AccuracyTask, weights: str | None, fraction: float | None) -> str:
    parts = [task.source, str(task.dataset)]
    if fraction is not None:
        parts.append(f"f{fraction:g}")
    if weights:
        parts.append(f"w={weights}")
    if task.name:
        parts.append(task.name)
    return "/".join(parts)


def expand_accuracy(suite: Suite) -> list[Cell]:
    """Every accuracy task × model (× training fraction for scratch) as one cell."""
    from bench import registry

    cells: list[Cell] = []
    owner: dict[tuple[str, str], int] = {}
    for i, task in enumerate(parse_tasks(suite)):
        for entry, name in _resolve(suite, i, _task_entries(suite, task)):
            spec = registry.get_spec(name)
            display = entry.alias if entry.alias else name
            weights = entry.weights or task.weights
            checkpoint = entry.checkpoint or task.checkpoint
            if (weights or checkpoint) and task.source == "scratch":
                raise UserError(f"suite {suite.name!r}: accuracy[{i}]: scratch trains from random init; remove weights/checkpoint")
            if checkpoint and task.source != "measured":
                raise UserError(f"suite {suite.name!r}: accuracy[{i}]: checkpoint is only for source 'measured'")
            img = task.img_size or entry.img_size
            if img is None and task.source == "scratch":
                img = SCRATCH_IMG_SIZE[str(task.dataset)]
            img = img or spec.default_img_size
            fractions: list[float | None] = list(task.fractions) if task.source == "scratch" else [None]
            for fraction in fractions:
                variant = _variant(task, entry.weights, fraction)
                if (display, variant) in owner:
                    raise UserError(
                        f"suite {suite.name!r}: accuracy[{i}] repeats model {display!r} of accuracy[{owner[display, variant]}] "
                        f"({variant}); give one of the tasks a distinct 'name'"
                    )
                owner[display, variant] = i
                options: dict[str, Any] = task.model_dump(mode="json", exclude={"models"})
                options.update(
                    weights=weights,
                    checkpoint=checkpoint,
                    fraction=fraction,
                    variant=variant,
                    task_index=i,
                )
                batch = task.batch_size or (32 if task.source == "scratch" else 64)
                cells.append(
                    Cell(
                        suite=suite.name,
                        model=display,
                        registry_name=name,
                        family=entry.family or spec.family,
                        device=task.device,
                        precision="fp32",
                        runtime="eager",
                        batch_size=batch,
                        img_size=img,
                        threads=task.threads,
                        task="accuracy",
                        model_kwargs=dict(entry.kwargs),
                        metrics=("accuracy",),
                        timing={},
                        timeout_s=task.timeout_s or suite.timeout_s,
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
    tasks = []
    for raw in suite.accuracy:
        t = dict(raw)
        source = t.get("source")
        dataset = t.get("dataset") or DEFAULT_DATASET.get(str(source), "")
        if source in ("measured", "scratch") and dataset in DISK_DATASETS:
            t["data_dir"] = data_dir
            if label_file is not None and source == "measured":
                t["label_file"] = label_file
        tasks.append(t)
    return suite.model_copy(update={"accuracy": tasks})
