"""Figures without pyplot's global state: each experiment gets its own Figure object."""

from __future__ import annotations

from matplotlib.figure import Figure

COLORS = {"cnn": "#1f77b4", "vit": "#d62728", "mobile": "#2ca02c", "hybrid": "#9467bd", "other": "#7f7f7f"}


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.2):
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
    return fig, (axes.flat[0] if ncols * nrows == 1 else list(axes.flat))
