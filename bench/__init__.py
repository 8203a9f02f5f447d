"""archbench: vision architectures side by side on params, GMACs, latency, memory, accuracy."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["load_results", "load_samples", "__version__"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: `import bench`, `python -m bench.schema`, the run guardian and
    # `archbench --help` need no pandas.
    if name in ("load_results", "load_samples"):
        from bench import results

        return getattr(results, name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
