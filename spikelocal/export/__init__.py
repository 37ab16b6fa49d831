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

import os
from pathlib import Path
from typing import Any, Optional

from .. import seeds
from ..errors import ExportError

FORMATS = ("nir", "netx", "brian2", "cores")
DEFAULT_NAMES = {"nir": "network.nir", "netx": "network.net", "brian2": "brian2", "cores": "cores.h5"}


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
    reader's own importer runs (``sinabs``, ``rockpool``; :mod:`.nir_portable`).
    """
    from ..rundir import load_network

    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if reader is not None and fmt != "nir":
        raise ExportError(f"--reader {reader!r} applies to --format nir only")
    config, net = load_network(run_dir)
    from .common import require_feed_forward

    require_feed_forward(net, f"{fmt} ({reader})" if reader else fmt, recurrent_ok=fmt in ("nir", "brian2") and reader is None)
    from ..outputs import claim_output

    path = Path(out) if out is not None else Path(run_dir) / "export" / DEFAULT_NAMES[fmt]
    claim_output(path, force, reading=[Path(run_dir)])
    if fmt == "nir":
        claim_output(path.with_name(path.stem + ".data.h5"), force, reading=[Path(run_dir)])
    if out is None:
        path.parent.mkdir(exist_ok=True)
    checks: dict[str, Any] = {}
    test = _test_samples(config, check)[0] if check else None
    if fmt == "nir":
        from .nir_export import run_recording_to_nir, write_nir
        from .nir_portable import write_portable

        if reader is None:
            write_nir(net, path, dt)
        else:
            write_portable(net, path, reader, dt)
        try:  # the graph and its recording come as a pair, or not at all
            run_recording_to_nir(run_dir, net, path.with_name(path.stem + ".data.h5"))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if test is not None:
            from .brian2_export import spikelocal_counts
            from .nir_import import read_nir
            from .parity import agreement, check_snntorch

            if reader is None:
                checks["snntorch"] = check_snntorch(net, test, path)
            if not any(layer.is_recurrent for layer in net.layers):  # the importer reads chains only
                checks["nir_reimport"] = agreement(spikelocal_counts(net, test),
                                                    spikelocal_counts(read_nir(path, dt), test))
    elif fmt == "brian2":
        from .brian2_export import write_brian2

        spikes, labels = _test_samples(config, samples) if samples else (None, None)
        write_brian2(net, path, config.data.steps, spikes, labels)
        if test is not None:
            from .parity import check_brian2

            checks["brian2"] = check_brian2(net, test, path)
    else:
        from .fixed import integer_network

        int_net = integer_network(config, net, target, weight_bits,
                                  max_weight_exp=0 if fmt == "netx" else None)
        if fmt == "netx":
            from .netx import write_netx

            write_netx(int_net, path, net.layers[0].neuron_cfg.dt)
            reader = "spikelocal.export.netx.read_netx"
        else:
            from .cores import write_cores

            write_cores(int_net, path)
            reader = "spikelocal.hardware.read_corefile"
        if test is not None:
            from ..hardware import read_corefile
            from .netx import read_netx
            from .parity import check_integer_readback

            back = read_netx(path) if fmt == "netx" else read_corefile(path)
            checks[f"{fmt}_readback ({reader})"] = check_integer_readback(int_net, back, test)
            if fmt == "netx":
                from .netx import read_netx_as_lava

                checks["netx_as_lava_dl_reads_it (read_netx_as_lava)"] = check_integer_readback(
                    int_net, read_netx_as_lava(path, target), test)
    return path, checks


def _test_samples(config: Any, n: int):
    """The first ``n`` test images encoded as the run encodes them: [n, T, ...] and labels."""
    import torch

    from ..data import batch_generator, encode, load_dataset

    data = load_dataset(config.data, config.seed)
    x, y = data.test_x[:n], data.test_y[:n]
    spikes = torch.cat(list(encode(config, x, batch_generator(config.seed + seeds.TEST_ENCODING, 0, 0))))
    return spikes.transpose(0, 1), y


from .api import Exported, to_brian2, to_cores, to_netx, to_nir  # noqa: E402  (after export: api calls it)

__all__ = ["export", "FORMATS", "Exported", "to_nir", "to_brian2", "to_netx", "to_cores"]
