"""The hardware ceiling: matmul rate and memory bandwidth measured for real, briefly, and how
rows are scored against it. Values are only checked for sanity (positive, finite, bounded by
physics), never for speed."""

import math

import pytest
import torch

from bench.metrics.hardware import (
    ceiling_combos,
    efficiency_columns,
    find_ceiling,
    measure_ceiling,
    measure_ceilings,
    theoretical_gflops,
)
from bench.suite import expand, parse_suite


def test_cpu_ceiling_is_measured_at_the_requested_threads():
    before = torch.get_num_threads()
    c = measure_ceiling("cpu", "fp32", threads=1, budget_s=0.3, matmul_n=256, buffer_mb=32, conv_hw=14)
    assert c.skipped is None and c.threads == 1 and c.threads_actual == 1
    assert torch.get_num_threads() == before  # the run's own setting is restored
    assert c.matmul_n == 256 and c.matmul_reps >= 3 and c.mem_reps >= 3
    assert 0 < c.matmul_gflops <= c.matmul_gflops_max < 1e5  # no CPU core does 100 TFLOP/s fp32
    assert 0 < c.mem_bw_gbs <= c.mem_bw_gbs_max < 1e4
    assert c.mem_buffer_mb == 32 and c.duration_s > 0
    # the ceiling is the faster of the two probes, and says which it was
    assert 0 < c.conv_gflops <= c.conv_gflops_max < 1e5 and c.conv_reps >= 3
    assert c.ceiling_gflops == max(c.matmul_gflops, c.conv_gflops)
    assert c.ceiling_kernel == ("matmul" if c.matmul_gflops >= c.conv_gflops else "conv3x3")


def test_theoretical_peak_from_flags_cores_and_clock():
    # 4 cores × 2 GHz × lanes × 2 (FMA) × 2 pipes
    assert theoretical_gflops("cpu", "fp32", 4, {"avx512f", "avx2", "fma"}, 2.0)[0] == 4 * 2.0 * 16 * 4
    assert theoretical_gflops("cpu", "fp32", 4, {"avx2", "fma"}, 2.0)[0] == 4 * 2.0 * 8 * 4
    assert theoretical_gflops("cpu", "bf16", 1, {"avx512f", "avx512_bf16"}, 1.0)[0] == 32 * 4
    assert theoretical_gflops("cpu", "bf16", 1, {"avx2", "fma"}, 1.0)[0] is None
    assert theoretical_gflops("cpu", "fp32", 1, set(), 1.0) == (None, "no x86 vector flags to derive it from")
    peak, how = theoretical_gflops("cuda", "fp32", 1)
    assert peak is None and "not derived for cuda" in how


def test_unavailable_combinations_are_skipped_with_a_reason():
    fp16 = measure_ceiling("cpu", "fp16", budget_s=0.1)
    assert fp16.matmul_gflops is None and "fp16 on CPU" in fp16.skipped
    if not torch.cuda.is_available():
        cuda = measure_ceiling("cuda", "fp32", budget_s=0.1)
        assert cuda.matmul_gflops is None and "no CUDA device" in cuda.skipped


def test_one_ceiling_per_device_precision_threads_of_the_suite():
    suite = parse_suite(
        {"name": "h", "models": ["test:cnn", "test:vit"], "precisions": ["fp32", "fp16"], "threads": [1], "batch_sizes": [1, 4]}
    )
    cells = expand(suite)
    assert ceiling_combos(cells) == [("cpu", "fp32", 1), ("cpu", "fp16", 1)]
    hw = measure_ceilings(cells, budget_s=0.1)
    assert [(h["device"], h["precision"], h["threads"]) for h in hw] == [("cpu", "fp32", 1), ("cpu", "fp16", 1)]
    assert hw[0]["matmul_gflops"] > 0 and hw[1]["skipped"]
    assert find_ceiling(hw, "cpu", "fp32", 1) is hw[0] and find_ceiling(hw, "cpu", "fp32", None) is None


def test_efficiency_is_achieved_flops_over_the_matching_ceiling():
    hw = [
        {"device": "cpu", "precision": "fp32", "threads": 1, "matmul_gflops": 50.0},
        {"device": "cpu", "precision": "fp32", "threads": None, "matmul_gflops": 90.0},
    ]
    row = {"gmacs": 1.8, "throughput_ips": 10.0}  # 2 × 1.8 GMAC × 10 img/s = 36 GFLOP/s
    out = efficiency_columns(row, "cpu", "fp32", 1, hw)
    assert out["achieved_gflops"] == pytest.approx(36.0)
    assert out["ceiling_gflops"] == 50.0 and out["efficiency"] == pytest.approx(0.72)
    assert efficiency_columns(row, "cpu", "fp32", None, hw)["efficiency"] == pytest.approx(0.4)
    # no ceiling for this precision: achieved is still reported, efficiency is not invented
    assert set(efficiency_columns(row, "cpu", "bf16", 1, hw)) == {"achieved_gflops"}
    # a failed cell (no throughput) gets nothing
    assert efficiency_columns({"gmacs": 1.8, "throughput_ips": math.nan}, "cpu", "fp32", 1, hw) == {}
    assert efficiency_columns({"status": "oom"}, "cpu", "fp32", 1, hw) == {}


def test_efficiency_uses_the_measured_ceiling_and_flags_rows_above_it():
    hw = [
        {
            "device": "cpu",
            "precision": "fp32",
            "threads": 1,
            "matmul_gflops": 30.0,
            "conv_gflops": 40.0,
            "ceiling_gflops": 40.0,
            "ceiling_kernel": "conv3x3",
            "ceiling_theoretical_gflops": 80.0,
        }
    ]
    out = efficiency_columns({"gmacs": 1.0, "throughput_ips": 10.0}, "cpu", "fp32", 1, hw)  # 20 GFLOP/s
    assert out["ceiling_gflops"] == 40.0 and out["ceiling_kernel"] == "conv3x3" and out["efficiency"] == 0.5
    assert out["ceiling_theoretical_gflops"] == 80.0 and "efficiency_note" not in out
    above = efficiency_columns({"gmacs": 1.0, "throughput_ips": 25.0}, "cpu", "fp32", 1, hw)  # 50 GFLOP/s
    assert above["efficiency"] == pytest.approx(1.25) and "above the measured ceiling" in above["efficiency_note"]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_ceiling():
    c = measure_ceiling("cuda", "fp32", budget_s=0.5, matmul_n=4096, buffer_mb=256)
    assert c.skipped is None and c.matmul_gflops > 100 and c.mem_bw_gbs > 50
