"""The suite's config tree: every field a suite file may hold, declared once, validated in one pass.

:class:`Suite` is the root. It holds the model lines (:class:`ModelEntry`), the timing block
(:class:`TimingSpec`, whose measurement part :class:`TimingConfig` is what
:func:`bench.metrics.timing.measure_latency` takes), the accuracy tasks (a union keyed on
``source``: :class:`MeasuredTask`, :class:`ScratchTask`, :class:`ReportedTask`) and the compare
section (:class:`bench.compare.config.CompareConfig`). Loading, ``--set`` and expansion into
cells are in :mod:`bench.suite`; what an accuracy task does is in :mod:`bench.accuracy.task`.

Imports nothing heavy (pydantic, no torch or numpy), so the CLI can validate a suite quickly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_serializer, field_validator, model_validator

from bench.axes import METRICS, AccSource, Device, Executor, Family, Metric, Precision, Runtime
from bench.compare.config import CompareConfig

MAX_IMG_SIZE = 4096  # a 4096² fp32 input is already 200 MB per image; larger ones only exhaust memory


class _Strict(BaseModel):
    # No inf/nan (a `timeout_s: .inf` never times out), and numbers are numbers: YAML's `true`
    # or "8" is an error, not 1 or 8.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ModelEntry(_Strict):
    """One model line: a registry name or glob, optionally with constructor kwargs."""

    name: str = Field(min_length=1)
    alias: str | None = None  # how the model is named in tables when kwargs change it
    kwargs: dict[str, Any] = Field(default_factory=dict)
    img_size: StrictInt | None = Field(default=None, gt=0, le=MAX_IMG_SIZE)  # overrides the suite's sizes for this model
    family: Family | None = None
    # Giant models: below this much GPU memory (and always on CPU) the cell reports params and
    # GMACs computed on the meta device, and skips latency/memory with the reason.
    min_gpu_mem_gb: StrictFloat | None = Field(default=None, gt=0)


# --- timing -------------------------------------------------------------------------------------


class TimingConfig(_Strict):
    """One timing pass: warm-up and adaptive sampling budget (the rule: bench.metrics.timing)."""

    warmup_min_iters: StrictInt = Field(default=3, ge=0)
    warmup_max_s: StrictFloat = Field(default=10.0, gt=0)
    min_samples: StrictInt = Field(default=10, ge=1)
    max_samples: StrictInt = Field(default=500, ge=1)
    max_time_s: StrictFloat = Field(default=5.0, gt=0)
    target_rel_iqr: StrictFloat = Field(default=0.05, gt=0)
    # Least time of timed calls before the rule may stop (capped at max_time_s).
    min_time_s: StrictFloat = Field(default=1.0, ge=0)
    # Percentiles to report; sampling continues until each has 10 samples beyond it (p90 → 100
    # samples, p99 → 1000) or the budget ends, and one without that support is left empty.
    # Sorted and distinct; () (a quick median, as the claims take it) asks no tail for support.
    percentiles: tuple[StrictFloat, ...] = (50.0, 90.0)

    @field_validator("percentiles")
    @classmethod
    def _valid_percentiles(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        bad = [q for q in v if not 0 < q < 100]
        if bad:
            raise ValueError(f"percentiles must lie strictly between 0 and 100 (e.g. [50, 90, 99]), got {bad}")
        return tuple(sorted(set(float(q) for q in v)))

    @model_validator(mode="after")
    def _min_le_max(self) -> "TimingConfig":
        if self.min_samples > self.max_samples:
            raise ValueError(f"min_samples ({self.min_samples}) must not exceed max_samples ({self.max_samples})")
        return self

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "TimingConfig":
        """From a cell's ``timing`` dict (a dumped :class:`TimingSpec`); the run-level keys
        (``ceiling_s``, ``rounds`` …) and any a later version dropped are ignored."""
        return cls.model_validate({k: v for k, v in (d or {}).items() if k in cls.model_fields})

    def samples_needed(self) -> int:
        """Samples the stopping rule asks for before it may stop (minimum count and percentile support)."""
        from bench.metrics.stats import samples_for

        return max([self.min_samples, *(samples_for(q) for q in self.percentiles)])


class TimingSpec(TimingConfig):
    """A suite's ``timing:`` block: one pass's settings plus those of the run around the passes."""

    # Seconds per (device, precision, threads) to measure the hardware ceiling at run start
    # (bench.metrics.hardware); 0 skips it, and rows then get no efficiency.
    ceiling_s: StrictFloat = Field(default=1.0, ge=0)
    # Least seconds of repeated calls per cell for energy_j_per_img (bench.metrics.energy), where
    # NVML or RAPL can be read; 0 skips it.
    energy_s: StrictFloat = Field(default=1.0, ge=0)
    # Worker processes per cell (bench.rounds): each process settles at its own level, so the
    # round, not the sample, is the unit of replication. 1 = no interval (process variation unknown).
    rounds: StrictInt = Field(default=3, ge=1, le=50)
    rounds_seed: StrictInt | None = Field(default=None, ge=0)  # order of cells within rounds; None = drawn per run

    @field_validator("percentiles")
    @classmethod
    def _some_percentile(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v:
            raise ValueError("a suite reports at least one percentile, e.g. [50, 90]")
        return v


# --- accuracy tasks -----------------------------------------------------------------------------

Dataset = Literal["digits", "cifar10", "imagefolder", "imagenet"]


class AccuracyModel(ModelEntry):
    """A model line of an accuracy task: the suite's model entry plus which weights."""

    weights: str | None = None  # torchvision enum name (IMAGENET1K_V2) or timm tag (a1_in1k)
    checkpoint: str | None = None  # local state-dict file, for ``measured``


