"""Portable NIR exports (``--reader sinabs|rockpool``): the nir 1.0.4 layout, the readers'
conventions, spikelocal's own reimport, one-line refusals, the nir floor; and (slow) the real
Sinabs and Rockpool importers in their own environments, as ``bench/nir_readers.py`` runs them."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
import torch

from conftest import tiny_config
from spikelocal.core.network import Network
from spikelocal.errors import ExportError
from spikelocal.export.brian2_export import spikelocal_counts
from spikelocal.export.nir_import import read_nir
from spikelocal.export.nir_portable import LEGACY_KEYS, PRESET, READERS, portable_graph, write_portable
from spikelocal.export.nir_version import NIR_FLOOR, require_nir

REPO = Path(__file__).resolve().parents[1]


def portable_net(filtered: bool = False, conv: bool = False, gains: tuple[float, ...] | None = None,
                 seed: int = 0) -> Network:
    """A tiny subtract-reset network (no synaptic filter unless ``filtered``) whose layers all
    fire, none of them reaching two thresholds in one step (unless ``gains`` says otherwise)."""
    overrides = {"network__neuron__reset": "subtract"}
    if not filtered:
        overrides["network__neuron__tau_syn"] = 1e-6
    net = Network.from_config(tiny_config(conv=conv, **overrides).network, (1, 8, 8), 4, seed=seed)
    gains = gains or ((6.0, 30.0, 80.0) if filtered else (4.0, 12.0, 40.0))
    with torch.no_grad():
        for i, (layer, gain) in enumerate(zip(net.layers, gains)):
            layer.weight.mul_(gain)
            if i == 0 and layer.bias is None:  # a bias, to check where each reader adds it
                layer.bias = torch.nn.Parameter(torch.linspace(-0.05, 0.05, layer.weight.shape[0]))
    return net


def input_spikes(samples: int, steps: int = 20, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(samples, steps, 1, 8, 8, generator=g) < 0.4).float()


def node_keys(path: Path) -> dict[str, set[str]]:
    with h5py.File(path, "r") as f:
        nodes = f["node"]["nodes"]
        return {name: (nodes[name]["type"][()].decode(), set(nodes[name].keys())) for name in nodes}


def in_order(graph) -> list:
    """The nodes from Input to Output (``nir.read`` returns them sorted by name)."""
    succ = dict(graph.edges)
    name = next(k for k, n in graph.nodes.items() if isinstance(n, nir.Input))
    order = [graph.nodes[name]]
    while name in succ:
        name = succ[name]
        order.append(graph.nodes[name])
    return order


# ---- the readers' discretisations, written from their importers (Sinabs 3.1, Rockpool 3.1) ----


def sinabs_like(graph, x: np.ndarray) -> list[np.ndarray]:
    """Affine -> nn.Linear; LIF -> v = exp(-1/tau) v + x, floor(v/theta) spikes, subtract."""
    counts, h = [], x.reshape(x.shape[0], x.shape[1], -1).astype(np.float64)
    for node in in_order(graph):
        if isinstance(node, nir.Affine):
            h = h @ np.asarray(node.weight, np.float64).T + np.asarray(node.bias, np.float64)
        elif isinstance(node, nir.LIF):
            decay, theta = np.exp(-1.0 / np.asarray(node.tau)), np.asarray(node.v_threshold)
            v, out = np.zeros(h.shape[::2]), np.zeros_like(h)
            for t in range(h.shape[1]):
                v = decay * v + h[:, t]
                out[:, t] = np.where(v >= theta, np.floor(v / theta), 0)
                v = v - out[:, t] * theta
            h = out
            counts.append(out.sum(1))
    return counts


def rockpool_like(graph, x: np.ndarray) -> list[np.ndarray]:
    """Linear -> x W^T; CubaLIF -> dt = min(tau_mem/(1+r)), i = a(i + x), v = b v + i + v_leak."""
    counts, h = [], x.reshape(x.shape[0], x.shape[1], -1).astype(np.float64)
    for node in in_order(graph):
        if isinstance(node, nir.Linear):
            h = h @ np.asarray(node.weight, np.float64).T
        elif isinstance(node, nir.CubaLIF):
            dt = float(np.min(node.tau_mem / (1 + node.r)))
            a, b = np.exp(-dt / np.asarray(node.tau_syn)), np.exp(-dt / np.asarray(node.tau_mem))
            theta = np.asarray(node.v_threshold)
            i, v, out = np.zeros(h.shape[::2]), np.zeros(h.shape[::2]), np.zeros_like(h)
            for t in range(h.shape[1]):
                i = a * (i + h[:, t])
                v = b * v + i + np.asarray(node.v_leak)
                out[:, t] = np.where(v >= theta, np.floor(v / theta), 0)
                v = v - out[:, t] * theta
            h = out
            counts.append(out.sum(1))
    return counts


EMULATORS = {"sinabs": sinabs_like, "rockpool": rockpool_like}


@pytest.mark.parametrize("reader,filtered", [("sinabs", False), ("rockpool", False), ("rockpool", True)])
def test_reader_discretisation_reproduces_spikelocal(tmp_path: Path, reader: str, filtered: bool) -> None:
    torch.set_num_threads(1)
    net = portable_net(filtered=filtered)
    spikes = input_spikes(10)
    write_portable(net, tmp_path / "g.nir", reader)
    graph = nir.read(tmp_path / "g.nir")
    ours = spikelocal_counts(net, spikes)
    theirs = EMULATORS[reader](graph, spikes.numpy())
    assert all(a.sum() > 0 for a in ours)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("reader", list(READERS))
def test_file_has_only_what_nir_104_reads(tmp_path: Path, reader: str) -> None:
    write_portable(portable_net(), tmp_path / "g.nir", reader)
    kinds = set()
    for name, (kind, keys) in node_keys(tmp_path / "g.nir").items():
        kinds.add(kind)
        assert keys <= LEGACY_KEYS[kind], f"{name}: {sorted(keys - LEGACY_KEYS[kind])}"
        assert "v_reset" not in keys
    with h5py.File(tmp_path / "g.nir", "r") as f:
        meta = {k: v[()] for k, v in f["node"]["metadata"].items()}
    assert meta["reader"].decode() == reader and meta["reset"].decode() == "subtract"
    assert ("SingleSpike" if reader == "sinabs" else "max_spikes_per_dt") in meta["load"].decode()
    if reader == "sinabs":
        assert {"Affine", "LIF", "Flatten"} <= kinds and not kinds & {"CubaLIF", "Linear"}
    else:
        assert {"Linear", "CubaLIF"} <= kinds and not kinds & {"LIF", "Flatten", "Affine"}


@pytest.mark.parametrize("reader,filtered", [("sinabs", False), ("rockpool", False), ("rockpool", True)])
def test_spikelocal_reimports_a_portable_file_exactly(tmp_path: Path, reader: str, filtered: bool) -> None:
    torch.set_num_threads(1)
    net = portable_net(filtered=filtered, gains=(20.0, 60.0, 100.0))  # several spikes a step in readers
    write_portable(net, tmp_path / "g.nir", reader)
    back = read_nir(tmp_path / "g.nir")
    assert all(layer.neuron_cfg.reset == "subtract" for layer in back.layers)
    spikes = input_spikes(8)
    for a, b in zip(spikelocal_counts(net, spikes), spikelocal_counts(back, spikes)):
        np.testing.assert_array_equal(a, b)


def test_sinabs_conv_network_is_portable(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    net = portable_net(conv=True, gains=(3.0, 12.0, 40.0))
    write_portable(net, tmp_path / "g.nir", "sinabs")
    kinds = {kind for kind, _ in node_keys(tmp_path / "g.nir").values()}
    assert {"Conv2d", "SumPool2d", "LIF"} <= kinds
    back = read_nir(tmp_path / "g.nir")
    spikes = input_spikes(6)
    for a, b in zip(spikelocal_counts(net, spikes), spikelocal_counts(back, spikes)):
        np.testing.assert_array_equal(a, b)


def test_what_a_reader_cannot_express_is_refused_in_one_line() -> None:
    hard = Network.from_config(tiny_config(network__neuron__tau_syn=1e-6).network, (1, 8, 8), 4, 0)
    cases = [
        (hard, "sinabs", r"layer1: a hard reset cannot be expressed for Sinabs"),
        (hard, "rockpool", r"layer1: a hard reset cannot be expressed for Rockpool"),
        (portable_net(filtered=True), "sinabs", r"layer1: Sinabs's from_nir maps no CubaLIF"),
        (portable_net(conv=True), "rockpool", r"layer1: Rockpool's from_nir maps no Conv2d or Flatten"),
    ]
    for net, reader, message in cases:
        with pytest.raises(ExportError, match=message) as info:
            portable_graph(net, reader)
        assert "\n" not in str(info.value) and PRESET in str(info.value)
    with pytest.raises(ExportError, match="--reader 'norse': expected one of sinabs, rockpool"):
        portable_graph(hard, "norse")


def test_nir_floor_is_declared_and_checked() -> None:
    text = (REPO / "pyproject.toml").read_text()
    floor = re.search(r'"nir>=([0-9.]+)"', text)
    assert floor is not None and tuple(int(p) for p in floor.group(1).split(".")) == NIR_FLOOR
    require_nir()  # the installed one passes
    with pytest.raises(ExportError, match=r"needs nir>=1\.0\.8 .*found nir 1\.0\.4") as info:
        require_nir("1.0.4")
    assert "\n" not in str(info.value)
    with pytest.raises(ExportError, match="it is not installed"):
        require_nir("")


def test_cli_reader_choices_are_the_portable_readers_and_norse() -> None:
    import argparse

    from spikelocal.export.commands import _export_args

    parser = argparse.ArgumentParser()
    _export_args(parser)
    action = next(a for a in parser._actions if a.dest == "reader")
    assert tuple(action.choices) == (*READERS, "snntorch", "norse")  # snntorch: the standard graph, its loop form


def test_export_cli_writes_portable_file_and_refuses_hard_reset(tmp_path: Path) -> None:
    from spikelocal.trainer import run

    torch.set_num_threads(1)
    cfg = tiny_config(network__neuron__tau_syn=1e-6, network__neuron__reset="subtract", training__epochs=1)
    run(cfg, tmp_path / "run", progress=False)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "spikelocal", "export", str(tmp_path / "run"), "--format", "nir"]
    done = subprocess.run(cmd + ["--reader", "rockpool", "--out", str(tmp_path / "r.nir")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert node_keys(tmp_path / "r.nir")["lif1"][0] == "CubaLIF"
    run(tiny_config(training__epochs=1), tmp_path / "hard", progress=False)
    refused = subprocess.run([sys.executable, "-m", "spikelocal", "export", str(tmp_path / "hard"), "--format",
                              "nir", "--reader", "sinabs", "--out", str(tmp_path / "s.nir")],
                             capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and "hard reset cannot be expressed for Sinabs" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not (tmp_path / "s.nir").exists()


def test_portable_preset_is_what_the_portable_export_needs() -> None:
    from spikelocal.config import load_experiment

    cfg = load_experiment(str(REPO / PRESET), [])
    net = Network.from_config(cfg.network, (1, 28, 28), 10, seed=0)
    for reader in READERS:
        portable_graph(net, reader)  # accepted by every reader
    assert all(layer.neuron.alpha == 0.0 and not layer.neuron.hard_reset for layer in net.layers)


# ---- the real importers, each in its own environment (slow: creates them with pip) ----


def _bench():
    spec = importlib.util.spec_from_file_location("nir_readers_bench", REPO / "bench" / "nir_readers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("reader", list(READERS))
def test_real_reader_from_nir_gives_spikelocal_counts(tmp_path: Path, reader: str) -> None:
    """The reader's own from_nir as loaded on a network that never reaches two thresholds in a
    step, and with the reader's one-spike-per-step setting on one that often does."""
    bench = _bench()
    if not (bench.VENVS / reader / "bin" / "python").exists() and not os.environ.get("SPIKELOCAL_INSTALL_READERS"):
        pytest.skip(f"{reader}'s environment is not made (minutes of pip): run "
                    "'python bench/nir_readers.py' once, or set SPIKELOCAL_INSTALL_READERS=1")
    python, error = bench.ensure_env(reader, log=lambda *_: None)
    if python is None:
        pytest.skip(f"{reader} cannot be installed here: {error}")
    torch.set_num_threads(1)
    spikes = input_spikes(12)
    np.savez(tmp_path / "x.npz", spikes=spikes.numpy())
    for name, net, single in (("mild", portable_net(), False),
                              ("strong", portable_net(gains=(20.0, 60.0, 100.0)), True)):
        write_portable(net, tmp_path / f"{name}.nir", reader)
        side = bench.run_reader(python, reader, tmp_path / f"{name}.nir", tmp_path / "x.npz",
                                tmp_path / f"{name}.npz", single)
        assert "error" not in side, side
        assert tuple(int(p) for p in side["versions"]["nir"].split(".")[:3]) <= (1, 0, 4)
        ours = spikelocal_counts(net, spikes)
        assert all(a.sum() > 0 for a in ours)
        assert side["multi_spike_steps"] == [0, 0, 0]
        for a, b in zip(ours, side["counts"]):
            np.testing.assert_array_equal(a, b)
    as_loaded = bench.run_reader(python, reader, tmp_path / "strong.nir", tmp_path / "x.npz",
                                 tmp_path / "as_loaded.npz", False)
    assert sum(as_loaded["multi_spike_steps"]) > 0  # what the setting is for
