"""Statistics on known samples, the warm-up and adaptive stopping rules, the memory pass.

All in-process and fast; the stopping rule is driven by a scripted clock (known durations),
and no assertion depends on how fast this machine is.
"""

import gc
import math

import numpy as np
import pytest
import torch

from bench.metrics.memory import activation_bytes, measure_memory, module_bytes
from bench.metrics.stats import percentile_column, rel_iqr, samples_for, summarize
from bench.metrics.timing import TimingConfig, block_calls_for, measure_block_throughput, measure_latency
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
    # Ten samples cannot support p90 (it would interpolate between the top two: the outlier)
    # or p99: both are empty, and the note says so instead.
    assert math.isnan(s.latency_ms_p90) and math.isnan(s.latency_ms_p99)
    assert "p90 empty: 10 samples, p90 needs 100" in s.latency_note
    assert "median from 10 samples, p50 needs 20" in s.latency_note
    assert "p99" not in s.latency_note  # not requested: just empty


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
    # Warm-up is stable at once; then 30 alternating noisy samples, then a steady run.
    # With min_samples = 4 the rule must not stop while IQR/median > 5%, and must stop at the
    # first sample where it drops to <= 5%.
    noisy = [10.0, 14.0] * 15  # longer than the median's 20-sample support
    clock = ScriptedClock([10.0, 10.0, 10.0] + noisy + [10.0] * 200)
    cfg = TimingConfig(
        warmup_min_iters=3, min_samples=4, max_samples=500, max_time_s=60, target_rel_iqr=0.05, min_time_s=0, percentiles=(50,)
    )
    res = measure_latency(lambda: None, "cpu", cfg, clock)
    assert res.warmup_iters == 3 and res.warmup_stable
    assert res.target_met and res.stop_reason == "target_met"
    n = len(res.samples_ms)
    assert rel_iqr(res.samples_ms) <= 0.05
    assert rel_iqr(res.samples_ms[: n - 1]) > 0.05  # it stopped at the first sample that met it
    assert n > len(noisy) and n >= 20  # and not before the median's support (10 samples above it)
    assert res.clock == "scripted"
    row = res.as_row()
    assert row["timing_target_met"] is True and row["warmup_iters"] == 3 and row["timing_clock"] == "scripted"


def test_minimum_sample_count_holds_even_when_spread_is_zero():
    clock = ScriptedClock([5.0] * 100)
    res = measure_latency(
        lambda: None,
        "cpu",
        TimingConfig(warmup_min_iters=3, min_samples=37, target_rel_iqr=0.5, min_time_s=0, percentiles=(50,)),
        clock,
    )
    assert len(res.samples_ms) == 37 and res.target_met


def test_unstable_warmup_is_cut_by_its_budget_and_flagged():
    # Every warm-up iteration differs from the next by far more than 10%: never stable.
    real_calls = []
    clock = ScriptedClock([1.0, 5.0] * 10_000)
    res = measure_latency(
        lambda: real_calls.append(1),
        "cpu",
        TimingConfig(warmup_min_iters=2, warmup_max_s=0.05, min_samples=3, max_samples=3),
        clock,
    )
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
    cfg = TimingConfig.from_dict({"min_samples": 7, "ceiling_s": 2.0, "energy_s": 1.0})
    assert cfg.min_samples == 7


