"""Predictive coding: weight updates from the equilibrium of an energy-based network.

Whittington & Bogacz, "An approximation of the error backpropagation algorithm in a
predictive coding network with local Hebbian synaptic plasticity", Neural Comput. 2017;
Millidge, Tschantz & Buckley, "Predictive coding approximates backprop along arbitrary
computation graphs", Neural Comput. 2022 (the output loss as the top energy term).

Value nodes x_l sit on the pre-activations of the hidden layers (x_0 = the input, clamped);
each layer predicts the next, mu_l = W_l phi(x_{l-1}) + b_l with phi = pool(f(.)) (the
input itself below layer 1), and the output is not clamped but scored by the loss::

    F     = sum_{l<L} 1/2 ||x_l - mu_l||^2 + gamma loss(G_L f(mu_L), y)
    eps_l = x_l - mu_l  (hidden),          eps_L = -gamma dloss/dmu_L
    inference, x_l = a_l at the start (all hidden eps = 0), for k = 1..iterations:
        x_l <- x_l - step * (eps_l - phi'(x_l) * W_{l+1}^T eps_{l+1})
    a step that raises rms(dF/dx) is undone and the step halved for the rest of the batch
    (the relaxation is gradient descent on F, stable only for step < 2 / curvature of F, and
    the curvature grows with ||W||^2: with a fixed step, spiking nets at a constant learning
    rate diverged in epoch 2 once ||W_1||, ||W_2|| passed about 25, the energy went to inf
    and accuracy fell from 90 % to 34-74 %)
    stop early when rms(dF/dx) <= tolerance * its value before the first step (a criterion
    relative to rms(eps_L) stopped spiking nets before the first step: their feedback
    through W carries the LIF init factor theta (1-alpha)(1-beta) ~ 0.017, so dF/dx starts
    at ~1e-3 rms(eps_L), the nets never left silence and stayed at chance)
    dW_l  = -eps_l / gamma  outer  phi(x_{l-1})          (descent direction of F / gamma)

At the equilibrium and for small gamma, -eps_l / gamma tends to the backprop error dL/da_l
(Whittington & Bogacz; ``tests/test_rules_bio.py`` checks it), and every quantity is local:
a prediction error and the activity of the pre-synaptic neuron. The relaxation is linear in
the number of iterations; ``iterations_used`` counts them per batch and the trainer logs
their mean per epoch (``pc_iterations`` in metrics.csv, :mod:`spikelocal.predictive_coding_hook`).
Spiking layers relax the time-local linearisation phi(x_l) = h_l + pool(f'(V_l) (x_l - V_l))
at every step (f' the surrogate) and use the eligibility trace as pre-synaptic factor.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..core.layers import Layer
from ..core.network import Network
from . import RULES
from ..config.rules import PredictiveCodingOptions
from .targets import DeltaRule, Forward, synapse_adjoint




@RULES.register("predictive_coding")
class PredictiveCodingRule(DeltaRule):
    """Inference to equilibrium, then local updates; see the module docstring."""

    Options = PredictiveCodingOptions

    def __init__(self, net: Network, options: PredictiveCodingOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        self._pre: dict[int, Tensor] = {}
        #: inference iterations of every chunk since the last :meth:`pop_iterations`
        self.iterations_used: list[int] = []

    def pop_iterations(self) -> list[int]:
        used, self.iterations_used = self.iterations_used, []
        return used

    def presynaptic(self, i: int) -> Tensor | None:
        return self._pre.get(i)

    # phi(x) and phi'(x) of layer i: exact for rate neurons, linearised for spiking ones
    def _phi(self, layer: Layer, x: Tensor, membrane: Tensor, act: Tensor) -> Tensor:
        if layer.neuron.spiking:
            return act + layer.pool(layer.neuron.derivative(membrane) * (x - membrane))
        return layer.pool(layer.neuron.run(x.unsqueeze(0), (), None)[0][0])

    def _dphi(self, layer: Layer, x: Tensor, membrane: Tensor) -> Tensor:
        return layer.neuron.derivative(membrane if layer.neuron.spiking else x)

    def _mu(self, l: int, below: Tensor, fwd: Forward) -> Tensor:
        """Prediction of layer l from phi(x_{l-1}); for spiking layers the forward membrane
        plus the (time-local) change of its input, so that mu = V at the forward pass."""
        layer = self.net.layers[l]
        if layer.neuron.spiking:
            return fwd.membranes[l] + layer.synapse(below - fwd.acts[l - 1])
        mu = layer.synapse(below)
        if layer.bias is not None:
            mu = mu + (layer.bias.view(-1, 1, 1) if mu.dim() == 4 else layer.bias)
        return mu

    def deltas(self, fwd: Forward, lowest: int) -> list[Tensor | None]:
        opts = self.options
        layers = self.net.layers
        n = len(layers)
        out_layer = layers[-1]
        x = [m.clone() for m in fwd.membranes[:-1]]          # hidden value nodes
        mu0 = fwd.membranes[0]
        steps = 0
        rms_first = 0.0
        step = opts.step
        last_good = None   # (x, phis, eps, rms) of the last point that lowered rms(dF/dx)
        while True:
            phis = [self._phi(layers[l], x[l], fwd.membranes[l], fwd.acts[l]) for l in range(n - 1)]
            eps = [x[l] - (mu0 if l == 0 else self._mu(l, phis[l - 1], fwd)) for l in range(n - 1)]
            mu_out = self._mu(n - 1, phis[-1], fwd) if n > 1 else fwd.membranes[0]
            z_act = self._phi(out_layer, mu_out, fwd.membranes[-1], fwd.acts[-1])
            _, err = self.loss_fn(out_layer.readout_logits(z_act), fwd.labels)
            eps_out = -opts.gamma * out_layer.pool_adjoint(out_layer.readout_adjoint(err)) \
                * self._dphi(out_layer, mu_out, fwd.membranes[-1])
            eps.append(eps_out)
            grads = [eps[l] - self._dphi(layers[l], x[l], fwd.membranes[l])
                     * layers[l].pool_adjoint(synapse_adjoint(layers[l + 1], eps[l + 1]))
                     for l in range(n - 1)]
            if n == 1:
                break
            size = sum(g.numel() for g in grads)
            rms = (sum(float(g.square().sum()) for g in grads) / size) ** 0.5
            if last_good is not None and not rms <= last_good[3]:
                # the step overshot (step > 2 / curvature of F, which grows with ||W||^2 as
                # training goes on): back to the last good point with half the step
                x, phis, eps, rms = [v.clone() for v in last_good[0]], last_good[1], last_good[2], last_good[3]
                grads = last_good[4]
                step *= 0.5
            if steps == opts.iterations:
                break
            if steps == 0:
                rms_first = rms
            if rms <= opts.tolerance * rms_first:
                break
            last_good = ([v.clone() for v in x], phis, eps, rms, grads)
            for l in range(n - 1):
                x[l] -= step * grads[l]
            steps += 1
        self.iterations_used.append(steps)
        self._pre = {} if self.net.spiking else {
            l: (phis[l - 1] if l > 0 else fwd.inputs[0].reshape(-1, *layers[0].in_shape)) for l in range(n)}
        return [None if l < lowest else eps[l] / -opts.gamma for l in range(n)]


__all__ = ["PredictiveCodingRule", "PredictiveCodingOptions"]
