"""The float network run on given input spikes, layer by layer, keeping *unpooled* spikes.

This is the reference the integer network is compared with (spike counts per neuron) and
the source of the activity statistics that choose each layer's weight exponent. It reads the
records of the one core loop (:mod:`spikelocal.core.simulate`), as training and evaluation do.
For an ALIF layer the voltage range is that of V itself (the record holds V - beta_a a[t-1]),
and the threshold's rise beta_a a is recorded: both must fit the integer state.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

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
    max_adaptation: list[float] = field(default_factory=list)  # ALIF: max beta_a a (else 0)
    scores: Optional[np.ndarray] = None  # last layer [B, N]: output summed from score_from on


@torch.no_grad()
def run_float(net: Network, spikes: torch.Tensor, score_from: int = 0) -> FloatActivity:
    """Simulate ``net`` on input spikes [T, B, *input_shape] as one chunk of the core loop."""
    t, b = spikes.shape[:2]
    out = FloatActivity()
    sim = Simulator(net.layers, Want(membrane=True, current=True, drive=True, adaptation=True))
    for layer, rec in zip(net.layers, sim.run(spikes.to(torch.float32), sim.start(b, spikes.device))):
        values = rec.output.reshape(t, b, -1)
        out.counts.append(values.sum(0).to(torch.int64 if layer.neuron.spiking else torch.float64).numpy())
        out.max_input.append(float(rec.drive.abs().max()))
        out.max_current.append(float(rec.current.abs().max()))
        voltage, rise = rec.membrane, 0.0
        if rec.adaptation is not None:  # V = record + beta_a a[t-1]
            before = torch.cat([torch.zeros_like(rec.adaptation[:1]), rec.adaptation[:-1]])
            voltage = voltage + layer.neuron.adapt * before
            rise = layer.neuron.adapt * float(rec.adaptation.max())
        out.max_voltage.append(float(voltage.abs().max()))
        out.max_adaptation.append(rise)
        out.scores = values[score_from:].sum(0).double().numpy()
    return out
