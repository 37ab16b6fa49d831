"""Shared fixtures: tiny synthetic experiments and the shared MNIST files.

Tests never download: the synthetic dataset is made in memory, and MNIST is read from
``$SPIKELOCAL_DATA`` or ``../shared/data`` beside the repository (skipped where absent).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from spikelocal.config import resolve_experiment

REPO = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path | None:
    for candidate in (os.environ.get("SPIKELOCAL_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "mnist" / "t10k-images-idx3-ubyte.gz").is_file():
            return Path(candidate)
    return None


@pytest.fixture
def mnist_root() -> Path:
    root = shared_data_root()
    if root is None:
        pytest.skip("MNIST files not found in $SPIKELOCAL_DATA or ../shared/data")
    return root


def tiny_config_dict(spiking: bool = True, conv: bool = False, **overrides: Any) -> dict[str, Any]:
    """A synthetic experiment that trains in about a second."""
    layers = ([{"kind": "conv", "channels": 4, "kernel": 3, "padding": 1, "pool": 2}] if conv
              else [{"kind": "dense", "units": 32}])
    layers += [{"kind": "dense", "units": 16}, {"kind": "dense", "units": 4}]
    cfg: dict[str, Any] = {
        "name": "tiny", "seed": 3,
        "network": {"neuron": {"kind": "lif" if spiking else "relu"}, "layers": layers,
                    "readout": {"output_scale": 4.0}, "weight_scale": 2.0},
        "data": {"dataset": "synthetic", "encoding": "rate" if spiking else "direct",
                 "steps": 8 if spiking else 1, "download": False,
                 "synthetic": {"n_train": 512, "n_test": 128, "shape": [1, 8, 8], "classes": 4}},
        "training": {"epochs": 3, "batch_size": 32, "lr": 1e-2, "progress": False, "time_chunk": 4},
        "rule": {"name": "local"},
    }
    for key, value in overrides.items():
        node = cfg
        parts = key.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return cfg


def tiny_config(spiking: bool = True, conv: bool = False, **overrides: Any):
    """The validated tiny experiment; keyword overrides use ``__`` for nesting
    (``training__epochs=3``)."""
    return resolve_experiment(tiny_config_dict(spiking, conv, **overrides), "tiny.yaml", {}, REPO)


@pytest.fixture
def tiny_run(tmp_path: Path) -> Path:
    """A finished run directory of the tiny spiking MLP."""
    from spikelocal.trainer import run

    torch.set_num_threads(1)
    out = tmp_path / "run"
    run(tiny_config(), out, progress=False)
    return out
