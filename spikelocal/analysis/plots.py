"""Figures of one run (and comparisons of several), drawn with matplotlib's Agg backend.

Every figure function takes a :class:`~.rundata.RunData` and the 1-based layers to show and
returns a ``Figure``; :func:`write_plots` renders them into a temporary folder and renames
the files into place, so a failure leaves no half-written figure behind. Colours are the
Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), safe for the common kinds of
colour blindness; classes in the raster are told apart by grey bands and labels, not colour.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Optional, get_args

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..config import PlotName  # noqa: E402
from ..errors import ConfigError  # noqa: E402
from .rundata import RunData  # noqa: E402

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
PLOT_NAMES: tuple[str, ...] = get_args(PlotName)
NEEDS_RECORDING = {"raster", "rates", "membrane", "rate_hist", "isi", "time_accuracy"}
STYLE = {
    "figure.dpi": 110, "savefig.dpi": 110, "font.size": 9, "axes.titlesize": 10,
    "axes.labelsize": 9, "legend.fontsize": 8, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.3, "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO),
}
RASTER_SAMPLES = 8
#: spikes black, no spike transparent (the class bands show through); grey where several
#: neurons share a pixel row and some of them fired (see _fit_rows)
SPIKE_CMAP = LinearSegmentedColormap.from_list("spikes", [(1.0, 1.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0)])
TRACE_NEURONS = 3

PlotFn = Callable[[RunData, list[int]], Figure]
PLOTS: dict[str, PlotFn] = {}


def plot(name: str) -> Callable[[PlotFn], PlotFn]:
    def decorator(fn: PlotFn) -> PlotFn:
        PLOTS[name] = fn
        return fn

    return decorator


def colour(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def _ms(steps: np.ndarray | int, dt: float) -> np.ndarray:
    return np.asarray(steps, dtype=np.float64) * dt * 1e3


def _layer_axes(n: int, ncols: int = 1, height: float = 2.3, width: float = 7.0,
                sharex: bool = True) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(n, ncols, figsize=(width, 0.6 + height * n), squeeze=False, sharex=sharex)
    return fig, axes


def _title(data: RunData, what: str, recorded: bool = True) -> str:
    """``run: what, epoch E`` (E of the recording for recorded figures, else the last epoch)."""
    if recorded and data.recording is not None:
        return f"{data.label}: {what}, epoch {data.recording.epoch}"
    return f"{data.label}: {what}" + (f", epoch {data.rows[-1]['epoch']:.0f}" if data.rows else "")


# ------------------------------------------------------------- recording figures ----------
def _fit_rows(image: np.ndarray, ax) -> tuple[np.ndarray, int]:
    """Average groups of k neurons when there are more neurons than pixel rows (nearest-neighbour
    drawing would silently drop rows): (image [rows, time] in [0, 1] = fraction that fired, k)."""
    rows_px = max(int(ax.bbox.height), 1)
    k = -(-image.shape[0] // rows_px)
    if k <= 1:
        return image.astype(np.float32), 1
    pad = (-image.shape[0]) % k
    padded = np.concatenate([image, np.zeros((pad, image.shape[1]), image.dtype)]) if pad else image
    return padded.reshape(-1, k, image.shape[1]).mean(1, dtype=np.float32), k


@plot("raster")
def raster(data: RunData, layers: list[int]) -> Figure:
    """Spikes of the first few samples, neurons ordered by preferred class."""
    rec = data.recording
    s_count = min(RASTER_SAMPLES, len(rec.labels))
    fig, axes = _layer_axes(len(layers), height=2.6)
    fig.subplots_adjust(hspace=0.4)            # before _fit_rows reads the axes' pixel height
    steps = rec.steps
    for ax, l in zip(axes[:, 0], layers):
        spikes = rec.layer(l).spikes[:s_count]                          # [S, T, n]
        st = data.stats[l]
        order_key = np.where(st.preferred < 0, len(rec.classes), st.preferred)
        order = np.lexsort((-np.nan_to_num(st.selectivity), order_key))
        image = spikes.transpose(2, 0, 1).reshape(spikes.shape[2], -1)[order]
        n = image.shape[0]
        fitted, per_row = _fit_rows(image, ax)
        extent = (0, _ms(s_count * steps, rec.dt), fitted.shape[0] * per_row, 0)
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
            ax.axvline(_ms(s * steps, rec.dt), color=OKABE_ITO[3], lw=0.8)
        for s in range(s_count):
            ax.text(_ms(s * steps + steps / 2, rec.dt), -0.01 * n, f"label {rec.classes[rec.labels[s]]}",
                    ha="center", va="bottom", fontsize=7, clip_on=False)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"layer {l} neuron")
        ax.set_title(f"layer {l}: {n} neurons, {s_count} test samples one after another", pad=14)
    axes[-1, 0].set_xlabel("time (ms); samples shown one after another, separated by vertical lines")
    fig.suptitle(_title(data, "spike raster"))
    return fig


@plot("rates")
def population_rate(data: RunData, layers: list[int]) -> Figure:
    """Population firing rate per time step, mean and sd over the recorded samples."""
    rec = data.recording
    fig, ax = plt.subplots(figsize=(7, 3.4))
    t = _ms(np.arange(rec.steps) + 1, rec.dt)
    if rec.inputs.dtype == np.uint8 and rec.inputs.size:
        inp = rec.inputs.mean(axis=2) / rec.dt
        ax.plot(t, inp.mean(0), color="#7F7F7F", ls="--", label="input")
    for i, l in enumerate(layers):
        pop = rec.layer(l).spikes.mean(axis=2) / rec.dt                    # [N, T] Hz
        mean, sd = pop.mean(0), pop.std(0)
        ax.plot(t, mean, color=colour(i), marker="o", ms=3, label=f"layer {l}")
        ax.fill_between(t, mean - sd, mean + sd, color=colour(i), alpha=0.2, lw=0)
    ax.set_xlabel("time (ms, end of step)")
    ax.set_ylabel("population rate (Hz)")
    ax.set_ylim(bottom=0)
    ax.legend(title=f"mean ± sd over {len(rec.labels)} samples", loc="best")
    ax.set_title(_title(data, "population rate"))
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
    fig, axes = _layer_axes(len(layers), ncols=2 if with_current else 1, height=2.4,
                            width=9.5 if with_current else 6.5)
    t = _ms(np.arange(rec.steps), rec.dt)
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
    fig.suptitle(_title(data, f"membrane traces, test sample 0 (label {rec.classes[rec.labels[0]]})"))
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
    fig.suptitle(_title(data, "firing-rate histogram"))
    fig.tight_layout()
    return fig


@plot("isi")
def isi_histograms(data: RunData, layers: list[int]) -> Figure:
    """Inter-spike intervals (pooled) and per-neuron CV of the ISI."""
    rec = data.recording
    fig, axes = _layer_axes(len(layers), ncols=2, height=2.2, width=8.5, sharex="col")
    for row, l in enumerate(layers):
        st = data.stats[l]
        ax = axes[row, 0]
        edges = _ms(np.arange(rec.steps + 1) + 0.5, rec.dt)
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
    axes[-1, 0].set_xlabel("ISI (ms)")
    axes[-1, 1].set_xlabel("CV (dimensionless; 1 = Poisson)")
    fig.suptitle(_title(data, "inter-spike intervals"))
    return fig


@plot("time_accuracy")
def time_accuracy(data: RunData, layers: list[int]) -> Figure:
    """Accuracy of every layer's fixed readout on activity summed up to each step."""
    rec = data.recording
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    t = _ms(np.arange(rec.steps) + 1, rec.dt)
    last = len(rec.readout_accuracy)
    for i in range(last):
        name = "output" if i == last - 1 else f"layer {i + 1} readout"
        ax.plot(t, rec.readout_accuracy[i], color=colour(i), marker="o", ms=3, label=name)
    ax.axhline(1 / len(rec.classes), color="#7F7F7F", ls=":", lw=1, label="chance")
    ax.set_xlabel("time (ms): spikes counted from 0 to here")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    ax.set_title(_title(data, f"accuracy vs time ({rec.accuracy_samples} test samples)"))
    return fig


