"""Global magnitude pruning and test-time input noise (spikelocal.conditions)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from spikelocal import rundir
from spikelocal.checkpoint import load_checkpoint
from spikelocal.conditions import (PRUNE_FILE, gaussian_pixels, magnitude_masks, spike_noise,
                                   sparsity_of)
from spikelocal.config import NoiseConfig
from spikelocal.errors import ConfigError
from spikelocal.trainer import Trainer, run


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_magnitude_masks_rank_all_layers_together():
    a = torch.tensor([[0.1, -5.0], [0.2, 4.0]])
    b = torch.tensor([0.3, -0.05, 6.0, 0.4])
    masks = magnitude_masks([a, b], sparsity=0.5, min_per_layer=0.0)
    # the 4 smallest magnitudes over both layers: 0.05, 0.1, 0.2, 0.3
    assert masks[0].tolist() == [[False, True], [False, True]]
    assert masks[1].tolist() == [False, False, True, True]


def test_magnitude_masks_keep_a_minimum_per_layer():
    big = torch.full((10,), 10.0)
    small = torch.tensor([0.1, 0.3, 0.2, 0.4])
    masks = magnitude_masks([big, small], sparsity=0.25, min_per_layer=0.5)  # 3 of 14 go
    assert masks[0].all()                                    # nothing of the big layer goes
    assert masks[1].tolist() == [False, True, False, True]   # its 2 largest come back
    with pytest.raises(ValueError):
        magnitude_masks([big], sparsity=1.0, min_per_layer=0.0)


def test_spike_noise_deletion_insertion_and_jitter():
    gen = torch.Generator().manual_seed(0)
    spikes = (torch.rand(20, 8, 30, generator=gen) < 0.3).float()
    assert torch.equal(spike_noise(spikes, NoiseConfig(), gen), spikes)
    assert spike_noise(spikes, NoiseConfig(spike_deletion=1.0), gen).sum() == 0
    assert spike_noise(spikes, NoiseConfig(spike_insertion=1.0), gen).min() == 1
    half = spike_noise(spikes, NoiseConfig(spike_deletion=0.5), gen)
    assert (half <= spikes).all() and 0.35 < half.sum() / spikes.sum() < 0.65
    # one spike per input: jitter keeps every spike and moves it by at most 2 steps
    single = torch.zeros(20, 4, 50)
    t0 = torch.randint(0, 20, (4, 50), generator=gen)
    single.scatter_(0, t0.unsqueeze(0), 1.0)
    moved = spike_noise(single, NoiseConfig(jitter=2), gen)
    assert moved.sum() == single.sum()
    shift = moved.argmax(0) - t0
    assert shift.abs().max() <= 2 and (shift != 0).any()


def test_gaussian_pixels_clip_to_unit_range():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(100, 1, 8, 8, generator=gen)
    assert torch.equal(gaussian_pixels(x, 0.0, gen), x)
    noisy = gaussian_pixels(x.clone(), 0.5, gen)
    assert noisy.min() >= 0 and noisy.max() <= 1 and not torch.equal(noisy, x)


def test_prune_after_training_reports_pruned_accuracy(tmp_path: Path):
    clean = run(tiny_config(), tmp_path / "clean", progress=False)
    summary = run(tiny_config(prune={"sparsity": 0.9}), tmp_path / "pruned", progress=False)
    assert summary["test_accuracy"] == clean["test_accuracy"]          # training is untouched
    assert summary["prune_sparsity"] == pytest.approx(0.9, abs=0.01)
    assert summary["condition_test_accuracy"] == summary["pruned_test_accuracy"]
    tensors, _ = load_checkpoint(tmp_path / "pruned" / rundir.CHECKPOINT)
    assert (tensors["net.layers.0.weight"] != 0).all()                 # the checkpoint stays unpruned
    stored = json.loads((tmp_path / "pruned" / rundir.SUMMARY).read_text())
    assert stored["pruned_test_accuracy"] == summary["pruned_test_accuracy"]


def test_prune_then_retrain_holds_pruned_weights_at_zero_and_resumes(tmp_path: Path, monkeypatch):
    cfg = tiny_config(prune={"sparsity": 0.7, "mode": "retrain", "retrain_epochs": 2}, training__epochs=4)
    full = run(cfg, tmp_path / "full", progress=False)
    record = json.loads((tmp_path / "full" / PRUNE_FILE).read_text())
    assert record["epoch"] == 2 and record["prune_sparsity"] == pytest.approx(0.7, abs=0.01)
    assert full["prune_sparsity"] == pytest.approx(record["prune_sparsity"])   # retraining revives nothing
    assert full["pruned_test_accuracy"] == full["test_accuracy"]
    # killed during epoch 4 (after pruning), then resumed: the mask comes back from the checkpoint
    original = Trainer.train_epoch

    def dies_in_epoch_4(self, progress):
        if self.epoch == 3:
            raise KeyboardInterrupt
        return original(self, progress)

    monkeypatch.setattr(Trainer, "train_epoch", dies_in_epoch_4)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path / "killed", progress=False)
    monkeypatch.setattr(Trainer, "train_epoch", original)
    resumed = run(cfg, tmp_path / "killed", resume=True, progress=False)
    assert resumed["test_accuracy"] == full["test_accuracy"]
    assert resumed["prune_sparsity"] == full["prune_sparsity"]


def test_noise_lowers_accuracy_and_leaves_clean_evaluation_alone(tmp_path: Path):
    clean = run(tiny_config(), tmp_path / "clean", progress=False)
    deleted = run(tiny_config(noise={"spike_deletion": 1.0}), tmp_path / "deleted", progress=False)
    assert deleted["test_accuracy"] == clean["test_accuracy"]
    assert deleted["noisy_test_accuracy"] < clean["test_accuracy"]
    assert deleted["condition_test_accuracy"] == deleted["noisy_test_accuracy"]
    rate = run(tiny_config(spiking=False, noise={"gaussian": 0.3}, training__epochs=2), tmp_path / "rate",
               progress=False)
    assert 0 <= rate["noisy_test_accuracy"] <= 1


def test_condition_config_errors():
    with pytest.raises(ConfigError, match="noise: spike deletion"):
        tiny_config(spiking=False, noise={"jitter": 1})
    with pytest.raises(ConfigError, match="prune.retrain_epochs"):
        tiny_config(prune={"sparsity": 0.5, "mode": "retrain", "retrain_epochs": 3})
    with pytest.raises(ConfigError, match="prune.sparsity"):
        tiny_config(prune={"sparsity": 1.0})
