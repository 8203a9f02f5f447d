"""Decisions: join two runs cell by cell and judge every metric.

Per metric and cell the decision is one of :data:`DECISIONS`:

- ``status`` — a cell that measured before and fails now (crash, OOM, timeout) is
  ``regressed``; the reverse is ``improved``. A cell only in BASE is ``missing``, only in NEW ``new``.
- deterministic metrics (params, GMACs, weight size) — any change beyond float round-off is
  reported (``regressed`` when it grew, ``improved`` when it shrank) and fails the comparison
  unless the metric is in ``allow_change``: a model whose size moved is a different model.
- latency and throughput, cells timed in rounds (bench.rounds; the round — one worker
  process — is the unit of replication) — a change counts only when the ratio of the two
  runs' medians of round medians passes the metric's threshold **and** Welch's t-test on the
  log round medians gives p < ``alpha`` **and** its confidence interval for the ratio excludes
  1 (no change called when the interval includes no change) **and** (noise guard, on by
  default) the ratio of the runs' fast tails (median over rounds of each round's 10th
  percentile) passes the threshold in the same direction: other processes lengthen some calls,
  a real regression lengthens all of them (bench.compare.stats). ``archbench ab`` runs are
  *paired* (round i of both sides measured back to back): the test is a one-sample t on the
  pairs' log ratios. A change that is not established is called ``unchanged`` only when its
  confidence interval lies within ± the threshold; an interval that reaches past it (too few
  rounds for the machine's process-to-process spread) is ``inconclusive``: never failing, listed,
  and named in ``warnings`` with the way to narrow it (more rounds, a quieter machine). Rounds measured while other processes used more than
  ``max_other_cpu_pct`` of a core are left out; a cell left with fewer than two quiet rounds
  on a side is ``not comparable`` (timing unreliable), never regressed, and ``warnings`` says so.
- cells with one round on a side (older runs, ``timing.rounds: 1``): process-to-process
  variation is unknown, so they are judged on the raw samples (Mann–Whitney U, bootstrap
  interval of the ratio of medians, fast-tail guard) with the threshold raised to at least
  ``one_round_threshold``, and the reason says so.
- throughput is batch / median latency: one set of samples, one verdict — its decision
  follows latency's for the cell; its ratio is the inverse and "worse" means lower.
- memory — ``act_peak_mb`` (metric ``memory``) is a tensor-level count, deterministic, so it is
  judged like the other deterministic metrics. The resident-set peak (``rss_memory``, CPU) and
  the CUDA allocator peak (``cuda_memory``) count only past the ``memory`` threshold and a
  floor: ``memory_floor_mb`` for CUDA, ``cpu_memory_floor_mb`` for CPU, whose resident-set
  delta moves by about a megabyte between identical runs. A run written before a column
  existed (results schema 1 had no ``act_peak_mb``) makes that metric ``not comparable``.
- accuracy (top-1/top-5) — an absolute drop of more than ``accuracy_drop_points``; figures
  whose ``acc_source`` is ``reported`` (copied from the literature) are shown but never fail.

Environment guard: if the runs come from different machines, devices, thread counts or
library versions, the differences are listed and every environment-sensitive metric
(latency, throughput, memory) is ``not comparable`` unless ``allow_env_change``. The same
machine can also run at another speed from one run to the next (a cloud host's neighbours,
frequency): when the compute ceilings each run measured at its start (run.json ``hardware``)
differ by more than :data:`MACHINE_SPEED_TOLERANCE`, ``warnings`` says so, since a timing change of
that order may be the machine's. Not for ``ab``, whose sides may differ on purpose in a setting
that moves the ceiling (threads, ISA), and whose pairs cancel the machine's drift.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import results
from bench.compare.config import BY_NAME, METRICS, CompareConfig, MetricSpec, build_config
from bench.compare.stats import RoundComparison, SampleComparison, compare_rounds, compare_samples, stable_seed
from bench.errors import UserError

REGRESSED, IMPROVED, INCONCLUSIVE, UNCHANGED, NEW, MISSING, NOT_COMPARABLE = (
    "regressed",
    "improved",
    "inconclusive",
    "unchanged",
    "new",
    "missing",
    "not comparable",
)
DECISIONS = (REGRESSED, IMPROVED, INCONCLUSIVE, UNCHANGED, NEW, MISSING, NOT_COMPARABLE)

# (field in run.json "environment", category, whether a difference makes timings incomparable)
ENV_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("hostname", "machine", True),
    ("machine", "machine", True),
    ("cpu_model", "machine", True),
    ("cpu_count", "machine", True),
    ("cuda_available", "device", True),
    ("gpu_name", "device", True),
    ("gpu_count", "device", True),
    ("gpu_driver", "device", True),
    # Informational only: each cell's own threads_actual is what its timings depend on.
    ("torch_num_threads_default", "threads", False),
    ("python", "library", True),
    ("torch", "library", True),
    ("torchvision", "library", True),
    ("timm", "library", True),
    ("numpy", "library", True),
    ("onnxruntime", "library", True),
    ("cuda_version", "library", True),
    ("cudnn_version", "library", True),
    ("archbench", "library", True),
    ("tf32_matmul", "setting", True),
    ("tf32_cudnn", "setting", True),
    ("cudnn_benchmark", "setting", True),
    ("fvcore", "library", False),  # the FLOP counter: changes GMACs, not speed
)


@dataclass
class RunData:
    """One side of a comparison, read from a run folder or a results file."""

    label: str  # "BASE" or "NEW"
    path: Path
    meta: dict[str, Any] | None
    table: pd.DataFrame
    samples: dict[str, np.ndarray]
    # cell_key → {round: that round's samples}; schema 1 runs have round 0 only
    round_samples: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        if self.meta and self.meta.get("run_id"):
            return str(self.meta["run_id"])
        if "run_id" in self.table.columns and self.table["run_id"].notna().any():
            return str(self.table["run_id"].dropna().iloc[0])
        return self.path.name

    @property
    def suite_name(self) -> str | None:
        if self.meta:
            return (self.meta.get("suite") or {}).get("name")
        if "suite" in self.table.columns and self.table["suite"].notna().any():
            return str(self.table["suite"].dropna().iloc[0])
        return None

    @property
    def env(self) -> dict[str, Any] | None:
        return (self.meta or {}).get("environment")

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        """Cluster nodes the run's cells ran on (RayExecutor runs), by node id."""
        return {str(n.get("node_id")): n for n in (self.meta or {}).get("nodes") or [] if isinstance(n, dict)}

    def node_env(self, row: pd.Series | None) -> dict[str, Any] | None:
        """The environment of the machine that ran this row: its node's, else the run's."""
        node = _text(row, "node_id") if row is not None else None
        if node and node in self.nodes:
            return {**(self.env or {}), **self.nodes[node]}
        return self.env

    def info(self) -> dict[str, Any]:
        env = self.env or {}
        return {
            "label": self.label,
            "path": str(self.path),
            "run_id": self.run_id,
            "suite": self.suite_name,
            "started_at": (self.meta or {}).get("started_at"),
            "status": (self.meta or {}).get("status"),
            "git_commit": env.get("git_commit"),
            "git_dirty": env.get("git_dirty"),
            "machine": _machine_line(env) if env else "unknown (no run.json)",
            "cells": int(len(self.table)),
        }


