"""Figures of a recording (spikes, membrane, rates, ISIs, accuracy over time): each takes a
:class:`~.rundata.RunData` whose recording is loaded and the 1-based layers to show."""
from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..errors import ConfigError
from .plot_style import (OKABE_ITO, RASTER_SAMPLES, SPIKE_CMAP, TRACE_NEURONS, colour, layer_axes, ms,
                         plot, plt, title)
from .recording import Recording
from .rundata import RunData


# ------------------------------------------------------------- recording figures ----------
def fit_rows(image: np.ndarray, ax) -> tuple[np.ndarray, int]:
    """Average groups of k neurons when there are more neurons than pixel rows (nearest-neighbour
    drawing would silently drop rows): (image [rows, time] in [0, 1] = fraction that fired, k)."""
    rows_px = max(int(ax.bbox.height), 1)
    k = -(-image.shape[0] // rows_px)
    if k <= 1:
        return image.astype(np.float32), 1
    pad = (-image.shape[0]) % k
    padded = np.concatenate([image, np.zeros((pad, image.shape[1]), image.dtype)]) if pad else image
    return padded.reshape(-1, k, image.shape[1]).mean(1, dtype=np.float32), k


def _over_time(data: RunData, size: tuple[float, float]) -> tuple[Recording, Figure, Any, np.ndarray]:
    """The recording, one axes for a quantity per time step, and the step ends in ms (x values)."""
    rec = data.recording
    fig, ax = plt.subplots(figsize=size)
    return rec, fig, ax, ms(np.arange(rec.steps) + 1, rec.dt)


def _per_step_line(ax, t: np.ndarray, y: np.ndarray, i: int, label: str) -> None:
    """One value per step, drawn as points joined by lines (steps are discrete)."""
    ax.plot(t, y, color=colour(i), marker="o", ms=3, label=label)


@plot("raster")
def raster(data: RunData, layers: list[int]) -> Figure:
    """Spikes of the first few samples, neurons ordered by preferred class."""
    rec = data.recording
    s_count = min(RASTER_SAMPLES, len(rec.labels))
    fig, axes = layer_axes(len(layers), height=2.6)
    fig.subplots_adjust(hspace=0.4)            # before _fit_rows reads the axes' pixel height
    steps = rec.steps
    for ax, l in zip(axes[:, 0], layers):
        spikes = rec.layer(l).spikes[:s_count]                          # [S, T, n]
        st = data.stats[l]
        order_key = np.where(st.preferred < 0, len(rec.classes), st.preferred)
        order = np.lexsort((-np.nan_to_num(st.selectivity), order_key))
        image = spikes.transpose(2, 0, 1).reshape(spikes.shape[2], -1)[order]
        n = image.shape[0]
        fitted, per_row = fit_rows(image, ax)
        extent = (0, ms(s_count * steps, rec.dt), fitted.shape[0] * per_row, 0)
        ax.imshow(fitted, aspect="auto", cmap=SPIKE_CMAP, interpolation="nearest", extent=extent,
                  vmin=0, vmax=1, zorder=2)
        ax.set_ylim(n, 0)
        ax.grid(False)
        # class bands on the neuron axis
        bounds = np.searchsorted(order_key[order], np.arange(len(rec.classes) + 2))
        ticks, names = [], []
        for c in range(len(rec.classes) + 1):
            lo, hi = bounds[c], bounds[c + 1]
            if hi <= lo:
                continue
            if c % 2 == 0:
                ax.axhspan(lo, hi, color="#56B4E9", alpha=0.18, lw=0, zorder=1)
            if hi - lo >= n / 40:                              # tiny groups stay unlabelled
                ticks.append((lo + hi) / 2)
                names.append(rec.classes[c] if c < len(rec.classes) else "silent")
        sec = ax.secondary_yaxis("right")
        sec.set_yticks(ticks, names)
        sec.tick_params(length=0, labelsize=7)
        sec.set_ylabel("preferred class", fontsize=8)
        for s in range(1, s_count):
            ax.axvline(ms(s * steps, rec.dt), color=OKABE_ITO[3], lw=0.8)
        for s in range(s_count):
            ax.text(ms(s * steps + steps / 2, rec.dt), -0.01 * n, f"label {rec.classes[rec.labels[s]]}",
                    ha="center", va="bottom", fontsize=7, clip_on=False)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"layer {l} neuron")
        ax.set_title(f"layer {l}: {n} neurons, {s_count} test samples one after another", pad=14)
    axes[-1, 0].set_xlabel("time (ms); samples shown one after another, separated by vertical lines")
    fig.suptitle(title(data, "spike raster"))
    return fig


