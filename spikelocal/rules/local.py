"""Learning with local errors: a three-factor rule with a fixed random readout per layer.

Mostafa, Ramesh & Cauwenberghs, "Deep supervised learning using local errors", Front.
Neurosci. 2018 (arXiv:1711.06756); for spiking layers Kaiser, Mostafa & Neftci, "Synaptic
plasticity dynamics for deep continuous local learning (DECOLLE)", Front. Neurosci. 2020.

For layer l with pooled activity r_l(t), fixed random readout G_l and label y::

    e_l(t)     = dLoss(G_l r_l(t), y) / d(G_l r_l)      softmax - onehot for cross-entropy
    delta_l(t) = pool^T(G_l^T e_l(t)) * f'(V_l(t))      modulator x post-synaptic factor
    dW_l       = sum_t delta_l(t) outer P_{l-1}(t)      x pre-synaptic eligibility trace

with P the trace of :mod:`spikelocal.neurons` (the input itself for rate neurons). The loss
is averaged over batch and time.

``window`` says what the readout reads. ``step`` (DECOLLE): a loss at every time step on that
step's spikes. ``chunk`` (default): one loss per chunk of ``training.time_chunk`` steps on the
activity averaged over the chunk (the whole sample when the chunk is T steps), weighted by the
chunk's length; every step of the chunk then shares the chunk's modulator::

    e_l(c)     = dLoss(G_l mean_{t in c} r_l(t), y) / d(G_l r)
    delta_l(t) = pool^T(G_l^T e_l(c)) * f'(V_l(t))          for t in chunk c

The per-step loss also penalises the variance of binary spikes (E[(G s)^2] > (G E[s])^2),
which drives hidden rates down to a few percent; the chunk loss is the loss of spike-count
classification itself. Measured on MNIST (784-500-500-10, T = 25, 2 epochs): 95.6 % with
``chunk`` against 94.7 % with ``step``. Both cost the same: the chunk is in memory anyway. No error crosses a layer (each layer's input is treated as
a constant), no weights are transported, and nothing is kept across time but the traces:
the products over each chunk of K steps are single large matrix multiplications. This equals
the autograd gradient of the layer's local loss with its input detached and the reset
excluded from the gradient (``tests/test_local_rule.py`` checks it).

``mode: layerwise`` trains one layer at a time: epochs are split evenly, layer 1 first.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

from ..losses import LOSSES
from ..network import Network
from . import RULES
from ..config.rules import LocalOptions
from .base import BatchResult, Rule, zero_grads


@RULES.register("local")
class LocalRule(Rule):
    Options = LocalOptions

    def __init__(self, net: Network, options: LocalOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        self.loss_fn = LOSSES.get(options.loss)
        self._workspaces: list[tuple[dict[str, Tensor], dict[str, Tensor]]] = []

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
        chunk_window = self.options.window != "step"
        # per layer, buffers reused from chunk to chunk and batch to batch: every result of a
        # chunk is consumed before the next one starts (memory flat in T, no fresh allocations)
        if len(self._workspaces) != n:
            self._workspaces = [({}, {}) for _ in layers]
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
                act, membrane, states[i] = layer.step(inp, states[i], workspace=self._workspaces[i][0])
                if chunk_window:  # one pass over the chunk: its sum gives counts and mean
                    chunk_sum = act.sum(0)
                    counts[i] += chunk_sum.reshape(b, -1).sum(1)
                    logits = layer.readout_logits(chunk_sum.div_(k))
                    logits_sum[i] += logits * k
                    loss, err = self.loss_fn(logits, labels)
                    loss_sum[i] += float(loss) * k
                else:
                    counts[i] += act.reshape(k, b, -1).sum(dim=(0, 2))
                    logits = layer.readout_logits(act.reshape(k * b, *layer.pooled_shape))
                    logits_sum[i] += logits.view(k, b, -1).sum(0)
                    loss, err = self.loss_fn(logits, labels_rep)
                    loss_sum[i] += float(loss)
                if active[i]:
                    g_act = layer.pool_adjoint(layer.readout_adjoint(err))
                    if chunk_window:  # every step of the chunk shares the chunk's modulator
                        delta = layer.neuron.derivative(membrane, inplace=True).mul_(g_act)
                    else:
                        delta = g_act.view(k, b, *layer.out_shape).mul_(layer.neuron.derivative(membrane, inplace=True))
                    pre, traces[i] = layer.neuron.eligibility(inp, traces[i], self._workspaces[i][1])
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
