"""The whole experiment: one model per section, and its round trip to a dict and YAML."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from ..yamlio import dump_yaml
from .analysis import PlotsConfig, RecordConfig
from .base import Strict
from .conditions import DiagnosticsConfig, NoiseConfig, PruneConfig
from .data import DataConfig
from .network import NetworkConfig
from .rules import LocalOptions, RuleConfig
from .training import TrainingConfig


class ExperimentConfig(Strict):
    name: Optional[str] = None
    seed: int = Field(0, ge=0, lt=2**32, description="drives weights, readouts, shuffling and encoding")
    model: Optional[str] = Field(None, description="a network in models/ (name or path)")
    network: NetworkConfig
    data: DataConfig = DataConfig()
    training: TrainingConfig = TrainingConfig()
    rule: RuleConfig = Field(default_factory=LocalOptions, description="the learning rule and its options, by name")
    record: Optional[RecordConfig] = None
    plots: PlotsConfig = PlotsConfig()
    prune: PruneConfig = PruneConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    noise: NoiseConfig = NoiseConfig()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())
