"""What `archbench compare` judges and how strictly: the metrics and their thresholds.

Precedence, lowest first: the defaults below, the ``compare:`` section of the suite that
produced NEW (stored in NEW's run.json), then command-line flags. A suite section looks like::

    compare:
      thresholds: {latency: 15%, throughput: 15%, memory: 5%}   # relative change; "15%" or 0.15
      alpha: 0.01                 # significance level of the round-level test for latency/throughput
      accuracy_drop_points: 0.5   # top-1/top-5 drop (percentage points) that counts
      memory_floor_mb: 1.0        # CUDA allocator-peak changes smaller than this never count
      cpu_memory_floor_mb: 4.0    # CPU peak-RSS changes smaller than this never count
      # (act_peak_mb, metric "memory", is a deterministic count: any change counts)
      allow_change: [gmacs]       # deterministic metrics allowed to change
      fail_on: [params, gmacs, latency]   # metrics that may fail the job (default: all)
      noise_guard: true           # also require the change in the runs' fast tails …
      quiet_quantile: 0.10        # … their 10th percentile of per-call latency
      one_round_threshold: 25%    # at least this threshold when a side has 1 round per cell
      max_other_cpu_pct: 25       # rounds measured while other processes used more CPU are left out
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bench import schema
from bench.errors import UserError, validation_message

Kind = Literal["status", "exact", "timing", "threshold", "accuracy"]


@dataclass(frozen=True)
class MetricSpec:
    """One judged metric. ``name`` is what users type in --fail-on / --allow-change."""

    name: str
    column: str  # column of results.parquet
    kind: Kind
    unit: str
    higher_is_better: bool
    env_sensitive: bool  # a different machine or library stack makes it incomparable
    label: str


def _spec(name: str, column: str, kind: Kind) -> MetricSpec:
    """Label, unit and direction come from the column's entry in bench/schema.py; timing and
    memory columns are the environment-sensitive ones."""
    col = schema.column(column)
    # status has no direction; "higher is better" there only keeps the dataclass total.
    better = True if col.higher_is_better is None else col.higher_is_better
    return MetricSpec(name, column, kind, col.unit, better, col.kind in ("timing", "memory"), col.title)


# Order here is the order of rows within a cell in every output.
METRICS: tuple[MetricSpec, ...] = (
    _spec("status", "status", "status"),
    _spec("params", "params", "exact"),
    _spec("gmacs", "gmacs", "exact"),
    _spec("weight_mb", "weight_mb", "exact"),
    _spec("latency", "latency_ms_p50", "timing"),
    _spec("throughput", "throughput_ips", "timing"),
    # Activations counted at the tensor level: deterministic, so any change counts.
    _spec("memory", "act_peak_mb", "exact"),
    # What the OS / the CUDA allocator see: noisy, judged with the "memory" threshold and floors.
    _spec("rss_memory", "rss_peak_mb", "threshold"),
    _spec("cuda_memory", "cuda_peak_alloc_mb", "threshold"),
    _spec("top1", "top1", "accuracy"),
    _spec("top5", "top5", "accuracy"),
)
BY_NAME = {m.name: m for m in METRICS}
# Names people naturally type for the same metric.
ALIASES = {
    "flops": "gmacs",
    "gflops": "gmacs",
    "macs": "gmacs",
    "weights": "weight_mb",
    "weight": "weight_mb",
    "size": "weight_mb",
    "latency_ms": "latency",
    "latency_ms_p50": "latency",
    "throughput_ips": "throughput",
    "act_peak_mb": "memory",
    "activations": "memory",
    "mem": "memory",
    "accuracy": "top1",
    "acc": "top1",
    "rss_peak_mb": "rss_memory",
    "rss": "rss_memory",
    "peak_mem_mb": "rss_memory",
    "cuda_peak_alloc_mb": "cuda_memory",
}
DETERMINISTIC = tuple(m.name for m in METRICS if m.kind == "exact")
# The "memory" threshold applies to the noisy memory figures (rss_memory, cuda_memory);
# act_peak_mb ("memory") is deterministic and compared exactly.
THRESHOLD_METRICS = ("latency", "throughput", "memory")


def metric_name(raw: str, where: str) -> str:
    """Canonical metric name for user input; unknown names are a UserError listing the allowed ones."""
    key = raw.strip().lower()
    key = ALIASES.get(key, key)
    if key not in BY_NAME:
        allowed = ", ".join(m.name for m in METRICS)
        raise UserError(f"{where}: unknown metric {raw!r}; allowed: {allowed} (or 'all')")
    return key


def metric_list(value: str | list[str] | tuple[str, ...], where: str, choices: tuple[str, ...] | None = None) -> list[str]:
    """Parse 'params,gmacs' / ['params', 'gmacs'] / 'all' / 'none' into canonical names."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for raw in items:
        raw = str(raw).strip()
        if not raw:
            continue
        if raw.lower() == "none":
            continue
        if raw.lower() == "all":
            out += [m for m in (choices or tuple(BY_NAME)) if m not in out]
            continue
        name = metric_name(raw, where)
        if choices is not None and name not in choices:
            raise UserError(f"{where}: {name!r} is not allowed here; allowed: {', '.join(choices)}")
        if name not in out:
            out.append(name)
    return out


