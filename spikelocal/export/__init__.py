"""Exports of a trained network to other simulators and chips, and NIR import.

Python API::

    from spikelocal.export import export, FORMATS
    path, _ = export("runs/mnist", "nir")              # -> runs/mnist/export/network.nir
    path, figures = export("runs/mnist", "brian2", out="b2", check=100)  # folder + parity

    from spikelocal.export.nir_export import network_to_nir, write_nir
    from spikelocal.export.nir_import import read_nir, start_run_from_nir
    from spikelocal.export.brian2_export import brian2_network, brian2_counts, write_brian2
    from spikelocal.export.netx import write_netx, read_netx, read_netx_as_lava

Formats: ``nir`` (float network, NIR graph), ``brian2`` (float network as a Brian2 script
and weights), ``netx`` (lava-dl HDF5 of the fixed-point network) and ``cores`` (the core file
of :mod:`spikelocal.hardware`). Every writer leaves a complete output or none. ``check=N``
reads the written file back with the real reader (snnTorch's ``import_from_nir`` and
``import-nir``; Brian2 from ``weights.npz``; ``read_netx`` and ``read_netx_as_lava``;
``read_corefile``) and compares spike counts on N encoded test images (:mod:`.parity`).
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, Optional

import torch

from .. import seeds
from ..data import batch_generator, encode, load_dataset
from ..errors import ExportError
from ..outputs import claim_output
from ..rundir import load_network
from .common import require_feed_forward
from .formats import FORMATS_BY_NAME, ExportOptions

FORMATS = ("nir", "netx", "brian2", "cores")
#: the modules that register the formats (imported on first use: they pull in the readers
#: and :mod:`spikelocal.hardware`, which itself imports parts of this package)
FORMAT_MODULES = {"nir": "spikelocal.export.format_nir", "brian2": "spikelocal.export.format_brian2",
                  "netx": "spikelocal.export.format_fixed", "cores": "spikelocal.export.format_fixed"}


def export(run_dir: str | os.PathLike[str], fmt: str, out: Optional[str | os.PathLike[str]] = None,
           dt: Optional[float] = None, target: str = "loihi", weight_bits: int = 8,
           samples: int = 20, check: int = 0, force: bool = False,
           reader: Optional[str] = None) -> tuple[Path, dict[str, Any]]:
    """Export the trained network of ``run_dir`` as ``fmt``; returns the output path and the
    parity figures of :mod:`.parity` on ``check`` encoded test images (empty without).

    ``dt``: NIR graph time step (default: the network's; 1e-4 for snnTorch's importer).
    ``target``/``weight_bits``: fixed-point formats. ``samples``: Brian2 only (default 20), the number of
    encoded test images stored as the script's default input. ``force``: replace an existing
    output (never the run directory itself). ``reader``: nir only, write the graph that this
    reader's own importer runs (``sinabs``, ``rockpool``: :mod:`.nir_portable`; ``snntorch``: dt
    1e-4 and recurrent loops in the form its importer runs, :mod:`.nir_export`; ``norse``:
    biased layers in the form Norse's importer runs, :mod:`.nir_norse`).
    """
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if reader is not None and fmt != "nir":
        raise ExportError(f"--reader {reader!r} applies to --format nir only")
    importlib.import_module(FORMAT_MODULES[fmt])
    form = FORMATS_BY_NAME[fmt]
    config, net = load_network(run_dir)
    require_feed_forward(net, f"{fmt} ({reader})" if reader else fmt, recurrent_ok=form.recurrent_ok and reader in (None, "snntorch"),
                         adaptive_ok=form.adaptive_ok)
    path = Path(out) if out is not None else Path(run_dir) / "export" / form.default_name
    claim_output(path, force, reading=[Path(run_dir)])  # first: it refuses a path like "."
    for owned in form.companions(path):
        claim_output(owned, force, reading=[Path(run_dir)])
    if out is None:
        path.parent.mkdir(exist_ok=True)
    options = ExportOptions(Path(run_dir), dt, target, weight_bits, samples, reader,
                            _test_samples(config, check)[0] if check else None,
                            lambda n: _test_samples(config, n))
    return path, form.write(config, net, path, options)


def _test_samples(config: Any, n: int):
    """The first ``n`` test images encoded as the run encodes them: [n, T, ...] and labels."""
    data = load_dataset(config.data, config.seed)
    x, y = data.test_x[:n], data.test_y[:n]
    spikes = torch.cat(list(encode(config, x, batch_generator(config.seed + seeds.TEST_ENCODING, 0, 0))))
    return spikes.transpose(0, 1), y


from .api import Exported, to_brian2, to_cores, to_netx, to_nir  # noqa: E402  (after export: api calls it)

__all__ = ["export", "FORMATS", "Exported", "to_nir", "to_brian2", "to_netx", "to_cores"]