def _machine_line(env: dict[str, Any]) -> str:
    parts = [str(env.get("hostname", "?")), f"{env.get('cpu_model', '?')} ×{env.get('cpu_count', '?')}"]
    if env.get("gpu_name"):
        parts.append(str(env["gpu_name"]))
    parts.append(f"torch {env.get('torch', '?')}")
    return " · ".join(parts)


REQUIRED_TABLE_COLUMNS = ("cell_key", "status")


def load_run(path: str | Path, label: str) -> RunData:
    """Read a run for comparison. Anything unusable (missing, corrupt, another schema) is a UserError."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{label} {p}: no such run folder or results file")
    run_dir = p if p.is_dir() else p.parent
    meta = results.read_run_meta(run_dir) if (run_dir / "run.json").exists() else None
    if p.is_dir() and meta is None and not any((p / n).is_file() for n in ("results.parquet", "results.csv")):
        raise UserError(f"{label} {p}: not a run folder (no run.json, results.parquet or results.csv)")
    if p.is_dir() and not (p / "results.parquet").is_file() and (p / "results.csv").is_file():
        p = p / "results.csv"
    table = results.load_results(p, join_accuracy=False)  # accuracy is judged on its own rows, once
    missing = [c for c in REQUIRED_TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise UserError(
            f"{label} {p}: not an archbench results table (no {', '.join(missing)} column); "
            f"schema version {results.SCHEMA_VERSION} tables have one row per cell keyed by cell_key"
        )
    dupes = table["cell_key"][table["cell_key"].duplicated()].unique().tolist()
    if dupes:
        raise UserError(f"{label} {p}: cell {dupes[0]!r} appears more than once; a results table has one row per cell")
    sdf = results.load_samples(run_dir)
    if len(sdf) and not {"cell_key", "latency_ms"} <= set(sdf.columns):
        raise UserError(
            f"{label} {run_dir / 'samples.parquet'}: samples table has columns {list(sdf.columns)}, "
            "expected run_id, cell_key, model, iteration, latency_ms"
        )
    samples: dict[str, np.ndarray] = {}
    by_round: dict[str, dict[int, np.ndarray]] = {}
    if len(sdf):
        if "round" not in sdf.columns:
            sdf = sdf.assign(round=0)
        sdf = sdf.sort_values(["cell_key", "round"] + (["iteration"] if "iteration" in sdf.columns else []), kind="stable")
        for key, grp in sdf.groupby("cell_key", sort=False):
            samples[str(key)] = pd.to_numeric(grp["latency_ms"], errors="coerce").to_numpy(dtype=float)
            by_round[str(key)] = {
                int(r): pd.to_numeric(g["latency_ms"], errors="coerce").to_numpy(dtype=float)
                for r, g in grp.groupby("round", sort=True)
            }
    return RunData(label, Path(path), meta, table, samples, by_round)


@dataclass
class EnvDiff:
    field: str
    category: str
    base: Any
    new: Any
    affects_timing: bool


def environment_diffs(
    base: RunData, new: RunData, base_env: dict[str, Any] | None = None, new_env: dict[str, Any] | None = None
) -> list[EnvDiff]:
    """Differences between the two runs' environments (or the two given ones: per node)."""
    be, ne = (base_env if base_env is not None else base.env) or {}, (new_env if new_env is not None else new.env) or {}
    diffs = []
    for name, cat, timing in ENV_FIELDS:
        bv, nv = be.get(name), ne.get(name)
        if bv != nv:
            diffs.append(EnvDiff(name, cat, bv, nv, timing))
    bt = ((base.meta or {}).get("conventions") or {}).get("timing_rule")
    nt = ((new.meta or {}).get("conventions") or {}).get("timing_rule")
    if bt and nt and bt != nt:
        diffs.append(EnvDiff("timing_rule", "method", bt, nt, True))
    return diffs


