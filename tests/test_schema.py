"""bench/schema.py is the one list of results columns: the worker writes nothing it does not
know, the readers take their columns from it, and docs/columns.md is generated from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench import results, schema
from bench.accuracy import ROW_FIELDS
from bench.compare.config import METRICS
from bench.report.data import NUMERIC_COLUMNS, TEXT_COLUMNS
from bench.report.html import ACC_COLUMNS, TABLE_COLUMNS
from bench.runner import run_suite
from bench.suite import parse_suite

ROOT = Path(__file__).resolve().parent.parent
FAST = {"warmup_min_iters": 2, "warmup_max_s": 0.2, "min_samples": 5, "max_samples": 30, "max_time_s": 0.2, "ceiling_s": 0.2}


def test_docs_columns_md_is_the_generated_one():
    committed = (ROOT / "docs" / "columns.md").read_text()
    generated = subprocess.run(
        [sys.executable, "-m", "bench.schema", "--markdown"], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert committed == generated, "docs/columns.md is stale: python -m bench.schema --markdown > docs/columns.md"
    for c in schema.COLUMNS:
        assert f"| `{c.name}` |" in committed


def test_every_entry_is_complete():
    assert len({c.name for c in schema.COLUMNS}) == len(schema.COLUMNS)
    for c in schema.COLUMNS:
        assert c.description.strip(), c.name
        assert c.kind in schema.KIND_MEANING, c.name
        if c.higher_is_better is not None:
            assert c.numeric, f"{c.name}: a direction only makes sense for a number"
    with pytest.raises(KeyError, match="not in bench/schema.py"):
        schema.column("latency_ms_p42")


def test_readers_take_their_columns_from_the_schema():
    assert results.KEY_COLUMNS + results.METRIC_COLUMNS == [c.name for c in schema.COLUMNS]
    # the three that used to end up as unordered "extra" columns
    assert {"rss_baseline_mb", "parity_note", "train_fraction"} <= set(results.METRIC_COLUMNS)
    assert list(ROW_FIELDS) == schema.task_fields("accuracy") and "train_fraction" in ROW_FIELDS
    for m in METRICS:
        col = schema.column(m.column)
        assert (m.label, m.unit) == (col.title, col.unit)
        if col.higher_is_better is not None:
            assert m.higher_is_better == col.higher_is_better
    for c in TABLE_COLUMNS + ACC_COLUMNS:
        assert c.numeric == schema.column(c.key).numeric and c.scale == schema.column(c.key).scale
    # the columns the report coerces to numbers / text are the schema's numbers / text
    assert all(schema.column(c).numeric for c in NUMERIC_COLUMNS)
    assert all(schema.column(c).dtype == "str" for c in TEXT_COLUMNS)


def test_unknown_lists_what_the_schema_lacks():
    assert schema.unknown(["params", "traceback", "latency_ms_42", "gmacs"]) == ["latency_ms_42"]
    # a percentile the suite asked for beyond p50/p90/p99 (timing.percentiles) is a known column
    assert schema.unknown(["latency_ms_p99_9", "latency_ms_p75", "latency_ms_p9x"]) == ["latency_ms_p9x"]


def test_a_real_run_writes_only_columns_the_schema_knows(tmp_path):
    """Real worker processes (the default executor) on a tiny model: a reference cell, a variant
    (parity columns), an accuracy cell, and the runner's own columns (efficiency, timestamps)."""
    suite = parse_suite(
        {
            "name": "schema",
            "models": ["test:cnn"],
            "devices": ["cpu"],
            "batch_sizes": [2],
            "img_sizes": [32],
            "runtimes": ["eager", "channels_last"],
            "threads": [1],
            "timing": FAST,
            "accuracy": [{"source": "reported"}],
        }
    )
    summary = run_suite(suite, tmp_path, progress=False)
    records = results.read_cell_records(summary.run_dir)
    assert len(records) == 3
    written = {k for rec in records for k in rec["row"]}
    assert not schema.unknown(written), f"the worker wrote columns bench/schema.py does not list: {schema.unknown(written)}"
    df = pd.read_parquet(summary.run_dir / "results.parquet")
    assert not schema.unknown(df.columns), schema.unknown(df.columns)
    assert list(df.columns) == [c for c in schema.KEY_COLUMNS + schema.METRIC_COLUMNS if c in df.columns]
    speed = df[df["task"] == "speed"].set_index("runtime")
    assert (speed["status"] == "ok").all(), speed[["status", "error"]]
    assert speed.loc["channels_last", "parity_max_rel_err"] <= speed.loc["channels_last", "parity_tol"]
    eager = speed.loc["eager"]
    assert eager["rss_baseline_mb"] > 0 and eager["gmacs"] > 0
    assert eager["act_peak_mb"] > 0
    # energy: a figure where RAPL is readable, else the reason
    assert eager["energy_j_per_img"] > 0 or isinstance(eager["energy_note"], str)
    assert eager["macs_per_param"] == pytest.approx(eager["gmacs"] * 1e9 / eager["params"])
    acc = df[df["task"] == "accuracy"].iloc[0]
    assert acc["acc_source"] == "reported"  # test:cnn has no published figure: every field is still present
    rec = next(r for r in records if r["cell"]["task"] == "accuracy")
    assert set(ROW_FIELDS) <= set(rec["row"]), json.dumps(rec["row"])[:500]
