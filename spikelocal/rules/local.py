"""Learning with local errors: a three-factor rule with a fixed random readout per layer.

Mostafa, Ramesh & Cauwenberghs, "Deep supervised learning using local errors", Front.
Neurosci. 2018 (arXiv:1711.06756); for spiking layers Kaiser, Mostafa & Neftci, "Synaptic
plasticity dynamics for deep continuous local learning (DECOLLE)", Front. Neurosci. 2020.

For layer l with pooled activity r_l(t), fixed random readout G_l and label y::

    e_l(t)     = dLoss(G_l r_l(t), y) / d(G_l r_l)      softmax - onehot for cross-entropy
    delta_l(t) = pool^T(G_l^T e_l(t)) * f'(V_l(t))      modulator x post-synaptic factor
    dW_l       = sum_t delta_l(t) outer P_{l-1}(t)      x pre-synaptic eligibility trace

with P the trace of :mod:`spikelocal.core.neurons` (the input itself for rate neurons). The loss
is averaged over batch and time.

``window`` says what the readout reads. ``step`` (DECOLLE): a loss at every time step on that
step's spikes. ``sample`` (default): one loss on the activity averaged over the whole sample;
``N``: one loss per window of N steps, weighted by its length. Every step of a window shares
the window's modulator::

    e_l(w)     = dLoss(G_l mean_{t in w} r_l(t), y) / d(G_l r)
    delta_l(t) = pool^T(G_l^T e_l(w)) * f'(V_l(t))          for t in window w

The per-step loss also penalises the variance of binary spikes (E[(G s)^2] > (G E[s])^2),
which drives hidden rates down to a few percent; the sample loss is the loss of spike-count
classification itself. Measured on MNIST (784-500-500-10, T = 25, 2 epochs): 95.6 % with
``sample`` against 94.7 % with ``step``. The window is maths; ``training.time_chunk`` (how many
steps share one batched product) is memory and never changes the update
(:mod:`spikelocal.core.windows`). No error crosses a layer (each layer's input is treated as
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

from ..core.simulate import LayerRecord, SimState, Simulator, Want
from ..core.three_factor import three_factor
from ..core.windows import PieceWindows, run_windows
from ..losses import LOSSES
from ..core.network import Network
from . import RULES
from ..config.rules import LocalOptions
from .base import BatchResult, Rule, zero_grads
from .window_loss import BatchMetrics, scale_grads


@RULES.register("local")
class LocalRule(Rule):
    Options = LocalOptions

    def __init__(self, net: Network, options: LocalOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        self.loss_fn = LOSSES.get(options.loss)
        # records of a chunk are consumed before the next one starts: buffers are reused
        # from chunk to chunk and batch to batch (memory flat in T, no fresh allocations)
        self.simulator = Simulator(net.layers, Want(derivative=True, trace=True, reuse_buffers=True))

    def active_layers(self, epoch: int, epochs: int) -> list[bool]:
        n = len(self.net.layers)
        if self.options.mode == "together":
            return [True] * n
        current = min(epoch * n // epochs, n - 1)
        return [i == current for i in range(n)]

    @torch.no_grad()
    def compute_updates(self, chunks: Iterable[Tensor], labels: Tensor,
                        active: list[bool]) -> BatchResult:
        zero_grads(self.net)
        metrics = BatchMetrics(self.net, labels, self.loss_fn, self.score_from)

        def update(records: list[LayerRecord], windows: PieceWindows, state: SimState) -> None:
            for i, rec in enumerate(records):
                err = metrics.record(i, rec.layer, windows)
                if active[i]:
                    layer = rec.layer
                    modulator = layer.pool_adjoint(layer.readout_adjoint(err))
                    three_factor(rec, modulator.view(-1, labels.shape[0], *layer.out_shape))

        state = run_windows(self.simulator, chunks, self.options.window, update)
        if state is None:
            raise ValueError("compute_updates got no input chunks")
        scale_grads(self.net, labels.shape[0], state.steps)
        return metrics.result(state.steps)
