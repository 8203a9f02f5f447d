"""Energy per image from the hardware's own energy counters, where the hardware reports it.

- CUDA: the driver's total-energy counter (NVML ``nvmlDeviceGetTotalEnergyConsumption``,
  millijoules since the driver loaded; Volta and newer), read through ``nvidia-ml-py``
  (optional extra ``gpu``). It covers the whole board.
- CPU: Linux RAPL through ``/sys/class/powercap``: the ``energy_uj`` counter of every top-level
  ``package-N`` domain (sub-domains such as ``core`` are inside the package and not added
  again; ``psys`` covers more than the CPU and is left out). The counter wraps to 0 after
  ``max_energy_range_uj``, so a reading lower than the one before adds that range. It covers the
  whole package: idle power and other processes on the same package are included.

The measurement window repeats the timed step until the counter has changed at least
``min_updates`` times and ``min_s`` has passed (bounded by ``max_s``), so the result spans
several counter updates instead of one quantum. ``energy_j_per_img`` = joules over the window
/ (calls × batch). Where no counter can be read the row gets ``energy_note`` saying why
(no powercap in this VM, permission denied, no NVML) and no number.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

POWERCAP = Path("/sys/class/powercap")


@dataclass
class EnergyResult:
    energy_j_per_img: float | None = None
    energy_note: str | None = None
    energy_source: str | None = None
    energy_window_s: float | None = None
    energy_calls: int = 0
    energy_updates: int = 0

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"energy_j_per_img": self.energy_j_per_img, "energy_note": self.energy_note}
        if self.energy_source:
            row.update(
                energy_source=self.energy_source,
                energy_window_s=self.energy_window_s,
                energy_calls=self.energy_calls,
                energy_updates=self.energy_updates,
            )
        return row


@dataclass(frozen=True)
class RaplDomain:
    path: Path
    name: str
    max_range_uj: int


class CounterUnavailable(Exception):
    """No energy counter can be read here; the message says why."""


def rapl_domains(root: Path = POWERCAP) -> list[RaplDomain]:
    """The top-level package domains under ``root`` whose counter this process can read."""
    root = Path(root)
    if not root.is_dir():
        raise CounterUnavailable(f"no RAPL powercap interface ({root} does not exist; e.g. a VM or not Linux)")
    found, denied = [], []
    for d in sorted(root.glob("*rapl:*")):
        if d.name.count(":") != 1:  # intel-rapl:0:0 is a sub-domain of intel-rapl:0
            continue
        try:
            name = (d / "name").read_text().strip()
        except OSError:
            continue
        if not name.startswith("package"):
            continue
        try:
            int((d / "energy_uj").read_text())
            max_range = int((d / "max_energy_range_uj").read_text())
        except PermissionError:
            denied.append(d.name)
            continue
        except (OSError, ValueError):
            continue
        found.append(RaplDomain(d, name, max_range))
    if not found:
        if denied:
            raise CounterUnavailable(
                f"RAPL energy_uj not readable ({', '.join(denied)}: permission denied; "
                "needs root or a udev rule granting read access)"
            )
        raise CounterUnavailable(f"no RAPL package domain under {root}")
    return found


def rapl_delta_uj(before: int, after: int, max_range_uj: int) -> int:
    """Microjoules between two readings of one counter, across at most one wrap-around."""
    return after - before if after >= before else after + max_range_uj - before


class RaplCounter:
    """Sum of the package domains' energy, in joules, wrap-around handled per domain."""

    source = "rapl"

    def __init__(self, root: Path = POWERCAP) -> None:
        self.domains = rapl_domains(root)
        self._last = self._read_raw()
        self._total_uj = 0

    def _read_raw(self) -> list[int]:
        return [int((d.path / "energy_uj").read_text()) for d in self.domains]

    def read_j(self) -> float:
        """Accumulated joules since this counter was made (call often enough: at most one wrap between reads)."""
        now = self._read_raw()
        for d, before, after in zip(self.domains, self._last, now):
            self._total_uj += rapl_delta_uj(before, after, d.max_range_uj)
        self._last = now
        return self._total_uj / 1e6


class NvmlCounter:
    """Total board energy of the current CUDA device, in joules (NVML, millijoule resolution)."""

    source = "nvml"

    def __init__(self) -> None:
        try:
            import pynvml
        except ImportError:
            raise CounterUnavailable("no NVML: nvidia-ml-py is not installed (pip install 'archbench[gpu]')") from None
        try:
            pynvml.nvmlInit()
            self._handle = _nvml_handle(pynvml)
            self._read = lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
            self._read()
        except pynvml.NVMLError as err:
            raise CounterUnavailable(f"NVML total-energy counter unavailable ({err})") from None

    def read_j(self) -> float:
        return self._read() / 1000.0


def _nvml_handle(pynvml: Any) -> Any:
    """The NVML handle of torch's current device (matched by PCI bus id; CUDA_VISIBLE_DEVICES
    renumbers devices for CUDA but not for NVML)."""
    import torch

    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    bus = getattr(props, "pci_bus_id", None)
    if bus is not None:
        domain = getattr(props, "pci_domain_id", 0)
        dev = getattr(props, "pci_device_id", 0)
        try:
            return pynvml.nvmlDeviceGetHandleByPciBusId(f"{domain:08x}:{bus:02x}:{dev:02x}.0")
        except pynvml.NVMLError:
            pass
    return pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())


def open_counter(device: str, root: Path = POWERCAP) -> Any:
    """The energy counter for ``device``; raises :class:`CounterUnavailable` with the reason."""
    return NvmlCounter() if device == "cuda" else RaplCounter(root)


def measure_energy(
    step: Callable[[], Any],
    batch_size: int,
    counter: Any,
    min_s: float = 1.0,
    max_s: float = 10.0,
    min_updates: int = 5,
    sync: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> EnergyResult:
    """Joules per image over a window of back-to-back ``step`` calls (see the module docstring).

    ``sync`` (CUDA: ``torch.cuda.synchronize``) runs before each counter read so queued work
    is inside the window; ``clock`` exists for tests."""
    sync = sync or (lambda: None)
    sync()
    e0 = last = counter.read_j()
    t0 = clock()
    calls = updates = 0
    while True:
        step()
        calls += 1
        sync()
        e = counter.read_j()
        if e != last:
            updates += 1
            last = e
        elapsed = clock() - t0
        if (updates >= min_updates and elapsed >= min_s) or elapsed >= max_s:
            break
    res = EnergyResult(
        energy_source=counter.source, energy_window_s=round(elapsed, 3), energy_calls=calls, energy_updates=updates
    )
    if updates < min_updates:
        res.energy_note = (
            f"{counter.source} counter changed only {updates} times in {elapsed:.1f} s (need {min_updates}); no figure"
        )
        return res
    res.energy_j_per_img = (last - e0) / (calls * batch_size)
    return res


def energy_for_cell(
    step: Callable[[], Any], device: str, batch_size: int, min_s: float = 1.0, root: Path = POWERCAP
) -> EnergyResult:
    """Energy columns of a cell: a number where a counter is readable, else the reason."""
    try:
        counter = open_counter(device, root)
    except CounterUnavailable as err:
        return EnergyResult(energy_note=str(err))
    sync = None
    if device == "cuda":
        import torch

        sync = torch.cuda.synchronize
    return measure_energy(step, batch_size, counter, min_s=min_s, max_s=max(10.0, 2 * min_s), sync=sync)
