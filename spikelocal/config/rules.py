"""One options model per learning rule; ``rule:`` in an experiment is one of them, picked by
its ``name`` (default ``local``).

What the config must know of a rule to check a network against it lives here as plain data,
next to its options, so the config never imports the rules: ``supports`` (layer kinds
``dense``/``conv``/``recurrent`` and neuron families ``rate``/``spiking`` it can train) and
``requires_bias`` (layers that need a bias; the loader turns an unset ``bias`` on there and
rejects ``bias: false``). Each rule class in :mod:`spikelocal.rules` names its model as
``Options``.

``window`` is the loss window of the rules that score readouts: ``sample`` (the activity
summed over the whole sample), ``step`` (every time step) or N (windows of N steps). It is
independent of ``training.time_chunk``, which is a memory and speed setting only.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BeforeValidator, Discriminator, Field, PositiveInt, Tag

from .base import Strict

ALL_SUPPORTED = ("dense", "conv", "rate", "spiking")
REMOVED_CHUNK = ("'chunk' was removed: the loss window no longer follows training.time_chunk; use "
                 "'sample' (the whole sample), 'step', or a number of steps")


def _no_chunk(value: Any) -> Any:
    if value == "chunk":
        raise ValueError(REMOVED_CHUNK)
    return value


Loss = Literal["ce", "mse", "smooth_l1"]
Window = Annotated[Union[Literal["sample", "step"], PositiveInt], BeforeValidator(_no_chunk)]
WINDOW_HELP = ("what a readout loss scores: the activity of the whole sample ('sample'), of every "
               "step ('step') or of windows of N steps")


class RuleOptions(Strict):
    """Options every rule takes; a rule's model subclasses this and adds its own."""

    name: str
    #: layer kinds ("dense", "conv") and neuron families ("rate", "spiking") the rule can train
    supports: ClassVar[tuple[str, ...]] = ALL_SUPPORTED

    @classmethod
    def requires_bias(cls, index: int, count: int, spiking: bool) -> bool:
        """Whether layer ``index`` of ``count`` needs a bias under this rule."""
        return False


class LocalOptions(RuleOptions):
    name: Literal["local"] = "local"
    loss: Loss = "ce"
    mode: Literal["together", "layerwise"] = "together"
    window: Window = Field("sample", description=WINDOW_HELP)


class OutputLossOptions(RuleOptions):
    """Options of the rules that minimise the output layer's loss."""

    loss: Loss = "ce"
    window: Window = Field("sample", description=WINDOW_HELP)


class BPOptions(OutputLossOptions):
    name: Literal["bp"] = "bp"
    #: BPTT follows every dependence through time, the recurrent ones included
    supports: ClassVar[tuple[str, ...]] = ("dense", "conv", "recurrent", "rate", "spiking")
    truncate: bool = Field(False, description="truncated BPTT: the graph stops at every chunk "
                           "(training.time_chunk) boundary, so memory follows the chunk, not T")


class FeedbackOptions(OutputLossOptions):
    feedback_scale: float = Field(1.0, gt=0, description="gain of the fixed random feedback")


class FAOptions(FeedbackOptions):
    name: Literal["fa"] = "fa"


class DFAOptions(FeedbackOptions):
    name: Literal["dfa"] = "dfa"


class SignSymmetryOptions(OutputLossOptions):
    name: Literal["sign_symmetry"] = "sign_symmetry"


class FWDTPOptions(OutputLossOptions):
    name: Literal["fw_dtp"] = "fw_dtp"
    supports: ClassVar[tuple[str, ...]] = ("dense", "rate", "spiking")
    beta: float = Field(0.1, gt=0, description="output target step: t_L = h_L - beta dL/dh_L")
    feedback_activation: Literal["tanh", "sigmoid", "relu", "linear"] = "tanh"
    feedback_scale: float = Field(1.0, gt=0, description="gain of the fixed random feedback B")


