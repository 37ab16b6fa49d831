"""GAIT-prop: gradient-adjusted incremental target propagation.

Ahmad, van Gerven & Ambrogioni, "GAIT-prop: a biologically plausible learning rule derived
from backpropagation of error", NeurIPS 2020 (arXiv:2006.06438); the adaptive rescaling of
local errors follows the follow-up, Dalm, Ahmad, Ambrogioni & van Gerven, "Gradient-adjusted
incremental target propagation provides effective credit assignment in deep neural
networks" (arXiv:2102.11598, 2021).

Every layer gets a target that is a small nudge of its forward activity, sent down through
the INVERSE of the forward map, linearised around the forward pass ("gradient-adjusted";
the pre-activation nudge of layer l+1 is f'(a_{l+1}) times its activity nudge)::

    t_L - h_L = -gamma G_L^T e                       e = dloss(z_L, y)/dz_L
    t_l - h_l = W_{l+1}^{-1} [ f'(a_{l+1}) * (t_{l+1} - h_{l+1}) ]
    local loss  1/(2 gamma) ||t_l - h_l(a_l)||^2 ->  delta_l = -(t_l - h_l) / gamma * f'(a_l)
    dW_l = delta_l outer h_{l-1}

The nudge gamma cancels from the update (the targets are linear in it), so it is no option.
``inverse: pinv`` uses the Moore-Penrose inverse of W_{l+1} (its exact inverse for square
invertible layers, as in the paper; least squares otherwise), recomputed every batch;
``inverse: transpose`` uses W^T, which is the inverse when W is orthogonal: then the update
equals backprop exactly (the paper's theorem; ``tests/test_rules_bio.py``). ``orthogonal``
adds the paper's soft orthogonality regulariser lambda/4 ||W W^T - I||^2 (over the smaller
side) to every layer above the first, whose weights carry targets down.
``rescale: true`` (the follow-up's adaptive rescaling) multiplies each hidden layer's
target nudge by ||delta_{l+1}|| / ||W_{l+1}^{-1} delta_{l+1}||, a batch scalar, so that
targets neither vanish nor explode with depth when W_{l+1} is far from orthogonal.
Spiking layers use the time-local form of :mod:`spikelocal.rules.targets`.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..core.network import Network
from . import RULES
from .base import BatchResult
from ..config.rules import GaitPropOptions
from .targets import DeltaRule, Forward, synapse_adjoint




def orthogonality_grad(w: Tensor) -> Tensor:
    """Gradient of 1/4 ||W W^T - I||^2 (rows) or 1/4 ||W^T W - I||^2 (columns), smaller side."""
    if w.shape[0] <= w.shape[1]:
        gram = w @ w.t()
        return (gram - torch.eye(gram.shape[0], device=gram.device)) @ w
    gram = w.t() @ w
    return w @ (gram - torch.eye(gram.shape[0], device=gram.device))


@RULES.register("gait_prop")
class GaitPropRule(DeltaRule):
    """Targets through the (linearised) inverse of each layer; see the module docstring."""

    Options = GaitPropOptions

    def __init__(self, net: Network, options: GaitPropOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        self.inverses: dict[int, Tensor] = {}

    def compute_updates(self, chunks, labels, active) -> BatchResult:
        if self.options.inverse == "pinv":  # weights change once per batch: invert once
            self.inverses = {i: torch.linalg.pinv(layer.weight.detach())
                             for i, layer in enumerate(self.net.layers) if i > 0}
        result = super().compute_updates(chunks, labels, active)
        lam = self.options.orthogonal
        if lam:
            for i, layer in enumerate(self.net.layers):
                if i > 0 and active[i]:
                    layer.weight.grad += lam * orthogonality_grad(layer.weight.detach())
        return result

    def _down(self, i: int, nudge: Tensor) -> Tensor:
        """W_i^{-1} applied to a pre-activation nudge of layer i: [N, out] -> [N, *in_shape]."""
        layer = self.net.layers[i]
        if self.options.inverse == "transpose":
            return synapse_adjoint(layer, nudge)
        return (nudge.reshape(nudge.shape[0], -1) @ self.inverses[i].t()).view(-1, *layer.in_shape)

    def deltas(self, fwd: Forward, lowest: int) -> list[Tensor | None]:
        layers = self.net.layers
        n = len(layers)
        out: list[Tensor | None] = [None] * n
        signal = layers[-1].readout_adjoint(fwd.err)         # (h_L - t_L) / gamma
        for i in range(n - 1, lowest - 1, -1):
            layer = layers[i]
            if i < n - 1:
                below = self._down(i + 1, out[i + 1])          # (h_i - t_i) / gamma
                if self.options.rescale:
                    norm = below.norm()
                    if norm > 0:
                        below = below * (out[i + 1].norm() / norm)
                signal = below
            out[i] = layer.pool_adjoint(signal) * layer.neuron.derivative(fwd.membranes[i])
        return out


__all__ = ["GaitPropRule", "GaitPropOptions", "orthogonality_grad"]
