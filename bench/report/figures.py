"""Figures for the run report: matplotlib/seaborn, returned as base64 PNG so pages stay
self-contained. One colour per family everywhere (FAMILY_COLORS)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # reports are rendered headless
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

FAMILY_COLORS = {"cnn": "#1f77b4", "mobile": "#2ca02c", "vit": "#d62728", "hybrid": "#9467bd", "other": "#7f7f7f"}
FAMILY_LABELS = {"cnn": "CNN", "mobile": "mobile CNN", "vit": "ViT", "hybrid": "hybrid"}


@dataclass
class Figure:
    title: str
    caption: str
    png_b64: str
    fig_id: str


def _encode(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _color(family: str) -> str:
    return FAMILY_COLORS.get(family, FAMILY_COLORS["other"])


def _legend(ax, families) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=_color(f), label=FAMILY_LABELS.get(f, f)) for f in sorted(set(families))]
    ax.legend(handles=handles, title="family", fontsize=8)


def _scatter(df: pd.DataFrame, x: str, y: str, xlabel: str, ylabel: str, logx: bool = False, logy: bool = False):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for _, r in df.iterrows():
        ax.scatter(r[x], r[y], color=_color(r["family"]), s=40, zorder=3)
        ax.annotate(str(r["model"]).split(":")[-1], (r[x], r[y]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    _legend(ax, df["family"])
    return fig


def _bars(df: pd.DataFrame, value: str, label: str):
    d = df.sort_values(value)
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.3 * len(d) + 1)))
    ax.barh([str(m).split(":")[-1] for m in d["model"]], d[value], color=[_color(f) for f in d["family"]])
    ax.set_xlabel(label)
    ax.grid(True, axis="x", alpha=0.3)
    _legend(ax, d["family"])
    return fig


def run_figures(df: pd.DataFrame) -> list[Figure]:
    """The standard figures of one run; a figure whose columns are empty is left out."""
    ok = df[(df["status"] == "ok") & (df["task"] == "speed")] if "task" in df else df[df["status"] == "ok"]
    figs: list[Figure] = []
    if ok.empty:
        return figs
    b1 = ok[ok["batch_size"] == ok["batch_size"].min()]
    b1 = b1.dropna(subset=["latency_ms_p50"]) if "latency_ms_p50" in b1 else b1.iloc[0:0]
    if not b1.empty and b1["gmacs"].notna().any():
        d = b1.dropna(subset=["gmacs"])
        figs.append(Figure("Latency vs GMACs", f"Median latency at batch {int(d['batch_size'].min())} against multiply-accumulates per image; points above the trend do less work per millisecond.",
                           _encode(_scatter(d, "gmacs", "latency_ms_p50", "GMACs per image (log)", "latency p50 (ms, log)", True, True)), "fig-lat-gmacs"))
    if not b1.empty and b1["params_m"].notna().any():
        d = b1.dropna(subset=["params_m"])
        figs.append(Figure("Latency vs parameters", "Median latency against parameter count; size and speed are related but not the same thing.",
                           _encode(_scatter(d, "params_m", "latency_ms_p50", "parameters (M, log)", "latency p50 (ms, log)", True, True)), "fig-lat-params"))
    if ok["throughput_ips"].notna().any():
        bmax = ok[ok["batch_size"] == ok["batch_size"].max()].dropna(subset=["throughput_ips"])
        figs.append(Figure("Throughput by model", f"Images per second at batch {int(bmax['batch_size'].max())} (median latency), higher is better.",
                           _encode(_bars(bmax, "throughput_ips", "throughput (images/s)")), "fig-throughput"))
    if ok["peak_mem_mb"].notna().any():
        d = b1.dropna(subset=["peak_mem_mb"]) if not b1.empty else ok.dropna(subset=["peak_mem_mb"])
        figs.append(Figure("Peak memory by model", "Peak inference memory over the loaded model's baseline, per model.",
                           _encode(_bars(d, "peak_mem_mb", "peak memory (MB)")), "fig-memory"))
    return figs