@plot("rates")
def population_rate(data: RunData, layers: list[int]) -> Figure:
    """Population firing rate per time step, mean and sd over the recorded samples."""
    rec, fig, ax, t = _over_time(data, (7, 3.4))
    if rec.inputs.dtype == np.uint8 and rec.inputs.size:
        inp = rec.inputs.mean(axis=2) / rec.dt
        ax.plot(t, inp.mean(0), color="#7F7F7F", ls="--", label="input")
    for i, l in enumerate(layers):
        pop = rec.layer(l).spikes.mean(axis=2) / rec.dt                    # [N, T] Hz
        mean, sd = pop.mean(0), pop.std(0)
        _per_step_line(ax, t, mean, i, f"layer {l}")
        ax.fill_between(t, mean - sd, mean + sd, color=colour(i), alpha=0.2, lw=0)
    ax.set_xlabel("time (ms, end of step)")
    ax.set_ylabel("population rate (Hz)")
    ax.set_ylim(bottom=0)
    ax.legend(title=f"mean ± sd over {len(rec.labels)} samples", loc="best")
    ax.set_title(title(data, "population rate"))
    return fig


def _trace_neurons(spikes: np.ndarray, membrane: np.ndarray) -> np.ndarray:
    """On one sample (spikes, membrane [T, n]): the most and the least active firing neuron
    and the silent neuron that came closest to threshold, so traces show both regimes."""
    counts = spikes.sum(0)
    firing = np.flatnonzero(counts > 0)
    picks: list[int] = []
    if len(firing):
        picks.append(int(firing[np.argmax(counts[firing])]))
        picks.append(int(firing[np.argmin(counts[firing])]))
    silent = np.flatnonzero(counts == 0)
    if len(silent):
        picks.append(int(silent[np.argmax(membrane[:, silent].max(0))]))
    ranked = np.argsort(-membrane.max(0), kind="stable")
    for n in ranked:
        if len(set(picks)) >= min(TRACE_NEURONS, membrane.shape[1]):
            break
        picks.append(int(n))
    return np.array(list(dict.fromkeys(picks))[:TRACE_NEURONS])


@plot("membrane")
def membrane(data: RunData, layers: list[int]) -> Figure:
    """V and I of three neurons per layer on the first sample; threshold and spikes marked."""
    rec = data.recording
    missing = [l for l in layers if rec.layer(l).membrane is None]
    if missing:
        raise ConfigError(f"plot membrane: layer {missing[0]} was recorded without 'membrane'")
    with_current = all(rec.layer(l).current is not None for l in layers)
    fig, axes = layer_axes(len(layers), ncols=2 if with_current else 1, height=2.4,
                            width=9.5 if with_current else 6.5)
    t = ms(np.arange(rec.steps), rec.dt)
    for row, l in enumerate(layers):
        layer = rec.layer(l)
        spikes0 = layer.spikes[0] if layer.spikes is not None else np.zeros_like(layer.membrane[0])
        neurons = _trace_neurons(spikes0, layer.membrane[0])
        ax = axes[row, 0]
        for j, n in enumerate(neurons):
            v = layer.membrane[0, :, n]
            ax.plot(t, v, color=colour(j), marker=".", ms=4, lw=1.2, label=f"neuron {n}")
            fired = np.flatnonzero(layer.spikes[0, :, n]) if layer.spikes is not None else []
            ax.plot(t[fired], v[fired], ls="none", marker="^", ms=7, mfc="none", mec=colour(j))
        ax.axhline(layer.threshold, color="#000000", ls="--", lw=1, label="threshold")
        ax.set_ylabel(f"layer {l}: V (threshold units)")
        if row == 0:
            ax.set_title("membrane V before reset (△ spike)")
        legend_ax = axes[row, -1]
        legend_ax.legend(*ax.get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(1.02, 1.0),
                         fontsize=7, title=f"layer {l}", title_fontsize=7)
        if with_current:
            ax2 = axes[row, 1]
            for j, n in enumerate(neurons):
                ax2.plot(t, layer.current[0, :, n], color=colour(j), marker=".", ms=4, lw=1.2)
            ax2.axhline(0, color="#7F7F7F", lw=0.8)
            ax2.set_ylabel("I (dimensionless)")
            if row == 0:
                ax2.set_title("synaptic current I")
    for ax in axes[-1]:
        ax.set_xlabel("time (ms)")
    fig.suptitle(title(data, f"membrane traces, test sample 0 (label {rec.classes[rec.labels[0]]})"))
    return fig


