"""archbench: vision architectures side by side on params, GMACs, latency, memory, accuracy."""

__version__ = "0.1.0"
__all__ = ["load_results", "load_samples", "__version__"]


def __getattr__(name: str):
    # pandas loads on first use, so `archbench list`/`--version` start without it.
    if name in ("load_results", "load_samples"):
        from bench import results

        return getattr(results, name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
