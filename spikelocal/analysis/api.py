"""Recordings, figures and the HTML report as functions; the ``record``, ``plot`` and
``report`` commands are thin layers over them. Each takes a run directory or a
:class:`spikelocal.Run` and writes through temporary files: never over a file it did not make
unless ``force`` (:mod:`spikelocal.outputs`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from .. import rundir
from ..errors import ConfigError
from ..outputs import claim_output, refuse_symlink
from .hook import store_recording
from .recording import VARIABLES
from .rundata import check_run, load_run_data, record_run

FORMATS = ("png", "svg", "pdf")


def record(run: Any, samples: int = 100, layers: Optional[list[int]] = None,
           variables: Iterable[str] = VARIABLES) -> Path:
    """Record ``samples`` test samples of a finished run into RUN/recordings; the file's path."""
    path = rundir.run_path(run)
    variables = list(variables)
    if samples <= 0:
        raise ConfigError(f"--samples: expected a positive number, got {samples}")
    bad = [v for v in variables if v not in VARIABLES]
    if bad or not variables:
        raise ConfigError(f"--variables: unknown {bad[0] if bad else '(empty)'!r}; known: {', '.join(VARIABLES)}")
    check_run(path)
    config, net = rundir.load_network(path)
    epoch = int(rundir.read_status(path).get("epoch", config.training.epochs))
    rec = record_run(config, net, epoch, samples, layers, variables)
    block = store_recording(rec, path)
    summary = rundir.read_summary(path)
    if summary:
        summary["recording"] = block
        rundir.write_summary(path, summary)
    return path / block["file"]


def plot(runs: Any, what: Sequence[str] = ("all",), out: Optional[Path] = None,
         formats: Sequence[str] = ("png",), layers: Optional[list[int]] = None, samples: int = 100,
         epoch: Optional[int] = None, force: bool = False) -> list[Path]:
    """Figures of one run (into RUN/plots by default), or comparison figures of several runs
    (a list; ``out`` required); the files written."""
    from .plots import NEEDS_RECORDING, expand_names, write_comparison, write_plots   # matplotlib

    paths = [rundir.run_path(r) for r in (runs if isinstance(runs, (list, tuple)) else [runs])]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(f"--format: unknown {bad[0] if bad else '(empty)'!r}; known: {', '.join(FORMATS)}")
    names = expand_names(what)                       # checks the names before any work
    if len(paths) > 1:
        if out is None:
            raise ConfigError("--out: comparing several runs needs an output folder (--out DIR)")
        for path in paths:
            check_run(path)
        data = [load_run_data(path, need_recording=False) for path in paths]
        _unique_labels(data)
        _claim_figures(Path(out), ["compare_learning", "compare_rates"], formats, force, paths)
        return write_comparison(data, Path(out), formats)
    path = paths[0]
    check_run(path)
    folder = Path(out) if out is not None else path / "plots"
    _claim_figures(folder, names, formats, force, [path])
    need = any(n in NEEDS_RECORDING for n in names)
    data = load_run_data(path, need_recording=need, samples=samples, epoch=epoch)
    return write_plots(data, list(what), folder, formats, layers)


def report(run: Any, out: Optional[Path] = None, samples: int = 100, epoch: Optional[int] = None,
           force: bool = False) -> Path:
    """One self-contained HTML page (figures, metrics, statistics, config); its path."""
    from .html_report import write_report   # matplotlib

    path = rundir.run_path(run)
    check_run(path)
    claim_output(Path(out) if out is not None else path / "report.html", force, reading=[path])
    if out is not None and not Path(out).parent.is_dir():
        raise ConfigError(f"--out: folder {Path(out).parent} does not exist")
    return write_report(load_run_data(path, samples=samples, epoch=epoch), out)


def _claim_figures(out_dir: Path, names: list[str], formats: Sequence[str], force: bool,
                   runs: list[Path]) -> None:
    """Refuse to overwrite figures this call did not make (unless ``force``)."""
    refuse_symlink(out_dir)
    for name in names:
        for fmt in formats:
            claim_output(out_dir / f"{name}.{fmt}", force, reading=runs)


def _unique_labels(runs) -> None:
    """Label runs by their directory when names repeat (same experiment, other seeds)."""
    labels = [r.label for r in runs]
    if len(set(labels)) < len(labels):
        names = [r.run_dir.name for r in runs]
        for r, name in zip(runs, names):
            r.label = name if len(set(names)) == len(names) else str(r.run_dir)


__all__ = ["record", "plot", "report", "FORMATS"]
