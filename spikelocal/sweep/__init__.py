"""Sweeps: a grid of experiments, each an ordinary run directory, on a local process pool or a
Dask cluster, with one results table and plots for the whole grid.

- :mod:`.spec`    the sweep file (``base``/``bases``, ``set``, ``grid``) and its points
- :mod:`.runner`  running the points (skip finished, resume unfinished, record failures)
- :mod:`.results` ``results.csv``, ``results.md`` and the plots
- :mod:`.commands` the ``spikelocal sweep`` sub-command
"""
from .results import write_results
from .runner import run_sweep
from .spec import Point, SweepSpec, load_sweep

__all__ = ["Point", "SweepSpec", "load_sweep", "run_sweep", "write_results"]
