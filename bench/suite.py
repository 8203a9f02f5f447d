"""Suite files: YAML, read with a safe loader, validated by pydantic, expanded to cells.

A suite is declarative: which models, and the axes to sweep (devices, precisions,
runtimes, batch sizes, image sizes, thread counts). :func:`expand` turns it into the
matrix of :class:`Cell`; each cell has a stable ``key`` so runs can be resumed and
compared cell by cell.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError, field_validator, model_validator

from bench.axes import Device, Family, Metric, Precision, Runtime
from bench.errors import UserError



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


class TimingSpec(_Strict):
    """Warm-up and adaptive measurement budget (see bench.metrics.timing)."""

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
    percentiles: list[StrictFloat] = Field(default_factory=lambda: [50.0, 90.0], min_length=1)
    # Seconds per (device, precision, threads) to measure the hardware ceiling at run start
    # (bench.metrics.hardware); 0 skips it, and rows then get no efficiency.
    ceiling_s: StrictFloat = Field(default=1.0, ge=0)
    # Least seconds of repeated calls per cell for energy_j_per_img (bench.metrics.energy), where
    # NVML or RAPL can be read; 0 skips it.
    energy_s: StrictFloat = Field(default=1.0, ge=0)

    @field_validator("percentiles")
    @classmethod
    def _valid_percentiles(cls, v: list[float]) -> list[float]:
        bad = [q for q in v if not 0 < q < 100]
        if bad:
            raise ValueError(f"percentiles must lie strictly between 0 and 100 (e.g. [50, 90, 99]), got {bad}")
        return sorted(set(float(q) for q in v))
    # Worker processes per cell (bench.rounds): each process settles at its own level, so the
    # round, not the sample, is the unit of replication. 1 = no interval (process variation unknown).
    rounds: StrictInt = Field(default=3, ge=1, le=50)
    rounds_seed: StrictInt | None = Field(default=None, ge=0)  # order of cells within rounds; None = drawn per run

    @model_validator(mode="after")
    def _min_le_max(self) -> "TimingSpec":
        if self.min_samples > self.max_samples:
            raise ValueError(f"min_samples ({self.min_samples}) must not exceed max_samples ({self.max_samples})")
        return self


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
    metrics: list[Metric] = Field(default_factory=lambda: ["params", "flops", "latency", "memory"], min_length=1)  # type: ignore[arg-type]
    timing: TimingSpec = Field(default_factory=TimingSpec)
    timeout_s: StrictFloat = Field(default=600.0, gt=0)
    memory_limit_mb: StrictInt | None = Field(default=None, gt=0)
    # "steady": workers run with glibc's mmap/trim thresholds raised (bench/executor.py), so
    # tensors freed and re-allocated every call are not returned to the kernel and faulted in
    # again; "system": glibc's defaults, as a plain `python` process gets them.
    malloc: Literal["steady", "system"] = "steady"
    # Where cells run: one worker process at a time on this machine, or on a Ray cluster
    # (bench.executor_ray; `archbench run --executor` overrides it).
    executor: Literal["local", "ray"] = "local"
    # TF32 for fp32 matmuls and cuDNN convolutions on CUDA cells. Off by default, so an fp32
    # CNN (cuDNN allows TF32 by default) and an fp32 ViT (matmuls do not) run the same math.
    tf32: Literal["off", "on"] = "off"
    accuracy: list[dict[str, Any]] = Field(default_factory=list)  # accuracy tasks (bench.accuracy)
    compare: dict[str, Any] = Field(default_factory=dict)  # thresholds for bench.compare

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
            raise ValueError(f"image sizes must be whole numbers from 1 to {MAX_IMG_SIZE} (or null for the model's "
                             f"default), got {bad}")
        return v

    @field_validator("threads")
    @classmethod
    def _positive_threads(cls, v: list[int | None]) -> list[int | None]:
        bad = [t for t in v if t is not None and t <= 0]
        if bad:
            raise ValueError(f"thread counts must be positive (or null for all cores), got {bad}")
        return v

    @field_validator("compare")
    @classmethod
    def _valid_compare(cls, v: dict[str, Any]) -> dict[str, Any]:
        # Checked when the suite loads, not only when a comparison runs much later.
        from bench.compare.config import build_config

        try:
            build_config(v)
        except UserError as err:
            raise ValueError(str(err)) from None
        return v

    def model_entries(self) -> list[ModelEntry]:
        return [ModelEntry(name=m) if isinstance(m, str) else m for m in self.models]


@dataclass(frozen=True)
class Cell:
    """One point of the suite's matrix: everything a worker needs to measure it."""

    suite: str
    model: str  # display name: alias or registry name
    registry_name: str
    family: str
    device: str
    precision: str
    runtime: str
    batch_size: int
    img_size: int
    threads: int | None
    task: str = "speed"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    metrics: tuple[str, ...] = ("params", "flops", "latency", "memory")
    timing: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 600.0
    memory_limit_mb: int | None = None
    options: dict[str, Any] = field(default_factory=dict)  # task-specific settings

    @property
    def key(self) -> str:
        """Stable identity across runs: the axes, never the measurement settings."""
        parts = [
            self.suite,
            self.task,
            self.model,
            self.device,
            self.precision,
            self.runtime,
            f"b{self.batch_size}",
            f"{self.img_size}px",
            f"t{self.threads if self.threads is not None else 'all'}",
        ]
        variant = self.options.get("variant")  # e.g. accuracy source/dataset/fraction
        if variant:
            parts.append(str(variant))
        return "|".join(parts)

    @property
    def slug(self) -> str:
        """Filesystem-safe, unique name for the cell's result file."""
        digest = hashlib.sha1(self.key.encode()).hexdigest()[:10]
        from bench.names import safe_filename

        safe = safe_filename(self.model, 60, "model")
        return f"{safe}-{self.device}-{self.precision}-{self.runtime}-b{self.batch_size}-{self.img_size}-{digest}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["metrics"] = list(self.metrics)
        d["key"] = self.key
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Cell":
        d = {k: v for k, v in d.items() if k != "key"}
        d["metrics"] = tuple(d.get("metrics", ()))
        return cls(**d)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models_in(a)]


