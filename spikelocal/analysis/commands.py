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

from ..cli import command
from ..errors import ConfigError

FORMATS = ("png", "svg", "pdf")


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
    p.add_argument("--variables", default="spikes,membrane,current",
                   help="comma-separated subset of spikes,membrane,current")


@command("record", _record_args)
def _record(args: argparse.Namespace) -> int:
    """Record spikes, membrane and current of test samples of a finished run (HDF5).

    Example: spikelocal record runs/quickstart --samples 100 --variables spikes,membrane
    """
    from .. import rundir
    from .hook import store_recording
    from .recording import VARIABLES
    from .rundata import check_run, record_run

    if args.samples <= 0:
        raise ConfigError(f"--samples: expected a positive number, got {args.samples}")
    variables = _names(args.variables)
    bad = [v for v in variables if v not in VARIABLES]
    if bad or not variables:
        raise ConfigError(f"--variables: unknown {bad[0] if bad else '(empty)'!r}; known: {', '.join(VARIABLES)}")
    layers = _int_list(args.layers, "--layers")
    check_run(args.run_dir)
    config, net = rundir.load_network(args.run_dir)
    epoch = int(rundir.read_status(args.run_dir).get("epoch", config.training.epochs))
    rec = record_run(config, net, epoch, args.samples, layers, variables)
    block = store_recording(rec, args.run_dir)
    summary = rundir.read_summary(args.run_dir)
    if summary:
        summary["recording"] = block
        rundir.write_summary(args.run_dir, summary)
    print(f"recorded {len(rec.labels)} samples x {rec.steps} steps of layers "
          f"{', '.join(map(str, rec.layers))} -> {args.run_dir / block['file']}")
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


def _claim_figures(out_dir: Path, names: list[str], formats: list[str], force: bool, runs: list[Path]) -> None:
    """Refuse to overwrite figures this command did not make (unless --force)."""
    from ..outputs import claim_output, refuse_symlink

    refuse_symlink(out_dir)
    for name in names:
        for fmt in formats:
            claim_output(out_dir / f"{name}.{fmt}", force, reading=runs)


def _formats(text: str) -> list[str]:
    formats = _names(text)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(f"--format: unknown {bad[0] if bad else '(empty)'!r}; known: {', '.join(FORMATS)}")
    return formats


@command("plot", _plot_args)
def _plot(args: argparse.Namespace) -> int:
    """Draw a run's figures (or compare several runs) as PNG/SVG/PDF.

    Example: spikelocal plot runs/quickstart --what raster,rates,learning --format png,svg
    """
    from .plots import NEEDS_RECORDING, expand_names, write_comparison, write_plots
    from .rundata import check_run, load_run_data

    t0 = time.perf_counter()
    formats = _formats(args.format)
    asked = _names(args.what) or ["all"]
    names = expand_names(asked)                       # checks the names before any work
    layers = _int_list(args.layers, "--layers")
    if len(args.run_dirs) > 1:
        if args.out is None:
            raise ConfigError("--out: comparing several runs needs an output folder (--out DIR)")
        for run in args.run_dirs:
            check_run(run)
        runs = [load_run_data(run, need_recording=False) for run in args.run_dirs]
        _unique_labels(runs)
        _claim_figures(args.out, ["compare_learning", "compare_rates"], formats, args.force, args.run_dirs)
        files = write_comparison(runs, args.out, formats)
    else:
        run = args.run_dirs[0]
        check_run(run)
        _claim_figures(args.out or run / "plots", names, formats, args.force, [run])
        need = any(n in NEEDS_RECORDING for n in names)
        data = load_run_data(run, need_recording=need, samples=args.samples, epoch=args.epoch)
        files = write_plots(data, asked, args.out or run / "plots", formats, layers)
    print(f"wrote {len(files)} files in {time.perf_counter() - t0:.1f} s -> {files[0].parent if files else '-'}")
    return 0


def _unique_labels(runs) -> None:
    """Label runs by their directory when names repeat (same experiment, other seeds)."""
    labels = [r.label for r in runs]
    if len(set(labels)) < len(labels):
        names = [r.run_dir.name for r in runs]
        for r, name in zip(runs, names):
            r.label = name if len(set(names)) == len(names) else str(r.run_dir)


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
    from .report import write_report
    from .rundata import check_run, load_run_data

    check_run(args.run_dir)
    from ..outputs import claim_output

    claim_output(args.out or args.run_dir / "report.html", args.force, reading=[args.run_dir])
    if args.out is not None and not args.out.parent.is_dir():
        raise ConfigError(f"--out: folder {args.out.parent} does not exist")
    data = load_run_data(args.run_dir, samples=args.samples, epoch=args.epoch)
    out = write_report(data, args.out)
    print(f"report -> {out}")
    return 0
