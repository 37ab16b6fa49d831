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
from typing import Iterable, Optional

from matplotlib.figure import Figure

from ..errors import ConfigError
from ..outputs import refuse_symlink
from .plot_style import NEEDS_RECORDING, PLOT_NAMES, PLOTS, STYLE, plt
from .plots_recorded import fit_rows
from . import plots_recurrent  # noqa: F401  registers the adaptation plot
from .plots_training import angle_columns, compare_learning, compare_rates
from .rundata import RunData

__all__ = ["PLOTS", "PLOT_NAMES", "NEEDS_RECORDING", "plt", "fit_rows", "compare_learning",
           "compare_rates", "expand_names", "check_layers", "make_figures", "figure_bytes",
           "save_figures", "write_plots", "write_comparison"]


# ------------------------------------------------------------- selection and output ---------
def expand_names(names: Iterable[str], data: Optional[RunData] = None) -> list[str]:
    """Check plot names (``all`` = every plot that the run can make); unknown is a ConfigError."""
    names = list(names)
    for name in names:
        if name not in PLOT_NAMES and name != "all":
            raise ConfigError(f"unknown plot {name!r}; known: {', '.join(PLOT_NAMES)}, all")
    if "all" in names:
        chosen = [n for n in PLOT_NAMES if n != "angles" or data is None or angle_columns(data.rows)]
        if data is not None and not any(layer.neuron_cfg.kind == "alif" for layer in data.net.layers):
            chosen = [n for n in chosen if n != "adaptation"]
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
