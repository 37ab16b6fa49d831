"""Quantisation, pooling folded into synapses, core mapping, the core file and ``convert``."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from spikelocal.checkpoint import load_checkpoint, save_checkpoint
from spikelocal.cli import main
from spikelocal.errors import ConfigError, ExportError
from spikelocal.hardware import (IntegerLayer, IntegerNetwork, load_target, map_network, quantize_network,
                                 read_corefile, simulate_integer, write_corefile)
from spikelocal.hardware.convert import convert
from spikelocal.hardware.fixed_point import choose_clip, decays, fold_pool
from spikelocal.hardware.targets import TARGET_DIR
from spikelocal.core.network import Network
from spikelocal.rundir import CHECKPOINT
from tests.conftest import tiny_config

LOIHI = load_target("loihi")


def custom_target(tmp_path: Path, **changes) -> Path:
    raw = yaml.safe_load((TARGET_DIR / "loihi.yaml").read_text())
    raw.update(changes)
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_decays_match_alpha_and_beta():
    du, dv = decays(np.exp(-1 / 5), np.exp(-1 / 10), LOIHI)
    assert (du, dv) == (742 - 1, 390)  # 4096 (1 - alpha) = 742.5 -> 742 (round half even) - 1
    assert abs((4096 - du - 1) / 4096 - np.exp(-0.2)) < 1 / 4096
    assert abs((4096 - dv) / 4096 - np.exp(-0.1)) < 1 / 4096


def test_clip_trades_rounding_for_clipping():
    w = np.random.default_rng(0).normal(size=20000)
    top = np.abs(w).max()
    assert choose_clip(w, 127) / top > 0.8   # 8 bits: hardly any clipping
    assert choose_clip(w, 1) / top < 0.5     # ternary: clip hard


def test_pool_folding_is_exact():
    torch.manual_seed(0)
    s = (torch.rand(6, 3, 8, 8) < 0.3).float()
    pooled = F.avg_pool2d(s, 2) * 4
    wd = np.random.default_rng(1).normal(size=(5, 3 * 4 * 4))
    folded, shape, _, _ = fold_pool(wd, "dense", (3, 4, 4), 2, 1, 0)
    assert shape == (3, 8, 8)
    assert torch.allclose(pooled.reshape(6, -1) @ torch.tensor(wd).float().t(),
                          s.reshape(6, -1) @ torch.tensor(folded).float().t(), atol=1e-4)
    wc = np.random.default_rng(2).normal(size=(4, 3, 3, 3))
    folded, shape, stride, pad = fold_pool(wc, "conv", (3, 4, 4), 2, 1, 1)
    assert (folded.shape, stride, pad) == ((4, 3, 6, 6), 2, 2)
    want = F.conv2d(pooled, torch.tensor(wc).float(), stride=1, padding=1)
    got = F.conv2d(s, torch.tensor(folded).float(), stride=stride, padding=pad)
    assert torch.allclose(want, got, atol=1e-4)


def test_tiny_run_converts_end_to_end(tiny_run: Path, tmp_path: Path):
    out = tmp_path / "conv"
    s = convert(tiny_run, out, weight_bits=8, sweep=False)
    saved = json.loads((out / "conversion.json").read_text())
    for key in ("float_test_accuracy", "fixed_test_accuracy", "weight_bits", "cores_used"):
        assert key in saved
    assert 0 <= saved["fixed_test_accuracy"] <= 1 and saved["weight_bits"] == 8
    assert abs(s["float_test_accuracy"] - s["fixed_test_accuracy"]) <= 0.03
    assert all(a["count_correlation"] > 0.98 for a in s["agreement"])
    assert s["corefile_identical_spikes"] and s["fits_one_chip"] and s["cores_used"] == 3
    assert (out / "cores.h5").is_file() and (out / "mapping.txt").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".conv")]  # no temp dirs left


@pytest.fixture
def conv_net() -> Network:
    torch.manual_seed(0)
    cfg = tiny_config(conv=True)
    net = Network.from_config(cfg.network, (1, 8, 8), 4, seed=1)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(3.0)
    return net


def test_conv_network_maps_and_roundtrips_through_the_corefile(conv_net: Network, tmp_path: Path):
    target = load_target(custom_target(tmp_path, neurons_per_core=96))
    int_net = quantize_network(conv_net, target, 6)
    conv, dense = int_net.layers[0], int_net.layers[1]
    assert conv.kind == "conv" and dense.in_shape == (4, 8, 8) and dense.pool_folded == 2
    mapping = map_network(int_net, target)
    conv_cores = mapping.layer_cores(1)
    assert len(conv_cores) == 3  # 256 neurons at most 96 a core
    assert all(c.neurons <= 96 for c in mapping.cores)
    # a core holding 2 of 4 channels still needs every input pixel; rows split -> fewer axons
    assert all(c.input_axons <= 64 for c in conv_cores)
    write_corefile(tmp_path / "cores.h5", int_net, mapping)
    back = read_corefile(tmp_path / "cores.h5")
    for a, b in zip(int_net.layers, back.layers):
        assert np.array_equal(a.weight, b.weight) and (a.du, a.dv, a.vth, a.weight_exp) == (b.du, b.dv, b.vth, b.weight_exp)
    x = (np.random.default_rng(0).random((8, 5, 1, 8, 8)) < 0.5).astype(np.uint8)
    ra, rb = simulate_integer(int_net, x), simulate_integer(back, x)
    assert all(np.array_equal(p, q) for p, q in zip(ra.spikes, rb.spikes))
    assert sum(int(c.sum()) for c in ra.counts) > 0


def test_dense_mapping_respects_synapse_memory():
    w = np.ones((500, 784), np.int64) * 2
    layer = IntegerLayer("dense", (784,), (500,), w, 0, 0, 0, 1)
    net = IntegerNetwork([layer], (784,), LOIHI, 8, 10)
    m = map_network(net)
    assert m.cores_used == 3  # 392000 bytes over 131072-byte cores
    assert all(c.synapse_bytes <= 131072 and c.input_axons == 784 for c in m.cores)
    net.weight_bits = 4
    assert map_network(net).cores_used == 2


def test_output_axons_force_more_cores(tmp_path: Path):
    target = load_target(custom_target(tmp_path, output_axons_per_core=150))
    l1 = IntegerLayer("dense", (10,), (100,), np.ones((100, 10), np.int64), 0, 0, 0, 1)
    l2 = IntegerLayer("dense", (100,), (2000,), np.ones((2000, 100), np.int64), 0, 0, 0, 1)
    l3 = IntegerLayer("dense", (2000,), (10,), np.ones((10, 2000), np.int64), 0, 0, 0, 1)
    net = IntegerNetwork([l1, l2, l3], (10,), target, 8, 10)
    m = map_network(net, target)
    # layer 2: 2 cores by neurons, but each neuron sends one axon to layer 3's core -> 150 a core
    # -> 14 cores; layer 1 then reaches 14 cores: 10 neurons x 14 <= 150 -> 10 cores of 10
    assert [len(m.layer_cores(i)) for i in (1, 2, 3)] == [10, 14, 1]
    assert all(c.output_axons <= 150 for c in m.cores)


def test_fan_in_above_axon_limit_is_refused(tmp_path: Path):
    target = load_target(custom_target(tmp_path, input_axons_per_core=500))
    layer = IntegerLayer("dense", (784,), (10,), np.ones((10, 784), np.int64), 0, 0, 0, 1)
    with pytest.raises(ExportError, match=r"layer 1 \(dense\): fan-in 784 exceeds the 500 input axons"):
        map_network(IntegerNetwork([layer], (784,), target, 8, 10), target)


def test_targets_are_validated(tmp_path: Path):
    raw = yaml.safe_load((TARGET_DIR / "loihi.yaml").read_text())
    del raw["neurons_per_core"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(Exception, match="neurons_per_core: missing field"):
        load_target(tmp_path / "bad.yaml")
    with pytest.raises(Exception, match="unknown target 'truenorth'; known: loihi"):
        load_target("truenorth")
    raw = yaml.safe_load((TARGET_DIR / "loihi.yaml").read_text())
    raw["neurons_per_cor"] = 7
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    line = 1 + list(raw).index("neurons_per_cor")
    with pytest.raises(ConfigError) as info:
        load_target(tmp_path / "typo.yaml")
    assert str(info.value) == (f"target file {tmp_path / 'typo.yaml'}:{line}: neurons_per_cor: unknown key "
                               "(not a field of a hardware target)")


def _cli(capsys, *args: str) -> tuple[int, str]:
    rc = main(["convert", *args])
    return rc, capsys.readouterr().err


def test_cli_errors_leave_no_output(tiny_run: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    rc, err = _cli(capsys, str(tiny_run), "--out", str(out), "--target", "truenorth")
    assert rc == 2 and "unknown target" in err and len(err.strip().splitlines()) == 1
    chip = custom_target(tmp_path, input_axons_per_core=32)
    rc, err = _cli(capsys, str(tiny_run), "--out", str(out), "--target", str(chip))
    assert rc == 2 and "layer 1 (dense): fan-in 64 exceeds the 32 input axons" in err
    raw = yaml.safe_load(chip.read_text())
    del raw["synapse_memory_bytes"]
    chip.write_text(yaml.safe_dump(raw))
    rc, err = _cli(capsys, str(tiny_run), "--out", str(out), "--target", str(chip))
    assert rc == 2 and "synapse_memory_bytes: missing field" in err
    rc, err = _cli(capsys, str(tiny_run), "--out", str(out), "--weight-bits", "9")
    assert rc == 2 and "2 to 8" in err
    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    tensors, meta = load_checkpoint(broken / CHECKPOINT)
    tensors["net.layers.1.weight"][0, 0] = float("nan")
    save_checkpoint(broken / CHECKPOINT, tensors, meta)
    rc, err = _cli(capsys, str(broken), "--out", str(out))
    assert rc == 2 and "layer 2 (dense): weights contain NaN or infinite values" in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_finetune_keeps_weights_on_the_grid(tiny_run: Path, tmp_path: Path):
    out = tmp_path / "ft"
    s = convert(tiny_run, out, weight_bits=4, finetune=True, finetune_fraction=0.5, sweep=False)
    assert "fixed_test_accuracy_before" in s["finetune"] and s["finetune"]["samples"] == 256
    back = read_corefile(out / "cores.h5")
    for layer in back.layers:
        codes = layer.weight / 32  # 4-bit mantissas are multiples of 2**(9 - 4) in [-7, 7] codes
        assert np.array_equal(codes, np.round(codes)) and np.abs(codes).max() <= 7
    assert s["fixed_test_accuracy"] >= s["finetune"]["fixed_test_accuracy_before"] - 0.05


def test_sweep_writes_table_and_plot(tiny_run: Path, tmp_path: Path):
    out = tmp_path / "sw"
    rc = main(["convert", str(tiny_run), "--out", str(out)])
    assert rc == 0
    rows = (out / "sweep.csv").read_text().splitlines()
    assert len(rows) == 8 and rows[0].startswith("weight_bits,fixed_test_accuracy")
    assert (out / "sweep.png").stat().st_size > 1000 and "| 8 |" in (out / "sweep.md").read_text()


@pytest.mark.slow
def test_mnist_mlp_8_bit_drop_within_a_third_of_a_point(mnist_root: Path, tmp_path: Path):
    from spikelocal.trainer import run

    torch.set_num_threads(1)
    cfg = tiny_config(data__dataset="mnist", data__root=str(mnist_root), data__steps=10,
                      data__train_fraction=0.25, training__epochs=1, training__batch_size=64,
                      training__lr=1e-3, network__layers=[{"kind": "dense", "units": 200},
                                                          {"kind": "dense", "units": 10}],
                      network__readout={"output_scale": 1.0}, network__weight_scale=1.0)
    run(cfg, tmp_path / "run", progress=False)
    s = convert(tmp_path / "run", tmp_path / "conv", weight_bits=8, sweep=False, test_samples=5000)
    assert s["float_test_accuracy"] > 0.8
    assert s["accuracy_drop_points"] <= 0.3


def test_a_neuron_no_core_can_hold_is_refused(tmp_path: Path):
    target = load_target(custom_target(tmp_path, synapse_memory_bytes=32))
    layer = IntegerLayer("dense", (64,), (4,), np.ones((4, 64), np.int64), 0, 0, 0, 1)
    with pytest.raises(ExportError, match=r"layer 1 \(dense\): one neuron's 64 synapses need 64 bytes, "
                                          r"above the 32 bytes"):
        map_network(IntegerNetwork([layer], (64,), target, 8, 4), target)


def test_stochastic_rounding_is_unbiased_and_seeded():
    torch.manual_seed(0)
    cfg = tiny_config()
    net = Network.from_config(cfg.network, (1, 8, 8), 4, seed=1)
    a = quantize_network(net, LOIHI, 3, "stochastic", seed=5)
    b = quantize_network(net, LOIHI, 3, "stochastic", seed=5)
    near = quantize_network(net, LOIHI, 3, "nearest")
    assert all(np.array_equal(x.weight, y.weight) for x, y in zip(a.layers, b.layers))
    assert any(not np.array_equal(x.weight, y.weight) for x, y in zip(a.layers, near.layers))
    w = net.layers[0].weight.detach().double().numpy()
    lsb = a.report[0]["clip"] / 3
    mean_err = np.mean(a.layers[0].weight / 64 * lsb - np.clip(w, -a.report[0]["clip"], a.report[0]["clip"]))
    assert abs(mean_err) < 0.05 * lsb  # rounding up and down balance out


def test_existing_output_is_not_overwritten(tiny_run: Path, tmp_path: Path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc, err = _cli(capsys, str(tiny_run), "--out", str(out), "--no-sweep")
    assert rc == 2 and "exists and is not empty" in err and (out / "keep.txt").read_text() == "mine"


def test_conv_run_converts_end_to_end(tmp_path: Path):
    """A trained conv network (pooling folded into the dense layer) converts, maps and round-trips."""
    from spikelocal.trainer import run

    torch.set_num_threads(1)
    run(tiny_config(conv=True, training__epochs=2), tmp_path / "run", progress=False)
    s = convert(tmp_path / "run", tmp_path / "conv", weight_bits=8, sweep=False)
    layers = s["layers"]
    assert [row["kind"] for row in layers] == ["conv", "dense", "dense"] and layers[1]["pool_folded"] == 2
    assert s["corefile_identical_spikes"] and s["cores_used"] == 3
    assert abs(s["float_test_accuracy"] - s["fixed_test_accuracy"]) <= 0.05
    assert s["agreement"][0]["count_correlation"] > 0.95
    assert {"tau_syn", "tau_mem", "dt", "threshold_clipped"} <= set(layers[0])
    per_layer = s["mapping"]["layers"]
    assert [row["neurons"] for row in per_layer] == [256, 16, 4]


def test_a_failure_late_in_the_conversion_leaves_nothing(tiny_run: Path, tmp_path: Path, monkeypatch, capsys):
    import sys

    conv_mod = sys.modules["spikelocal.hardware.convert"]  # the package exports a function of that name

    def broken(*args, **kwargs):
        raise ExportError("cores.h5: the core file does not rebuild the converted network spike for spike")

    monkeypatch.setattr(conv_mod, "_check_corefile", broken)
    out = tmp_path / "new" / "deeper" / "out"
    rc, err = _cli(capsys, str(tiny_run), "--out", str(out), "--no-sweep")
    assert rc == 2 and "spike for spike" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()