# ------------------------------------------------------------- run figures ----------------
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
    """Histogram of each layer's weights (and biases when present)."""
    fig, axes = plt.subplots(1, len(layers), figsize=(3.4 * len(layers) + 0.6, 3.2), squeeze=False)
    for i, (ax, l) in enumerate(zip(axes[0], layers)):
        w = data.net.layers[l - 1].weight.detach().numpy().ravel()
        ax.hist(w, bins=60, color=colour(i), edgecolor="none")
        ax.set_xlabel("weight (current per input spike, threshold units)"
                      if data.net.layers[l - 1].neuron.spiking else "weight")
        ax.set_title(f"layer {l} ({w.size} weights)")
        ax.text(0.98, 0.95, f"mean {w.mean():+.3f}\nsd {w.std():.3f}", transform=ax.transAxes,
                ha="right", va="top", fontsize=8)
    axes[0, 0].set_ylabel("count")
    fig.suptitle(_title(data, "weight distributions", recorded=False))
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


# ------------------------------------------------------------- selection and output ---------
def expand_names(names: Iterable[str], data: Optional[RunData] = None) -> list[str]:
    """Check plot names (``all`` = every plot that the run can make); unknown is a ConfigError."""
    names = list(names)
    for name in names:
        if name not in PLOT_NAMES and name != "all":
            raise ConfigError(f"unknown plot {name!r}; known: {', '.join(PLOT_NAMES)}, all")
    if "all" in names:
        chosen = [n for n in PLOT_NAMES if n != "angles" or data is None or angle_columns(data.rows)]
        if data is not None and not data.net.spiking:
            chosen = [n for n in chosen if n not in NEEDS_RECORDING]
        return chosen
    return list(dict.fromkeys(names))


