"""What the config knows about each dataset without reading a file: input shape, classes,
and the checks of the data section against the sensor of an event dataset.

The readers in :mod:`spikelocal.data` use the same :data:`EVENT_SPECS`, so a shape is
written once. :func:`input_spec` is also the fallback of run directories written before
runs recorded their dataset's shape (``data.json``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from .data import TASKS, DataConfig

EVENT_DATASETS = ("nmnist", "dvsgesture", "shd")
# image datasets: (shape of one image, classes, train + test images held in memory)
PIXEL_SPECS: dict[str, tuple[tuple[int, int, int], int, int]] = {
    "mnist": ((1, 28, 28), 10, 70_000),
    "fashion_mnist": ((1, 28, 28), 10, 70_000),
    "cifar10": ((3, 32, 32), 10, 60_000),
    "svhn": ((3, 32, 32), 10, 99_289),
}
PIXEL_DATASETS = tuple(PIXEL_SPECS)


@dataclass(frozen=True)
class EventSpec:
    title: str
    folder: str                     # tonic's folder under ROOT (its dataset class name)
    sensor: tuple[int, int, int]    # tonic's (W, H, polarities)
    classes: tuple[str, ...]
    splits: dict[str, str]          # split -> sub-folder (cameras) or file (SHD)
    layout: str                     # what to put where, for error messages


EVENT_SPECS: dict[str, EventSpec] = {
    "nmnist": EventSpec("N-MNIST", "NMNIST", (34, 34, 2), tuple(str(i) for i in range(10)),
                        {"train": "Train", "test": "Test"},
                        "the extracted Train/ and Test/ folders (one sub-folder per digit of .bin files)"),
    "dvsgesture": EventSpec(
        "DVS Gesture", "DVSGesture", (128, 128, 2),
        ("hand clapping", "right hand wave", "left hand wave", "right arm cw", "right arm ccw",
         "left arm cw", "left arm ccw", "arm roll", "air drums", "air guitar", "other gestures"),
        {"train": "ibmGestureTrain", "test": "ibmGestureTest"},
        "tonic's extracted ibmGestureTrain/ and ibmGestureTest/ (user*/<label>.npy)"),
    "shd": EventSpec("SHD", "SHD", (700, 1, 1), tuple(str(i) for i in range(20)),
                     {"train": "shd_train.h5", "test": "shd_test.h5"}, "shd_train.h5 and shd_test.h5"),
}


def frame_shape(cfg: DataConfig) -> tuple[int, ...]:
    """Input shape of one time step of an event dataset: (C, H, W) for cameras, (channels,) for SHD."""
    spec, ev = EVENT_SPECS[cfg.dataset], cfg.events
    if cfg.dataset == "shd":
        return (ev.size[0] if ev.size else spec.sensor[0],)
    h, w = ev.size if ev.size else (spec.sensor[1], spec.sensor[0])
    return (spec.sensor[2] if ev.polarity == "split" else 1, h, w)


def event_input_spec(cfg: DataConfig) -> tuple[tuple[int, ...], int]:
    """(input shape, number of classes) of an event dataset without reading any file."""
    return frame_shape(cfg), len(EVENT_SPECS[cfg.dataset].classes)


def input_spec(cfg: DataConfig) -> tuple[tuple[int, ...], int]:
    """(input shape, number of classes) that ``cfg``'s dataset has, from the config alone."""
    if cfg.dataset == "synthetic":
        return tuple(cfg.synthetic.shape), cfg.synthetic.classes
    if cfg.dataset in EVENT_DATASETS:
        return event_input_spec(cfg)
    if cfg.dataset in TASKS:
        return task_input_spec(cfg)
    shape, classes, _ = PIXEL_SPECS[cfg.dataset]
    return shape, classes


def check_event_config(cfg: DataConfig, source: str, spiking: bool) -> None:
    """Config checks for event datasets: size against the sensor, steps against duration."""
    spec, ev = EVENT_SPECS[cfg.dataset], cfg.events
    if not spiking:
        raise ConfigError(f"{source}: data.dataset: {cfg.dataset} is a spike-train dataset; the network "
                          "needs a spiking layer (neuron kind lif)")
    if ev.size is not None:
        native = [spec.sensor[0]] if cfg.dataset == "shd" else [spec.sensor[1], spec.sensor[0]]
        if len(ev.size) != len(native) or not all(0 < s <= n for s, n in zip(ev.size, native)):
            want = "[channels]" if cfg.dataset == "shd" else "[height, width]"
            raise ConfigError(f"{source}: data.events.size: {ev.size} must be {want} with each entry "
                              f"in 1..{native} (the {spec.title} sensor)")
    if ev.max_duration_ms is not None:
        bins = math.ceil(ev.max_duration_ms / ev.window_ms - 1e-9)
        if bins != cfg.steps:
            raise ConfigError(f"{source}: data.steps: {cfg.steps} bins of {ev.window_ms} ms do not cover "
                              f"events.max_duration_ms {ev.max_duration_ms}; set steps: {bins}")


# ------------------------------------------------------------- temporal tasks -------
def task_steps(cfg: DataConfig) -> int:
    """T of a task (Randman: data.steps)."""
    if cfg.dataset == "cue_accumulation":
        c = cfg.cue_accumulation
        return c.cues * (c.cue_steps + c.gap_steps) + c.delay_steps + c.recall_steps
    if cfg.dataset == "delayed_recall":
        r = cfg.delayed_recall
        return r.stimulus_steps + r.delay_steps + r.recall_steps
    return cfg.steps


def task_input_spec(cfg: DataConfig) -> tuple[tuple[int, ...], int]:
    """Input shape (one step) and number of classes of a task, without generating it."""
    if cfg.dataset == "cue_accumulation":
        return (4 * cfg.cue_accumulation.population,), 2
    if cfg.dataset == "delayed_recall":
        return (cfg.delayed_recall.channels + 5,), cfg.delayed_recall.classes
    return (cfg.randman.units,), cfg.randman.classes


def decision_start(cfg: DataConfig) -> int:
    """The first step whose activity is scored (0: the whole sample)."""
    if cfg.dataset == "cue_accumulation":
        return task_steps(cfg) - cfg.cue_accumulation.recall_steps
    if cfg.dataset == "delayed_recall":
        return task_steps(cfg) - cfg.delayed_recall.recall_steps
    return 0


def check_task_config(cfg: DataConfig, source: str) -> None:
    steps = task_steps(cfg)
    if cfg.steps != steps:
        raise ConfigError(f"{source}: data.steps: {cfg.steps}, but a {cfg.dataset} trial with these "
                          f"options lasts {steps} steps; set data.steps: {steps}")
    if cfg.dataset == "cue_accumulation" and cfg.cue_accumulation.cues % 2 == 0:
        raise ConfigError(f"{source}: data.cue_accumulation.cues: {cfg.cue_accumulation.cues} allows ties; "
                          "use an odd number")
