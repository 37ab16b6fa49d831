"""Target descriptions: the limits and the arithmetic of one neuromorphic core, as data.

A target is a YAML file validated by :class:`Target` (every field required, unknown keys
rejected). Built-in targets live in ``spikelocal/hardware/targets/``; ``--target`` takes
such a name or the path of a user's own file.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import format_validation_error
from ..errors import ConfigError
from ..yamlio import parse_yaml

TARGET_DIR = Path(__file__).parent / "targets"


class Target(BaseModel):
    """One chip's core: per-core limits and fixed-point widths (see targets/loihi.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    neurons_per_core: int = Field(gt=0)
    input_axons_per_core: int = Field(gt=0)
    output_axons_per_core: int = Field(gt=0)
    synapse_memory_bytes: int = Field(gt=0)
    synapse_overhead_bits: int = Field(ge=0)
    cores_per_chip: int = Field(gt=0)
    state_bits: int = Field(ge=8, le=62)
    decay_bits: int = Field(ge=2, le=24)
    activation_shift: int = Field(ge=0, le=24)
    activation_bits: int = Field(ge=4, le=62)
    weight_bits_max: int = Field(ge=2, le=16)
    weight_value_bits: int = Field(ge=2, le=24)
    weight_exp_min: int
    weight_exp_max: int
    threshold_bits: int = Field(ge=1, le=62)
    bias_mant_bits: int = Field(ge=2, le=32)
    bias_exp_max: int = Field(ge=0, le=31)
    synaptic_delay: int = Field(ge=0, le=1)

    @property
    def state_max(self) -> int:
        return 2 ** (self.state_bits - 1) - 1

    @property
    def activation_max(self) -> int:
        return 2 ** (self.activation_bits - 1) - 1

    @property
    def decay_unity(self) -> int:
        return 2 ** self.decay_bits

    @property
    def threshold_max(self) -> int:
        return 2 ** self.threshold_bits - 1

    @property
    def bias_mant_max(self) -> int:
        return 2 ** (self.bias_mant_bits - 1) - 1


def known_targets() -> list[str]:
    return sorted(p.stem for p in TARGET_DIR.glob("*.yaml"))


def load_target(target: str | Path | Target) -> Target:
    """A built-in target by name, or a target YAML file by path; one-line errors."""
    if isinstance(target, Target):
        return target
    text = str(target)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or path.is_file()):
        path = TARGET_DIR / f"{text}.yaml"
        if not path.is_file():
            raise ConfigError(f"unknown target {text!r}; known: {', '.join(known_targets())} "
                              "(or the path of a target YAML file)")
    try:
        source = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise ConfigError(f"target file {path} not found") from None
    raw, lines = parse_yaml(source, f"target file {path}")
    if not isinstance(raw, dict):
        raise ConfigError(f"target file {path}: expected a mapping of fields")
    try:
        tgt = Target.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, [(f"target file {path}", lines, ())],
                                                  unknown=" (not a field of a hardware target)")) from None
    if tgt.weight_exp_min > tgt.weight_exp_max:
        raise ConfigError(f"target file {path}: weight_exp_min {tgt.weight_exp_min} > weight_exp_max {tgt.weight_exp_max}")
    if tgt.weight_bits_max > tgt.weight_value_bits:
        raise ConfigError(f"target file {path}: weight_bits_max {tgt.weight_bits_max} exceeds weight_value_bits "
                          f"{tgt.weight_value_bits}")
    return tgt