class GaitPropOptions(OutputLossOptions):
    name: Literal["gait_prop"] = "gait_prop"
    supports: ClassVar[tuple[str, ...]] = ("dense", "rate", "spiking")
    inverse: Literal["pinv", "transpose"] = "pinv"
    rescale: bool = Field(True, description="adaptive rescaling of the local errors (Dalm et al. 2021); "
                          "off: the 2020 paper's targets, which vanish or explode with depth unless W is orthogonal")
    orthogonal: float = Field(0.01, ge=0, description="weight of the soft orthogonality regulariser (part of "
                              "the paper's method: its BP equivalence needs orthogonal W); 0: off")


class PredictiveCodingOptions(OutputLossOptions):
    name: Literal["predictive_coding"] = "predictive_coding"
    iterations: int = Field(20, ge=1, description="most inference steps per batch")
    step: float = Field(0.2, gt=0, le=1, description="inference step size on the value nodes")
    tolerance: float = Field(1e-3, ge=0, description="stop when rms(dF/dx) <= tolerance * its value before the first step")
    gamma: float = Field(0.1, gt=0, description="weight of the output loss in the energy")


class SoftHebbOptions(OutputLossOptions):
    name: Literal["softhebb"] = "softhebb"
    temperature: float = Field(1.0, gt=0, description="softmax temperature of the soft WTA")
    lr: float = Field(0.05, gt=0, description="Hebbian learning rate (before the norm adaptation)")
    anti_hebbian: bool = Field(True, description="non-winners get the anti-Hebbian update")
    adaptive_lr: bool = Field(True, description="eta_k = lr |(||w_k|| - 1)|^(1/2)")
    unsupervised_epochs: int = Field(1, ge=1, description="epochs in which the Hebbian layers learn")
    threshold_rate: float = Field(0.1, ge=0, le=1, description="homeostatic threshold rate rho; 0: off")
    classifier: Literal["local", "sgd"] = "local"
    norm: float = Field(1.0, gt=0, description="weight norm R the rule converges to (in rate units)")
    target_rate: float = Field(0.05, gt=0, lt=1, description="spiking layers: firing rate per step the homeostatic threshold holds")

    @classmethod
    def requires_bias(cls, index: int, count: int, spiking: bool) -> bool:
        """Spiking Hebbian layers: the bias is the rate-holding threshold (rules.softhebb)."""
        return spiking and index < count - 1


class EpropOptions(OutputLossOptions):
    name: Literal["eprop"] = "eprop"
    supports: ClassVar[tuple[str, ...]] = ("dense", "recurrent", "rate", "spiking")
    feedback: Literal["random", "symmetric", "readout"] = Field(
        "random", description="learning signal: fixed random B, the output weights, or the "
        "layer's own fixed readout")
    feedback_scale: float = Field(1.0, gt=0, description="gain of the random feedback B")
    update: Literal["sequence", "chunk"] = Field(
        "sequence", description="apply the update once per sequence (batch), or after every "
        "training.time_chunk steps (online: later chunks run with the updated weights)")


#: every rule's options model by ``name``; a new rule adds its model here and to RuleConfig
RULE_OPTIONS: dict[str, type[RuleOptions]] = {
    model.model_fields["name"].default: model
    for model in (LocalOptions, BPOptions, FAOptions, DFAOptions, SignSymmetryOptions, FWDTPOptions,
                  GaitPropOptions, PredictiveCodingOptions, SoftHebbOptions, EpropOptions)
}
DEFAULT_RULE = "local"


def _rule_name(value: Any) -> Any:
    """The union's tag: ``name`` of a dict (``local`` when absent) or of a model."""
    if isinstance(value, dict):
        return value.get("name", DEFAULT_RULE)
    return getattr(value, "name", None)


RuleConfig = Annotated[
    Union[tuple(Annotated[model, Tag(name)] for name, model in RULE_OPTIONS.items())],  # type: ignore[misc]
    Discriminator(_rule_name),
]
