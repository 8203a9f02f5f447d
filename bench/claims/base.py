"""Claim / ClaimResult dataclasses, the verdict vocabulary and the registry of experiments.

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
      Verdict:
          holds: the rule
          holds with caveat: the rule
          does not hold here: the rule

* a rule function ``decide(...) -> Decision`` that turns measured numbers into a verdict
  (pure, so tests can feed it contrived numbers and watch it fail), and
* ``run(scale: str, seed: int) -> ClaimResult``; ``scale`` is ``"tiny"`` (tests, seconds)
  or ``"full"`` (the real run).
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
VERDICTS = (HOLDS, CAVEAT, FAILS)
SCALES = ("tiny", "full")

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

_SECTIONS = ("Korean", "English", "Method", "Verdict")


@dataclass(frozen=True)
class Claim:
    """What one experiment tests, as written in its module docstring before any run."""

    id: int
    slug: str
    title: str  # the claim in one English sentence
    quote_ko: tuple[str, ...]  # lines from the lecture notes
    quote_en: tuple[str, ...]  # English rendering, one per Korean line
    method: str
    rule: str  # the verdict rules, one per line


@dataclass(frozen=True)
class Decision:
    """Output of a rule function: a verdict and, unless it plainly holds, why not."""

    verdict: str
    caveat: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.verdict != HOLDS and not self.caveat:
            raise ValueError(f"verdict {self.verdict!r} needs a caveat saying why")


@dataclass
class ClaimResult:
    """What ``run`` returns: numbers (JSON-able), a headline, the decision and a figure.

    ``figure`` is a matplotlib Figure; the runner saves it as PNG and closes it.
    """

    numbers: dict[str, Any]
    headline: str
    decision: Decision
    figure: Any = None
    notes: list[str] = field(default_factory=list)  # context that is not part of the verdict

    @property
    def verdict(self) -> str:
        return self.decision.verdict

    @property
    def caveat(self) -> str:
        return self.decision.caveat


def parse_docstring(doc: str | None, claim_id: int, slug: str) -> Claim:
    """Parse an experiment docstring in the layout described in this module's docstring."""
    if not doc:
        raise ValueError(f"claim {claim_id} ({slug}) has no docstring")
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
    missing = [s for s in _SECTIONS if s not in sections]
    if missing:
        raise ValueError(f"{slug}: docstring lacks section(s) {missing}")
    body = {k: textwrap.dedent("\n".join(v)).strip() for k, v in sections.items()}
    ko = tuple(s.strip() for s in body["Korean"].splitlines() if s.strip())
    en = tuple(s.strip() for s in body["English"].splitlines() if s.strip())
    if len(ko) != len(en):
        raise ValueError(f"{slug}: {len(ko)} Korean line(s) but {len(en)} English rendering(s)")
    rule = body["Verdict"]
    for v in VERDICTS:
        if not re.search(rf"^{v}:", rule, re.M):
            raise ValueError(f"{slug}: Verdict section must give the rule for {v!r}")
    method = re.sub(r"[ \t]*\n[ \t]*(?!\n)", " ", body["Method"])  # unwrap lines, keep paragraphs
    return Claim(claim_id, slug, m.group(1).strip(), ko, en, method, rule)


def load(claim_id: int) -> tuple[Claim, ModuleType]:
    """Import one experiment module and parse its docstring."""
    if claim_id not in EXPERIMENTS:
        raise UserError(f"unknown claim id {claim_id}; claims are numbered {min(EXPERIMENTS)}-{max(EXPERIMENTS)}")
    slug = EXPERIMENTS[claim_id]
    module = importlib.import_module(f"bench.claims.{slug}")
    return parse_docstring(module.__doc__, claim_id, slug), module


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
