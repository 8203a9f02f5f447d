"""Work a run does once: one ONNX export per model and input shape (reused across thread
settings and rounds), and reported accuracy looked up in the runner, not measured as a cell."""

import pandas as pd
import pytest

from bench import results
from bench.runner import EXPORT_CACHE, run_suite
from bench.suite import parse_suite
from tests.inprocess import InProcessExecutor

pytest.importorskip("onnxruntime")


def test_export_once_per_model_and_shape_and_reported_accuracy_as_a_lookup(tmp_path):
    suite = parse_suite(
        {
            "name": "reuse",
            "models": ["test:cnn"],
            "runtimes": ["onnxruntime"],
            "threads": [1, 2],
            "metrics": ["latency"],
            "img_sizes": [32],
            "timing": {"warmup_min_iters": 1, "warmup_max_s": 0.1, "min_samples": 5, "max_time_s": 0.1, "ceiling_s": 0},
            "accuracy": [{"source": "reported", "models": ["tv:resnet18"]}],
        }
    )
    summary = run_suite(suite, tmp_path, executor=InProcessExecutor(), progress=False)
    df = results.load_results(summary.run_dir, join_accuracy=False)
    speed = df[df["task"] == "speed"].sort_values("threads")
    assert list(speed["status"]) == ["ok", "ok"], speed["error"].tolist()
    # whichever thread setting ran first exported; the other reused its graph (cell order is shuffled)
    assert sorted(speed["onnx_export_reused"].tolist()) == [False, True]
    assert speed["export_s"].nunique() == 1
    assert not (summary.run_dir / EXPORT_CACHE).exists()  # scratch, removed when the run ends
    acc = df[df["task"] == "accuracy"].iloc[0]
    assert acc["status"] == "ok" and acc["top1"] == pytest.approx(69.758) and acc["acc_source"] == "reported"
    assert pd.isna(acc["batch_size"]) and pd.isna(acc["threads"])  # a lookup has no batch and no threads
    assert str(df["batch_size"].dtype) == "Int64"
    assert not (summary.run_dir / "logs").exists() or not any("resnet18" in p.name for p in (summary.run_dir / "logs").iterdir())