class _Task(BaseModel):
    """What every accuracy task has. Each source is its own class with only the fields that
    make sense for it, so a misplaced field ("epochs" on a measured task) is an error."""

    model_config = ConfigDict(extra="forbid")

    source: AccSource
    name: str | None = Field(default=None, min_length=1)  # tells apart two tasks on the same models
    models: list[AccuracyModel | str] | None = None  # None: every model of the suite
    dataset: Dataset  # each source narrows it and gives its default

    @classmethod
    def source_name(cls) -> str:
        return str(get_args(cls.model_fields["source"].annotation)[0])

    @field_validator("dataset", mode="before")
    @classmethod
    def _dataset_fits_source(cls, v: Any) -> Any:
        allowed = get_args(cls.model_fields["dataset"].annotation)
        if v in get_args(Dataset) and v not in allowed:
            raise ValueError(f"dataset '{v}' does not fit source '{cls.source_name()}' (allowed: {', '.join(allowed)})")
        return v

    def model_lines(self) -> list[AccuracyModel]:
        return [m for m in self.models or [] if isinstance(m, AccuracyModel)]


class _RunsModels(_Task):
    """Tasks that run the models (measured, scratch): where, on what and how long."""

    data_dir: str | None = None
    download: bool = False  # allow fetching weights / CIFAR-10 from the network
    img_size: int | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, gt=0)
    device: Device = "cpu"
    threads: int | None = Field(default=None, gt=0)
    timeout_s: float | None = Field(default=None, gt=0)


class _PretrainedWeights(_Task):
    weights: str | None = None  # weights for every model of the task (a model line may override)


class MeasuredTask(_RunsModels, _PretrainedWeights):
    """Pretrained (or local-checkpoint) weights evaluated on a labelled image set on disk."""

    source: Literal["measured"]
    dataset: Literal["imagefolder", "imagenet"] = "imagenet"
    label_file: str | None = None
    limit: int | None = Field(default=None, gt=0)  # evaluate a fixed subset of this many images
    checkpoint: str | None = None  # a local checkpoint (only with one model)
    # preprocessing overrides (default: each model's own data config)
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    crop_pct: float | None = Field(default=None, gt=0, le=1)
    interpolation: Literal["nearest", "bilinear", "bicubic"] | None = None
    workers: int = Field(default=0, ge=0)  # image-decoding processes

    @model_validator(mode="after")
    def _one_checkpoint_and_both_stats(self) -> "MeasuredTask":
        if self.checkpoint and self.models is not None and len(self.models) != 1:
            raise ValueError("checkpoint belongs to one model: list exactly one model, or put checkpoint on a model line")
        if self.checkpoint and self.models is None:
            raise ValueError("checkpoint belongs to one model: list that model under models")
        if (self.mean is None) != (self.std is None):
            raise ValueError("give mean and std together")
        return self


class ScratchTask(_RunsModels):
    """The architecture trained from random initialisation on a small dataset, for every seed;
    the training budget is identical for every model of the task."""

    source: Literal["scratch"]
    dataset: Literal["digits", "cifar10"] = "digits"
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
    def _three_distinct_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct, got {v}")
        if len(v) < 3:
            raise ValueError(f"scratch needs at least 3 seeds to report mean ± std, got {v}")
        return v

    @model_validator(mode="after")
    def _models_from_random_init(self) -> "ScratchTask":
        if not self.models:
            raise ValueError("scratch needs its models listed explicitly (small-image variants such as archbench:resnet18_small)")
        if any(m.weights or m.checkpoint for m in self.model_lines()):
            raise ValueError("scratch trains from random init; remove weights/checkpoint")
        return self


