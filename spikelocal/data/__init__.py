"""Datasets (in memory: uint8 images, or binned event recordings) and the stratified
training-set fraction."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .. import seeds
from ..config import DataConfig
from .encoders import ENCODERS, SpikeEncoder
from .encoding import batch_generator, encode, to_unit
from .event_frames import EventFrames
from .cifar_svhn import CLASS_NAMES as COLOR_CLASS_NAMES, load_color_dataset
from .idx import CLASS_NAMES, data_root, load_idx_dataset
from .synthetic import make_synthetic
from .tasks import decision_start, load_task
from .events import load_event_dataset

__all__ = ["Dataset", "EventFrames", "load_dataset", "stratified_subset", "validation_split", "ENCODERS", "SpikeEncoder", "to_unit",
           "encode", "batch_generator", "decision_start"]


@dataclass
class Dataset:
    train_x: Tensor | EventFrames  # uint8 [N, C, H, W] (or [N, D]); event datasets: already spikes
    train_y: Tensor  # int64 [N]
    test_x: Tensor | EventFrames
    test_y: Tensor
    classes: list[str]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])


def _per_class_draw(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``fraction`` of every class (at least one each), drawn class by class."""
    picked = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        picked.append(idx[: max(1, int(round(fraction * len(idx))))])
    return np.sort(np.concatenate(picked))


def stratified_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of ``fraction`` of every class (at least one each), chosen with ``seed``."""
    if fraction >= 1.0:
        return np.arange(len(labels))
    return _per_class_draw(labels, fraction, np.random.default_rng(seed + seeds.TRAIN_SUBSET))


def validation_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation) indices: ``fraction`` of every class held out, chosen with its own
    seed stream so that the held-out images do not depend on the training fraction's draw."""
    val = _per_class_draw(labels, fraction, np.random.default_rng(seed + seeds.VALIDATION))
    return np.setdiff1d(np.arange(len(labels)), val), val


def load_dataset(cfg: DataConfig, seed: int) -> Dataset:
    if cfg.dataset in ("nmnist", "dvsgesture", "shd"):
        train_f, train_y, test_f, test_y, names = load_event_dataset(cfg, data_root(cfg.root))
        keep = stratified_subset(train_y, cfg.train_fraction, seed)
        return Dataset(train_f[keep], torch.from_numpy(train_y[keep]), test_f, torch.from_numpy(test_y), names)
    if cfg.dataset in ("cue_accumulation", "delayed_recall", "randman"):
        train_f, train_y, test_f, test_y, names = load_task(cfg)
        keep = stratified_subset(train_y, cfg.train_fraction, seed)
        return Dataset(train_f[keep], torch.from_numpy(train_y[keep]), test_f, torch.from_numpy(test_y), names)
    if cfg.dataset == "synthetic":
        arrays = make_synthetic(cfg.synthetic, seed)
        classes = [str(i) for i in range(cfg.synthetic.classes)]
    elif cfg.dataset in COLOR_CLASS_NAMES:  # cifar10, svhn: never downloaded
        arrays = load_color_dataset(cfg.dataset, data_root(cfg.root))
        classes = COLOR_CLASS_NAMES[cfg.dataset]
    else:
        arrays = load_idx_dataset(cfg.dataset, data_root(cfg.root), cfg.download)
        classes = CLASS_NAMES[cfg.dataset]
    train_x, train_y, test_x, test_y = arrays
    keep = stratified_subset(train_y, cfg.train_fraction, seed)
    return Dataset(
        torch.from_numpy(np.array(train_x[keep])),
        torch.from_numpy(train_y[keep].astype(np.int64)),
        torch.from_numpy(np.array(test_x)),
        torch.from_numpy(test_y.astype(np.int64)),
        classes,
    )
