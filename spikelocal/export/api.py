"""Exports as functions, one per format: what ``spikelocal export RUN --format F`` runs.

Each takes a run directory or a :class:`spikelocal.Run` and an output path (default inside
the run directory), refuses to overwrite what it did not make unless ``force``, and returns
an :class:`Exported` with the path and, when ``check`` > 0, the parity figures measured on
that many encoded test images (:mod:`spikelocal.export.parity`)::

    import spikelocal as sl
    run = sl.load_run("runs/quickstart")
    sl.export.to_nir(run, "quickstart.nir", check=100).parity    # {'snntorch': ..., 'nir_reimport': ...}
    sl.export.to_brian2(run, "quickstart_brian2")
    sl.export.to_netx(run, "quickstart.net", weight_bits=8)
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..rundir import run_path
from . import export   # the format dispatch the CLI calls too (defined before this module loads)



@dataclass
class Exported:
    """Where an export went and what its read-back measured (empty without ``check``)."""

    path: Path
    parity: dict[str, Any] = field(default_factory=dict)


def _export(run: Any, fmt: str, out: Optional[os.PathLike | str], **options: Any) -> Exported:
    path, parity = export(run_path(run), fmt, out, **options)
    return Exported(path, parity)


def to_nir(run: Any, out: Optional[os.PathLike | str] = None, *, dt: Optional[float] = None,
           reader: Optional[str] = None, check: int = 0, force: bool = False) -> Exported:
    """A NIR graph (HDF5) with ``dt`` in its metadata; ``reader`` (``sinabs``, ``rockpool``,
    ``norse``) writes the form that reader's own importer runs with spikelocal's counts."""
    return _export(run, "nir", out, dt=dt, reader=reader, check=check, force=force)


def to_brian2(run: Any, out: Optional[os.PathLike | str] = None, *, samples: int = 20,
              check: int = 0, force: bool = False) -> Exported:
    """A Brian2 folder (model, weights, ``run.py`` that runs ``samples`` stored test images)."""
    return _export(run, "brian2", out, samples=samples, check=check, force=force)


def to_netx(run: Any, out: Optional[os.PathLike | str] = None, *, target: str = "loihi",
            weight_bits: int = 8, check: int = 0, force: bool = False) -> Exported:
    """lava-dl's netx HDF5 of the fixed-point network."""
    return _export(run, "netx", out, target=target, weight_bits=weight_bits, check=check, force=force)


def to_cores(run: Any, out: Optional[os.PathLike | str] = None, *, target: str = "loihi",
             weight_bits: int = 8, check: int = 0, force: bool = False) -> Exported:
    """The documented core file: the fixed-point network mapped onto the target's cores."""
    return _export(run, "cores", out, target=target, weight_bits=weight_bits, check=check, force=force)


__all__ = ["Exported", "to_nir", "to_brian2", "to_netx", "to_cores"]
