"""Every runtime variant of a tiny model produces a row, with parity against fp32 eager.

Cells run in-process through ``bench.worker.run_cell`` (the code a worker process runs), so
the real model, conversion, autocast, torch.compile and parity check execute here without a
process start per cell.
"""

import math

import pytest
import torch
from torch import nn

from bench import registry
from bench.runtimes import PARITY_TOL, Unsupported, cpu_has_native_bf16, parity, prepare
from bench.suite import Cell
from bench.worker import run_cell

FAST = {"warmup_min_iters": 2, "warmup_max_s": 0.2, "min_samples": 5, "max_samples": 50, "max_time_s": 0.2}


def cell(runtime="eager", precision="fp32", model="test:cnn", batch=2, device="cpu") -> Cell:
    return Cell(
        suite="variants-test",
        model=model,
        registry_name=model,
        family="cnn",
        device=device,
        precision=precision,
        runtime=runtime,
        batch_size=batch,
        img_size=32,
        threads=1,
        metrics=("params", "flops", "latency", "memory"),
        timing=dict(FAST),
    )


@pytest.fixture(scope="module")
def rows():
    out = {}
    threads = torch.get_num_threads()
    try:
        for runtime in ("eager", "channels_last", "compile"):
            for precision in ("fp32", "bf16", "fp16"):
                out[(runtime, precision)] = run_cell(cell(runtime, precision))
    finally:
        torch.set_num_threads(threads)
    return out


def test_every_variant_produces_a_row(rows):
    assert len(rows) == 9
    for (runtime, precision), rec in rows.items():
        row = rec["row"]
        assert row["status"] in ("ok", "skipped", "mismatch"), (runtime, precision, row)
        assert row["threads_actual"] == 1
        if precision == "fp16":  # no native fp16 compute path on CPU: never a misleading number
            assert row["status"] == "skipped" and "fp16 on CPU" in row["error"]
            assert not rec["samples_ms"]
        elif precision == "bf16" and not cpu_has_native_bf16():
            assert row["status"] == "skipped" and "no native support" in row["error"]
        else:
            assert row["status"] == "ok", row
            assert row["n_samples"] == len(rec["samples_ms"]) >= 5
            assert row["latency_ms_min"] <= row["latency_ms_p50"] <= row["latency_ms_max"]
            assert row["batch_size_actual"] == 2
            # > 0 although FLOP counting ran the model first: its freed heap must not hide the peak
            assert row["rss_peak_mb"] > 0 or row["mem_method"] == "rss-sampled"  # sampling can miss a short peak
            if runtime not in ("onnxruntime", "openvino"):
                assert row["act_peak_mb"] > 0
            assert row["throughput_ips"] == pytest.approx(2 / (row["latency_ms_p50"] / 1000))


def test_reference_has_no_parity_and_fp32_variants_match_it_closely(rows):
    ref = rows[("eager", "fp32")]["row"]
    assert "parity_max_abs_err" not in ref
    for runtime in ("channels_last", "compile"):
        row = rows[(runtime, "fp32")]["row"]
        # Same math in a different memory layout / generated code: only rounding differs.
        assert 0 <= row["parity_max_rel_err"] <= 1e-5, (runtime, row)
        assert row["parity_top1_agree"] == 1.0 and row["parity_tol"] == PARITY_TOL["fp32"]


def test_compile_time_is_recorded_apart_from_latency(rows):
    row = rows[("compile", "fp32")]["row"]
    assert row["compile_s"] > 0
    # the first (compiling) call is not among the samples: every sample is far below it
    assert max(rows[("compile", "fp32")]["samples_ms"]) < row["compile_s"] * 1000
    assert "compile_s" not in rows[("eager", "fp32")]["row"]


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16")
def test_bf16_autocast_differs_from_fp32_but_within_tolerance(rows):
    for runtime in ("eager", "channels_last"):
        row = rows[(runtime, "bf16")]["row"]
        assert row["status"] == "ok"
        assert 1e-5 < row["parity_max_rel_err"] <= PARITY_TOL["bf16"]  # bf16 really ran: it is not exact


class Cancelling(nn.Module):
    """Logits computed as (W·x + 1e4) − 1e4: exact in fp32, destroyed by bf16's 8-bit mantissa."""

    def __init__(self, num_classes: int = 10, img_size: int = 32):
        super().__init__()
        self.fc = nn.Linear(3 * img_size * img_size, num_classes)
        nn.init.constant_(self.fc.bias, 1e4)

    def forward(self, x):
        return self.fc(x.flatten(1)) - 1e4


@pytest.fixture
def cancelling_model():
    registry.list_names("test:*")  # load the built-in models before adding one
    registry.register("varianttest:cancel", Cancelling, "cnn", 32, 10, "loses all precision in bf16")
    yield "varianttest:cancel"
    registry._LOCAL.pop("varianttest:cancel", None)


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16")
def test_a_variant_that_changes_the_answer_is_a_mismatch(cancelling_model):
    rec = run_cell(cell("eager", "bf16", model=cancelling_model))
    row = rec["row"]
    assert row["status"] == "mismatch"
    assert "differs from fp32 eager" in row["error"]
    assert row["parity_max_rel_err"] > PARITY_TOL["bf16"]
    assert row["n_samples"] > 0  # the timing is kept for the record; best.py never picks it


def test_parity_on_known_tensors():
    ref = torch.tensor([[1.0, -4.0, 2.0], [0.5, 0.0, 3.0]])
    p = parity(ref + torch.tensor([[0.0, 0.02, 0.0], [0.0, 0.0, -0.01]]), ref, "bf16")
    assert p.max_abs_err == pytest.approx(0.02) and p.max_rel_err == pytest.approx(0.02 / 4.0)
    assert p.ok and p.top1_agree == 1.0 and p.tol == PARITY_TOL["bf16"]
    swapped = ref.clone()
    swapped[1, 0] = 3.5  # row 2's arg-max moves: 0.5 → 3.5 against 3.0
    p = parity(swapped, ref, "fp32")
    assert p.top1_agree == 0.5 and not p.ok and p.max_abs_err == pytest.approx(3.0)
    bad = ref.clone()
    bad[0, 0] = math.nan
    assert not parity(bad, ref, "fp16").ok
    zeros = torch.zeros(2, 3)
    z = parity(zeros, zeros, "fp16")
    assert z.ok and z.max_rel_err == 0.0 and "uninformative" in z.note


def test_unknown_and_deployed_runtimes_are_dispatched():
    model = registry.create_model("test:cnn")
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(Unsupported, match="not available"):
        prepare(model, x, cell(runtime="tensorrt"))
    try:
        import bench.runtimes.export  # noqa: F401
    except ImportError:
        # Until bench.runtimes.export exists the deployed runtimes are a clear skip, not a crash.
        with pytest.raises(Unsupported, match="onnxruntime"):
            prepare(model, x, cell(runtime="onnxruntime"))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_variants():
    for runtime, precision in (("eager", "fp32"), ("eager", "bf16"), ("eager", "fp16"), ("channels_last", "fp16")):
        rec = run_cell(cell(runtime, precision, device="cuda"))
        row = rec["row"]
        assert row["status"] == "ok", row
        assert row["timing_clock"] == "cuda_event"
        assert row["cuda_peak_reserved_mb"] >= row["cuda_peak_alloc_mb"] > row["cuda_weights_mb"] > 0
        assert row["act_peak_mb"] > 0 and row["tf32"] == "off" and row["throughput_ips_pipelined"] > 0
