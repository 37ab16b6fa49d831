"""NIR export and import, checked with the real readers: ``nir.read`` and snnTorch's importer."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
import torch

from conftest import tiny_config
from spikelocal.errors import ExportError
from spikelocal.export.brian2_export import spikelocal_counts
from spikelocal.export.nir_export import network_to_nir, recording_to_nir_data, write_nir
from spikelocal.export.nir_import import read_nir, start_run_from_nir
from spikelocal.core.network import Network


def active_net(conv: bool = False, gain: float = 50.0, **overrides) -> Network:
    """A tiny network with weights large enough that every layer fires."""
    cfg = tiny_config(conv=conv, **overrides)
    net = Network.from_config(cfg.network, (1, 8, 8), 4, seed=0)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(gain)
    return net


def input_spikes(samples: int, steps: int = 20, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(samples, steps, 1, 8, 8, generator=g) < 0.4).float()


def snntorch_output_counts(module, spikes: torch.Tensor, flat: bool) -> np.ndarray:
    """Run an snnTorch graph module sample by sample (NIR shapes have no batch axis)."""
    import snntorch.utils

    out = []
    with torch.no_grad():
        for sample in spikes:
            snntorch.utils.reset(module)
            total = 0
            for x in sample:
                y = module(x.reshape(-1) if flat else x)
                total = total + (y[0] if isinstance(y, tuple) else y)
            out.append(total.numpy())
    return np.stack(out)


def import_with_snntorch(graph):
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()):  # snnTorch prints progress
        return import_from_nir(graph)


@pytest.mark.parametrize("conv", [False, True])
def test_nir_round_trip_equality(tmp_path: Path, conv: bool) -> None:
    net = active_net(conv)
    graph = network_to_nir(net)
    write_nir(net, tmp_path / "g.nir")
    back = nir.read(tmp_path / "g.nir")
    assert set(back.nodes) == set(graph.nodes)
    assert sorted(back.edges) == sorted(graph.edges)
    for name, node in graph.nodes.items():
        other = back.nodes[name]
        assert type(other) is type(node)
        for key, value in node.to_dict().items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(np.asarray(other.to_dict()[key]), value, err_msg=f"{name}.{key}")
    assert float(back.metadata["dt"]) == pytest.approx(1e-3)
    kinds = {type(n).__name__ for n in back.nodes.values()}
    assert {"Input", "Linear", "CubaLIF", "Output"} <= kinds
    if conv:
        assert {"Conv2d", "SumPool2d", "Flatten"} <= kinds


@pytest.mark.parametrize("conv", [False, True])
def test_snntorch_import_gives_the_same_output_spikes(tmp_path: Path, conv: bool) -> None:
    torch.set_num_threads(1)
    net = active_net(conv)
    write_nir(net, tmp_path / "g.nir", dt=1e-4)  # snnTorch's importer assumes dt = 1e-4 s
    module = import_with_snntorch(nir.read(tmp_path / "g.nir"))
    spikes = input_spikes(12)
    ours = spikelocal_counts(net, spikes)
    theirs = snntorch_output_counts(module, spikes, flat=not conv)
    assert ours[-1].sum() > 0 and ours[0].sum() > 0
    np.testing.assert_array_equal(theirs, ours[-1])


def test_export_import_round_trip_is_spike_exact(tmp_path: Path) -> None:
    net = active_net(conv=True)
    with torch.no_grad():  # a bias on V travels as v_leak
        net.layers[1].bias = torch.nn.Parameter(torch.linspace(-0.05, 0.05, 16))
    write_nir(net, tmp_path / "g.nir")
    back = read_nir(tmp_path / "g.nir")
    spikes = input_spikes(6)
    for a, b in zip(spikelocal_counts(net, spikes), spikelocal_counts(back, spikes)):
        np.testing.assert_array_equal(a, b)
    assert back.layers[1].bias is not None


def _snntorch_mlp():
    import snntorch as snn

    def neuron(n: int, output: bool = False):
        return snn.Synaptic(alpha=torch.full((n,), 0.8), beta=torch.full((n,), 0.9), threshold=torch.ones(n),
                            init_hidden=True, output=output, reset_mechanism="zero", reset_delay=False)

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 32, bias=False), neuron(32),
                               torch.nn.Linear(32, 4, bias=False), neuron(4, True))


def test_graph_from_snntorch_imports_and_keeps_training(tmp_path: Path) -> None:
    from snntorch.export_nir import export_to_nir

    torch.set_num_threads(1)
    module = _snntorch_mlp()
    graph = export_to_nir(module, torch.zeros(1, 64), ignore_dims=[0])
    nir.write(tmp_path / "snn.nir", graph)
    net = read_nir(tmp_path / "snn.nir", dt=1e-4)
    spikes = input_spikes(6, steps=25).reshape(6, 25, 64)
    theirs = snntorch_output_counts(module, spikes, flat=True)
    np.testing.assert_array_equal(spikelocal_counts(net, spikes)[-1], theirs)

    before = net.layers[0].weight.detach().clone()
    summary = start_run_from_nir(tmp_path / "snn.nir", tiny_config(), tmp_path / "run", dt=1e-4)
    from spikelocal.rundir import load_network

    _, trained = load_network(tmp_path / "run")
    assert summary["epochs"] == 3 and np.isfinite(summary["test_accuracy"])
    assert not torch.equal(trained.layers[0].weight, before)


def _foreign_lif_graph(dt: float = 1e-4):
    """A graph as another tool writes it: Affine (with bias) -> LIF, per-neuron r != tau/dt."""
    rng = np.random.default_rng(4)
    tau, r = np.full(32, 20 * dt), np.full(32, 2.0)
    tau2, r2 = np.full(4, 10 * dt), np.full(4, 1.5)
    nodes = {
        "input": nir.Input(np.array([64])),
        "fc1": nir.Affine(weight=rng.normal(0, 3.0, (32, 64)).astype(np.float32),
                          bias=rng.normal(0, 0.2, 32).astype(np.float32)),
        "lif1": nir.LIF(tau=tau, r=r, v_leak=np.zeros(32), v_threshold=np.ones(32)),
        "fc2": nir.Affine(weight=rng.normal(0, 3.0, (4, 32)).astype(np.float32), bias=np.zeros(4, np.float32)),
        "lif2": nir.LIF(tau=tau2, r=r2, v_leak=np.zeros(4), v_threshold=np.full(4, 0.8)),
        "output": nir.Output(np.array([4])),
    }
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def test_foreign_lif_graph_spikes_like_snntorch_and_keeps_training(tmp_path: Path) -> None:
    """LIF (no synaptic filter) + Affine bias: snnTorch's importer runs it as Leaky neurons."""
    torch.set_num_threads(1)
    nir.write(tmp_path / "lif.nir", _foreign_lif_graph())
    net = read_nir(tmp_path / "lif.nir", dt=1e-4)
    assert net.layers[0].bias is not None and net.layers[0].neuron_cfg.tau_syn < 1e-6
    spikes = input_spikes(10, steps=25).reshape(10, 25, 64)
    theirs = snntorch_output_counts(import_with_snntorch(nir.read(tmp_path / "lif.nir")), spikes, flat=True)
    ours = spikelocal_counts(net, spikes)
    assert ours[0].sum() > 0 and theirs.sum() > 0
    np.testing.assert_array_equal(ours[-1], theirs)
    summary = start_run_from_nir(tmp_path / "lif.nir", tiny_config(training__epochs=1), tmp_path / "run", dt=1e-4)
    from spikelocal.rundir import load_network

    _, trained = load_network(tmp_path / "run")
    assert summary["epochs"] == 1 and np.isfinite(summary["test_accuracy"])
    assert not torch.equal(trained.layers[0].weight, net.layers[0].weight)


