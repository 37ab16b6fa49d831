"""The fixed-point export formats: ``netx`` (lava-dl HDF5) and ``cores`` (the core file of
:mod:`spikelocal.hardware`), both of the network :mod:`.fixed` quantizes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.network import Network
from ..hardware.corefile import read_corefile
from .cores import write_cores
from .fixed import integer_network
from .formats import ExportOptions, register
from .netx import read_netx, read_netx_as_lava, write_netx
from .parity import check_integer_readback


@register("netx", "network.net")
def write_netx_format(config: Any, net: Network, path: Path, options: ExportOptions) -> dict[str, Any]:
    int_net = integer_network(config, net, options.target, options.weight_bits, max_weight_exp=0, fmt="netx")
    write_netx(int_net, path, net.layers[0].neuron_cfg.dt)
    if options.test is None:
        return {}
    return {"netx_readback (spikelocal.export.netx.read_netx)":
            check_integer_readback(int_net, read_netx(path), options.test),
            "netx_as_lava_dl_reads_it (read_netx_as_lava)":
            check_integer_readback(int_net, read_netx_as_lava(path, options.target), options.test)}


@register("cores", "cores.h5", recurrent_ok=True, adaptive_ok=True)  # the core file holds both
def write_cores_format(config: Any, net: Network, path: Path, options: ExportOptions) -> dict[str, Any]:
    int_net = integer_network(config, net, options.target, options.weight_bits, max_weight_exp=None,
                              fmt="the core file", stateful_ok=True)
    write_cores(int_net, path)
    if options.test is None:
        return {}
    return {"cores_readback (spikelocal.hardware.read_corefile)":
            check_integer_readback(int_net, read_corefile(path), options.test)}
