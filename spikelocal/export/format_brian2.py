"""The ``brian2`` export format: the float network as a Brian2 script and weights."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.network import Network
from .brian2_export import write_brian2
from .formats import ExportOptions, register
from .parity import check_brian2


@register("brian2", "brian2", recurrent_ok=True)
def write(config: Any, net: Network, path: Path, options: ExportOptions) -> dict[str, Any]:
    spikes, labels = options.test_samples(options.samples) if options.samples else (None, None)
    write_brian2(net, path, config.data.steps, spikes, labels)
    return {"brian2": check_brian2(net, options.test, path)} if options.test is not None else {}
