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

Memory: when a chunk of the whole batch would not fit ``memory_budget_mb`` (the trainer sets
it from ``training.memory_budget_mb``), the batch goes through in sub-batches of whole
samples, each in one pass with the chunk unchanged (:mod:`spikelocal.core.memory` says why
this beats a shorter chunk); the sums over samples are the same.
"""
from __future__ import annotations

import itertools
from typing import Iterable, Optional

import torch
from torch import Tensor

from ..core import memory
from ..core.simulate import LayerRecord, SimState, Simulator, Want
from ..core.three_factor import three_factor
from ..core.windows import PieceWindows, run_windows
from ..core.network import Network
from . import RULES
from ..config.rules import LocalOptions
from .base import BatchResult, Rule, zero_grads
from .window_loss import BatchMetrics, scale_grads


@RULES.register("local")
class LocalRule(Rule):
    Options = LocalOptions
    #: MB a chunk's tensors may use (None: no limit); see the module docstring
    memory_budget_mb: Optional[float] = memory.DEFAULT_BUDGET_MB

    def __init__(self, net: Network, options: LocalOptions, seed: int) -> None:
        super().__init__(net, options, seed)
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
        chunks = iter(chunks)
        first = next(chunks, None)
        if first is None:
            raise ValueError("compute_updates got no input chunks")
        batch = labels.shape[0]
        size = memory.sub_batch(self.net.layers, first.shape[0], batch, self.memory_budget_mb)
        if size == batch:  # the whole batch at once, its chunks encoded lazily
            metrics, steps = self._updates(itertools.chain([first], chunks), labels, active)
            scale_grads(self.net, batch, steps)
            return metrics.result(steps)
        # sub-batches of whole samples: the input (small) is held, each part runs in one pass
        x = torch.cat([first, *chunks])
        parts = [self._updates(torch.split(x[:, part], first.shape[0]), labels[part], active)
                 for part in memory.splits(batch, size)]
        steps = parts[0][1]
        scale_grads(self.net, batch, steps)
        scale = 1.0 / (batch * steps)
        return BatchResult([torch.cat([m.logits[i] for m, _ in parts]) for i in range(len(self.net.layers))],
                           [sum(float(m.loss[i]) for m, _ in parts) * scale for i in range(len(self.net.layers))],
                           [torch.cat([m.counts[i] for m, _ in parts]) for i in range(len(self.net.layers))])

    def _updates(self, chunks: Iterable[Tensor], labels: Tensor, active: list[bool]) -> tuple[BatchMetrics, int]:
        """Add the updates of the samples of ``labels`` to the grads (scaled for the whole
        batch at the end); returns their metrics and the number of steps."""
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
        return metrics, state.steps
