"""Figures for the run report (matplotlib), embedded as base64 PNG so a page is one file.

One colour per family in every figure and table (:data:`FAMILY_COLORS`). Each builder
takes a :class:`~bench.report.data.ReportData` and returns a :class:`Figure`, or a string
saying why it was not drawn (the data it needs is absent): runs of any suite render.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Callable

import matplotlib

matplotlib.use("Agg")  # reports are rendered headless
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter  # noqa: E402

from bench.metrics.stats import supported_percentile  # noqa: E402
from bench.report.data import FAMILIES, ReportData, pareto_front, same_config, short_name  # noqa: E402

# Colour-blind-safe (Okabe–Ito) hues, one per family; "other" is neutral grey.
FAMILY_COLORS = {"cnn": "#0072B2", "mobile": "#009E73", "vit": "#D55E00", "hybrid": "#CC79A7", "other": "#7f7f7f"}
FAMILY_LABELS = {"cnn": "CNN", "mobile": "mobile CNN", "vit": "ViT", "hybrid": "hybrid", "other": "other"}
SOURCE_MARKERS = {"measured": ("o", True), "scratch": ("^", True), "reported": ("s", False)}
SOURCE_LABELS = {"measured": "measured (eval set)", "scratch": "trained from scratch here", "reported": "reported (paper/card)"}
RUNTIME_COLORS = ["#E69F00", "#56B4E9", "#F0E442", "#999999", "#000000"]
DPI = 100


@dataclass
class Figure:
    title: str
    caption: str
    png_b64: str
    fig_id: str


@dataclass
class Skipped:
    title: str
    reason: str


def color(family: str) -> str:
    return FAMILY_COLORS.get(family, FAMILY_COLORS["other"])


def _t(text: object) -> str:
    """Text for matplotlib: a '$' from a model name must not start mathtext."""
    return str(text).replace("$", r"\$")


def _encode(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _tick(v: float, _pos=None) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:g}"
    return f"{v:.3g}"


def _finish(ax, which: str = "xy") -> None:
    """Plain numbers on the numeric axes (no 10^x); minor log ticks labelled on short ranges.
    ``which`` names the numeric axes (a bar chart's category axis keeps its labels)."""
    for name, axis, scale in (("x", ax.xaxis, ax.get_xscale()), ("y", ax.yaxis, ax.get_yscale())):
        if name not in which:
            continue
        if scale == "log":
            lo, hi = sorted(axis.get_view_interval())
            ratio = hi / lo if lo > 0 else math.inf
            axis.set_major_formatter(FuncFormatter(_tick))
            if ratio < 30:  # under ~1.5 decades: label every minor tick
                axis.set_minor_formatter(FuncFormatter(_tick))
            elif ratio < 300:  # a couple of decades: label 2× and 5× only
                axis.set_minor_formatter(FuncFormatter(lambda v, _p=None: _tick(v) if f"{v:.0e}"[0] in "25" else ""))
            else:
                axis.set_minor_formatter(NullFormatter())
            axis.set_tick_params(which="minor", labelsize=7)
        elif scale == "linear":
            axis.set_major_locator(MaxNLocator(6))
            axis.set_major_formatter(FuncFormatter(_tick))


def _legend(ax, handles, **kw) -> None:
    # Outside the axes, right: never on top of a point or a label.
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kw)


def _family_handles(families) -> list:
    present = [f for f in (*FAMILIES, "other") if f in set(families)]
    return [Patch(color=color(f), label=FAMILY_LABELS[f]) for f in present]


def _log_if_wide(ax, values, axis: str = "x") -> bool:
    """Log scale when the values span more than 20×; never when a zero would vanish."""
    values = [x for x in values if x is not None and math.isfinite(x)]
    v = [x for x in values if x > 0]
    if len(v) == len(values) and len(v) >= 2 and max(v) / min(v) > 20:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        return True
    return False


