"""Figures of recurrent ALIF runs: the adaptive threshold over time.

An ALIF neuron fires when V > A[t] = theta + beta_a a[t-1] (:mod:`spikelocal.core.alif`); the
recording keeps a[t] (``record.variables`` with ``adaptation``). The figure shows A[t] of the
three most active neurons of test sample 0 with their spikes, and the population's A[t]
(mean, 10th-90th percentile over the recorded samples and neurons): the memory that
adaptation holds over a trial. The recurrent weight matrix is drawn by the ``weights`` plot.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..errors import ConfigError
from .plot_style import TRACE_NEURONS, colour, layer_axes, ms, plot, title
from .rundata import RunData


def adaptive_layers(data: RunData, layers: list[int]) -> list[int]:
    """The given layers whose adaptation was recorded."""
    rec = data.recording
    return [l for l in layers if l in rec.layers and rec.layer(l).adaptation is not None]


def threshold_over_time(data: RunData, l: int) -> np.ndarray:
    """A[t] = theta + beta_a a[t-1] of layer l, [N, T, n] (a[-1] = 0)."""
    layer = data.recording.layer(l)
    a = layer.adaptation.reshape(layer.adaptation.shape[0], layer.adaptation.shape[1], -1)
    before = np.concatenate([np.zeros_like(a[:, :1]), a[:, :-1]], axis=1)
    return layer.threshold + data.net.layers[l - 1].neuron.adapt * before


@plot("adaptation")
def adaptation(data: RunData, layers: list[int]) -> Figure:
    """Adaptive threshold of single neurons (sample 0) and of the population, per ALIF layer."""
    rec = data.recording
    chosen = adaptive_layers(data, layers)
    if not chosen:
        raise ConfigError("plot adaptation: no layer was recorded with 'adaptation' (ALIF layers record it "
                          "when record.variables lists adaptation)")
    fig, axes = layer_axes(len(chosen), ncols=2, height=2.4, width=9.5)
    t = ms(np.arange(rec.steps), rec.dt)
    for row, l in enumerate(chosen):
        thr = threshold_over_time(data, l)
        spikes = rec.layer(l).spikes
        counts = spikes[0].reshape(rec.steps, -1).sum(0) if spikes is not None else thr[0].max(0)
        ax = axes[row, 0]
        for j, n in enumerate(np.argsort(-counts, kind="stable")[:TRACE_NEURONS]):
            ax.plot(t, thr[0, :, n], color=colour(j), lw=1.2, label=f"neuron {n}")
            if spikes is not None:
                fired = np.flatnonzero(spikes[0].reshape(rec.steps, -1)[:, n])
                ax.plot(t[fired], thr[0, fired, n], ls="none", marker="^", ms=6, mfc="none", mec=colour(j))
        ax.axhline(rec.layer(l).threshold, color="#000000", ls="--", lw=1, label="theta (no adaptation)")
        ax.set_ylabel(f"layer {l}: threshold A")
        ax.legend(loc="upper left", fontsize=7)
        flat = thr.transpose(1, 0, 2).reshape(rec.steps, -1)
        ax2 = axes[row, 1]
        ax2.fill_between(t, np.percentile(flat, 10, axis=1), np.percentile(flat, 90, axis=1),
                         color=colour(0), alpha=0.25, lw=0, label="10-90 %")
        ax2.plot(t, flat.mean(1), color=colour(0), lw=1.5, label="mean")
        ax2.legend(loc="upper left", fontsize=7)
        if row == 0:
            ax.set_title("A[t] = theta + beta_a a[t-1], test sample 0 (△ spike)")
            ax2.set_title(f"population A[t], {thr.shape[0]} samples")
    for ax in axes[-1]:
        ax.set_xlabel("time (ms)")
    fig.suptitle(title(data, "adaptive threshold"))
    return fig
