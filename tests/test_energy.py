"""Energy counters: RAPL read from a fake sysfs tree (wrap-around included), the measurement
window's stopping rule on a scripted counter, and the reasons given when nothing is readable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from bench.metrics.energy import CounterUnavailable, RaplCounter, energy_for_cell, measure_energy, rapl_delta_uj, rapl_domains


def _domain(root, name, dirname, energy_uj, max_uj=262_143_328_850):
    d = root / dirname
    d.mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    (d / "energy_uj").write_text(f"{energy_uj}\n")
    (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return d


def _set(d, energy_uj):
    (d / "energy_uj").write_text(f"{energy_uj}\n")


def test_rapl_reads_package_domains_only(tmp_path):
    _domain(tmp_path, "package-0", "intel-rapl:0", 1000)
    _domain(tmp_path, "core", "intel-rapl:0:0", 500)  # inside package-0: not added again
    _domain(tmp_path, "package-1", "intel-rapl:1", 2000)
    _domain(tmp_path, "psys", "intel-rapl:2", 9000)  # the whole platform: not the CPU
    doms = rapl_domains(tmp_path)
    assert [d.name for d in doms] == ["package-0", "package-1"]


def test_rapl_counter_sums_packages_and_survives_wrap_around(tmp_path):
    p0 = _domain(tmp_path, "package-0", "intel-rapl:0", 999_000, max_uj=1_000_000)
    p1 = _domain(tmp_path, "package-1", "intel-rapl:1", 10_000, max_uj=1_000_000)
    c = RaplCounter(tmp_path)
    assert c.read_j() == 0.0
    _set(p0, 500)  # wrapped: 1,000 µJ to the top of the range, then 500 more
    _set(p1, 12_000)  # +2,000 µJ
    assert c.read_j() == pytest.approx((1_000 + 500 + 2_000) / 1e6)
    _set(p0, 3_000_0)  # +29,500 µJ, no wrap
    assert c.read_j() == pytest.approx((3_500 + 29_500) / 1e6)
    assert rapl_delta_uj(10, 30, 100) == 20 and rapl_delta_uj(90, 5, 100) == 15


def test_rapl_reasons_when_unreadable(tmp_path, monkeypatch):
    with pytest.raises(CounterUnavailable, match="no RAPL powercap interface"):
        rapl_domains(tmp_path / "absent")
    with pytest.raises(CounterUnavailable, match="no RAPL package domain"):
        rapl_domains(tmp_path)
    d = _domain(tmp_path, "package-0", "intel-rapl:0", 1)
    os.chmod(d / "energy_uj", 0)  # as on Linux since 5.10: energy_uj is readable by root only
    if os.access(d / "energy_uj", os.R_OK):  # running as root, which reads anything: refuse as the kernel would
        real = Path.read_text

        def read_text(self, *a, **kw):
            if self.name == "energy_uj" and not (self.stat().st_mode & 0o444):
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *a, **kw)

        monkeypatch.setattr(Path, "read_text", read_text)
    with pytest.raises(CounterUnavailable, match=r"intel-rapl:0: permission denied"):
        rapl_domains(tmp_path)


class _ScriptedCounter:
    """A counter that advances by 0.5 J every ``every`` reads, and a clock of 0.1 s per read."""

    source = "scripted"

    def __init__(self, every):
        self.every, self.reads = every, 0

    def read_j(self):
        self.reads += 1
        return 0.5 * (self.reads // self.every)


def test_window_spans_several_counter_updates():
    c = _ScriptedCounter(every=3)
    t = iter(i * 0.1 for i in range(10_000))
    calls = []
    res = measure_energy(
        lambda: calls.append(1), batch_size=4, counter=c, min_s=0.2, max_s=100, min_updates=5, clock=lambda: next(t)
    )
    # Reads 1 (start), 2, 3, … : the counter steps at reads 3, 6, 9, 12, 15 → 5 updates after 14 calls.
    assert res.energy_updates == 5 and len(calls) == 14 == res.energy_calls
    assert res.energy_j_per_img == pytest.approx(2.5 / (14 * 4))
    assert res.energy_note is None and res.as_row()["energy_j_per_img"] == res.energy_j_per_img


def test_window_without_enough_updates_gives_a_reason_not_a_number():
    c = _ScriptedCounter(every=10_000)
    t = iter(i * 0.5 for i in range(10_000))
    res = measure_energy(lambda: None, batch_size=1, counter=c, min_s=0.1, max_s=2.0, min_updates=5, clock=lambda: next(t))
    assert res.energy_j_per_img is None and "changed only 0 times" in res.energy_note


def test_energy_for_a_cell_on_a_fake_rapl_tree_and_without_one(tmp_path):
    p0 = _domain(tmp_path, "package-0", "intel-rapl:0", 0)
    state = {"uj": 0}

    def step():  # each call "uses" 0.01 J, as the hardware would report it
        state["uj"] += 10_000
        _set(p0, state["uj"])

    res = energy_for_cell(step, "cpu", 2, min_s=0.01, root=tmp_path)
    assert res.energy_source == "rapl" and res.energy_j_per_img == pytest.approx(0.005)
    none = energy_for_cell(step, "cpu", 2, min_s=0.01, root=tmp_path / "absent")
    assert none.energy_j_per_img is None and "no RAPL powercap interface" in none.energy_note


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_nvml_energy_of_gpu_work():
    pytest.importorskip("pynvml")
    x = torch.randn(4096, 4096, device="cuda")
    res = energy_for_cell(lambda: x @ x, "cuda", 1, min_s=0.5)
    if res.energy_j_per_img is None:
        pytest.skip(f"NVML counter not usable here: {res.energy_note}")
    assert res.energy_source == "nvml" and res.energy_j_per_img > 0 and res.energy_updates >= 5
