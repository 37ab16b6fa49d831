"""Alignment with backprop: how close each layer's update is to the true gradient.

Lillicrap et al., Nat. Commun. 2016 (Fig. 2: the angle between the feedback-alignment
update and backprop's falls below 90 degrees as B and W come into alignment); Nøkland,
NeurIPS 2016.

With ``diagnostics.alignment: true`` a run logs, after every epoch, on one fixed batch (the
first ``diagnostics.batch_size`` training samples, encoded with a fixed generator)::

    layer<i>_angle_bp    = angle(dW_i under the run's rule, dW_i under bp)      degrees
    layer<i>_angle_fb_w  = angle(B_i, W_i)        fa and sign_symmetry, layers 2..L

where bp is the BPTT gradient (:mod:`spikelocal.rules.bp`) of the same output loss on the
same batch. Only the weights enter the angles (not biases). The parameters' ``grad`` and the
optimiser are left exactly as they were.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor

from . import seeds
from .config import ExperimentConfig
from .data import batch_generator, encode
from .rules import RULES
from .rules.base import Rule
from .trainer import HOOKS, RunHook, Trainer


def angle_degrees(a: Tensor, b: Tensor) -> float:
    """Angle between two tensors seen as flat vectors; NaN if either is zero."""
    a, b = a.reshape(-1).double(), b.reshape(-1).double()
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return math.nan
    cos = float((a @ b) / (na * nb))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _weight_updates(rule: Rule, x_uint8: Tensor, y: Tensor, config: ExperimentConfig) -> list[Tensor]:
    gen = batch_generator(config.seed + seeds.ALIGNMENT, 0, 0)
    rule.compute_updates(encode(config, x_uint8, gen), y, [True] * len(rule.net.layers))
    return [layer.weight.grad.detach().clone() for layer in rule.net.layers]


def alignment_angles(rule: Rule, config: ExperimentConfig, x_uint8: Tensor, y: Tensor) -> dict[str, float]:
    """The per-layer angles of the module docstring for ``rule`` on one batch."""
    net = rule.net
    params = list(net.parameters())
    saved = [None if p.grad is None else p.grad.clone() for p in params]
    try:
        ours = _weight_updates(rule, x_uint8, y, config)
        bp_cls = RULES.get("bp")
        loss = getattr(rule.options, "loss", "ce")
        window = getattr(rule.options, "window", "sample")   # the same output loss as the rule's
        bp = bp_cls(net, bp_cls.Options(name="bp", loss=loss, window=window), rule.seed)
        reference = _weight_updates(bp, x_uint8, y, config)
    finally:
        for p, g in zip(params, saved):
            p.grad = g
    row = {f"layer{i + 1}_angle_bp": angle_degrees(u, r) for i, (u, r) in enumerate(zip(ours, reference))}
    feedback = getattr(rule, "feedback_matrices", None)
    if feedback is not None:
        for i, matrix in feedback().items():
            row[f"layer{i + 1}_angle_fb_w"] = angle_degrees(matrix, net.layers[i].weight.detach())
    return row


class AlignmentHook(RunHook):
    """Adds the alignment angles to every epoch's row of metrics.csv."""

    def __init__(self, config: ExperimentConfig) -> None:
        self.batch_size = config.diagnostics.batch_size

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any], out: Path) -> None:
        data = trainer.data
        n = min(self.batch_size, len(data.train_x))
        row.update(alignment_angles(trainer.rule, trainer.config, data.train_x[:n], data.train_y[:n]))


@HOOKS.register("alignment")
def _alignment_hook(config: ExperimentConfig) -> Optional[RunHook]:
    return AlignmentHook(config) if config.diagnostics.alignment else None