@dataclass
class MetricResult:
    """The verdict for one metric of one cell. ``change`` is relative (new/base − 1) except
    for accuracy, where it is the difference in percentage points."""

    cell_key: str
    cell: str  # short label of the cell
    model: str
    metric: str
    label: str
    kind: str
    unit: str
    decision: str
    failed: bool
    reason: str
    base: Any = None
    new: Any = None
    change: float | None = None
    ci_low: float | None = None  # bounds of the ratio NEW/BASE (timing metrics)
    ci_high: float | None = None
    p_value: float | None = None
    n_base: int | None = None
    n_new: int | None = None
    threshold: float | None = None
    quiet_change: float | None = None  # timing: change of the fast tail (quiet_quantile)
    test: str | None = None  # timing: the significance test behind p_value
    unreliable: bool = False  # timing: not judged because the cell was measured under load

    @property
    def changed(self) -> bool:
        return self.decision in (REGRESSED, IMPROVED, NEW, MISSING)


@dataclass
class CellComparison:
    key: str
    label: str
    model: str
    results: list[MetricResult]

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.results)

    @property
    def changed(self) -> bool:
        return any(r.changed for r in self.results)

    @property
    def rank(self) -> int:
        """Sort order of cells in every output: failing, changed, incomparable, unchanged."""
        if self.failed:
            return 0
        if any(r.decision == REGRESSED for r in self.results):
            return 1
        if self.changed:
            return 2
        if any(r.decision in (NOT_COMPARABLE, INCONCLUSIVE) for r in self.results):
            return 3
        return 4


@dataclass
class Comparison:
    base: RunData
    new: RunData
    config: CompareConfig
    env_diffs: list[EnvDiff]
    cells: list[CellComparison]
    warnings: list[str] = field(default_factory=list)
    join_note: str | None = None
    paired: bool = False  # archbench ab: round i of BASE and NEW measured back to back

    @property
    def results(self) -> list[MetricResult]:
        return [r for c in self.cells for r in c.results]

    @property
    def failures(self) -> list[MetricResult]:
        return [r for r in self.results if r.failed]

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0

    @property
    def env_blocks_timing(self) -> bool:
        return self.timing_env_diffs != [] and not self.config.allow_env_change

    @property
    def timing_env_diffs(self) -> list[EnvDiff]:
        diffs = [d for d in self.env_diffs if d.affects_timing]
        if self.base.env is None or self.new.env is None:
            diffs.append(
                EnvDiff(
                    "environment",
                    "unknown",
                    "recorded" if self.base.env else "unknown",
                    "recorded" if self.new.env else "unknown",
                    True,
                )
            )
        return diffs

    def counts(self) -> dict[str, int]:
        out = {d: 0 for d in DECISIONS}
        for r in self.results:
            out[r.decision] += 1
        out["failed"] = len(self.failures)
        return out

    def summary_line(self) -> str:
        c = self.counts()
        parts = [f"{c[d]} {d}" for d in DECISIONS if c[d]]
        verdict = f"FAIL: {c['failed']} failing" if c["failed"] else "OK: nothing failing"
        return f"{verdict} · " + ", ".join(parts) if parts else verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "summary": self.summary_line(),
            "counts": self.counts(),
            "base": self.base.info(),
            "new": self.new.info(),
            "environment_differences": [asdict(d) for d in self.env_diffs],
            "timing_comparable": not self.env_blocks_timing,
            "warnings": list(self.warnings),
            "join_note": self.join_note,
            "paired": self.paired,
            "config": self.config.model_dump(),
            "cells": [
                {
                    "cell_key": c.key,
                    "cell": c.label,
                    "model": c.model,
                    "failed": c.failed,
                    "changed": c.changed,
                    "results": [
                        {k: _json_num(v) for k, v in asdict(r).items() if k not in ("cell_key", "cell", "model")}
                        for r in c.results
                    ],
                }
                for c in self.cells
            ],
        }


def _json_num(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


# ---------------------------------------------------------------------------- values


def _num(row: pd.Series | None, col: str) -> float | None:
    if row is None or col not in row.index:
        return None
    v = row[col]
    if v is None or isinstance(v, str):
        try:
            return float(v) if v not in (None, "") else None
        except ValueError:
            return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _text(row: pd.Series | None, col: str) -> str | None:
    if row is None or col not in row.index:
        return None
    v = row[col]
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v)


def cell_label(key: str) -> str:
    """'ci|speed|test:cnn|cpu|fp32|eager|b1|32px|t1' → 'test:cnn cpu fp32 eager b1 32px t1'."""
    parts = key.split("|")
    if len(parts) < 3:
        return key
    label = " ".join(parts[2:])
    return label if parts[1] == "speed" else f"{label} [{parts[1]}]"


def _join_key(key: str, strip_suite: bool) -> str:
    return key.split("|", 1)[1] if strip_suite and "|" in key else key


# ---------------------------------------------------------------------------- judging