class ReportedTask(_PretrainedWeights):
    """The published ImageNet-1k top-1/top-5 of the exact pretrained weights; nothing runs."""

    source: Literal["reported"]
    dataset: Literal["imagenet"] = "imagenet"

    @model_validator(mode="after")
    def _no_checkpoint(self) -> "ReportedTask":
        if any(m.checkpoint for m in self.model_lines()):
            raise ValueError("checkpoint is only for source 'measured'")
        return self


# One ``accuracy:`` entry; pydantic picks the class by ``source`` (this order is the one error
# messages list the sources in).
AccuracyTask = Annotated[Union[MeasuredTask, ScratchTask, ReportedTask], Field(discriminator="source")]


# --- the suite ----------------------------------------------------------------------------------


class Suite(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    models: list[ModelEntry | str] = Field(min_length=1)
    # ignore[arg-type] below: mypy cannot infer the Literal list a default_factory lambda returns (pydantic validates it).
    devices: list[Device] = Field(default_factory=lambda: ["cpu"], min_length=1)  # type: ignore[arg-type]
    # StrictInt: YAML's `true` is not batch 1, nor "8" or 8.0 a batch of 8.
    batch_sizes: list[StrictInt] = Field(default_factory=lambda: [1], min_length=1)
    img_sizes: list[StrictInt | None] = Field(default_factory=lambda: [None], min_length=1)  # type: ignore[arg-type]
    precisions: list[Precision] = Field(default_factory=lambda: ["fp32"], min_length=1)  # type: ignore[arg-type]
    runtimes: list[Runtime] = Field(default_factory=lambda: ["eager"], min_length=1)  # type: ignore[arg-type]
    threads: list[StrictInt | None] = Field(default_factory=lambda: [None], min_length=1)  # type: ignore[arg-type]
    metrics: list[Metric] = Field(default_factory=lambda: list(METRICS), min_length=1)
    timing: TimingSpec = Field(default_factory=TimingSpec)
    timeout_s: StrictFloat = Field(default=600.0, gt=0)
    memory_limit_mb: StrictInt | None = Field(default=None, gt=0)
    # "steady": workers run with glibc's mmap/trim thresholds raised (bench/executor.py), so
    # tensors freed and re-allocated every call are not returned to the kernel and faulted in
    # again; "system": glibc's defaults, as a plain `python` process gets them.
    malloc: Literal["steady", "system"] = "steady"
    # Where cells run: one worker process at a time on this machine, or on a Ray cluster
    # (bench.executor_ray; `archbench run --executor` overrides it).
    executor: Executor = "local"
    # TF32 for fp32 matmuls and cuDNN convolutions on CUDA cells. Off by default, so an fp32
    # CNN (cuDNN allows TF32 by default) and an fp32 ViT (matmuls do not) run the same math.
    tf32: Literal["off", "on"] = "off"
    accuracy: list[AccuracyTask] = Field(default_factory=list)  # what they mean and run: bench.accuracy
    compare: CompareConfig = Field(default_factory=CompareConfig)  # thresholds for bench.compare

    @field_validator("tf32", mode="before")
    @classmethod
    def _tf32_words(cls, v: Any) -> Any:
        # YAML 1.1 reads a bare on/off as a boolean.
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v

    @field_validator("batch_sizes")
    @classmethod
    def _positive_batches(cls, v: list[int]) -> list[int]:
        bad = [b for b in v if b <= 0]
        if bad:
            raise ValueError(f"batch sizes must be positive integers, got {bad}")
        return v

    @field_validator("img_sizes")
    @classmethod
    def _positive_sizes(cls, v: list[int | None]) -> list[int | None]:
        bad = [s for s in v if s is not None and not 0 < s <= MAX_IMG_SIZE]
        if bad:
            raise ValueError(
                f"image sizes must be whole numbers from 1 to {MAX_IMG_SIZE} (or null for the model's default), got {bad}"
            )
        return v

    @field_validator("threads")
    @classmethod
    def _positive_threads(cls, v: list[int | None]) -> list[int | None]:
        bad = [t for t in v if t is not None and t <= 0]
        if bad:
            raise ValueError(f"thread counts must be positive (or null for all cores), got {bad}")
        return v

    @field_serializer("accuracy", "compare")
    def _as_written(self, v: Any) -> Any:
        # The sections as the suite set them (defaults left out), as run.json kept them when they
        # were plain mappings: the suite's hash and a run's record stay those of what was written.
        if isinstance(v, list):
            return [t.model_dump(mode="json", exclude_unset=True) for t in v]
        return v.model_dump(mode="json", exclude_unset=True)

    def model_entries(self) -> list[ModelEntry]:
        return [ModelEntry(name=m) if isinstance(m, str) else m for m in self.models]
