"""All four formats from an MNIST spiking MLP and an MNIST conv net, each loaded back by its
real reader: ``nir.read`` and snnTorch's ``import_from_nir``, Brian2 (from the written
weights file), h5py (netx as lava-dl's NetDict reads it; the core file)."""
from __future__ import annotations

from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
import torch

from conftest import tiny_config
from spikelocal.export import FORMATS, export
from spikelocal.export.netx import netx_summary
from spikelocal.trainer import run

SAMPLES = 40
LAYERS = {
    "mlp": [{"kind": "dense", "units": 64}, {"kind": "dense", "units": 10}],
    "conv": [{"kind": "conv", "channels": 8, "kernel": 5, "padding": 2, "pool": 2},
             {"kind": "conv", "channels": 16, "kernel": 5, "padding": 2, "pool": 2},
             {"kind": "dense", "units": 10}],
}


@pytest.fixture(scope="module")
def mnist_runs(tmp_path_factory) -> dict[str, Path]:
    """A spiking MLP and a conv net trained for one epoch on 5 % of MNIST (a few seconds each)."""
    from conftest import shared_data_root

    root = shared_data_root()
    if root is None:
        pytest.skip("MNIST files not found in $SPIKELOCAL_DATA or ../shared/data")
    torch.set_num_threads(1)
    runs = {}
    for name, layers in LAYERS.items():
        cfg = tiny_config(network__layers=layers, network__readout={"output_scale": 1.0}, network__weight_scale=1.0,
                          network__neuron={"kind": "lif", "tau_syn": 5e-3, "tau_mem": 10e-3, "threshold": 1.0},
                          rule={"name": "local", "window": "step"},  # learns fastest from little data
                          training__batch_size=64,
                          data__dataset="mnist", data__root=str(root), data__steps=10, data__train_fraction=0.05,
                          training__epochs=1, training__lr=1e-3, training__optimizer="adam")
        out = tmp_path_factory.mktemp("mnist") / name
        summary = run(cfg, out, progress=False)
        assert summary["test_accuracy"] > 0.3, summary  # it learned something: the parity is about a real net
        runs[name] = out
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_mnist_exports_load_in_their_real_readers(mnist_runs: dict[str, Path], tmp_path: Path, name: str,
                                                  fmt: str) -> None:
    torch.set_num_threads(1)
    out = tmp_path / f"{name}.{fmt}"
    path, checks = export(mnist_runs[name], fmt, out=out, dt=1e-4 if fmt == "nir" else None, check=SAMPLES)
    assert path == out and out.exists()
    layers = 3 if name == "conv" else 2
    for label, figures in checks.items():
        assert figures["samples"] == SAMPLES, label
        assert figures["spikes"][-1] > 0, f"{label}: silent output, the comparison would prove nothing"
        agree = figures["neuron_count_agreement"]
        agree = list(agree.values()) if isinstance(agree, dict) else agree
        assert min(agree) >= 0.99 and figures["class_agreement"] >= 0.99, (label, figures)
    if fmt == "nir":
        graph = nir.read(out)  # the real reader; snnTorch imported this very file (dt = 1e-4)
        kinds = {type(n).__name__ for n in graph.nodes.values()}
        assert {"Input", "CubaLIF", "Output"} <= kinds
        assert ({"Conv2d", "SumPool2d", "Flatten"} if name == "conv" else {"Linear"}) <= kinds
        assert checks["snntorch"]["imported"] == f"the file {out}"
        assert set(checks) == {"snntorch", "nir_reimport"}
    elif fmt == "brian2":
        assert set(checks) == {"brian2"} and len(checks["brian2"]["neuron_count_agreement"]) == layers
        assert sorted(p.name for p in out.iterdir()) == ["run.py", "spikelocal_brian2.py", "weights.npz"]
    elif fmt == "netx":
        rows = netx_summary(out)  # h5py, as lava-dl's NetDict reads it
        types = [r["type"] for r in rows]
        assert types[0] == "input" and types.count("dense") + types.count("conv") == layers
        assert all(r["neuron"]["type"] == "CUBA" for r in rows if r["type"] != "flatten")
        assert len(checks) == 2  # read_netx and the lava-dl view
        for figures in checks.values():
            assert figures["neuron_count_agreement"] == [1.0] * layers
    else:
        with h5py.File(out, "r") as f:
            assert "cores" in f and len(f["cores"]) >= layers
        (figures,) = checks.values()
        assert figures["neuron_count_agreement"] == [1.0] * layers


@pytest.mark.slow
def test_mnist_brian2_folder_runs_the_stored_test_images(mnist_runs: dict[str, Path], tmp_path: Path) -> None:
    import subprocess
    import sys

    from spikelocal.export import _test_samples
    from spikelocal.export.brian2_export import spikelocal_counts
    from spikelocal.rundir import load_network

    config, net = load_network(mnist_runs["conv"])
    path, _ = export(mnist_runs["conv"], "brian2", out=tmp_path / "b2", samples=8)
    done = subprocess.run([sys.executable, str(path / "run.py")], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    spikes, _ = _test_samples(config, 8)
    expected = spikelocal_counts(net, spikes)[-1].argmax(1)
    assert f"predicted classes: {' '.join(map(str, expected))}" in done.stdout
    accuracy = float(done.stdout.split("accuracy on the 8 stored test samples: ")[1].split()[0])
    assert accuracy == float((expected == np.asarray(_test_samples(config, 8)[1])).mean())
