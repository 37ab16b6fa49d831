"""Logs how many inference iterations predictive coding needed: the mean per batch of each
epoch as ``pc_iterations`` in metrics.csv, and over the run in summary.json
(``pc_iterations_mean``, ``pc_iterations_max``). It lives beside the trainer, not in
spikelocal.rules, because it hooks into the trainer, which sits above the rules."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .config import ExperimentConfig
from .trainer import HOOKS, RunHook, Trainer


class InferenceIterations(RunHook):
    def __init__(self) -> None:
        self.all: list[int] = []

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any], out: Path) -> None:
        used = trainer.rule.pop_iterations()
        self.all += used
        row["pc_iterations"] = sum(used) / len(used) if used else 0.0

    def on_run_end(self, trainer: Trainer, summary: dict[str, Any], out: Path) -> None:
        if self.all:
            summary["pc_iterations_mean"] = sum(self.all) / len(self.all)
            summary["pc_iterations_max"] = max(self.all)


@HOOKS.register("pc_iterations")
def _factory(config: ExperimentConfig) -> Optional[RunHook]:
    return InferenceIterations() if config.rule.name == "predictive_coding" else None
