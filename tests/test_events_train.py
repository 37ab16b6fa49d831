"""Event datasets end to end: tiny files in each real format -> config -> load -> train a step
-> run directory whose network is rebuilt without the data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from spikelocal.config import load_experiment, resolve_experiment
from spikelocal.data import load_dataset
from spikelocal.data.event_writers import synthetic_nmnist, write_dvsgesture_file, write_shd_file
from spikelocal.config import input_spec
from spikelocal.rundir import load_network
from spikelocal.data import encode
from spikelocal.trainer import Trainer, run

REPO = Path(__file__).resolve().parents[1]


def write_dvs(root: Path, per_class: int = 1) -> None:
    rng = np.random.default_rng(2)
    for split, folder in (("train", "ibmGestureTrain"), ("test", "ibmGestureTest")):
        for u in range(per_class):
            for label in range(11):
                n = 3000
                write_dvsgesture_file(root / "DVSGesture" / folder / f"user{u + 1:02d}_fluorescent" / f"{label}.npy",
                                      rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n),
                                      np.sort(rng.integers(0, 60, n)) + 2000)


def write_shd(root: Path, n: int = 40) -> None:
    rng = np.random.default_rng(3)
    for split in ("train", "test"):
        labels = np.arange(n) % 20
        units = [rng.integers(0, 700, 2000) for _ in labels]
        times = [np.sort(rng.random(2000) * 0.05) for _ in labels]
        write_shd_file(root / "SHD" / f"shd_{split}.h5", times, units, labels)


CASES = {
    "nmnist": ({"steps": 10, "events": {"window_ms": 5.0, "size": [16, 16]}},
               [{"kind": "conv", "channels": 4, "kernel": 3, "padding": 1, "pool": 2}], (2, 16, 16), 10),
    "dvsgesture": ({"steps": 12, "events": {"window_ms": 5.0, "size": [32, 32], "polarity": "merge"}},
                   [{"kind": "conv", "channels": 4, "kernel": 3, "padding": 1, "pool": 4}], (1, 32, 32), 11),
    "shd": ({"steps": 10, "events": {"window_ms": 5.0}}, [{"kind": "dense", "units": 32}], (700,), 20),
}


def experiment(root: Path, dataset: str) -> dict:
    data, hidden, _, classes = CASES[dataset]
    return {"name": f"tiny-{dataset}", "seed": 1,
            "network": {"layers": hidden + [{"kind": "dense", "units": classes}], "weight_scale": 8.0},
            "data": {"dataset": dataset, "root": str(root), "download": False, **data},
            "training": {"epochs": 1, "batch_size": 8, "time_chunk": 4, "progress": False, "threads": 1}}


@pytest.mark.parametrize("dataset", list(CASES))
def test_load_train_a_step_and_rebuild(tmp_path: Path, dataset: str) -> None:
    torch.set_num_threads(1)
    {"nmnist": lambda r: synthetic_nmnist(r, 20, 10, events=300, duration_us=50_000),
     "dvsgesture": write_dvs, "shd": write_shd}[dataset](tmp_path)
    config = resolve_experiment(experiment(tmp_path, dataset), "x.yaml", {}, REPO)
    _, _, shape, classes = CASES[dataset]
    assert input_spec(config.data) == (shape, classes)
    data = load_dataset(config.data, config.seed)
    assert data.input_shape == shape and len(data.classes) == classes

    chunks = list(encode(config, data.train_x[torch.tensor([0, 1, 2])], torch.Generator()))
    assert sum(c.shape[0] for c in chunks) == config.data.steps
    assert all(c.shape[1:] == (3, *shape) for c in chunks) and sum(c.sum() for c in chunks) > 0

    trainer = Trainer(config, data)
    before = [p.detach().clone() for p in trainer.net.parameters()]
    stats = trainer.train_epoch(progress=False)
    assert all(np.isfinite(stats["loss"]))
    assert all(not torch.equal(a, b) for a, b in zip(before, trainer.net.parameters()))

    summary = run(config, tmp_path / "run", progress=False)
    assert summary["train_samples"] == len(data.train_x) and 0 <= summary["test_accuracy"] <= 1
    cfg2, net = load_network(tmp_path / "run")
    assert net.input_shape == shape and cfg2.data.events == config.data.events


def test_train_fraction_applies_to_event_sets(tmp_path: Path) -> None:
    write_shd(tmp_path)
    raw = experiment(tmp_path, "shd")
    raw["data"]["train_fraction"] = 0.5
    data = load_dataset(resolve_experiment(raw, "x.yaml", {}, REPO).data, 1)
    assert len(data.train_x) == len(data.train_y) == 20 and sorted(set(data.train_y.tolist())) == list(range(20))


@pytest.mark.parametrize("name, steps, shape", [("nmnist_conv_local", 300, (2, 32, 32)),
                                                ("shd_mlp_local", 100, (700,))])
def test_example_experiments_validate(name: str, steps: int, shape: tuple[int, ...]) -> None:
    config = load_experiment(REPO / "experiments" / f"{name}.yaml")
    assert config.data.steps == steps and input_spec(config.data)[0] == shape


def test_synthetic_nmnist_is_learned(tmp_path: Path) -> None:
    """Classes of the synthetic N-MNIST set fire in their own rows: a small net must beat chance (10%) by far."""
    torch.set_num_threads(1)
    synthetic_nmnist(tmp_path, 300, 100, events=400, duration_us=50_000)
    raw = experiment(tmp_path, "nmnist")
    raw["network"]["layers"] = [{"kind": "dense", "units": 64}, {"kind": "dense", "units": 10}]
    raw["training"].update({"epochs": 3, "batch_size": 20, "lr": 5e-3})
    summary = run(resolve_experiment(raw, "x.yaml", {}, REPO), tmp_path / "run", progress=False)
    assert summary["test_accuracy"] > 0.5
