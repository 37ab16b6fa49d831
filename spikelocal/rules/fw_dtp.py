"""Fixed-weight difference target propagation (FW-DTP).

Shibuya, Inoue, Kawakami & Sato, "Fixed-weight difference target propagation", AAAI 2023;
difference target propagation itself: Lee, Zhang, Fischer & Bengio,
"Difference target propagation", ECML-PKDD 2015.

Targets go down through fixed random feedback functions g_{l+1}(v) = phi(B_{l+1} v), with
B_{l+1} [size of h_l x size of h_{l+1}] drawn once and never trained (no inverse is learnt,
unlike DTP), and the difference correction of DTP::

    t_L     = h_L - beta G_L^T e                    e = dloss(z_L, y)/dz_L
    t_l     = h_l + g_{l+1}(t_{l+1}) - g_{l+1}(h_{l+1})
    local loss 1/(2 beta) ||h_l(a_l) - t_l||^2 ->  delta_l = (h_l - t_l) / beta * f'(a_l)
    dW_l    = delta_l outer h_{l-1}

(the 1/beta keeps the update's scale independent of the target step beta; for small beta
and a linear phi the hidden signal is B_{l+1}(h_{l+1} - t_{l+1}) / beta: the activity
error of the layer above, not its delta as in feedback alignment). ``feedback_activation``
is phi (tanh in the paper's experiments); B entries are U(-1, 1) * feedback_scale /
sqrt(size of h_{l+1}), drawn from the run seed and stored in checkpoints. Spiking layers
use the time-local form of :mod:`spikelocal.rules.targets` (h = the step's spikes).
"""
from __future__ import annotations

import math
import torch
from torch import Tensor

from ..core.network import Network
from . import RULES
from .. import seeds
from ..config.rules import FWDTPOptions
from .targets import DeltaRule, Forward


_PHI = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "linear": lambda v: v}




@RULES.register("fw_dtp")
class FWDTPRule(DeltaRule):
    """Difference targets through fixed random feedback; see the module docstring."""

    Options = FWDTPOptions

    def __init__(self, net: Network, options: FWDTPOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        gen = torch.Generator().manual_seed(seed + seeds.FW_DTP_FEEDBACK)
        self.phi = _PHI[options.feedback_activation]
        self.feedback: dict[int, Tensor] = {}
        for i, layer in enumerate(net.layers):
            if i == 0:
                continue
            rows, cols = math.prod(layer.in_shape), math.prod(layer.pooled_shape)
            bound = options.feedback_scale / math.sqrt(cols)
            self.feedback[i] = ((torch.rand((rows, cols), generator=gen) * 2 - 1) * bound).to(layer.weight.device)

    def g(self, i: int, v: Tensor) -> Tensor:
        """Feedback function of layer i: its activity [N, ...] -> layer i-1's [N, size]."""
        return self.phi(v.reshape(v.shape[0], -1) @ self.feedback[i].t())

    def deltas(self, fwd: Forward, lowest: int) -> list[Tensor | None]:
        layers = self.net.layers
        n = len(layers)
        beta = self.options.beta
        out: list[Tensor | None] = [None] * n
        signal = layers[-1].readout_adjoint(fwd.err)            # (h_L - t_L) / beta
        for i in range(n - 1, lowest - 1, -1):
            layer = layers[i]
            if i < n - 1:
                h_up = fwd.acts[i + 1]
                t_up = h_up - beta * signal
                signal = ((self.g(i + 1, h_up) - self.g(i + 1, t_up)) / beta).view(-1, *layer.pooled_shape)
            out[i] = layer.pool_adjoint(signal) * layer.neuron.derivative(fwd.membranes[i])
        return out

    def state_tensors(self) -> dict[str, Tensor]:
        return {f"feedback.{i}": b for i, b in self.feedback.items()}


__all__ = ["FWDTPRule", "FWDTPOptions"]
