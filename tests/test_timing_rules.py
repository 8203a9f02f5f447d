"""Statistics on known samples, the warm-up and adaptive stopping rules, the memory pass.

All in-process and fast; the stopping rule is driven by a scripted clock (known durations),
and no assertion depends on how fast this machine is.
"""

import gc
import math

import numpy as np
import pytest
import torch

from bench.metrics.memory import measure_memory, module_bytes
from bench.metrics.stats import rel_iqr, summarize
from bench.metrics.timing import TimingConfig, measure_latency
from tests.conftest import ScriptedClock


def test_statistics_of_a_skewed_known_sample():
    # 9 samples of 10 ms and one 30 ms outlier: the median and IQR ignore it, mean/std/CV do not.
    s = summarize([10.0] * 9 + [30.0])
    assert s.n_samples == 10
    assert s.latency_ms_p50 == 10.0 and s.latency_ms_min == 10.0 and s.latency_ms_max == 30.0
    assert s.latency_ms_mean == pytest.approx(12.0)
    assert s.latency_ms_std == pytest.approx(math.sqrt((9 * 4 + 18**2) / 9))  # ddof = 1
    assert s.latency_cv == pytest.approx(s.latency_ms_std / 12.0)
    assert s.latency_ms_iqr == 0.0 and s.latency_rel_iqr == 0.0
    # linear interpolation between order statistics: p90 sits at rank 8.1 of 0..9
    assert s.latency_ms_p90 == pytest.approx(10.0 + 0.1 * 20.0)
    assert s.latency_ms_p99 == pytest.approx(10.0 + 0.91 * 20.0)


def test_statistics_of_four_samples_by_hand():
    s = summarize([4.0, 1.0, 3.0, 2.0])
    # sorted 1 2 3 4: q1 at rank .75 → 1.75, median 2.5, q3 at rank 2.25 → 3.25
    assert s.latency_ms_p50 == 2.5
    assert s.latency_ms_iqr == pytest.approx(1.5)
    assert s.latency_rel_iqr == pytest.approx(0.6)
    assert rel_iqr([4.0, 1.0, 3.0, 2.0]) == pytest.approx(0.6)
    assert s.latency_ms_std == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    with pytest.raises(ValueError):
        summarize([])


def test_sampling_continues_until_the_spread_target_is_met():
    # Warm-up is stable at once; then 6 alternating noisy samples, then a steady run.
    # With min_samples = 4 the rule must not stop while IQR/median > 5%, and must stop at the
    # first sample where it drops to <= 5%.
    noisy = [10.0, 14.0] * 3
    clock = ScriptedClock([10.0, 10.0, 10.0] + noisy + [10.0] * 200)
    cfg = TimingConfig(warmup_min_iters=3, min_samples=4, max_samples=500, max_time_s=60, target_rel_iqr=0.05)
    res = measure_latency(lambda: None, "cpu", cfg, clock)
    assert res.warmup_iters == 3 and res.warmup_stable
    assert res.target_met and res.stop_reason == "target_met"
    n = len(res.samples_ms)
    assert rel_iqr(res.samples_ms) <= 0.05
    assert rel_iqr(res.samples_ms[: n - 1]) > 0.05  # it stopped at the first sample that met it
    assert n > len(noisy)
    assert res.clock == "scripted"
    row = res.as_row()
    assert row["timing_target_met"] is True and row["warmup_iters"] == 3 and row["timing_clock"] == "scripted"


def test_minimum_sample_count_holds_even_when_spread_is_zero():
    clock = ScriptedClock([5.0] * 100)
    res = measure_latency(lambda: None, "cpu", TimingConfig(warmup_min_iters=3, min_samples=17, target_rel_iqr=0.5), clock)
    assert len(res.samples_ms) == 17 and res.target_met


def test_unstable_warmup_is_cut_by_its_budget_and_flagged():
    # Every warm-up iteration differs from the next by far more than 10%: never stable.
    real_calls = []
    clock = ScriptedClock([1.0, 5.0] * 10_000)
    res = measure_latency(lambda: real_calls.append(1), "cpu",
                          TimingConfig(warmup_min_iters=2, warmup_max_s=0.05, min_samples=3, max_samples=3), clock)
    assert not res.warmup_stable and res.warmup_iters >= 2
    assert res.warmup_s >= 0.05
    assert len(real_calls) == res.warmup_iters + 3  # every iteration really ran the step
    assert res.as_row()["warmup_stable"] is False


def test_garbage_collector_is_paused_while_timing_and_restored():
    seen = []
    clock = ScriptedClock([1.0] * 50)
    assert gc.isenabled()
    measure_latency(lambda: seen.append(gc.isenabled()), "cpu", TimingConfig(min_samples=5, max_samples=5), clock)
    assert seen and not any(seen)
    assert gc.isenabled()


def test_timing_config_ignores_keys_of_other_stages():
    cfg = TimingConfig.from_dict({"min_samples": 7, "ceiling_s": 2.0})
    assert cfg.min_samples == 7


def test_cpu_memory_pass_sees_a_known_allocation():
    # The step really writes a 64 MiB buffer; the peak-RSS increase must show it.
    def step():
        buf = torch.ones(64 * 1024 * 1024 // 4)
        return buf.sum()

    res = measure_memory(step, "cpu", iters=2, weights_bytes=1024 * 1024)
    assert 60 <= res.peak_mem_mb <= 100, res
    assert res.method in ("vmhwm-delta", "rss-sampled")
    assert res.weights_mem_mb == 1.0


def test_module_bytes_counts_parameters_and_buffers_once():
    lin = torch.nn.Linear(10, 20)  # 220 fp32 parameters
    bn = torch.nn.BatchNorm1d(20)  # 40 parameters + 40 float buffers + 1 int64 counter
    model = torch.nn.Sequential(lin, bn, lin)  # lin appears twice: counted once
    assert module_bytes(model) == (220 + 40 + 40) * 4 + 8


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_memory_and_event_timing():
    model = torch.nn.Linear(1024, 1024).cuda()
    x = torch.randn(256, 1024, device="cuda")

    def step():
        with torch.inference_mode():
            return model(x)

    mem = measure_memory(step, "cuda", weights_bytes=module_bytes(model))
    assert mem.method == "cuda-allocator"
    assert mem.peak_mem_mb >= mem.weights_mem_mb > 3.9  # 4 MiB of weights, plus the activations
    assert mem.peak_reserved_mb >= mem.peak_mem_mb and 0 < mem.weights_share <= 1
    res = measure_latency(step, "cuda", TimingConfig(min_samples=5, max_time_s=0.5, warmup_max_s=0.5))
    assert res.clock == "cuda_event" and all(s > 0 for s in res.samples_ms)
