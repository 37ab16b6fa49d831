"""The shared loop of the rules that send a signal down the network after a forward pass
(``gait_prop``, ``fw_dtp``, ``predictive_coding``): each computes, per time step, a local
error ``delta_l`` at the pre-activation (membrane) of every layer from the forward pass
alone; the update is then the same three-factor product as in :mod:`spikelocal.rules.local`::

    dW_l = 1/(B T) sum_t delta_l(t) outer P_{l-1}(t)      db_l = 1/(B T) sum_t delta_l(t) pb(t)

with P the pre-synaptic eligibility trace of :mod:`spikelocal.neurons` (the layer input
for rate neurons). For a rate network (T = 1) this is the rule of each paper; for spiking
networks the signal crosses layers within a time step only, as in
:mod:`spikelocal.rules.feedback` (time-local, no BPTT).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import Tensor

from ..layers import Layer
from ..losses import LOSSES
from ..network import Network
from .base import BatchResult, Rule, zero_grads
from .bp import BatchMetrics, OutputLossOptions


@dataclass
class Forward:
    """One chunk's forward pass, flattened to N = K*B rows per layer."""

    inputs: list[Tensor]      # layer inputs [K, B, *in_shape]
    acts: list[Tensor]        # pooled activity [N, *pooled_shape]
    membranes: list[Tensor]   # pre-activation / membrane [N, *out_shape]
    err: Tensor               # output error dloss/dz_L [N, C]
    labels: Tensor            # [N], the labels repeated over the K steps


def synapse_adjoint(layer: Layer, delta: Tensor, weight: Tensor | None = None) -> Tensor:
    """W^T delta: [N, *out_shape] -> [N, *in_shape], with ``weight`` in place of W if given."""
    w = layer.weight.detach() if weight is None else weight
    n = delta.shape[0]
    if layer.kind == "dense":
        return (delta.reshape(n, -1) @ w).view(n, *layer.in_shape)
    return torch.nn.grad.conv2d_input((n, *layer.in_shape), w, delta,
                                      stride=layer.cfg.stride, padding=layer.cfg.padding)


class DeltaRule(Rule):
    """Forward without a graph, :meth:`deltas` from the recorded pass, eligibility updates."""

    def __init__(self, net: Network, options: OutputLossOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        self.loss_fn = LOSSES.get(options.loss)

    def deltas(self, fwd: Forward, lowest: int) -> list[Tensor | None]:
        """dLoss/d(pre-activation) [N, *out_shape] of every layer from ``lowest`` up."""
        raise NotImplementedError

    def presynaptic(self, i: int) -> Tensor | None:
        """Layer i's pre-synaptic factor [N, *in_shape] if not its eligibility trace (default)."""
        return None

    @torch.no_grad()
    def compute_updates(self, chunks: Iterable[Tensor], labels: Tensor,
                        active: list[bool]) -> BatchResult:
        net = self.net
        zero_grads(net)
        layers = net.layers
        n = len(layers)
        lowest = active.index(True) if any(active) else n
        metrics: BatchMetrics | None = None
        states = traces = None
        bias_traces = [0.0] * n
        for x in chunks:
            k, b = x.shape[:2]
            if states is None:
                states = net.init_states(b)
                traces = [layer.neuron.init_trace((b, *layer.in_shape), x.device) for layer in layers]
                metrics = BatchMetrics(net, b, self.loss_fn, self.options.window)
            labels_rep = labels.repeat(k)
            inputs, acts, membranes = [], [], []
            inp = x
            err = None
            for i, layer in enumerate(layers):
                act, membrane, states[i] = layer.step(inp, states[i])
                err = metrics.record(i, layer, act, labels_rep)
                inputs.append(inp)
                acts.append(act.reshape(k * b, *layer.pooled_shape))
                membranes.append(membrane.reshape(k * b, *layer.out_shape))
                inp = act
            deltas = self.deltas(Forward(inputs, acts, membranes, err, labels_rep), lowest)
            for i, layer in enumerate(layers):
                if not active[i] or deltas[i] is None:
                    continue
                pre, traces[i] = layer.neuron.eligibility(inputs[i], traces[i])
                override = self.presynaptic(i)
                pre = pre if override is None else override
                layer.weight.grad += layer.weight_grad(pre.reshape(k * b, *layer.in_shape), deltas[i])
                if layer.bias is not None:
                    pb, bias_traces[i] = layer.neuron.bias_eligibility(k, bias_traces[i])
                    layer.bias.grad += layer.bias_grad(deltas[i].view(k, b, *layer.out_shape), pb)
            metrics.steps += k
        if metrics is None:
            raise ValueError("compute_updates got no input chunks")
        scale = 1.0 / (labels.shape[0] * metrics.steps)
        for layer in layers:
            for p in layer.parameters():
                p.grad.mul_(scale)
        return metrics.result()


__all__ = ["DeltaRule", "Forward", "synapse_adjoint"]
