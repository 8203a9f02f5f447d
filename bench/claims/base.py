"""Claim / ClaimResult dataclasses, the verdict vocabulary and the registry of experiments.

Two kinds of rows:

* ``computed`` — arithmetic from the architecture (parameter and MAC ratios, complexity
  exponents, operator censuses). Nothing is uncertain, so nothing is judged: the row shows the
  number and its formula and its verdict is always ``computed``.
* ``experiment`` — something trained or measured with randomness (3+ seeds). Only these get
  ``holds`` / ``holds with caveat`` / ``does not hold here`` / ``inconclusive``, decided on
  the mean over seeds and its 95% interval (:mod:`bench.claims.stats`).

Every experiment is a module ``bench.claims.cNN_slug`` with

* a docstring in a fixed layout (parsed by :func:`parse_docstring`, so the report shows
  exactly what was written before the run)::

      Claim N: one-line English statement of the claim.

      Korean:
          the line(s) of the lecture notes, verbatim apart from markdown emphasis
      English:
          an English rendering of those lines
      Method:
          what is built, trained and measured
      Verdict:                       (experiment modules)
          holds: the rule
          ...one line per reachable verdict
      Formula:                       (computed modules)
          the arithmetic the number comes from

* ``KIND = "experiment"`` or ``"computed"``;
* experiment modules: ``REACHABLE_VERDICTS = (...)`` and ``WHY_REACHABLE = {verdict: why}``
  — which verdicts the rule can return on inputs the experiment itself produces, and the
  counterfactual configuration that produces each (the tests run those configurations);
* ``run(scale: str, seeds: tuple[int, ...], **config) -> ClaimResult``; ``scale`` is
  ``"tiny"`` (tests, seconds) or ``"full"`` (the real run).
"""

from __future__ import annotations

import importlib
import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.errors import UserError

HOLDS = "holds"
CAVEAT = "holds with caveat"
FAILS = "does not hold here"
INCONCLUSIVE = "inconclusive"
COMPUTED = "computed"
EXPERIMENT_VERDICTS = (HOLDS, CAVEAT, FAILS, INCONCLUSIVE)
VERDICTS = (*EXPERIMENT_VERDICTS, COMPUTED)
KINDS = ("computed", "experiment")
SCALES = ("tiny", "full")
SEEDS = (0, 1, 2)  # every trained experiment runs each seed; verdicts use the mean and its 95% interval

# id -> module name under bench.claims; the order is the order of the lecture notes.
EXPERIMENTS: dict[int, str] = {
    1: "c01_fc_vs_conv_params",
    2: "c02_pooling",
    3: "c03_receptive_field",
    4: "c04_alexnet",
    5: "c05_vgg",
    6: "c06_resnet_residual",
    7: "c07_mobilenet_dwsep",
    8: "c08_rnn_lstm",
    9: "c09_attention_long_range",
    10: "c10_vit_position_encoding",
    11: "c11_vit_data_efficiency",
    12: "c12_swin_windows",
    13: "c13_cnn_vs_vit",
    14: "c14_giant_scale",
}

_SECTIONS = ("Korean", "English", "Method", "Verdict", "Formula")
_REQUIRED = {"experiment": ("Korean", "English", "Method", "Verdict"), "computed": ("Korean", "English", "Method", "Formula")}


@dataclass(frozen=True)
class Claim:
    """What one row tests or computes, as written in its module before any run."""

    id: int
    slug: str
    title: str  # the claim in one English sentence
    quote_ko: tuple[str, ...]  # lines from the lecture notes
    quote_en: tuple[str, ...]  # English rendering, one per Korean line
    method: str
    rule: str  # experiment: the verdict rules, one per line; computed: the formula
    kind: str = "experiment"
    reachable: tuple[str, ...] = ()
    why_reachable: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Decision:
    """Output of a rule function: a verdict and, unless it plainly holds or is computed, why."""

    verdict: str
    caveat: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.verdict not in (HOLDS, COMPUTED) and not self.caveat:
            raise ValueError(f"verdict {self.verdict!r} needs a caveat saying why")


@dataclass
class ClaimResult:
    """What ``run`` returns: numbers (JSON-able), a headline, the decision and a figure.

    ``figure`` is a matplotlib Figure; the runner saves it as PNG and closes it.
    ``per_seed`` holds each seed's judged numbers (experiments), shown in the report.
    """

    numbers: dict[str, Any]
    headline: str
    decision: Decision
    figure: Any = None
    notes: list[str] = field(default_factory=list)  # context that is not part of the verdict
    per_seed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return self.decision.verdict

    @property
    def caveat(self) -> str:
        return self.decision.caveat


