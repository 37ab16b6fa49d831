"""A network of :class:`~spikelocal.core.layers.Layer`: an ``nn.Module`` whose
``forward`` runs the one core loop (:mod:`spikelocal.core.simulate`) over a whole input
sequence, and ``simulate`` for evaluation in chunks of K steps (state carried between
chunks, so memory does not grow with T)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Optional, Sequence

import torch
from torch import Tensor, nn

from ..config import NetworkConfig
from ..errors import ConfigError
from .layers import Layer, Shape
from .simulate import LayerRecord, Simulator, Want


@dataclass
class NetworkOutput:
    """What :meth:`Network.forward` returns (always the same shape of result)."""

    output: Tensor               # [T, B, classes]: the output layer's readout scores per step
    records: list[LayerRecord]   # per layer, over the whole sequence


class Network(nn.Module):
    """Layers in order; the last one is the output layer (one neuron per class).

    Build it from a config with :meth:`from_config`, or from :class:`Layer` objects directly.
    ``forward(x)`` takes ``x`` shaped ``[T, B, *input_shape]`` (T = 1 for rate networks) and
    starts every sample at rest: no state carries from one call to the next.
    """

    def __init__(self, layers: Sequence[Layer], cfg: Optional[NetworkConfig] = None) -> None:
        super().__init__()
        if not layers:
            raise ValueError("a network needs at least one layer")
        for below, above in zip(layers, layers[1:]):
            if tuple(below.pooled_shape) != tuple(above.in_shape):
                raise ValueError(f"a layer with input {list(above.in_shape)} cannot follow one "
                                 f"with output {list(below.pooled_shape)}")
        self.cfg = cfg
        self.layers = nn.ModuleList(layers)
        self.input_shape = tuple(layers[0].in_shape)
        self.num_classes = int(layers[-1].readout.shape[0])

    @classmethod
    def from_config(cls, cfg: NetworkConfig, input_shape: Shape, num_classes: int, seed: int) -> "Network":
        """Weights, biases and fixed readouts drawn in layer order from one generator."""
        generator = torch.Generator().manual_seed(seed)
        layers = []
        shape = tuple(input_shape)
        for i, layer_cfg in enumerate(cfg.layers):
            is_output = i == len(cfg.layers) - 1
            neuron_cfg = layer_cfg.neuron or (cfg.output_neuron if is_output else None) or cfg.neuron
            if is_output and layer_cfg.neuron is None and cfg.output_neuron is None and not cfg.neuron.spiking:
                neuron_cfg = cfg.neuron.model_copy(update={"kind": "linear"})
            try:
                layer = Layer(layer_cfg, shape, neuron_cfg, cfg.readout, num_classes,
                              is_output, generator, cfg.weight_scale)
            except ValueError as exc:
                raise ConfigError(f"network.layers.{i}: {exc}") from None
            layers.append(layer)
            shape = layer.pooled_shape
        return cls(layers, cfg)

    @property
    def spiking(self) -> bool:
        return any(layer.neuron.spiking for layer in self.layers)

    @property
    def weight_scale(self) -> float:
        """The gain of the default init (1 for a network built from layers)."""
        return self.cfg.weight_scale if self.cfg is not None else 1.0

    def set_precision(self, dtype: Optional[torch.dtype]) -> "Network":
        """Run every layer's synaptic products in ``dtype`` (bf16), None for float32; state,
        traces, readouts and updates stay float32 (:mod:`spikelocal.devices`)."""
        for layer in self.layers:
            layer.compute_dtype = dtype
        return self

    def init_states(self, batch: int) -> list[tuple[Tensor, ...]]:
        device = self.layers[0].weight.device
        return [layer.init_state(batch, device) for layer in self.layers]

    def forward(self, x: Tensor, want: Want = Want(membrane=True)) -> NetworkOutput:
        """Simulate ``x`` [T, B, *input_shape] as one chunk; differentiable when grad is enabled
        (BPTT with the surrogate derivative), so ``forward`` also serves autograd users."""
        if tuple(x.shape[2:]) != self.input_shape:
            raise ValueError(f"expected input [T, B, {', '.join(map(str, self.input_shape))}], "
                             f"got {list(x.shape)}")
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            want = replace(want, differentiable=True, reuse_buffers=False)
        want = replace(want, scores=True)
        sim = Simulator(self.layers, want)
        records = sim.run(x, sim.start(x.shape[1], x.device))
        return NetworkOutput(records[-1].scores, records)


@dataclass
class SimulationResult:
    """What one pass over a batch yields for metrics (summed over time)."""

    logits: list[Tensor]        # per layer [B, C]: readout scores summed over T
    spike_counts: list[Tensor]  # per layer [B]: spikes (or summed activity) per sample
    steps: int


@torch.no_grad()
def simulate(net: Network, chunks: Iterable[Tensor], score_from: int = 0) -> SimulationResult:
    """Run the network over all chunks of one batch; no gradients, no traces. The readout
    scores sum the steps from ``score_from`` on (a task that answers at its end)."""
    sim = Simulator(net.layers, Want(scores=True))
    state = None
    logits: list[Tensor] = []
    counts: list[Tensor] = []
    for x in chunks:
        k, b = x.shape[:2]
        if state is None:
            state = sim.start(b, x.device)
            logits = [torch.zeros(b, net.num_classes, device=x.device) for _ in net.layers]
            counts = [torch.zeros(b, device=x.device) for _ in net.layers]
        first = max(0, score_from - state.steps)
        for i, rec in enumerate(sim.run(x, state)):
            logits[i] += rec.scores[first:].sum(0)
            counts[i] += rec.pooled.reshape(k, b, -1).sum(dim=(0, 2))
    return SimulationResult(logits, counts, 0 if state is None else state.steps)
