"""The public Python API: ``import spikelocal as sl`` is enough to train, reopen and write a
loop of one's own; the CLI's ``run`` gives the same numbers as ``sl.train``."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import spikelocal as sl
from spikelocal.cli import main

from conftest import REPO, tiny_config

QUICK = ["data.train_fraction=0.05", "training.epochs=1", "training.threads=1", "training.progress=false"]


def test_train_and_cli_give_the_same_numbers(mnist_root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SPIKELOCAL_DATA", str(mnist_root))
    experiment = REPO / "experiments" / "quickstart.yaml"
    ours = sl.train(experiment, overrides=QUICK)
    assert ours.path is None and ours.test_accuracy > 0.5
    args = ["run", str(experiment), "--quiet", "--out", str(tmp_path / "cli")]
    for item in QUICK:
        args += ["--set", item]
    assert main(args) == 0
    cli = sl.load_run(tmp_path / "cli")
    assert cli.test_accuracy == ours.test_accuracy
    assert cli.metrics[-1]["layer1_test_acc"] == ours.metrics[-1]["layer1_test_acc"]
    for a, b in zip(cli.network.parameters(), ours.network.parameters()):
        assert torch.equal(a, b)


def test_own_loop_with_public_names_learns(mnist_root: Path) -> None:
    """A user's loop: dataset, encoder, network, rule and optimiser from ``sl`` alone."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    data = sl.data.load_dataset(sl.config.DataConfig(root=str(mnist_root), download=False,
                                                     train_fraction=0.05), seed=0)
    net = sl.Network.from_config(sl.NetworkConfig(layers=[{"kind": "dense", "units": 100},
                                                          {"kind": "dense", "units": 10}]),
                                 data.input_shape, 10, seed=0)
    rule = sl.rules.build("local", net)
    encoder = sl.data.SpikeEncoder("rate", steps=10)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    for start in range(0, len(data.train_x), 100):
        rule.step(encoder(data.train_x[start:start + 100]), data.train_y[start:start + 100])
        optimizer.step()
    with torch.no_grad():
        x = torch.cat(list(encoder(data.test_x[:1000])))
        counts = net(x).output.sum(0)
    accuracy = float((counts.argmax(1) == data.test_y[:1000]).float().mean())
    assert accuracy > 0.6, accuracy            # chance is 0.1


def test_forward_returns_output_and_records() -> None:
    config = tiny_config()
    net = sl.Network.from_config(config.network, (1, 8, 8), 4, seed=0)
    x = (torch.rand(8, 5, 1, 8, 8) < 0.3).float()
    with torch.no_grad():
        out = net(x)
    assert out.output.shape == (8, 5, 4)
    assert [tuple(r.output.shape) for r in out.records] == [(8, 5, 32), (8, 5, 16), (8, 5, 4)]
    assert all(r.membrane is not None for r in out.records)
    reference = sl.core.simulate(net, x.split(3))       # the evaluation path, in chunks
    torch.testing.assert_close(out.output.sum(0), reference.logits[-1])
    with pytest.raises(ValueError, match=r"expected input \[T, B, 1, 8, 8\]"):
        net(torch.zeros(8, 5, 64))


def test_forward_is_differentiable_for_autograd_users() -> None:
    config = tiny_config()
    net = sl.Network.from_config(config.network, (1, 8, 8), 4, seed=0)
    x = (torch.rand(8, 5, 1, 8, 8) < 0.5).float()
    loss = torch.nn.functional.cross_entropy(net(x).output.sum(0), torch.tensor([0, 1, 2, 3, 0]))
    loss.backward()
    assert net.layers[0].weight.grad is not None and net.layers[0].weight.grad.abs().sum() > 0


def test_network_from_layer_objects() -> None:
    neuron = sl.NeuronConfig(kind="lif")
    layers = [sl.Layer.conv((1, 8, 8), 4, kernel=3, padding=1, pool=2, neuron=neuron, num_classes=3),
              sl.Layer.dense((4, 4, 4), 3, neuron=neuron, num_classes=3, output=True)]
    net = sl.Network(layers)
    assert net.input_shape == (1, 8, 8) and net.num_classes == 3
    rule = sl.rules.build({"name": "local", "window": "step"}, net)
    result = rule.step((torch.rand(6, 2, 1, 8, 8) < 0.5).float(), torch.tensor([0, 2]))
    assert len(result.losses) == 2
    with pytest.raises(ValueError, match="cannot follow"):
        sl.Network([layers[1], layers[0]])
    with pytest.raises(sl.ConfigError, match="rule.window"):
        sl.rules.build({"name": "local", "window": "chunk"}, net)


def test_stages_as_functions_take_a_run(tmp_path: Path) -> None:
    """Plots, report, conversion and exports are functions of a Run (the CLI calls the same)."""
    torch.set_num_threads(1)
    run = sl.train(tiny_config(training__epochs=1), out=tmp_path / "run")
    figures = sl.analysis.plot(run, ["learning", "weights"])
    assert sorted(f.name for f in figures) == ["learning.png", "weights.png"]
    assert sl.analysis.report(run).name == "report.html"
    nir_file = sl.export.to_nir(run, tmp_path / "net.nir", check=8)
    assert nir_file.path.is_file() and nir_file.parity["nir_reimport"]["class_agreement"] == 1.0
    assert (sl.export.to_netx(run, tmp_path / "net.net").path).is_file()
    summary = sl.hardware.convert(run, tmp_path / "fixed", weight_bits=8, sweep=False, test_samples=32)
    assert 0.0 <= summary["fixed_test_accuracy"] <= 1.0
    with pytest.raises(sl.SpikelocalError, match="plots"):
        sl.analysis.plot(run, ["learning"])        # the figures exist: not overwritten without force
    in_memory = sl.train(tiny_config(training__epochs=1))
    with pytest.raises(sl.SpikelocalError, match="out=None"):
        sl.export.to_nir(in_memory, tmp_path / "x.nir")


def test_public_functions_are_not_shadowed_by_submodules() -> None:
    """Importing every module of the package leaves the public functions callable (a
    submodule of the same name, imported late, would replace the package's attribute)."""
    import importlib
    import inspect
    import pkgutil

    for info in pkgutil.walk_packages(sl.__path__, "spikelocal."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for fn in (sl.train, sl.load_run, sl.load_config, sl.analysis.plot, sl.analysis.report,
               sl.analysis.record, sl.hardware.convert, sl.export.to_nir, sl.core.simulate,
               sl.core.three_factor, sl.rules.build):
        assert inspect.isfunction(fn), fn