def _label_points(ax, xs, ys, labels) -> None:
    # Alternate label offsets by rank so neighbours on a crowded axis overlap less.
    order = np.argsort(xs)
    for rank, i in enumerate(order):
        dy = 4 if rank % 2 == 0 else -10
        ax.annotate(_t(labels[i]), (xs[i], ys[i]), fontsize=7, xytext=(5, dy), textcoords="offset points")


def _config_text(rows: pd.DataFrame) -> str:
    """'batch 1, fp32, eager, 224 px' for the rows a figure plots (ranges when mixed)."""
    parts = []
    for col, fmt in (("batch_size", "batch {}"), ("precision", "{}"), ("runtime", "{}"), ("img_size", "{} px")):
        vals = sorted({v for v in rows[col] if not (isinstance(v, float) and math.isnan(v)) and v != ""}, key=str)
        if len(vals) == 1:
            v = vals[0]
            parts.append(fmt.format(int(v) if isinstance(v, float) else v))
    return ", ".join(parts)


def _devices(rows: pd.DataFrame) -> list[str]:
    return sorted(rows["device"].unique(), key=lambda d: (d != "cpu", d))[:4]


# ── figures ──────────────────────────────────────────────────────────────────────────────


def fig_accuracy_latency(d: ReportData) -> Figure | str:
    if d.acc.empty:
        return "no accuracy rows (task: accuracy) in this run"
    ref = d.ref.dropna(subset=["latency_ms_p50"])
    joined = ref.merge(d.acc[["model", "top1", "acc_source"]], on="model", suffixes=("_speed", ""))
    if joined.empty:
        return "no model has both an accuracy and a latency in this run"
    devices = _devices(joined)
    fig, axes = plt.subplots(1, len(devices), figsize=(9.5 if len(devices) == 1 else 6.2 * len(devices), 5.2), squeeze=False)
    for ax, dev in zip(axes[0], devices):
        j = joined[joined["device"] == dev].reset_index(drop=True)
        for _, r in j.iterrows():
            marker, filled = SOURCE_MARKERS.get(r["acc_source"], ("D", True))
            c = color(r["family"])
            ax.scatter(
                r["latency_ms_p50"],
                r["top1"],
                marker=marker,
                s=55,
                zorder=3,
                facecolors=c if filled else "white",
                edgecolors=c,
                linewidths=1.5,
            )
        pts = list(zip(j["latency_ms_p50"], j["top1"]))
        front = pareto_front(pts)
        if len(front) >= 1:
            fx = [pts[i][0] for i in front]
            fy = [pts[i][1] for i in front]
            ax.step(fx, fy, where="post", color="#444", lw=1.2, ls="--", zorder=2, label="Pareto front")
        _label_points(ax, list(j["latency_ms_p50"]), list(j["top1"]), [short_name(m) for m in j["model"]])
        ax.set_xscale("log")
        ax.set_xlabel(f"latency p50 on {_t(dev)} (ms, log scale) — lower is better")
        ax.set_ylabel("top-1 accuracy (%) — higher is better")
        ax.grid(True, which="both", alpha=0.25)
        src = [s for s in SOURCE_MARKERS if s in set(joined["acc_source"])]
        handles = (
            _family_handles(joined["family"])
            + [
                Line2D(
                    [],
                    [],
                    marker=SOURCE_MARKERS[s][0],
                    ls="",
                    color="#333",
                    markerfacecolor="#333" if SOURCE_MARKERS[s][1] else "white",
                    label=SOURCE_LABELS[s],
                )
                for s in src
            ]
            + [Line2D([], [], color="#444", ls="--", label="Pareto front")]
        )
        if dev == devices[-1]:  # one legend, right of the last panel, clear of the others
            _legend(ax, handles)
        _finish(ax)
    cfg = _config_text(joined)
    return Figure(
        "Accuracy vs latency",
        f"Top-1 accuracy against median latency ({cfg}, log scale): the dashed line joins the models no other "
        "model beats on both, and the marker shape says where each accuracy comes from (filled circle measured, "
        "triangle trained from scratch here, hollow square reported).",
        _encode(fig),
        "fig-acc-latency",
    )


