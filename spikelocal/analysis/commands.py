"""CLI: ``spikelocal record``, ``spikelocal plot`` and ``spikelocal report`` for finished runs.

Arguments are checked before any work (unknown plot, format or layer: one-line error,
status 2), and every file is written through a temporary path, so a failed command leaves
the run directory as it was.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Optional

from ..commands import command
from ..errors import ConfigError
from .api import record
from .api import plot
from .api import report

def _int_list(text: Optional[str], what: str) -> Optional[list[int]]:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what}: expected comma-separated layer numbers like 1,2, got {text!r}") from None


def _names(text: Optional[str]) -> list[str]:
    return [v.strip() for v in (text or "").split(",") if v.strip()]


# ------------------------------------------------------------------ record -------------
def _record_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="a finished run directory")
    p.add_argument("--samples", type=int, default=100, help="test samples to record (default 100)")
    p.add_argument("--layers", help="1-based layers, comma-separated (default: every spiking layer)")
    p.add_argument("--variables", default="spikes,membrane,current,adaptation",
                   help="comma-separated subset of spikes,membrane,current,adaptation (default all; "
                        "adaptation exists for ALIF layers only)")


@command("record", _record_args)
def _record(args: argparse.Namespace) -> int:
    """Record spikes, membrane and current of test samples of a finished run (HDF5).

    Example: spikelocal record runs/quickstart --samples 100 --variables spikes,membrane
    """
    path = record(args.run_dir, args.samples, _int_list(args.layers, "--layers"), _names(args.variables))
    print(f"recorded {args.samples} test samples of {args.run_dir} -> {path}")
    return 0


# ------------------------------------------------------------------ plot ---------------
def _plot_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR",
                   help="one run (its figures) or several (comparison figures)")
    p.add_argument("--what", default="all", help="comma-separated plots (default all): raster, rates, "
                   "membrane, rate_hist, isi, learning, time_accuracy, weights, angles")
    p.add_argument("--format", default="png", help="comma-separated png, svg, pdf (default png)")
    p.add_argument("--layers", help="1-based layers to draw, comma-separated (default all)")
    p.add_argument("--out", type=Path, help="folder for the figures (default RUN_DIR/plots; "
                   "required when comparing runs)")
    p.add_argument("--samples", type=int, default=100,
                   help="test samples recorded in memory when the run holds no recording (default 100)")
    p.add_argument("--epoch", type=int, help="use the recording of this epoch (default: the latest)")
    p.add_argument("--force", action="store_true", help="replace figures that already exist in the folder")


@command("plot", _plot_args)
def _plot(args: argparse.Namespace) -> int:
    """Draw a run's figures (or compare several runs) as PNG/SVG/PDF.

    Example: spikelocal plot runs/quickstart --what raster,rates,learning --format png,svg
    """
    t0 = time.perf_counter()
    files = plot(args.run_dirs if len(args.run_dirs) > 1 else args.run_dirs[0], _names(args.what) or ["all"],
                 args.out, _names(args.format), _int_list(args.layers, "--layers"), args.samples, args.epoch,
                 args.force)
    print(f"wrote {len(files)} files in {time.perf_counter() - t0:.1f} s -> {files[0].parent if files else '-'}")
    return 0


# ------------------------------------------------------------------ report -------------
def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="a finished run directory")
    p.add_argument("--out", type=Path, help="HTML file (default RUN_DIR/report.html)")
    p.add_argument("--force", action="store_true", help="replace an existing report file")
    p.add_argument("--samples", type=int, default=100,
                   help="test samples recorded in memory when the run holds no recording (default 100)")
    p.add_argument("--epoch", type=int, help="use the recording of this epoch (default: the latest)")


@command("report", _report_args)
def _report(args: argparse.Namespace) -> int:
    """Write one self-contained HTML page: figures, metrics, statistics, config.

    Example: spikelocal report runs/quickstart --out quickstart.html
    """
    out = report(args.run_dir, args.out, args.samples, args.epoch, args.force)
    print(f"report -> {out}")
    return 0