def test_rate_and_subtract_networks_are_refused() -> None:
    rate = Network.from_config(tiny_config(spiking=False).network, (1, 8, 8), 4, 0)
    with pytest.raises(ExportError, match=r"layer1: NIR cannot express a 'relu'"):
        network_to_nir(rate)
    sub = active_net(network__neuron__reset="subtract")
    with pytest.raises(ExportError, match="layer1: NIR supports only the hard reset"):
        network_to_nir(sub)


def test_corrupt_foreign_and_unsupported_graphs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(ExportError, match="bad.nir: not a readable NIR graph"):
        read_nir(bad)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("x", data=np.arange(3))
    with pytest.raises(ExportError, match="foreign.h5: not a readable NIR graph"):
        read_nir(foreign)
    graph = nir.NIRGraph(nodes={"input": nir.Input(np.array([4])), "w": nir.Linear(np.ones((3, 4))),
                                "li": nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3)),
                                "output": nir.Output(np.array([3]))},
                         edges=[("input", "w"), ("w", "li"), ("li", "output")])
    nir.write(tmp_path / "li.nir", graph)
    with pytest.raises(ExportError, match="node 'li' has type LI.*supported: Input"):
        read_nir(tmp_path / "li.nir", dt=1e-3)
    with pytest.raises(ExportError, match="no 'dt' in its metadata"):
        read_nir(tmp_path / "li.nir")


def test_recording_as_nir_data(tmp_path: Path) -> None:
    net = active_net()
    spikes = input_spikes(3, steps=10)
    x = spikes.transpose(0, 1)
    layers = {}
    states = net.init_states(3)
    for i, layer in enumerate(net.layers):
        step = layer.step(x, states[i])
        act, membrane, states[i] = step.pooled, step.membrane, step.state
        layers[i + 1] = {"spikes": act.transpose(0, 1).reshape(3, 10, -1).numpy(),
                         "membrane": membrane.detach().transpose(0, 1).reshape(3, 10, -1).numpy(), "current": None}
        x = act
    data = recording_to_nir_data(spikes.reshape(3, 10, -1).numpy(), layers, 1e-3, {1: True, 2: True, 3: True})
    nir.write_data(tmp_path / "rec.h5", data)
    back = nir.read_data(str(tmp_path / "rec.h5"))
    assert set(back.nodes) == {"input", "lif1", "lif2", "lif3"}
    np.testing.assert_array_equal(back.nodes["lif2"].observables["spikes"].data, layers[2]["spikes"].astype(bool))
    np.testing.assert_allclose(back.nodes["lif1"].observables["v"].data, layers[1]["membrane"])
    assert back.nodes["input"].observables["output"].dt == pytest.approx(1e-3)