class _Judge:
    def __init__(self, cfg: CompareConfig, timing_block: str | None):
        self.cfg = cfg
        self.timing_block = timing_block
        self.damaged_new = False  # set per metric by compare_runs: NEW ok, metric expected, value absent

    def result(self, key: str, model: str, spec: MetricSpec, decision: str, reason: str, **kw: Any) -> MetricResult:
        failed = kw.pop("failed", None)
        if failed is None:
            failed = decision == REGRESSED and spec.name in self.cfg.fail_on
        return MetricResult(
            key, cell_label(key), model, spec.name, spec.label, spec.kind, spec.unit, decision, bool(failed), reason, **kw
        )

    def presence(self, key: str, model: str, spec: MetricSpec, b: Any, n: Any) -> MetricResult | None:
        if b is None and n is None:
            return None
        if b is None:
            return self.result(key, model, spec, NEW, "not measured in BASE", new=n)
        if self.damaged_new:
            # NEW says "ok" and was asked for this metric, yet has no value: a damaged or
            # hand-edited table must not pass the gate as merely "missing".
            return self.result(
                key,
                model,
                spec,
                MISSING,
                f"NEW row is ok but has no {spec.label}: damaged results",
                base=b,
                failed=spec.name in self.cfg.fail_on,
            )
        return self.result(key, model, spec, MISSING, "not measured in NEW", base=b)

    def status(self, key: str, model: str, brow: pd.Series, nrow: pd.Series) -> MetricResult:
        spec = BY_NAME["status"]
        bs, ns = _text(brow, "status") or "?", _text(nrow, "status") or "?"
        if bs == "ok" and ns != "ok":
            err = (_text(nrow, "error") or "")[:200]
            return self.result(
                key, model, spec, REGRESSED, f"measured in BASE, {ns} in NEW" + (f": {err}" if err else ""), base=bs, new=ns
            )
        if bs != "ok" and ns == "ok":
            return self.result(key, model, spec, IMPROVED, f"{bs} in BASE, measured in NEW", base=bs, new=ns)
        if bs != "ok":
            return self.result(key, model, spec, UNCHANGED, f"{ns} in both runs", base=bs, new=ns)
        return self.result(key, model, spec, UNCHANGED, "measured in both runs", base=bs, new=ns)

    def exact(self, key: str, model: str, spec: MetricSpec, b: float | None, n: float | None) -> MetricResult | None:
        if b is None or n is None:
            return self.presence(key, model, spec, b, n)
        if math.isclose(b, n, rel_tol=1e-9, abs_tol=1e-12):
            return self.result(key, model, spec, UNCHANGED, "identical", base=b, new=n, change=0.0)
        change = n / b - 1 if b else math.inf
        decision = REGRESSED if n > b else IMPROVED
        allowed = spec.name in self.cfg.allow_change
        gate = spec.name in self.cfg.fail_on
        if allowed:
            reason = "changed (allowed by allow_change)"
        elif gate:
            reason = f"changed: the model is different (allow with --allow-change {spec.name})"
        else:
            reason = "changed (not in fail_on)"
        return self.result(key, model, spec, decision, reason, base=b, new=n, change=change, failed=gate and not allowed)

    def timing(
        self,
        key: str,
        model: str,
        spec: MetricSpec,
        brow: pd.Series,
        nrow: pd.Series,
        ev: "TimingEvidence | None",
        batch: float | None,
        follow: MetricResult | None = None,
    ) -> MetricResult | None:
        b, n = _num(brow, spec.column), _num(nrow, spec.column)
        if b is None or n is None:
            return self.presence(key, model, spec, b, n)
        thr = self.cfg.threshold(spec.name)
        if self.timing_block:
            return self.result(
                key, model, spec, NOT_COMPARABLE, self.timing_block, base=b, new=n, change=n / b - 1 if b else None, threshold=thr
            )
        if ev is None or ev.comparison is None:
            why = (ev.reason if ev else None) or "no raw samples"
            return self.result(
                key,
                model,
                spec,
                NOT_COMPARABLE,
                why,
                base=b,
                new=n,
                change=n / b - 1 if b else None,
                threshold=thr,
                unreliable=bool(ev and ev.unreliable),
            )
        sc = ev.comparison
        if ev.one_round:
            thr = max(thr, self.cfg.one_round_threshold)
        if spec.name == "latency":
            base_v, new_v, ratio, lo, hi = sc.median_base, sc.median_new, sc.ratio, sc.ci_low, sc.ci_high
            quiet = sc.quiet_ratio
        else:  # throughput = batch / median latency: same samples, inverse ratio
            bsz = batch or 1.0
            base_v, new_v = bsz * 1000 / sc.median_base, bsz * 1000 / sc.median_new
            ratio = 1 / sc.ratio
            lo, hi = (1 / sc.ci_high if sc.ci_high else math.inf), (1 / sc.ci_low if sc.ci_low else math.inf)
            quiet = 1 / sc.quiet_ratio if sc.quiet_ratio else math.inf
        change, quiet_change = ratio - 1, quiet - 1
        stats = dict(
            base=base_v,
            new=new_v,
            change=change,
            ci_low=lo,
            ci_high=hi,
            p_value=sc.p_value,
            n_base=sc.n_base,
            n_new=sc.n_new,
            threshold=thr,
            quiet_change=quiet_change,
            test=ev.test,
        )
        note = f" [{ev.note}]" if ev.note else ""
        if follow is not None:  # one set of samples, one verdict: throughput follows latency
            why = f"follows latency's verdict for this cell ({follow.decision}; latency {follow.change:+.1%})"
            return self.result(key, model, spec, follow.decision, why + note, **stats)

        def past(c: float) -> tuple[bool, bool]:  # (worse, better) beyond the threshold
            return (c < -thr, c > thr) if spec.higher_is_better else (c > thr, c < -thr)

        worse, better = past(change)
        q_worse, q_better = past(quiet_change)
        significant = sc.p_value < self.cfg.alpha
        excludes_one = lo > 1 or hi < 1
        guard = self.cfg.noise_guard
        unit = "rounds" if isinstance(sc, RoundComparison) else "samples"
        by_fast_tail = False  # the noise guard's "unchanged" rests on the fast tail, not on the interval
        if not (worse or better):
            decision, reason = UNCHANGED, f"{change:+.1%} is within ±{thr:.0%}"
        elif not significant:
            decision = UNCHANGED
            reason = f"{change:+.1%} is past ±{thr:.0%} but not significant over {unit} (p={sc.p_value:.2g} ≥ {self.cfg.alpha:g})"
        elif not excludes_one:
            decision = UNCHANGED
            reason = f"{change:+.1%} is past ±{thr:.0%}, but its {self.cfg.confidence:.0%} interval includes no change"
        elif guard and not ((worse and q_worse) or (better and q_better)):
            decision, by_fast_tail = UNCHANGED, True
            reason = (
                f"{change:+.1%} is past ±{thr:.0%} (p={sc.p_value:.2g}), but the fastest calls (p"
                f"{self.cfg.quiet_quantile * 100:g}) moved only {quiet_change:+.1%}: load on the machine, not the model"
            )
        else:
            decision = REGRESSED if worse else IMPROVED
            reason = f"{change:+.1%} is past ±{thr:.0%} and significant over {unit} (p={sc.p_value:.2g} < {self.cfg.alpha:g})"
            if guard:
                reason += f"; fastest calls (p{self.cfg.quiet_quantile * 100:g}) {quiet_change:+.1%}"
        # "Unchanged" is a claim too: it needs the interval inside ±threshold, not only a change
        # that failed to reach significance.
        if decision == UNCHANGED and not by_fast_tail and (lo - 1 < -thr or hi - 1 > thr):
            decision = INCONCLUSIVE
            reason += (
                f"; its {self.cfg.confidence:.0%} interval {lo - 1:+.1%} … {hi - 1:+.1%} reaches past ±{thr:.0%}, "
                f"so no change is shown either: inconclusive ({_narrowing_hint(sc, lo, hi, thr, unit)})"
            )
        return self.result(key, model, spec, decision, reason + note, **stats)

    def memory(
        self, key: str, model: str, spec: MetricSpec, b: float | None, n: float | None, device: str | None = None
    ) -> MetricResult | None:
        if b is None or n is None:
            return self.presence(key, model, spec, b, n)
        thr = self.cfg.threshold(spec.name)
        floor = self.cfg.memory_floor_mb if device == "cuda" else self.cfg.cpu_memory_floor_mb
        change = (n / b - 1) if b > 0 else (0.0 if n == b else math.inf)
        if self.timing_block:
            return self.result(key, model, spec, NOT_COMPARABLE, self.timing_block, base=b, new=n, change=change, threshold=thr)
        delta = n - b
        past = abs(delta) > max(thr * b, floor)
        if past:
            decision = REGRESSED if delta > 0 else IMPROVED
            reason = f"{delta:+.2f} MiB is past ±{thr:.0%} and the {floor:g} MiB floor"
        else:
            decision = UNCHANGED
            reason = f"{delta:+.2f} MiB is within ±{thr:.0%} (or under the {floor:g} MiB floor)"
        return self.result(key, model, spec, decision, reason, base=b, new=n, change=change, threshold=thr)

    def accuracy(self, key: str, model: str, spec: MetricSpec, brow: pd.Series, nrow: pd.Series) -> MetricResult | None:
        b, n = _num(brow, spec.column), _num(nrow, spec.column)
        if b is None or n is None:
            return self.presence(key, model, spec, b, n)
        bsrc, nsrc = _text(brow, "acc_source"), _text(nrow, "acc_source")
        limit = self.cfg.accuracy_drop_points
        delta = n - b
        if bsrc != nsrc:
            return self.result(
                key,
                model,
                spec,
                NOT_COMPARABLE,
                f"accuracy source differs ({bsrc} vs {nsrc})",
                base=b,
                new=n,
                change=delta,
                threshold=limit,
            )
        if delta < -limit:
            decision, reason = REGRESSED, f"dropped {-delta:.2f} points (limit {limit:g})"
        elif delta > limit:
            decision, reason = IMPROVED, f"rose {delta:.2f} points"
        else:
            decision, reason = UNCHANGED, f"{delta:+.2f} points is within ±{limit:g}"
        failed = None
        if nsrc == "reported":
            failed = False
            reason += "; reported figure (from the literature): never fails"
        return self.result(key, model, spec, decision, reason, base=b, new=n, change=delta, threshold=limit, failed=failed)


