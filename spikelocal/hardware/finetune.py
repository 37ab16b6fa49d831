"""Quantisation-aware fine-tuning with the run's own local rule, weights kept on the grid.

The trained network goes back to the :class:`~spikelocal.trainer.Trainer` with its rule
(``local``: each layer learns from its fixed random readout) for a short pass over a
fraction of the training set. After every optimiser step a hook projects each layer's
weights onto its fixed-point grid (clip value c and ``weight_bits`` mantissa codes, the grid
the converter then uses), with *stochastic* rounding: an update smaller than one grid step
moves a weight by one step with probability |update| / step, as on-chip learning engines
do, so the expected update is the rule's own (Davies et al., "Loihi", IEEE Micro 2018).
No float shadow weights are kept.
"""
from __future__ import annotations

import torch

from ..config import ExperimentConfig
from ..data import Dataset, stratified_subset
from ..core.network import Network
from ..trainer import RunHook, Trainer
from .fixed_point import project_to_grid
from .targets import Target


class GridProjection(RunHook):
    """After each step: W <- grid(W) for every layer (see the module docstring)."""

    def __init__(self, clips: list[float], weight_bits: int, target: Target, seed: int) -> None:
        self.clips, self.bits, self.target = clips, weight_bits, target
        self.generator = torch.Generator().manual_seed(seed)

    def project(self, net: Network, rounding: str = "stochastic") -> None:
        with torch.no_grad():
            for layer, clip in zip(net.layers, self.clips):
                project_to_grid(layer.weight, clip, self.bits, self.target, rounding, self.generator)  # type: ignore[arg-type]

    def on_step_end(self, trainer: Trainer) -> None:
        self.project(trainer.net)


def finetune(config: ExperimentConfig, net: Network, data: Dataset, clips: list[float], weight_bits: int,
             target: Target, fraction: float = 0.1, epochs: int = 1, lr: float | None = None,
             seed: int = 0, on_grid: bool = True) -> tuple[Network, dict]:
    """Return a copy of ``net`` fine-tuned on the grid, and what was done.

    ``on_grid=False`` runs the same pass without the projection: the float control that
    separates what fine-tuning recovers from what the extra training alone adds.
    """
    lr = lr if lr is not None else config.training.lr * 0.25
    training = config.training.model_copy(update={"epochs": epochs, "lr": lr, "progress": False,
                                                  "schedule": config.training.schedule.model_copy(update={"kind": "none"})})
    cfg = config.model_copy(update={"training": training})
    keep = torch.from_numpy(stratified_subset(data.train_y.numpy(), fraction, seed))
    subset = Dataset(data.train_x[keep], data.train_y[keep], data.test_x, data.test_y, data.classes)
    trainer = Trainer(cfg, subset)
    trainer.net.load_state_dict(net.state_dict())
    hook = GridProjection(clips, weight_bits, target, seed)
    trainer.hooks = []  # the run's own hooks (pruning, diagnostics) write files and belong to the run
    if on_grid:
        hook.project(trainer.net, "nearest")
        trainer.hooks.append(hook)
    train_acc = []
    for _ in range(epochs):
        train_acc.append(trainer.train_epoch(progress=False)["acc"][-1])
        trainer.epoch += 1
    if on_grid:
        hook.project(trainer.net, "nearest")  # already on the grid; guards against float drift
    info = {"epochs": epochs, "fraction": fraction, "samples": len(keep), "lr": lr,
            "optimizer": cfg.training.optimizer, "rule": config.rule.name, "rounding": "stochastic",
            "train_accuracy": train_acc}
    return trainer.net, info