def parse_docstring(
    doc: str | None, claim_id: int, slug: str, kind: str = "experiment", reachable: tuple[str, ...] = EXPERIMENT_VERDICTS[:3]
) -> Claim:
    """Parse a module docstring in the layout described in this module's docstring."""
    if not doc:
        raise ValueError(f"claim {claim_id} ({slug}) has no docstring")
    if kind not in KINDS:
        raise ValueError(f"{slug}: KIND must be one of {KINDS}, got {kind!r}")
    first, _, rest = doc.strip().partition("\n")
    m = re.match(rf"Claim {claim_id}:\s*(.+)$", first.strip())
    if not m:
        raise ValueError(f"{slug}: docstring must start with 'Claim {claim_id}: ...', got {first!r}")
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in textwrap.dedent(rest).splitlines():
        header = re.match(rf"^({'|'.join(_SECTIONS)}):\s*$", line)
        if header:
            current = header.group(1)
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    missing = [s for s in _REQUIRED[kind] if s not in sections]
    if missing:
        raise ValueError(f"{slug}: docstring lacks section(s) {missing}")
    body = {k: textwrap.dedent("\n".join(v)).strip() for k, v in sections.items()}
    ko = tuple(s.strip() for s in body["Korean"].splitlines() if s.strip())
    en = tuple(s.strip() for s in body["English"].splitlines() if s.strip())
    if len(ko) != len(en):
        raise ValueError(f"{slug}: {len(ko)} Korean line(s) but {len(en)} English rendering(s)")
    if kind == "experiment":
        rule = body["Verdict"]
        for v in reachable:
            if not re.search(rf"^{v}:", rule, re.M):
                raise ValueError(f"{slug}: Verdict section must give the rule for {v!r}")
    else:
        rule = re.sub(r"[ \t]*\n[ \t]*(?!\n)", " ", body["Formula"])
    method = re.sub(r"[ \t]*\n[ \t]*(?!\n)", " ", body["Method"])  # unwrap lines, keep paragraphs
    return Claim(claim_id, slug, m.group(1).strip(), ko, en, method, rule, kind, tuple(reachable))


def check_module(module: ModuleType, slug: str) -> tuple[str, tuple[str, ...], dict[str, str]]:
    """The module's kind and reachable verdicts, validated: no experiment can only say 'holds'."""
    kind = getattr(module, "KIND", None)
    if kind not in KINDS:
        raise ValueError(f"{slug}: KIND must be one of {KINDS}, got {kind!r}")
    if kind == "computed":
        return kind, (COMPUTED,), {}
    reach = tuple(getattr(module, "REACHABLE_VERDICTS", ()))
    why = dict(getattr(module, "WHY_REACHABLE", {}))
    bad = [v for v in reach if v not in EXPERIMENT_VERDICTS]
    if bad or HOLDS not in reach or len(reach) < 2:
        raise ValueError(
            f"{slug}: REACHABLE_VERDICTS must include {HOLDS!r} and at least one other of {EXPERIMENT_VERDICTS}, got {reach}"
        )
    if set(why) != set(reach) or not all(why.values()):
        raise ValueError(f"{slug}: WHY_REACHABLE must say, for each of {reach}, which configuration reaches it")
    return kind, reach, why


def load(claim_id: int) -> tuple[Claim, ModuleType]:
    """Import one experiment module, check its declarations and parse its docstring."""
    if claim_id not in EXPERIMENTS:
        raise UserError(f"unknown claim id {claim_id}; claims are numbered {min(EXPERIMENTS)}-{max(EXPERIMENTS)}")
    slug = EXPERIMENTS[claim_id]
    module = importlib.import_module(f"bench.claims.{slug}")
    kind, reach, why = check_module(module, slug)
    claim = parse_docstring(module.__doc__, claim_id, slug, kind, reach if kind == "experiment" else ())
    return Claim(**{**claim.__dict__, "why_reachable": tuple(why.items())}), module


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise UserError(f"unknown claims scale {scale!r}; allowed: {', '.join(SCALES)}")
    return scale


def load_run(run_dir: Path) -> dict[str, Any]:
    """claims.json of a claims run folder (read by the report and the README table)."""
    path = Path(run_dir) / "claims.json"
    if not path.is_file():
        raise UserError(f"{path} not found: not a claims run folder (expected results/claims/<run_id>/)")
    data = json.loads(path.read_text(encoding="utf-8"))
    for c in data.get("claims", []):
        if c.get("verdict") not in (*VERDICTS, None):
            raise UserError(f"{path}: claim {c.get('id')} has an unknown verdict {c.get('verdict')!r}")
    return data
