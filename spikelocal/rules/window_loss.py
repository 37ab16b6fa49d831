"""The readout loss over loss windows, shared by every rule: per layer, the window means of
:mod:`spikelocal.core.windows` scored by the layer's readout, the closed-form error, and the
batch's metrics (readout scores summed over time, mean loss, activity counts).

For a layer with readout G, a window w of |w| steps and loss l (:mod:`spikelocal.losses`)::

    L = 1/(B T) sum_{w,b} |w| l(G mean_{t in w} r(t), y)

so ``step`` windows give DECOLLE's per-step loss and ``sample`` the loss of the spike count.
Because the readout is linear, the error of every step of a window is the window's error.

``score_from`` (a task whose answer is due only at the end, e.g. cue accumulation): windows
that start before that step are not scored (zero error, not logged); the windows must then
be whole windows of N steps (or ``step``) that start at or after it.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..core.layers import Layer
from ..core.network import Network
from ..core.windows import PieceWindows
from ..losses import LossFn
from .base import BatchResult


class BatchMetrics:
    """Per-layer readout scores, losses and activity counts of one batch (what the trainer logs)."""

    def __init__(self, net: Network, labels: Tensor, loss_fn: LossFn, score_from: int = 0) -> None:
        n = len(net.layers)
        self.score_from = score_from
        self.loss_fn = loss_fn
        self.labels = labels
        self.batch = labels.shape[0]
        device = labels.device
        self.logits = [torch.zeros(self.batch, net.num_classes, device=device) for _ in range(n)]
        # float64 tensors on the labels' device: summing here equals summing Python floats,
        # without a host synchronisation per chunk (the trainer reads them once per batch)
        self.loss = [torch.zeros((), dtype=torch.float64, device=device) for _ in range(n)]
        self.counts = [torch.zeros(self.batch, device=device) for _ in range(n)]

    def record(self, i: int, layer: Layer, windows: PieceWindows) -> Tensor:
        """Score layer i's window means; return the error of each window group [G * B, C]."""
        means = windows.means[i]
        groups, b, g = means.shape[0], self.batch, windows.group_len
        self.counts[i] += windows.counts[i]
        logits = layer.readout_logits(means.reshape(groups * b, *layer.pooled_shape))
        first = max(0, -(-(self.score_from - windows.start) // g))   # first scored group
        if first >= groups:
            return torch.zeros_like(logits)
        if first > 0:
            scored = logits.view(groups, b, -1)[first:].reshape((groups - first) * b, -1)
            loss, part = self.loss_fn(scored, self.labels.repeat(groups - first))
            err = torch.zeros_like(logits)
            err[first * b:] = part
            if windows.opens:
                self.logits[i] += (scored * g if g > 1 else scored).view(groups - first, b, -1).sum(0)
                self.loss[i] += float(loss) * g
            return err
        loss, err = self.loss_fn(logits, self.labels.repeat(groups) if groups > 1 else self.labels)
        if windows.opens:
            self.logits[i] += (logits * g if g > 1 else logits).view(groups, b, -1).sum(0)
            self.loss[i] += loss.detach().double() * g
        return err

    def result(self, steps: int) -> BatchResult:
        scale = 1.0 / (self.batch * steps)
        return BatchResult(self.logits, [float(s) * scale for s in self.loss], self.counts)


def per_step(err: Tensor, steps: int, group_len: int) -> Tensor:
    """A window group's error [G * B, C] repeated for each of its steps: [K * B, C]."""
    if group_len == 1:
        return err
    groups = steps // group_len
    if groups <= 1:  # one window (or a piece of a longer one)
        return err.repeat(steps, 1)
    c = err.shape[1]
    return err.view(groups, 1, -1, c).expand(groups, group_len, -1, c).reshape(-1, c)


def scale_grads(net: Network, batch: int, steps: int) -> None:
    """Turn the summed updates into the mean over batch and time (the losses' 1/(B T))."""
    scale = 1.0 / (batch * steps)
    for p in net.parameters():
        if p.grad is not None:
            p.grad.mul_(scale)
