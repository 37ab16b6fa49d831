"""A feed-forward network of :class:`~spikelocal.layers.Layer` built from its config, and
its simulation over time in chunks of K steps (state carried between chunks, so memory does
not grow with T)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import Tensor, nn

from .config import NetworkConfig
from .errors import ConfigError
from .layers import Layer, Shape


class Network(nn.Module):
    """Layers in order; the last one is the output layer (one neuron per class)."""

    def __init__(self, cfg: NetworkConfig, input_shape: Shape, num_classes: int, seed: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        generator = torch.Generator().manual_seed(seed)
        layers = []
        shape = self.input_shape
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
        self.layers = nn.ModuleList(layers)

    @property
    def spiking(self) -> bool:
        return any(layer.neuron.spiking for layer in self.layers)

    def init_states(self, batch: int) -> list[tuple[Tensor, ...]]:
        device = self.layers[0].weight.device
        return [layer.neuron.init_state((batch, *layer.out_shape), device) for layer in self.layers]


@dataclass
class SimulationResult:
    """What one pass over a batch yields for metrics (summed over time)."""

    logits: list[Tensor]        # per layer [B, C]: readout scores summed over T
    spike_counts: list[Tensor]  # per layer [B]: spikes (or summed activity) per sample
    steps: int


@torch.no_grad()
def simulate(net: Network, chunks: Iterable[Tensor]) -> SimulationResult:
    """Run the network over all chunks of one batch; no gradients, no traces."""
    states = None
    logits: list[Tensor] = []
    counts: list[Tensor] = []
    steps = 0
    for x in chunks:
        k, b = x.shape[:2]
        if states is None:
            states = net.init_states(b)
            logits = [torch.zeros(b, net.num_classes) for _ in net.layers]
            counts = [torch.zeros(b) for _ in net.layers]
        inp = x
        for i, layer in enumerate(net.layers):
            act, _, states[i] = layer.step(inp, states[i])
            logits[i] += layer.readout_logits(act.reshape(k * b, *layer.pooled_shape)).view(k, b, -1).sum(0)
            counts[i] += act.reshape(k, b, -1).sum(dim=(0, 2))
            inp = act
        steps += k
    return SimulationResult(logits, counts, steps)
