"""Conditions around training: pruning, test-time input noise and alignment diagnostics."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Strict


class PruneConfig(Strict):
    """Global magnitude pruning (spikelocal.conditions; Gupta et al., arXiv 2212.04614).

    The weights of all layers (not biases, not the fixed readouts) are ranked together by
    magnitude and the smallest ``sparsity`` fraction is set to zero, except that every layer
    keeps at least its ``min_per_layer`` fraction of largest weights. ``after``: the trained
    network is pruned once at the end and evaluated (summary ``pruned_test_accuracy``); the
    checkpoint keeps the unpruned weights. ``retrain``: the network is pruned at the end of
    epoch ``training.epochs - retrain_epochs`` and the last ``retrain_epochs`` epochs train on
    with the same rule while the pruned weights are held at zero after every step.
    """

    sparsity: float = Field(0.0, ge=0, lt=1, description="fraction of all weights removed; 0: off")
    mode: Literal["after", "retrain"] = "after"
    retrain_epochs: int = Field(1, ge=1, description="retrain: epochs trained after pruning (within training.epochs)")
    min_per_layer: float = Field(0.01, ge=0, le=1, description="fraction of each layer's weights always kept")


class NoiseConfig(Strict):
    """Input noise at test time (spikelocal.conditions); training data stay clean.

    ``gaussian``: pixels x in [0, 1] become clip(x + sigma * N(0, 1), 0, 1) before encoding
    (pixel datasets). For spike inputs (rate or latency encoding, or recorded events): each input spike is
    deleted with probability ``spike_deletion``; each input (neuron, step) without a spike gets
    one with probability ``spike_insertion``; each spike moves by a uniform integer offset in
    [-jitter, jitter] steps, clipped to [0, T-1] (spikes landing on one step merge).
    """

    gaussian: float = Field(0.0, ge=0, description="std of Gaussian pixel noise; 0: off")
    spike_deletion: float = Field(0.0, ge=0, le=1, description="probability that an input spike is removed")
    spike_insertion: float = Field(0.0, ge=0, le=1, description="probability of a spurious input spike per neuron and step")
    jitter: int = Field(0, ge=0, description="largest shift of an input spike, in time steps")

    @property
    def active(self) -> bool:
        return bool(self.gaussian or self.spike_deletion or self.spike_insertion or self.jitter)

    @property
    def spike_noise(self) -> bool:
        return bool(self.spike_deletion or self.spike_insertion or self.jitter)


class DiagnosticsConfig(Strict):
    """Per-epoch alignment with backprop (spikelocal.diagnostics; Lillicrap et al. 2016).

    On one fixed training batch, the angle between each layer's update under the run's rule
    and the backprop (BPTT) gradient of the output loss; for fa and sign_symmetry also the
    angle between each feedback matrix and its forward weights. Costs one extra forward and
    backward pass on that batch per epoch.
    """

    alignment: bool = Field(False, description="log layer<i>_angle_bp (and _angle_fb_w) every epoch")
    batch_size: int = Field(256, gt=0, description="samples of the fixed batch (the first of the training set)")