def fig_latency_gmacs(d: ReportData) -> Figure | str:
    ref = d.ref.dropna(subset=["latency_ms_p50", "gmacs"])
    ref = ref[ref["gmacs"] > 0]
    if ref.empty:
        return "no row has both GMACs and a latency"
    devices = _devices(ref)
    fig, axes = plt.subplots(1, len(devices), figsize=(9.5 if len(devices) == 1 else 6.2 * len(devices), 5.2), squeeze=False)
    ceilings = []
    for ax, dev in zip(axes[0], devices):
        r = ref[ref["device"] == dev]
        ax.scatter(r["gmacs"], r["latency_ms_p50"], c=[color(f) for f in r["family"]], s=45, zorder=3)
        _label_points(ax, list(r["gmacs"]), list(r["latency_ms_p50"]), [short_name(m) for m in r["model"]])
        ax.set_xscale("log")
        ax.set_yscale("log")
        handles = _family_handles(ref["family"])
        precision = r["precision"].iloc[0] if r["precision"].nunique() == 1 else "fp32"
        threads = r["threads_actual"].max() if r["threads_actual"].notna().any() else None
        rate = d.ceiling(dev, precision, threads)
        if rate:
            # Best possible latency if every MAC (2 FLOPs) ran at the measured ceiling, per batch.
            batch = float(r["batch_size"].min()) if r["batch_size"].notna().any() else 1.0
            lo, hi = r["gmacs"].min() / 1.5, r["gmacs"].max() * 1.5
            xs = np.geomspace(lo, hi, 50)
            ax.plot(xs, 2 * xs * batch / rate * 1e3, color="#222", lw=1.2, zorder=2)
            ceilings.append(f"{dev} {rate:,.0f} GFLOP/s")
        ax.set_xlabel("GMACs per image (log scale)")
        ax.set_ylabel(f"latency p50 on {_t(dev)} (ms, log scale)")
        ax.grid(True, which="both", alpha=0.25)
        if dev == devices[-1]:
            if ceilings:
                handles.append(
                    Line2D(
                        [],
                        [],
                        color="#222",
                        lw=1.2,
                        label="measured ceiling" if len(devices) > 1 else f"measured ceiling {ceilings[0].split(' ', 1)[1]}",
                    )
                )
            _legend(ax, handles)
        _finish(ax)
    if ceilings:
        tail = (
            f"the solid line is the latency every model would have if all its MACs ran at the device's measured "
            f"ceiling rate, the faster of a large matmul and a large 3×3 convolution ({'; '.join(ceilings)}), so the gap to it shows how efficiently each architecture uses the hardware."
        )
    else:
        tail = "no ceiling is drawn because run.json records no measured rate (hardware.ceiling_gflops) for this device."
    return Figure(
        "Latency vs GMACs",
        f"Median latency ({_config_text(ref)}) against multiply-accumulates per image; {tail}",
        _encode(fig),
        "fig-lat-gmacs",
    )


