"""The network section: neurons, surrogate gradients, layers, readouts."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from .base import Strict


class SurrogateConfig(Strict):
    kind: Literal["fast_sigmoid", "sigmoid", "triangle"] = "fast_sigmoid"
    slope: float = Field(10.0, gt=0, description="steepness; fast sigmoid is 1/(slope|V-theta|+1)^2")


class NeuronConfig(Strict):
    kind: Literal["lif", "alif", "relu", "sigmoid", "tanh", "linear"] = "lif"
    tau_syn: float = Field(5e-3, gt=0, description="synaptic time constant (s)")
    tau_mem: float = Field(10e-3, gt=0, description="membrane time constant (s)")
    dt: float = Field(1e-3, gt=0, description="simulation step (s)")
    threshold: float = Field(1.0, gt=0)
    reset: Literal["hard", "subtract"] = "hard"
    surrogate: SurrogateConfig = SurrogateConfig()
    tau_adapt: float = Field(0.2, gt=0, description="alif: time constant of the threshold adaptation (s)")
    adaptation: float = Field(1.8, ge=0, description="alif: threshold rise per unit of adaptation (beta_a)")

    @property
    def spiking(self) -> bool:
        return self.kind in ("lif", "alif")


class LayerConfig(Strict):
    kind: Literal["dense", "conv", "recurrent"]
    units: Optional[int] = Field(None, gt=0, description="dense: number of neurons")
    channels: Optional[int] = Field(None, gt=0, description="conv: output channels")
    kernel: int = Field(3, gt=0)
    stride: int = Field(1, gt=0)
    padding: int = Field(0, ge=0)
    pool: int = Field(1, gt=0, description="sum pooling of the layer's activity (conv only)")
    bias: Optional[bool] = Field(None, description="default: true for rate, false for LIF")
    neuron: Optional[NeuronConfig] = None
    self_connections: bool = Field(True, description="recurrent: keep the diagonal of the recurrent weights")

    @model_validator(mode="after")
    def _sizes(self) -> "LayerConfig":
        if self.kind in ("dense", "recurrent") and self.units is None:
            raise ValueError(f"a {self.kind} layer needs 'units'")
        if self.kind == "conv" and self.channels is None:
            raise ValueError("a conv layer needs 'channels'")
        if self.kind in ("dense", "recurrent") and self.pool != 1:
            raise ValueError("'pool' applies to conv layers only")
        return self


class ReadoutConfig(Strict):
    init: Literal["uniform", "normal"] = "uniform"
    scale: float = Field(1.0, gt=0, description="fixed readout G ~ scale * U(-1,1) * sqrt(3/N)")
    output_scale: float = Field(1.0, gt=0, description="gain of the output layer's own loss")


class NetworkConfig(Strict):
    name: str = "network"
    neuron: NeuronConfig = NeuronConfig()
    output_neuron: Optional[NeuronConfig] = Field(
        None, description="neuron of the last layer; default: like 'neuron' (linear for rate nets)"
    )
    layers: list[LayerConfig] = Field(..., min_length=1)
    readout: ReadoutConfig = ReadoutConfig()
    weight_scale: float = Field(1.0, gt=0, description="gain on the default uniform fan-in init")
