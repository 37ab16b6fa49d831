"""The shared loop of the rules that send a signal down the network after a forward pass
(``gait_prop``, ``fw_dtp``, ``predictive_coding``): each computes, per time step, a local
error ``delta_l`` at the pre-activation (membrane) of every layer from the forward pass
alone; the update is then the same three-factor product as in :mod:`spikelocal.rules.local`::

    dW_l = 1/(B T) sum_t delta_l(t) outer P_{l-1}(t)      db_l = 1/(B T) sum_t delta_l(t) pb(t)

with P the pre-synaptic eligibility trace of :mod:`spikelocal.core.neurons` (the layer input
for rate neurons). For a rate network (T = 1) this is the rule of each paper; for spiking
networks the signal crosses layers within a time step only, as in
:mod:`spikelocal.rules.feedback` (time-local, no BPTT).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import Tensor

from ..core.layers import Layer
from ..core.simulate import LayerRecord, SimState, Simulator, Want
from ..core.three_factor import accumulate
from ..core.windows import PieceWindows, run_windows
from ..core.network import Network
from .base import BatchResult, Rule, zero_grads
from .bp import OutputLossOptions
from .window_loss import BatchMetrics, per_step, scale_grads


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
        self.simulator = Simulator(net.layers, Want(membrane=True, trace=True))

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
        n = len(net.layers)
        lowest = active.index(True) if any(active) else n
        metrics = BatchMetrics(net, labels, self.loss_fn, self.score_from)

        def update(records: list[LayerRecord], windows: PieceWindows, state: SimState) -> None:
            err = None
            for i, rec in enumerate(records):
                err = metrics.record(i, rec.layer, windows)
            k, b = records[0].output.shape[:2]
            fwd = Forward([rec.input for rec in records],
                          [rec.pooled.reshape(k * b, *rec.layer.pooled_shape) for rec in records],
                          [rec.membrane.reshape(k * b, *rec.layer.out_shape) for rec in records],
                          per_step(err, k, windows.group_len), labels.repeat(k))
            deltas = self.deltas(fwd, lowest)
            for i, rec in enumerate(records):
                if active[i] and deltas[i] is not None:
                    accumulate(rec, deltas[i].view(k, b, *rec.layer.out_shape), self.presynaptic(i))

        state = run_windows(self.simulator, chunks, self.options.window, update)
        if state is None:
            raise ValueError("compute_updates got no input chunks")
        scale_grads(net, labels.shape[0], state.steps)
        return metrics.result(state.steps)


__all__ = ["DeltaRule", "Forward", "synapse_adjoint"]
