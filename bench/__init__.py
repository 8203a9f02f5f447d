"""archbench: vision architectures side by side on params, GMACs, latency, memory, accuracy."""

from bench.results import load_results, load_samples

__version__ = "0.1.0"
__all__ = ["load_results", "load_samples", "__version__"]
