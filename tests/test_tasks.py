"""Temporal tasks: deterministic generators, labels that follow the task's definition, the
decision window, and a recurrent run from an experiment file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import spikelocal as sl
from spikelocal.config import DataConfig, load_experiment
from spikelocal.core import Network
from spikelocal.core.network import simulate
from spikelocal.data.tasks import decision_start, load_task, task_steps
from spikelocal.errors import ConfigError

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def small(dataset: str, **task) -> DataConfig:
    defaults = {"cue_accumulation": {"n_train": 30, "n_test": 10},
                "delayed_recall": {"n_train": 30, "n_test": 10},
                "randman": {"samples_per_class": 6, "classes": 3, "units": 8}}
    cfg = DataConfig(dataset=dataset, steps=30, **{dataset: {**defaults[dataset], **task}})
    return cfg.model_copy(update={"steps": task_steps(cfg)})


@pytest.mark.parametrize("dataset", ["cue_accumulation", "delayed_recall", "randman"])
def test_same_seed_same_samples_other_seed_others(dataset):
    a, b = load_task(small(dataset)), load_task(small(dataset))
    c = load_task(small(dataset, seed=1))
    assert torch.equal(a[0].dense(), b[0].dense()) and np.array_equal(a[1], b[1])
    assert not torch.equal(a[0].dense(), c[0].dense())


def test_cue_accumulation_label_is_the_side_with_more_cues():
    cfg = small("cue_accumulation", rate=1.0, noise_rate=0.0)
    frames, labels, *_ = load_task(cfg)
    c = cfg.cue_accumulation
    x = frames.dense().numpy()                        # [N, T, 4 * population]
    period = c.cue_steps + c.gap_steps
    starts = np.arange(c.cues) * period
    left = x[:, starts, :c.population].all(-1).sum(1)
    right = x[:, starts, c.population:2 * c.population].all(-1).sum(1)
    assert np.all(left + right == c.cues)
    assert np.array_equal(labels, (right > left).astype(int))
    # nothing but the recall population fires in the decision window
    assert x[:, decision_start(cfg):, :2 * c.population].sum() == 0
    assert x[:, decision_start(cfg):, 2 * c.population:3 * c.population].all()


def test_randman_gives_each_unit_its_spikes():
    cfg = small("randman", spikes=2)
    frames, labels, test, test_labels, names = load_task(cfg)
    x = frames.dense()
    assert x.shape[1:] == (cfg.steps, 8)
    assert torch.all(x.sum(1) == 2)
    assert sorted(set(labels.tolist()) | set(test_labels.tolist())) == [0, 1, 2] and len(names) == 3


def test_steps_must_match_the_trial():
    with pytest.raises(ConfigError, match="data.steps: 99, but a cue_accumulation trial"):
        load_experiment(EXPERIMENTS / "cue_accumulation_eprop.yaml", ["data.steps=99"])


def test_scores_count_only_the_decision_window():
    net = Network.from_config(load_experiment(EXPERIMENTS / "cue_accumulation_eprop.yaml").network,
                              (40,), 2, 0)
    x = torch.zeros(180, 3, 40)
    x[:100] = 1.0                                   # input only before the decision window
    late = simulate(net, torch.split(x, 50), score_from=160).logits[-1]
    bias_only = net.layers[-1].bias.detach() * 20   # the linear readout's bias, 20 steps
    torch.testing.assert_close(late, bias_only.expand(3, 2), rtol=1e-5, atol=1e-5)


def test_recurrent_experiment_trains_from_yaml(tmp_path):
    run = sl.train(EXPERIMENTS / "cue_accumulation_eprop.yaml", tmp_path / "run",
                   overrides=["training.epochs=1", "data.cue_accumulation.n_train=64",
                              "data.cue_accumulation.n_test=32", "network.layers.0.units=20"])
    assert (tmp_path / "run" / "metrics.csv").exists()
    assert 0.0 <= run.test_accuracy <= 1.0
    assert run.network.layers[0].recurrent.shape == (20, 20)


def test_recording_holds_the_adaptation_of_alif_layers(tmp_path):
    from spikelocal.analysis.recording import load_recording, record, save_recording
    from spikelocal.data import load_dataset

    config = load_experiment(EXPERIMENTS / "cue_accumulation_eprop.yaml",
                             ["data.cue_accumulation.n_train=8", "data.cue_accumulation.n_test=4",
                              "network.weight_scale=8.0"])
    data = load_dataset(config.data, 0)
    net = Network.from_config(config.network, data.input_shape, 2, 0)
    rec = record(net, config, data.test_x, data.test_y, samples=4, layers=[1],
                 variables=["spikes", "adaptation"])
    back = load_recording(save_recording(rec, tmp_path / "r.h5")).layers[1]
    spikes, adaptation = back.spikes.astype(np.float64), back.adaptation
    assert spikes.sum() > 0 and back.membrane is None
    rho = np.exp(-config.network.neuron.dt / config.network.neuron.tau_adapt)
    expected = np.zeros_like(adaptation)
    for t in range(spikes.shape[1]):   # a[t] = rho a[t-1] + s[t]
        expected[:, t] = (rho * expected[:, t - 1] if t else 0) + spikes[:, t]
    np.testing.assert_allclose(adaptation, expected, rtol=1e-5, atol=1e-5)
