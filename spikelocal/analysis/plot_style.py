"""What every figure shares: the Agg backend, the style, the Okabe-Ito palette (Okabe & Ito
2008, "Color Universal Design", safe for the common kinds of colour blindness), the registry
of figure functions by name, and small axis helpers."""
from __future__ import annotations

from typing import Callable, get_args

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..config import PlotName  # noqa: E402
from .rundata import RunData  # noqa: E402

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
PLOT_NAMES: tuple[str, ...] = get_args(PlotName)
NEEDS_RECORDING = {"raster", "rates", "membrane", "rate_hist", "isi", "time_accuracy", "adaptation"}
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


def ms(steps: np.ndarray | int, dt: float) -> np.ndarray:
    return np.asarray(steps, dtype=np.float64) * dt * 1e3


def layer_axes(n: int, ncols: int = 1, height: float = 2.3, width: float = 7.0,
                sharex: bool = True) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(n, ncols, figsize=(width, 0.6 + height * n), squeeze=False, sharex=sharex)
    return fig, axes


def title(data: RunData, what: str, recorded: bool = True) -> str:
    """``run: what, epoch E`` (E of the recording for recorded figures, else the last epoch)."""
    if recorded and data.recording is not None:
        return f"{data.label}: {what}, epoch {data.recording.epoch}"
    return f"{data.label}: {what}" + (f", epoch {data.rows[-1]['epoch']:.0f}" if data.rows else "")
