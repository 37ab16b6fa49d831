"""SoftHebb: unsupervised soft winner-take-all Hebbian layers under a trained classifier.

Moraitis, Toichkin, Journé, Chua & Guo, "SoftHebb: Bayesian inference in unsupervised
Hebbian soft winner-take-all networks", Neuromorph. Comput. Eng. 2022; Journé, Rodriguez,
Guo & Moraitis, "Hebbian deep learning without feedback", ICLR 2023 (anti-Hebbian
non-winners, weight-norm-dependent learning rate).

Every hidden layer (dense, or conv with one soft-WTA over the channels at each position)
learns from its input x alone, with no error and no feedback::

    u = W x                   y_k = softmax_k(u / temperature)
    anti-Hebbian:  yhat_k = y_k for the winner k = argmax u, -y_k for every other neuron
    dw_k = eta_k yhat_k (x - u_k w_k)           eta_k = lr |(||w_k|| - 1)|^(1/2)

averaged over the batch and, for conv layers, over positions (x a kk-patch). The update
drives ||w_k|| to 1, where the adaptive eta_k vanishes. The hidden layers learn during the
first ``unsupervised_epochs`` epochs and are frozen afterwards; the update is applied by
the rule itself (Adam would rescale each synapse and move the rule's fixed point), their
``grad`` stays zero. With a bias, a layer's threshold adapts to its mean drive
(b_k <- (1 - rho) b_k - rho mean(u_k), ``threshold_rate`` rho): a homeostatic threshold
that makes relu(u + b) fire for inputs that match w_k better than usual (in place of the
paper's triangle activation relu(u_k - mean_j u_j)). The last layer is a classifier trained
on its own output loss in every epoch through the optimiser: ``classifier: local``, the
three-factor rule of :mod:`spikelocal.rules.local` on the last layer only, or ``sgd``, its
exact gradient by autograd (BPTT through that one layer for spiking nets; the same update
for rate nets). Spiking networks: x is the mean input per step over the T steps of a sample
(rates) and u = W x is scaled to rate units by the LIF DC gain over the threshold (the
factor of the layer's init), so that the Hebbian update is one per sample as for a rate
network and ||w|| -> 1 means the same drive for any time constants. ``norm`` R (default
1) rescales the whole rule to the fixed point ||w_k|| = R (the update is that of w / R).
A spiking layer's threshold cannot follow its mean drive as the rate layer's does: the
drive of a layer whose input fires at a few percent is far below the LIF threshold, and
such a layer stays silent (the defect this replaced: two Hebbian LIF layers, the second
silent). Its bias instead holds a firing rate (intrinsic plasticity):
b_k <- b_k + rho (r* - r_k) / r* theta (1 - beta), r_k neuron (or channel) k's spikes per
step over the batch, r* = ``target_rate``; theta (1 - beta) is the bias that alone holds V
at the threshold. Spiking Hebbian layers therefore get a bias: an unset ``bias`` is turned
on when the experiment loads (so the saved config.yaml says so), ``bias: false`` is an
error. A short unsupervised phase needs a large rho (0.5 for 16 batches). Why r* = 0.05 by
default: at T = 10 a rate of 0.1 is one spike per neuron and sample, which the bias alone
produces, so every neuron fired once whatever the input (a linear probe of the counts of a
784-200 LIF layer: 28 %) and a linear classifier on them reached 18 %; at 0.05 (half a
spike) only the neurons that the input drives fire: 82.6 % (20 % of MNIST, 2 epochs),
86.9 % on all of it in 3 epochs (docs/results/index.md).

Defaults on the quickstart network (LIF 784-200-10, T = 10, one epoch): 30 % at temperature
1, a near-uniform soft WTA over 200 neurons; 70 % at ``temperature: 0.05``, the same as the
layer frozen at its init (69.8 %), and 75 % with a classifier lr of 5e-3. The unsupervised
layer adds nothing there, so one epoch cannot reach 80 %: use the local rule when accuracy
matters (docs/results/claims/softhebb.md, with the paper-setting comparison).
"""
from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import Tensor

from ..core.layers import Layer
from ..core.simulate import LayerRecord, SimState, Simulator, Want
from ..core.three_factor import three_factor
from ..core.windows import PieceWindows, run_windows
from ..core.network import Network
from . import RULES
from .base import BatchResult, Rule, zero_grads
from ..config.rules import SoftHebbOptions
from .window_loss import BatchMetrics, per_step


def drive_gain(layer: Layer) -> float:
    """Factor from a layer's weights to rate units: 1 for rate neurons; for LIF neurons the DC
    gain over the threshold, 1 / (theta (1 - alpha)(1 - beta)), the same factor by which
    :class:`~spikelocal.core.layers.Layer` scales their init, so that ||w_k|| -> 1 in rate units."""
    neuron = layer.neuron
    return 1.0 / neuron.threshold_current if neuron.spiking else 1.0


def hebbian_update(layer: Layer, x: Tensor, temperature: float, anti_hebbian: bool,
                   gain: float = 1.0) -> tuple[Tensor, Tensor]:
    """(dW without eta, u), both in rate units (w = gain W), for inputs x [B, *in_shape]."""
    w = layer.weight.detach() * gain
    u = layer.synapse(x) * gain                             # [B, out] or [B, C, H, W]
    y = torch.softmax(u / temperature, dim=1)
    if anti_hebbian:
        winner = torch.zeros_like(y).scatter_(1, u.argmax(dim=1, keepdim=True), 1.0)
        y = torch.where(winner > 0, y, -y)
    count = u.numel() // u.shape[1]                         # samples x positions
    decay = (y * u).transpose(0, 1).reshape(u.shape[1], -1).sum(1)
    dw = layer.weight_grad(x, y) - decay.view(-1, *([1] * (w.dim() - 1))) * w
    return dw / count, u