def _fields_at(model: type[BaseModel] | None, loc: Sequence[Any]) -> list[str]:
    """Field names of the model that holds ``loc[-1]``, walking ``loc`` from ``model`` down."""
    candidates = [model] if model else []
    for part in loc[:-1]:
        if isinstance(part, int) or not candidates:
            continue
        by_name = [m for m in candidates if m.__name__ == part]  # pydantic names the union branch
        if by_name:
            candidates = by_name
            continue
        nxt = [m for c in candidates if part in c.model_fields for m in _models_in(c.model_fields[part].annotation)]
        candidates = nxt
    return sorted({f for c in candidates for f in c.model_fields})


def validation_error_lines(err: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> list[str]:
    """One indented line per pydantic error: the field's path (after ``prefix``) and what is wrong.

    An unknown field names the closest allowed one when ``model`` (the validated class) is given.
    """
    import difflib

    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        where = ".".join(part for part in (prefix, loc) if part) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "literal_error":
            msg = f"{msg} (got {e.get('input')!r})"
        elif e["type"] == "extra_forbidden":
            msg = "unknown field"
            allowed = _fields_at(model, e["loc"]) if e["loc"] else []
            near = difflib.get_close_matches(str(e["loc"][-1]), allowed, n=1, cutoff=0.5) if allowed else []
            if near:
                msg += f" — did you mean {near[0]}?"
            elif allowed:
                msg += f" (allowed: {', '.join(allowed)})"
        lines.append(f"  {where}: {msg}")
    return lines


def _format_validation_error(path: str, err: ValidationError) -> str:
    return f"{path}: invalid suite\n" + "\n".join(validation_error_lines(err, model=Suite))


def parse_suite(data: Any, source: str = "<suite>") -> Suite:
    if not isinstance(data, dict):
        raise UserError(f"{source}: a suite must be a YAML mapping with at least 'name' and 'models'")
    try:
        return Suite.model_validate(data)
    except ValidationError as err:
        raise UserError(_format_validation_error(source, err)) from None


MAX_DEPTH = 50  # a suite is a few levels deep; PyYAML's composer recurses once per level
MAX_NODES = 100_000  # values after aliases are expanded; a real suite has hundreds


class InputTooLarge(ValueError):
    """A YAML document nested too deeply, or whose aliases expand past MAX_NODES values."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents nested deeper than MAX_DEPTH (a 50,000-deep ``[[[``
    would exhaust Python's stack) and counts every value as aliases expand it, so an alias bomb
    (a few hundred bytes naming a list of lists of the same list …) is refused while loading
    instead of being expanded later by validation, hashing or JSON."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) → values it stands for, aliases expanded
        self._total = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise InputTooLarge(f"nested more than {MAX_DEPTH} levels deep (line {mark.line + 1})")
            is_alias = self.check_event(yaml.AliasEvent)
            node = super().compose_node(parent, index)
            if is_alias:
                # The alias repeats the whole anchored value wherever it appears.
                self._total += self._sizes.get(id(node), 1)
            else:
                size = 1
                if isinstance(node, yaml.SequenceNode):
                    size += sum(self._sizes.get(id(v), 1) for v in node.value)
                elif isinstance(node, yaml.MappingNode):
                    size += sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
                self._sizes[id(node)] = size
                self._total += 1
            if self._total > MAX_NODES or self._sizes.get(id(node), 1) > MAX_NODES:
                raise InputTooLarge(f"expands to more than {MAX_NODES:,} values (YAML aliases repeating "
                                    "aliases?); write the suite out plainly")
            return node
        finally:
            self._depth -= 1


def load_yaml(text: str) -> Any:
    """Parse one YAML document safely: no Python objects, bounded depth and expanded size."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise InputTooLarge("nested too deeply (more than Python's stack allows)") from None
    finally:
        loader.dispose()



def apply_overrides(data: dict[str, Any], sets: Sequence[str]) -> dict[str, Any]:
    """``--set key=value`` on a suite's raw mapping, before validation (so it is checked like the file).

    Keys may be dotted (``timing.max_time_s=2``); values are YAML (``batch_sizes=[1,8]``,
    ``threads=[1, null]``). A single value for a list field becomes a one-item list
    (``runtimes=onnxruntime``).
    """
    out = json.loads(json.dumps(data, default=str))
    for item in sets:
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. timing.max_time_s=2 or batch_sizes=[1,8]")
        try:
            value = load_yaml(raw) if raw.strip() else None
        except (yaml.YAMLError, InputTooLarge):
            raise UserError(f"--set {item!r}: the value is not valid YAML") from None
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            if not isinstance(node.get(part, {}), dict):
                raise UserError(f"--set {item!r}: {part!r} is not a section with fields")
            node = node.setdefault(part, {})
        if node is out and parts[-1] in Suite.model_fields and not isinstance(value, list):
            ann = str(Suite.model_fields[parts[-1]].annotation)
            if ann.startswith("list"):
                value = [value]
        node[parts[-1]] = value
    return out


def read_suite_data(path: str | Path) -> dict[str, Any]:
    """The suite file's raw mapping (YAML problems become a UserError naming line and column)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: suite file not found")
    try:
        data = load_yaml(p.read_text(encoding="utf-8"))
    except InputTooLarge as err:
        raise UserError(f"{p}: {err}") from None
    except yaml.YAMLError as err:
        where = ""
        mark = getattr(err, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{p}: malformed YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise UserError(f"{p}: not a UTF-8 text file") from None
    return data


def load_suite(path: str | Path, overrides: Sequence[str] = ()) -> Suite:
    """Read and validate a suite file (after any ``--set`` overrides); every problem becomes a
    UserError naming file and field."""
    data = read_suite_data(path)
    if overrides:
        if not isinstance(data, dict):
            raise UserError(f"{path}: a suite must be a YAML mapping with at least 'name' and 'models'")
        data = apply_overrides(data, overrides)
        return parse_suite(data, f"{path} (with --set {' '.join(overrides)})")
    return parse_suite(data, str(path))


def suite_hash(suite: Suite) -> str:
    blob = json.dumps(suite.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def resolve_entries(entries: Sequence[Any], where: Callable[[int], str]) -> list[tuple[Any, str]]:
    """Expand model entries (anything with ``name`` and ``alias``) against the registry.

    Globs expand to every match; an empty glob or an unknown name is a UserError that starts
    with ``where(i)``, naming the entry's place in the suite. Duplicates (by display name) are
    dropped, first one kept.
    """
    from bench import registry

    out: list[tuple[Any, str]] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if any(ch in entry.name for ch in "*?["):
            names = registry.list_names(entry.name)
            if not names:
                raise UserError(f"{where(i)}: pattern {entry.name!r} matches no registered model")
        else:
            try:
                names = [registry.get_spec(entry.name).name]  # a bare unique name → its full name
            except UserError as err:
                raise UserError(f"{where(i)}: {err}") from None
        for n in names:
            display = entry.alias if (entry.alias and len(names) == 1) else n
            if display not in seen:
                seen.add(display)
                out.append((entry, n))
    return out


def resolve_models(suite: Suite) -> list[tuple[ModelEntry, str]]:
    """The suite's speed models, globs expanded (see :func:`resolve_entries`)."""
    return resolve_entries(suite.model_entries(), lambda i: f"suite {suite.name!r}: models[{i}]")


def expand(suite: Suite) -> list[Cell]:
    """The suite's speed matrix, in a deterministic order (model-major, batch-minor)."""
    from bench import registry

    cells: list[Cell] = []
    if not set(suite.metrics) & {"params", "flops", "latency", "memory"}:
        return cells
    for entry, name in resolve_models(suite):
        spec = registry.get_spec(name)
        display = entry.alias if entry.alias else name
        sizes = [entry.img_size] if entry.img_size else suite.img_sizes
        for device, precision, runtime, size, threads, batch in itertools.product(
            suite.devices, suite.precisions, suite.runtimes, sizes, suite.threads, suite.batch_sizes
        ):
            cells.append(
                Cell(
                    suite=suite.name,
                    model=display,
                    registry_name=name,
                    family=entry.family or spec.family,
                    device=device,
                    precision=precision,
                    runtime=runtime,
                    batch_size=batch,
                    img_size=size or spec.default_img_size,
                    threads=threads,
                    model_kwargs=dict(entry.kwargs),
                    options={k: v for k, v in (("min_gpu_mem_gb", entry.min_gpu_mem_gb),
                                                ("malloc", "system" if suite.malloc == "system" else None),
                                                ("tf32", suite.tf32 if device == "cuda" else None)) if v},
                    metrics=tuple(suite.metrics),
                    timing=suite.timing.model_dump(),
                    timeout_s=suite.timeout_s,
                    memory_limit_mb=suite.memory_limit_mb,
                )
            )
    return cells
