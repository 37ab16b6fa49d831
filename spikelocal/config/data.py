"""The data section: dataset, encoding, synthetic tasks and the binning of event recordings."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from .base import Strict


class SyntheticConfig(Strict):
    n_train: int = Field(512, gt=0)
    n_test: int = Field(256, gt=0)
    shape: list[int] = Field([1, 8, 8], min_length=1, max_length=3)
    classes: int = Field(4, ge=2)
    noise: float = Field(0.3, ge=0)


class EventsConfig(Strict):
    """Binning of event recordings (nmnist, dvsgesture, shd) into data.steps frames."""

    window_ms: float = Field(1.0, gt=0, description="width of one time bin (ms)")
    max_duration_ms: Optional[float] = Field(
        None, gt=0, description="recording time kept (ms); default steps * window_ms; if given, "
        "steps must equal ceil(max_duration_ms / window_ms)")
    size: Optional[list[int]] = Field(
        None, min_length=1, max_length=2,
        description="[H, W] after spatial downsampling (SHD: [channels]); default: the sensor's")
    polarity: Literal["split", "merge"] = Field(
        "split", description="split: ON and OFF events as two input channels; merge: one channel")
    binarize: bool = Field(True, description="a bin with any event is one spike (else the count)")
    cache: bool = Field(True, description="keep binned tensors on disk so later loads skip binning")
    cache_dir: Optional[str] = Field(None, description="default: <data root>/<dataset folder>/cache")


class CueAccumulationConfig(Strict):
    """Evidence accumulation (Bellec et al. 2020, Fig. 3; spikelocal.data.tasks)."""

    n_train: int = Field(2000, gt=0)
    n_test: int = Field(500, gt=0)
    seed: int = Field(0, ge=0, lt=2**32, description="the task's own seed: the same samples for every model seed")
    cues: int = Field(7, gt=0, description="cues per trial (odd: no ties)")
    cue_steps: int = Field(10, gt=0, description="steps of one cue burst")
    gap_steps: int = Field(5, ge=0, description="silent steps after each cue")
    delay_steps: int = Field(50, ge=0, description="steps between the last cue and the recall cue")
    recall_steps: int = Field(20, gt=0, description="steps of the recall cue: the answer is read here")
    population: int = Field(10, gt=0, description="input neurons per population (left, right, recall, noise)")
    rate: float = Field(0.4, gt=0, le=1, description="spike probability per step of an active population")
    noise_rate: float = Field(0.05, ge=0, le=1, description="spike probability per step of the noise population")


class DelayedRecallConfig(Strict):
    """A pattern, a delay, then a recall cue: name the pattern (spikelocal.data.tasks)."""

    n_train: int = Field(2000, gt=0)
    n_test: int = Field(500, gt=0)
    seed: int = Field(0, ge=0, lt=2**32)
    classes: int = Field(4, ge=2)
    channels: int = Field(20, gt=0, description="pattern input neurons (a recall population of 5 is added)")
    stimulus_steps: int = Field(20, gt=0)
    delay_steps: int = Field(50, ge=0)
    recall_steps: int = Field(10, gt=0)
    rate: float = Field(0.3, gt=0, le=1, description="spike probability per step of a pattern's active channels")
    noise_rate: float = Field(0.02, ge=0, le=1, description="spike probability per step of every other channel")


class RandmanConfig(Strict):
    """Random manifolds (Zenke & Vogels, Neural Comput. 2021; spikelocal.data.tasks)."""

    samples_per_class: int = Field(500, gt=0, description="train + test samples of each class")
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = Field(0, ge=0, lt=2**32)
    classes: int = Field(10, ge=2)
    units: int = Field(50, gt=0, description="input neurons (the embedding dimension)")
    manifold_dim: int = Field(1, gt=0, description="intrinsic dimension D of each class's manifold")
    alpha: float = Field(2.0, gt=0, description="smoothness: amplitude of frequency k falls as 1/k^alpha")
    spikes: int = Field(1, gt=0, description="spikes per unit (the manifold is sampled this many times)")


TASKS = ("cue_accumulation", "delayed_recall", "randman")


class DataConfig(Strict):
    dataset: Literal["mnist", "fashion_mnist", "cifar10", "svhn", "synthetic", "nmnist", "dvsgesture", "shd",
                     "cue_accumulation", "delayed_recall", "randman"] = Field(
        "mnist", description="images (mnist, fashion_mnist, cifar10, svhn: files in the data directory), event "
                             "recordings, or generated sets; cifar10 and svhn are 3x32x32 colour images")
    root: Optional[str] = Field(None, description="data directory; default $SPIKELOCAL_DATA")
    download: bool = Field(True, description="try the usual download when files are missing "
                                             "(never for cifar10 and svhn: put their files there yourself)")
    encoding: Literal["rate", "latency", "direct"] = "rate"
    steps: int = Field(25, gt=0, description="time steps T (1 for rate networks)")
    gain: float = Field(1.0, gt=0, le=1, description="rate coding: spike probability of a white pixel")
    train_fraction: float = Field(1.0, gt=0, le=1, description="stratified fraction of training data")
    synthetic: SyntheticConfig = SyntheticConfig()
    events: EventsConfig = Field(EventsConfig(), description="event datasets only; data.steps = bins T")
    cue_accumulation: CueAccumulationConfig = CueAccumulationConfig()
    delayed_recall: DelayedRecallConfig = DelayedRecallConfig()
    randman: RandmanConfig = RandmanConfig()
