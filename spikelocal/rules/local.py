"""Learning with local errors: a three-factor rule with a fixed random readout per layer.

Mostafa, Ramesh & Cauwenberghs, "Deep supervised learning using local errors", Front.
Neurosci. 2018 (arXiv:1711.06756); for spiking layers Kaiser, Mostafa & Neftci, "Synaptic
plasticity dynamics for deep continuous local learning (DECOLLE)", Front. Neurosci. 2020.

For layer l with pooled activity r_l(t), fixed random readout G_l and label y::

    e_l(t)     = dLoss(G_l r_l(t), y) / d(G_l r_l)      softmax - onehot for cross-entropy
    delta_l(t) = pool^T(G_l^T e_l(t)) * f'(V_l(t))      modulator x post-synaptic factor
    dW_l       = sum_t delta_l(t) outer P_{l-1}(t)      x pre-synaptic eligibility trace

with P the trace of :mod:`spikelocal.neurons` (the input itself for rate neurons). The loss
is averaged over batch and time. No error crosses a layer (each layer's input is treated as
a constant), no weights are transported, and nothing is kept across time but the traces:
the products over each chunk of K steps are single large matrix multiplications. This equals
the autograd gradient of the layer's local loss with its input detached and the reset
excluded from the gradient (``tests/test_local_rule.py`` checks it).

``mode: layerwise`` trains one layer at a time: epochs are split evenly, layer 1 first.
"""
from __future__ import annotations

from typing import Iterable, Literal

import torch
from torch import Tensor

from ..losses import LOSSES
from ..network import Network
from . import RULES
from .base import BatchResult, Rule, RuleOptions, zero_grads


class LocalOptions(RuleOptions):
    name: Literal["local"] = "local"
    loss: Literal["ce", "mse", "smooth_l1"] = "ce"
    mode: Literal["together", "layerwise"] = "together"


@RULES.register("local")
class LocalRule(Rule):
    Options = LocalOptions

    def __init__(self, net: Network, options: LocalOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        self.loss_fn = LOSSES.get(options.loss)

    def active_layers(self, epoch: int, epochs: int) -> list[bool]:
        n = len(self.net.layers)
        if self.options.mode == "together":
            return [True] * n
        current = min(epoch * n // epochs, n - 1)
        return [i == current for i in range(n)]

    @torch.no_grad()
    def compute_updates(self, chunks: Iterable[Tensor], labels: Tensor,
                        active: list[bool]) -> BatchResult:
        net = self.net
        zero_grads(net)
        layers = net.layers
        n = len(layers)
        states = traces = None
        bias_traces = [0.0] * n
        logits_sum: list[Tensor] = []
        loss_sum = [0.0] * n
        counts: list[Tensor] = []
        steps = 0
        for x in chunks:
            k, b = x.shape[:2]
            if states is None:
                states = net.init_states(b)
                traces = [layer.neuron.init_trace((b, *layer.in_shape), x.device) for layer in layers]
                logits_sum = [torch.zeros(b, net.num_classes) for _ in layers]
                counts = [torch.zeros(b) for _ in layers]
                labels_rep = labels.repeat(k)
            elif k * b != labels_rep.shape[0]:
                labels_rep = labels.repeat(k)
            inp = x
            for i, layer in enumerate(layers):
                act, membrane, states[i] = layer.step(inp, states[i])
                flat_act = act.reshape(k * b, *layer.pooled_shape)
                logits = layer.readout_logits(flat_act)
                logits_sum[i] += logits.view(k, b, -1).sum(0)
                counts[i] += act.reshape(k, b, -1).sum(dim=(0, 2))
                loss, err = self.loss_fn(logits, labels_rep)
                loss_sum[i] += float(loss)
                if active[i]:
                    g_act = layer.pool_adjoint(layer.readout_adjoint(err))
                    delta = g_act.view(k, b, *layer.out_shape).mul_(layer.neuron.derivative(membrane))
                    pre, traces[i] = layer.neuron.eligibility(inp, traces[i])
                    layer.weight.grad += layer.weight_grad(
                        pre.reshape(k * b, *layer.in_shape), delta.view(k * b, *layer.out_shape))
                    if layer.bias is not None:
                        pb, bias_traces[i] = layer.neuron.bias_eligibility(k, bias_traces[i])
                        layer.bias.grad += layer.bias_grad(delta, pb)
                inp = act
            steps += k
        scale = 1.0 / (labels.shape[0] * steps)
        for layer in layers:
            for p in layer.parameters():
                p.grad.mul_(scale)
        return BatchResult(logits_sum, [s * scale for s in loss_sum], counts)
