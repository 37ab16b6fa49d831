"""Brian2 export: the network rebuilt in Brian2 spikes like spikelocal, and the exported folder runs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_config
from spikelocal.errors import ExportError
from spikelocal.export.brian2_export import (brian2_counts, brian2_network, network_arrays, spikelocal_counts,
                                             write_brian2)
from spikelocal.core.network import Network


def active_net(conv: bool = False, gain: float = 50.0) -> Network:
    net = Network.from_config(tiny_config(conv=conv).network, (1, 8, 8), 4, seed=0)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(gain)
    return net


def input_spikes(samples: int, steps: int = 20, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(samples, steps, 1, 8, 8, generator=g) < 0.4).float()


@pytest.mark.parametrize("conv", [False, True])
def test_brian2_parity(conv: bool) -> None:
    torch.set_num_threads(1)
    net = active_net(conv)
    if not conv:  # a bias on V must be honoured too
        with torch.no_grad():
            net.layers[1].bias = torch.nn.Parameter(torch.linspace(-0.05, 0.05, 16))
    spikes = input_spikes(16)
    ours = spikelocal_counts(net, spikes)
    theirs = brian2_counts(net, spikes)
    for layer, (a, b) in enumerate(zip(ours, theirs), start=1):
        assert a.sum() > 0, f"layer {layer} is silent: the test would prove nothing"
        same = float(np.mean(a == b))
        assert same >= 0.99, f"layer {layer}: {same:.4f} of (sample, neuron) counts agree"
    assert np.mean(ours[-1].argmax(1) == theirs[-1].argmax(1)) >= 0.99


def test_brian2_network_objects() -> None:
    import brian2 as b2

    net = active_net(conv=True)
    network, monitors, window = brian2_network(net, input_spikes(2, steps=5))
    kinds = {type(o).__name__ for o in network.objects}
    assert {"NeuronGroup", "Synapses", "SpikeGeneratorGroup", "SpikeMonitor"} <= kinds
    assert len(monitors) == 3 and window == 5 + 3
    syn = [o for o in network.objects if isinstance(o, b2.Synapses) and o.name == "syn2"][0]
    # the pooled conv output (4 x 4 x 4) reaches 16 units through 4 x 8 x 8 unpooled neurons
    assert len(syn) == 16 * 256
    network.run(1e-3 * b2.second)  # (Brian2 warns about objects that never ran)


@pytest.mark.slow
def test_exported_folder_runs_in_a_fresh_python(tmp_path: Path) -> None:
    net = active_net()
    spikes = input_spikes(5)
    labels = torch.tensor([0, 1, 2, 3, 0])
    write_brian2(net, tmp_path / "b2", steps=20, samples=spikes, labels=labels)
    assert sorted(p.name for p in (tmp_path / "b2").iterdir()) == ["run.py", "spikelocal_brian2.py", "weights.npz"]
    out = subprocess.run([sys.executable, str(tmp_path / "b2" / "run.py")], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    expected = spikelocal_counts(net, spikes)[-1].argmax(1)
    assert f"predicted classes: {' '.join(map(str, expected))}" in out.stdout


def test_rate_network_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    rate = Network.from_config(tiny_config(spiking=False).network, (1, 8, 8), 4, 0)
    with pytest.raises(ExportError, match="layer1: Brian2 cannot express a 'relu'"):
        write_brian2(rate, tmp_path / "b2", steps=1)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError):
        network_arrays(rate, 1)
