"""Suite files: YAML, read with a safe loader, validated by pydantic, expanded to cells.

The fields a suite may hold are declared in :mod:`bench.config` (the config tree); this
module reads the file, applies ``--set`` overrides, validates it in one pass and expands it.

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
from typing import Any, Callable, Sequence

import yaml
from pydantic import ValidationError

from bench.axes import METRICS
from bench.config import MAX_IMG_SIZE, ModelEntry, Suite, TimingSpec
from bench.errors import UserError, validation_message

# The config tree lives in bench.config; these names are imported from here too.
__all__ = [
    "MAX_IMG_SIZE",
    "Cell",
    "ModelEntry",
    "Suite",
    "TimingSpec",
    "expand",
    "load_suite",
    "parse_suite",
    "resolve_entries",
    "resolve_models",
    "suite_hash",
]


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
    metrics: tuple[str, ...] = METRICS
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


def parse_suite(data: Any, source: str | None = None) -> Suite:
    """Validate a suite's mapping in one pass (accuracy tasks and compare section included);
    every problem becomes one UserError naming ``source`` (by default the suite's name) and each field."""
    name = data.get("name") if isinstance(data, dict) else None
    source = source or (f"suite {name!r}" if isinstance(name, str) else "<suite>")
    if not isinstance(data, dict):
        raise UserError(f"{source}: a suite must be a YAML mapping with at least 'name' and 'models'")
    try:
        return Suite.model_validate(data)
    except ValidationError as err:
        raise UserError(validation_message(f"{source}: invalid suite", err, Suite)) from None


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
                raise InputTooLarge(
                    f"expands to more than {MAX_NODES:,} values (YAML aliases repeating aliases?); write the suite out plainly"
                )
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
    if not set(suite.metrics) & set(METRICS):
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
                    options={
                        k: v
                        for k, v in (
                            ("min_gpu_mem_gb", entry.min_gpu_mem_gb),
                            ("malloc", "system" if suite.malloc == "system" else None),
                            ("tf32", suite.tf32 if device == "cuda" else None),
                        )
                        if v
                    },
                    metrics=tuple(suite.metrics),
                    timing=suite.timing.model_dump(),
                    timeout_s=suite.timeout_s,
                    memory_limit_mb=suite.memory_limit_mb,
                )
            )
    return cells