def _narrowing_hint(sc: RoundComparison | SampleComparison, lo: float, hi: float, thr: float, unit: str) -> str:
    """How many rounds would bring the interval inside ±threshold at the spread just observed.

    The interval's half-width on the log scale shrinks as 1/sqrt(rounds); the estimate ignores
    the smaller t quantile of more rounds, so it errs on the side of more."""
    if not isinstance(sc, RoundComparison) or not (lo > 0 and hi > 0):
        return f"more {unit} or a quieter machine narrow it"
    half = (math.log(hi) - math.log(lo)) / 2
    n = min(sc.n_base, sc.n_new)
    need = math.ceil(n * (half / math.log(1 + thr)) ** 2)
    what = "pairs of rounds" if sc.paired else "rounds a side"
    return f"at this spread about {need} {what} would be needed for an interval of ±{thr:.0%}; or a quieter machine"


@dataclass
class TimingEvidence:
    """What a cell's timing verdict rests on: a round-level (or, with one round, sample-level)
    comparison, or the reason there is none."""

    comparison: RoundComparison | SampleComparison | None = None
    reason: str | None = None  # why there is no comparison
    note: str | None = None  # said beside the verdict (rounds left out, one round only)
    one_round: bool = False
    unreliable: bool = False  # measured under load: not judged
    test: str | None = None


def _round_loads(row: pd.Series, rounds: list[int]) -> dict[int, float]:
    """Other processes' CPU (% of a core) per round, from the row (aligned with its timed rounds)."""
    raw = row.get("other_cpu_pct_rounds") if row is not None else None
    # a list (Parquet, typed tables) or JSON text (CSV, older tables)
    vals = results._as_list(raw) if raw is not None and not (isinstance(raw, float) and math.isnan(raw)) else None
    if isinstance(vals, list) and len(vals) == len(rounds):
        try:
            return {r: float(v) for r, v in zip(rounds, vals) if v is not None}
        except (TypeError, ValueError):
            pass
    one = _num(row, "other_cpu_pct")  # a one-round row, or a row without the per-round list
    return {r: one for r in rounds} if one is not None and len(rounds) == 1 else {}


