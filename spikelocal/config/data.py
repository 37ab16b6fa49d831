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


class DataConfig(Strict):
    dataset: Literal["mnist", "fashion_mnist", "synthetic", "nmnist", "dvsgesture", "shd"] = "mnist"
    root: Optional[str] = Field(None, description="data directory; default $SPIKELOCAL_DATA")
    download: bool = Field(True, description="try the usual download when files are missing")
    encoding: Literal["rate", "latency", "direct"] = "rate"
    steps: int = Field(25, gt=0, description="time steps T (1 for rate networks)")
    gain: float = Field(1.0, gt=0, le=1, description="rate coding: spike probability of a white pixel")
    train_fraction: float = Field(1.0, gt=0, le=1, description="stratified fraction of training data")
    synthetic: SyntheticConfig = SyntheticConfig()
    events: EventsConfig = Field(EventsConfig(), description="event datasets only; data.steps = bins T")
