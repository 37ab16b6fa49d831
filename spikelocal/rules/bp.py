"""Backpropagation baseline: backprop for rate networks, BPTT with the surrogate for spiking.

Rumelhart, Hinton & Williams 1986; for spiking networks Neftci, Mostafa & Zenke,
"Surrogate gradient learning in spiking neural networks", IEEE SPM 2019 (the same
surrogate derivative as the local rule, :mod:`spikelocal.core.neurons`).

The loss every non-local rule minimises is the OUTPUT layer's loss, exactly the loss of the
local rule's output layer with the same ``window`` (:mod:`spikelocal.rules.local`): the
closed-form loss of :mod:`spikelocal.losses` on ``readout_logits`` of the last layer,
averaged over batch and time. ``window: sample`` (the default, as for ``local``) scores the
activity averaged over the whole sample, ``window: N`` over each window w of N steps
(weighted by its length), ``window: step`` every time step (DECOLLE's and snnTorch's
per-step loss); the windows never depend on ``training.time_chunk``::

    windows: L = 1/(B T) sum_{w,b} |w| loss(G_L mean_{t in w} r_L(t), y)
    step:    L = 1/(B T) sum_{t,b} loss(G_L r_L(t), y)

For a rate network (T = 1) both are the same loss. Because the readout is linear, the error
of a window's loss at every step of the window is the window's error e(w), so every rule
below sees a per-step error either way (:mod:`spikelocal.rules.window_loss`).

``bp`` differentiates L with autograd through the whole sequence (the core's simulator with
``Want(differentiable=True)``; the graph spans all chunks, so memory grows with T, which is
the nature of BPTT). ``truncate: true`` (truncated BPTT) differentiates each chunk's loss
through that chunk only and detaches the state carried into the next one, so memory follows
``training.time_chunk``, not T. The reset is excluded from the gradient, as in the local rule. The fixed
readouts of the hidden layers are not trained by this rule; their accuracies are still
logged as probes of what each layer represents.
"""
from __future__ import annotations

from typing import Iterable, Optional

import torch
from torch import Tensor

from ..core.simulate import LayerRecord, SimState, Simulator, Want
from ..core.windows import PieceWindows, run_windows
from ..core.network import Network
from . import RULES
from ..config.rules import BPOptions, OutputLossOptions  # noqa: F401  (OutputLossOptions: for the other rules)
from .base import BatchResult, Rule, zero_grads
from .window_loss import BatchMetrics, per_step



@RULES.register("bp")
class BPRule(Rule):
    """Exact gradient (with the surrogate) of the output loss, by autograd through time."""

    Options = BPOptions

    def __init__(self, net: Network, options: BPOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        self.simulator = Simulator(net.layers, Want(differentiable=True))

    def compute_updates(self, chunks: Iterable[Tensor], labels: Tensor,
                        active: list[bool]) -> BatchResult:
        net = self.net
        zero_grads(net)
        metrics = BatchMetrics(net, labels, self.loss_fn, self.score_from)
        terms: list[Tensor] = []

        def forward(records: list[LayerRecord], windows: PieceWindows, state: SimState) -> None:
            err = None
            for i, rec in enumerate(records):
                err = metrics.record(i, rec.layer, windows)
            out = records[-1]
            k, b = out.pooled.shape[:2]
            logits = out.layer.readout_logits(out.pooled.reshape(k * b, *out.layer.pooled_shape))
            # d/dlogits of this sum is the closed-form error: the loss of losses.py
            terms.append((logits * per_step(err, k, windows.group_len)).sum())
            if self.options.truncate:   # backward through this piece only, then cut the graph
                add(terms.pop())
                state.neurons = [tuple(t.detach() for t in s) for s in state.neurons]

        params = [p for layer, on in zip(net.layers, active) if on for p in layer.parameters()]
        sums: list[Optional[Tensor]] = [None] * len(params)

        def add(total: Tensor) -> None:
            if not params or not total.requires_grad:
                return
            for j, g in enumerate(torch.autograd.grad(total, params, allow_unused=True)):
                if g is not None:
                    sums[j] = g if sums[j] is None else sums[j] + g

        with torch.enable_grad():
            state = run_windows(self.simulator, chunks, self.options.window, forward)
            if state is None:
                raise ValueError("compute_updates got no input chunks")
            if terms:
                add(torch.stack(terms).sum())
        scale = 1.0 / (labels.shape[0] * state.steps)
        for p, g in zip(params, sums):
            if g is not None:
                p.grad.copy_(g).mul_(scale)
        return metrics.result(state.steps)
