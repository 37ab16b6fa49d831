"""The float network run on given input spikes, layer by layer, keeping *unpooled* spikes.

This is the reference the integer network is compared with (spike counts per neuron) and
the source of the activity statistics that choose each layer's weight exponent. It runs the
same :class:`~spikelocal.core.neurons.CubaLIF` dynamics as training and evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.network import Network


@dataclass
class FloatActivity:
    """Per layer: spike counts [B, N] (unpooled) and the largest magnitudes seen."""

    counts: list[np.ndarray] = field(default_factory=list)
    max_input: list[float] = field(default_factory=list)     # max |W s_in| in one step
    max_current: list[float] = field(default_factory=list)   # max |I|
    max_voltage: list[float] = field(default_factory=list)   # max |V| before the reset


@torch.no_grad()
def run_float(net: Network, spikes: torch.Tensor) -> FloatActivity:
    """Simulate ``net`` on input spikes [T, B, *input_shape] (no chunking needed here)."""
    t, b = spikes.shape[:2]
    out = FloatActivity()
    inp = spikes.to(torch.float32)
    for layer in net.layers:
        current = layer.synapse(inp.reshape(t * b, *layer.in_shape)).view(t, b, *layer.out_shape)
        state = layer.neuron.init_state((b, *layer.out_shape), current.device)
        act, membrane, _ = layer.neuron.run(current, state, layer.bias)
        alpha = getattr(layer.neuron, "alpha", 0.0)
        syn = torch.zeros_like(current[0])
        max_i = 0.0
        for k in range(t):  # the synaptic current itself is not returned by run()
            syn = alpha * syn + current[k]
            max_i = max(max_i, float(syn.abs().max()))
        out.counts.append(act.reshape(t, b, -1).sum(0).to(torch.int64).numpy())
        out.max_input.append(float(current.abs().max()))
        out.max_current.append(max_i)
        out.max_voltage.append(float(membrane.abs().max()))
        if layer.pooled_shape != layer.out_shape:
            act = layer.pool(act.reshape(t * b, *layer.out_shape)).view(t, b, *layer.pooled_shape)
        inp = act
    return out

