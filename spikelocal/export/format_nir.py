"""The ``nir`` export format: the float network as a NIR graph, with its recording."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.network import Network
from .brian2_export import spikelocal_counts
from .formats import ExportOptions, register
from .nir_export import run_recording_to_nir, write_nir
from .nir_import import read_nir
from .nir_norse import write_norse
from .nir_portable import write_portable
from .parity import SNNTORCH_DT, agreement, check_norse, check_snntorch


def _recording(path: Path) -> Path:
    return path.with_name(path.stem + ".data.h5")


@register("nir", "network.nir", recurrent_ok=True, companions=lambda path: [_recording(path)])
def write(config: Any, net: Network, path: Path, options: ExportOptions) -> dict[str, Any]:
    if options.reader in (None, "snntorch"):
        snntorch = options.reader == "snntorch"
        write_nir(net, path, SNNTORCH_DT if snntorch and options.dt is None else options.dt, snntorch_loops=snntorch)
    elif options.reader == "norse":
        write_norse(net, path, options.dt)
    else:
        write_portable(net, path, options.reader, options.dt)
    try:  # the graph and its recording come as a pair, or not at all
        run_recording_to_nir(options.run_dir, net, _recording(path))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    checks: dict[str, Any] = {}
    if options.test is not None:
        if options.reader in (None, "snntorch"):
            checks["snntorch"] = check_snntorch(net, options.test, path)
        if options.reader == "norse":   # spikelocal's importer reads CubaLIF chains, not LI -> LIF
            checks["norse"] = check_norse(net, options.test, path)
        else:
            checks["nir_reimport"] = agreement(spikelocal_counts(net, options.test),
                                                spikelocal_counts(read_nir(path, options.dt), options.test))
    return checks
