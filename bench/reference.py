"""Published parameter counts and GMACs, with their sources, beside archbench's own counts.

The table lives in ``bench/data/reference_models.csv`` (one row per model and input size).
``params_tol_m`` / ``gmacs_tol`` are the source's own rounding — half a unit of the last
digit it prints (0 for torchvision's exact ``num_params``) — and a measured value
*matches* when it is within that rounding plus 0.5 %. A row whose tolerance is wider
than its rounding says why in ``note``.

GMACs follow :data:`bench.metrics.flops.FLOP_CONVENTION` (1 multiply-add = 1); the
papers' and torchvision's "FLOPs"/"GFLOPS" columns use that unit too.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

REL_TOL = 0.005  # on top of each source's rounding
COLUMNS = ("model", "img_size", "params_m", "gmacs", "params_tol_m", "gmacs_tol", "source", "note")


@dataclass(frozen=True)
class ReferenceModel:
    model: str  # registry name, e.g. "tv:resnet50"
    img_size: int
    params_m: float | None  # published, millions
    gmacs: float | None  # published, 1e9 MACs per image
    params_tol_m: float
    gmacs_tol: float
    source: str
    note: str = ""

    def params_match(self, measured_m: float) -> bool:
        if self.params_m is None:
            return True
        return abs(measured_m - self.params_m) <= self.params_tol_m + REL_TOL * self.params_m + 1e-9

    def gmacs_match(self, measured: float) -> bool:
        if self.gmacs is None:
            return True
        return abs(measured - self.gmacs) <= self.gmacs_tol + REL_TOL * self.gmacs + 1e-12


def _opt_float(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def load_reference(path: str | Path | None = None) -> list[ReferenceModel]:
    """Read and validate the reference table (the packaged one unless ``path`` is given)."""
    if path is None:
        # By path, not importlib.resources: under an editable install started outside the
        # checkout, resources sees `bench` as a namespace package and cannot read it.
        text = (Path(__file__).resolve().parent / "data" / "reference_models.csv").read_text(encoding="utf-8")
        where = "bench/data/reference_models.csv"
    else:
        text = Path(path).read_text(encoding="utf-8")
        where = str(path)
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ValueError(f"{where}: columns must be {','.join(COLUMNS)}, got {reader.fieldnames}")
    rows: list[ReferenceModel] = []
    for line, raw in enumerate(reader, start=2):
        try:
            row = ReferenceModel(
                model=raw["model"].strip(),
                img_size=int(raw["img_size"]),
                params_m=_opt_float(raw["params_m"]),
                gmacs=_opt_float(raw["gmacs"]),
                params_tol_m=_opt_float(raw["params_tol_m"]) or 0.0,
                gmacs_tol=_opt_float(raw["gmacs_tol"]) or 0.0,
                source=raw["source"].strip(),
                note=(raw["note"] or "").strip(),
            )
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where} line {line}: {err}") from err
        if ":" not in row.model or row.img_size <= 0 or not row.source:
            raise ValueError(f"{where} line {line}: needs a 'source:arch' model, a positive img_size and a source")
        if row.params_m is None and row.gmacs is None:
            raise ValueError(f"{where} line {line}: publishes neither params nor GMACs")
        rows.append(row)
    return rows


def reference_frame(path: str | Path | None = None) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame([asdict(r) for r in load_reference(path)], columns=list(COLUMNS))


def measure_reference(rows: list[ReferenceModel] | None = None) -> "pd.DataFrame":
    """Count every reference row on the meta device and put it beside the published figures.

    Meta-device counting (FlopCounterMode with archbench's formulas) is exact shape
    arithmetic, so this takes seconds even for billion-parameter models. Rows whose model
    is not registered in this install get ``status = "not registered"``.
    """
    import pandas as pd

    from bench.errors import UserError
    from bench.metrics.flops import count_flops, create_model_on_meta
    from bench.metrics.params import count_params

    out = []
    for ref in rows if rows is not None else load_reference():
        rec = {
            "model": ref.model,
            "img_size": ref.img_size,
            "params_m_published": ref.params_m,
            "params_m_measured": math.nan,
            "gmacs_published": ref.gmacs,
            "gmacs_measured": math.nan,
            "gmacs_diff_pct": math.nan,
            "status": "ok",
            "source": ref.source,
            "note": ref.note,
        }
        try:
            model = create_model_on_meta(ref.model, img_size=ref.img_size)
        except UserError:
            rec["status"] = "not registered"
            out.append(rec)
            continue
        params_m = count_params(model).params_m
        gmacs = count_flops(model, ref.img_size, device="meta").gmacs
        rec.update(params_m_measured=params_m, gmacs_measured=gmacs)
        if ref.gmacs:
            rec["gmacs_diff_pct"] = 100.0 * (gmacs - ref.gmacs) / ref.gmacs
        if not (ref.params_match(params_m) and ref.gmacs_match(gmacs)):
            rec["status"] = "MISMATCH"
        out.append(rec)
    return pd.DataFrame(out)