def fig_latency_distribution(d: ReportData) -> Figure | str:
    if d.samples is None or d.samples.empty or "cell_key" not in d.samples or "latency_ms" not in d.samples:
        return "no raw timing samples (samples.parquet) for this run"
    ref = d.ref.sort_values("latency_ms_p50", ascending=False)
    groups, labels, fams, p90s = [], [], [], []
    by_cell = {k: g["latency_ms"].to_numpy(dtype=float) for k, g in d.samples.groupby("cell_key")}
    for _, r in ref.iterrows():
        s = by_cell.get(r["cell_key"])
        if s is None:
            continue
        s = s[np.isfinite(s)]
        if len(s) == 0:
            continue
        groups.append(s)
        labels.append(_t(d.label(r)))
        fams.append(r["family"])
        p90s.append(supported_percentile(s, 90))  # NaN (not drawn) below 100 samples
    if not groups:
        return "no raw timing samples match this run's speed rows"
    fig, ax = plt.subplots(figsize=(9.5, max(2.8, 0.4 * len(groups) + 1.2)))
    pos = np.arange(len(groups))
    bp = ax.boxplot(
        groups,
        positions=pos,
        orientation="horizontal",
        whis=(0, 100),
        widths=0.6,
        showfliers=False,
        patch_artist=True,
        medianprops={"color": "black", "lw": 1.5},
    )
    for patch, f in zip(bp["boxes"], fams):
        patch.set_facecolor(color(f))
        patch.set_alpha(0.55)
    ax.scatter(p90s, pos, marker="D", s=22, color="black", zorder=4)
    ax.set_yticks(pos, labels, fontsize=8)
    _log_if_wide(ax, [v for g in groups for v in (g.min(), g.max())], "x")
    ax.set_xlabel("latency per iteration (ms)")
    ax.grid(True, axis="x", which="both", alpha=0.25)
    _legend(
        ax,
        _family_handles(fams)
        + [
            Line2D([], [], color="black", lw=1.5, label="p50 (median)"),
            Line2D([], [], marker="D", ls="", color="black", markersize=4, label="p90 (where ≥ 100 samples)"),
        ],
    )
    _finish(ax, "x")
    return Figure(
        "Latency distribution",
        f"Every timed iteration per model ({_config_text(ref)}): boxes span the middle half of the samples, "
        "whiskers the fastest and slowest call, the black bar is p50 and the diamond p90, drawn only where "
        "at least 100 samples put 10 beyond it — a long box or a far diamond means a noisy or jittery measurement.",
        _encode(fig),
        "fig-lat-dist",
    )


def fig_throughput_batch(d: ReportData) -> Figure | str:
    sp = d.speed.dropna(subset=["throughput_ips", "batch_size"])
    if sp.empty:
        return "no throughput measured in this run"
    if sp["batch_size"].nunique() < 2:
        r = d.ref.dropna(subset=["throughput_ips"]).sort_values("throughput_ips")
        fig, ax = plt.subplots(figsize=(9.5, max(2.8, 0.34 * len(r) + 1.2)))
        ax.barh([_t(d.label(x)) for _, x in r.iterrows()], r["throughput_ips"], color=[color(f) for f in r["family"]])
        ax.set_xlabel("throughput (images/s) — higher is better")
        ax.grid(True, axis="x", alpha=0.25)
        _legend(ax, _family_handles(r["family"]))
        _finish(ax, "x")
        return Figure(
            "Throughput",
            f"Images per second per model ({_config_text(r)}); "
            "the suite measured one batch size, so there is no batch sweep to show.",
            _encode(fig),
            "fig-throughput",
        )
    fig, ax = plt.subplots(figsize=(9.5, 5.2))
    ends = []
    for _, ref in d.ref.iterrows():
        rows = same_config(sp, ref).sort_values("batch_size")
        if rows.empty:
            continue
        ax.plot(rows["batch_size"], rows["throughput_ips"], marker="o", ms=4, color=color(ref["family"]), lw=1.4)
        ends.append((rows["batch_size"].iloc[-1], rows["throughput_ips"].iloc[-1], d.label(ref)))
    for x, y, lab in ends:
        ax.annotate(_t(lab), (x, y), fontsize=7, xytext=(5, 0), textcoords="offset points", va="center")
    ax.set_xscale("log", base=2)
    batches = sorted(sp["batch_size"].unique())
    ax.set_xticks(batches, [str(int(b)) for b in batches])
    _log_if_wide(ax, sp["throughput_ips"], "y")
    ax.set_xlabel("batch size")
    ax.set_ylabel("throughput (images/s) — higher is better")
    ax.grid(True, which="both", alpha=0.25)
    _legend(ax, _family_handles(sp["family"]))
    _finish(ax)
    ax.xaxis.set_minor_formatter(NullFormatter())
    return Figure(
        "Throughput vs batch size",
        "Images per second as the batch grows, one line per model: a line that keeps rising still "
        "has parallel work to absorb, a flat one is already compute-bound at small batches.",
        _encode(fig),
        "fig-throughput",
    )


