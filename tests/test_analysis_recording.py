"""Recording: same spikes as the chunked simulation, the HDF5 layout, the run hook."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from spikelocal import rundir
from spikelocal.analysis.recording import load_recording, record, save_recording
from spikelocal.data import load_dataset
from spikelocal.errors import ConfigError, RunDirError
from spikelocal import seeds
from spikelocal.data import batch_generator, encode
from spikelocal.trainer import Trainer, evaluate, run

from conftest import tiny_config


def test_recording_matches_chunked_simulation(tiny_run):
    config, net = rundir.load_network(tiny_run)
    data = load_dataset(config.data, config.seed)
    rec = record(net, config, data.test_x, data.test_y, 10, epoch=3)
    # the same encoded inputs through layer.step in chunks of K = time_chunk
    x = torch.cat(list(encode(config, data.test_x[:config.training.eval_batch_size],
                              batch_generator(config.seed + seeds.TEST_ENCODING, 0, 0))))
    assert np.array_equal(rec.inputs, x[:, :10].reshape(x.shape[0], 10, -1).transpose(0, 1).numpy())
    states = net.init_states(x.shape[1])
    inp = x
    with torch.no_grad():
        for i, layer in enumerate(net.layers):
            outs, mems = [], []
            for start in range(0, x.shape[0], config.training.time_chunk):
                step = layer.step(inp[start:start + config.training.time_chunk], states[i])
                act, mem, states[i] = step.pooled, step.membrane, step.state
                outs.append(act)
                mems.append(mem)
            inp = torch.cat(outs)
            mem = torch.cat(mems)
            assert np.array_equal(rec.layer(i + 1).spikes, inp[:, :10].transpose(0, 1).numpy().astype(np.uint8))
            assert np.allclose(rec.layer(i + 1).membrane, mem[:, :10].transpose(0, 1).numpy(), atol=1e-5)
    # the last step's readout accuracy is the evaluation accuracy on the same batch
    n = min(config.training.eval_batch_size, len(data.test_x))
    ev = evaluate(net, config, data.test_x[:n], data.test_y[:n])
    assert np.allclose(rec.readout_accuracy[:, -1], ev.accuracy, atol=1e-6)
    assert rec.accuracy_samples == n


def test_current_follows_the_synapse_equation(tiny_run):
    config, net = rundir.load_network(tiny_run)
    data = load_dataset(config.data, config.seed)
    rec = record(net, config, data.test_x, data.test_y, 4)
    layer = net.layers[1]
    alpha = layer.neuron.alpha
    pre = torch.from_numpy(rec.layer(1).spikes.astype(np.float32))          # [N, T, n_in]
    drive = (pre @ layer.weight.detach().t()).numpy()
    current = rec.layer(2).current
    expected = np.zeros_like(current)
    for t in range(current.shape[1]):
        expected[:, t] = (alpha * expected[:, t - 1] if t else 0) + drive[:, t]
    assert np.allclose(current, expected, atol=1e-5)


def test_hdf5_layout_roundtrip(tiny_run, tmp_path):
    config, net = rundir.load_network(tiny_run)
    data = load_dataset(config.data, config.seed)
    rec = record(net, config, data.test_x, data.test_y, 7, layers=[2], variables=["spikes", "membrane"],
                 epoch=2, classes=data.classes)
    path = save_recording(rec, tmp_path / "r.h5")
    with h5py.File(path) as f:
        assert f.attrs["dt"] == config.network.neuron.dt and f.attrs["epoch"] == 2
        assert f["labels"].shape == (7,) and f["input_spikes"].dtype == np.uint8
        assert f["readout_accuracy"].shape == (3, config.data.steps)
        assert set(f) == {"labels", "sample_index", "input_spikes", "readout_accuracy", "layer2"}
        assert f["layer2/spikes"].shape == (7, config.data.steps, 16) and f["layer2/spikes"].dtype == np.uint8
        assert "threshold" in f["layer2/membrane"].attrs["units"]
        assert "current" not in f["layer2"]
    back = load_recording(path)
    assert np.array_equal(back.layer(2).spikes, rec.layer(2).spikes)
    assert back.layer(2).current is None and back.classes == data.classes
    with pytest.raises(ConfigError, match="layer 1 was not recorded"):
        back.layer(1)
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(RunDirError):
        load_recording(tmp_path / "bad.h5")


def test_record_rejects_missing_and_rate_layers(tiny_run):
    config, net = rundir.load_network(tiny_run)
    data = load_dataset(config.data, config.seed)
    with pytest.raises(ConfigError, match="layer 5 does not exist"):
        record(net, config, data.test_x, data.test_y, 2, layers=[5])
    with pytest.raises(ConfigError, match="layer 5 does not exist"):
        tiny_config(record={"layers": [5]})
    with pytest.raises(ConfigError, match="epoch 7 is not run"):
        tiny_config(record={"epochs": [7]})


def test_hook_records_chosen_epochs(tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    summary = run(tiny_config(record={"samples": 12, "epochs": [1, 3], "layers": [1]}), out, progress=False)
    files = sorted(p.name for p in (out / "recordings").iterdir())
    assert files == ["epoch_001.h5", "epoch_001_neurons.csv", "epoch_003.h5", "epoch_003_neurons.csv"]
    stored = json.loads((out / "summary.json").read_text())
    assert stored["recording"]["epoch"] == 3 and stored["recording"]["samples"] == 12
    assert set(stored["recording"]["layers"]) == {"layer1"}
    assert summary["recording"]["file"] == "recordings/epoch_003.h5"
    assert len((out / "recordings" / "epoch_003_neurons.csv").read_text().splitlines()) == 1 + 32


def test_no_hook_without_record_section():
    from spikelocal.analysis.hook import AnalysisHook

    config = tiny_config()
    data = load_dataset(config.data, config.seed)
    assert not any(isinstance(h, AnalysisHook) for h in Trainer(config, data).hooks)
    config = tiny_config(record={"samples": 0})
    assert not any(isinstance(h, AnalysisHook) for h in Trainer(config, data).hooks)
