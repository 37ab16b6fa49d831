"""Does the exported network behave the same in the real tool? Figures for ``export --check N``.

All checks feed the same encoded test images (the run's encoder, fixed seed) to spikelocal
and to the other side, and compare spike counts per (sample, neuron) and the predicted class
(the output neuron with most spikes, first on ties, for both sides).
"""
from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import torch

from ..network import Network
from .brian2_export import brian2_counts, spikelocal_counts


def agreement(ours: list[np.ndarray], theirs: list[np.ndarray]) -> dict[str, Any]:
    return {
        "samples": int(ours[-1].shape[0]),
        "neuron_count_agreement": [float(np.mean(a == b)) for a, b in zip(ours, theirs)],
        "class_agreement": float(np.mean(ours[-1].argmax(1) == theirs[-1].argmax(1))),
        "spikes": [int(a.sum()) for a in ours],
    }


def check_brian2(net: Network, spikes: torch.Tensor) -> dict[str, Any]:
    """Brian2 (numpy code generation) against spikelocal; ``spikes`` is [S, T, *input_shape]."""
    return agreement(spikelocal_counts(net, spikes), brian2_counts(net, spikes))


def check_snntorch(net: Network, spikes: torch.Tensor) -> dict[str, Any]:
    """The NIR graph (written at dt = 1e-4) imported by snnTorch's ``import_from_nir``:
    output-layer spike counts against spikelocal's."""
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    from .nir_export import network_to_nir

    with contextlib.redirect_stdout(io.StringIO()):  # snnTorch prints while importing
        module = import_from_nir(network_to_nir(net, dt=1e-4))
    flat = len(net.input_shape) == 3 and net.layers[0].kind == "dense"
    counts = []
    with torch.no_grad():
        for sample in spikes.float():
            snntorch.utils.reset(module)
            total = torch.zeros(net.num_classes)
            for x in sample:
                y = module(x.reshape(-1) if flat else x)
                total += (y[0] if isinstance(y, tuple) else y).reshape(-1)
            counts.append(total.numpy().astype(np.int64))
    ours = spikelocal_counts(net, spikes)
    out = agreement([ours[-1]], [np.stack(counts)])
    out["neuron_count_agreement"] = {"output": out["neuron_count_agreement"][0]}
    return out


def check_integer_readback(int_net, back, spikes: torch.Tensor) -> dict[str, Any]:
    """The fixed-point network against the one read back from the written file."""
    from ..hardware import simulate_integer

    x = spikes.transpose(0, 1).numpy().astype(np.uint8)
    return agreement(simulate_integer(int_net, x).counts, simulate_integer(back, x).counts)