def fig_memory(d: ReportData) -> Figure | str:
    # The activation count where the run has it; a run from before it (schema 1) shows its
    # resident-set figure under that name.
    col = "act_peak_mb" if d.speed["act_peak_mb"].notna().any() else "rss_peak_mb"
    what = "activation peak" if col == "act_peak_mb" else "resident-set peak"
    sp = d.speed.dropna(subset=[col])
    if sp.empty:
        return "no memory measured in this run"
    if not (sp[col] > 0).any():
        return f"every cell's {what} was 0 MiB"
    # Bars at the largest batch: activations dominate there, and a small batch often stays
    # within the memory the loaded model already touched (0 MB above baseline).
    ref = d.ref_max.dropna(subset=[col]).sort_values(col)
    swept = sp["batch_size"].nunique() > 1
    ncols = 2 if swept else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols if swept else 9.5, max(3, 0.34 * len(ref) + 1.2)), squeeze=False)
    fig.subplots_adjust(wspace=0.45)
    ax = axes[0][0]
    ax.barh([_t(d.label(r)) for _, r in ref.iterrows()], ref[col], color=[color(f) for f in ref["family"]])
    ax.set_xlabel(f"{what} (MiB) at {_config_text(ref)}")
    ax.grid(True, axis="x", alpha=0.25)
    _finish(ax, "x")
    if swept:
        ax2 = axes[0][1]
        for _, r in d.ref.iterrows():
            rows = same_config(sp, r).sort_values("batch_size")
            if len(rows) < 1:
                continue
            ax2.plot(rows["batch_size"], rows[col], marker="o", ms=4, color=color(r["family"]), lw=1.4)
            ax2.annotate(
                _t(d.label(r)),
                (rows["batch_size"].iloc[-1], rows[col].iloc[-1]),
                fontsize=7,
                xytext=(5, 0),
                textcoords="offset points",
                va="center",
            )
        ax2.set_xscale("log", base=2)
        batches = sorted(sp["batch_size"].unique())
        ax2.set_xticks(batches, [str(int(b)) for b in batches])
        _log_if_wide(ax2, sp[col], "y")
        ax2.set_xlabel("batch size")
        ax2.set_ylabel(f"{what} (MiB)")
        ax2.grid(True, which="both", alpha=0.25)
        _finish(ax2)
        ax2.xaxis.set_minor_formatter(NullFormatter())
    _legend(axes[0][-1], _family_handles(ref["family"]))
    if col == "act_peak_mb":
        text = (
            "Activation peak per model: the most bytes of live tensors during one forward above the weights and "
            "the input, counted tensor by tensor (act_peak_mb; independent of the allocator and of other processes)"
        )
    else:
        text = "Resident-set growth during inference above the loaded model (rss_peak_mb, a run from before act_peak_mb)"
    return Figure(
        "Activation memory" if col == "act_peak_mb" else "Peak memory",
        text + (", and how it grows with the batch size." if swept else "."),
        _encode(fig),
        "fig-memory",
    )