def _timing_evidence(
    key: str,
    bkey: str,
    nkey: str,
    base: RunData,
    new: RunData,
    brow: pd.Series,
    nrow: pd.Series,
    cfg: CompareConfig,
    paired: bool = False,
) -> TimingEvidence:
    bt, nt = _num(brow, "threads_actual"), _num(nrow, "threads_actual")
    if bt is not None and nt is not None and bt != nt:
        return TimingEvidence(reason=f"thread counts differ ({bt:g} in BASE, {nt:g} in NEW)")
    br, nr = base.round_samples.get(bkey), new.round_samples.get(nkey)
    if not br or not nr:
        which = " and ".join(r.label for r, s in ((base, br), (new, nr)) if not s)
        return TimingEvidence(reason=f"no raw timing samples in {which} (samples.parquet), so significance cannot be tested")
    br = {r: v[np.isfinite(v)] for r, v in br.items() if np.isfinite(v).sum() >= 1}
    nr = {r: v[np.isfinite(v)] for r, v in nr.items() if np.isfinite(v).sum() >= 1}
    # Rounds measured while other processes used the CPU are left out; too few quiet ones → unreliable.
    bl, nl = _round_loads(brow, sorted(br)), _round_loads(nrow, sorted(nr))
    limit = cfg.max_other_cpu_pct
    b_busy = sorted(r for r in br if bl.get(r, 0.0) > limit)
    n_busy = sorted(r for r in nr if nl.get(r, 0.0) > limit)
    if paired:
        # Load both members of a pair shared cancels in their ratio; a pair is left out when the
        # load changed between its members (a phase began or ended between them).
        pairs = sorted(set(br) & set(nr))
        b_busy = sorted(r for r in pairs if abs(bl.get(r, 0.0) - nl.get(r, 0.0)) > limit)
        n_busy = list(b_busy)
        kept = [r for r in pairs if r not in b_busy]
        bq, nq = {r: br[r] for r in kept}, {r: nr[r] for r in kept}
    else:
        bq = {r: v for r, v in br.items() if r not in b_busy}
        nq = {r: v for r, v in nr.items() if r not in n_busy}
    note = None
    if b_busy or n_busy:
        worst = max([bl.get(r, 0.0) for r in b_busy] + [nl.get(r, 0.0) for r in n_busy])
        parts = [f"{lbl} {len(busy)}/{len(rs)}" for lbl, busy, rs in (("BASE", b_busy, br), ("NEW", n_busy, nr)) if busy]
        enough = len(bq) >= 2 and len(nq) >= 2 and (len(br) > 1 and len(nr) > 1)
        if not enough and paired:
            return TimingEvidence(
                reason=(
                    f"timing unreliable: other processes' CPU use changed by more than {limit:g}% of a core between "
                    f"the two members of {len(b_busy)}/{len(set(br) & set(nr))} pairs, so no decision"
                ),
                unreliable=True,
            )
        if not enough:
            return TimingEvidence(
                reason=(
                    f"timing unreliable: measured under load (other processes used up to {worst:.0f}% of a core "
                    f"during {', '.join(parts)} rounds; limit {limit:g}%), so no decision"
                ),
                unreliable=True,
            )
        note = (
            f"{len(b_busy)} pair(s) left out: load changed between their members"
            if paired
            else f"busy rounds left out ({', '.join(parts)}; other processes up to {worst:.0f}% of a core)"
        )
    else:
        bq, nq = br, nr
    if len(bq) >= 2 and len(nq) >= 2:
        if paired:
            common = sorted(set(bq) & set(nq))
            sc = compare_rounds([bq[r] for r in common], [nq[r] for r in common], cfg.confidence, cfg.quiet_quantile, paired=True)
        else:
            sc = compare_rounds([bq[r] for r in sorted(bq)], [nq[r] for r in sorted(nq)], cfg.confidence, cfg.quiet_quantile)
        return TimingEvidence(sc, note=note, test=sc.test)
    # One round on a side: the samples of one process; process-to-process variation unknown.
    bs, ns = np.concatenate(list(bq.values())), np.concatenate(list(nq.values()))
    if len(bs) < cfg.min_samples or len(ns) < cfg.min_samples:
        return TimingEvidence(reason=f"too few samples (BASE {len(bs)}, NEW {len(ns)}; need {cfg.min_samples})")
    one = " and ".join(lbl for lbl, rs in (("BASE", bq), ("NEW", nq)) if len(rs) < 2)
    ss = compare_samples(bs, ns, cfg.bootstrap_resamples, cfg.confidence, stable_seed(cfg.seed, key), cfg.quiet_quantile)
    why = (
        f"1 round in {one}: process-to-process variation unknown; judged on samples with a threshold of at "
        f"least {cfg.one_round_threshold:.0%}"
    )
    return TimingEvidence(ss, note="; ".join(x for x in (note, why) if x), one_round=True, test="Mann–Whitney U on samples")


def _timing_block(cmp_env: list[EnvDiff], base: RunData, new: RunData, cfg: CompareConfig, where: str = "") -> str | None:
    if cfg.allow_env_change:
        return None
    if base.env is None or new.env is None:
        which = " and ".join(r.label for r in (base, new) if r.env is None)
        return f"environment of {which} unknown (no run.json); pass --allow-env-change to compare anyway"
    diffs = [d for d in cmp_env if d.affects_timing]
    if diffs:
        names = ", ".join(d.field for d in diffs[:4]) + (" …" if len(diffs) > 4 else "")
        return f"different environment{where} ({names}); pass --allow-env-change to compare anyway"
    return None


