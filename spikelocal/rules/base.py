"""The shared interface of learning rules.

A rule receives the network, one batch of encoded input (an iterator over chunks of K time
steps) and the labels. It writes its weight updates into ``param.grad`` (as a gradient to
descend, so any torch optimiser applies them) and returns what the trainer logs. It never
looks inside a neuron model and keeps no time loop: it reads the records of the one core
loop (:mod:`spikelocal.core.simulate`) and, where it uses the three-factor product, calls
:mod:`spikelocal.core.three_factor`. In a user's own loop::

    rule = spikelocal.rules.build("local", net)
    for x, y in batches:                  # x: [T, B, *input_shape] or an iterable of chunks
        optimizer.zero_grad()             # (the rule overwrites grad anyway)
        rule.step(x, y)
        optimizer.step()
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Literal

import torch
from torch import Tensor

from ..config.rules import RuleOptions
from ..core.network import Network
from ..losses import LOSSES


@dataclass
class BatchResult:
    """Per-layer quantities of one training batch, summed over time and batch."""

    logits: list[Tensor]          # per layer [B, C], readout scores summed over T
    losses: list[float]           # per layer: local loss, mean over batch and time
    spike_counts: list[Tensor]    # per layer [B]


class Rule(ABC):
    """A learning rule; one instance per run."""

    #: its options model (spikelocal.config.rules), which also says what it can train
    Options: ClassVar[type[RuleOptions]] = RuleOptions

    def __init__(self, net: Network, options: RuleOptions, seed: int) -> None:
        self.net = net
        self.options = options
        self.seed = seed
        #: the readout loss of rules whose options name one (``loss``), else None
        self.loss_fn = LOSSES.get(options.loss) if hasattr(options, "loss") else None
        #: the first step whose activity the loss scores (a task that answers at its end;
        #: set by the trainer from the data, see :mod:`spikelocal.rules.window_loss`)
        self.score_from = 0

    @abstractmethod
    def compute_updates(self, chunks: Iterable[Tensor], labels: Tensor,
                        active: list[bool]) -> BatchResult:
        """Set ``grad`` of every parameter of the active layers; return the batch's metrics."""

    def step(self, x: Tensor | Iterable[Tensor], labels: Tensor,
             active: list[bool] | None = None) -> BatchResult:
        """One batch: ``x`` is the encoded input [T, B, *input_shape] (one chunk) or an
        iterable of chunks; every layer learns unless ``active`` says otherwise. Fills
        ``param.grad``; an optimiser's ``step()`` applies it."""
        chunks = [x] if isinstance(x, Tensor) else x
        return self.compute_updates(chunks, labels, active or [True] * len(self.net.layers))

    def active_layers(self, epoch: int, epochs: int) -> list[bool]:
        """Which layers learn in this epoch (all of them unless the rule trains layer-wise)."""
        return [True] * len(self.net.layers)

    def state_tensors(self) -> dict[str, Tensor]:
        """Tensors the rule owns (random feedback matrices) to store in checkpoints."""
        return {}

    def load_state_tensors(self, tensors: dict[str, Tensor]) -> None:
        for name, value in self.state_tensors().items():
            value.copy_(tensors[name])


def zero_grads(net: Network) -> None:
    for p in net.parameters():
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        else:
            p.grad.zero_()


Mode = Literal["together", "layerwise"]
__all__ = ["Rule", "RuleOptions", "BatchResult", "zero_grads", "Mode", "Any"]
