"""Backpropagation baseline: backprop for rate networks, BPTT with the surrogate for spiking.

Rumelhart, Hinton & Williams 1986; for spiking networks Neftci, Mostafa & Zenke,
"Surrogate gradient learning in spiking neural networks", IEEE SPM 2019 (the same
surrogate derivative as the local rule, :mod:`spikelocal.neurons`).

The loss every non-local rule minimises is the OUTPUT layer's loss, exactly the loss of the
local rule's output layer with the same ``window`` (:mod:`spikelocal.rules.local`): the
closed-form loss of :mod:`spikelocal.losses` on ``readout_logits`` of the last layer,
averaged over batch and time. ``window: chunk`` (the default, as for ``local``) scores the
activity averaged over each chunk of K steps, weighted by K; ``window: step`` scores every
time step (DECOLLE's and snnTorch's per-step loss)::

    chunk: L = 1/(B T) sum_{c,b} K_c loss(G_L mean_{t in c} r_L(t), y)
    step:  L = 1/(B T) sum_{t,b} loss(G_L r_L(t), y)

For a rate network (T = 1) both are the same loss. Because the readout is linear, the error
of the chunk loss at every step of the chunk is the chunk's error e(c), so every rule below
sees a per-step error either way (:meth:`BatchMetrics.record`).

``bp`` differentiates L with autograd through the whole sequence (``layer.step(...,
differentiable=True)``; the graph spans all chunks, so memory grows with T, which is the
nature of BPTT). The reset is excluded from the gradient, as in the local rule. The fixed
readouts of the hidden layers are not trained by this rule; their accuracies are still
logged as probes of what each layer represents.
"""
from __future__ import annotations

from typing import Iterable, Literal

import torch
from torch import Tensor

from ..layers import Layer
from ..losses import LOSSES, LossFn
from ..network import Network
from . import RULES
from ..config.rules import BPOptions, OutputLossOptions  # noqa: F401  (OutputLossOptions: for targets)
from .base import BatchResult, Rule, zero_grads

Window = Literal["chunk", "step"]


class BatchMetrics:
    """Per-layer readout scores, losses and spike counts of one batch (what the trainer logs)."""

    def __init__(self, net: Network, batch: int, loss_fn: LossFn, window: Window) -> None:
        n = len(net.layers)
        self.loss_fn = loss_fn
        self.window = window
        self.batch = batch
        self.logits = [torch.zeros(batch, net.num_classes) for _ in range(n)]
        self.loss = [0.0] * n
        self.counts = [torch.zeros(batch) for _ in range(n)]
        self.steps = 0

    def record(self, i: int, layer: Layer, act: Tensor, labels_rep: Tensor) -> Tensor:
        """Add layer i's K steps of activity [K, B, ...]; return its readout error [K*B, C].

        With ``window == "chunk"`` the error is the chunk loss's error, the same at each of
        the K steps (rows repeat with the step, as ``labels_rep`` does)."""
        act = act.detach()
        k, b = act.shape[:2]
        self.counts[i] += act.reshape(k, b, -1).sum(dim=(0, 2))
        if self.window != "step":
            logits = layer.readout_logits(act.mean(0).reshape(b, *layer.pooled_shape))
            self.logits[i] += logits * k
            loss, err = self.loss_fn(logits, labels_rep[:b])
            self.loss[i] += float(loss) * k
            return err.repeat(k, 1)
        logits = layer.readout_logits(act.reshape(k * b, *layer.pooled_shape))
        self.logits[i] += logits.view(k, b, -1).sum(0)
        loss, err = self.loss_fn(logits, labels_rep)
        self.loss[i] += float(loss)
        return err

    def result(self) -> BatchResult:
        scale = 1.0 / (self.batch * self.steps)
        return BatchResult(self.logits, [s * scale for s in self.loss], self.counts)


@RULES.register("bp")
class BPRule(Rule):
    """Exact gradient (with the surrogate) of the output loss, by autograd through time."""

    Options = BPOptions

    def __init__(self, net: Network, options: BPOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        self.loss_fn = LOSSES.get(options.loss)

    def compute_updates(self, chunks: Iterable[Tensor], labels: Tensor,
                        active: list[bool]) -> BatchResult:
        net = self.net
        zero_grads(net)
        layers = net.layers
        metrics: BatchMetrics | None = None
        states = None
        total: Tensor | float = 0.0
        with torch.enable_grad():
            for x in chunks:
                k, b = x.shape[:2]
                if states is None:
                    states = net.init_states(b)
                    metrics = BatchMetrics(net, b, self.loss_fn, self.options.window)
                labels_rep = labels.repeat(k)
                inp = x
                for i, layer in enumerate(layers):
                    act, _, states[i] = layer.step(inp, states[i], differentiable=True)
                    err = metrics.record(i, layer, act, labels_rep)
                    inp = act
                logits = layers[-1].readout_logits(inp.reshape(k * b, *layers[-1].pooled_shape))
                # d/dlogits of this sum is the closed-form error: the loss of losses.py
                total = total + (logits * err).sum()
                metrics.steps += k
            if metrics is None:
                raise ValueError("compute_updates got no input chunks")
            params = [p for layer, on in zip(layers, active) if on for p in layer.parameters()]
            grads = torch.autograd.grad(total, params, allow_unused=True) if params else ()
        scale = 1.0 / (labels.shape[0] * metrics.steps)
        for p, g in zip(params, grads):
            if g is not None:
                p.grad.copy_(g).mul_(scale)
        return metrics.result()
