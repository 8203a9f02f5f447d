"""Run tables as pandas users expect: schema types from Parquet and CSV alike, lists as lists,
timestamps as datetimes, samples carrying their cell's axes, accuracy joined, folders of runs."""

import pandas as pd
import pytest

from bench import results
from bench.suite import Cell


def _cell(model, task="speed", threads=1, batch=1, runtime="eager", variant=None):
    opts = {"variant": variant} if variant else {}
    return Cell(
        suite="s",
        model=model,
        registry_name=model,
        family="cnn",
        device="cpu",
        precision="fp32",
        runtime=runtime,
        batch_size=batch,
        img_size=32,
        threads=threads,
        task=task,
        options=opts,
    )


def _write_run(root, run_id, p50=1.0):
    run = root / run_id
    results.write_json_atomic(
        run / "run.json",
        {"schema_version": results.SCHEMA_VERSION, "run_id": run_id, "started_at": f"2026-01-0{run_id[-1]}T00:00:00+00:00"},
    )
    speed = {
        "status": "ok",
        "latency_ms_p50": p50,
        "n_samples": 12,
        "threads_actual": 1,
        "batch_size_actual": 2,
        "timing_target_met": True,
        "uncounted_ops": "aten::relu,aten::max_pool2d",
        "uncounted_matmul_ops": "",
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:00:03+00:00",
    }
    for c, row, samples in [
        (_cell("test:cnn", batch=2), speed, [1.0, 1.1, 0.9]),
        (_cell("test:vit", batch=2), {**speed, "timing_target_met": False}, [2.0, 2.2]),
        (
            _cell("test:cnn", task="accuracy", threads=None, batch=64, variant="scratch/digits"),
            {
                "status": "ok",
                "acc_source": "scratch",
                "acc_dataset": "digits",
                "top1": 97.5,
                "top1_std": 0.4,
                "top1_seeds": [97.0, 97.6, 97.9],
                "acc_n_images": 360,
                "started_at": "2026-01-01T00:00:04+00:00",
            },
            [],
        ),
    ]:
        results.write_cell_record(run, c.slug, {"cell": c.to_dict(), "row": row, "samples_ms": samples})
    results.consolidate(run)
    return run


def test_parquet_and_csv_read_back_with_the_same_types(tmp_path):
    run = _write_run(tmp_path, "r1")
    pq = results.load_results(run / "results.parquet")
    csv = results.load_results(run / "results.csv")
    cols = [
        "batch_size",
        "threads",
        "n_samples",
        "batch_size_actual",
        "threads_actual",
        "timing_target_met",
        "started_at",
        "latency_ms_p50",
        "top1",
        "uncounted_ops",
        "top1_seeds",
    ]
    assert dict(pq[cols].dtypes) == dict(csv[cols].dtypes)
    assert str(pq["threads"].dtype) == "Int64" and str(pq["n_samples"].dtype) == "Int64"
    assert str(pq["timing_target_met"].dtype) == "boolean"
    assert isinstance(pq["started_at"].dtype, pd.DatetimeTZDtype)
    cnn = pq[(pq["model"] == "test:cnn") & (pq["task"] == "speed")].iloc[0]
    assert cnn["uncounted_ops"] == ["aten::relu", "aten::max_pool2d"]
    acc = csv[csv["task"] == "accuracy"].iloc[0]
    assert acc["top1_seeds"] == [97.0, 97.6, 97.9] and pd.isna(acc["threads"])
    # pivoting on threads gives 1, not 1.0
    assert list(pq[pq["task"] == "speed"].pivot_table(index="model", columns="threads", values="latency_ms_p50").columns) == [1]


def test_speed_rows_carry_their_models_accuracy(tmp_path):
    df = results.load_results(_write_run(tmp_path, "r1"))
    cnn = df[(df["model"] == "test:cnn") & (df["task"] == "speed")].iloc[0]
    assert (cnn["top1"], cnn["acc_source"], cnn["top1_std"]) == (97.5, "scratch", 0.4)
    assert pd.isna(df[(df["model"] == "test:vit")].iloc[0]["top1"])
    raw = results.load_results(tmp_path / "r1", join_accuracy=False)
    assert raw[raw["task"] == "speed"]["top1"].isna().all()


def test_samples_carry_every_axis_of_their_cell(tmp_path):
    s = results.load_samples(_write_run(tmp_path, "r1"))
    assert set(results.SAMPLE_COLUMNS) <= set(s.columns)
    vit = s[s["model"] == "test:vit"]
    assert len(vit) == 2 and set(vit["threads"]) == {1} and set(vit["batch_size"]) == {2}
    assert set(vit["runtime"]) == {"eager"} and set(vit["precision"]) == {"fp32"}


def test_a_folder_of_runs_concatenates_with_run_id(tmp_path):
    _write_run(tmp_path, "r1", p50=1.0)
    _write_run(tmp_path, "r2", p50=1.5)
    df = results.load_results(tmp_path)
    assert sorted(df["run_id"].unique()) == ["r1", "r2"] and len(df) == 6
    by_run = df[(df["model"] == "test:cnn") & (df["task"] == "speed")].set_index("run_id")["latency_ms_p50"]
    assert by_run.to_dict() == {"r1": 1.0, "r2": 1.5}
    assert (df.loc[(df["task"] == "speed") & (df["model"] == "test:cnn"), "top1"] == 97.5).all()


def test_a_folder_without_runs_is_a_user_error(tmp_path):
    with pytest.raises(results.UserError, match="not a run folder"):
        results.load_results(tmp_path)