def test_cpu_memory_pass_sees_a_known_allocation():
    # The step really writes a 64 MiB buffer; the peak-RSS increase must show it.
    def step():
        buf = torch.ones(64 * 1024 * 1024 // 4)
        return buf.sum()

    res = measure_memory(step, "cpu", iters=2, weights_bytes=1024 * 1024)
    assert 60 <= res.rss_peak_mb <= 100, res
    assert res.method in ("vmhwm-delta", "rss-sampled")
    assert res.as_row()["rss_peak_mb"] == res.rss_peak_mb and res.cuda_peak_alloc_mb is None


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
    assert mem.cuda_peak_alloc_mb >= mem.cuda_weights_mb > 3.9  # 4 MiB of weights, plus the activations
    assert mem.cuda_peak_reserved_mb >= mem.cuda_peak_alloc_mb and mem.rss_peak_mb is None
    res = measure_latency(step, "cuda", TimingConfig(min_samples=5, max_time_s=0.5, warmup_max_s=0.5))
    assert res.clock == "cuda_event" and all(s > 0 for s in res.samples_ms)


# ---------------------------------------------------------------------------- percentile support


@pytest.mark.parametrize("q, need", [(50, 20), (90, 100), (99, 1000), (99.9, 10_000), (10, 100), (75, 40)])
def test_samples_needed_put_ten_beyond_the_percentile(q, need):
    assert samples_for(q) == need
    # and that count really leaves 10 samples beyond q (strictly above, or below for q < 50)
    a = np.arange(need, dtype=float)
    beyond = (a > np.percentile(a, q)).sum() if q >= 50 else (a < np.percentile(a, q)).sum()
    assert beyond >= 10


def test_sampler_keeps_going_until_the_requested_tail_is_supported():
    # A perfectly steady model: the spread target is met from the first samples, yet p99 was
    # requested, so the rule must take 1,000 samples; p90 alone stops at 100.
    cfg = dict(warmup_min_iters=3, min_samples=10, max_samples=5000, max_time_s=600, target_rel_iqr=0.05, min_time_s=0)
    for pcts, want in (((50, 90), 100), ((50, 90, 99), 1000), ((50,), 20)):
        res = measure_latency(lambda: None, "cpu", TimingConfig(**cfg, percentiles=pcts), ScriptedClock([5.0] * 6000))
        assert len(res.samples_ms) == want and res.stop_reason == "target_met", (pcts, len(res.samples_ms))
        stats = summarize(res.samples_ms, pcts)
        assert stats.latency_note == ""
        for q in pcts:
            col = percentile_column(q)
            assert stats.as_row()[col] == 5.0


def test_budget_ends_before_support_and_the_tail_is_left_empty_with_its_reason():
    # max_samples cuts the run at 300: p90 is supported, p99 is not and must be empty, never
    # the interpolated top of 300 samples (which would be the single 50 ms outlier).
    durations = [5.0] * 3 + [5.0] * 298 + [50.0] + [5.0] * 10
    cfg = TimingConfig(
        warmup_min_iters=3, min_samples=10, max_samples=300, max_time_s=600, min_time_s=0, percentiles=(50, 90, 99)
    )
    res = measure_latency(lambda: None, "cpu", cfg, ScriptedClock(durations))
    assert len(res.samples_ms) == 300 and res.stop_reason == "max_samples"
    row = summarize(res.samples_ms, cfg.percentiles).as_row()
    assert row["latency_ms_p90"] == 5.0
    assert math.isnan(row["latency_ms_p99"])
    assert row["latency_note"] == "p99 empty: 300 samples, p99 needs 1000 (10 beyond it)"
    assert row["latency_ms_max"] == 50.0  # max stays what it is


def test_minimum_measuring_time_keeps_a_fast_model_sampling():
    # 0.1 ms per call: 100 samples are only 10 ms of measuring. With min_time_s = 0.5 the rule
    # must keep going until the timed calls add up to 500 ms: 5,000 samples.
    cfg = TimingConfig(
        warmup_min_iters=3, min_samples=10, max_samples=100_000, max_time_s=600, min_time_s=0.5, percentiles=(50, 90)
    )
    res = measure_latency(lambda: None, "cpu", cfg, ScriptedClock([0.1] * 10_000))
    assert res.stop_reason == "target_met"
    assert len(res.samples_ms) == 5000
    assert sum(res.samples_ms[:-1]) < 500 <= sum(res.samples_ms)
    # a slow model reaches the time minimum long before p90's support: the count decides
    res = measure_latency(lambda: None, "cpu", cfg, ScriptedClock([20.0] * 1000))
    assert len(res.samples_ms) == 100


def test_min_time_is_capped_by_the_time_budget():
    cfg = TimingConfig(min_time_s=30, max_time_s=0.05, min_samples=5, max_samples=10_000, percentiles=(50,))
    res = measure_latency(lambda: None, "cpu", cfg, ScriptedClock([1.0] * 10_000))
    assert res.stop_reason == "target_met" and len(res.samples_ms) == 50  # 50 × 1 ms = the capped 0.05 s


def test_suite_timing_block_percentiles_and_min_time():
    from bench.errors import UserError
    from bench.suite import parse_suite

    s = parse_suite({"name": "x", "models": ["test:cnn"], "timing": {"percentiles": [99, 50, 90], "min_time_s": 0.5}})
    cfg = TimingConfig.from_dict(s.timing.model_dump())
    assert cfg.percentiles == (50.0, 90.0, 99.0) and cfg.min_time_s == 0.5 and cfg.samples_needed() == 1000
    assert TimingConfig.from_dict(parse_suite({"name": "x", "models": ["test:cnn"]}).timing.model_dump()).percentiles == (
        50.0,
        90.0,
    )
    with pytest.raises(UserError, match=r"timing.percentiles: .*strictly between 0 and 100.*\[100"):
        parse_suite({"name": "x", "models": ["test:cnn"], "timing": {"percentiles": [50, 100]}})


# ---------------------------------------------------------------------------- activation memory


class _TwoLinear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(100, 200), torch.nn.Linear(200, 10)

    def forward(self, x):
        h = self.fc1(x)  # 4 × 200 fp32 = 3,200 B
        a = torch.relu(h)  # another 3,200 B while h is alive
        del h
        a.add_(1.0)  # in place: the same storage, no new bytes
        v = a.view(8, 100)  # a view: no new bytes
        return self.fc2(v.view(4, 200))  # 4 × 10 = 160 B


def test_activation_peak_matches_a_hand_count_on_cpu_and_meta():
    # Hand count for batch 4: fc1 out 3,200 B + relu out 3,200 B live together = 6,400 B;
    # then h is freed and fc2's 160 B join relu's 3,200 B (3,360 B). Peak 6,400 B; total
    # written 3,200 + 3,200 + 160 = 6,560 B. Weights and input are not counted.
    for device in ("cpu", "meta"):
        torch.manual_seed(0)
        m = _TwoLinear().to(device)
        x = torch.randn(4, 100, device=device)
        with torch.inference_mode():
            peak, total = activation_bytes(lambda m=m, x=x: m(x))
        assert (peak, total) == (6400, 6560), device


def test_activation_peak_is_identical_across_runs_devices_and_equal_architectures():
    from bench import registry
    from bench.metrics.flops import create_model_on_meta

    def act(model, device, batch=2, size=32):
        x = torch.randn(batch, 3, size, size, device=device)
        with torch.inference_mode():
            return activation_bytes(lambda: model(x))

    for name in ("test:cnn", "test:vit"):
        cpu = registry.create_model(name, img_size=32).eval()
        meta = create_model_on_meta(name, 32).eval()
        first = act(cpu, "cpu")
        assert first[0] > 0
        assert act(cpu, "cpu") == first  # run to run
        # CPU and meta device: the same peak. (The total can differ by the small side outputs
        # an operator's meta kernel allocates, e.g. batch norm's saved statistics.)
        assert act(meta, "meta")[0] == first[0]
        assert act(cpu, "cpu", batch=4)[0] > first[0]  # activations grow with the batch
    # two instances with different weights (same architecture) count the same bytes
    torch.manual_seed(1)
    other = registry.create_model("test:vit", img_size=32).eval()
    assert act(other, "cpu") == act(registry.create_model("test:vit", img_size=32).eval(), "cpu")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_activation_peak_is_the_same_on_cuda():
    torch.manual_seed(0)
    m = _TwoLinear()
    x = torch.randn(4, 100)
    with torch.inference_mode():
        cpu = activation_bytes(lambda: m(x))
        mc, xc = m.cuda(), x.cuda()
        assert activation_bytes(lambda: mc(xc)) == cpu == (6400, 6560)


# ---------------------------------------------------------------------------- GPU practice


def test_block_throughput_counts_images_per_block():
    # A scripted timer: every block of k calls takes 10 ms per call. Batch 8 → 800 img/s.
    calls = []
    res = measure_block_throughput(
        lambda: calls.append(1),
        batch_size=8,
        per_call_ms=10.0,
        blocks=3,
        timer=lambda fn: (fn(), 10.0 * block_calls_for(10.0))[1],
    )
    assert res.pipelined_block_calls == 20 and res.pipelined_blocks == 3  # ~200 ms per block
    assert len(calls) == 60
    assert res.throughput_ips_pipelined == pytest.approx(800.0)
    assert block_calls_for(1000.0) == 2 and block_calls_for(0.001) == 1000


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_step_that_sleeps_on_the_gpu_measures_at_least_the_sleep():
    # torch.cuda._sleep spins the GPU for a number of cycles and returns at once on the host:
    # a timer that did not wait for the GPU would measure microseconds.
    cycles = 20_000_000
    t = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    t[0].record()
    torch.cuda._sleep(cycles)
    t[1].record()
    t[1].synchronize()
    sleep_ms = t[0].elapsed_time(t[1])  # what the sleep itself takes on this GPU
    assert sleep_ms > 1.0
    res = measure_latency(
        lambda: torch.cuda._sleep(cycles),
        "cuda",
        TimingConfig(
            warmup_min_iters=2, warmup_max_s=1, min_samples=5, max_samples=30, max_time_s=2, min_time_s=0, percentiles=(50,)
        ),
    )
    assert min(res.samples_ms) >= 0.9 * sleep_ms
    blk = measure_block_throughput(lambda: torch.cuda._sleep(cycles), batch_size=1, per_call_ms=sleep_ms, blocks=2)
    assert blk.throughput_ips_pipelined <= 1.1 * 1000.0 / sleep_ms  # no more calls per second than sleeps fit


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_tf32_setting_is_applied_to_matmul_and_cudnn_and_recorded():
    from bench.worker import _apply_tf32

    for setting in ("on", "off"):
        row = {}
        _apply_tf32(setting, row)
        assert row["tf32"] == setting
        assert torch.backends.cuda.matmul.allow_tf32 == torch.backends.cudnn.allow_tf32 == (setting == "on")
