"""The training section: optimiser, schedule, batch sizes and the simulation's time chunk."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from .base import Strict


class ScheduleConfig(Strict):
    kind: Literal["none", "step", "cosine"] = "none"
    step_size: int = Field(1, gt=0, description="step: epochs between decays")
    gamma: float = Field(0.5, gt=0, le=1, description="step: decay factor")


class EarlyStoppingConfig(Strict):
    """Stop when a held-out part of the training set stops improving, and keep the best epoch.

    Why: a budget that lets backprop converge (Gupta et al., arXiv 2212.04614, train for up to
    about 100 epochs with early stopping) is too long for rules that converge in a few epochs
    and overfit after; the validation images are taken from the training set (never the test
    set), stratified, with their own seed stream (``seeds.VALIDATION``)."""
    patience: int = Field(0, ge=0, description="epochs without a better validation accuracy before training "
                          "stops and the best epoch's weights are restored; 0: off")
    validation_fraction: float = Field(0.1, gt=0, lt=1, description="fraction of the training set held out "
                                       "for validation when patience > 0")


class TrainingConfig(Strict):
    epochs: int = Field(1, gt=0)
    batch_size: int = Field(128, gt=0)
    eval_batch_size: int = Field(1000, gt=0)
    optimizer: Literal["adam", "adamax", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    schedule: ScheduleConfig = ScheduleConfig()
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()
    time_chunk: int = Field(
        25, gt=0, description="time steps simulated per batched matrix product: a memory and speed "
        "setting only, it never changes results (the loss window is rule.window)")
    memory_budget_mb: Optional[float] = Field(
        768, gt=0, description="MB that one chunk's tensors of the local rule may use: a batch whose "
        "chunk would need more goes through in sub-batches of whole samples (same results); "
        "null: no limit")
    threads: Optional[int] = Field(None, gt=0, description="torch threads; default: all cores")
    progress: bool = True
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:[0-9]+)?)$",
                        description="where every tensor of the run lives: auto (CUDA when present), "
                        "cpu, cuda or cuda:N")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="precision of the synaptic matrix products (state and updates stay fp32)")
