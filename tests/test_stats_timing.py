import math

import numpy as np
import pytest

from bench.metrics.stats import rel_iqr, summarize
from bench.metrics.timing import TimingConfig, measure_latency
from tests.conftest import ScriptedClock


def test_summary_of_known_samples():
    s = summarize(list(range(1, 101)))  # 1..100 ms
    assert s.n_samples == 100
    assert s.latency_ms_mean == pytest.approx(50.5)
    assert s.latency_ms_p50 == pytest.approx(50.5)
    assert s.latency_ms_p90 == pytest.approx(90.1)  # 100 samples: exactly p90's support
    assert math.isnan(s.latency_ms_p99)  # p99 would need 1,000
    assert s.latency_note == ""  # nothing requested (p50, p90) is missing
    s99 = summarize(list(range(1, 101)), percentiles=[50, 90, 99])
    assert s99.latency_note == "p99 empty: 100 samples, p99 needs 1000 (10 beyond it)"
    assert summarize(list(range(1, 1001)), percentiles=[99]).latency_ms_p99 == pytest.approx(990.01)
    assert s.latency_ms_min == 1 and s.latency_ms_max == 100
    assert s.latency_ms_std == pytest.approx(np.std(np.arange(1, 101), ddof=1))
    assert s.latency_ms_iqr == pytest.approx(75.25 - 25.75)
    assert s.latency_cv == pytest.approx(s.latency_ms_std / 50.5)
    assert s.latency_rel_iqr == pytest.approx(49.5 / 50.5)
    # 1..100 around 50.5: deviations 0.5, 0.5, 1.5, 1.5, …, 49.5 → their median is 25.
    assert s.latency_ms_mad == pytest.approx(25.0)
    spiky = summarize([10.0] * 19 + [1000.0])  # one slow call: std explodes, MAD does not move
    assert spiky.latency_ms_mad == 0.0 and spiky.latency_ms_std > 200


def test_rel_iqr_edge_cases():
    assert rel_iqr([5.0]) == math.inf
    assert rel_iqr([2.0, 2.0, 2.0, 2.0]) == 0.0


def test_warmup_runs_until_stable_then_stops_when_spread_is_small():
    # Warm-up: 50, 20, 10, 10.2, 10.1 → stable after the 5th; then steady 10 ms samples.
    clock = ScriptedClock([50, 20, 10, 10.2, 10.1] + [10.0] * 100)
    res = measure_latency(
        lambda: None,
        "cpu",
        TimingConfig(warmup_min_iters=2, min_samples=8, max_samples=100, target_rel_iqr=0.05, min_time_s=0, percentiles=(50,)),
        clock,
    )
    assert res.warmup_iters == 5 and res.warmup_stable
    assert res.target_met and res.stop_reason == "target_met"
    assert len(res.samples_ms) == 20  # stops once the median has 10 samples beyond it and the spread is met


def test_noisy_samples_hit_max_samples_and_are_flagged():
    noisy = [10.0, 30.0] * 200
    clock = ScriptedClock([10.0] * 3 + noisy)
    res = measure_latency(
        lambda: None,
        "cpu",
        TimingConfig(warmup_min_iters=3, min_samples=5, max_samples=40, max_time_s=60, target_rel_iqr=0.05),
        clock,
    )
    assert not res.target_met and res.stop_reason == "max_samples"
    assert len(res.samples_ms) == 40


def test_time_budget_stops_real_measurement():
    import time

    res = measure_latency(
        lambda: time.sleep(0.002 * (1 + np.random.rand())),
        "cpu",
        TimingConfig(
            warmup_min_iters=1, warmup_max_s=0.05, min_samples=3, max_samples=10_000, max_time_s=0.2, target_rel_iqr=1e-9
        ),
    )
    assert res.stop_reason == "time_budget" and not res.target_met
    assert 3 <= len(res.samples_ms) < 10_000
    assert all(s >= 2.0 for s in res.samples_ms)  # each sample really contains the 2 ms+ sleep
