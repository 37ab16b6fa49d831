"""Figures of training (learning curves, weights, alignment angles) and comparisons of runs."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..errors import ConfigError
from .plot_style import colour, plot, plt, title
from .rundata import RunData


@plot("learning")
def learning(data: RunData, layers: list[int]) -> Figure:
    """Output and per-layer readout accuracy, and the local losses, per epoch."""
    rows = data.rows
    epochs = [r["epoch"] for r in rows]
    n = len(data.net.layers)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    marker = "o" if len(rows) < 30 else None
    ax.plot(epochs, [r["test_acc"] for r in rows], color="#000000", marker=marker, lw=2, label="output, test")
    ax.plot(epochs, [r["train_acc"] for r in rows], color="#000000", marker=marker, ls="--", mfc="white", label="output, train")
    for i in range(n - 1):
        key = f"layer{i + 1}_test_acc"
        if key in rows[0]:
            ax.plot(epochs, [r[key] for r in rows], color=colour(i), marker=marker, label=f"layer {i + 1} readout, test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend(loc="lower right")
    ax.set_title("accuracy")
    for i in range(n):
        key = f"layer{i + 1}_loss"
        if key in rows[0]:
            name = "output" if i == n - 1 else f"layer {i + 1}"
            ax2.plot(epochs, [r[key] for r in rows], color="#000000" if i == n - 1 else colour(i),
                     marker=marker, label=name)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("local training loss")
    ax2.set_yscale("log")
    ax2.legend(loc="upper right")
    ax2.set_title("local losses (train)")
    for a in (ax, ax2):
        _epoch_axis(a, epochs)
    fig.suptitle(f"{data.label}: learning curves")
    fig.tight_layout()
    return fig


@plot("weights")
def weights(data: RunData, layers: list[int]) -> Figure:
    """Histogram of each layer's weights; a recurrent layer adds its recurrent weights to the
    histogram and a second row with the recurrent matrix itself (post x pre)."""
    recurrent = [l for l in layers if data.net.layers[l - 1].is_recurrent]
    rows = 2 if recurrent else 1
    fig, axes = plt.subplots(rows, len(layers), figsize=(3.4 * len(layers) + 0.6, 3.2 * rows), squeeze=False)
    for i, (ax, l) in enumerate(zip(axes[0], layers)):
        layer = data.net.layers[l - 1]
        w = layer.weight.detach().numpy().ravel()
        ax.hist(w, bins=60, color=colour(i), edgecolor="none", label="input")
        ax.set_xlabel("weight (current per input spike, threshold units)"
                      if layer.neuron.spiking else "weight")
        ax.set_title(f"layer {l} ({w.size} weights)")
        ax.text(0.98, 0.95, f"mean {w.mean():+.3f}\nsd {w.std():.3f}", transform=ax.transAxes,
                ha="right", va="top", fontsize=8)
        if layer.is_recurrent:
            rec = layer.recurrent_weight().detach().numpy()
            ax.hist(rec.ravel(), bins=60, color=colour(i + 1), edgecolor="none", alpha=0.7, label="recurrent")
            ax.legend(loc="upper left", fontsize=7)
            bound = float(abs(rec).max()) or 1.0
            image = axes[1, i].imshow(rec, cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
            axes[1, i].set_title(f"layer {l}: recurrent weights")
            axes[1, i].set_xlabel("from neuron")
            axes[1, i].set_ylabel("to neuron")
            fig.colorbar(image, ax=axes[1, i], fraction=0.046)
        elif rows == 2:
            axes[1, i].axis("off")
    axes[0, 0].set_ylabel("count")
    fig.suptitle(title(data, "weight distributions", recorded=False))
    fig.tight_layout()
    return fig


def _epoch_axis(ax, epochs: list[float]) -> None:
    """Whole-number epoch ticks, with room around a single epoch."""
    if 0 < len(set(epochs)) <= 12:
        ax.set_xticks(sorted(set(epochs)))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if 0 < len(epochs) < 4:
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)


def angle_columns(rows: list[dict[str, float]]) -> list[str]:
    return [k for k in (rows[0] if rows else {}) if k.startswith("layer") and "_angle_" in k]


@plot("angles")
def angles(data: RunData, layers: list[int]) -> Figure:
    """Alignment angles logged by the diagnostics (layer<i>_angle_bp, layer<i>_angle_fb_w)."""
    cols = angle_columns(data.rows)
    if not cols:
        raise ConfigError(f"plot angles: {data.label} logged no layer<i>_angle_bp columns in metrics.csv "
                          "(turn on diagnostics.alignment)")
    epochs = [r["epoch"] for r in data.rows]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for col in cols:
        layer = int(col[5:col.index("_")])
        ls = "-" if col.endswith("_bp") else "--"
        what = "update vs backprop" if col.endswith("_bp") else "feedback vs forward W"
        ax.plot(epochs, [r[col] for r in data.rows], color=colour(layer - 1), ls=ls, marker="o", ms=3,
                label=f"layer {layer}: {what}")
    ax.axhline(90, color="#7F7F7F", ls=":", lw=1, label="90° (orthogonal)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("angle (degrees)")
    ax.set_ylim(0, 180 if any(r[c] > 90 for r in data.rows for c in cols) else 100)
    _epoch_axis(ax, epochs)
    ax.legend(loc="best")
    ax.set_title(f"{data.label}: alignment with backprop")
    return fig


# ------------------------------------------------------------- comparisons ---------------
def compare_learning(runs: list[RunData]) -> Figure:
    """Learning curves of several runs side by side (shared accuracy axis)."""
    fig, axes = plt.subplots(1, len(runs), figsize=(3.6 * len(runs) + 0.6, 3.6), squeeze=False, sharey=True)
    for ax, data in zip(axes[0], runs):
        rows = data.rows
        epochs = [r["epoch"] for r in rows]
        n = len(data.net.layers)
        ax.plot(epochs, [r["test_acc"] for r in rows], color="#000000", marker="o", ms=3, lw=2, label="output")
        for i in range(n - 1):
            ax.plot(epochs, [r[f"layer{i + 1}_test_acc"] for r in rows], color=colour(i), marker="o", ms=3,
                    label=f"layer {i + 1} readout")
        ax.set_title(data.label, fontsize=9)
        ax.set_xlabel("epoch")
        _epoch_axis(ax, epochs)
        ax.legend(loc="lower right", fontsize=7)
    axes[0, 0].set_ylabel("test accuracy")
    fig.suptitle("learning curves")
    fig.tight_layout()
    return fig


def compare_rates(runs: list[RunData]) -> Figure:
    """Mean firing rate of every layer (last epoch, whole test set) per run, side by side."""
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(runs) * max(len(d.net.layers) for d in runs) + 2), 3.6))
    width = 0.8 / len(runs)
    spiking = all(d.net.spiking for d in runs)
    for j, data in enumerate(runs):
        n = len(data.net.layers)
        last = data.rows[-1]
        scale = 1.0 / data.config.network.neuron.dt if spiking else 1.0
        values = [last[f"layer{i + 1}_rate"] * scale for i in range(n)]
        ax.bar(np.arange(n) + (j - (len(runs) - 1) / 2) * width, values, width * 0.95, color=colour(j),
               label=data.label)
    ax.set_xticks(np.arange(max(len(d.net.layers) for d in runs)),
                  [f"layer {i + 1}" for i in range(max(len(d.net.layers) for d in runs))])
    ax.set_ylabel("mean firing rate (Hz)" if spiking else "mean activity")
    ax.legend(loc="best", fontsize=7)
    ax.set_title("firing rates (last epoch, test set)")
    fig.tight_layout()
    return fig