def adaptive_rate(w: Tensor, lr: float) -> Tensor:
    """eta_k = lr |(||w_k|| - 1)|^(1/2), shaped to broadcast over w."""
    norms = w.reshape(w.shape[0], -1).norm(dim=1)
    return (lr * (norms - 1).abs().sqrt()).view(-1, *([1] * (w.dim() - 1)))


@RULES.register("softhebb")
class SoftHebbRule(Rule):
    """Hebbian soft-WTA hidden layers, a supervised classifier on top."""

    Options = SoftHebbOptions

    def __init__(self, net: Network, options: SoftHebbOptions, seed: int) -> None:
        super().__init__(net, options, seed)
        # hidden layers only run forward; the classifier on top records what its rule needs
        last = Want(differentiable=True) if options.classifier == "sgd" else Want(derivative=True, trace=True)
        self.simulator = Simulator(net.layers, [Want()] * (len(net.layers) - 1) + [last])

    def active_layers(self, epoch: int, epochs: int) -> list[bool]:
        n = len(self.net.layers)
        return [i == n - 1 or epoch < self.options.unsupervised_epochs for i in range(n)]

    def compute_updates(self, chunks: Iterable[Tensor], labels: Tensor,
                        active: list[bool]) -> BatchResult:
        opts = self.options
        net = self.net
        zero_grads(net)
        n = len(net.layers)
        out = net.layers[-1]
        sgd = opts.classifier == "sgd"
        metrics = BatchMetrics(net, labels, self.loss_fn, self.score_from)
        rate_sums: list[Tensor | float] = [0.0] * n
        out_sums: list[Tensor | float] = [0.0] * n
        terms: list[Tensor] = []

        def update(records: list[LayerRecord], windows: PieceWindows, state: SimState) -> None:
            err = None
            for i, rec in enumerate(records):
                err = metrics.record(i, rec.layer, windows)
                if i < n - 1 and active[i]:
                    rate_sums[i] = rate_sums[i] + rec.input.sum(0)
                    if rec.layer.neuron.spiking:
                        out_sums[i] = out_sums[i] + rec.pooled.sum(0)
            last = records[-1]
            k, b = last.pooled.shape[:2]
            if sgd:
                logits = out.readout_logits(last.pooled.reshape(k * b, *out.pooled_shape))
                terms.append((logits * per_step(err, k, windows.group_len)).sum())  # d/dlogits = err
            elif active[-1]:
                modulator = out.pool_adjoint(out.readout_adjoint(err))
                three_factor(last, modulator.view(-1, b, *out.out_shape))

        with torch.no_grad():
            if sgd:
                with torch.enable_grad():
                    state = run_windows(self.simulator, chunks, opts.window, update)
            else:
                state = run_windows(self.simulator, chunks, opts.window, update)
        if state is None:
            raise ValueError("compute_updates got no input chunks")
        if sgd and active[-1]:
            params = list(out.parameters())
            grads = torch.autograd.grad(torch.stack(terms).sum(), params)
            for p, g in zip(params, grads):
                p.grad.copy_(g)
        scale = 1.0 / (labels.shape[0] * state.steps)
        for p in out.parameters():
            p.grad.mul_(scale)
        with torch.no_grad():
            for i, layer in enumerate(net.layers[:-1]):
                if active[i]:
                    self._learn(layer, rate_sums[i] / state.steps, out_sums[i], state.steps)
        return metrics.result(state.steps)

    def _learn(self, layer: Layer, x: Tensor, out_sum: Tensor | float, steps: int) -> None:
        opts = self.options
        gain = drive_gain(layer) / opts.norm
        dw, u = hebbian_update(layer, x, opts.temperature, opts.anti_hebbian, gain)
        w = layer.weight
        eta = adaptive_rate(w.detach() * gain, opts.lr) if opts.adaptive_lr else opts.lr
        w.add_(eta * dw / gain)
        if layer.bias is None or opts.threshold_rate == 0:
            return
        if layer.neuron.spiking:
            layer.bias.add_(spiking_threshold_step(layer, out_sum, steps, opts))
        else:
            mean_u = u.transpose(0, 1).reshape(u.shape[1], -1).mean(1) / gain
            layer.bias.mul_(1 - opts.threshold_rate).sub_(opts.threshold_rate * mean_u)


def spiking_threshold_step(layer: Layer, out_sum: Tensor, steps: int, opts: SoftHebbOptions) -> Tensor:
    """Bias change of a spiking Hebbian layer: rho (r* - r_k) / r* theta (1 - beta).

    r_k is neuron (conv: channel) k's firing rate per step over the batch, ``out_sum`` the
    layer's pooled spikes [B, *pooled_shape] summed over ``steps`` steps (sum pooling keeps
    the count). theta (1 - beta) is the bias that alone holds V at the threshold, so a silent
    layer gets there within 1 / rho batches."""
    neurons_per_channel = out_sum.shape[0] * math.prod(layer.out_shape[1:])   # batch x positions
    per_channel = out_sum.transpose(0, 1).reshape(out_sum.shape[1], -1).sum(1)
    rate = per_channel / (neurons_per_channel * steps)
    return opts.threshold_rate * (opts.target_rate - rate) / opts.target_rate * layer.neuron.threshold_bias


__all__ = ["SoftHebbRule", "SoftHebbOptions", "hebbian_update", "adaptive_rate", "drive_gain",
           "spiking_threshold_step"]
