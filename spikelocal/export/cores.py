"""``--format cores``: the documented core file of :mod:`spikelocal.hardware.corefile`, i.e. the
fixed-point network placed on a target's cores (one HDF5 group per core)."""
from __future__ import annotations

import os

from .common import atomic_output
from ..hardware import map_network, write_corefile


def write_cores(int_net, path: str | os.PathLike[str]) -> dict:
    """Map ``int_net`` onto its target and write the core file; returns the mapping summary."""
    mapping = map_network(int_net, int_net.target)
    with atomic_output(path) as tmp:
        write_corefile(tmp, int_net, mapping)
    return mapping.to_dict()