def check_layers(data: RunData, layers: Optional[list[int]]) -> list[int]:
    """The layers to draw: given ones (each must exist), else all; recording plots keep spiking ones."""
    n = len(data.net.layers)
    if layers is None:
        return list(range(1, n + 1))
    for l in layers:
        if not 1 <= l <= n:
            raise ConfigError(f"--layers: layer {l} does not exist; {data.label} has layers 1..{n}")
    return sorted(set(layers))


def make_figures(data: RunData, names: list[str], layers: Optional[list[int]] = None) -> dict[str, Figure]:
    """Draw the named figures (names already expanded); the caller closes them."""
    chosen = check_layers(data, layers)
    figures: dict[str, Figure] = {}
    try:
        with plt.rc_context(STYLE):
            for name in names:
                use = chosen
                if name in NEEDS_RECORDING:
                    if data.recording is None:
                        raise ConfigError(f"plot {name}: needs recorded spikes; {data.label} has no spiking layer")
                    use = [l for l in chosen if l in data.recording.layers] if layers is None else chosen
                    for l in use:
                        data.recording.layer(l)
                    if not use:
                        raise ConfigError(f"plot {name}: no recorded layer to draw")
                figures[name] = PLOTS[name](data, use)
    except BaseException:
        for fig in figures.values():
            plt.close(fig)
        raise
    return figures


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    buf = io.BytesIO()
    with plt.rc_context(STYLE):
        fig.savefig(buf, format=fmt, bbox_inches="tight")
    return buf.getvalue()


def save_figures(figures: dict[str, Figure], out_dir: Path, formats: Iterable[str] = ("png",)) -> list[Path]:
    """Write every figure in every format into ``out_dir``, all or nothing."""
    from ..outputs import refuse_symlink

    out_dir = Path(out_dir)
    refuse_symlink(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".plots-", dir=out_dir))
    written = []
    try:
        for name, fig in figures.items():
            for fmt in formats:
                (tmp / f"{name}.{fmt}").write_bytes(figure_bytes(fig, fmt))
        for path in sorted(tmp.iterdir()):
            target = out_dir / path.name
            refuse_symlink(target)
            os.replace(path, target)
            written.append(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return written


def write_plots(data: RunData, names: Iterable[str], out_dir: Path, formats: Iterable[str] = ("png",),
                layers: Optional[list[int]] = None) -> list[Path]:
    """Draw and write the named plots of one run; returns the files written."""
    figures = make_figures(data, expand_names(names, data), layers)
    try:
        return save_figures(figures, out_dir, formats)
    finally:
        for fig in figures.values():
            plt.close(fig)


def write_comparison(runs: list[RunData], out_dir: Path, formats: Iterable[str] = ("png",)) -> list[Path]:
    """Side-by-side learning curves and firing rates of several runs."""
    with plt.rc_context(STYLE):
        figures = {"compare_learning": compare_learning(runs), "compare_rates": compare_rates(runs)}
    try:
        return save_figures(figures, out_dir, formats)
    finally:
        for fig in figures.values():
            plt.close(fig)