def fig_resolution(d: ReportData) -> Figure | str:
    sp = d.speed.dropna(subset=["img_size"])
    if sp["img_size"].nunique() < 2:
        return "the suite measured a single input size"
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    fig.subplots_adjust(wspace=0.45)  # room for the left panel's end labels
    sizes = sorted(sp["img_size"].unique())
    drawn = 0
    for _, g in sp.groupby(["model", "device"], sort=False):
        g = g[g["batch_size"] == g["batch_size"].min()]
        g = g[(g["runtime"] == ("eager" if (g["runtime"] == "eager").any() else g["runtime"].iloc[0]))]
        g = g[(g["precision"] == ("fp32" if (g["precision"] == "fp32").any() else g["precision"].iloc[0]))]
        g = g.sort_values("img_size").drop_duplicates("img_size")
        if len(g) < 2:
            continue
        drawn += 1
        c = color(g["family"].iloc[0])
        label = d.label(g.iloc[0])
        for ax, col in zip(axes, ("gmacs", "latency_ms_p50")):
            gg = g.dropna(subset=[col])
            if gg.empty:
                continue
            ax.plot(gg["img_size"], gg[col], marker="o", ms=4, color=c, lw=1.4)
            ax.annotate(
                _t(label),
                (gg["img_size"].iloc[-1], gg[col].iloc[-1]),
                fontsize=7,
                xytext=(5, 0),
                textcoords="offset points",
                va="center",
            )
    if not drawn:
        return "no model was measured at more than one input size"
    for ax, ylabel in zip(axes, ("GMACs per image", "latency p50 (ms)")):
        ax.set_xticks(sizes, [str(int(s)) for s in sizes])
        ax.set_xlabel("input resolution (px, square)")
        ax.set_ylabel(ylabel + " (log scale)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.25)
        _finish(ax)
        ax.xaxis.set_minor_formatter(NullFormatter())
    _legend(axes[1], _family_handles(sp["family"]))
    return Figure(
        "Cost vs input resolution",
        f"GMACs and median latency at each input size ({', '.join(str(int(s)) for s in sizes)} px, smallest "
        "batch): convolution cost grows with the pixel count, global attention faster than that.",
        _encode(fig),
        "fig-resolution",
    )


def fig_family_size(d: ReportData) -> Figure | str:
    base = d.ref if not d.ref.empty else d.df[d.df["status"] == "ok"]
    per_model = base.dropna(subset=["params_m"]).drop_duplicates("model")
    if per_model.empty:
        return "no parameter counts in this run"
    order = {f: i for i, f in enumerate((*FAMILIES, "other"))}
    per_model = per_model.assign(_o=per_model["family"].map(order)).sort_values(["_o", "params_m"], ascending=[False, True])
    fig, axes = plt.subplots(1, 2, figsize=(11, max(3, 0.34 * len(per_model) + 1.2)), sharey=True)
    names = [_t(short_name(m)) for m in per_model["model"]]
    cols = [color(f) for f in per_model["family"]]
    axes[0].barh(names, per_model["params_m"], color=cols)
    axes[0].set_xlabel("parameters (millions)")
    g = per_model["gmacs"].fillna(0)
    axes[1].barh(names, g, color=cols)
    axes[1].set_xlabel("GMACs per image")
    for ax, vals in zip(axes, (per_model["params_m"], g)):
        _log_if_wide(ax, vals, "x")
        ax.grid(True, axis="x", which="both", alpha=0.25)
        _finish(ax, "x")
    _legend(axes[1], _family_handles(per_model["family"]))
    return Figure(
        "Parameters and GMACs by family",
        f"Model size and compute per image, grouped by family ({_config_text(per_model)}): "
        "few parameters does not imply few operations, and the reverse.",
        _encode(fig),
        "fig-family-size",
    )


def fig_runtime_wins(d: ReportData) -> Figure | str:
    sp = d.speed.dropna(subset=["latency_ms_p50"])
    runtimes = list(dict.fromkeys(sp["runtime"]))
    if len(runtimes) < 2:
        return "the suite measured a single runtime"
    base_rt = "eager" if "eager" in runtimes else runtimes[0]
    others = [r for r in runtimes if r != base_rt]
    keys = ["model", "device", "precision", "img_size", "batch_size", "threads_actual"]
    # The reference configuration except the runtime: smallest batch and size, fp32 when present.
    small = sp
    for col, pick in (("batch_size", "min"), ("img_size", "min"), ("threads_actual", "max")):
        if small[col].notna().any():
            small = small[small[col] == small.groupby(["model", "device"])[col].transform(pick)]
    fp32 = small.groupby(["model", "device"])["precision"].transform(lambda p: (p == "fp32").any())
    small = small[~fp32 | (small["precision"] == "fp32")]
    piv = small.pivot_table(index=keys, columns="runtime", values="latency_ms_p50", aggfunc="min")
    if base_rt not in piv:
        return f"no {base_rt} baseline to compare runtimes against"
    rows = []
    for idx, r in piv.iterrows():
        base = r[base_rt]
        if not base or pd.isna(base):
            continue
        sp_up = {rt: base / r[rt] for rt in others if rt in r and not pd.isna(r[rt]) and r[rt] > 0}
        if sp_up:
            fam = small[(small["model"] == idx[0])]["family"].iloc[0]
            rows.append((idx[0], idx[1], fam, sp_up))
    if not rows:
        return f"no model was measured both in {base_rt} and another runtime"
    multi_dev = len({r[1] for r in rows}) > 1
    fig, axes = plt.subplots(1, 2, figsize=(12, max(3.2, 0.42 * len(rows) + 1.5)), gridspec_kw={"width_ratios": [3, 2]})
    ax = axes[0]
    h = 0.8 / len(others)
    labels = []
    for i, (model, dev, fam, ups) in enumerate(rows):
        labels.append(_t(short_name(model) + (f" ({dev})" if multi_dev else "")))
        for j, rt in enumerate(others):
            if rt in ups:
                ax.barh(
                    i - 0.4 + h * (j + 0.5),
                    ups[rt],
                    height=h,
                    color=RUNTIME_COLORS[j % len(RUNTIME_COLORS)],
                    edgecolor=color(fam),
                    linewidth=1.2,
                )
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    for tick, (_, _, fam, _) in zip(ax.get_yticklabels(), rows):
        tick.set_color(color(fam))
    ax.axvline(1.0, color="#333", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(f"speed-up over {base_rt} (×, log scale; right of the line is faster)")
    ax.grid(True, axis="x", which="both", alpha=0.25)
    _finish(ax, "x")
    # Per family: geometric mean speed-up of each runtime (the fair average of ratios).
    ax2 = axes[1]
    fams = [f for f in (*FAMILIES, "other") if any(r[2] == f for r in rows)]
    for j, rt in enumerate(others):
        vals = []
        for f in fams:
            fam_ups = [r[3][rt] for r in rows if r[2] == f and rt in r[3]]
            vals.append(float(np.exp(np.mean(np.log(fam_ups)))) if fam_ups else np.nan)
        ax2.bar(np.arange(len(fams)) - 0.4 + h * (j + 0.5), vals, width=h, color=RUNTIME_COLORS[j % len(RUNTIME_COLORS)])
    ax2.set_xticks(range(len(fams)), [FAMILY_LABELS[f] for f in fams])
    for tick, f in zip(ax2.get_xticklabels(), fams):
        tick.set_color(color(f))
    ax2.axhline(1.0, color="#333", lw=1)
    ax2.set_yscale("log")
    ax2.set_ylabel(f"geometric-mean speed-up over {base_rt} (×)")
    ax2.grid(True, axis="y", which="both", alpha=0.25)
    _finish(ax2, "y")
    _legend(
        ax2,
        [Patch(color=RUNTIME_COLORS[j % len(RUNTIME_COLORS)], label=rt) for j, rt in enumerate(others)],
        title="runtime",
        title_fontsize=8,
    )
    return Figure(
        "Which runtime wins per architecture",
        f"Median-latency speed-up of each runtime over {base_rt} at the smallest batch, per model (left, labels "
        "in family colours) and as a geometric mean per family (right); bars right of or above 1× are faster.",
        _encode(fig),
        "fig-runtimes",
    )


def arithmetic_intensity(rows: pd.DataFrame) -> pd.Series:
    """FLOP per byte of each row's forward: 2·GMACs·batch over an estimate of the bytes moved —
    weights read once, the input read once, every activation written once and read once
    (``act_total_mb``). Cache reuse is ignored, so this is a lower bound on intensity."""
    flop = 2e9 * rows["gmacs"] * rows["batch_size"]
    moved = rows["weight_mb"] * 2**20 + rows["batch_size"] * 3 * rows["img_size"] ** 2 * 4 + 2 * rows["act_total_mb"] * 2**20
    return flop / moved


def fig_roofline(d: ReportData) -> Figure | str:
    need = ["achieved_gflops", "gmacs", "weight_mb", "act_total_mb", "batch_size", "img_size"]
    sp = d.speed.dropna(subset=[c for c in need if c in d.speed.columns])
    if "act_total_mb" not in d.speed.columns or sp.empty:
        return "no row has achieved GFLOP/s together with an activation count (act_total_mb)"
    sp = sp.assign(ai=arithmetic_intensity(sp))
    sp = sp[(sp["ai"] > 0) & (sp["achieved_gflops"] > 0)]
    if sp.empty:
        return "no row has a positive arithmetic intensity and achieved GFLOP/s"
    dev = _devices(sp)[0]
    r = sp[sp["device"] == dev]
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    ax.scatter(r["ai"], r["achieved_gflops"], c=[color(f) for f in r["family"]], s=30, zorder=3)
    _label_points(ax, list(r["ai"]), list(r["achieved_gflops"]), [short_name(m) for m in r["model"]])
    hw = (
        [
            h
            for h in (d.hardware or [])
            if isinstance(h, dict) and h.get("device") == dev and h.get("precision", "fp32") == (r["precision"].iloc[0] or "fp32")
        ]
        if isinstance(d.hardware, list)
        else []
    )
    threads = r["threads_actual"].max()
    hw = [h for h in hw if h.get("threads_actual") == threads] or hw
    peak = max((h.get("ceiling_gflops") or h.get("matmul_gflops") or 0) for h in hw) if hw else 0
    bw = max((h.get("mem_bw_gbs") or 0) for h in hw) if hw else 0
    lines = []
    if peak and bw:
        xs = np.geomspace(min(r["ai"].min(), peak / bw) / 2, max(r["ai"].max(), peak / bw) * 2, 100)
        ax.plot(xs, np.minimum(peak, bw * xs), color="#222", lw=1.3, zorder=2)
        kernel = next((h.get("ceiling_kernel") for h in hw if h.get("ceiling_kernel")), "matmul")
        lines.append(f"measured bandwidth {bw:,.1f} GB/s (slope) and compute ceiling {peak:,.0f} GFLOP/s ({kernel})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved, estimate)")
    ax.set_ylabel(f"achieved GFLOP/s on {_t(dev)}")
    ax.grid(True, which="both", alpha=0.25)
    _legend(ax, _family_handles(r["family"]))
    _finish(ax)
    tail = f"; the line is the roofline from the {lines[0]}" if lines else "; no roofline: run.json has no measured ceiling"
    return Figure(
        "Roofline",
        f"Each row ({dev}) placed by arithmetic intensity (2·GMACs·batch over weights + input + every "
        f"activation written and read once; cache reuse ignored) and the GFLOP/s it achieved{tail}. "
        "Points far below the line leave the hardware idle.",
        _encode(fig),
        "fig-roofline",
    )


BUILDERS: list[tuple[str, Callable[[ReportData], Figure | str]]] = [
    ("Accuracy vs latency", fig_accuracy_latency),
    ("Latency vs GMACs", fig_latency_gmacs),
    ("Latency distribution", fig_latency_distribution),
    ("Throughput vs batch size", fig_throughput_batch),
    ("Peak memory", fig_memory),
    ("Roofline", fig_roofline),
    ("Cost vs input resolution", fig_resolution),
    ("Parameters and GMACs by family", fig_family_size),
    ("Which runtime wins per architecture", fig_runtime_wins),
]


def build_figures(d: ReportData, strict: bool = False) -> tuple[list[Figure], list[Skipped]]:
    """Every figure the run's data supports, and why each other one is absent.

    A builder that fails is reported as skipped with its error (a report after a long run
    must still render); ``strict=True`` re-raises instead, for tests.
    """
    figs: list[Figure] = []
    skipped: list[Skipped] = []
    for title, build in BUILDERS:
        try:
            got = build(d)
        except Exception as err:
            plt.close("all")
            if strict:
                raise
            got = f"could not be drawn ({type(err).__name__}: {err})"
        if isinstance(got, Figure):
            figs.append(got)
        else:
            skipped.append(Skipped(title, got))
    return figs, skipped


def run_figures(df: pd.DataFrame, samples: pd.DataFrame | None = None, meta: dict | None = None) -> list[Figure]:
    """The figures of one run (the tables as read by ``bench.results``)."""
    return build_figures(ReportData(df, samples if samples is not None else pd.DataFrame(), meta or {}))[0]
