"""The experiment schema (pydantic), split by concern, and loading experiments with one-line
errors. Every section rejects unknown keys, so a typo is an error and never a silent default.

This package imports nothing of spikelocal above it (only errors and yamlio): the rules, the
data readers and the trainer read it, never the other way round.
"""
from __future__ import annotations

from .analysis import PlotName, PlotsConfig, RecordConfig
from .base import Strict
from .conditions import DiagnosticsConfig, NoiseConfig, PruneConfig
from .data import (TASKS, CueAccumulationConfig, DataConfig, DelayedRecallConfig, EventsConfig,
                   RandmanConfig, SyntheticConfig)
from .datasets import input_spec
from .experiment import ExperimentConfig
from .loader import (check_consistency, deep_merge, load_experiment, load_resolved, parse_overrides,
                     resolve_experiment, set_dotted)
from .messages import format_validation_error
from .network import LayerConfig, NetworkConfig, NeuronConfig, ReadoutConfig, SurrogateConfig
from .rules import (RULE_OPTIONS, BPOptions, DFAOptions, EpropOptions, FAOptions, FeedbackOptions, FWDTPOptions,
                    GaitPropOptions, LocalOptions, OutputLossOptions, PredictiveCodingOptions, RuleConfig,
                    RuleOptions, SignSymmetryOptions, SoftHebbOptions, Window)
from .training import ScheduleConfig, TrainingConfig

__all__ = [
    "PlotName", "PlotsConfig", "RecordConfig", "Strict", "DiagnosticsConfig", "NoiseConfig", "PruneConfig",
    "DataConfig", "EventsConfig", "SyntheticConfig", "TASKS", "CueAccumulationConfig",
    "DelayedRecallConfig", "RandmanConfig", "EpropOptions", "input_spec", "ExperimentConfig", "check_consistency",
    "deep_merge", "load_experiment", "load_resolved", "parse_overrides", "resolve_experiment", "set_dotted",
    "format_validation_error", "LayerConfig", "NetworkConfig", "NeuronConfig", "ReadoutConfig",
    "SurrogateConfig", "RULE_OPTIONS", "BPOptions", "DFAOptions", "FAOptions", "FeedbackOptions",
    "FWDTPOptions", "GaitPropOptions", "LocalOptions", "OutputLossOptions", "PredictiveCodingOptions",
    "RuleConfig", "RuleOptions", "SignSymmetryOptions", "SoftHebbOptions", "Window", "ScheduleConfig",
    "TrainingConfig",
]