def parse_fraction(value: Any, where: str) -> float:
    """'10%', '10 %', 0.1 → 0.1. A bare number is a fraction and must not exceed 1 (write '150%')."""
    if isinstance(value, bool):
        raise UserError(f"{where}: expected a fraction like 0.1 or '10%', got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                frac = float(text[:-1]) / 100
            else:
                frac = float(text)
        except ValueError:
            raise UserError(f"{where}: expected a fraction like 0.1 or '10%', got {value!r}") from None
    elif isinstance(value, (int, float)):
        frac = float(value)
    else:
        raise UserError(f"{where}: expected a fraction like 0.1 or '10%', got {value!r}")
    is_percent = isinstance(value, str) and value.strip().endswith("%")
    if frac > 1 and not is_percent:
        raise UserError(f"{where}: {value!r} is read as a fraction (1 = 100%); write '{value}%' if you meant percent")
    if not (0 < frac <= 10):
        raise UserError(f"{where}: threshold must be above 0 and at most 1000%, got {value!r}")
    return frac


DEFAULT_THRESHOLDS = {"latency": 0.10, "throughput": 0.10, "memory": 0.05}


def _field_error(err: UserError, field: str) -> ValueError:
    # The parsers above name the field for command-line use; in a validator the formatter does.
    return ValueError(str(err).removeprefix(f"{field}: "))


class CompareConfig(BaseModel):
    """Every knob of the decision rules; see the module docstring for the YAML form."""

    model_config = ConfigDict(extra="forbid")

    thresholds: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    alpha: float = Field(default=0.01, gt=0, lt=1)
    accuracy_drop_points: float = Field(default=0.5, ge=0)
    memory_floor_mb: float = Field(default=1.0, ge=0)
    # CPU peak memory is a resident-set delta: allocator arenas and page granularity move it by
    # ~1 MB between identical runs (17.04 vs 18.13 MB for test:cnn b4 measured here).
    cpu_memory_floor_mb: float = Field(default=4.0, ge=0)
    min_samples: int = Field(default=5, ge=2)
    noise_guard: bool = True
    quiet_quantile: float = Field(default=0.10, gt=0, le=0.5)
    # A run with one round per cell (schema 1 runs, `timing.rounds: 1`) says nothing about how
    # far another process would land: such cells are judged on their samples with at least this threshold.
    one_round_threshold: float = Field(default=0.25, gt=0, le=10)
    # A round during which other processes used more than this (% of one core) is busy; busy
    # rounds are left out, and a cell without 2 quiet rounds per side is "not comparable" (unreliable).
    max_other_cpu_pct: float = Field(default=25.0, ge=0)
    allow_change: list[str] = Field(default_factory=list)
    fail_on: list[str] = Field(default_factory=lambda: [m.name for m in METRICS])
    allow_env_change: bool = False
    bootstrap_resamples: int = Field(default=2000, ge=100, le=100_000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    seed: int = 0

    @field_validator("thresholds", mode="before")
    @classmethod
    def _thresholds(cls, v: Any) -> dict[str, float]:
        if not isinstance(v, dict):
            raise ValueError("a mapping of metric → relative change, e.g. {latency: 10%, memory: 5%}")
        out = dict(DEFAULT_THRESHOLDS)
        for k, val in v.items():
            name = ALIASES.get(str(k).lower(), str(k).lower())
            name = "memory" if name in ("rss_memory", "cuda_memory") else name  # one memory threshold
            if name not in THRESHOLD_METRICS:
                raise ValueError(f"no threshold for {k!r}; thresholds apply to {', '.join(THRESHOLD_METRICS)}")
            try:
                out[name] = parse_fraction(val, str(k))  # the formatter puts "thresholds" before it
            except UserError as err:
                raise ValueError(str(err)) from None
        return out

    @field_validator("one_round_threshold", mode="before")
    @classmethod
    def _one_round(cls, v: Any) -> float:
        try:
            return parse_fraction(v, "one_round_threshold")
        except UserError as err:
            raise _field_error(err, "one_round_threshold") from None

    @field_validator("allow_change", mode="before")
    @classmethod
    def _allow(cls, v: Any) -> list[str]:
        try:
            return metric_list(v, "allow_change", DETERMINISTIC)
        except UserError as err:
            raise _field_error(err, "allow_change") from None

    @field_validator("fail_on", mode="before")
    @classmethod
    def _fail_on(cls, v: Any) -> list[str]:
        try:
            return metric_list(v, "fail_on")
        except UserError as err:
            raise _field_error(err, "fail_on") from None

    def threshold(self, metric: str) -> float:
        if metric in ("rss_memory", "cuda_memory"):
            metric = "memory"
        return self.thresholds.get(metric, DEFAULT_THRESHOLDS.get(metric, 0.10))


def build_config(
    suite_section: CompareConfig | dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    source: str = "suite compare section",
) -> CompareConfig:
    """Defaults ← suite ``compare:`` section ← command-line overrides (``None`` values ignored).

    The section is a loaded suite's (already validated) or the mapping a run's run.json kept."""
    if isinstance(suite_section, CompareConfig):
        base = suite_section
    else:
        if suite_section and not isinstance(suite_section, dict):
            raise UserError(f"{source}: expected a mapping, got {type(suite_section).__name__}")
        base = _validated(dict(suite_section or {}), source)
    if not overrides:
        return base
    merged = base.model_dump()
    for k, v in overrides.items():
        if v is None:
            continue
        if k == "thresholds":
            merged["thresholds"] = {**merged["thresholds"], **v}
        else:
            merged[k] = v
    return _validated(merged, "command line")


def _validated(data: dict[str, Any], source: str) -> CompareConfig:
    try:
        return CompareConfig.model_validate(data)
    except ValidationError as err:
        raise UserError(validation_message(f"{source}: invalid compare settings", err, CompareConfig)) from None
