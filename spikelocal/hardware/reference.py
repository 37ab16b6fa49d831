"""The float network run on given input spikes, layer by layer, keeping *unpooled* spikes.

This is the reference the integer network is compared with (spike counts per neuron) and
the source of the activity statistics that choose each layer's weight exponent. It reads the
records of the one core loop (:mod:`spikelocal.core.simulate`), as training and evaluation do.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.network import Network
from ..core.simulate import Simulator, Want


@dataclass
class FloatActivity:
    """Per layer: spike counts [B, N] (unpooled) and the largest magnitudes seen."""

    counts: list[np.ndarray] = field(default_factory=list)
    max_input: list[float] = field(default_factory=list)     # max |W s_in| in one step
    max_current: list[float] = field(default_factory=list)   # max |I|
    max_voltage: list[float] = field(default_factory=list)   # max |V| before the reset


@torch.no_grad()
def run_float(net: Network, spikes: torch.Tensor) -> FloatActivity:
    """Simulate ``net`` on input spikes [T, B, *input_shape] as one chunk of the core loop."""
    t, b = spikes.shape[:2]
    out = FloatActivity()
    sim = Simulator(net.layers, Want(membrane=True, current=True, drive=True))
    for rec in sim.run(spikes.to(torch.float32), sim.start(b, spikes.device)):
        out.counts.append(rec.output.reshape(t, b, -1).sum(0).to(torch.int64).numpy())
        out.max_input.append(float(rec.drive.abs().max()))
        out.max_current.append(float(rec.current.abs().max()))
        out.max_voltage.append(float(rec.membrane.abs().max()))
    return out
