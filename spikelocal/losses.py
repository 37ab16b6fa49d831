"""Local losses on a layer's readout scores, with their gradient in closed form.

Each returns (summed loss, dLoss/dlogits) for logits [N, C] and labels [N], so that a rule
needs no autograd graph: for cross-entropy the error is ``softmax(z) - onehot(y)`` (the
modulatory signal of the local rule), for MSE ``z - onehot(y)``, and for smooth-L1 the clipped
difference.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .registry import Registry

LossFn = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
LOSSES: Registry[LossFn] = Registry("local loss")


@LOSSES.register("ce")
def cross_entropy(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    logp = torch.log_softmax(logits, dim=1)
    loss = -logp.gather(1, labels[:, None]).sum()
    err = logp.exp_()
    err[torch.arange(len(labels)), labels] -= 1.0
    return loss, err


@LOSSES.register("mse")
def mse(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    diff = logits - F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    return 0.5 * diff.square().sum(), diff


@LOSSES.register("smooth_l1")
def smooth_l1(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    diff = logits - F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    absd = diff.abs()
    loss = torch.where(absd < 1, 0.5 * diff.square(), absd - 0.5).sum()
    return loss, diff.clamp(-1.0, 1.0)