_SUITE_METRIC = {
    "params": "params",
    "weight_mb": "params",
    "gmacs": "flops",
    "latency": "latency",
    "throughput": "latency",
    "memory": "memory",
}


def _expected_metrics(run: RunData) -> set[str]:
    """Comparison metrics the run's suite asked for (all of them when its suite is unknown)."""
    asked = (((run.meta or {}).get("suite") or {}).get("content") or {}).get("metrics")
    if not isinstance(asked, list):
        return set(_SUITE_METRIC)
    return {m for m, s in _SUITE_METRIC.items() if s in asked}


def _absent(table: pd.DataFrame, column: str) -> bool:
    """The table has no value at all in ``column`` (e.g. act_peak_mb in a results schema 1 run)."""
    return column not in table.columns or not table[column].notna().any()


# Past the probe's own repeat-to-repeat spread; on the project's VM two runs of suites/ci.yaml an
# hour apart read 55.7 and 68.1 GFLOP/s (+22%: results/baselines/ci vs results/examples).
MACHINE_SPEED_TOLERANCE = 0.10


def _hardware_by_setting(run: RunData) -> dict[tuple[str, str, Any], dict[str, Any]]:
    hw = (run.meta or {}).get("hardware") or []
    return {
        (str(h.get("device")), str(h.get("precision")), h.get("threads_actual")): h
        for h in hw
        if isinstance(h, dict) and isinstance(h.get("ceiling_gflops"), (int, float)) and h["ceiling_gflops"] > 0
    }


def _machine_speed_warnings(base: RunData, new: RunData) -> list[str]:
    """One warning per device/precision/threads whose measured ceiling moved past the tolerance."""
    bh, nh = _hardware_by_setting(base), _hardware_by_setting(new)
    out = []
    for key in sorted(set(bh) & set(nh), key=str):
        b, n = float(bh[key]["ceiling_gflops"]), float(nh[key]["ceiling_gflops"])
        change = n / b - 1
        if abs(change) > MACHINE_SPEED_TOLERANCE:
            device, precision, threads = key
            kernel = nh[key].get("ceiling_kernel") or bh[key].get("ceiling_kernel") or "ceiling"
            out.append(
                f"machine speed differs: the {kernel} ceiling each run measured at its start ({device} {precision}, "
                f"{threads} thread{'' if threads == 1 else 's'}) read {b:.1f} GFLOP/s in BASE and {n:.1f} in NEW ({change:+.0%}, past "
                f"±{MACHINE_SPEED_TOLERANCE:.0%}); a timing change of that order may be the machine's, not the code's"
            )
    return out


def _run_warnings(base: RunData, new: RunData) -> list[str]:
    """Runs that did not complete, or were measured on a busy machine, and runs with no rows (an error)."""
    warnings: list[str] = []
    for run in (base, new):
        meta = run.meta or {}
        if meta.get("status") and meta["status"] != "complete":
            warnings.append(f"{run.label} run {run.run_id} is {meta['status']}, not complete")
        load_warning = (meta.get("load") or {}).get("warning")
        if load_warning:
            warnings.append(f"{run.label}: {load_warning}")
    for run in (base, new):
        if len(run.table) == 0:
            raise UserError(f"{run.label} {run.path}: has no cells (zero rows); there is nothing to compare")
    return warnings


@dataclass
class _Joined:
    """The two runs' rows by join key, in NEW's order then BASE-only cells."""

    brows: dict[str, Any]
    nrows: dict[str, Any]
    order: list[str]
    note: str | None


def _join(base: RunData, new: RunData) -> _Joined:
    strip = bool(base.suite_name and new.suite_name and base.suite_name != new.suite_name)
    note = None
    if strip:
        note = f"suites differ ({base.suite_name!r} vs {new.suite_name!r}): cells joined on their axes without the suite name"
    brows = {_join_key(str(r["cell_key"]), strip): r for _, r in base.table.iterrows()}
    nrows = {_join_key(str(r["cell_key"]), strip): r for _, r in new.table.iterrows()}
    if not set(brows) & set(nrows):
        raise UserError(
            f"BASE {base.path} and NEW {new.path} have no cell in common (BASE e.g. {next(iter(brows))!r}, "
            f"NEW e.g. {next(iter(nrows))!r}); they measure different things, so nothing can be judged"
        )
    return _Joined(brows, nrows, list(nrows) + [k for k in brows if k not in nrows], note)


def _judge_cell_metrics(
    judge: _Judge, base: RunData, new: RunData, brow: Any, nrow: Any, key: str, model: str, expected_new: set[str], paired: bool
) -> list[MetricResult]:
    """Every metric of one cell present in both runs: status, then METRICS in order."""
    cfg, block = judge.cfg, judge.timing_block
    out: list[MetricResult] = [judge.status(key, model, brow, nrow)]
    both_ok = _text(brow, "status") == "ok" and _text(nrow, "status") == "ok"
    ev: TimingEvidence | None = None
    latency_result: MetricResult | None = None
    for spec in METRICS[1:]:
        if both_ok and _absent(base.table, spec.column) and _num(nrow, spec.column) is not None:
            out.append(
                judge.result(
                    key,
                    model,
                    spec,
                    NOT_COMPARABLE,
                    f"BASE has no {spec.column} at all (a run from before the column existed, or one that did not measure it)",
                    new=_num(nrow, spec.column),
                )
            )
            continue
        judge.damaged_new = (
            both_ok
            and spec.name in expected_new
            and spec.column in new.table.columns
            and _num(brow, spec.column) is not None
            and _num(nrow, spec.column) is None
        )
        r: MetricResult | None
        if spec.kind == "exact":
            r = judge.exact(key, model, spec, _num(brow, spec.column), _num(nrow, spec.column))
        elif spec.kind == "timing":
            if not both_ok:
                continue
            if ev is None and not block and _num(brow, spec.column) is not None and _num(nrow, spec.column) is not None:
                ev = _timing_evidence(key, str(brow["cell_key"]), str(nrow["cell_key"]), base, new, brow, nrow, cfg, paired)
            # Throughput at a batch follows latency's decision for the cell: one set of samples, one verdict.
            follow = (
                latency_result
                if spec.name != "latency"
                and latency_result is not None
                and latency_result.decision in (REGRESSED, IMPROVED, INCONCLUSIVE, UNCHANGED)
                else None
            )
            r = judge.timing(key, model, spec, brow, nrow, ev, _num(nrow, "batch_size"), follow)
            if spec.name == "latency":
                latency_result = r
        elif spec.kind == "threshold":
            if not both_ok:
                continue
            r = judge.memory(
                key,
                model,
                spec,
                _num(brow, spec.column),
                _num(nrow, spec.column),
                _text(nrow, "device") or (key.split("|")[3] if key.count("|") >= 3 else None),
            )
        else:
            r = judge.accuracy(key, model, spec, brow, nrow)
        if r is not None:
            out.append(r)
    return out