@plot("rate_hist")
def rate_histogram(data: RunData, layers: list[int]) -> Figure:
    """Distribution of per-neuron firing rates, with the silent and saturated fractions."""
    rec = data.recording
    fig, axes = plt.subplots(1, len(layers), figsize=(3.4 * len(layers) + 0.6, 3.2), squeeze=False)
    top = 1.0 / rec.dt
    for i, (ax, l) in enumerate(zip(axes[0], layers)):
        st = data.stats[l]
        ax.hist(st.rate_hz, bins=np.linspace(0, top, 41), color=colour(i), edgecolor="white", lw=0.4)
        ax.set_xlabel("firing rate (Hz)")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"layer {l} ({len(st.rate_hz)} neurons)")
        ax.text(0.98, 0.95, f"silent {st.silent:.0%}\nsaturated {st.saturated:.0%}\n"
                f"mean {st.rate_hz.mean():.0f} Hz", transform=ax.transAxes, ha="right", va="top", fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    axes[0, 0].set_ylabel("neurons")
    fig.suptitle(title(data, "firing-rate histogram"))
    fig.tight_layout()
    return fig


@plot("isi")
def isi_histograms(data: RunData, layers: list[int]) -> Figure:
    """Inter-spike intervals (pooled) and per-neuron CV of the ISI."""
    rec = data.recording
    fig, axes = layer_axes(len(layers), ncols=2, height=2.2, width=8.5, sharex="col")
    for row, l in enumerate(layers):
        st = data.stats[l]
        ax = axes[row, 0]
        edges = ms(np.arange(rec.steps + 1) + 0.5, rec.dt)
        if len(st.isi_s):
            ax.hist(st.isi_s * 1e3, bins=edges, color=colour(row), edgecolor="white", lw=0.4)
        ax.set_ylabel(f"layer {l}: intervals")
        ax.text(0.98, 0.9, f"{len(st.isi_s)} ISIs", transform=ax.transAxes, ha="right", va="top", fontsize=8)
        ax2 = axes[row, 1]
        cv = st.cv[np.isfinite(st.cv)]
        ax2.hist(cv, bins=np.linspace(0, 2, 41), color=colour(row), edgecolor="white", lw=0.4)
        ax2.set_ylabel("neurons")
        ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax2.text(0.98, 0.9, f"{len(cv)} neurons with ≥ 3 ISIs" + (f"\nmean CV {cv.mean():.2f}" if len(cv) else ""),
                 transform=ax2.transAxes, ha="right", va="top", fontsize=8)
    axes[0, 0].set_title("inter-spike interval")
    axes[0, 1].set_title("coefficient of variation of the ISI")
    fig.suptitle(title(data, "inter-spike intervals"))
    axes[-1, 0].set_xlabel("ISI (ms)")
    axes[-1, 1].set_xlabel("CV (dimensionless; 1 = Poisson)")
    return fig


@plot("time_accuracy")
def time_accuracy(data: RunData, layers: list[int]) -> Figure:
    """Accuracy of every layer's fixed readout on activity summed up to each step."""
    rec, fig, ax, t = _over_time(data, (6.5, 3.6))
    last = len(rec.readout_accuracy)
    for i in range(last):
        name = "output" if i == last - 1 else f"layer {i + 1} readout"
        _per_step_line(ax, t, rec.readout_accuracy[i], i, name)
    ax.axhline(1 / len(rec.classes), color="#7F7F7F", ls=":", lw=1, label="chance")
    ax.set_xlabel("time (ms): spikes counted from 0 to here")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    ax.set_title(title(data, f"accuracy vs time ({rec.accuracy_samples} test samples)"))
    return fig


# ------------------------------------------------------------- run figures ----------------
