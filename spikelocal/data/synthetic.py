"""A small synthetic classification set for tests and quick checks: each class is a fixed
random prototype image in [0, 1]; samples are prototypes plus clipped Gaussian noise."""
from __future__ import annotations

import numpy as np

from .. import seeds
from ..config import SyntheticConfig


def make_synthetic(cfg: SyntheticConfig, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed + seeds.SYNTHETIC_DATA)
    shape = tuple(cfg.shape)
    prototypes = (rng.random((cfg.classes, *shape)) > 0.5).astype(np.float32)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.arange(n) % cfg.classes
        rng.shuffle(labels)
        x = prototypes[labels] + cfg.noise * rng.standard_normal((n, *shape)).astype(np.float32)
        return (np.clip(x, 0, 1) * 255).astype(np.uint8), labels.astype(np.uint8)

    train_x, train_y = sample(cfg.n_train)
    test_x, test_y = sample(cfg.n_test)
    return train_x, train_y, test_x, test_y