def _first_five(labels: list[str]) -> str:
    return ", ".join(labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")


def _summary_warnings(cells: list[CellComparison], base: RunData, new: RunData, cfg: CompareConfig) -> list[str]:
    """Cells left undecided for load, and runs whose process-level variation is unknown."""
    warnings = []
    unreliable = [c.label for c in cells if any(r.unreliable and r.metric == "latency" for r in c.results)]
    if unreliable:
        warnings.append(
            f"timing unreliable in {len(unreliable)} cell(s), measured while other processes used more than "
            f"{cfg.max_other_cpu_pct:g}% of a core: {_first_five(unreliable)}; their latency/throughput were not judged"
        )
    unsure = [c.label for c in cells if any(r.decision == INCONCLUSIVE and r.metric == "latency" for r in c.results)]
    if unsure:
        warnings.append(
            f"timing inconclusive in {len(unsure)} cell(s): the interval of the change reaches past the threshold "
            f"without the change being shown: {_first_five(unsure)}; more rounds (timing.rounds, ab --rounds) or a "
            "quieter machine narrow it"
        )
    one_round = sorted({r.label for r in (base, new) if _one_round_run(r)})
    if one_round:
        warnings.append(
            f"{' and '.join(one_round)} timed each cell in 1 round (one process): process-to-process "
            f"variation is unknown, so those timings are judged on samples with a threshold of at least "
            f"{cfg.one_round_threshold:.0%}"
        )
    return warnings


def compare_runs(base: RunData, new: RunData, config: CompareConfig | None = None, paired: bool = False) -> Comparison:
    """Judge every metric of every cell; see the module docstring for the rules. ``paired``:
    round i of BASE and NEW were measured back to back (archbench ab)."""
    cfg = config or build_config()
    env_diffs = environment_diffs(base, new)
    block = _timing_block(env_diffs, base, new, cfg)
    # Runs whose cells ran on cluster nodes are guarded per cell: the machines that ran it.
    per_node = bool(base.nodes or new.nodes)
    node_diffs: dict[str, EnvDiff] = {}
    judge = _Judge(cfg, block)
    warnings = _run_warnings(base, new)
    if not paired:
        warnings += _machine_speed_warnings(base, new)
    expected_new = _expected_metrics(new)
    joined = _join(base, new)
    status_spec = BY_NAME["status"]
    cells: list[CellComparison] = []
    for jk in joined.order:
        brow, nrow = joined.brows.get(jk), joined.nrows.get(jk)
        row = nrow if nrow is not None else brow
        assert row is not None  # jk comes from one side or the other
        key = str(row["cell_key"])
        model = _text(row, "model") or cell_label(key).split(" ")[0]
        if brow is None or nrow is None:
            only = (
                (NEW, "cell only in NEW", {"new": _text(nrow, "status")})
                if brow is None
                else (MISSING, "cell only in BASE", {"base": _text(brow, "status")})
            )
            cells.append(
                CellComparison(key, cell_label(key), model, [judge.result(key, model, status_spec, only[0], only[1], **only[2])])
            )
            continue
        if per_node:
            diffs = environment_diffs(base, new, base.node_env(brow), new.node_env(nrow))
            node_diffs.update({d.field: d for d in diffs if d.field not in node_diffs})
            judge.timing_block = _timing_block(diffs, base, new, cfg, " on the nodes that ran this cell")
        cells.append(
            CellComparison(
                key, cell_label(key), model, _judge_cell_metrics(judge, base, new, brow, nrow, key, model, expected_new, paired)
            )
        )
    warnings += _summary_warnings(cells, base, new, cfg)
    # Changed cells first; the sort is stable, so the run's own order is kept within a rank.
    cells.sort(key=lambda c: c.rank)
    if per_node:
        env_diffs = list(node_diffs.values())
    return Comparison(base, new, cfg, env_diffs, cells, warnings, join_note=joined.note, paired=paired)


def _one_round_run(run: RunData) -> bool:
    counts = [len(v) for v in run.round_samples.values() if v]
    return bool(counts) and max(counts) < 2


def compare_paths(base: str | Path, new: str | Path, overrides: dict[str, Any] | None = None) -> Comparison:
    """Load both sides and compare with defaults ← NEW's suite ``compare:`` section ← ``overrides``."""
    b = load_run(base, "BASE")
    n = load_run(new, "NEW")
    section = (((n.meta or {}).get("suite") or {}).get("content") or {}).get("compare") or {}
    cfg = build_config(section, overrides, source=f"NEW {n.path}: suite {n.suite_name!r} compare section")
    return compare_runs(b, n, cfg)
