"""Early stopping on a held-out part of the training set (training.early_stopping)."""
from __future__ import annotations

import json

import numpy as np
import torch

from spikelocal import rundir
from spikelocal import load_run
from spikelocal.data import load_dataset, validation_split
from spikelocal.trainer import evaluate, run

from conftest import tiny_config


def test_validation_split_is_stratified_disjoint_and_seeded():
    labels = np.repeat(np.arange(4), 50)
    keep, held = validation_split(labels, 0.1, seed=3)
    assert len(held) == 20 and np.bincount(labels[held]).tolist() == [5, 5, 5, 5]
    assert not set(keep) & set(held) and len(keep) + len(held) == 200
    assert np.array_equal(held, validation_split(labels, 0.1, seed=3)[1])
    assert not np.array_equal(held, validation_split(labels, 0.1, seed=4)[1])


def test_stops_after_patience_and_keeps_the_best_epoch(tmp_path):
    torch.set_num_threads(1)
    # lr far too high for a rate net: validation accuracy peaks early and training stops
    config = tiny_config(spiking=False, training__epochs=12, training__lr=0.5,
                         training__early_stopping={"patience": 2, "validation_fraction": 0.25})
    summary = run(config, tmp_path / "r", progress=False)
    rows = rundir.read_metrics(tmp_path / "r")
    vals = [r["val_acc"] for r in rows]
    best = int(np.argmax(vals)) + 1
    assert summary["best_epoch"] == best and summary["val_accuracy"] == max(vals)
    assert len(rows) == min(12, best + 2)
    assert summary["test_accuracy"] == rows[best - 1]["test_acc"]
    assert summary["train_samples"] == 384 and summary["validation_samples"] == 128
    stored = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert stored["best_epoch"] == best
    reopened = load_run(tmp_path / "r")   # the run directory holds the best epoch's network
    config = reopened.config
    data = load_dataset(config.data, config.seed)
    assert evaluate(reopened.network, config, data.test_x, data.test_y).accuracy[-1] == summary["test_accuracy"]


def test_off_by_default_changes_nothing(tmp_path):
    torch.set_num_threads(1)
    summary = run(tiny_config(spiking=False, training__epochs=2), tmp_path / "r", progress=False)
    assert "best_epoch" not in summary and summary["train_samples"] == 512
    assert "val_acc" not in rundir.read_metrics(tmp_path / "r")[0]
